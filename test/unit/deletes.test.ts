import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDeleteLimit, formatMaxDelete, orderDeletes } from '../../src/tree/deletes.js';

test('formatMaxDelete', () => {
  assert.equal(formatMaxDelete({ count: 100 }), '100');
  assert.equal(formatMaxDelete({ percent: 12.5 }), '12.5%');
});

test('checkDeleteLimit: no limit, or nothing to delete → allowed', () => {
  assert.equal(checkDeleteLimit(1_000_000, 10, undefined), null);
  assert.equal(checkDeleteLimit(0, 0, { count: 0 }), null);
  assert.equal(checkDeleteLimit(0, 0, { percent: 0 }), null);
});

test('checkDeleteLimit: count is inclusive', () => {
  assert.equal(checkDeleteLimit(10, 1000, { count: 10 }), null);
  const r = checkDeleteLimit(11, 1000, { count: 10 });
  assert.equal(r, 'refusing to delete 11 entries: more than --max-delete 10; nothing was deleted');
  assert.equal(checkDeleteLimit(1, 1000, { count: 0 }), 'refusing to delete 1 entry: more than --max-delete 0; nothing was deleted');
});

test('checkDeleteLimit: percent of destination entries, inclusive, no float surprises', () => {
  assert.equal(checkDeleteLimit(10, 100, { percent: 10 }), null);
  assert.equal(
    checkDeleteLimit(11, 100, { percent: 10 }),
    'refusing to delete 11 of 100 destination entries (11%): more than --max-delete 10%; nothing was deleted',
  );
  // 10% of 15 = 1.5: one allowed, two not.
  assert.equal(checkDeleteLimit(1, 15, { percent: 10 }), null);
  assert.match(checkDeleteLimit(2, 15, { percent: 10 }) ?? '', /\(13\.3%\)/);
  // 0.1 * 3 style float pitfalls: 30% of 10 is exactly 3.
  assert.equal(checkDeleteLimit(3, 10, { percent: 30 }), null);
  assert.equal(checkDeleteLimit(7, 10, { percent: 70 }), null);
  assert.equal(checkDeleteLimit(100, 100, { percent: 100 }), null);
  assert.equal(checkDeleteLimit(1, 1000, { percent: 0 }) !== null, true);
});

test('checkDeleteLimit: percent with an empty destination', () => {
  assert.match(checkDeleteLimit(3, 0, { percent: 50 }) ?? '', /of 0 destination entries \(all\)/);
});

test('orderDeletes: files and links first in input order, then dirs deepest first', () => {
  const input = [
    { path: 'a', type: 'dir' as const },
    { path: 'a/x.bin', type: 'file' as const },
    { path: 'a/b', type: 'dir' as const },
    { path: 'z', type: 'link' as const },
    { path: 'a/b/c', type: 'dir' as const },
    { path: 'q', type: 'dir' as const },
    { path: 'a/b/c/y', type: 'file' as const },
    { path: 'p/q', type: 'dir' as const },
  ];
  assert.deepEqual(
    orderDeletes(input).map((i) => i.path),
    ['a/x.bin', 'z', 'a/b/c/y', 'a/b/c', 'a/b', 'p/q', 'a', 'q'],
  );
});

test('orderDeletes: stable among equal depth, pure, keeps extra fields', () => {
  const input = [
    { path: 'm/2', type: 'dir' as const, conflict: true },
    { path: 'm/1', type: 'dir' as const },
    { path: 'k', type: 'file' as const },
  ];
  const copy = structuredClone(input);
  const out = orderDeletes(input);
  assert.deepEqual(out, [input[2], input[0], input[1]]);
  assert.equal(out[1].conflict, true);
  assert.deepEqual(input, copy, 'input untouched');
  assert.deepEqual(orderDeletes([]), []);
});

test('orderDeletes: a directory always comes after every entry inside it', () => {
  const items = [
    { path: 'r', type: 'dir' as const },
    { path: 'r/s', type: 'dir' as const },
    { path: 'r/s/t', type: 'dir' as const },
    { path: 'r/f', type: 'file' as const },
    { path: 'r/s/t/g', type: 'link' as const },
  ];
  const out = orderDeletes(items).map((i) => i.path);
  for (const d of out) {
    for (const other of out) {
      if (other.startsWith(`${d}/`)) assert.ok(out.indexOf(other) < out.indexOf(d), `${other} before ${d}`);
    }
  }
  assert.equal(out.length, 5);
});
