/**
 * 5. Planning a huge tree: `mirror --dry-run` onto an empty destination, at
 * two sizes (the larger, and a tenth of it), one run each. Peak RSS shows
 * whether memory is bounded by the largest directory or grows with the tree;
 * wall time per entry at both sizes (each tool's start-up taken out, see
 * startupS) shows whether the time is linear.
 *
 * The goal (issue 12) is set at 2,000,000 entries (the size of the largest
 * public mirrors): `--entries 2000000`. At the default size the rows are
 * information only. lftp runs only up to LFTP_MAX_ENTRIES: it took 127 s for
 * 200,200 entries, and grows faster than linearly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree } from './fixtures.js';
import { startupS, type ScenarioResult } from './loopback.js';
import { best, failure, firstProblem, repeat, runFx, runLftp, summarizeAll, url, type Ctx, type Run, type Tool } from './runner.js';
import { fmt, fmtInt, fmtRatio, say, verdict, type Row, type Verdict } from './table.js';

const PER_DIR = 1000;
const GOAL_ENTRIES = 2_000_000;
const GOAL_MB = 200;
/** Wall time per entry at the larger size at most this many times that at the smaller: "linear". */
const LINEAR_TOLERANCE = 1.25;
const LFTP_MAX_ENTRIES = 200_200;

interface Size {
  tree: string;
  dirs: number;
  entries: number;
  runs: Record<Tool, Run[]>;
}

async function planRuns(ctx: Ctx, tree: string, dirs: number): Promise<Size> {
  const entries = dirs * (PER_DIR + 1);
  say(`5: creating ${fmtInt(dirs * PER_DIR)} empty files in ${dirs} directories`);
  // Root-owned and world-readable: listing needs nothing more, and dry-run writes nothing.
  makeTree(path.join(ctx.src.root, tree), dirs, PER_DIR, 0, null);
  say(`5: dry-run plan of ${fmtInt(entries)} entries`);
  const timeoutSec = 300 + Math.ceil(entries / 2000);
  const tools: Tool[] = entries <= LFTP_MAX_ENTRIES ? ['fxpmirror', 'lftp'] : ['fxpmirror'];
  const runs = await repeat(
    ctx,
    `s5 ${fmtInt(entries)}`,
    1,
    async (tool) => {
      const o = { timeoutSec, discardStdout: true };
      const m =
        tool === 'fxpmirror'
          ? await runFx(ctx, ['mirror', '--dry-run', '-q', url(ctx.src, `/${tree}/`), url(ctx.dst, `/${tree}/`)], o)
          : await runLftp(ctx, `mirror --dry-run -P4 ${url(ctx.src, `/${tree}`)} ${url(ctx.dst, `/${tree}`)}`, o);
      let problem = failure(m);
      if (!problem && fs.existsSync(path.join(ctx.dst.root, tree))) problem = 'dry-run created the destination';
      return { m, problem };
    },
    tools,
  );
  fs.rmSync(path.join(ctx.src.root, tree), { recursive: true, force: true });
  return { tree, dirs, entries, runs };
}

const mb = (r: Run | undefined) => (r ? (r.rssKiB * 1024) / 1e6 : NaN);

function cell(s: Size, tool: Tool, show: (r: Run) => string): string {
  const r = best(s.runs[tool]);
  if (r) return show(r);
  return s.runs[tool].length ? `FAIL: ${firstProblem(s.runs[tool])}`.slice(0, 40) : 'not run';
}

export async function scenarioMemory(ctx: Ctx): Promise<ScenarioResult> {
  // At least --entries: 2,000,000 must reach the goal's size, not stop 2 entries short of it.
  const dirs = Math.max(1, ctx.args.entries ? Math.ceil(ctx.args.entries / (PER_DIR + 1)) : Math.round(200 * ctx.args.scale));
  const small = await planRuns(ctx, 's5small', Math.max(1, Math.round(dirs / 10)));
  const large = await planRuns(ctx, 's5', dirs);
  const json = {
    perDir: PER_DIR,
    sizes: [small, large].map((s) => ({ entries: s.entries, dirs: s.dirs, runs: summarizeAll(s.runs) })),
  };
  const startup = await startupS(ctx);
  const usPerEntry = (r: Run | undefined, entries: number) => (r ? ((r.wallMs / 1000 - startup[r.tool]) * 1e6) / entries : NaN);
  const fxL = best(large.runs.fxpmirror);
  const fxS = best(small.runs.fxpmirror);
  const atGoalSize = large.entries >= GOAL_ENTRIES;
  const rssGoal = `≤ ${GOAL_MB} MB at ${fmtInt(GOAL_ENTRIES)}`;
  const rssResult: Verdict = !fxL ? 'FAIL' : atGoalSize ? verdict(mb(fxL) <= GOAL_MB) : 'INFO';
  // Client CPU does not depend on how busy the machine is, as wall time does: the same question, less noise.
  const cpuPerEntry = (r: Run | undefined, entries: number) => (r ? r.cpuS / entries : NaN);
  const cpuGrowth = (t: Tool) => cpuPerEntry(best(large.runs[t]), large.entries) / cpuPerEntry(best(small.runs[t]), small.entries);
  const growth = (t: Tool) => usPerEntry(best(large.runs[t]), large.entries) / usPerEntry(best(small.runs[t]), small.entries);
  const rows: Row[] = [
    {
      id: '5',
      scenario: `dry-run plan of ${fmtInt(large.entries)} entries: peak RSS (MB)`,
      fxpmirror: cell(large, 'fxpmirror', (r) => fmt(mb(r), 0)),
      lftp: cell(large, 'lftp', (r) => fmt(mb(r), 0)),
      ratio: fmtRatio(mb(fxL) / mb(best(large.runs.lftp))),
      goal: rssGoal,
      result: rssResult,
    },
    {
      id: '5b',
      scenario: `dry-run plan of ${fmtInt(large.entries)} entries: wall s (µs per entry without start-up)`,
      fxpmirror: cell(large, 'fxpmirror', (r) => `${fmt(r.wallMs / 1000)} (${fmt(usPerEntry(r, large.entries), 1)})`),
      lftp: cell(large, 'lftp', (r) => `${fmt(r.wallMs / 1000)} (${fmt(usPerEntry(r, large.entries), 1)})`),
      ratio: fmtRatio(usPerEntry(fxL, large.entries) / usPerEntry(best(large.runs.lftp), large.entries)),
      goal: '—',
      result: fxL ? 'INFO' : 'FAIL',
    },
    {
      id: '5c',
      scenario: `dry-run plan of ${fmtInt(small.entries)} entries: peak RSS (MB)`,
      fxpmirror: cell(small, 'fxpmirror', (r) => fmt(mb(r), 0)),
      lftp: cell(small, 'lftp', (r) => fmt(mb(r), 0)),
      ratio: fmtRatio(mb(fxS) / mb(best(small.runs.lftp))),
      goal: '—',
      result: fxS ? 'INFO' : 'FAIL',
    },
    {
      id: '5d',
      scenario: `dry-run plan of ${fmtInt(small.entries)} entries: wall s (µs per entry without start-up)`,
      fxpmirror: cell(small, 'fxpmirror', (r) => `${fmt(r.wallMs / 1000)} (${fmt(usPerEntry(r, small.entries), 1)})`),
      lftp: cell(small, 'lftp', (r) => `${fmt(r.wallMs / 1000)} (${fmt(usPerEntry(r, small.entries), 1)})`),
      ratio: fmtRatio(usPerEntry(fxS, small.entries) / usPerEntry(best(small.runs.lftp), small.entries)),
      goal: '—',
      result: fxS ? 'INFO' : 'FAIL',
    },
    {
      id: '5e',
      scenario: `µs per entry at ${fmtInt(large.entries)} ÷ at ${fmtInt(small.entries)} (1.00 = linear)`,
      fxpmirror: fmt(growth('fxpmirror')),
      lftp: fmt(growth('lftp')),
      ratio: '—',
      goal: `≤ ${fmt(LINEAR_TOLERANCE)}`,
      result: fxL && fxS ? verdict(growth('fxpmirror') <= LINEAR_TOLERANCE) : 'FAIL',
    },
    {
      id: '5f',
      scenario: `client CPU per entry at ${fmtInt(large.entries)} ÷ at ${fmtInt(small.entries)}`,
      fxpmirror: fmt(cpuGrowth('fxpmirror')),
      lftp: fmt(cpuGrowth('lftp')),
      ratio: '—',
      goal: '—',
      result: 'INFO',
    },
  ];
  return {
    rows,
    json: { ...json, startupS: startup, peakRssMB: { fxpmirror: mb(fxL), lftp: mb(best(large.runs.lftp)) }, perEntryGrowth: { fxpmirror: growth('fxpmirror'), lftp: growth('lftp') }, cpuPerEntryGrowth: { fxpmirror: cpuGrowth('fxpmirror'), lftp: cpuGrowth('lftp') } },
  };
}
