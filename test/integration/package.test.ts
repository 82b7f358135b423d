/**
 * The npm package as a user gets it: `npm pack` on a copy of the working tree
 * without dist/ (as a fresh clone; prepack builds), then
 * `npm install -g --prefix <tmp> <tarball>`, then `fxpmirror --help` from
 * <tmp>/bin.
 *
 * No network: the runtime dependencies come from this checkout's
 * node_modules (the non-dev entries of package-lock.json), packed and served
 * by a small registry on 127.0.0.1 for the length of the test, with an empty
 * npm cache and no user .npmrc, so the install resolves exactly what
 * package.json declares.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-package-test-'));
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };

/** npm's environment: no user config, a cache of its own, no notices: nothing from this machine's npm setup leaks in. */
function npmEnv(registry?: string): NodeJS.ProcessEnv {
  const userconfig = path.join(TMP, 'npmrc');
  fs.writeFileSync(userconfig, '');
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_userconfig: userconfig, npm_config_cache: path.join(TMP, 'cache'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  if (registry) env.npm_config_registry = registry;
  return env;
}

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8', timeout: 240_000 });
}

/** npm against the local registry: asynchronous, so this process can serve it meanwhile. */
function npmAsync(args: string[], cwd: string, registry: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd, env: npmEnv(registry), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

interface PackResult {
  filename: string;
  integrity: string;
  shasum: string;
  files: { path: string }[];
}

function packJson(r: SpawnSyncReturns<string>): PackResult[] {
  assert.equal(r.status, 0, `npm pack: ${r.stderr}`);
  // prepack's output (tsc) goes to stderr; stdout is the JSON.
  return JSON.parse(r.stdout) as PackResult[];
}

/** A registry of the runtime dependencies, packed from node_modules: name -> packument. */
function localRegistry(dir: string): Map<string, { packument: object; tarballs: Map<string, string> }> {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const folders = Object.entries(lock.packages)
    .filter(([p, e]) => p.startsWith('node_modules/') && !e.dev && !e.devOptional)
    .map(([p]) => path.join(ROOT, p));
  assert.ok(folders.length >= 4, `runtime dependencies: ${folders.join(', ')}`);
  // --ignore-scripts: a dependency's own prepack (its build) must not run here.
  const packed = packJson(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir, ...folders], dir));
  const out = new Map<string, { packument: { name: string; versions: Record<string, object>; 'dist-tags': Record<string, string> }; tarballs: Map<string, string> }>();
  packed.forEach((p, i) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(folders[i], 'package.json'), 'utf8')) as { name: string; version: string };
    let entry = out.get(manifest.name);
    if (!entry) {
      entry = { packument: { name: manifest.name, versions: {}, 'dist-tags': {} }, tarballs: new Map() };
      out.set(manifest.name, entry);
    }
    entry.packument.versions[manifest.version] = { ...manifest, dist: { tarball: `@@/-/${p.filename}`, integrity: p.integrity, shasum: p.shasum } };
    entry.packument['dist-tags'].latest = manifest.version;
    entry.tarballs.set(p.filename, path.join(dir, p.filename));
  });
  return out;
}

describe('npm package: pack, global install into a temporary prefix, fxpmirror --help', () => {
  let server: http.Server;
  let registry = '';
  let packed: PackResult;
  let install: { status: number | null; stdout: string; stderr: string };
  const prefix = path.join(TMP, 'prefix');

  before(async () => {
    // A copy of what a clone has (no dist/, no node_modules; node_modules linked for tsc).
    const clone = path.join(TMP, 'clone');
    fs.mkdirSync(clone);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'bin', 'scripts', 'src', 'jobs']) {
      fs.cpSync(path.join(ROOT, f), path.join(clone, f), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    [packed] = packJson(npm(['pack', '--json', '--pack-destination', TMP], clone));

    const deps = localRegistry(fs.mkdtempSync(path.join(TMP, 'deps-')));
    server = http.createServer((req, res) => {
      const name = decodeURIComponent((req.url ?? '/').slice(1));
      const tarball = /^(.+)\/-\/([^/]+\.tgz)$/.exec(name);
      const dep = deps.get(tarball ? tarball[1] : name);
      const file = tarball && dep?.tarballs.get(tarball[2]);
      if (file) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(fs.readFileSync(file));
      } else if (dep && !tarball) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(dep.packument).replaceAll('"@@/', `"${registry}${encodeURIComponent(name).replace('%40', '@')}/`));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not found"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    install = await npmAsync(['install', '-g', '--prefix', prefix, path.join(TMP, packed.filename)], TMP, registry);
  });

  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  test('the tarball holds the built CLI, the job examples and the LICENSE, and no source maps', () => {
    const files = packed.files.map((f) => f.path).sort();
    assert.equal(packed.filename, `${PKG.name}-${PKG.version}.tgz`);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/fxpmirror', 'bin/package.json', 'dist/src/cli/index.js', 'dist/bundle/cli/index.cjs', 'jobs/fxpmirror.schema.json', 'jobs/demo.yaml']) {
      assert.ok(files.includes(f), `${f} missing from ${files.join(', ')}`);
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.map')), [], 'a map would point to sources the package does not ship');
    assert.deepEqual(files.filter((f) => !/^(LICENSE|README\.md|package\.json|bin\/(fxpmirror|package\.json)|dist\/src\/.+\.js|dist\/bundle\/cli\/index\.cjs|jobs\/[^/]+\.(yaml|json))$/.test(f)), []);
    // Every module of src/ is there, and nothing else (no tests, no stale modules).
    const modules = (dir: string): string[] => fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => `dist/${dir}/${f.replace(/\.ts$/, '.js')}`);
    assert.deepEqual(files.filter((f) => f.startsWith('dist/src/')), modules('src').sort());
  });

  test('npm install -g from the tarball succeeds offline, with no warnings, and links the binary', () => {
    assert.equal(install.status, 0, `npm install: ${install.stderr}`);
    assert.deepEqual(install.stderr.split('\n').filter((l) => /warn|prepare/i.test(l)), []);
    const bin = path.join(prefix, 'bin', 'fxpmirror');
    assert.ok(fs.existsSync(bin), bin);
    const installed = path.join(prefix, 'lib', 'node_modules', PKG.name);
    assert.ok(fs.existsSync(path.join(installed, 'LICENSE')));
    for (const dep of ['commander', 'minimatch', 'p-limit', 'yaml']) {
      assert.ok(fs.existsSync(path.join(installed, 'node_modules', dep, 'package.json')), `${dep} installed`);
    }
  });

  test('fxpmirror --help and --version work from the install, outside the checkout', () => {
    const bin = path.join(prefix, 'bin', 'fxpmirror');
    const env = { PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? ''}`, HOME: TMP };
    const help = spawnSync(bin, ['--help'], { cwd: TMP, env, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: fxpmirror /m);
    for (const cmd of ['copy', 'mirror', 'probe', 'ls', 'run', 'validate']) assert.match(help.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd);
    assert.equal(help.stderr, '');
    const version = spawnSync(bin, ['--version'], { cwd: TMP, env, encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), PKG.version);
  });
});
