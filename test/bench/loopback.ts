/**
 * Loopback scenarios 1-4: both servers and the client on one machine, where
 * a round trip costs nothing and the client shares two cores with both
 * servers. They measure CPU efficiency (files/s, client CPU, throughput, the
 * bytes that pass the client), not the network: that is the WAN set's job.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBigFiles, makeTree } from './fixtures.js';
import { measure } from './measure.js';
import { best, failRow, failure, firstProblem, FLOORS, flushDisk, LFTP_BIN, repeat, runFx, runLftp, summarize, summarizeAll, TOOLS, url, type Ctx, type Floor, type Run, type Tool } from './runner.js';
import { fmt, fmtBytes, fmtInt, fmtRatio, MiB, say, verdict, type Row } from './table.js';
import { noopOnce, syncOnce } from './work.js';

export interface ScenarioResult {
  rows: Row[];
  json: object;
}

export const CORES = os.cpus().length;

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
  fx: Run<string>,
  lf: Run<string>,
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
      ratio: fmtRatio(fx.serversCpuS / lf.serversCpuS),
      goal: '—',
      result: 'INFO',
    },
    {
      id: `${id}d`,
      scenario: `${what}: ceiling, servers' CPU ÷ ${CORES} cores (${unit})`,
      fxpmirror: show(ceiling),
      lftp: show(lfFigure),
      ratio: fmtRatio(ratio),
      goal,
      result: goalMet(ratio) ? 'INFO' : 'LIMIT',
    },
  ];
}

/**
 * Rows 1e-1g: what the barest Node.js client (floor-client.ts) spends on the
 * same work in the same runs, with lftp's exchanges per file (A) and with
 * fxpmirror's (B), and what `node -e ''` alone spends. They show how much of
 * row 1b's gap to lftp is Node.js itself rather than fxpmirror's code.
 */
async function floorRows(runs: Record<Floor, Run<string>[]>, lf: Run<string> | undefined): Promise<{ rows: Row[]; nodeCpuS: number }> {
  const row = (id: string, f: Floor, what: string): Row => {
    const r = best(runs[f]);
    const scenario = `initial sync: barest Node.js client, ${what}: client CPU s`;
    if (!r) return { id, scenario, fxpmirror: `FAIL: ${firstProblem(runs[f])}`.slice(0, 60), lftp: lf ? fmt(lf.cpuS) : '—', ratio: '—', goal: '—', result: 'FAIL' };
    return { id, scenario, fxpmirror: fmt(r.cpuS), lftp: lf ? fmt(lf.cpuS) : '—', ratio: lf ? fmtRatio(r.cpuS / lf.cpuS) : '—', goal: '—', result: 'INFO' };
  };
  let nodeCpuS = Infinity;
  for (let i = 0; i < 5; i++) {
    const m = await measure({ command: process.execPath, args: ['-e', ''], timeoutSec: 30 });
    if (m.code === 0) nodeCpuS = Math.min(nodeCpuS, m.cpuS);
  }
  const node: Row = { id: '1g', scenario: "initial sync: Node.js start-up (node -e ''), CPU s", fxpmirror: fmt(nodeCpuS), lftp: '—', ratio: '—', goal: '—', result: 'INFO' };
  return { rows: [row('1e', 'floorA', "lftp's exchanges"), row('1f', 'floorB', "fxpmirror's exchanges"), node], nodeCpuS };
}

/** 1. Initial sync of many small files, both at parallel 4, and the floor client alongside. Goals: issue 12's loopback rows. */
export async function scenarioInitial(ctx: Ctx): Promise<ScenarioResult> {
  const dirs = Math.max(2, Math.round(20 * ctx.args.scale));
  const size = 4096;
  const files = makeTree(path.join(ctx.src.root, 's1'), dirs, 50, size, ctx.owner);
  flushDisk();
  const name = `initial sync ${fmtInt(files)} × 4 KiB, ${dirs} dirs, -P4 (files/s)`;
  say(`1: ${name}`);
  // One untimed run of each tool first. fxpmirror writes its V8 code cache
  // for `mirror` on the first run after a build (bin/fxpmirror: about 0.1 s
  // more CPU, once per install, not per run), and the first run of either
  // tool meets cold caches; the timed runs then compare warm tools.
  for (const tool of TOOLS) {
    const w = await syncOnce(ctx, tool, { tree: 's1', rel: `/s1-${tool}-warm`, files, size, parallel: 4, timeoutSec: 300 });
    say(`s1 ${tool} warm-up (untimed): ${(w.m.wallMs / 1000).toFixed(3)} s${w.problem ? `  PROBLEM: ${w.problem}` : ''}`);
  }
  const runs = await repeat<Tool | Floor>(
    ctx,
    's1',
    ctx.args.reps,
    (tool, rep) => syncOnce(ctx, tool, { tree: 's1', rel: `/s1-${tool}-${rep}`, files, size, parallel: 4, timeoutSec: 300 }),
    TOOLS,
    FLOORS,
  );
  const goal = '≥ 1.0×';
  const cpuGoal = '≤ 1.2×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const rate = (r: Run<string> | undefined) => (r ? files / (r.wallMs / 1000) : undefined);
  const floor = await floorRows(runs, lf);
  const json = {
    files,
    dirs,
    fileBytes: size,
    runs: { ...summarizeAll(runs), floorA: runs.floorA.map(summarize), floorB: runs.floorB.map(summarize) },
    floorFilesPerSecond: { floorA: rate(best(runs.floorA)), floorB: rate(best(runs.floorB)) },
    nodeStartupCpuS: floor.nodeCpuS,
  };
  if (!fx || !lf) return { rows: [failRow('1', name, runs, goal), ...floor.rows], json };
  const fxRate = files / (fx.wallMs / 1000);
  const lfRate = files / (lf.wallMs / 1000);
  const ratio = fxRate / lfRate;
  const cpuRatio = fx.cpuS / lf.cpuS;
  return {
    rows: [
      { id: '1', scenario: name, fxpmirror: fmtInt(fxRate), lftp: fmtInt(lfRate), ratio: fmtRatio(ratio), goal, result: verdict(ratio >= 1.0) },
      {
        id: '1b',
        scenario: 'initial sync: client CPU s (best run)',
        fxpmirror: fmt(fx.cpuS),
        lftp: fmt(lf.cpuS),
        ratio: fmtRatio(cpuRatio),
        goal: cpuGoal,
        result: verdict(cpuRatio <= 1.2),
      },
      ...ceilingRows('1', 'initial sync', fx, lf, 'files/s', (w) => files / w, fmtInt, goal, (r) => r >= 1.0),
      ...floor.rows,
    ],
    json: { ...json, filesPerSecond: { fxpmirror: fxRate, lftp: lfRate }, ratio, clientCpuRatio: cpuRatio },
  };
}

/** 2. No-op re-sync: source and destination already identical (same sizes and times, written on disk). */
export async function scenarioNoop(ctx: Ctx): Promise<ScenarioResult> {
  const dirs = Math.max(1, Math.round(100 * ctx.args.scale));
  const files = makeTree(path.join(ctx.src.root, 's2'), dirs, 100, 100, ctx.owner);
  makeTree(path.join(ctx.dst.root, 's2'), dirs, 100, 100, ctx.owner);
  flushDisk();
  const name = `no-op re-sync of ${fmtInt(files)} files, -P4 (wall s)`;
  say(`2: ${name}`);
  const runs = await repeat(ctx, 's2', ctx.args.reps, (tool) => noopOnce(ctx, tool, 's2', 4, 300));
  const goal = '≤ 0.5×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const json = { files, dirs, runs: summarizeAll(runs) };
  if (!fx || !lf) return { rows: [failRow('2', name, runs, goal)], json };
  const ratio = fx.wallMs / lf.wallMs;
  return {
    rows: [
      { id: '2', scenario: name, fxpmirror: fmt(fx.wallMs / 1000, 3), lftp: fmt(lf.wallMs / 1000, 3), ratio: fmtRatio(ratio), goal, result: verdict(ratio <= 0.5) },
      ...ceilingRows('2', 'no-op', fx, lf, 'wall s', (w) => w, (v) => fmt(v, 3), goal, (r) => r <= 0.5),
    ],
    json: { ...json, wallSeconds: { fxpmirror: fx.wallMs / 1000, lftp: lf.wallMs / 1000 }, ratio },
  };
}

/** 3 and 4 share the big source files. */
function ensureBigFiles(ctx: Ctx): { names: string[]; size: number } {
  const size = Math.max(1, Math.round(256 * ctx.args.scale)) * MiB;
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
      ratio: lf.cpuS > 0 ? fmtRatio(fx.cpuS / lf.cpuS) : '—',
      goal: '—',
      result: 'INFO',
    },
    {
      id: `${id}c`,
      scenario: `${what}: bytes through the client`,
      fxpmirror: fmtBytes(fxBytes),
      lftp: fmtBytes(lf.traffic?.client),
      ratio: fxBytes !== undefined && lf.traffic?.client ? fmtRatio(fxBytes / lf.traffic.client) : '—',
      goal: '< 1 MiB',
      result: fxBytes === undefined ? 'FAIL' : verdict(fxBytes < CLIENT_BYTES_GOAL),
    },
  ];
}

/**
 * Each tool's start-up: the fastest of 5 `--version` runs, timed like every
 * other run. On loopback a 1 GiB mirror lasts about half a second, so a
 * Node.js process start (~0.09 s here, against lftp's ~0.005 s) is a fifth of
 * it; rows 3d and 4d take it out to compare the transfers themselves, and
 * scenario 5 to compare the time per entry at two sizes.
 */
let startupCache: Record<Tool, number> | undefined;
export async function startupS(ctx: Ctx): Promise<Record<Tool, number>> {
  if (startupCache) return startupCache;
  const out: Record<Tool, number> = { fxpmirror: Infinity, lftp: Infinity };
  for (let i = 0; i < 5; i++) {
    const fx = await runFx(ctx, ['--version'], { timeoutSec: 30 });
    const lf = await measure({ command: LFTP_BIN, args: ['--version'], timeoutSec: 30 });
    if (fx.code === 0) out.fxpmirror = Math.min(out.fxpmirror, fx.wallMs / 1000);
    if (lf.code === 0) out.lftp = Math.min(out.lftp, lf.wallMs / 1000);
  }
  return (startupCache = out);
}

/** Scenarios 3 and 4: MB/s against lftp (goal ≥ 0.95×), CPU and client bytes, and the rates without start-up. */
async function throughputResult(ctx: Ctx, id: string, what: string, name: string, bytes: number, runs: Record<Tool, Run[]>, facts: object): Promise<ScenarioResult> {
  const goal = '≥ 0.95×';
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  const json = { ...facts, runs: summarizeAll(runs) };
  if (!fx || !lf) return { rows: [failRow(id, name, runs, goal)], json };
  const mbps = (r: Run, startup = 0) => bytes / 1e6 / (r.wallMs / 1000 - startup);
  const ratio = mbps(fx) / mbps(lf);
  const st = await startupS(ctx);
  const bare = mbps(fx, st.fxpmirror) / mbps(lf, st.lftp);
  return {
    rows: [
      { id, scenario: name, fxpmirror: fmtInt(mbps(fx)), lftp: fmtInt(mbps(lf)), ratio: fmtRatio(ratio), goal, result: verdict(ratio >= 0.95) },
      ...trafficRows(id, what, fx, lf),
      {
        id: `${id}d`,
        scenario: `${what}: MB/s without start-up (${fmt(st.fxpmirror, 3)} s vs ${fmt(st.lftp, 3)} s)`,
        fxpmirror: fmtInt(mbps(fx, st.fxpmirror)),
        lftp: fmtInt(mbps(lf, st.lftp)),
        ratio: fmtRatio(bare),
        goal: '—',
        result: 'INFO',
      },
    ],
    json: { ...json, megabytesPerSecond: { fxpmirror: mbps(fx), lftp: mbps(lf) }, ratio },
  };
}

/** 3. Four big files by mirror -P4: throughput, client CPU, bytes through the client. */
export async function scenarioLarge(ctx: Ctx): Promise<ScenarioResult> {
  const { names, size } = ensureBigFiles(ctx);
  const name = `large: ${names.length} × ${fmtBytes(size)} mirror -P4 (MB/s)`;
  say(`3: ${name}`);
  const runs = await repeat(ctx, 's3', ctx.args.reps, (tool, rep) =>
    syncOnce(ctx, tool, { tree: 'big', rel: `/s3-${tool}-${rep}`, files: names.length, size, parallel: 4, timeoutSec: 600 }),
  );
  return throughputResult(ctx, '3', 'large', name, names.length * size, runs, { files: names.length, fileBytes: size });
}

/** 4. One big file: `fxpmirror copy` against lftp `get URL -o URL` (FXP). */
export async function scenarioSingle(ctx: Ctx): Promise<ScenarioResult> {
  const { names, size } = ensureBigFiles(ctx);
  const name = `single ${fmtBytes(size)} copy (MB/s)`;
  say(`4: ${name}`);
  const runs = await repeat(ctx, 's4', ctx.args.reps, async (tool, rep) => {
    const rel = `/s4-${tool}-${rep}.bin`;
    const srcUrl = url(ctx.src, `/big/${names[0]}`);
    const m =
      tool === 'fxpmirror'
        ? await runFx(ctx, ['copy', '--fxp', 'force', srcUrl, url(ctx.dst, rel)], { timeoutSec: 300 })
        : await runLftp(ctx, `get ${srcUrl} -o ${url(ctx.dst, rel)}`, { timeoutSec: 300 });
    let problem = failure(m);
    const disk = path.join(ctx.dst.root, rel.slice(1));
    const got = fs.existsSync(disk) ? fs.statSync(disk).size : -1;
    if (!problem && got !== size) problem = `destination size ${got}, expected ${size}`;
    if (!problem && m.traffic && m.traffic.serverToServer < size) problem = `only ${fmtBytes(m.traffic.serverToServer)} went server to server: not FXP`;
    fs.rmSync(disk, { force: true });
    return { m, problem };
  });
  return throughputResult(ctx, '4', 'single', name, size, runs, { fileBytes: size });
}
