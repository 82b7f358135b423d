/**
 * bin/fxpmirror chooses between the bundle (dist/bundle, scripts/bundle.mjs)
 * and the compiled modules (dist/src): the bundle only while it is at least
 * as new as dist/src, so a bare `tsc` never leaves old code running, and
 * never under FXPMIRROR_NO_BUNDLE. Run on a copy of bin/fxpmirror in a
 * temporary tree whose two entry points say which one ran. The real
 * bundle runs in every integration test (npm test builds it) and from the
 * installed package (package.test.ts).
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
  fs.copyFileSync(path.join(ROOT, 'bin', 'fxpmirror'), path.join(root, 'bin', 'fxpmirror'));
  fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
  const entry = (dir: string, name: string): string => {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    const file = path.join(root, dir, 'index.js');
    fs.writeFileSync(file, `export async function main(argv) { console.log(${JSON.stringify(name)}, argv.slice(2).join(' ')); }\n`);
    return file;
  };
  return { root, bin: path.join(root, 'bin', 'fxpmirror'), bundle: entry('dist/bundle/cli', 'bundle'), modules: entry('dist/src/cli', 'modules') };
}

function run(bin: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [bin, 'mirror', 'a', 'b'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
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
