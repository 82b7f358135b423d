import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../../src/tree/options.js';
import { PathFilter } from '../../src/tree/filter.js';
import { compareFile, compareNames, diffDirectory, joinPath } from '../../src/tree/diff.js';

const T0 = Date.parse('2024-03-10T12:00:00.000Z');

function file(name: string, size: number | undefined, mtimeMs: number | undefined, precision = 0): ListEntry {
  return {
    name,
    type: 'file',
    size,
    mtime: mtimeMs === undefined ? undefined : new Date(mtimeMs),
    mtimePrecision: precision,
    mtimeApproximate: precision >= 60_000,
  };
}
const dir = (name: string): ListEntry => ({ name, type: 'dir', mtimePrecision: 0, mtimeApproximate: false });
const link = (name: string): ListEntry => ({ name, type: 'link', target: 'elsewhere', mtimePrecision: 0, mtimeApproximate: false });
const special = (name: string): ListEntry => ({ name, type: 'special', mtimePrecision: 0, mtimeApproximate: false });

const opts = (o: Partial<MirrorOptions> = {}): MirrorOptions => ({ ...DEFAULT_MIRROR_OPTIONS, ...o });
const noFilter = () => new PathFilter({ include: [], exclude: [] });

// ---------- compareFile ----------

test('compareFile: equal size and time → null', () => {
  assert.equal(compareFile(file('a', 5, T0), file('a', 5, T0), opts()), null);
});

test('compareFile: size differs → size (even with equal times)', () => {
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), opts()), 'size');
});

test('compareFile: same size, newer or older source → time', () => {
  assert.equal(compareFile(file('a', 5, T0 + 5000), file('a', 5, T0), opts()), 'time');
  assert.equal(compareFile(file('a', 5, T0 - 5000), file('a', 5, T0), opts()), 'time');
});

test('compareFile: exact MLSD times (precision 0) still need at least 1 ms', () => {
  assert.equal(compareFile(file('a', 5, T0), file('a', 5, T0), opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 1), file('a', 5, T0), opts()), 'time');
});

test('compareFile: MLSD fraction vs whole seconds: equal within the second, changed at 1000 ms', () => {
  // Source MLSD 20240310120000.750, destination MDTM/MLSD whole seconds 20240310120000.
  assert.equal(compareFile(file('a', 5, T0 + 750, 0), file('a', 5, T0, 1000), opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 999, 0), file('a', 5, T0, 1000), opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 1000, 0), file('a', 5, T0, 1000), opts()), 'time');
  // Both whole seconds, one second apart.
  assert.equal(compareFile(file('a', 5, T0 + 1000, 1000), file('a', 5, T0, 1000), opts()), 'time');
});

test('compareFile: LIST "hh:mm" (minute precision) on either side', () => {
  const listDst = file('a', 5, T0, 60_000); // LIST shows 12:00 for anything in 12:00:00..12:00:59
  assert.equal(compareFile(file('a', 5, T0 + 59_000, 1000), listDst, opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 59_999, 0), listDst, opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 60_000, 0), listDst, opts()), 'time');
  assert.equal(compareFile(listDst, file('a', 5, T0 - 30_000, 0), opts()), null, 'coarser side wins, whichever it is');
  assert.equal(compareFile(listDst, file('a', 5, T0 - 60_000, 0), opts()), 'time');
});

test('compareFile: LIST "Mon dd yyyy" (day precision)', () => {
  const day = 86_400_000;
  const listSrc = file('a', 5, Date.parse('2019-05-01T00:00:00Z'), day);
  assert.equal(compareFile(listSrc, file('a', 5, Date.parse('2019-05-01T23:59:59Z'), 1000), opts()), null);
  assert.equal(compareFile(listSrc, file('a', 5, Date.parse('2019-05-02T00:00:00Z'), 1000), opts()), 'time');
});

test('compareFile: unknown mtime on either side → time not compared', () => {
  assert.equal(compareFile(file('a', 5, undefined), file('a', 5, T0), opts()), null);
  assert.equal(compareFile(file('a', 5, T0), file('a', 5, undefined), opts()), null);
  assert.equal(compareFile(file('a', 5, undefined), file('a', 6, T0), opts()), 'size');
});

test('compareFile: invalid Date counts as unknown; bad precision counts as exact', () => {
  const bad = { ...file('a', 5, T0), mtime: new Date(NaN) };
  assert.equal(compareFile(bad, file('a', 5, T0 + 99_999), opts()), null);
  const nanPrec = { ...file('a', 5, T0), mtimePrecision: NaN };
  assert.equal(compareFile(nanPrec, file('a', 5, T0 + 1), opts()), 'time');
});

test('compareFile: unknown size on either side → size not compared', () => {
  assert.equal(compareFile(file('a', undefined, T0), file('a', 5, T0), opts()), null);
  assert.equal(compareFile(file('a', 5, T0 + 2000), file('a', undefined, T0), opts()), 'time');
});

test('compareFile: ignoreTime compares size only', () => {
  const o = opts({ ignoreTime: true });
  assert.equal(compareFile(file('a', 5, T0 + 99_000), file('a', 5, T0), o), null);
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), o), 'size');
});

test('compareFile: ignoreSize compares time only', () => {
  const o = opts({ ignoreSize: true });
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), o), null);
  assert.equal(compareFile(file('a', 5, T0 + 2), file('a', 6, T0), o), 'time');
});

test('compareFile: ignoreTime + ignoreSize → only missing files move', () => {
  const o = opts({ ignoreTime: true, ignoreSize: true });
  assert.equal(compareFile(file('a', 5, T0 + 99_000), file('a', 6, T0), o), null);
});

test('compareFile: onlyNewer transfers only a source newer beyond precision', () => {
  const o = opts({ onlyNewer: true });
  assert.equal(compareFile(file('a', 5, T0 + 2000, 1000), file('a', 5, T0, 1000), o), 'newer');
  assert.equal(compareFile(file('a', 9, T0 + 1000, 1000), file('a', 5, T0, 1000), o), 'newer');
  assert.equal(compareFile(file('a', 5, T0 + 500, 1000), file('a', 5, T0, 1000), o), null, 'within precision');
  assert.equal(compareFile(file('a', 9, T0 - 5000), file('a', 5, T0), o), null, 'older, different size: left alone');
  assert.equal(compareFile(file('a', 9, T0), file('a', 5, T0), o), null, 'same time, different size: left alone');
  assert.equal(compareFile(file('a', 9, undefined), file('a', 5, T0), o), null, 'unknown time: not provably newer');
  assert.equal(compareFile(file('a', 5, T0 + 30_000), file('a', 5, T0, 60_000), o), null, 'LIST minute');
  assert.equal(compareFile(file('a', 5, T0 + 60_000), file('a', 5, T0, 60_000), o), 'newer');
});

test('compareFile: onlyMissing never transfers an existing file', () => {
  const o = opts({ onlyMissing: true });
  assert.equal(compareFile(file('a', 5, T0 + 99_000), file('a', 6, T0), o), null);
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), opts({ onlyMissing: true, compare: 'checksum' })), null);
});

test('compareFile: checksum compare → verify on equal sizes, size on different sizes', () => {
  const o = opts({ compare: 'checksum' });
  assert.equal(compareFile(file('a', 5, T0), file('a', 5, T0), o), 'verify');
  assert.equal(compareFile(file('a', 5, T0 + 99_000), file('a', 5, T0), o), 'verify', 'time does not decide');
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), o), 'size');
  assert.equal(compareFile(file('a', undefined, T0), file('a', 6, T0), o), 'verify', 'unknown size: hash it');
  assert.equal(compareFile(file('a', 5, T0), file('a', 6, T0), opts({ compare: 'checksum', ignoreSize: true })), 'size');
});

test('compareFile: onlyNewer takes precedence over checksum', () => {
  const o = opts({ compare: 'checksum', onlyNewer: true });
  assert.equal(compareFile(file('a', 5, T0), file('a', 5, T0), o), null);
  assert.equal(compareFile(file('a', 5, T0 + 5000), file('a', 5, T0), o), 'newer');
});

// ---------- helpers ----------

test('compareNames: code point order, not UTF-16 code unit order', () => {
  assert.ok(compareNames('B', 'a') < 0, 'uppercase before lowercase');
  assert.ok(compareNames('a', 'ab') < 0);
  assert.equal(compareNames('x', 'x'), 0);
  // U+1F600 (surrogate pair D83D DE00) > U+FF5E: code units would say otherwise.
  assert.ok(compareNames('\u{1F600}', '\uFF5E') > 0);
  assert.ok(compareNames('\uFF5E', '\u{1F600}') < 0);
  assert.ok(compareNames('\u{1F600}', '\u{1F601}') < 0);
  assert.ok(compareNames('\u00e9', 'z') > 0);
  const sorted = ['b', '\u{1F600}', 'A', '\uFFFD', 'a', '\u00e9'].sort(compareNames);
  assert.deepEqual(sorted, ['A', 'a', 'b', '\u00e9', '\uFFFD', '\u{1F600}']);
});

test('joinPath', () => {
  assert.equal(joinPath('', 'a'), 'a');
  assert.equal(joinPath('a/b', 'c'), 'a/b/c');
});

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
