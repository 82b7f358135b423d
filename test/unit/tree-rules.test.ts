/**
 * Pure rules of the tree layer added with the named stages: lftp's rule for
 * destinations without settable mtimes (diff.ts), which part files are stale
 * (part-files.ts), and the work queue (queue.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../../src/tree/options.js';
import { PathFilter } from '../../src/tree/filter.js';
import { compareFile, diffDirectory } from '../../src/tree/diff.js';
import { hingesOnMtimes } from '../../src/tree/mtimes.js';
import { staleParts } from '../../src/tree/part-files.js';
import { WorkQueue } from '../../src/tree/queue.js';

const T0 = Date.parse('2024-03-10T12:00:00.000Z');
const file = (name: string, size: number | undefined, mtimeMs: number | undefined, precision = 1000): ListEntry => ({
  name,
  type: 'file',
  size,
  mtime: mtimeMs === undefined ? undefined : new Date(mtimeMs),
  mtimePrecision: precision,
  mtimeApproximate: precision >= 60_000,
});
const dir = (name: string): ListEntry => ({ name, type: 'dir', mtimePrecision: 0, mtimeApproximate: false });
const opts = (o: Partial<MirrorOptions> = {}): MirrorOptions => ({ ...DEFAULT_MIRROR_OPTIONS, ...o });
const noFilter = () => new PathFilter({ include: [], exclude: [] });

test("destination without mtimes: same size and not older there is unchanged; older, or another size, is not", () => {
  const src = file('a', 5, T0);
  assert.equal(compareFile(src, file('a', 5, T0 + 86_400_000), opts(), 'none'), null, 'newer copy');
  assert.equal(compareFile(src, file('a', 5, T0), opts(), 'none'), null, 'same time');
  assert.equal(compareFile(src, file('a', 5, T0 - 500), opts(), 'none'), null, 'older within the precision');
  assert.equal(compareFile(src, file('a', 5, T0 - 5000), opts(), 'none'), 'time', 'older: the source changed since');
  assert.equal(compareFile(src, file('a', 6, T0 + 86_400_000), opts(), 'none'), 'size');
  // The default rule (settable mtimes) calls the newer copy a change.
  assert.equal(compareFile(src, file('a', 5, T0 + 86_400_000), opts()), 'time');
  // Options that do not look at times are unaffected.
  assert.equal(compareFile(src, file('a', 5, T0 + 86_400_000), opts({ compare: 'checksum' }), 'none'), 'verify');
  assert.equal(compareFile(file('a', 5, T0 + 86_400_000), file('a', 5, T0), opts({ onlyNewer: true }), 'none'), 'newer');
});

test('diffDirectory passes the rule down; hingesOnMtimes finds the transfers it would drop', () => {
  const src = [file('same', 5, T0), file('grown', 5, T0)];
  const dst = [file('same', 5, T0 + 3600_000), file('grown', 9, T0 + 3600_000)];
  const settable = diffDirectory('', src, dst, opts(), noFilter());
  assert.deepEqual(settable.actions.map((a) => `${a.kind} ${a.path}`), ['transfer grown', 'transfer same']);
  assert.deepEqual(settable.actions.filter((a) => hingesOnMtimes(a, opts())).map((a) => a.path), ['same']);
  const none = diffDirectory('', src, dst, opts(), noFilter(), new Set(), 'none');
  assert.deepEqual(none.actions.map((a) => `${a.kind} ${a.path}`), ['transfer grown']);
  assert.equal(none.unchanged, 1);
});

test('staleParts: part files of files not transferred now; not directories, not excluded files, not busy ones', () => {
  const dst = [
    file('.a.fxpmirror-part', 1, T0),
    file('.b.fxpmirror-part', 1, T0),
    file('.c.iso.fxpmirror-part', 1, T0),
    dir('.fxpmirror-lock.fxpmirror-part'),
    file('a', 1, T0),
    file('.fxpmirror-part', 1, T0), // not a part name (nothing before the suffix)
  ];
  const actions = diffDirectory('d', [file('b', 2, T0)], [], opts(), noFilter()).actions;
  const filter = new PathFilter({ include: [], exclude: ['*.iso'] });
  assert.deepEqual(staleParts('d', dst, actions, filter), ['d/.a.fxpmirror-part']);
  assert.deepEqual(staleParts('', dst, [], noFilter()), ['.a.fxpmirror-part', '.b.fxpmirror-part', '.c.iso.fxpmirror-part']);
  // Size bounds are the file's, not the part file's: a part file of a wanted file is stale whatever its size.
  assert.deepEqual(staleParts('', [file('.big.fxpmirror-part', 10, T0)], [], new PathFilter({ include: [], exclude: [], maxSize: 5 })), ['.big.fxpmirror-part']);
});

test('WorkQueue: at most `limit` at once; room() waits at high water; a task can hand its slot to another while it waits', async () => {
  const q = new WorkQueue('transfers', 2, 3);
  let running = 0;
  let peak = 0;
  const order: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const task = (name: string, wait?: Promise<void>) => async (slot: { release(): void; acquire(): Promise<void> }) => {
    running++;
    peak = Math.max(peak, running);
    if (wait) {
      running--;
      slot.release();
      await wait;
      await slot.acquire();
      running++;
    }
    await new Promise((r) => setTimeout(r, 5));
    order.push(name);
    running--;
  };
  q.push(task('waiter', gate));
  q.push(task('a'));
  q.push(task('b'));
  assert.equal(q.size, 3);
  let roomy = false;
  const room = q.room().then(() => (roomy = true));
  await new Promise((r) => setTimeout(r, 1));
  assert.equal(roomy, false, 'at high water');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(order, ['a', 'b'], 'the waiter gave its slot away');
  await room;
  open();
  await q.drain();
  assert.deepEqual(order, ['a', 'b', 'waiter']);
  assert.ok(peak <= 2, `peak ${peak}`);
  assert.equal(q.size, 0);
});

test('WorkQueue: a task that throws before its first await gives back its slot, leaves the queue and fails drain()', async () => {
  const q = new WorkQueue('transfers', 1, 1);
  q.push(() => {
    throw new Error('thrown at once');
  });
  assert.equal(q.size, 1, 'in the queue until settled');
  await assert.rejects(q.drain(), /thrown at once/);
  assert.equal(q.size, 0);
  // Its slot and its place are free again: the next task runs, and room() is not stuck at high water.
  await q.room();
  let ran = false;
  q.push(async () => {
    ran = true;
  });
  await q.drain();
  assert.equal(ran, true);
  assert.equal(q.size, 0);
});
