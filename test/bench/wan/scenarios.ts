/**
 * The WAN set's scenarios on one pair of servers (set.ts runs them for each
 * pair): initial sync of small files at -P4 and -P8 with the client waits
 * counted from the link's trace, a no-op re-sync, and two big files against
 * the link rate. Goals are issue 12's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labStateDir, type LabServer } from '../../lab/lab.js';
import type { Args } from '../args.js';
import { makeBigFiles, makeTree, type Owner } from '../fixtures.js';
import type { ScenarioResult } from '../loopback.js';
import { best, failRow, flushDisk, repeat, summarizeAll, type Ctx, type Run, type Tool } from '../runner.js';
import { fmt, fmtBytes, fmtInt, fmtRatio, MiB, say, verdict, type Row } from '../table.js';
import { noopOnce, syncOnce, type SyncRun } from '../work.js';
import type { Wan } from './net.js';
import { countWaits } from './waits.js';

export interface PairCtx extends Ctx {
  wan: Wan;
  /** Row id prefix: a, b, c... */
  letter: string;
  /** "proftpd → pure-ftpd" */
  label: string;
}

export const SMALL_SIZE = 4096;
const GOAL_FILES_RATIO = 2.0;
const GOAL_NOOP_RATIO = 0.3;
const GOAL_LINK_SHARE = 0.9;
const GOAL_WAITS = 2;

/** Sizes of the set at the bench's scale (1: issue 12's; --quick: a tenth). */
export function wanSizes(args: Args) {
  const s = args.scale;
  return {
    small: { dirs: Math.max(1, Math.round(10 * s)), perDir: 30 },
    noop: { dirs: Math.max(1, Math.round(30 * s)), perDir: 100 },
    big: { count: 2, bytes: Math.max(1, Math.round(256 * s)) * MiB },
  };
}

function ensureTree(server: LabServer, tree: string, dirs: number, perDir: number, size: number, owner: Owner): number {
  const base = path.join(server.root, tree);
  if (fs.existsSync(base)) return dirs * perDir;
  const n = makeTree(base, dirs, perDir, size, owner);
  flushDisk();
  return n;
}

/** Rounds of client round trip a run's wall time makes, per file and connection pair. */
function rttsPerFile(r: Run, files: number, parallel: number, rttMs: number): number {
  return rttMs > 0 ? (r.wallMs * parallel) / (files * rttMs) : NaN;
}

function traceFile(ctx: PairCtx, name: string): string {
  if (ctx.args.trace) return path.join(ctx.args.trace, `${name}.trace`);
  return path.join(labStateDir(), 'wan', `trace-${process.pid}.txt`);
}

/** One traced sync: wanlink writes the control connections' trace, countWaits() reads it. */
async function tracedSync(ctx: PairCtx, tool: Tool, o: SyncRun, file: string) {
  await ctx.wan.trace(file);
  let r;
  try {
    r = await syncOnce(ctx, tool, o);
  } finally {
    await ctx.wan.trace(undefined);
  }
  const w = countWaits(fs.readFileSync(file, 'latin1'));
  if (!ctx.args.trace) fs.rmSync(file, { force: true });
  if (!r.problem && w.filesRetrieved !== o.files) say(`${ctx.label} ${tool}: the trace shows RETR for ${w.filesRetrieved} of ${o.files} files: waits not counted`);
  const counted = w.filesRetrieved === o.files;
  const extra = {
    waitsPerFile: counted ? w.fileWaits / o.files : NaN,
    waitsPerFileUnmerged: counted ? w.fileWaitsUnmerged / o.files : NaN,
    otherWaitsPerFile: counted ? w.otherWaits / o.files : NaN,
    controlConnections: w.connections,
  };
  return { ...r, extra };
}

/** --trace: one more run per tool, not timed, with the tool's own timestamped trace beside the link's. */
async function toolTraces(ctx: PairCtx, base: Omit<SyncRun, 'rel'>, slug: string): Promise<void> {
  const dir = ctx.args.trace as string;
  fs.mkdirSync(dir, { recursive: true });
  const usNow = () => Number(process.hrtime.bigint() / 1000n); // CLOCK_MONOTONIC, as wanlink's trace
  for (const tool of ['fxpmirror', 'lftp'] as Tool[]) {
    const lines: string[] = [];
    let tail = '';
    const lftpLog = path.join(dir, `${slug}-lftp-debug.log`);
    const r = await tracedSync(
      ctx,
      tool,
      {
        ...base,
        rel: `/wt-${tool}`,
        fxExtra: ['-v'],
        onStderr: (text) => {
          const now = usNow();
          const parts = (tail + text).split('\n');
          tail = parts.pop() ?? '';
          for (const l of parts) lines.push(`${now} ${l}`);
        },
        lftpBefore: `debug -t -o ${lftpLog} 5; `,
      },
      path.join(dir, `${slug}-${tool}-link.trace`),
    );
    if (tool === 'fxpmirror') fs.writeFileSync(path.join(dir, `${slug}-fxpmirror-v.log`), lines.join('\n') + '\n');
    say(`${ctx.label} trace run ${tool}: ${fmt(r.m.wallMs / 1000, 3)} s, ${fmt(r.extra.waitsPerFile)} waits per file${r.problem ? `  PROBLEM: ${r.problem}` : ''}`);
  }
}

function slugOf(ctx: PairCtx): string {
  return `${ctx.src.kind}-to-${ctx.dst.kind}`;
}

/** Initial sync of the small-file tree at -P`parallel`; the -P4 run also gives the waits rows. */
async function initialSync(ctx: PairCtx, parallel: number): Promise<{ rows: Row[]; json: object; rate?: Record<Tool, number> }> {
  const { dirs, perDir } = wanSizes(ctx.args).small;
  const files = ensureTree(ctx.src, 'w1', dirs, perDir, SMALL_SIZE, ctx.owner);
  const rtt = ctx.args.wan.rttMs;
  const timeoutSec = 60 + Math.ceil((files * rtt * 20) / parallel / 1000);
  const id = `${ctx.letter}${parallel === 4 ? 1 : 2}`;
  const name = `${ctx.label}: initial sync ${fmtInt(files)} × 4 KiB, ${dirs} dirs, -P${parallel} (files/s)`;
  say(`WAN ${id}: ${name}`);
  const slug = `${slugOf(ctx)}-P${parallel}`;
  const base = { tree: 'w1', files, size: SMALL_SIZE, parallel, timeoutSec };
  const runs = await repeat(ctx, `wan ${id}`, Math.min(ctx.args.reps, 3), (tool, rep) =>
    tracedSync(ctx, tool, { ...base, rel: `/w1-${tool}-${rep}` }, traceFile(ctx, `${slug}-${tool}-${rep}`)),
  );
  if (ctx.args.trace && parallel === 4) await toolTraces(ctx, base, slug);
  const goal = parallel === 4 ? `≥ ${fmt(GOAL_FILES_RATIO, 1)}×` : '—';
  const json = { files, dirs, parallel, runs: summarizeAll(runs) };
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  if (!fx || !lf) return { rows: [failRow(id, name, runs, goal)], json };
  const rate = { fxpmirror: files / (fx.wallMs / 1000), lftp: files / (lf.wallMs / 1000) };
  const ratio = rate.fxpmirror / rate.lftp;
  const rows: Row[] = [
    {
      id,
      scenario: name,
      fxpmirror: fmtInt(rate.fxpmirror),
      lftp: fmtInt(rate.lftp),
      ratio: fmtRatio(ratio),
      goal,
      result: parallel === 4 ? verdict(ratio >= GOAL_FILES_RATIO) : 'INFO',
    },
  ];
  const w = (r: Run, k: string) => r.extra?.[k] ?? NaN;
  if (parallel === 4) {
    const fxW = w(fx, 'waitsPerFile');
    rows.push(
      {
        id: `${id}b`,
        scenario: `${ctx.label}: client waits per file per connection pair`,
        fxpmirror: fmt(fxW),
        lftp: fmt(w(lf, 'waitsPerFile')),
        ratio: fmtRatio(fxW / w(lf, 'waitsPerFile')),
        goal: `≤ ${GOAL_WAITS}`,
        result: Number.isFinite(fxW) ? verdict(fxW <= GOAL_WAITS) : 'FAIL',
      },
      {
        id: `${id}c`,
        scenario: `${ctx.label}: other waits per file (greetings, logins, listings)`,
        fxpmirror: fmt(w(fx, 'otherWaitsPerFile')),
        lftp: fmt(w(lf, 'otherWaitsPerFile')),
        ratio: fmtRatio(w(fx, 'otherWaitsPerFile') / w(lf, 'otherWaitsPerFile')),
        goal: '—',
        result: 'INFO',
      },
      {
        id: `${id}d`,
        scenario: `${ctx.label}: wall time per file per pair, in client RTTs`,
        fxpmirror: fmt(rttsPerFile(fx, files, parallel, rtt)),
        lftp: fmt(rttsPerFile(lf, files, parallel, rtt)),
        ratio: fmtRatio(rttsPerFile(fx, files, parallel, rtt) / rttsPerFile(lf, files, parallel, rtt)),
        goal: '—',
        result: 'INFO',
      },
    );
  }
  return { rows, json: { ...json, filesPerSecond: rate, ratio }, rate };
}

/** No-op re-sync: the same tree written on both servers' disks. */
async function noop(ctx: PairCtx): Promise<ScenarioResult> {
  const { dirs, perDir } = wanSizes(ctx.args).noop;
  const files = ensureTree(ctx.src, 'w3', dirs, perDir, 100, ctx.owner);
  ensureTree(ctx.dst, 'w3', dirs, perDir, 100, ctx.owner);
  const timeoutSec = 60 + Math.ceil((files * ctx.args.wan.rttMs * 4) / 4 / 1000);
  const id = `${ctx.letter}3`;
  const name = `${ctx.label}: no-op re-sync of ${fmtInt(files)} files, ${dirs} dirs, -P4 (wall s)`;
  say(`WAN ${id}: ${name}`);
  const runs = await repeat(ctx, `wan ${id}`, Math.min(ctx.args.reps, 3), (tool) => noopOnce(ctx, tool, 'w3', 4, timeoutSec));
  const goal = `≤ ${fmt(GOAL_NOOP_RATIO, 1)}×`;
  const json = { files, dirs, runs: summarizeAll(runs) };
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  if (!fx || !lf) return { rows: [failRow(id, name, runs, goal)], json };
  const ratio = fx.wallMs / lf.wallMs;
  return {
    rows: [{ id, scenario: name, fxpmirror: fmt(fx.wallMs / 1000), lftp: fmt(lf.wallMs / 1000), ratio: fmtRatio(ratio), goal, result: verdict(ratio <= GOAL_NOOP_RATIO) }],
    json: { ...json, wallSeconds: { fxpmirror: fx.wallMs / 1000, lftp: lf.wallMs / 1000 }, ratio },
  };
}

/** Big files at -P4: the share of the server-to-server link rate the file bytes get, and wanlink's CPU meanwhile. */
async function large(ctx: PairCtx): Promise<ScenarioResult> {
  const { count, bytes } = wanSizes(ctx.args).big;
  const dir = path.join(ctx.src.root, 'wbig');
  if (!fs.existsSync(dir)) {
    say(`writing ${count} × ${fmtBytes(bytes)} on ${ctx.src.kind}`);
    makeBigFiles(dir, count, bytes, ctx.owner);
    flushDisk();
  }
  const total = count * bytes;
  const rateBps = ctx.args.wan.rateMbit * 1e6;
  const idealS = (total * 8) / rateBps;
  const id = `${ctx.letter}4`;
  const name = `${ctx.label}: ${count} × ${fmtBytes(bytes)}, -P4: share of the ${fmtInt(ctx.args.wan.rateMbit)} Mbit/s link`;
  say(`WAN ${id}: ${name}`);
  const runs = await repeat(ctx, `wan ${id}`, Math.min(ctx.args.reps, 2), async (tool, rep) => {
    const before = await ctx.wan.counts();
    const timeoutSec = 60 + Math.ceil(idealS * 3);
    // lftp sends STAT on the destination's control connection while an FXP transfer runs (every ftp:stat-interval,
    // first after about 3 s); pure-ftpd answers "500 Unknown command", and lftp then aborts the transfer and ends
    // with "ftp:fxp-force is set but FXP is not available". On loopback no transfer lasts that long.
    const lftpBefore = `set ftp:stat-interval ${timeoutSec}; `;
    const r = await syncOnce(ctx, tool, { tree: 'wbig', rel: `/wbig-${tool}-${rep}`, files: count, size: bytes, parallel: 4, timeoutSec, lftpBefore });
    const after = await ctx.wan.counts();
    const drops = after.reduce((n, c, i) => n + (c.from && c.to ? c.drops - before[i].drops : 0), 0);
    return { ...r, extra: { serverLinkDrops: drops } };
  });
  const goal = `≥ ${fmtInt(GOAL_LINK_SHARE * 100)} %`;
  const json = { files: count, fileBytes: bytes, rateMbit: ctx.args.wan.rateMbit, runs: summarizeAll(runs) };
  const fx = best(runs.fxpmirror);
  const lf = best(runs.lftp);
  if (!fx || !lf) return { rows: [failRow(id, name, runs, goal)], json };
  const share = (r: Run) => (total * 8) / (r.wallMs / 1000) / rateBps;
  const linkCore = (r: Run) => ((r.linkCpuS ?? NaN) / (r.wallMs / 1000)) * 100;
  return {
    rows: [
      {
        id,
        scenario: name,
        fxpmirror: `${fmt(share(fx) * 100, 1)} %`,
        lftp: `${fmt(share(lf) * 100, 1)} %`,
        ratio: fmtRatio(share(fx) / share(lf)),
        goal,
        result: verdict(share(fx) >= GOAL_LINK_SHARE),
      },
      {
        id: `${id}b`,
        scenario: `${ctx.label}: link emulator CPU meanwhile (% of one core)`,
        fxpmirror: `${fmt(linkCore(fx), 0)} %`,
        lftp: `${fmt(linkCore(lf), 0)} %`,
        ratio: '—',
        goal: '—',
        result: 'INFO',
      },
    ],
    json: { ...json, linkShare: { fxpmirror: share(fx), lftp: share(lf) }, linkCpuPercentOfCore: { fxpmirror: linkCore(fx), lftp: linkCore(lf) } },
  };
}

/** Every WAN scenario on one pair, in the order of issue 12's table. */
export async function pairScenarios(ctx: PairCtx): Promise<ScenarioResult> {
  const want = ctx.args.wanScenarios;
  const none: { rows: Row[]; json: object; rate?: Record<Tool, number> } = { rows: [], json: {} };
  const p4 = want.has(1) ? await initialSync(ctx, 4) : none;
  const p8 = want.has(2) ? await initialSync(ctx, 8) : none;
  const rows = [...p4.rows, ...p8.rows];
  if (p4.rate && p8.rate) {
    const scale = (t: Tool) => (p8.rate as Record<Tool, number>)[t] / (p4.rate as Record<Tool, number>)[t];
    rows.push({
      id: `${ctx.letter}2b`,
      scenario: `${ctx.label}: files/s at -P8 ÷ at -P4`,
      fxpmirror: fmt(scale('fxpmirror')),
      lftp: fmt(scale('lftp')),
      ratio: '—',
      goal: '—',
      result: 'INFO',
    });
  }
  const n = want.has(3) ? await noop(ctx) : none;
  const l = want.has(4) ? await large(ctx) : none;
  return { rows: [...rows, ...n.rows, ...l.rows], json: { initialP4: p4.json, initialP8: p8.json, noop: n.json, large: l.json } };
}
