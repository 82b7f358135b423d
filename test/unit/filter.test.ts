import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import { DEFAULT_MIRROR_OPTIONS } from '../../src/tree/options.js';
import { PathFilter, parsePatternList } from '../../src/tree/filter.js';

function file(name: string, size?: number, mtime?: string): ListEntry {
  return {
    name,
    type: 'file',
    size,
    mtime: mtime === undefined ? undefined : new Date(mtime),
    mtimePrecision: 0,
    mtimeApproximate: false,
  };
}

function f(spec: Partial<{ include: string[]; exclude: string[]; minSize: number; maxSize: number; newerThan: Date; olderThan: Date }>): PathFilter {
  return new PathFilter({ include: [], exclude: [], ...spec });
}

const want = (flt: PathFilter, path: string, size?: number, mtime?: string) =>
  flt.wantFile(path, file(path.split('/').pop()!, size, mtime));

test('part files are always excluded, files and dirs, at any depth, even with include *', () => {
  const flt = f({ include: ['*'] });
  assert.equal(want(flt, '.a.fxpmirror-part'), false);
  assert.equal(want(flt, 'd/e/.a.fxpmirror-part'), false);
  assert.equal(flt.wantDir('.d.fxpmirror-part'), false);
  assert.equal(want(flt, 'a'), true);
});

test('no patterns: everything wanted, root always wanted', () => {
  const flt = f({});
  assert.equal(flt.wantDir(''), true);
  assert.equal(flt.wantDir('a/b/c'), true);
  assert.equal(want(flt, 'a/b/c.txt'), true);
  assert.equal(want(flt, '.htaccess'), true);
});

test('pattern without slash matches the basename at any depth (files and dirs)', () => {
  const flt = f({ exclude: ['*.iso', 'CVS'] });
  assert.equal(want(flt, 'x.iso'), false);
  assert.equal(want(flt, 'pub/linux/x.iso'), false);
  assert.equal(want(flt, 'pub/linux/x.iso.sig'), true);
  assert.equal(flt.wantDir('src/CVS'), false);
  assert.equal(flt.wantDir('CVS'), false);
  assert.equal(want(flt, 'src/CVS'), false, 'also a file named CVS');
  assert.equal(flt.wantDir('src/CVSX'), true);
});

test('dot: true — wildcards match dot files', () => {
  const flt = f({ exclude: ['*'] });
  assert.equal(want(flt, '.htaccess'), false);
  const flt2 = f({ exclude: ['pub/*'] });
  assert.equal(want(flt2, 'pub/.message'), false);
  assert.equal(want(flt2, '.message'), true);
});

test('pattern with a slash is anchored at the root', () => {
  const flt = f({ exclude: ['pub/*.iso'] });
  assert.equal(want(flt, 'pub/a.iso'), false);
  assert.equal(want(flt, 'mirror/pub/a.iso'), true);
  assert.equal(want(flt, 'pub/sub/a.iso'), true, '* does not cross "/"');
  const deep = f({ exclude: ['pub/**/*.iso'] });
  assert.equal(want(deep, 'pub/sub/a.iso'), false);
  assert.equal(want(deep, 'pub/a.iso'), false);
});

test('leading "/" or "./" anchors a slash-free pattern to the root', () => {
  const flt = f({ exclude: ['/README'] });
  assert.equal(want(flt, 'README'), false);
  assert.equal(want(flt, 'docs/README'), true);
  const flt2 = f({ exclude: ['./README'] });
  assert.equal(want(flt2, 'README'), false);
  assert.equal(want(flt2, 'docs/README'), true);
});

test('trailing "/" applies to directories only', () => {
  const flt = f({ exclude: ['tmp/'] });
  assert.equal(flt.wantDir('tmp'), false);
  assert.equal(flt.wantDir('a/tmp'), false);
  assert.equal(want(flt, 'tmp'), true, 'a file named tmp is kept');
  assert.equal(want(flt, 'a/tmp/x'), false, 'files under a pruned dir are out');
});

test('excluding a directory prunes its subtree: "logs", "logs/**", "logs/"', () => {
  for (const pat of ['logs', 'logs/**', 'logs/', '/logs']) {
    const flt = f({ exclude: [pat] });
    assert.equal(flt.wantDir('logs'), false, pat);
    assert.equal(flt.wantDir('logs/2024'), false, pat);
    assert.equal(want(flt, 'logs/a.txt'), false, pat);
    assert.equal(want(flt, 'logs/2024/01/a.txt'), false, pat);
    assert.equal(flt.wantDir('logsx'), true, pat);
    assert.equal(want(flt, 'logsx/a'), true, pat);
  }
  // "logs/**" anchored: a nested logs dir is kept; "logs" (basename) prunes it too.
  assert.equal(f({ exclude: ['logs/**'] }).wantDir('app/logs'), true);
  assert.equal(f({ exclude: ['logs'] }).wantDir('app/logs'), false);
  assert.equal(f({ exclude: ['**/logs/**'] }).wantDir('app/logs'), false);
});

test('include never prunes directories, and include requires a match for files', () => {
  const flt = f({ include: ['*.txt'] });
  assert.equal(flt.hasIncludes, true);
  assert.equal(flt.wantDir('deep'), true);
  assert.equal(flt.wantDir('deep/er'), true);
  assert.equal(want(flt, 'deep/er/a.txt'), true);
  assert.equal(want(flt, 'deep/er/a.bin'), false);
  assert.equal(want(flt, 'a.bin'), false);
});

test('include of a directory takes its whole subtree', () => {
  for (const pat of ['docs', 'docs/', 'docs/**', '/docs']) {
    const flt = f({ include: [pat] });
    assert.equal(want(flt, 'docs/a.bin'), true, pat);
    assert.equal(want(flt, 'docs/x/y/z.bin'), true, pat);
    assert.equal(want(flt, 'other/a.bin'), false, pat);
    assert.equal(want(flt, 'a.bin'), false, pat);
  }
  assert.equal(want(f({ include: ['docs/'] }), 'docs'), false, 'dir-only include does not take a file named docs');
});

test('exclude wins over include', () => {
  const flt = f({ include: ['*.txt', 'docs'], exclude: ['secret*', 'docs/private/'] });
  assert.equal(want(flt, 'a.txt'), true);
  assert.equal(want(flt, 'secret.txt'), false);
  assert.equal(want(flt, 'docs/secret-plan.bin'), false);
  assert.equal(want(flt, 'docs/private/a.txt'), false);
  assert.equal(flt.wantDir('docs/private'), false);
  assert.equal(want(flt, 'docs/public/a.bin'), true);
});

test('"!" and "#" are literal in patterns (no negation, no comments)', () => {
  const flt = f({ exclude: ['!important', '#tmp#'] });
  assert.equal(want(flt, '!important'), false);
  assert.equal(want(flt, 'other'), true, '"!x" must not mean "everything but x"');
  assert.equal(want(flt, '#tmp#'), false);
});

test('brace and class globs work', () => {
  const flt = f({ exclude: ['*.{tmp,bak}', '[0-9]*'] });
  assert.equal(want(flt, 'a.tmp'), false);
  assert.equal(want(flt, 'a.bak'), false);
  assert.equal(want(flt, 'a.txt'), true);
  assert.equal(want(flt, 'sub/9lives'), false);
});

test('empty patterns are ignored', () => {
  const flt = f({ include: [''], exclude: ['', '/'] });
  assert.equal(flt.hasIncludes, false);
  assert.equal(want(flt, 'a'), true);
});

test('size bounds: inclusive, only when the size is known', () => {
  const flt = f({ minSize: 10, maxSize: 100 });
  assert.equal(want(flt, 'a', 9), false);
  assert.equal(want(flt, 'a', 10), true);
  assert.equal(want(flt, 'a', 100), true);
  assert.equal(want(flt, 'a', 101), false);
  assert.equal(want(flt, 'a', undefined), true);
  assert.equal(want(f({ maxSize: 0 }), 'e', 0), true);
});

test('time bounds: strict, only when the mtime is known', () => {
  const flt = f({ newerThan: new Date('2024-01-01T00:00:00Z'), olderThan: new Date('2024-06-01T00:00:00Z') });
  assert.equal(want(flt, 'a', 1, '2023-12-31T23:59:59Z'), false);
  assert.equal(want(flt, 'a', 1, '2024-01-01T00:00:00Z'), false, 'not newer than itself');
  assert.equal(want(flt, 'a', 1, '2024-01-01T00:00:00.001Z'), true);
  assert.equal(want(flt, 'a', 1, '2024-05-31T23:59:59.999Z'), true);
  assert.equal(want(flt, 'a', 1, '2024-06-01T00:00:00Z'), false);
  assert.equal(want(flt, 'a', 1, undefined), true);
});

test('bounds do not apply to directories', () => {
  const flt = f({ minSize: 10, newerThan: new Date('2030-01-01T00:00:00Z') });
  assert.equal(flt.wantDir('any/dir'), true);
});

test('parsePatternList: comments, blank lines, CRLF, surrounding spaces', () => {
  assert.deepEqual(parsePatternList('# header\n*.iso\r\n\n   \n  logs/  \r\n#x\n*.tmp'), ['*.iso', 'logs/', '*.tmp']);
  assert.deepEqual(parsePatternList(''), []);
});

test('fromOptions merges --exclude and the exclude-from text, and carries bounds', () => {
  const flt = PathFilter.fromOptions(
    {
      ...DEFAULT_MIRROR_OPTIONS,
      exclude: ['*.iso'],
      include: [],
      maxSize: 1000,
      newerThan: new Date('2024-01-01T00:00:00Z'),
    },
    '# comment\nlogs/\n\n*.tmp\r\n',
  );
  assert.equal(want(flt, 'a.iso'), false);
  assert.equal(flt.wantDir('x/logs'), false);
  assert.equal(want(flt, 'a.tmp'), false);
  assert.equal(want(flt, 'a.txt', 1001), false);
  assert.equal(want(flt, 'a.txt', 5, '2023-01-01T00:00:00Z'), false);
  assert.equal(want(flt, 'a.txt', 5, '2024-02-01T00:00:00Z'), true);
});

test('fromOptions does not alias the options arrays', () => {
  const opts = { ...DEFAULT_MIRROR_OPTIONS, exclude: ['a'], include: [] };
  PathFilter.fromOptions(opts, 'b\n');
  assert.deepEqual(opts.exclude, ['a']);
});

test('ancestor verdicts stay correct across many calls (cache)', () => {
  const flt = f({ exclude: ['b/'] });
  for (let i = 0; i < 3; i++) {
    assert.equal(want(flt, 'a/b/c/d.txt'), false);
    assert.equal(want(flt, 'a/bb/c/d.txt'), true);
    assert.equal(flt.wantDir('a/b/c'), false);
  }
});

test('links and special entries go through the same file rules', () => {
  const flt = f({ exclude: ['*.lnk'] });
  const link: ListEntry = { name: 'x.lnk', type: 'link', mtimePrecision: 0, mtimeApproximate: false, target: 'y' };
  assert.equal(flt.wantFile('x.lnk', link), false);
  assert.equal(flt.wantFile('y', { ...link, name: 'y' }), true);
});
