/**
 * bin/fxpmirror chooses between the bundle (dist/bundle, scripts/bundle.mjs)
 * and the compiled modules (dist/src): the bundle only while it is at least
 * as new as dist/src, so a bare `tsc` never leaves old code running, and
 * never under FXPMIRROR_NO_BUNDLE. Run on a copy of bin/fxpmirror in a
 * temporary tree whose two entry points say which one ran. The real
 * bundle runs in every integration test (npm test builds it) and from the
 * installed package (package.test.ts).
 *
 * The bundle's V8 code cache (dist/bundle/cache): written by a run that had
 * none, used by the next; a corrupt or foreign one is rejected and replaced,
 * and a folder that cannot be written costs nothing: every run still runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function tree(): { root: string; bin: string; bundle: string; modules: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-bin-'));
  fs.mkdirSync(path.join(root, 'bin'));
  for (const f of ['fxpmirror', 'package.json']) fs.copyFileSync(path.join(ROOT, 'bin', f), path.join(root, 'bin', f));
  fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
  const entry = (file: string, text: string): string => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
    return path.join(root, file);
  };
  const say = (name: string): string => `console.log(${JSON.stringify(name)}, argv.slice(2).join(' '))`;
  return {
    root,
    bin: path.join(root, 'bin', 'fxpmirror'),
    // A CommonJS bundle, as scripts/bundle.mjs makes it, with a few functions for V8 to cache.
    bundle: entry('dist/bundle/cli/index.cjs', `const words = (a) => a.map((w) => String(w)).join(' ');\nexports.main = async function main(argv) { ${say('bundle')}; if (argv.includes('fail')) process.exitCode = 2; };\nvoid words;\n`),
    modules: entry('dist/src/cli/index.js', `export async function main(argv) { ${say('modules')}; }\n`),
  };
}

function run(bin: string, env: NodeJS.ProcessEnv = {}, uid?: number): string {
  const r = spawnSync(process.execPath, [bin, 'mirror', 'a', 'b'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', uid });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function setMtime(file: string, seconds: number): void {
  fs.utimesSync(file, seconds, seconds);
}

test('bin/fxpmirror runs the bundle when it is as new as dist/src or newer, with the arguments', (t) => {
  const { root, bin, bundle, modules } = tree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  setMtime(modules, 1_000_000);
  setMtime(bundle, 1_000_000); // npm pack gives every file the same time
  assert.equal(run(bin), 'bundle mirror a b');
  setMtime(bundle, 1_000_100);
  assert.equal(run(bin), 'bundle mirror a b');
});

test('bin/fxpmirror runs dist/src when the bundle is older (a bare tsc), missing, or FXPMIRROR_NO_BUNDLE is set', (t) => {
  const { root, bin, bundle, modules } = tree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  setMtime(bundle, 1_000_000);
  setMtime(modules, 1_000_100);
  assert.equal(run(bin), 'modules mirror a b');
  setMtime(bundle, 1_000_200);
  assert.equal(run(bin, { FXPMIRROR_NO_BUNDLE: '1' }), 'modules mirror a b');
  fs.rmSync(bundle);
  assert.equal(run(bin), 'modules mirror a b');
});

const CACHE = (root: string): string => path.join(root, 'dist', 'bundle', 'cache');

function cacheFiles(root: string): string[] {
  return fs.existsSync(CACHE(root)) ? fs.readdirSync(CACHE(root)).sort() : [];
}

/** A tree whose bundle runs, with its code cache made by one run. */
function cachedTree(): { root: string; bin: string; cache: string } {
  const { root, bin, bundle, modules } = tree();
  setMtime(modules, 1_000_000);
  setMtime(bundle, 1_000_100);
  assert.deepEqual(cacheFiles(root), []);
  assert.equal(run(bin), 'bundle mirror a b');
  const files = cacheFiles(root);
  assert.equal(files.length, 1, files.join(', '));
  assert.match(files[0], /^mirror-\d+-1000100000-v\d+\.\d+\.\d+-[a-z0-9]+\.v8$/);
  return { root, bin, cache: path.join(CACHE(root), files[0]) };
}

test('bin/fxpmirror writes the code cache of a command after its first run and uses it unchanged after that', (t) => {
  const { root, bin, cache } = cachedTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const before = fs.readFileSync(cache);
  const ino = fs.statSync(cache).ino;
  assert.ok(before.length > 0);
  assert.equal(run(bin), 'bundle mirror a b');
  // Accepted: not written again (a rejected cache is replaced by a new file).
  assert.equal(fs.statSync(cache).ino, ino);
  assert.deepEqual(fs.readFileSync(cache), before);
  assert.deepEqual(cacheFiles(root), [path.basename(cache)]);
  assert.equal(run(bin, { FXPMIRROR_NO_CODE_CACHE: '1' }), 'bundle mirror a b');
  assert.deepEqual(cacheFiles(root), [path.basename(cache)], 'FXPMIRROR_NO_CODE_CACHE writes nothing');
});

test('bin/fxpmirror writes no code cache from a run that failed, and writes it from the next one that succeeds', (t) => {
  const { root, bin, bundle, modules } = tree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  setMtime(modules, 1_000_000);
  setMtime(bundle, 1_000_100);
  const failed = spawnSync(process.execPath, [bin, 'mirror', 'fail'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
  assert.equal(failed.status, 2, failed.stderr);
  assert.equal(failed.stdout.trim(), 'bundle mirror fail');
  assert.deepEqual(cacheFiles(root), [], 'a failed run leaves no cache');
  assert.equal(run(bin), 'bundle mirror a b');
  const files = cacheFiles(root);
  assert.equal(files.length, 1, files.join(', '));
  assert.ok(fs.statSync(path.join(CACHE(root), files[0])).size > 0);
});

test('bin/fxpmirror runs the bundle whatever the cache holds (flipped bytes, cut short, empty, junk) and replaces it', (t) => {
  const { root, bin, cache } = cachedTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const good = fs.readFileSync(cache);
  const flipped = Buffer.from(good);
  // Past V8's header: without the checksum V8 accepted such a cache and crashed.
  for (let i = 64; i < flipped.length; i += 7) flipped[i] ^= 0x5a;
  for (const bad of [flipped, good.subarray(0, good.length >> 1), Buffer.alloc(0), Buffer.alloc(good.length, 7)]) {
    fs.writeFileSync(cache, bad);
    assert.equal(run(bin), 'bundle mirror a b');
    const now = fs.readFileSync(cache);
    assert.notDeepEqual(now, bad, 'a rejected cache is replaced');
    assert.ok(now.length > 0);
    assert.deepEqual(cacheFiles(root), [path.basename(cache)], 'no temporary file left');
  }
});

test('bin/fxpmirror runs the bundle when the cache cannot be written, and leaves nothing behind', (t) => {
  const { root, bin, bundle, modules } = tree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  setMtime(modules, 1_000_000);
  setMtime(bundle, 1_000_100);
  // The cache folder's name taken by a file: no folder can be made there.
  fs.writeFileSync(CACHE(root), 'not a folder');
  assert.equal(run(bin), 'bundle mirror a b');
  assert.equal(fs.readFileSync(CACHE(root), 'utf8'), 'not a folder');
  fs.rmSync(CACHE(root));
  // A read-only install: as root, run as nobody (root writes anywhere); otherwise a folder without write permission.
  fs.mkdirSync(CACHE(root));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    for (let dir = CACHE(root); dir !== path.dirname(root); dir = path.dirname(dir)) fs.chmodSync(dir, 0o755);
  } else {
    fs.chmodSync(CACHE(root), 0o555);
    t.after(() => fs.chmodSync(CACHE(root), 0o755));
  }
  assert.equal(run(bin, {}, asRoot ? 65534 : undefined), 'bundle mirror a b');
  assert.deepEqual(fs.readdirSync(CACHE(root)), []);
});

test('bin/fxpmirror leaves no temporary file when the finished cache cannot be renamed into place', (t) => {
  const { root, bin, cache } = cachedTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  // The cache's name taken by a folder that is not empty: unreadable as a cache, and no rename can replace it.
  fs.rmSync(cache);
  fs.mkdirSync(cache);
  fs.writeFileSync(path.join(cache, 'x'), '');
  assert.equal(run(bin), 'bundle mirror a b');
  assert.deepEqual(cacheFiles(root), [path.basename(cache)]);
  assert.deepEqual(fs.readdirSync(cache), ['x']);
});

test('bin/fxpmirror keeps one code cache per command, and a rebuilt bundle never uses an older one', (t) => {
  const { root, bin, cache } = cachedTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [bin, '--version'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'bundle --version');
  assert.deepEqual(cacheFiles(root).map((f) => f.split('-')[0]), ['mirror', 'other']);
  // A rebuild (another time, here also another length): a cache of its own.
  const bundle = path.join(root, 'dist', 'bundle', 'cli', 'index.cjs');
  fs.appendFileSync(bundle, 'exports.main = async function main(argv) { console.log("rebuilt", argv.slice(2).join(" ")); };\n');
  setMtime(bundle, 1_000_200);
  assert.equal(run(bin), 'rebuilt mirror a b');
  assert.equal(cacheFiles(root).filter((f) => f.startsWith('mirror-')).length, 2);
  assert.ok(fs.existsSync(cache));
});

test('bin/fxpmirror exits 7, never 0, when the run stops with main() unsettled (nothing left to wait for), from the bundle or dist/src', (t) => {
  const { root, bin, bundle, modules } = tree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.writeFileSync(bundle, 'exports.main = () => new Promise(() => {});\n');
  fs.writeFileSync(modules, 'export function main() { return new Promise(() => {}); }\n');
  setMtime(modules, 1_000_000);
  for (const env of [{}, { FXPMIRROR_NO_BUNDLE: '1' }]) {
    setMtime(bundle, 1_000_100);
    const r = spawnSync(process.execPath, [bin, 'mirror', 'a', 'b'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
    assert.equal(r.status, 7, JSON.stringify(env));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'fxpmirror: internal error: the run stopped before it was finished (nothing left to wait for)\n');
  }
});
