/**
 * remote-path.ts: the one builder of write paths proves each result stays
 * inside the job's root, and refuses everything else with PathEscapeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path/posix';
import { PathEscapeError, containedPath } from '../../src/ftp/remote-path.js';
import { containedPartPath, containedPaths, isPartName, partName } from '../../src/fxp/part-name.js';
import { FtpError } from '../../src/ftp/errors.js';
import { exitCodeFor, EXIT } from '../../src/cli/exit.js';
import type { FtpConnection } from '../../src/ftp/connection.js';

test('containedPath: joins relative paths below the root', () => {
  const cases: [string, string[], string][] = [
    ['/target', ['a.txt'], '/target/a.txt'],
    ['/target', ['sub/dir/a.txt'], '/target/sub/dir/a.txt'],
    ['/target', ['sub', 'a.txt'], '/target/sub/a.txt'],
    ['/target/', ['a'], '/target/a'],
    ['/target//x/', ['a'], '/target/x/a'],
    ['/a/../target', ['f'], '/target/f'],
    ['/', ['a'], '/a'],
    ['/', ['a/b'], '/a/b'],
    ['/target', [''], '/target'],
    ['/target', [], '/target'],
    ['/', [], '/'],
    ['/target', ['', 'a'], '/target/a'],
    ['/t', ['.hidden', '...', '..x', 'x..', ' sp ', 'ü 日本'], '/t/.hidden/.../..x/x../ sp /ü 日本'],
    ['relative/root', ['f'], 'relative/root/f'],
  ];
  for (const [root, rel, want] of cases) assert.equal(containedPath(root, ...rel), want, `${root} + ${JSON.stringify(rel)}`);
});

test('containedPath: refuses every way out, with a typed error', () => {
  const cases: [string, string[], RegExp][] = [
    ['/target', ['..'], /"\.\." segment/],
    ['/target', ['../keep.txt'], /"\.\." segment/],
    ['/target', ['sub/../../x'], /"\.\." segment/],
    ['/target', ['sub/..'], /"\.\." segment/],
    ['/target', ['a', '..', '..'], /"\.\." segment/],
    ['/target', ['.'], /"\." segment/],
    ['/target', ['a/./b'], /"\." segment/],
    ['/target', ['/etc/passwd'], /absolute/],
    ['/target', ['/'], /absolute/],
    ['/target', ['a//b'], /empty segment/],
    ['/target', ['a/'], /empty segment/],
    ['/target', ['a\\b'], /"\\"/],
    ['/target', ['..\\x'], /"\\"/],
    ['/target', ['a\rb'], /CR, LF or NUL/],
    ['/target', ['a\nDELE x'], /CR, LF or NUL/],
    ['/target', ['a\0'], /CR, LF or NUL/],
    // The first bad segment names the reason, whatever a later one holds (one test of the whole argument first: remote-path.ts).
    ['/target', ['a\\b/..'], /"\\"/],
    ['/target', ['x/../a\rb'], /"\.\." segment/],
    ['/target', ['a\r/b\\c'], /CR, LF or NUL/],
    ['/target', ['ok/a\\\n'], /"\\"/],
    ['/target', ['ok', 'b\0/..'], /CR, LF or NUL/],
    ['/target', ['ok\\x', '..'], /"\\"/],
    ['/target\r\nDELE /x', ['a'], /root contains/],
    ['', ['a'], /root is empty/],
    ['.', ['a'], /leaves the root/],
  ];
  // Twice over: the module-level regexes keep no state between calls.
  for (const [root, rel, reason] of [...cases, ...cases]) {
    assert.throws(
      () => containedPath(root, ...rel),
      (err: unknown) => err instanceof PathEscapeError && err instanceof FtpError && err.code === 'EPATH' && reason.test(err.message),
      `${JSON.stringify(root)} + ${JSON.stringify(rel)}`,
    );
  }
});

test('containedPath: every result, normalised, is the root or below it (a sweep of hostile segments)', () => {
  const pieces = ['a', '..', '.', '', '/', '\\', 'b/..', '../..', '%2e%2e', '..%2f', '.a', 'a\r', ' ', '//', 'x/y'];
  const roots = ['/', '/t', '/t/u/', '/t/../t2'];
  let accepted = 0;
  for (const root of roots) {
    const base = path.normalize(root).replace(/(.)\/$/, '$1');
    for (const a of pieces) {
      for (const b of pieces) {
        let got: string;
        try {
          got = containedPath(root, a, b);
        } catch (err) {
          assert.ok(err instanceof PathEscapeError, String(err));
          continue;
        }
        accepted++;
        assert.equal(path.normalize(got), got, got);
        assert.ok(got === base || got.startsWith(base === '/' ? '/' : `${base}/`), `${root} + ${a} + ${b} -> ${got}`);
        assert.ok(!/[\r\n\0\\]/.test(got.slice(base.length)), got);
      }
    }
  }
  assert.ok(accepted > 20, 'the sweep accepted the harmless combinations');
});

test('containedPartPath: the part name beside the file, inside the root', () => {
  assert.equal(containedPartPath('/target', 'a.txt'), '/target/.a.txt.fxpmirror-part');
  assert.equal(containedPartPath('/target', 'sub/a b.txt'), '/target/sub/.a b.txt.fxpmirror-part');
  assert.equal(containedPartPath('/', 'x'), '/.x.fxpmirror-part');
  assert.ok(isPartName(partName('x')));
  for (const bad of ['', '..', '../a', 'a/../../b', '/abs', 'sub/', 'a\\b']) {
    assert.throws(() => containedPartPath('/target', bad), PathEscapeError, bad);
  }
});

test('containedPaths: the final path and the part path of one file, the same as built one by one', () => {
  for (const [root, rel] of [['/target', 'a.txt'], ['/target/', 'sub/a b.txt'], ['/', 'x']]) {
    assert.deepEqual(containedPaths(root, rel), { final: containedPath(root, rel), part: containedPartPath(root, rel) });
  }
  for (const bad of ['', '..', '../a', 'a/../../b', '/abs', 'sub/', 'a\\b', 'a\nb']) {
    assert.throws(() => containedPaths('/target', bad), PathEscapeError, bad);
  }
});

test('a path escape is a usage error for the CLI (exit 2), never a crash', () => {
  let err: unknown;
  try {
    containedPath('/dst', '..');
  } catch (e) {
    err = e;
  }
  assert.equal(exitCodeFor(err), EXIT.USAGE);
});

test('write commands take only a ContainedPath: a plain string does not compile (checked by tsc through @ts-expect-error)', () => {
  // Never run: `npx tsc` fails with "Unused '@ts-expect-error' directive" the day one of these compiles.
  const typeChecks = (c: FtpConnection, raw: string) => {
    // @ts-expect-error DELE of an unchecked path
    void c.request('DELE', raw);
    // @ts-expect-error RNTO of an unchecked path
    void c.cmd('RNTO', raw);
    // @ts-expect-error STOR of an unchecked path
    void c.openData('STOR', raw);
    // @ts-expect-error RMD in a pipeline
    void c.pipeline([['NOOP'], ['RMD', raw]]);
    // @ts-expect-error MKD in a batch
    c.sendBatch([['MKD', raw]]);
    // @ts-expect-error DELE needs a contained path
    void c.delete(raw);
    // @ts-expect-error MFMT needs a contained path
    void c.setMtime(raw, new Date());
    // Reads stay free, and a built path is accepted.
    void c.request('SIZE', raw);
    void c.openData('RETR', raw);
    void c.request('DELE', containedPath('/t', 'x'));
  };
  assert.equal(typeof typeChecks, 'function');
});
