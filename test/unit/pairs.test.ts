/**
 * The number of transfers at once without -P (src/tree/pairs.ts): it grows
 * only on distant servers and only while the time per file stays flat,
 * steps back once when it grew, stays within the pools' limits, and ignores
 * files that started under an older number. Then end to end: a mirror whose
 * scripted servers answer every command late (a distant path) and take a
 * fixed time per file runs more transfers at once than it started with.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionPool } from '../../src/ftp/pool.js';
import { FAR_MS, MIN_WINDOW, PairControl, type PairChange } from '../../src/tree/pairs.js';
import { ScriptedFtpServer } from '../support/index.js';
import { DEFAULT_COMMANDS } from '../support/ftp-commands.js';
import { closeAll, poolOf, runMirror } from '../support/mirror-rig.js';

function fakePool(rttMs: number, limit = 7): ConnectionPool & { currentLimit: number } {
  return { state: { rttMs }, currentLimit: limit } as unknown as ConnectionPool & { currentLimit: number };
}

/** Feed `n` finished files of `ms` each, all started at the current number. */
function feed(c: PairControl, n: number, ms: number): void {
  for (let i = 0; i < n; i++) c.done(c.started(), ms);
}

function control(pools: ConnectionPool[]) {
  const changes: PairChange[] = [];
  return { c: new PairControl(4, pools, (x) => changes.push(x)), changes };
}

test('near servers: the number stays where it started, whatever the times', () => {
  const { c, changes } = control([fakePool(0.3), fakePool(40)]);
  feed(c, 100, 50);
  assert.equal(c.current, 4);
  assert.deepEqual(changes, []);
});

test('distant servers, flat time per file: one pair more per window, up to the pools\' limit', () => {
  const { c, changes } = control([fakePool(FAR_MS + 35), fakePool(41)]);
  feed(c, MIN_WINDOW - 1, 200);
  assert.equal(c.current, 4, 'no decision before a whole window');
  feed(c, 1, 200);
  assert.equal(c.current, 5);
  feed(c, 10, 205);
  feed(c, 12, 210);
  assert.equal(c.current, 7);
  feed(c, 14, 200);
  assert.equal(c.current, 7, 'the narrowest pool allows 7');
  assert.deepEqual(changes.map((x) => x.pairs), [5, 6, 7]);
  assert.match(changes[0].reason, /time per file 200 ms, flat/);
});

test('distant servers, time per file grows with one more pair: back one, and it stays', () => {
  const { c, changes } = control([fakePool(40), fakePool(40)]);
  feed(c, 8, 200); // 4 -> 5
  feed(c, 10, 210); // flat: 5 -> 6
  feed(c, 12, 260); // +24 %: back to 5
  assert.equal(c.current, 5);
  feed(c, 50, 100);
  assert.equal(c.current, 5, 'growth has stopped');
  assert.deepEqual(changes.map((x) => x.pairs), [5, 6, 5]);
  assert.match(changes[2].reason, /grew from 210 to 260 ms with 6 pairs/);
});

test('a pool that shrank below the number (421): down to what it allows, and no more growth', () => {
  const dst = fakePool(40);
  const { c, changes } = control([fakePool(40), dst]);
  feed(c, 8, 200);
  assert.equal(c.current, 5);
  dst.currentLimit = 3;
  feed(c, 1, 200);
  assert.equal(c.current, 3);
  dst.currentLimit = 7;
  feed(c, 40, 200);
  assert.equal(c.current, 3);
  assert.deepEqual(changes.map((x) => x.pairs), [5, 3]);
});

test('files that started under an older number do not count toward the new one\'s window', () => {
  const { c } = control([fakePool(40), fakePool(40)]);
  const early = Array.from({ length: 20 }, () => c.started());
  feed(c, 8, 200); // 4 -> 5
  for (const t of early) c.done(t, 5000); // slow stragglers from the old number
  assert.equal(c.current, 5);
  feed(c, 10, 205);
  assert.equal(c.current, 6);
});

const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

test('mirror without -P on a distant path (every reply late) with a fixed time per file: more transfers run at once', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 60; i++) files[`/src/f${String(i).padStart(2, '0')}.txt`] = `file ${i}`;
  const src = await ScriptedFtpServer.start({ host: '127.0.99.1', files });
  const dst = await ScriptedFtpServer.start({ host: '127.0.99.2', files: { '/dst/': '' } });
  open.push(src, dst);
  let running = 0;
  let most = 0;
  // Every reply comes late: the shortest round trip either pool measures is "far".
  for (const s of [src, dst]) for (const verb of Object.keys(DEFAULT_COMMANDS)) s.on(verb, { delayMs: 2 * FAR_MS });
  dst.on('STOR', async (ctx) => {
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 40));
    try {
      await ctx.fallback();
    } finally {
      running--;
    }
  });
  const [srcPool, dstPool] = [poolOf(src, { server: { maxConnections: 8 } }), poolOf(dst, { server: { maxConnections: 8 } })];
  open.push(srcPool, dstPool);
  const r = await runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }], parallelAuto: true });
  assert.equal(r.summaries[0].files.transferred, 60);
  assert.ok(r.pairs.length > 0 && Math.max(...r.pairs) > 4, `pairs: ${r.pairs.join(',')}`);
  assert.ok(most > 4, `at most ${most} STOR at once`);
});
