/**
 * The progress display without a terminal: the figures (totals known so far,
 * percent, rate, ETA), the line they make, the status line that log lines are
 * printed above, and cutting to the terminal's width. The same display in a
 * real pseudo-terminal: test/integration/operators-progress.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressModel, renderInterrupted, renderProgress } from '../../src/cli/progress.js';
import { Screen, fitWidth, textWidth } from '../../src/cli/screen.js';
import { replay } from '../lab/vt.js';

const KiB = 1024;

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
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
  assert.equal(renderProgress(f, true, c.now()), '1/4+ files  100.0 KiB/400.0 KiB+  --%  50.0 KiB/s  ETA --');
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
  assert.equal(renderProgress(f, true, c.now()), '1/4 files  300.0 KiB/1000.0 KiB  30%  75.0 KiB/s  ETA 0:09  | b.bin 100.0 KiB 1s, 日本語.txt 500.0 KiB 1s');
  // A failed file counts as dealt with for percent and ETA, and is shown.
  m.finish(b, 0, false);
  m.finish(d, 500 * KiB, true);
  const g = m.figures();
  assert.equal(g.percent, 90);
  assert.match(renderProgress(g, false), /^2\/4 files {2}800\.0 KiB\/1000\.0 KiB {2}90% {2}.* {2}1 failed$/);
  assert.match(renderInterrupted(g), /^2 of 4 files transferred \(800\.0 KiB\) in \d+\.\d s, 0 running, 1 failed$/);
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

test('names from servers are escaped before they reach the terminal', () => {
  const m = new ProgressModel(1);
  m.start('evil\x1b[2Jname', 10);
  assert.ok(!renderProgress(m.figures()).includes('\x1b'), renderProgress(m.figures()));
});

test('width: wide characters take two columns and are never cut in half', () => {
  assert.equal(textWidth('abc'), 3);
  assert.equal(textWidth('日本語'), 6);
  assert.equal(textWidth('e\u0301'), 1);
  assert.equal(fitWidth('日本語', 5), '日本');
  assert.equal(fitWidth('ab日本', 3), 'ab');
  assert.equal(fitWidth('abcdef', 4), 'abcd');
  assert.equal(fitWidth('short', 80), 'short');
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
