/**
 * fxpmirror against lftp, on the same lab servers in the same run.
 *
 *   npm run bench                      everything, full sizes (about half an hour)
 *   npm run bench -- --quick           about 10× smaller, for development
 *   npm run bench -- --only wan        only the emulated-WAN set
 *   npm run bench -- --only 5 --entries 2000000   the dry-run plan at 2,000,000 entries
 *   npm run bench -- --json out.json   also write the results as JSON
 *
 * Two sets (args.ts lists every option):
 * - Loopback scenarios 1-5 (loopback.ts, memory.ts): both servers and the
 *   client on one machine; CPU efficiency, throughput, memory. Pair:
 *   --source/--destination, default proftpd -> pure-ftpd (lftp's FXP mirror
 *   works on it, and both speak MLSD and MFMT, so the no-op is a real no-op
 *   for both tools).
 * - The WAN set (wan/): the client and each server in network namespaces of
 *   their own, every connection through an emulated link with delay and rate
 *   (wan/wanlink.c), on the pairs of issue 12.
 *
 * Both tools run as separate processes under /usr/bin/time and timeout (lftp
 * hangs forever in several failure modes), one at a time, alternating which
 * goes first (runner.ts). Every run is checked (exit code, files and sizes on
 * the destination's disk, a no-op that really changed nothing; work.ts)
 * before its figure counts; a failed check shows as FAIL, never as a number.
 *
 * Not part of `npm test` (dist/test/bench is not a test directory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LAB_USER, labAvailable, labProcessTree, REPO_ROOT, startServer, stopAll, type LabServer } from '../lab/lab.js';
import { NSENTER_BIN } from '../lab/netns.js';
import { LOOPBACK_SCENARIOS, parseArgs, type Args } from './args.js';
import { lookupOwner } from './fixtures.js';
import { CORES, scenarioInitial, scenarioLarge, scenarioNoop, scenarioSingle, type ScenarioResult } from './loopback.js';
import { NFT_BIN, startTrafficCounter, stopRuns, TIME_BIN, TIMEOUT_BIN, type TrafficCounter } from './measure.js';
import { scenarioMemory } from './memory.js';
import { LFTP_BIN, QUIET_MS, type Ctx } from './runner.js';
import { printTable, say, type Row, type Verdict } from './table.js';
import { CC_BIN, IP_BIN } from './wan/net.js';
import { closeWanSet, runWanSet } from './wan/set.js';

/** The loopback set's addresses (the lab byte counter does not cover them: see measure.ts). */
const ADDR_FIRST = '127.0.3.21';
const ADDR_LAST = '127.0.3.40';
const SRC_ADDR = '127.0.3.21';
const DST_ADDR = '127.0.3.22';

function preflight(args: Args): string[] {
  const problems: string[] = [];
  const kinds = new Set([args.source, args.destination, ...(args.only.has('wan') ? args.pairs.flatMap((p) => [p.source, p.destination]) : [])]);
  for (const k of kinds) {
    const why = labAvailable(k);
    if (why) problems.push(why);
  }
  const bins = [LFTP_BIN, TIME_BIN, TIMEOUT_BIN, NFT_BIN, ...(args.only.has('wan') ? [IP_BIN, CC_BIN, NSENTER_BIN, '/dev/net/tun'] : [])];
  for (const bin of bins) if (!fs.existsSync(bin)) problems.push(`${bin} missing (run: bash test/lab/install.sh)`);
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'index.js'))) problems.push('dist/ missing: run npm run build');
  return problems;
}

function version(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 5000 }).split('\n')[0].trim();
  } catch {
    return '?';
  }
}

/** Loopback scenarios 1-5 on one pair of servers on 127.0.3.x. */
async function runLoopback(args: Args, servers: LabServer[], counterRef: { c?: TrafficCounter }): Promise<ScenarioResult> {
  const src = await startServer(args.source, { address: SRC_ADDR, port: 2121 });
  servers.push(src);
  const dst = await startServer(args.destination, { address: DST_ADDR, port: 2122 });
  servers.push(dst);
  const counter = (counterRef.c = await startTrafficCounter(ADDR_FIRST, ADDR_LAST));
  const idleProcs = labProcessTree(src.pid).length + labProcessTree(dst.pid).length;
  const ctx: Ctx = { args, src, dst, owner: lookupOwner(LAB_USER), counter, idleProcs };
  const table: [number, string, (c: Ctx) => Promise<ScenarioResult>][] = [
    [1, 'initial', scenarioInitial],
    [2, 'noop', scenarioNoop],
    [3, 'large', scenarioLarge],
    [4, 'single', scenarioSingle],
    [5, 'memory', scenarioMemory],
  ];
  const rows: Row[] = [];
  const json: Record<string, object> = {};
  for (const [n, key, fn] of table) {
    if (!args.only.has(n as (typeof LOOPBACK_SCENARIOS)[number])) continue;
    const r = await fn(ctx);
    rows.push(...r.rows);
    json[key] = r.json;
    // Free the disk as soon as a scenario's data is no longer needed.
    if (n === 4 || (n === 3 && !args.only.has(4))) fs.rmSync(path.join(src.root, 'big'), { recursive: true, force: true });
  }
  return { rows, json };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const problems = preflight(args);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    return 2;
  }
  const started = new Date();
  const load0 = os.loadavg();
  say(`scale ${args.scale}, best of ${args.reps}, ${CORES} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const servers: LabServer[] = [];
  const counterRef: { c?: TrafficCounter } = {};
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    stopRuns();
    await counterRef.c?.close();
    await stopAll();
    await closeWanSet();
    // Big files and 2,000,000-entry trees: never leave them behind.
    for (const s of servers) fs.rmSync(args.keepLogs ? s.root : path.dirname(s.root), { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    say(`${sig}: stopping servers, removing the WAN and the data`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  const scenarios: Record<string, object> = {};
  let wanShape: string | undefined;
  const ranLoopback = LOOPBACK_SCENARIOS.some((n) => args.only.has(n));
  try {
    if (ranLoopback) {
      const r = await runLoopback(args, servers, counterRef);
      rows.push(...r.rows);
      Object.assign(scenarios, r.json);
      await counterRef.c?.close();
      await stopAll();
    }
    if (args.only.has('wan')) {
      const r = await runWanSet(args, lookupOwner(LAB_USER));
      rows.push(...r.rows);
      scenarios.wan = r.json;
      wanShape = r.shape;
    }
  } finally {
    await cleanup();
  }

  const lftpVersion = version(LFTP_BIN, ['--version']);
  process.stdout.write(
    `\nfxpmirror vs lftp ${lftpVersion.replace(/^LFTP \| Version (\S+).*$/, '$1')}, scale ${args.scale}${args.scale !== 1 ? ' (NOT the full sizes)' : ''}, ` +
      `best of ${args.reps} (WAN: of ${Math.min(args.reps, 3)}, large files ${Math.min(args.reps, 2)}), ${CORES} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}\n` +
      (ranLoopback ? `loopback: ${args.source} -> ${args.destination}\n` : '') +
      (wanShape ? `WAN: ${wanShape}\n` : '') +
      '\n',
  );
  printTable(rows);
  const count = (v: Verdict) => rows.filter((r) => r.result === v).length;
  process.stdout.write(`\n${count('PASS')} pass, ${count('MISS')} miss, ${count('FAIL')} fail (a FAIL is a broken run, not a slow one)\n`);
  if (count('LIMIT')) {
    process.stdout.write(
      `LIMIT: even a client that cost nothing could not meet that goal here: the servers alone need that much CPU ` +
        `for the work, and ${CORES} cores share it (rows "c": the servers' CPU in the same runs).\n`,
    );
  }
  if (args.json) {
    const report = {
      startedAt: started.toISOString(),
      durationS: (Date.now() - started.getTime()) / 1000,
      scale: args.scale,
      reps: args.reps,
      source: args.source,
      destination: args.destination,
      wan: args.only.has('wan') ? { ...args.wan, pairs: args.pairs } : undefined,
      machine: { cpus: CORES, loadavgAtStart: load0, loadavgAtEnd: os.loadavg(), node: process.version, lftp: lftpVersion },
      method: {
        wall: 'performance.now() around the spawned process (includes process start-up)',
        cpuAndRss: 'GNU time %U+%S and %M (rusage of the tool process)',
        clientBytes: `loopback: nftables counters, TCP bytes between ${ADDR_FIRST}-${ADDR_LAST} and any other address; WAN: wanlink's counters of the client's links; IP headers included`,
        best: 'fastest correct run of the repetitions',
        serversCpu: `utime+stime+cutime+cstime of every process of both servers (/proc/<pid>/stat), before and after each run, read once their sessions have exited; each run starts after the servers are idle plus ${QUIET_MS} ms`,
        wan: 'network namespaces joined by wanlink (test/bench/wan/wanlink.c): per ordered pair of hosts a link with one-way delay RTT/2, a rate, and a drop-tail queue of one bandwidth-delay product; waits counted from its trace of the control connections (test/bench/wan/waits.ts)',
      },
      rows,
      scenarios,
    };
    fs.writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
    say(`wrote ${args.json}`);
  }
  // A MISS is a result; only a broken run (FAIL) makes the bench itself fail.
  return count('FAIL') ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
