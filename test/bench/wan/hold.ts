/**
 * A development aid, not part of the bench's figures: bring the emulated WAN
 * up with the servers asked for (default the WAN set's four), write the WAN
 * set's trees on each, print how to run a tool in the client's namespace,
 * and keep it all up until stdin closes or Ctrl-C; then take it all down.
 *
 *   node dist/test/bench/wan/hold.js [--rtt MS] [--server-rtt MS] [KIND...]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, LAB_USER, type LabServer, type ServerKind } from '../../lab/lab.js';
import { lookupOwner, makeTree } from '../fixtures.js';
import { url } from '../runner.js';
import { cleanStaleWans, startWan } from './net.js';

const argv = process.argv.slice(2);
const num = (flag: string, dflt: number) => {
  const i = argv.indexOf(flag);
  if (i < 0) return dflt;
  const v = Number(argv.splice(i, 2)[1]);
  if (!Number.isFinite(v)) throw new Error(`${flag}: a number`);
  return v;
};
const rttMs = num('--rtt', 40);
const serverRttMs = num('--server-rtt', 10);
const kinds = (argv.length ? argv : ['proftpd', 'pure-ftpd', 'vsftpd', 'pyftpdlib']) as ServerKind[];

await cleanStaleWans();
const wan = await startWan({ rttMs, serverRttMs, rateMbit: 200, clientRateMbit: 100 }, kinds, [2121]);
const servers: LabServer[] = [];
const down = async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await wan.close();
  for (const s of servers) fs.rmSync(path.dirname(s.root), { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void down());
process.on('SIGTERM', () => void down());
try {
  const owner = lookupOwner(LAB_USER);
  for (const [i, kind] of kinds.entries()) {
    const s = await startServer(kind, { address: wan.servers[i].address, port: 2121, netns: wan.servers[i].netns });
    servers.push(s);
    makeTree(path.join(s.root, 'w1'), 10, 30, 4096, owner);
    makeTree(path.join(s.root, 'w3'), 30, 100, 100, owner);
    console.log(`${kind}: ${url(s, '/')}  root ${s.root}`);
  }
  console.log(`client: ip netns exec ${wan.client.netns} <command>`);
  console.log('ready (close stdin or Ctrl-C to take it down)');
} catch (err) {
  console.error(err);
  await down();
}
process.stdin.resume();
process.stdin.on('end', () => void down());
