/**
 * Running the two tools: one process per run under GNU time and timeout
 * (measure.ts), fxpmirror and lftp alternating which goes first, each run
 * started only once the servers are idle again, the servers' CPU read around
 * it. A scenario's `once` callback does one run and judges it on the
 * destination's disk; only a correct run's figure counts.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LAB_PASSWORD, LAB_USER, labProcessTree, REPO_ROOT, type LabServer } from '../lab/lab.js';
import { inNetns } from '../lab/netns.js';
import type { Args } from './args.js';
import type { Owner } from './fixtures.js';
import { measure, processCpuMs, type Measured, type TrafficCounter } from './measure.js';
import { fmt, fmtBytes, fmtInt, MiB, say, type Row } from './table.js';

export const LFTP_BIN = '/usr/bin/lftp';
export const FXPMIRROR_BIN = path.join(REPO_ROOT, 'bin', 'fxpmirror');

export type Tool = 'fxpmirror' | 'lftp';
export const TOOLS: Tool[] = ['fxpmirror', 'lftp'];

/** Scenario 1's floor client (floor-client.ts): A does lftp's exchanges per file, B fxpmirror's. */
export type Floor = 'floorA' | 'floorB';
export const FLOORS: Floor[] = ['floorA', 'floorB'];
export const FLOOR_JS = path.join(REPO_ROOT, 'dist', 'test', 'bench', 'floor-client.js');

/** `p` is absolute: "%2F" says so (RFC 1738 §3.2.2) to fxpmirror and lftp alike. */
export function url(s: LabServer, p: string): string {
  return `ftp://${LAB_USER}:${encodeURIComponent(LAB_PASSWORD)}@${s.host}:${s.port}/%2F${p.slice(1)}`;
}

/**
 * lftp: FXP forced (never a silent relay), no TLS attempts (the bench servers
 * run without TLS), and the same "do not hang forever" settings as the lab's
 * runLftp. ftp->ftp URLs make `mirror` and `get -o` copy by FXP (ftp:use-fxp).
 */
const LFTP_SETTINGS = [
  'set cmd:fail-exit yes',
  'set net:max-retries 1',
  'set net:timeout 10',
  'set net:reconnect-interval-base 1',
  'set xfer:clobber on',
  'set ftp:ssl-allow no',
  'set ftp:use-fxp yes',
  'set ftp:fxp-force yes',
].join('; ');

/** One pair of servers and how the tools reach them. */
export interface Ctx {
  args: Args;
  src: LabServer;
  dst: LabServer;
  owner: Owner;
  counter: TrafficCounter;
  /** Processes of both servers while no session is open (listeners, helpers). */
  idleProcs: number;
  /** WAN set: the client's network namespace; both tools run inside it. */
  clientNetns?: string;
  /** WAN set: the link emulator's pid, whose CPU is read around each run. */
  linkPid?: number;
}

function serverPids(ctx: Ctx): number[] {
  return [...labProcessTree(ctx.src.pid), ...labProcessTree(ctx.dst.pid)];
}

/**
 * proftpd's listener sleeps 200 ms in select() after each SIGCHLD (seen with
 * strace): a connection that arrives while the previous run's sessions are
 * exiting waits 200-400 ms for its greeting, and that lands on whichever tool
 * runs second. So every run starts only once the servers are back to their
 * idle processes, plus QUIET_MS. The same wait makes the servers' CPU
 * figures complete: an exited, reaped session's time is in its listener's
 * cutime/cstime.
 */
export const QUIET_MS = 600;

async function quiet(ctx: Ctx): Promise<void> {
  // At most 3 s: a proftpd session whose RETR never got its data connection
  // (a failed transfer) waits minutes for it, after its client has gone.
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && serverPids(ctx).length > ctx.idleProcs) await new Promise((r) => setTimeout(r, 50));
  await fewTimeWaits(ctx);
  await new Promise((r) => setTimeout(r, QUIET_MS));
}

/**
 * Loopback only (the WAN set's servers live in namespaces of their own):
 * a 1,000-file run leaves about 1,040 sockets of the servers' addresses in
 * TIME_WAIT for 60 s (Linux's TCP_TIMEWAIT_LEN). Once about 8,000 had piled
 * up, the servers' CPU for the same 1,000 files grew from about 1 s to 3-7 s
 * and pure-ftpd began to answer PASV with 425, for whichever tool ran then:
 * a bench's later repetitions measured the pile, not the tools. ss -K cannot
 * remove TIME_WAIT sockets, so a run waits (at most their lifetime) until
 * fewer than TIME_WAIT_LIMIT are left.
 */
const TIME_WAIT_LIMIT = 4_000;

async function fewTimeWaits(ctx: Ctx): Promise<void> {
  if (ctx.clientNetns !== undefined) return;
  const hosts = [ctx.src.host, ctx.dst.host];
  const filter = hosts.flatMap((h) => [`src ${h}`, `dst ${h}`]).join(' or ');
  const count = () => execFileSync('ss', ['-Htan', 'state', 'time-wait', `( ${filter} )`], { encoding: 'utf8', maxBuffer: 64 * MiB }).split('\n').filter(Boolean).length;
  const deadline = Date.now() + 61_000;
  while (Date.now() < deadline && count() >= TIME_WAIT_LIMIT) await new Promise((r) => setTimeout(r, 1_000));
}

/**
 * Write the fixtures' dirty pages out before timing anything: 1 GiB of them
 * would otherwise be written back during the first runs, by whichever tool
 * is running then.
 */
export function flushDisk(): void {
  execFileSync('sync', { timeout: 120_000 });
}

export interface RunOpts {
  timeoutSec: number;
  /** Send stdout to /dev/null (dry-run plans of 2,000,000 lines). */
  discardStdout?: boolean;
  onStderr?: (text: string) => void;
}

export function runFx(ctx: Ctx, args: string[], o: RunOpts): Promise<Measured> {
  const cmd = inNetns(ctx.clientNetns, process.execPath, [FXPMIRROR_BIN, ...args]);
  return measure({ ...cmd, timeoutSec: o.timeoutSec, discardStdout: o.discardStdout, counter: ctx.counter, onStderr: o.onStderr });
}

/** The floor client: plain `node` (no flags, no bundle), the same URLs and parallelism as the tools. */
export function runFloor(ctx: Ctx, floor: Floor, srcUrl: string, dstUrl: string, parallel: number, o: RunOpts): Promise<Measured> {
  const cmd = inNetns(ctx.clientNetns, process.execPath, [FLOOR_JS, floor === 'floorA' ? 'A' : 'B', srcUrl, dstUrl, String(parallel)]);
  return measure({ ...cmd, timeoutSec: o.timeoutSec, counter: ctx.counter, onStderr: o.onStderr });
}

export function runLftp(ctx: Ctx, script: string, o: RunOpts): Promise<Measured> {
  const cmd = inNetns(ctx.clientNetns, LFTP_BIN, ['-c', `${LFTP_SETTINGS}; ${script}`]);
  return measure({ ...cmd, timeoutSec: o.timeoutSec, discardStdout: o.discardStdout, counter: ctx.counter, onStderr: o.onStderr });
}

/** What one run returns to repeat(): its figures, what was wrong with its result, scenario-specific figures. */
export interface Once {
  m: Measured;
  problem?: string;
  extra?: Record<string, number>;
}

/** A run's figures plus whether its result was correct. */
export interface Run<T extends string = Tool> extends Measured {
  tool: T;
  rep: number;
  ok: boolean;
  problem?: string;
  /** Scenario-specific figures of this run (WAN: waits per file, link counters). */
  extra?: Record<string, number>;
  /** CPU seconds both servers spent during this run (all their processes). */
  serversCpuS: number;
  /** WAN set: CPU seconds of the link emulator during this run. */
  linkCpuS?: number;
}

export function summarize(r: Run<string>): object {
  return {
    rep: r.rep,
    ok: r.ok,
    problem: r.problem,
    code: r.code,
    wallMs: Math.round(r.wallMs * 10) / 10,
    cpuS: Math.round(r.cpuS * 1000) / 1000,
    userS: Math.round(r.userS * 1000) / 1000,
    sysS: Math.round(r.sysS * 1000) / 1000,
    serversCpuS: Math.round(r.serversCpuS * 1000) / 1000,
    linkCpuS: r.linkCpuS === undefined ? undefined : Math.round(r.linkCpuS * 1000) / 1000,
    rssKiB: r.rssKiB,
    clientBytes: r.traffic?.client,
    serverToServerBytes: r.traffic?.serverToServer,
    ...r.extra,
  };
}

export function summarizeAll(runs: Record<Tool, Run<string>[]>): object {
  return { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) };
}

/** Why a run's exit says it failed, or undefined. */
export function failure(m: Measured): string | undefined {
  if (m.timedOut) return `timed out (exit ${m.code})`;
  if (m.code !== 0) return `exit ${m.code}: ${(m.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200)}`;
  return undefined;
}

/** Best (fastest) correct run, or undefined when none was correct. */
export function best<T extends string>(runs: Run<T>[]): Run<T> | undefined {
  return runs.filter((r) => r.ok).sort((a, b) => a.wallMs - b.wallMs)[0];
}

export function firstProblem(runs: Run<string>[]): string {
  return runs.find((r) => !r.ok)?.problem ?? 'no run';
}

export function failRow(id: string, scenario: string, runs: Record<Tool, Run<string>[]>, goal: string): Row {
  const cell = (t: Tool) => (best(runs[t]) ? 'ok' : `FAIL: ${firstProblem(runs[t])}`.slice(0, 60));
  return { id, scenario, fxpmirror: cell('fxpmirror'), lftp: cell('lftp'), ratio: '—', goal, result: 'FAIL' };
}

/**
 * `reps` repetitions of both tools (or only `tools`), alternating which goes
 * first (the second run of a pair may find warmer caches). `after` run next
 * in each repetition (scenario 1's floor client), alternating among
 * themselves, so the tools keep the places they have without them. `once`
 * runs one tool, checks the result, and cleans up after itself.
 */
export async function repeat<T extends string = Tool>(
  ctx: Ctx,
  label: string,
  reps: number,
  once: (tool: T, rep: number) => Promise<Once>,
  tools: T[] = TOOLS as T[],
  after: T[] = [],
): Promise<Record<T, Run<T>[]>> {
  const out = {} as Record<T, Run<T>[]>;
  for (const t of [...(TOOLS as T[]), ...tools, ...after]) out[t] = [];
  const linkPids = ctx.linkPid === undefined ? [] : [ctx.linkPid];
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? [...tools, ...after] : [...[...tools].reverse(), ...[...after].reverse()];
    for (const tool of order) {
      await quiet(ctx);
      const cpu0 = processCpuMs(serverPids(ctx));
      const link0 = processCpuMs(linkPids);
      const { m, problem, extra } = await once(tool, rep);
      const linkCpuS = linkPids.length ? (processCpuMs(linkPids) - link0) / 1000 : undefined;
      await quiet(ctx);
      const serversCpuS = (processCpuMs(serverPids(ctx)) - cpu0) / 1000;
      const run: Run<T> = { ...m, tool, rep, ok: problem === undefined, problem, extra, serversCpuS, linkCpuS };
      out[tool].push(run);
      const link = linkCpuS === undefined ? '' : `, link cpu ${fmt(linkCpuS)} s`;
      say(
        `${label} ${tool} rep ${rep + 1}/${reps}: ${(m.wallMs / 1000).toFixed(3)} s, cpu ${fmt(m.cpuS)} s, servers' cpu ${fmt(serversCpuS)} s${link}, ` +
          `rss ${fmtInt(m.rssKiB / 1024)} MiB, client ${fmtBytes(m.traffic?.client)}${problem ? `  PROBLEM: ${problem}` : ''}`,
      );
    }
  }
  return out;
}
