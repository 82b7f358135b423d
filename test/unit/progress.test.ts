/**
 * The progress display without a terminal: the figures (totals known so far,
 * percent, rate, ETA, the running transfers' bytes as the engine reports
 * them), the lines they make, the status block that log lines are printed
 * above, and cutting to the terminal's width. The same display in a real
 * pseudo-terminal: test/integration/progress.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressModel, renderInterrupted, renderProgress, renderStats, renderStatus } from '../../src/cli/progress.js';
import { Screen, fitTail, fitWidth, textWidth } from '../../src/cli/screen.js';
import { mirrorEvents } from '../../src/cli/report.js';
import type { LogEvent, Logger } from '../../src/cli/log.js';
import type { PlanAction } from '../../src/tree/plan.js';
import { replay } from '../lab/vt.js';

const KiB = 1024;

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A model on a test clock whose walk is over, having found files of these sizes (KiB). */
function walked(sizesKiB: number[]): { c: ReturnType<typeof clock>; m: ProgressModel } {
  const c = clock();
  const m = new ProgressModel(1, c.now);
  for (const size of sizesKiB) m.planned(size * KiB);
  m.walkDone();
  return { c, m };
}

test('while the walk runs, totals are marked "+" and no percent or ETA is claimed', () => {
  const c = clock();
  const m = new ProgressModel(1, c.now);
  for (let i = 0; i < 4; i++) m.planned(100 * KiB);
  const id = m.start('a/one.bin', 100 * KiB);
  c.advance(2000);
  m.finish(id, 100 * KiB, true);
  const f = m.figures();
  assert.equal(f.complete, false);
  assert.equal(f.percent, undefined);
  assert.equal(f.etaMs, undefined);
  assert.equal(renderProgress(f), '1/4+ files  100.0 KiB/400.0 KiB+  --%  50.0 KiB/s  ETA --');
});

test('once walked: percent of the bytes, rate over the last seconds, ETA, and the running transfers', () => {
  const c = clock();
  const m = new ProgressModel(1, c.now);
  for (const size of [300, 100, 100, 500]) m.planned(size * KiB);
  m.walkDone();
  const a = m.start('big/a.iso', 300 * KiB);
  c.advance(3000);
  m.finish(a, 300 * KiB, true);
  const b = m.start('b.bin', 100 * KiB);
  const d = m.start('dir/日本語.txt', 500 * KiB);
  c.advance(1000);
  const f = m.figures();
  assert.equal(f.complete, true);
  assert.equal(f.percent, 30);
  assert.equal(Math.round(f.rate!), 75 * KiB); // 300 KiB in 4 s
  assert.equal(Math.round(f.etaMs!), 9333); // 700 KiB left at 75 KiB/s
  assert.equal(renderProgress(f), '1/4 files  300.0 KiB/1000.0 KiB  30%  75.0 KiB/s  ETA 0:09');
  // Before their first reading, running transfers show their size and age.
  assert.deepEqual(renderStatus(f, 77, 8, c.now()), [
    '1/4 files  300.0 KiB/1000.0 KiB  30%  75.0 KiB/s  ETA 0:09',
    '                    100.0 KiB            1s  b.bin',
    '                    500.0 KiB            1s  dir/日本語.txt',
  ]);
  assert.equal(renderStats(f, c.now()), '1/4 files  300.0 KiB/1000.0 KiB  30%  75.0 KiB/s  ETA 0:09  | b.bin 100.0 KiB 1s, dir/日本語.txt 500.0 KiB 1s');
  // A failed file counts as dealt with for percent and ETA, and is shown.
  m.finish(b, 0, false);
  m.finish(d, 500 * KiB, true);
  const g = m.figures();
  assert.equal(g.percent, 90);
  assert.match(renderProgress(g), /^2\/4 files {2}800\.0 KiB\/1000\.0 KiB {2}90% {2}.* {2}1 failed$/);
  assert.match(renderInterrupted(g), /^2 of 4 files transferred \(800\.0 KiB\) in \d+\.\d s, 0 running, 1 failed$/);
});

test('a running transfer\'s readings move the bytes, percent, rate and ETA, and its own line shows bytes, percent and rate', () => {
  const { c, m } = walked([1000, 1000]);
  const big = m.start('iso/big.iso', 1000 * KiB);
  c.advance(1000);
  m.advance(big, 0); // the attempt starts: no rate yet
  assert.equal(m.figures().running[0].rate, undefined);
  for (let i = 1; i <= 4; i++) {
    c.advance(1000);
    m.advance(big, i * 100 * KiB, 100 * KiB);
  }
  const f = m.figures();
  assert.deepEqual(f.bytes, { done: 400 * KiB, total: 2000 * KiB, inFlight: 400 * KiB });
  assert.equal(f.percent, 20);
  assert.equal(Math.round(f.rate!), 80 * KiB); // 400 KiB in the 5 s since the start
  assert.equal(Math.round(f.etaMs!), 20_000); // 1600 KiB left at 80 KiB/s
  assert.equal(renderProgress(f), '0/2 files  400.0 KiB/2.0 MiB  20%  80.0 KiB/s  ETA 0:20');
  assert.deepEqual(renderStatus(f, 77, 8, c.now()), [
    '0/2 files  400.0 KiB/2.0 MiB  20%  80.0 KiB/s  ETA 0:20',
    '   40%   400.0 KiB/1000.0 KiB   100.0 KiB/s  iso/big.iso',
  ]);
  assert.equal(renderStats(f, c.now()), '0/2 files  400.0 KiB/2.0 MiB  20%  80.0 KiB/s  ETA 0:20  | iso/big.iso 400.0 KiB/1000.0 KiB 40% 100.0 KiB/s');
  // Its end adds only what the last reading had not seen: never counted twice.
  c.advance(1000);
  m.finish(big, 1000 * KiB, true);
  const g = m.figures();
  assert.deepEqual(g.bytes, { done: 1000 * KiB, total: 2000 * KiB, inFlight: 0 });
  assert.equal(g.percent, 50);
  assert.equal(Math.round(g.rate!), Math.round((1000 * KiB) / 6)); // 1000 KiB in 6 s
});

test('a transfer that fails or starts again takes its bytes back out of the figures; the rate keeps what moved', () => {
  const { c, m } = walked([1000, 1000]);
  const a = m.start('a.bin', 1000 * KiB);
  const b = m.start('b.bin', 1000 * KiB);
  c.advance(2000);
  m.advance(a, 600 * KiB, 300 * KiB);
  m.advance(b, 200 * KiB, 100 * KiB);
  assert.equal(m.figures().bytes.done, 800 * KiB);
  assert.equal(m.figures().percent, 40);
  // a's attempt failed and its retry starts from the beginning (the engine reports bytes 0, no rate).
  m.advance(a, 0);
  let f = m.figures();
  assert.equal(f.bytes.done, 200 * KiB);
  assert.equal(f.percent, 10);
  assert.equal(f.running[0].rate, undefined);
  assert.equal(Math.round(f.rate!), 400 * KiB, 'the 800 KiB that moved still count for the rate (2 s)');
  c.advance(1000);
  m.advance(a, 100 * KiB, 100 * KiB);
  assert.equal(m.figures().bytes.done, 300 * KiB);
  assert.equal(Math.round(m.figures().rate!), 300 * KiB, '900 KiB moved in 3 s');
  // b fails for good: its bytes leave "done", its size counts as dealt with.
  m.finish(b, 0, false);
  f = m.figures();
  assert.deepEqual(f.bytes, { done: 100 * KiB, total: 2000 * KiB, inFlight: 100 * KiB });
  assert.equal(f.files.failed, 1);
  assert.equal(f.percent, 55);
  assert.match(renderInterrupted(f), /^0 of 2 files transferred \(0 B\) in 3\.0 s, 1 running, 1 failed$/);
  // Readings of a transfer that has ended change nothing.
  m.advance(b, 900 * KiB, 1);
  assert.equal(m.figures().bytes.done, 100 * KiB);
});

test('a resumed transfer: its offset counts toward percent, not toward the bytes moved or the rate', () => {
  const { c, m } = walked([1000]);
  const a = m.start('a.bin', 1000 * KiB);
  m.advance(a, 700 * KiB, undefined, 700 * KiB);
  c.advance(2000);
  m.advance(a, 900 * KiB, 100 * KiB, 700 * KiB);
  const f = m.figures();
  assert.equal(f.bytes.done, 200 * KiB);
  assert.equal(f.percent, 90);
  assert.equal(Math.round(f.rate!), 100 * KiB);
  assert.equal(renderStatus(f, 77, 8, c.now())[1], '   90%   900.0 KiB/1000.0 KiB   100.0 KiB/s  a.bin');
  m.finish(a, 300 * KiB, true); // the engine reports size - offset
  assert.equal(m.figures().bytes.done, 300 * KiB);
  assert.equal(m.figures().percent, 100);
});

test('the rate falls to 0 once nothing has moved for the whole window, and then no ETA is claimed', () => {
  const { c, m } = walked([1000]);
  const a = m.start('a.bin', 1000 * KiB);
  c.advance(1000);
  m.advance(a, 100 * KiB, 100 * KiB);
  c.advance(5000);
  m.advance(a, 100 * KiB, 0);
  assert.ok(m.figures().rate! > 0);
  c.advance(10_000);
  assert.equal(m.figures().rate, 0);
  assert.equal(m.figures().etaMs, undefined);
});

test('the status block at 80 columns: long paths keep their end, at most maxRunning transfer lines, then a count', () => {
  const c = clock();
  const m = new ProgressModel(1, c.now);
  const long = `${'deep/'.repeat(20)}debian-12.5.0-amd64-DVD-1.iso`;
  for (let i = 0; i < 5; i++) {
    m.planned(4 * 1024 * 1024 * KiB);
    m.advance(m.start(i === 0 ? long : `f${i}.iso`, 4 * 1024 * 1024 * KiB), 1023.95 * 1024 * KiB, 1000.5 * KiB);
  }
  const lines = renderStatus(m.figures(), 77, 3, c.now());
  assert.equal(lines.length, 5);
  for (const l of lines) assert.ok(textWidth(l) <= 77, `${textWidth(l)}: ${l}`);
  assert.equal(lines[1], '   24%        1.0 GiB/4.0 GiB  1000.5 KiB/s  …p/debian-12.5.0-amd64-DVD-1.iso');
  assert.equal(textWidth(lines[1]), 77);
  assert.equal(lines[4], '  … and 2 more');
});

test('the total stays open until every walk (every job of a run) has ended', () => {
  const m = new ProgressModel(2);
  m.walkDone();
  assert.equal(m.figures().complete, false);
  m.walkDone();
  m.walkDone(); // more calls than walks change nothing
  assert.equal(m.figures().complete, true);
  assert.equal(m.figures().percent, 100, 'nothing to do is 100 %');
});

test('names from servers are escaped before they reach the terminal or the log', () => {
  const m = new ProgressModel(1);
  m.start('evil\x1b[2Jname', 10);
  for (const l of [...renderStatus(m.figures(), 77, 8), renderStats(m.figures())]) assert.ok(!l.includes('\x1b'), l);
});

test('width: wide characters take two columns and are never cut in half', () => {
  assert.equal(textWidth('abc'), 3);
  assert.equal(textWidth('日本語'), 6);
  assert.equal(textWidth('e\u0301'), 1);
  assert.equal(fitWidth('日本語', 5), '日本');
  assert.equal(fitWidth('ab日本', 3), 'ab');
  assert.equal(fitWidth('abcdef', 4), 'abcd');
  assert.equal(fitWidth('short', 80), 'short');
  assert.equal(fitTail('dir/file.bin', 12), 'dir/file.bin');
  assert.equal(fitTail('dir/file.bin', 9), '…file.bin');
  assert.equal(fitTail('日本語/x', 5), '…語/x');
  assert.equal(fitTail('日本語/x', 4), '…/x');
});

/** A fake terminal: what is written, and its width. */
function fakeTty(columns: number) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY: true, columns, write: (s: string) => chunks.push(s) } };
}

test('status line: redrawn in place, cut three columns short of the width (room for a "^C" echo), log lines printed above it', () => {
  const tty = fakeTty(40);
  const screen = new Screen(tty.stream, tty.stream);
  assert.equal(screen.interactive, true);
  screen.status('x'.repeat(100));
  screen.status('files 1/9  ' + 'y'.repeat(100));
  screen.err('12:00:01 info  transfer a.txt\n');
  screen.out('summary line\n');
  screen.status('files 2/9');
  const state = replay(tty.chunks.join(''), 40);
  assert.equal(state.wraps, 0, 'the status line must never wrap');
  assert.ok(state.widest <= 37, `widest line ${state.widest}`);
  assert.deepEqual(state.lines, ['12:00:01 info  transfer a.txt', 'summary line', 'files 2/9']);
  screen.clearStatus();
  assert.deepEqual(replay(tty.chunks.join(''), 40).lines, ['12:00:01 info  transfer a.txt', 'summary line', '']);
});

test('status block: several lines redrawn in place, log lines above it, a shorter block leaves nothing behind', () => {
  const tty = fakeTty(40);
  const screen = new Screen(tty.stream, tty.stream);
  screen.status(['1/9 files', '  10%  a.bin', '  20%  b.bin']);
  screen.status(['2/9 files', '  30%  a.bin', '  40%  ' + 'c'.repeat(60)]);
  screen.err('12:00:01 info  transfer b.bin\n');
  let state = replay(tty.chunks.join(''), 40);
  assert.equal(state.wraps, 0);
  assert.deepEqual(state.lines, ['12:00:01 info  transfer b.bin', '2/9 files', '  30%  a.bin', `  40%  ${'c'.repeat(30)}`]);
  screen.status(['3/9 files', '  50%  a.bin']);
  assert.deepEqual(replay(tty.chunks.join(''), 40).lines, ['12:00:01 info  transfer b.bin', '3/9 files', '  50%  a.bin']);
  screen.out('summary\n');
  screen.clearStatus();
  state = replay(tty.chunks.join(''), 40);
  assert.deepEqual(state.lines, ['12:00:01 info  transfer b.bin', 'summary', '']);
});

test('status block: never taller than the terminal less one row, so its first line stays reachable', () => {
  const tty = fakeTty(40);
  const screen = new Screen(tty.stream, { ...tty.stream, rows: 4 });
  screen.status(['a', 'b', 'c', 'd', 'e', 'f']);
  assert.deepEqual(replay(tty.chunks.join(''), 40).lines, ['a', 'b', 'c']);
  screen.clearStatus();
  assert.deepEqual(replay(tty.chunks.join(''), 40).lines, ['']);
});

test('without a terminal there is no status line: lines are written as they are', () => {
  const out = fakeTty(80);
  const err = { chunks: [] as string[], stream: { isTTY: false, write: (s: string) => err.chunks.push(s) } };
  const screen = new Screen(out.stream, err.stream);
  assert.equal(screen.interactive, false);
  screen.status('files 1/2');
  screen.err('log line\n');
  screen.clearStatus();
  assert.deepEqual(err.chunks, ['log line\n']);
});

test('report: an engine\'s progress reaches the transfer of its own target (fan-out: the same path on two targets)', () => {
  const c = clock();
  const model = new ProgressModel(1, c.now);
  const logged: LogEvent[] = [];
  const log: Logger = { log: (e) => logged.push(e), child: () => log };
  const output = { screen: new Screen(fakeTty(80).stream, { write: () => true }), log, fileLog: log, logOnStderr: false, progress: model, close: () => undefined };
  const events = mirrorEvents({ output, targets: [{ name: 'a:/', log }, { name: 'b:/', log }], log, printPlan: false, json: false, nameTargets: true, relayAsked: false });
  const action = { kind: 'transfer', path: 'pub/big.iso', reason: 'missing', src: { name: 'big.iso', type: 'file', size: 1000 * KiB } } as unknown as Extract<PlanAction, { kind: 'transfer' }>;
  for (const t of [0, 1]) {
    events.queued!(t, action);
    events.started!(t, action);
  }
  events.walked!();
  c.advance(1000);
  events.transferProgress(1, { path: 'pub/big.iso', bytes: 300 * KiB, total: 1000 * KiB, bytesPerSecond: 300 * KiB, resumedFrom: 0 });
  events.transferProgress(1, { path: 'pub/other.iso', bytes: 999 * KiB, total: 1000 * KiB, bytesPerSecond: 1, resumedFrom: 0 });
  let f = model.figures();
  assert.deepEqual(f.running.map((r) => [r.target, r.bytes]), [['a:/', undefined], ['b:/', 300 * KiB]]);
  assert.equal(f.bytes.done, 300 * KiB);
  events.done!(1, action, { mode: 'fxp', bytes: 1000 * KiB, resumedFrom: 0, relayedBytes: 0, mtimeSet: true, verified: 'size' });
  f = model.figures();
  assert.deepEqual([f.files.done, f.bytes.done, f.running.length, f.percent], [1, 1000 * KiB, 1, 50]);
  assert.ok(logged.some((e) => e.event === 'transfer' && e.path === 'pub/big.iso'));
});
