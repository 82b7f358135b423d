/** diffDirectory in src/tree/diff.ts: one directory's listings become actions, skips and descents. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathFilter } from '../../src/tree/filter.js';
import { diffDirectory } from '../../src/tree/diff.js';
import { T0, dir, file, link, noFilter, opts, special } from './diff-entries.js';

// ---------- diffDirectory ----------

test('diffDirectory: missing file, changed file, unchanged file, sorted by name', () => {
  const r = diffDirectory(
    'pub',
    [file('c', 3, T0), file('a b.txt', 4096, T0), file('B', 1, T0 + 5000)],
    [file('c', 3, T0), file('B', 1, T0)],
    opts(),
    noFilter(),
  );
  assert.deepEqual(
    r.actions.map((a) => [a.kind, a.path, 'reason' in a ? a.reason : '']),
    [
      ['transfer', 'pub/B', 'time'],
      ['transfer', 'pub/a b.txt', 'missing'],
    ],
  );
  const missing = r.actions[1];
  assert.ok(missing.kind === 'transfer');
  assert.equal(missing.dst, undefined);
  assert.equal(missing.src.size, 4096);
  const changed = r.actions[0];
  assert.ok(changed.kind === 'transfer' && changed.dst?.mtime?.getTime() === T0);
  assert.equal(r.unchanged, 1);
  assert.deepEqual(r.deletes, []);
  assert.deepEqual(r.descend, []);
});

test('diffDirectory: root paths have no leading slash', () => {
  const r = diffDirectory('', [file('a', 1, T0), dir('d')], [], opts(), noFilter());
  assert.deepEqual(
    r.actions.map((a) => a.path),
    ['a', 'd'],
  );
  assert.deepEqual(r.descend, [{ path: 'd', dstExists: false }]);
});

test('diffDirectory: destination directory missing (null) → everything new, nothing to delete', () => {
  const r = diffDirectory('x', [dir('sub'), file('f', 1, T0)], null, opts({ delete: true }), noFilter());
  assert.deepEqual(r.actions, [
    { kind: 'transfer', path: 'x/f', reason: 'missing', src: file('f', 1, T0) },
    { kind: 'mkdir', path: 'x/sub', reason: 'missing' },
  ]);
  assert.deepEqual(r.descend, [{ path: 'x/sub', dstExists: false }]);
  assert.deepEqual(r.deletes, []);
});

test('diffDirectory: existing directory → descend with dstExists, no action', () => {
  const r = diffDirectory('', [dir('d')], [dir('d')], opts(), noFilter());
  assert.deepEqual(r.actions, []);
  assert.deepEqual(r.descend, [{ path: 'd', dstExists: true }]);
});

test('diffDirectory: descend list is sorted too', () => {
  const r = diffDirectory('', [dir('z'), dir('a'), dir('M')], [dir('a')], opts(), noFilter());
  assert.deepEqual(r.descend, [
    { path: 'M', dstExists: false },
    { path: 'a', dstExists: true },
    { path: 'z', dstExists: false },
  ]);
});

test('diffDirectory: checksum compare emits verify with both entries', () => {
  const s = file('a', 5, T0);
  const d = file('a', 5, T0 + 99);
  const r = diffDirectory('', [s], [d], opts({ compare: 'checksum' }), noFilter());
  assert.deepEqual(r.actions, [{ kind: 'verify', path: 'a', src: s, dst: d }]);
  assert.equal(r.unchanged, 0);
});

test('diffDirectory: symlinks and special files are reported as skips, never touch the destination', () => {
  for (const symlinks of ['skip', 'follow'] as const) {
    const r = diffDirectory('d', [link('lnk'), special('fifo')], [file('lnk', 1, T0), file('fifo', 1, T0)], opts({ symlinks, delete: true }), noFilter());
    assert.deepEqual(r.actions, [
      { kind: 'skip', path: 'd/fifo', reason: 'special' },
      { kind: 'skip', path: 'd/lnk', reason: 'symlink' },
    ]);
    assert.deepEqual(r.deletes, [], 'a name present on the source is not extraneous');
  }
});

test('diffDirectory: type conflict src file vs dst dir', () => {
  const s = file('x', 1, T0);
  const without = diffDirectory('', [s], [dir('x')], opts(), noFilter());
  assert.deepEqual(without.actions, [{ kind: 'skip', path: 'x', reason: 'conflict' }]);
  assert.deepEqual(without.deletes, []);

  const withDel = diffDirectory('', [s], [dir('x')], opts({ delete: true }), noFilter());
  assert.deepEqual(withDel.actions, [{ kind: 'transfer', path: 'x', reason: 'type', src: s, dst: dir('x') }]);
  assert.deepEqual(withDel.deletes, [{ path: 'x', type: 'dir', conflict: true }]);
  assert.deepEqual(withDel.descend, []);
});

test('diffDirectory: type conflict src dir vs dst file', () => {
  const without = diffDirectory('p', [dir('x')], [file('x', 1, T0)], opts(), noFilter());
  assert.deepEqual(without.actions, [{ kind: 'skip', path: 'p/x', reason: 'conflict' }]);
  assert.deepEqual(without.descend, [], 'no descent into a conflicting dir');

  const withDel = diffDirectory('p', [dir('x')], [file('x', 1, T0)], opts({ delete: true }), noFilter());
  assert.deepEqual(withDel.actions, [{ kind: 'mkdir', path: 'p/x', reason: 'missing', dst: file('x', 1, T0) }]);
  assert.deepEqual(withDel.deletes, [{ path: 'p/x', type: 'file', conflict: true }]);
  assert.deepEqual(withDel.descend, [{ path: 'p/x', dstExists: false }]);
});

test('diffDirectory: destination symlink or special where the source has a file is a conflict', () => {
  const s = file('x', 1, T0);
  assert.deepEqual(diffDirectory('', [s], [link('x')], opts(), noFilter()).actions, [
    { kind: 'skip', path: 'x', reason: 'conflict' },
  ]);
  const r = diffDirectory('', [s, dir('y')], [link('x'), special('y')], opts({ delete: true }), noFilter());
  assert.deepEqual(r.deletes, [
    { path: 'x', type: 'link', conflict: true },
    { path: 'y', type: 'file', conflict: true },
  ]);
  assert.deepEqual(
    r.actions.map((a) => [a.kind, a.path]),
    [
      ['transfer', 'x'],
      ['mkdir', 'y'],
    ],
  );
});

test('diffDirectory: conflicting destination entry that is excluded is never removed', () => {
  // "build/" excludes directories only: the source file build is wanted, the destination dir build is not.
  const flt = new PathFilter({ include: [], exclude: ['build/'] });
  const r = diffDirectory('', [file('build', 1, T0)], [dir('build')], opts({ delete: true }), flt);
  assert.deepEqual(r.actions, [{ kind: 'skip', path: 'build', reason: 'conflict' }]);
  assert.deepEqual(r.deletes, []);
  // Source dir vs destination file excluded by size.
  const big = new PathFilter({ include: [], exclude: [], maxSize: 10 });
  const r2 = diffDirectory('', [dir('d')], [file('d', 100, T0)], opts({ delete: true }), big);
  assert.deepEqual(r2.actions, [{ kind: 'skip', path: 'd', reason: 'conflict' }]);
  assert.deepEqual(r2.deletes, []);
});

test('diffDirectory: extraneous destination entries are deleted only with --delete', () => {
  const src = [file('keep', 1, T0)];
  const dst = [file('keep', 1, T0), file('old.bin', 5, T0), dir('olddir'), link('oldlink'), special('oldfifo')];
  const no = diffDirectory('m', src, dst, opts(), noFilter());
  assert.deepEqual(no.deletes, []);
  const yes = diffDirectory('m', src, dst, opts({ delete: true }), noFilter());
  assert.deepEqual(yes.deletes, [
    { path: 'm/old.bin', type: 'file' },
    { path: 'm/olddir', type: 'dir' },
    { path: 'm/oldfifo', type: 'file' },
    { path: 'm/oldlink', type: 'link' },
  ]);
  assert.deepEqual(yes.actions, [], 'deletes are not actions');
  assert.equal(yes.unchanged, 1);
});

test('diffDirectory: part files are ignored on both sides', () => {
  const r = diffDirectory(
    '',
    [file('.a.fxpmirror-part', 3, T0), file('a', 9, T0), dir('.d.fxpmirror-part')],
    [file('.a.fxpmirror-part', 3, T0), file('.zz.fxpmirror-part', 3, T0), file('a', 9, T0)],
    opts({ delete: true }),
    noFilter(),
  );
  assert.deepEqual(r.actions, []);
  assert.deepEqual(r.deletes, []);
  assert.deepEqual(r.descend, []);
  assert.equal(r.unchanged, 1);
});

test('diffDirectory: excluded entries are neither transferred nor deleted', () => {
  const flt = new PathFilter({ include: [], exclude: ['*.tmp', 'cache/'] });
  const r = diffDirectory(
    '',
    [file('a.tmp', 1, T0), dir('cache'), file('b', 1, T0)],
    [file('a.tmp', 2, T0), file('only-dst.tmp', 1, T0), dir('cache'), dir('gone'), file('b', 1, T0)],
    opts({ delete: true }),
    flt,
  );
  assert.deepEqual(r.actions, []);
  assert.deepEqual(r.descend, [], 'excluded dir is pruned');
  assert.deepEqual(r.deletes, [{ path: 'gone', type: 'dir' }], 'excluded destination entries are kept');
  // Counted (as skipped in the summary): the source's a.tmp and cache/, not the destination-only entries.
  assert.equal(r.excluded, 2);
  assert.equal(r.unchanged, 1);
});

test('diffDirectory: a source file filtered out by size protects its destination namesake', () => {
  const flt = new PathFilter({ include: [], exclude: [], maxSize: 100 });
  const r = diffDirectory(
    '',
    [file('big', 1000, T0)],
    [file('big', 5, T0), file('big-dst-only', 1000, T0), file('small-dst-only', 5, T0)],
    opts({ delete: true }),
    flt,
  );
  assert.deepEqual(r.actions, []);
  assert.deepEqual(r.deletes, [{ path: 'small-dst-only', type: 'file' }]);
});

test('diffDirectory: include patterns keep directories walkable but filter files', () => {
  const flt = new PathFilter({ include: ['*.txt'], exclude: [] });
  const r = diffDirectory('', [file('a.txt', 1, T0), file('b.bin', 1, T0), dir('sub')], [file('c.bin', 1, T0)], opts({ delete: true }), flt);
  assert.deepEqual(
    r.actions.map((a) => [a.kind, a.path]),
    [
      ['transfer', 'a.txt'],
      ['mkdir', 'sub'],
    ],
  );
  assert.deepEqual(r.descend, [{ path: 'sub', dstExists: false }]);
  assert.deepEqual(r.deletes, [], 'a destination file outside the includes is not deleted');
});

test('diffDirectory: nested filter uses the full relative path', () => {
  const flt = new PathFilter({ include: [], exclude: ['pub/private/**'] });
  const r = diffDirectory('pub', [dir('private'), dir('public')], [], opts(), flt);
  assert.deepEqual(r.descend, [{ path: 'pub/public', dstExists: false }]);
  const r2 = diffDirectory('other', [dir('private')], [], opts(), flt);
  assert.deepEqual(r2.descend, [{ path: 'other/private', dstExists: false }]);
});

test('diffDirectory: onlyMissing and onlyNewer', () => {
  const src = [file('a', 1, T0 + 10_000), file('b', 2, T0 - 10_000), file('c', 3, T0)];
  const dst = [file('a', 1, T0), file('b', 9, T0)];
  const m = diffDirectory('', src, dst, opts({ onlyMissing: true }), noFilter());
  assert.deepEqual(
    m.actions.map((a) => [a.path, 'reason' in a ? a.reason : '']),
    [['c', 'missing']],
  );
  assert.equal(m.unchanged, 2);
  const n = diffDirectory('', src, dst, opts({ onlyNewer: true }), noFilter());
  assert.deepEqual(
    n.actions.map((a) => [a.path, 'reason' in a ? a.reason : '']),
    [
      ['a', 'newer'],
      ['c', 'missing'],
    ],
  );
});

test('diffDirectory: a name listed twice is ambiguous: neither transferred nor deleted, on either side', () => {
  const r = diffDirectory('', [file('a', 1, T0), file('a', 2, T0), file('b', 1, T0)], [file('a', 7, T0), file('c', 1, T0)], opts({ delete: true }), noFilter());
  assert.deepEqual(r.actions, [{ kind: 'transfer', path: 'b', reason: 'missing', src: file('b', 1, T0) }]);
  assert.deepEqual(r.deletes, [{ path: 'c', type: 'file' }]);
  const d = diffDirectory('', [dir('x'), file('y', 1, T0)], [file('x', 1, T0), dir('x'), dir('y'), file('y', 1, T0)], opts({ delete: true }), noFilter());
  assert.deepEqual(d, { actions: [], deletes: [], descend: [], unchanged: 0, excluded: 0 });
});

test('diffDirectory: deletes come out in code point order', () => {
  const r = diffDirectory('', [], [file('b', 1, T0), file('\u{1F600}', 1, T0), file('\uFF5E', 1, T0), file('B', 1, T0)], opts({ delete: true }), noFilter());
  assert.deepEqual(
    r.deletes.map((d) => d.path),
    ['B', 'b', '\uFF5E', '\u{1F600}'],
  );
});

test('diffDirectory: does not mutate its inputs', () => {
  const src = [file('b', 1, T0), file('a', 1, T0)];
  const dst = [file('z', 1, T0)];
  diffDirectory('', src, dst, opts({ delete: true }), noFilter());
  assert.deepEqual(
    src.map((e) => e.name),
    ['b', 'a'],
  );
  assert.equal(dst.length, 1);
});
