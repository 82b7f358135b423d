/**
 * fxpmirror against lftp, on the same lab servers in the same run.
 *
 *   npm run bench                      full sizes (several minutes)
 *   npm run bench -- --quick           about 10× smaller, for development
 *   npm run bench -- --json out.json   also write the results as JSON
 *   npm run bench -- --only 6 --rtt 5  only the far-client scenario, at 5 ms
 *
 * Options: --scale F (or env BENCH_SCALE; --quick = 0.1), --reps N (default 5,
 * best run counts; scenario 6 at most 3), --only 1,3,5, --source KIND --destination KIND (default
 * proftpd -> pure-ftpd), --keep-logs (leave the server logs in .lab),
 * --rtt MS (scenario 6's client round-trip time, default 20), --trace DIR
 * (scenario 6: one more run per tool, not timed, that writes timestamped
 * wire logs into DIR: see scenarioFarClient).
 *
 * Both tools run as separate processes under /usr/bin/time and timeout (lftp
 * hangs forever in several failure modes), one at a time, alternating which
 * goes first. Each tool gets the same source and its own fresh destination
 * directory. Every run is checked (exit code, files and sizes on the
 * destination's disk, a no-op that really changed nothing) before its figure
 * counts; a failed check shows as FAIL, never as a number.
 *
 * Default pair: proftpd (source) -> pure-ftpd (destination). lftp's FXP mirror
 * works on it (notes: lftp's `mirror -P4` hangs with pyftpdlib as source), and
 * both servers speak MLSD and MFMT, so both tools compare exact times and can
 * preserve them: the no-op scenario is a real no-op for both.
 *
 * Not part of `npm test` (dist/test/bench is not a test directory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  LAB_PASSWORD,
  LAB_USER,
  labProcessTree,
  REPO_ROOT,
  SERVER_KINDS,
  labAvailable,
  startServer,
  stopAll,
  type LabServer,
  type ServerKind,
} from '../lab/lab.js';
import { startDelayProxy, type DelayProxy, type ProxyStats } from './delay.js';
import { measure, processCpuMs, startTrafficCounter, TIME_BIN, TIMEOUT_BIN, NFT_BIN, type Measured, type TrafficCounter } from './measure.js';
import { lookupOwner, makeBigFiles, makeTree, shapeOf, logLines, type Owner } from './fixtures.js';

const LFTP_BIN = '/usr/bin/lftp';
const FXPMIRROR_BIN = path.join(REPO_ROOT, 'bin', 'fxpmirror');
/** The bench's loopback addresses (the lab byte counter does not cover them: see measure.ts). */
const ADDR_FIRST = '127.0.3.21';
const ADDR_LAST = '127.0.3.40';
const SRC_ADDR = '127.0.3.21';
const DST_ADDR = '127.0.3.22';
/**
 * Scenario 6's delay proxies listen on their server's own address, on the
 * server's port + this. Not on an address of their own: lftp treats every
 * 127/8 address but 127.0.0.1 as "reserved" and replaces a PASV address by
 * its control peer's (sockaddr_u::is_reserved, whatever ftp:fix-pasv-address
 * says), so with the proxy on another address it would hand the proxy's
 * address to the other server's PORT. Sharing the address is also the real
 * layout: the client reaches each server at the address PASV names.
 */
const FAR_PORT_OFFSET = 10;
const SCENARIOS = [1, 2, 3, 4, 5, 6];
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Arguments

interface Args {
  scale: number;
  reps: number;
  json?: string;
  only: Set<number>;
  source: ServerKind;
  destination: ServerKind;
  keepLogs: boolean;
  /** Scenario 6: round-trip time between the client and each server, ms. */
  rtt: number;
  /** Scenario 6: directory for the wire logs of one extra traced run per tool. */
  trace?: string;
}

const USAGE = `usage: node dist/test/bench/bench.js [--quick | --scale F] [--reps N] [--json FILE]
       [--only 1,2,3,4,5,6] [--source KIND] [--destination KIND] [--keep-logs]
       [--rtt MS] [--trace DIR]
KIND: ${SERVER_KINDS.join(', ')}. Env BENCH_SCALE sets the default scale.`;

function parseArgs(argv: string[]): Args {
  const envScale = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : 1;
  const a: Args = { scale: envScale, reps: 5, only: new Set(SCENARIOS), source: 'proftpd', destination: 'pure-ftpd', keepLogs: false, rtt: 20 };
  const value = (i: number, name: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    return v;
  };
  const kind = (v: string, name: string): ServerKind => {
    if (!(SERVER_KINDS as string[]).includes(v)) throw new Error(`${name}: unknown server kind ${JSON.stringify(v)}\n${USAGE}`);
    return v as ServerKind;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--quick':
        a.scale = 0.1;
        break;
      case '--scale':
        a.scale = Number(value(i++, arg));
        break;
      case '--reps':
        a.reps = Number(value(i++, arg));
        break;
      case '--json':
        a.json = path.resolve(value(i++, arg));
        break;
      case '--only':
        a.only = new Set(value(i++, arg).split(',').map(Number));
        break;
      case '--source':
        a.source = kind(value(i++, arg), arg);
        break;
      case '--destination':
        a.destination = kind(value(i++, arg), arg);
        break;
      case '--keep-logs':
        a.keepLogs = true;
        break;
      case '--rtt':
        a.rtt = Number(value(i++, arg));
        break;
      case '--trace':
        a.trace = path.resolve(value(i++, arg));
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  if (!(a.scale > 0 && a.scale <= 1)) throw new Error(`scale must be in (0, 1], got ${a.scale}`);
  if (!Number.isInteger(a.reps) || a.reps < 1) throw new Error(`--reps must be a whole number >= 1`);
  if (!(a.rtt >= 0 && a.rtt <= 1000)) throw new Error(`--rtt must be a number of milliseconds in [0, 1000], got ${a.rtt}`);
  for (const n of a.only) if (!SCENARIOS.includes(n)) throw new Error(`--only: no scenario ${n}`);
  return a;
}

// ---------------------------------------------------------------------------
// Formatting

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024 / MiB).toFixed(2)} GiB`;
}

/** LIMIT: a ceiling row whose goal no client could reach on this machine (see ceilingRows). */
type Verdict = 'PASS' | 'MISS' | 'INFO' | 'FAIL' | 'LIMIT';

interface Row {
  id: string;
  scenario: string;
  fxpmirror: string;
  lftp: string;
  ratio: string;
  goal: string;
  result: Verdict;
}

function printTable(rows: Row[]): void {
  const head: Row = { id: '#', scenario: 'scenario', fxpmirror: 'fxpmirror', lftp: 'lftp', ratio: 'ratio', goal: 'goal', result: 'PASS' };
  const cols: (keyof Row)[] = ['id', 'scenario', 'fxpmirror', 'lftp', 'ratio', 'goal', 'result'];
  const all = [head, ...rows];
  const width = cols.map((c) => Math.max(...all.map((r) => (c === 'result' && r === head ? 'result' : String(r[c])).length)));
  const line = (r: Row) =>
    '| ' + cols.map((c, i) => (c === 'result' && r === head ? 'result' : String(r[c])).padEnd(width[i])).join(' | ') + ' |';
  process.stdout.write(line(head) + '\n');
  process.stdout.write('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|\n');
  for (const r of rows) process.stdout.write(line(r) + '\n');
}

function say(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------------------
// Tools

type Tool = 'fxpmirror' | 'lftp';
const TOOLS: Tool[] = ['fxpmirror', 'lftp'];

/** Where a tool connects: a server, or the delay proxy in front of it. */
interface Endpoint {
  host: string;
  port: number;
}

/** `p` is absolute: "%2F" says so (RFC 1738 §3.2.2) to fxpmirror and lftp alike. */
function url(s: Endpoint, p: string): string {
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

interface Ctx {
  args: Args;
  src: LabServer;
  dst: LabServer;
  owner: Owner;
  counter: TrafficCounter;
  /** Processes of both servers while no session is open (listeners, helpers). */
  idleProcs: number;
}

const CORES = os.cpus().length;

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
const QUIET_MS = 600;

/**
 * Write the fixtures' dirty pages out before timing anything: 1 GiB of them
 * would otherwise be written back during the first runs, by whichever tool
 * is running then.
 */
function flushDisk(): void {
  execFileSync('sync', { timeout: 120_000 });
}

async function quiet(ctx: Ctx): Promise<void> {
  // At most 3 s: a proftpd session whose RETR never got its data connection
  // (a failed transfer) waits minutes for it, after its client has gone.
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && serverPids(ctx).length > ctx.idleProcs) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, QUIET_MS));
}

function runFx(ctx: Ctx, args: string[], timeoutSec: number, discardStdout = false, onStderr?: (text: string) => void): Promise<Measured> {
  return measure({ command: process.execPath, args: [FXPMIRROR_BIN, ...args], timeoutSec, discardStdout, counter: ctx.counter, onStderr });
}

function runLftp(ctx: Ctx, script: string, timeoutSec: number, discardStdout = false): Promise<Measured> {
  return measure({ command: LFTP_BIN, args: ['-c', `${LFTP_SETTINGS}; ${script}`], timeoutSec, discardStdout, counter: ctx.counter });
}

/** A run's figures plus whether its result was correct. */
interface Run extends Measured {
  tool: Tool;
  rep: number;
  ok: boolean;
  problem?: string;
  /** Scenario-specific figures of this run (scenario 6: the proxies' counters). */
  extra?: Record<string, number>;
  /** CPU seconds both servers spent during this run (all their processes). */
  serversCpuS: number;
}

function summarize(r: Run): object {
  return {
    rep: r.rep,
    ok: r.ok,
    problem: r.problem,
    code: r.code,
    wallMs: Math.round(r.wallMs * 10) / 10,
    cpuS: Math.round(r.cpuS * 1000) / 1000,
    serversCpuS: Math.round(r.serversCpuS * 1000) / 1000,
    rssKiB: r.rssKiB,
    clientBytes: r.traffic?.client,
    serverToServerBytes: r.traffic?.serverToServer,
    ...r.extra,
  };
}

function failure(m: Measured): string | undefined {
  if (m.timedOut) return `timed out (exit ${m.code})`;
  if (m.code !== 0) return `exit ${m.code}: ${(m.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200)}`;
  return undefined;
}

/** Best (fastest) correct run, or undefined when none was correct. */
function best(runs: Run[]): Run | undefined {
  return runs.filter((r) => r.ok).sort((a, b) => a.wallMs - b.wallMs)[0];
}

function firstProblem(runs: Run[]): string {
  return runs.find((r) => !r.ok)?.problem ?? 'no run';
}

/**
 * `reps` repetitions of both tools, alternating which goes first (the second
 * run of a pair may find warmer caches). `once` runs one tool, checks the
 * result, and cleans up after itself.
 */
async function repeat(
  ctx: Ctx,
  label: string,
  reps: number,
  once: (tool: Tool, rep: number) => Promise<{ m: Measured; problem?: string; extra?: Record<string, number> }>,
): Promise<Record<Tool, Run[]>> {
  const out: Record<Tool, Run[]> = { fxpmirror: [], lftp: [] };
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? TOOLS : [...TOOLS].reverse();
    for (const tool of order) {
      await quiet(ctx);
      const cpu0 = processCpuMs(serverPids(ctx));
      const { m, problem, extra } = await once(tool, rep);
      await quiet(ctx);
      const serversCpuS = (processCpuMs(serverPids(ctx)) - cpu0) / 1000;
      const run: Run = { ...m, tool, rep, ok: problem === undefined, problem, extra, serversCpuS };
      out[tool].push(run);
      say(`${label} ${tool} rep ${rep + 1}/${reps}: ${(m.wallMs / 1000).toFixed(3)} s, cpu ${fmt(m.cpuS)} s, servers' cpu ${fmt(serversCpuS)} s, rss ${fmtInt(m.rssKiB / 1024)} MiB, client ${fmtBytes(m.traffic?.client)}${problem ? `  PROBLEM: ${problem}` : ''}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Scenarios

interface ScenarioResult {
  rows: Row[];
  json: object;
}

function verdict(ok: boolean): Verdict {
  return ok ? 'PASS' : 'MISS';
}

/**
 * The servers' CPU for the same work, and the ceiling it sets: with a client
 * that cost nothing and the servers' CPU spread perfectly over every core, a
 * run could take no less than serversCpuS / CORES. The smaller of the two
 * tools' figures is used. `rate` turns a wall time (s) into the scenario's
 * figure; `goalMet` judges that figure's ratio to lftp's.
 */
function ceilingRows(
  id: string,
  what: string,
  fx: Run,
  lf: Run,
  unit: string,
  rate: (wallS: number) => number,
  show: (v: number) => string,
  goal: string,
  goalMet: (ratio: number) => boolean,
): Row[] {
  const floorS = Math.min(fx.serversCpuS, lf.serversCpuS) / CORES;
  const ceiling = rate(floorS);
  const lfFigure = rate(lf.wallMs / 1000);
  const ratio = ceiling / lfFigure;
  return [
    {
      id: `${id}c`,
      scenario: `${what}: servers' CPU s (same run)`,
      fxpmirror: fmt(fx.serversCpuS),
      lftp: fmt(lf.serversCpuS),
      ratio: `${fmt(fx.serversCpuS / lf.serversCpuS)}×`,
      goal: '—',
      result: 'INFO',
    },
    {
      id: `${id}d`,
      scenario: `${what}: ceiling, servers' CPU ÷ ${CORES} cores (${unit})`,
      fxpmirror: show(ceiling),
      lftp: show(lfFigure),
      ratio: `${fmt(ratio)}×`,
      goal,
      result: goalMet(ratio) ? 'INFO' : 'LIMIT',
    },
  ];
}

function failRow(id: string, scenario: string, runs: Record<Tool, Run[]>, goal: string): Row {
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  return {
    id,
    scenario,
    fxpmirror: fx ? 'ok' : `FAIL: ${firstProblem(runs.fxpmirror)}`.slice(0, 60),
    lftp: lf ? 'ok' : `FAIL: ${firstProblem(runs.lftp)}`.slice(0, 60),
    ratio: '—',
    goal,
    result: 'FAIL',
  };
}

interface InitialSyncRun {
  /** Source directory (under the source root) and destination directory ("/name", created by the run). */
  tree: string;
  rel: string;
  files: number;
  size: number;
  /** Where the tools connect: the servers, or delay proxies in front of them. */
  src: Endpoint;
  dst: Endpoint;
  timeoutSec: number;
  /** Extra fxpmirror options (e.g. -v), extra lftp commands before `mirror` (e.g. debug). */
  fxExtra?: string[];
  lftpBefore?: string;
  onStderr?: (text: string) => void;
}

/** One initial sync by `tool` into a fresh destination directory, checked on disk, then removed. Shared by 1 and 6. */
async function initialSyncOnce(ctx: Ctx, tool: Tool, o: InitialSyncRun): Promise<{ m: Measured; problem?: string }> {
  const m =
    tool === 'fxpmirror'
      ? await runFx(ctx, ['mirror', '-P', '4', '-q', ...(o.fxExtra ?? []), '--fxp', 'force', url(o.src, `/${o.tree}/`), url(o.dst, `${o.rel}/`)], o.timeoutSec, false, o.onStderr)
      : await runLftp(ctx, `${o.lftpBefore ?? ''}mirror -P4 ${url(o.src, `/${o.tree}`)} ${url(o.dst, o.rel)}`, o.timeoutSec);
  let problem = failure(m);
  const disk = path.join(ctx.dst.root, o.rel.slice(1));
  const shape = shapeOf(disk, o.size);
  if (!problem && (shape.files !== o.files || shape.wrongSize !== 0)) problem = `destination has ${shape.files}/${o.files} files, ${shape.wrongSize} of wrong size`;
  if (!problem && m.traffic && m.traffic.serverToServer < o.files * o.size) problem = `only ${fmtBytes(m.traffic.serverToServer)} went server to server: not FXP`;
  fs.rmSync(disk, { recursive: true, force: true });
  return { m, problem };
}

/** 1. Initial sync of many small files, both at parallel 4. */
async function scenarioInitial(ctx: Ctx): Promise<ScenarioResult> {
  const dirs = Math.max(2, Math.round(20 * ctx.args.scale));
  const perDir = 50;
  const size = 4096;
  const files = makeTree(path.join(ctx.src.root, 's1'), dirs, perDir, size, ctx.owner);
  flushDisk();
  const name = `initial sync ${fmtInt(files)} × 4 KiB, ${dirs} dirs, -P4 (files/s)`;
  say(`1: ${name}`);
  const runs = await repeat(ctx, 's1', ctx.args.reps, (tool, rep) =>
    initialSyncOnce(ctx, tool, { tree: 's1', rel: `/s1-${tool}-${rep}`, files, size, src: ctx.src, dst: ctx.dst, timeoutSec: 300 }),
  );
  const goal = '≥ 2.0×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const json = { files, dirs, fileBytes: size, runs: { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) } };
  if (!fx || !lf) return { rows: [failRow('1', name, runs, goal)], json };
  const fxRate = files / (fx.wallMs / 1000);
  const lfRate = files / (lf.wallMs / 1000);
  const ratio = fxRate / lfRate;
  return {
    rows: [
      { id: '1', scenario: name, fxpmirror: fmtInt(fxRate), lftp: fmtInt(lfRate), ratio: `${fmt(ratio)}×`, goal, result: verdict(ratio >= 2.0) },
      {
        id: '1b',
        scenario: 'initial sync: client CPU s (best run)',
        fxpmirror: fmt(fx.cpuS),
        lftp: fmt(lf.cpuS),
        ratio: `${fmt(fx.cpuS / lf.cpuS)}×`,
        goal: '—',
        result: 'INFO',
      },
      ...ceilingRows('1', 'initial sync', fx, lf, 'files/s', (w) => files / w, fmtInt, goal, (r) => r >= 2.0),
    ],
    json: { ...json, filesPerSecond: { fxpmirror: fxRate, lftp: lfRate }, ratio },
  };
}

/** 2. No-op re-sync: source and destination already identical (same sizes and times, written on disk). */
async function scenarioNoop(ctx: Ctx): Promise<ScenarioResult> {
  const dirs = Math.max(1, Math.round(100 * ctx.args.scale));
  const perDir = 100;
  const files = makeTree(path.join(ctx.src.root, 's2'), dirs, perDir, 100, ctx.owner);
  makeTree(path.join(ctx.dst.root, 's2'), dirs, perDir, 100, ctx.owner);
  flushDisk();
  const dstDisk = path.join(ctx.dst.root, 's2');
  const name = `no-op re-sync of ${fmtInt(files)} files, -P4 (wall s)`;
  say(`2: ${name}`);
  const runs = await repeat(ctx, 's2', ctx.args.reps, async (tool) => {
    const before = shapeOf(dstDisk);
    const logsBefore = [logLines(ctx.src.xferLog), logLines(ctx.dst.xferLog)];
    const m =
      tool === 'fxpmirror'
        ? await runFx(ctx, ['mirror', '-P', '4', '-q', '--fxp', 'force', url(ctx.src, '/s2/'), url(ctx.dst, '/s2/')], 300)
        : await runLftp(ctx, `mirror -P4 ${url(ctx.src, '/s2')} ${url(ctx.dst, '/s2')}`, 300);
    let problem = failure(m);
    const after = shapeOf(dstDisk);
    const logsAfter = [logLines(ctx.src.xferLog), logLines(ctx.dst.xferLog)];
    if (!problem && (after.files !== before.files || after.mtimeSum !== before.mtimeSum)) problem = 'the destination changed: not a no-op';
    if (!problem && (logsAfter[0] !== logsBefore[0] || logsAfter[1] !== logsBefore[1])) {
      problem = `${logsAfter[0] - logsBefore[0] + logsAfter[1] - logsBefore[1]} transfers logged: not a no-op`;
    }
    return { m, problem };
  });
  const goal = '≤ 0.5×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const json = { files, dirs, runs: { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) } };
  if (!fx || !lf) return { rows: [failRow('2', name, runs, goal)], json };
  const ratio = fx.wallMs / lf.wallMs;
  return {
    rows: [
      { id: '2', scenario: name, fxpmirror: fmt(fx.wallMs / 1000, 3), lftp: fmt(lf.wallMs / 1000, 3), ratio: `${fmt(ratio)}×`, goal, result: verdict(ratio <= 0.5) },
      ...ceilingRows('2', 'no-op', fx, lf, 'wall s', (w) => w, (v) => fmt(v, 3), goal, (r) => r <= 0.5),
    ],
    json: { ...json, wallSeconds: { fxpmirror: fx.wallMs / 1000, lftp: lf.wallMs / 1000 }, ratio },
  };
}

/** 3 and 4 share the big source files. */
function bigFileSize(ctx: Ctx): number {
  return Math.max(1, Math.round(256 * ctx.args.scale)) * MiB;
}

function ensureBigFiles(ctx: Ctx): { names: string[]; size: number } {
  const size = bigFileSize(ctx);
  const dir = path.join(ctx.src.root, 'big');
  if (fs.existsSync(dir)) return { names: fs.readdirSync(dir).sort(), size };
  say(`writing 4 × ${fmtBytes(size)} source files`);
  const names = makeBigFiles(dir, 4, size, ctx.owner);
  flushDisk();
  return { names, size };
}

const CLIENT_BYTES_GOAL = MiB;

function trafficRows(id: string, what: string, fx: Run, lf: Run): Row[] {
  const fxBytes = fx.traffic?.client;
  return [
    {
      id: `${id}b`,
      scenario: `${what}: client CPU s`,
      fxpmirror: fmt(fx.cpuS),
      lftp: fmt(lf.cpuS),
      ratio: lf.cpuS > 0 ? `${fmt(fx.cpuS / lf.cpuS)}×` : '—',
      goal: '—',
      result: 'INFO',
    },
    {
      id: `${id}c`,
      scenario: `${what}: bytes through the client`,
      fxpmirror: fmtBytes(fxBytes),
      lftp: fmtBytes(lf.traffic?.client),
      ratio: fxBytes !== undefined && lf.traffic?.client ? `${fmt(fxBytes / lf.traffic.client)}×` : '—',
      goal: '< 1 MiB',
      result: fxBytes === undefined ? 'FAIL' : verdict(fxBytes < CLIENT_BYTES_GOAL),
    },
  ];
}

/**
 * Each tool's start-up: the fastest of 5 `--version` runs, timed like every
 * other run. On loopback a 1 GiB mirror lasts about half a second, so a
 * Node.js process start (~0.09 s here, against lftp's ~0.005 s) is a fifth
 * of it; rows 3d and 4d take it out to compare the transfers themselves.
 */
let startupCache: Record<Tool, number> | undefined;
async function startupS(ctx: Ctx): Promise<Record<Tool, number>> {
  if (startupCache) return startupCache;
  const out: Record<Tool, number> = { fxpmirror: Infinity, lftp: Infinity };
  for (let i = 0; i < 5; i++) {
    const fx = await runFx(ctx, ['--version'], 30);
    const lf = await measure({ command: LFTP_BIN, args: ['--version'], timeoutSec: 30 });
    if (fx.code === 0) out.fxpmirror = Math.min(out.fxpmirror, fx.wallMs / 1000);
    if (lf.code === 0) out.lftp = Math.min(out.lftp, lf.wallMs / 1000);
  }
  return (startupCache = out);
}

function withoutStartupRow(id: string, what: string, bytes: number, fx: Run, lf: Run, startup: Record<Tool, number>): Row {
  const rate = (r: Run) => bytes / 1e6 / (r.wallMs / 1000 - startup[r.tool]);
  return {
    id: `${id}d`,
    scenario: `${what}: MB/s without start-up (${fmt(startup.fxpmirror, 3)} s vs ${fmt(startup.lftp, 3)} s)`,
    fxpmirror: fmtInt(rate(fx)),
    lftp: fmtInt(rate(lf)),
    ratio: `${fmt(rate(fx) / rate(lf))}×`,
    goal: '—',
    result: 'INFO',
  };
}

/** 3. Four big files by mirror -P4: throughput, client CPU, bytes through the client. */
async function scenarioLarge(ctx: Ctx): Promise<ScenarioResult> {
  const { names, size } = ensureBigFiles(ctx);
  const total = names.length * size;
  const name = `large: ${names.length} × ${fmtBytes(size)} mirror -P4 (MB/s)`;
  say(`3: ${name}`);
  const runs = await repeat(ctx, 's3', ctx.args.reps, async (tool, rep) => {
    const rel = `/s3-${tool}-${rep}`;
    const m =
      tool === 'fxpmirror'
        ? await runFx(ctx, ['mirror', '-P', '4', '-q', '--fxp', 'force', url(ctx.src, '/big/'), url(ctx.dst, `${rel}/`)], 600)
        : await runLftp(ctx, `mirror -P4 ${url(ctx.src, '/big')} ${url(ctx.dst, rel)}`, 600);
    let problem = failure(m);
    const disk = path.join(ctx.dst.root, rel.slice(1));
    const shape = shapeOf(disk, size);
    if (!problem && (shape.files !== names.length || shape.wrongSize !== 0)) problem = `destination has ${shape.files}/${names.length} files, ${shape.wrongSize} of wrong size`;
    if (!problem && m.traffic && m.traffic.serverToServer < total) problem = `only ${fmtBytes(m.traffic.serverToServer)} went server to server: not FXP`;
    fs.rmSync(disk, { recursive: true, force: true });
    return { m, problem };
  });
  return throughputResult(ctx, '3', 'large', name, total, runs, { files: names.length, fileBytes: size });
}

/** Scenarios 3 and 4: MB/s against lftp (goal ≥ 0.95×), CPU and client bytes, and the rates without start-up. */
async function throughputResult(
  ctx: Ctx,
  id: string,
  what: string,
  name: string,
  bytes: number,
  runs: Record<Tool, Run[]>,
  facts: object,
): Promise<ScenarioResult> {
  const goal = '≥ 0.95×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const json = { ...facts, runs: { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) } };
  if (!fx || !lf) return { rows: [failRow(id, name, runs, goal)], json };
  const fxRate = bytes / 1e6 / (fx.wallMs / 1000);
  const lfRate = bytes / 1e6 / (lf.wallMs / 1000);
  const ratio = fxRate / lfRate;
  return {
    rows: [
      { id, scenario: name, fxpmirror: fmtInt(fxRate), lftp: fmtInt(lfRate), ratio: `${fmt(ratio)}×`, goal, result: verdict(ratio >= 0.95) },
      ...trafficRows(id, what, fx, lf),
      withoutStartupRow(id, what, bytes, fx, lf, await startupS(ctx)),
    ],
    json: { ...json, megabytesPerSecond: { fxpmirror: fxRate, lftp: lfRate }, ratio },
  };
}

/** 4. One big file: `fxpmirror copy` against lftp `get URL -o URL` (FXP). */
async function scenarioSingle(ctx: Ctx): Promise<ScenarioResult> {
  const { names, size } = ensureBigFiles(ctx);
  const name = `single ${fmtBytes(size)} copy (MB/s)`;
  say(`4: ${name}`);
  const runs = await repeat(ctx, 's4', ctx.args.reps, async (tool, rep) => {
    const rel = `/s4-${tool}-${rep}.bin`;
    const srcUrl = url(ctx.src, `/big/${names[0]}`);
    const m =
      tool === 'fxpmirror'
        ? await runFx(ctx, ['copy', '--fxp', 'force', srcUrl, url(ctx.dst, rel)], 300)
        : await runLftp(ctx, `get ${srcUrl} -o ${url(ctx.dst, rel)}`, 300);
    let problem = failure(m);
    const disk = path.join(ctx.dst.root, rel.slice(1));
    let got = -1;
    try {
      got = fs.statSync(disk).size;
    } catch {
      /* missing */
    }
    if (!problem && got !== size) problem = `destination size ${got}, expected ${size}`;
    if (!problem && m.traffic && m.traffic.serverToServer < size) problem = `only ${fmtBytes(m.traffic.serverToServer)} went server to server: not FXP`;
    fs.rmSync(disk, { force: true });
    return { m, problem };
  });
  return throughputResult(ctx, '4', 'single', name, size, runs, { fileBytes: size });
}

/** 5. Peak RSS while planning (dry-run) a huge tree onto an empty destination. One run each: it is the expensive one. */
async function scenarioMemory(ctx: Ctx): Promise<ScenarioResult> {
  const dirs = Math.max(1, Math.round(200 * ctx.args.scale));
  const perDir = 1000;
  say(`5: creating ${fmtInt(dirs * perDir)} empty files`);
  // Root-owned and world-readable: listing needs nothing more, and dry-run writes nothing.
  const files = makeTree(path.join(ctx.src.root, 's5'), dirs, perDir, 0, null);
  const entries = files + dirs;
  const name = `dry-run plan of ${fmtInt(entries)} entries: peak RSS (MB)`;
  say(`5: ${name}`);
  const runs = await repeat(ctx, 's5', 1, async (tool) => {
    const m =
      tool === 'fxpmirror'
        ? await runFx(ctx, ['mirror', '--dry-run', '-q', url(ctx.src, '/s5/'), url(ctx.dst, '/s5/')], 900, true)
        : await runLftp(ctx, `mirror --dry-run -P4 ${url(ctx.src, '/s5')} ${url(ctx.dst, '/s5')}`, 900, true);
    let problem = failure(m);
    if (!problem && fs.existsSync(path.join(ctx.dst.root, 's5'))) problem = 'dry-run created the destination';
    return { m, problem };
  });
  const goal = '≤ 250 MB';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const mb = (r: Run) => (r.rssKiB * 1024) / 1e6;
  const json = { entries, dirs, runs: { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) } };
  if (!fx) return { rows: [failRow('5', name, runs, goal)], json };
  const fxMb = mb(fx);
  // lftp is optional here: a failed lftp run does not fail the row.
  const lfMb = lf ? mb(lf) : NaN;
  return {
    rows: [
      {
        id: '5',
        scenario: name,
        fxpmirror: fmt(fxMb, 0),
        lftp: lf ? fmt(lfMb, 0) : `FAIL: ${firstProblem(runs.lftp)}`.slice(0, 40),
        ratio: lf ? `${fmt(fxMb / lfMb)}×` : '—',
        goal,
        result: verdict(fxMb <= 250),
      },
      {
        id: '5b',
        scenario: 'dry-run plan: wall s',
        fxpmirror: fmt(fx.wallMs / 1000),
        lftp: lf ? fmt(lf.wallMs / 1000) : '—',
        ratio: lf ? `${fmt(fx.wallMs / lf.wallMs)}×` : '—',
        goal: '—',
        result: 'INFO',
      },
    ],
    json: { ...json, peakRssMB: { fxpmirror: fxMb, lftp: lfMb } },
  };
}

/** The proxies' counters for one run, summed over both servers. */
function proxyFigures(proxies: DelayProxy[], files: number): Record<string, number> {
  const st: ProxyStats[] = proxies.map((p) => p.stats());
  const turns = st.reduce((n, x) => n + x.turns, 0);
  return {
    controlConnections: st.reduce((n, x) => n + x.connections, 0),
    roundTrips: turns,
    roundTripsSource: st[0].turns,
    roundTripsDestination: st[1].turns,
    roundTripsPerFile: turns / files,
    controlBytes: st.reduce((n, x) => n + x.c2sBytes + x.s2cBytes, 0),
  };
}

/**
 * 6. Scenario 1's workload with the client far from both servers, which are
 * close to each other: the layout FXP is for. Every control connection of both
 * tools goes through a delay proxy (delay.ts) adding --rtt ms of round-trip
 * time; the FXP data still goes straight from server to server. On loopback a
 * round trip costs nothing, so only here does the number of round trips per
 * file show. The proxies also count them (the client's turns).
 *
 * With --trace DIR, one more run per tool (not timed, checked like the others)
 * writes into DIR:
 *   s6-fxpmirror-v.log   fxpmirror -v, each line stamped (ms since the start) as the bench read it
 *   s6-lftp-debug.log    lftp `debug -t 5`
 *   s6-<tool>-proxy.log  every control line when the proxy delivered it (ms since the start; PASS masked)
 */
async function scenarioFarClient(ctx: Ctx): Promise<ScenarioResult> {
  const rtt = ctx.args.rtt;
  const dirs = Math.max(2, Math.round(20 * ctx.args.scale));
  const size = 4096;
  const files = makeTree(path.join(ctx.src.root, 's6'), dirs, 50, size, ctx.owner);
  const name = `initial sync ${fmtInt(files)} × 4 KiB, client RTT ${rtt} ms, -P4 (files/s)`;
  say(`6: ${name}`);
  const proxies: DelayProxy[] = [];
  try {
    for (const s of [ctx.src, ctx.dst]) {
      proxies.push(await startDelayProxy({ listenHost: s.host, listenPort: s.port + FAR_PORT_OFFSET, targetHost: s.host, targetPort: s.port, rttMs: rtt }));
    }
    // Generous, so that a slow tool is measured, not killed: 40 round trips per file at -P4, plus start-up.
    const timeoutSec = 120 + Math.ceil((files * rtt * 40) / 4 / 1000);
    const base = { tree: 's6', files, size, src: proxies[0], dst: proxies[1], timeoutSec };
    // At most 3: a run here takes about 30 s, and round trips, not CPU, set its pace.
    const runs = await repeat(ctx, 's6', Math.min(ctx.args.reps, 3), async (tool, rep) => {
      for (const p of proxies) p.reset();
      const r = await initialSyncOnce(ctx, tool, { ...base, rel: `/s6-${tool}-${rep}` });
      const extra = proxyFigures(proxies, files);
      say(`s6 ${tool} rep ${rep + 1}: ${fmt(extra.roundTripsPerFile)} control round trips per file, ${extra.controlConnections} control connections`);
      return { ...r, extra };
    });
    if (ctx.args.trace) await traceFarClient(ctx, proxies, base, ctx.args.trace);

    const goal = '—';
    const fx = best(runs.fxpmirror);
    const lf = best(runs.lftp);
    const json = { files, dirs, fileBytes: size, rttMs: rtt, runs: { fxpmirror: runs.fxpmirror.map(summarize), lftp: runs.lftp.map(summarize) } };
    if (!fx || !lf) return { rows: [failRow('6', name, runs, goal)], json };
    const fxRate = files / (fx.wallMs / 1000);
    const lfRate = files / (lf.wallMs / 1000);
    const ratio = fxRate / lfRate;
    const fxTrips = fx.extra?.roundTripsPerFile ?? NaN;
    const lfTrips = lf.extra?.roundTripsPerFile ?? NaN;
    // Wall time in round trips per file per connection pair: what the round trips really cost, overlap included.
    const slotTrips = (r: Run) => (r.wallMs * 4) / (files * rtt);
    return {
      rows: [
        { id: '6', scenario: name, fxpmirror: fmtInt(fxRate), lftp: fmtInt(lfRate), ratio: `${fmt(ratio)}×`, goal, result: 'INFO' },
        {
          id: '6b',
          scenario: `RTT ${rtt} ms: client waits per file, summed over connections`,
          fxpmirror: fmt(fxTrips, 1),
          lftp: fmt(lfTrips, 1),
          ratio: `${fmt(fxTrips / lfTrips)}×`,
          goal: '—',
          result: 'INFO',
        },
        ...(rtt > 0
          ? [
              {
                id: '6c',
                scenario: `RTT ${rtt} ms: wall time per file per connection pair, in RTTs`,
                fxpmirror: fmt(slotTrips(fx), 1),
                lftp: fmt(slotTrips(lf), 1),
                ratio: `${fmt(slotTrips(fx) / slotTrips(lf))}×`,
                goal: '—',
                result: 'INFO' as Verdict,
              },
            ]
          : []),
      ],
      json: {
        ...json,
        filesPerSecond: { fxpmirror: fxRate, lftp: lfRate },
        ratio,
        roundTripsPerFile: { fxpmirror: fxTrips, lftp: lfTrips },
        wallInRoundTripsPerFilePerPair: rtt > 0 ? { fxpmirror: slotTrips(fx), lftp: slotTrips(lf) } : undefined,
      },
    };
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
  }
}

/** Scenario 6's --trace runs: see scenarioFarClient. */
async function traceFarClient(ctx: Ctx, proxies: DelayProxy[], base: Omit<InitialSyncRun, 'rel'>, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const lftpLog = path.join(dir, 's6-lftp-debug.log');
  for (const tool of TOOLS) {
    const t0 = performance.now();
    const stamp = (ms: number) => (ms - t0).toFixed(1).padStart(9);
    // Lines can straddle chunks: keep the unfinished tail per connection and direction.
    const partial = new Map<string, string>();
    const proxyLines: string[] = [];
    proxies.forEach((p, i) =>
      p.setTrace((conn, d, ms, data) => {
        const key = `${i ? 'dst' : 'src'}#${conn} ${d}`;
        const parts = ((partial.get(key) ?? '') + data.toString('latin1')).split('\r\n');
        partial.set(key, parts.pop() ?? '');
        for (const line of parts) proxyLines.push(`${stamp(ms)} ${key} ${line.replace(/^PASS .*/i, 'PASS ****')}`);
      }),
    );
    const vLines: string[] = [];
    let vTail = '';
    const onStderr = (text: string) => {
      const now = stamp(performance.now());
      const parts = (vTail + text).split('\n');
      vTail = parts.pop() ?? '';
      for (const line of parts) vLines.push(`${now} ${line}`);
    };
    fs.rmSync(lftpLog, { force: true });
    for (const p of proxies) p.reset();
    const { m, problem } = await initialSyncOnce(ctx, tool, {
      ...base,
      rel: `/s6-trace-${tool}`,
      fxExtra: ['-v'],
      onStderr: tool === 'fxpmirror' ? onStderr : undefined,
      lftpBefore: `debug -t -o ${lftpLog} 5; `,
    });
    for (const p of proxies) p.setTrace(undefined);
    const extra = proxyFigures(proxies, base.files);
    fs.writeFileSync(path.join(dir, `s6-${tool}-proxy.log`), proxyLines.join('\n') + '\n');
    if (tool === 'fxpmirror') fs.writeFileSync(path.join(dir, 's6-fxpmirror-v.log'), vLines.join('\n') + '\n');
    say(`s6 trace ${tool}: ${(m.wallMs / 1000).toFixed(3)} s, ${fmt(extra.roundTripsPerFile)} round trips per file${problem ? `  PROBLEM: ${problem}` : ''}`);
  }
  say(`s6 trace logs in ${dir}`);
}

// ---------------------------------------------------------------------------
// Main

function preflight(args: Args): string[] {
  const problems: string[] = [];
  for (const k of new Set([args.source, args.destination])) {
    const why = labAvailable(k);
    if (why) problems.push(why);
  }
  for (const bin of [LFTP_BIN, TIME_BIN, TIMEOUT_BIN, NFT_BIN]) if (!fs.existsSync(bin)) problems.push(`${bin} missing (run: bash test/lab/install.sh)`);
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

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const problems = preflight(args);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    return 2;
  }
  const started = new Date();
  const load0 = os.loadavg();
  say(`scale ${args.scale}, best of ${args.reps}, ${args.source} -> ${args.destination}, ${os.cpus().length} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const servers: LabServer[] = [];
  let counter: TrafficCounter | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await counter?.close();
    await stopAll();
    for (const s of servers) {
      // Big files and 200,000-entry trees: never leave them behind.
      fs.rmSync(args.keepLogs ? s.root : path.dirname(s.root), { recursive: true, force: true });
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    say(`${sig}: stopping servers and removing data`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  const scenarios: Record<string, object> = {};
  try {
    const src = await startServer(args.source, { address: SRC_ADDR, port: 2121 });
    servers.push(src);
    const dst = await startServer(args.destination, { address: DST_ADDR, port: 2122 });
    servers.push(dst);
    counter = await startTrafficCounter(ADDR_FIRST, ADDR_LAST);
    const idleProcs = labProcessTree(src.pid).length + labProcessTree(dst.pid).length;
    const ctx: Ctx = { args, src, dst, owner: lookupOwner(LAB_USER), counter, idleProcs };
    const table: [number, string, (c: Ctx) => Promise<ScenarioResult>][] = [
      [1, 'initial', scenarioInitial],
      [2, 'noop', scenarioNoop],
      [3, 'large', scenarioLarge],
      [4, 'single', scenarioSingle],
      [5, 'memory', scenarioMemory],
      [6, 'farClient', scenarioFarClient],
    ];
    for (const [n, key, fn] of table) {
      if (!args.only.has(n)) continue;
      const r = await fn(ctx);
      rows.push(...r.rows);
      scenarios[key] = r.json;
      // Free the disk as soon as a scenario's data is no longer needed.
      if (n === 4 || (n === 3 && !args.only.has(4))) fs.rmSync(path.join(src.root, 'big'), { recursive: true, force: true });
    }
  } finally {
    await cleanup();
  }

  process.stdout.write(
    `\nfxpmirror vs lftp ${version(LFTP_BIN, ['--version']).replace(/^LFTP \| Version (\S+).*$/, '$1')}, FXP ${args.source} -> ${args.destination}, ` +
      `scale ${args.scale}${args.scale !== 1 ? ' (NOT the full sizes)' : ''}, best of ${args.reps}, ${os.cpus().length} CPUs, ` +
      `load ${load0.map((l) => l.toFixed(2)).join(' ')}\n\n`,
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
      rttMs: args.only.has(6) ? args.rtt : undefined,
      source: args.source,
      destination: args.destination,
      machine: { cpus: os.cpus().length, loadavgAtStart: load0, loadavgAtEnd: os.loadavg(), node: process.version, lftp: version(LFTP_BIN, ['--version']) },
      method: {
        wall: 'performance.now() around the spawned process (includes process start-up)',
        cpuAndRss: 'GNU time %U+%S and %M (rusage of the tool process)',
        clientBytes: `nftables counters: TCP bytes between ${ADDR_FIRST}-${ADDR_LAST} and any other address, IP headers included`,
        best: 'fastest correct run of the repetitions',
        serversCpu: `utime+stime+cutime+cstime of every process of both servers (/proc/<pid>/stat), before and after each run, read once their sessions have exited; each run starts after the servers are idle plus ${QUIET_MS} ms`,
        farClient: `scenario 6: every control connection through a user-space delay proxy (test/bench/delay.ts) adding ${args.rtt} ms round-trip time; FXP data and the tools' listing data connections direct; round trips = client turns counted by the proxies`,
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
