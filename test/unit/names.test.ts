/**
 * names.ts: which listed names are usable, and how a listing is screened
 * (unusable names and duplicates rejected with their reason, "." and ".."
 * left out), including through the real parsers (MLSD, Unix and DOS LIST).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DUPLICATE_ENTRY, screenListing, unusableName } from '../../src/ftp/names.js';
import { parseList, parseMlsd } from '../../src/ftp/listing.js';
import type { ListEntry } from '../../src/ftp/entry.js';

test('unusableName: every rule, with its reason', () => {
  const cases: [string, RegExp][] = [
    ['', /^empty name$/],
    ['.', /names a directory/],
    ['..', /names a directory/],
    ['/', /"\/"/],
    ['a/b', /"\/"/],
    ['../keep.txt', /"\/"/],
    ['/etc', /"\/"/],
    ['dir/', /"\/"/],
    ['a\\b', /"\\".*Windows/],
    ['..\\x', /"\\"/],
    ['\\', /"\\"/],
    ['a\0b', /NUL/],
    ['\0', /NUL/],
    ['a\rb', /CR/],
    ['trail\r', /CR/],
    ['a\nb', /LF/],
    ['\r\n', /CR/],
  ];
  for (const [name, reason] of cases) {
    const why = unusableName(name);
    assert.ok(why !== null, `${JSON.stringify(name)} must be unusable`);
    assert.match(why, reason, JSON.stringify(name));
  }
});

test('unusableName: ordinary and awkward names are usable', () => {
  for (const name of [
    'a',
    'file.txt',
    '.hidden',
    '...',
    '..x',
    'x..',
    '.. ',
    ' ..',
    ' leading space',
    'trailing space ',
    'semi;colon=x',
    'ünïcødé файл',
    '日本語',
    '\u{1F600}',
    'tab\there',
    'bell\u0007',
    'quote"s',
    "it's",
    '*?[glob]',
    '-rf',
    '~',
    'CON',
    'a'.repeat(255),
  ]) {
    assert.equal(unusableName(name), null, JSON.stringify(name));
  }
});

const f = (name: string, type: ListEntry['type'] = 'file'): ListEntry => ({ name, type, mtimePrecision: 0, mtimeApproximate: false });

test('screenListing: usable entries kept in order; unusable ones rejected once with their reason; . and .. left out', () => {
  const r = screenListing([f('b'), f('.'), f('..', 'dir'), f('../keep.txt'), f('a'), f('a/b', 'dir'), f(''), f('x\0y'), f('c')]);
  assert.deepEqual(r.entries.map((e) => e.name), ['b', 'a', 'c']);
  assert.deepEqual(r.rejected, [
    { name: '../keep.txt', reason: 'contains "/"' },
    { name: 'a/b', reason: 'contains "/"' },
    { name: '', reason: 'empty name' },
    { name: 'x\0y', reason: 'contains NUL' },
  ]);
});

test('screenListing: a duplicate name (twice a file, or a file and a directory) is ambiguous: no copy is used', () => {
  const r = screenListing([f('dup'), f('ok'), f('dup'), f('both', 'dir'), f('both'), f('three'), f('three'), f('three')]);
  assert.deepEqual(r.entries.map((e) => e.name), ['ok']);
  assert.deepEqual(r.rejected, [
    { name: 'dup', reason: DUPLICATE_ENTRY },
    { name: 'both', reason: DUPLICATE_ENTRY },
    { name: 'three', reason: DUPLICATE_ENTRY },
  ]);
  assert.equal(DUPLICATE_ENTRY, 'duplicate entry');
  // An unusable name listed twice is reported once, for what makes it unusable.
  assert.deepEqual(screenListing([f('a/b'), f('a/b')]).rejected, [{ name: 'a/b', reason: 'contains "/"' }]);
});

test('screenListing over the real parsers: MLSD, Unix LIST and DOS LIST', () => {
  const mlsd = parseMlsd(
    [
      'type=cdir; .',
      'type=pdir; ..',
      'type=file;size=1; ../keep.txt',
      'type=dir; ../newdir',
      'type=file;size=1; a\\b',
      'type=file;size=1; cr\rname',
      'type=file;size=1; nul\0name',
      'type=file;size=1; ',
      'type=file;size=1; good.txt',
      'type=file;size=1; twice',
      'type=dir; twice',
    ].join('\r\n') + '\r\n',
  );
  const m = screenListing(mlsd);
  assert.deepEqual(m.entries.map((e) => e.name), ['good.txt']);
  assert.deepEqual(m.rejected.map((r) => r.name), ['../keep.txt', '../newdir', 'a\\b', 'cr\rname', 'nul\0name', '', 'twice']);

  const unix = parseList(
    [
      'drwxr-xr-x 2 u g 4096 Jan  5  2023 .',
      'drwxr-xr-x 2 u g 4096 Jan  5  2023 ..',
      '-rw-r--r-- 1 u g 3 Jan  5  2023 ../up.txt',
      'drwxr-xr-x 2 u g 4096 Jan  5  2023 x/y',
      '-rw-r--r-- 1 u g 3 Jan  5  2023 fine',
    ].join('\r\n'),
  );
  const u = screenListing(unix);
  assert.deepEqual(u.entries.map((e) => e.name), ['fine']);
  assert.deepEqual(u.rejected.map((r) => r.name), ['../up.txt', 'x/y']);

  const dos = parseList(['01-15-24  03:04PM       <DIR>          ..\\evil', '01-15-24  03:04PM                 3 ok.txt', '01-15-24  03:04PM                 3 C:\\x'].join('\r\n'));
  const d = screenListing(dos);
  assert.deepEqual(d.entries.map((e) => e.name), ['ok.txt']);
  assert.deepEqual(d.rejected.map((r) => r.name), ['..\\evil', 'C:\\x']);
});
