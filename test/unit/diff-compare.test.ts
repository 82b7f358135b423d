/** compareFile (when a file counts as changed), compareNames and joinPath in src/tree/diff.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareFile, compareNames, joinPath } from '../../src/tree/diff.js';
import { T0, file, opts } from './diff-entries.js';

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
