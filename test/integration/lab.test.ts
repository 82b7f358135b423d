/**
 * The test lab itself, against the four real servers: each starts quickly,
 * accepts the lab login (plain and explicit TLS, RFC 4217), advertises
 * FEAT (RFC 2389), stores and returns a file intact through lftp, and stops
 * without leaving session processes behind. Then the two profiles: FXP
 * between distinct loopback addresses works in 'fxp' and is refused in
 * 'strict', and the nftables counter shows where the bytes went.
 *
 * Under CI=true a server that cannot run is a failure (requireServer);
 * locally such tests skip with the reason.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  SERVER_KINDS,
  ensureLabCert,
  isAlive,
  labAvailable,
  labProcessTree,
  requireServer,
  runLftp,
  startByteCounter,
  startServer,
  stopAll,
  type LabServer,
  type ServerKind,
} from '../lab/lab.js';
import { sha256File } from '../lab/helpers.js';
import { RawFtp } from '../lab/raw-ftp.js';

const STARTUP_LIMIT_MS = 1500;

/**
 * What each lab server advertises in FEAT (first word of each feature line),
 * as configured here: proftpd with mod_digest and mod_site_misc loaded.
 * vsftpd 3.0.3 has neither MLST/MLSD nor MFMT (it sets mtimes through
 * "MDTM <time> <path>" with mdtm_write=YES); only proftpd offers HASH/X*.
 */
const FEAT_EXPECTED: Record<ServerKind, { has: string[]; lacks: string[] }> = {
  vsftpd: { has: ['EPRT', 'EPSV', 'MDTM', 'PASV', 'REST', 'SIZE', 'TVFS'], lacks: ['MLST', 'MFMT', 'HASH', 'UTF8'] },
  proftpd: {
    has: ['EPRT', 'EPSV', 'MDTM', 'MFMT', 'MLST', 'REST', 'SIZE', 'TVFS', 'UTF8', 'HASH', 'XCRC', 'XMD5', 'XSHA1', 'XSHA256', 'XSHA512', 'SITE'],
    lacks: ['PASV'],
  },
  'pure-ftpd': { has: ['EPRT', 'EPSV', 'MDTM', 'MFMT', 'MLST', 'MLSD', 'PASV', 'REST', 'SIZE', 'TVFS', 'UTF8', 'AUTH'], lacks: ['HASH', 'XSHA1'] },
  pyftpdlib: { has: ['EPRT', 'EPSV', 'MDTM', 'MFMT', 'MLST', 'REST', 'SIZE', 'TVFS', 'UTF8'], lacks: ['HASH', 'PASV'] },
};

async function waitFor(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Skip locally, fail under CI, when the server cannot run here. */
function unavailable(t: TestContext, ...kinds: ServerKind[]): boolean {
  for (const kind of kinds) {
    requireServer(kind);
    const reason = labAvailable(kind);
    if (reason) {
      t.skip(reason);
      return true;
    }
  }
  return false;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-lab-test-'));

before(async () => {
  // The certificate is made once per process; keep its cost out of the startup timings.
  if (SERVER_KINDS.every((k) => labAvailable(k) === null)) await ensureLabCert();
});

after(async () => {
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('each lab server', () => {
  for (const kind of SERVER_KINDS) {
    for (const useTls of [false, true]) {
      test(`${kind}${useTls ? ' with explicit TLS' : ''}: fast start, login, FEAT, lftp round trip, clean stop`, async (t) => {
        if (unavailable(t, kind)) return;
        const t0 = Date.now();
        const server = await startServer(kind, { tls: useTls });
        const startupMs = Date.now() - t0;
        let stopped = false;
        try {
          assert.ok(startupMs < STARTUP_LIMIT_MS, `${kind} took ${startupMs} ms to become ready`);
          assert.equal(server.url, `${useTls ? 'ftpes' : 'ftp'}://${server.user}:${server.password}@${server.host}:${server.port}/`);
          assert.equal(fs.statSync(server.root).isDirectory(), true);
          assert.equal(useTls, server.caFile !== undefined);

          // Raw login. The client's source address is 127.0.0.1 although the
          // server listens on 127.0.0.2x: that is what makes the servers'
          // foreign-address checks (and the byte counter) work.
          const ftp = await RawFtp.connect(server.host, server.port);
          assert.equal(ftp.sock.localAddress, '127.0.0.1');
          assert.match(await ftp.next(), /^220[ -]/m);
          if (useTls) await ftp.startTls(server.host, server.caFile as string);
          assert.match(await ftp.cmd(`USER ${server.user}`), /^331/);
          assert.match(await ftp.cmd(`PASS ${server.password}`), /^230/m);
          const feat = await ftp.cmd('FEAT');
          assert.match(feat, /^211-/);
          const features = feat.split('\n').slice(1, -1).map((l) => l.trim().split(' ')[0].toUpperCase());
          for (const f of FEAT_EXPECTED[kind].has) assert.ok(features.includes(f), `${kind} FEAT lacks ${f}: ${feat}`);
          for (const f of FEAT_EXPECTED[kind].lacks) assert.ok(!features.includes(f), `${kind} FEAT unexpectedly has ${f}: ${feat}`);
          if (useTls) for (const f of ['AUTH', 'PBSZ', 'PROT']) assert.ok(features.includes(f), `${kind} FEAT lacks ${f}: ${feat}`);

          // Store and retrieve through lftp; compare with the file on disk.
          const local = path.join(tmp, `${kind}-${useTls}.bin`);
          fs.writeFileSync(local, randomBytes(96 * 1024 + 17));
          const tlsSettings = useTls ? 'set ftp:ssl-force yes; set ftp:ssl-protect-data yes; ' : '';
          const url = `ftp://${server.user}:${server.password}@${server.host}:${server.port}`;
          const put = await runLftp(`${tlsSettings}open ${url}; put ${local} -o round.bin`, { caFile: server.caFile });
          assert.equal(put.code, 0, `lftp put: ${put.stderr}`);
          const onDisk = path.join(server.root, 'round.bin');
          assert.equal(await sha256File(onDisk), await sha256File(local));
          assert.equal(fs.statSync(onDisk).uid, fs.statSync(server.root).uid, 'stored file belongs to the lab user');
          const back = `${local}.back`;
          const get = await runLftp(`${tlsSettings}open ${url}; get round.bin -o ${back}`, { caFile: server.caFile });
          assert.equal(get.code, 0, `lftp get: ${get.stderr}`);
          assert.equal(await sha256File(back), await sha256File(local));
          // Logs: the transfer log records both directions; the command log
          // (all but pure-ftpd, which only has syslog) shows TLS was really used.
          if (server.xferLog) {
            const xfer = server.xferLog;
            await waitFor(() => (fs.readFileSync(xfer, 'utf8').match(/round\.bin/g) ?? []).length >= 2, `${kind} xferlog`);
          }
          if (kind !== 'pure-ftpd') {
            const log = fs.readFileSync(server.logFile, 'utf8');
            assert.match(log, /USER ftptest/);
            if (useTls) assert.match(log, /PROT P/);
          }

          // Stop while a session is still open: its session process must die too.
          const tree = labProcessTree(server.pid);
          assert.ok(tree.includes(server.pid));
          // The C servers fork per session; pyftpdlib is one process.
          if (kind !== 'pyftpdlib') assert.ok(tree.length >= 2, `${kind}: expected a session process, tree ${tree.join(',')}`);
          await server.stop();
          stopped = true;
          for (const pid of tree) assert.equal(isAlive(pid), false, `pid ${pid} of ${kind} survived stop() (tree ${tree.join(',')})`);
          assert.deepEqual(labProcessTree(server.pid), []);
          ftp.close();
          await server.stop(); // idempotent
        } finally {
          if (!stopped) await server.stop();
        }
      });
    }
  }
});

test('vsftpd: session processes leave the process group (setsid), stop() still kills them', async (t) => {
  if (unavailable(t, 'vsftpd')) return;
  const server = await startServer('vsftpd');
  const ftp = await RawFtp.connect(server.host, server.port);
  try {
    await ftp.next();
    await ftp.cmd(`USER ${server.user}`);
    assert.match(await ftp.cmd(`PASS ${server.password}`), /^230/);
    const tree = labProcessTree(server.pid);
    // Kill only the listener's group, as a naive stop would: the session survives it.
    process.kill(-server.pid, 'SIGKILL');
    const deadline = Date.now() + 2000;
    while (isAlive(server.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const survivors = tree.filter((p) => p !== server.pid && isAlive(p));
    assert.ok(survivors.length >= 1, `expected vsftpd session processes to survive a group kill (tree ${tree.join(',')})`);
    await server.stop();
    for (const p of survivors) assert.equal(isAlive(p), false, `session pid ${p} survived stop()`);
  } finally {
    ftp.close();
    await server.stop();
  }
});

describe('profiles', () => {
  /** A listener on a third loopback address plays the "foreign" host. */
  async function foreignListener(): Promise<net.Server> {
    const srv = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.39', resolve));
    return srv;
  }
  function portArg(srv: net.Server): string {
    const port = (srv.address() as net.AddressInfo).port;
    return `127,0,0,39,${port >> 8},${port & 255}`;
  }

  for (const kind of SERVER_KINDS) {
    test(`${kind}: PORT to a foreign address is accepted in 'fxp' and refused in 'strict'`, async (t) => {
      if (unavailable(t, kind)) return;
      const foreign = await foreignListener();
      try {
        for (const profile of ['fxp', 'strict'] as const) {
          const server = await startServer(kind, { profile });
          try {
            const ftp = await RawFtp.connect(server.host, server.port);
            await ftp.next();
            await ftp.cmd(`USER ${server.user}`);
            assert.match(await ftp.cmd(`PASS ${server.password}`), /^230/m);
            const reply = await ftp.cmd(`PORT ${portArg(foreign)}`);
            // strict: vsftpd/proftpd/pure-ftpd 500, pyftpdlib 501 "Rejected data connection to foreign address".
            assert.match(reply, profile === 'fxp' ? /^200/m : /^50[01] /m, `${kind} ${profile}: ${reply}`);
            ftp.close();
          } finally {
            await server.stop();
          }
        }
      } finally {
        foreign.close();
      }
    });
  }

  test('vsftpd: vsftpdPromiscuous sets port_promiscuous and pasv_promiscuous independently', async (t) => {
    if (unavailable(t, 'vsftpd')) return;
    const foreign = await foreignListener();
    try {
      for (const prom of [{ port: true, pasv: false }, { port: false, pasv: true }]) {
        const server = await startServer('vsftpd', { profile: 'strict', vsftpdPromiscuous: prom });
        try {
          const ftp = await RawFtp.connect(server.host, server.port);
          await ftp.next();
          await ftp.cmd(`USER ${server.user}`);
          await ftp.cmd(`PASS ${server.password}`);
          const port = await ftp.cmd(`PORT ${portArg(foreign)}`);
          assert.match(port, prom.port ? /^200/ : /^500 Illegal PORT command/, port);
          // Passive: connect to the data port from a foreign address, then ask for a listing.
          const pasv = await ftp.cmd('PASV');
          const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(pasv);
          assert.ok(m, pasv);
          const data = net.connect({ host: server.host, port: Number(m[5]) * 256 + Number(m[6]), localAddress: '127.0.0.39' });
          data.on('error', () => undefined);
          data.resume();
          await new Promise((r) => data.once('connect', r));
          const list = await ftp.cmd('LIST');
          assert.match(list, prom.pasv ? /^150/ : /^425 Security: Bad IP connecting/, list);
          data.destroy();
          ftp.close();
        } finally {
          await server.stop();
        }
      }
    } finally {
      foreign.close();
    }
  });

  test('maxPerIp caps connections per client address', async (t) => {
    if (unavailable(t, ...SERVER_KINDS)) return;
    for (const kind of SERVER_KINDS) {
      const server = await startServer(kind, { maxPerIp: 2 });
      const conns: RawFtp[] = [];
      try {
        const replies: string[] = [];
        for (let i = 0; i < 3; i++) {
          const ftp = await RawFtp.connect(server.host, server.port);
          conns.push(ftp);
          let r = await ftp.next();
          // proftpd greets everyone and enforces MaxClientsPerHost at login (530).
          if (/^220/m.test(r)) {
            await ftp.cmd(`USER ${server.user}`);
            r = await ftp.cmd(`PASS ${server.password}`);
          }
          replies.push(r.split('\n').pop() as string);
        }
        assert.match(replies[0], /^230/, `${kind}: ${replies.join(' | ')}`);
        assert.match(replies[1], /^230/, `${kind}: ${replies.join(' | ')}`);
        assert.match(replies[2], /^(421|530)/, `${kind}: ${replies.join(' | ')}`);
      } finally {
        for (const c of conns) c.close();
        await server.stop();
      }
    }
  });

  test("FXP between two servers: works in 'fxp' (bytes go server to server), refused in 'strict' with fxp-force", async (t) => {
    if (unavailable(t, 'vsftpd', 'proftpd')) return;
    // Only these two addresses count as servers: other lab users on this machine stay out of the numbers.
    const counter = await startByteCounter('127.0.0.1', ['127.0.0.21', '127.0.0.22']);
    try {
      const size = 2 * 1024 * 1024 + 5;
      const src = path.join(tmp, 'fxp-src.bin');
      fs.writeFileSync(src, randomBytes(size));

      // fxp profile
      let a: LabServer = await startServer('vsftpd', { profile: 'fxp' });
      let b: LabServer = await startServer('proftpd', { profile: 'fxp' });
      try {
        fs.copyFileSync(src, path.join(a.root, 'f.bin'));
        fs.chownSync(path.join(a.root, 'f.bin'), fs.statSync(a.root).uid, fs.statSync(a.root).gid);

        // A plain download is client traffic: serversToClient.
        await counter.reset();
        const dl = await runLftp(`get ${a.url}f.bin -o ${path.join(tmp, 'dl.bin')}`);
        assert.equal(dl.code, 0, dl.stderr);
        let c = await counter.read();
        assert.ok(c.serversToClient >= size, JSON.stringify(c));
        assert.ok(c.serverToServer < 1024, JSON.stringify(c));

        // FXP: the data goes server to server, the client sees only control traffic.
        await counter.reset();
        const fxp = await runLftp(`set ftp:use-fxp yes; set ftp:fxp-force yes; get ${a.url}f.bin -o ${b.url}f.bin`);
        assert.equal(fxp.code, 0, fxp.stderr);
        c = await counter.read();
        assert.equal(await sha256File(path.join(b.root, 'f.bin')), await sha256File(src));
        assert.ok(c.serverToServer >= size, JSON.stringify(c));
        assert.ok(c.clientToServers + c.serversToClient < 64 * 1024, JSON.stringify(c));
      } finally {
        await a.stop();
        await b.stop();
      }

      // strict profile: both servers refuse PORT to and PASV connections from a foreign address.
      a = await startServer('vsftpd', { profile: 'strict' });
      b = await startServer('proftpd', { profile: 'strict' });
      try {
        fs.copyFileSync(src, path.join(a.root, 'f.bin'));
        fs.chownSync(path.join(a.root, 'f.bin'), fs.statSync(a.root).uid, fs.statSync(a.root).gid);
        await counter.reset();
        const fxp = await runLftp(`set ftp:use-fxp yes; set ftp:fxp-force yes; get ${a.url}f.bin -o ${b.url}f.bin`);
        assert.notEqual(fxp.code, 0, 'fxp-force must fail between strict servers');
        assert.match(fxp.stderr, /fxp/i);
        const c = await counter.read();
        // A refused data connection may still cost a handshake between the servers; no file data.
        assert.ok(c.serverToServer < 64 * 1024, JSON.stringify(c));
        const dest = path.join(b.root, 'f.bin');
        assert.ok(!fs.existsSync(dest) || fs.statSync(dest).size < size);
      } finally {
        await a.stop();
        await b.stop();
      }
    } finally {
      await counter.close();
    }
  });
});
