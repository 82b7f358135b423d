/**
 * The WAN set: build the emulated WAN (net.ts), start each server kind the
 * pairs need inside its own namespace, check the round trips, run the
 * scenarios on every pair (scenarios.ts), and take it all down again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labProcessTree, startServer, type LabServer, type ServerKind } from '../../lab/lab.js';
import type { Args } from '../args.js';
import type { Owner } from '../fixtures.js';
import type { ScenarioResult } from '../loopback.js';
import { fmt, say } from '../table.js';
import { cleanStaleWans, probe, startWan, type ProbeResult, type Wan } from './net.js';
import { pairScenarios } from './scenarios.js';

/** Every server has the same port, in a namespace of its own; not 21, which pyftpdlib (run as the lab user) may not bind. */
const CONTROL_PORT = 2121;
/** A measured handshake may exceed the asked round trip by this much (timer and scheduling), or fall short by none. */
const RTT_SLACK_MS = 3;

let active: { wan: Wan; servers: LabServer[]; keepLogs: boolean } | undefined;

/** Stop the WAN's servers, remove their data and the WAN (idempotent; for the bench's Ctrl-C path too). */
export async function closeWanSet(): Promise<void> {
  const a = active;
  active = undefined;
  if (!a) return;
  await Promise.all(a.servers.map((s) => s.stop()));
  await a.wan.close();
  // Big files and thousands of small ones: never leave them behind (--keep-logs keeps the logs).
  for (const s of a.servers) fs.rmSync(a.keepLogs ? s.root : path.dirname(s.root), { recursive: true, force: true });
}

function checkRtt(what: string, p: ProbeResult, wantMs: number): string {
  if (!(p.connectMs >= wantMs * 0.95 && p.connectMs <= wantMs + RTT_SLACK_MS)) {
    throw new Error(`emulated WAN: ${what} handshake took ${fmt(p.connectMs, 1)} ms, asked for ${wantMs} ms round trip`);
  }
  return `${what} ${fmt(p.connectMs, 1)} ms`;
}

export interface WanSetResult extends ScenarioResult {
  /** One line: the shape asked for and the round trips measured. */
  shape: string;
}

export async function runWanSet(args: Args, owner: Owner): Promise<WanSetResult> {
  if (args.trace) fs.mkdirSync(args.trace, { recursive: true });
  const stale = await cleanStaleWans();
  if (stale.length) say(`removed namespaces left by an earlier run: ${stale.join(', ')}`);
  const kinds: ServerKind[] = [...new Set(args.pairs.flatMap((p) => [p.source, p.destination]))];
  const s = args.wan;
  say(`WAN: client ${s.rttMs} ms RTT at ${s.clientRateMbit} Mbit/s, servers ${s.serverRttMs} ms RTT at ${s.rateMbit} Mbit/s; servers ${kinds.join(', ')}`);
  const wan = await startWan(s, kinds, [CONTROL_PORT]);
  const servers: LabServer[] = [];
  active = { wan, servers, keepLogs: args.keepLogs };
  try {
    const byKind = new Map<ServerKind, LabServer>();
    for (const [i, kind] of kinds.entries()) {
      const node = wan.servers[i];
      const server = await startServer(kind, { address: node.address, port: CONTROL_PORT, netns: node.netns });
      servers.push(server);
      byKind.set(kind, server);
    }
    const target = (k: ServerKind) => `${wan.servers[kinds.indexOf(k)].address}:${CONTROL_PORT}`;
    const measured = (await probe(wan.client, kinds.map(target))).map((p, i) => checkRtt(`client→${kinds[i]}`, p, s.rttMs));
    if (kinds.length > 1) {
      const [p] = await probe(wan.servers[0], [target(kinds[1])]);
      measured.push(checkRtt(`${kinds[0]}→${kinds[1]}`, p, s.serverRttMs));
    }
    const shape =
      `client ${s.rttMs} ms RTT at ${s.clientRateMbit} Mbit/s, servers ${s.serverRttMs} ms RTT at ${s.rateMbit} Mbit/s ` +
      `(handshakes measured: ${measured.join(', ')})`;
    say(`WAN up: ${shape}`);

    const rows: ScenarioResult['rows'] = [];
    const json: Record<string, object> = {};
    for (const [i, pair] of args.pairs.entries()) {
      const src = byKind.get(pair.source) as LabServer;
      const dst = byKind.get(pair.destination) as LabServer;
      const label = `${pair.source} → ${pair.destination}`;
      const r = await pairScenarios({
        args,
        src,
        dst,
        owner,
        counter: wan.counter,
        idleProcs: labProcessTree(src.pid).length + labProcessTree(dst.pid).length,
        clientNetns: wan.client.netns,
        linkPid: wan.pid,
        wan,
        letter: String.fromCharCode(97 + i),
        label,
      });
      rows.push(...r.rows);
      json[label] = r.json;
    }
    return { rows, json: { shape: s, handshakes: measured, pairs: json }, shape };
  } finally {
    await closeWanSet();
  }
}
