/**
 * Locks keyed by what they protect, and fan-out targets that fail on their
 * own, through the real CLI against real servers.
 *
 *   src   pyftpdlib  127.0.3.31:2331
 *   dst   proftpd    127.0.3.32:2332   (also named "mirror" in a second job file)
 *   dst2  vsftpd     127.0.3.33:2333
 *   dead  nothing    127.0.3.39:2399   (connection refused)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { defaultLockDir, lockFileName, targetLockKey } from '../../src/job/lock.js';
import { LAB_PASSWORD, LAB_USER, stopAll, type LabServer } from '../lab/lab.js';
import { hashTree, lines, requireServers, runCli, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd', 'vsftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-targets-test-'));
const LOCKS = path.join(TMP, 'locks');
/** Copied one at a time (parallel 1): about two seconds, so other runs start while it holds its lock. */
const SLOW_FILES = 600;

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function jobFile(name: string, servers: Record<string, string>, jobs: string): string {
  const file = path.join(TMP, `${name}.yaml`);
  const list = Object.entries(servers)
    .map(([n, addr]) => `  ${n}:\n    url: ftp://${addr}/\n    user: ${LAB_USER}\n    password: \${TT_PW}\n    timeouts: { connect: 5s }\n`)
    .join('');
  fs.writeFileSync(file, `version: 1\nservers:\n${list}defaults:\n  retries: 0\njobs:\n${jobs}`);
  return file;
}

const SERVERS = { src: '127.0.3.31:2331', dst: '127.0.3.32:2332', dst2: '127.0.3.33:2333', dead: '127.0.3.39:2399' };

function run(file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(['run', file, ...args], { env: { TT_PW: LAB_PASSWORD, XDG_RUNTIME_DIR: undefined, ...env } });
}

/** Resolves once `dir` holds a lock file (the first run has taken its lock). */
async function lockAppears(dir: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.lock')))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`no lock file appeared in ${dir}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('locks and fan-out targets against real servers', { skip: UNAVAILABLE ?? false }, () => {
  let S: Record<'src' | 'dst' | 'dst2', LabServer>;
  /** A job file whose job 'lk-slow' copies the slow tree to dst:/<target>: a new target each time, so it is slow each time. */
  const slowJob = (target: string) => jobFile(`slow-${target}`, SERVERS, `  - name: lk-slow\n    from: src:/slow\n    to: dst:/${target}\n    parallel: 1\n`);
  before(async () => {
    S = await startPlan({
      src: ['pyftpdlib', { address: '127.0.3.31', port: 2331 }],
      dst: ['proftpd', { address: '127.0.3.32', port: 2332 }],
      dst2: ['vsftpd', { address: '127.0.3.33', port: 2333 }],
    });
    for (let i = 0; i < SLOW_FILES; i++) writeLabFile(path.join(S.src.root, 'slow', `p${String(i).padStart(3, '0')}.bin`), randomBytes(512));
    for (const f of ['a.bin', 'd/b.bin', 'd/e/c.bin']) writeLabFile(path.join(S.src.root, 'tree', f), randomBytes(3000));
  });
  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  test('two jobs with different names, in different files, one target spelled two ways: the second exits 5 naming the holder', async () => {
    // The same server under another name, and the same directory with a trailing slash.
    const other = jobFile('other', { src: SERVERS.src, mirror: SERVERS.dst }, '  - name: lk-other\n    from: src:/tree\n    to: mirror:/shared/\n');
    const first = run(slowJob('shared'), ['--lock-dir', LOCKS]);
    await lockAppears(LOCKS);
    const [second, viaMirror] = await Promise.all([
      run(other, ['--lock-dir', LOCKS, '-q']),
      runCli(['mirror', urlOf(S.src, 'tree'), urlOf(S.dst, 'shared'), '--lock-dir', LOCKS, '-q']),
    ]);
    const a = await first;
    assert.equal(a.code, EXIT.OK, show(a));
    assert.equal(second.code, EXIT.LOCKED, show(second));
    assert.equal(second.stdout, '', show(second));
    // (The job loader already writes the path without its trailing slash.)
    assert.match(second.stderr, new RegExp(`^lk-other: mirror:/shared: locked: mirror:/shared is locked by job 'lk-slow' \\(dst:/shared\\), pid ${a.pid}, running since \\S+\\n$`), show(second));
    assert.equal(viaMirror.code, EXIT.LOCKED, show(viaMirror));
    assert.match(viaMirror.stderr, new RegExp(`^fxpmirror: ftp://ftptest:\\*\\*\\*@127\\.0\\.3\\.32:2332/shared is locked by job 'lk-slow' \\(dst:/shared\\), pid ${a.pid}, running since \\S+\\n$`), show(viaMirror));
    assert.equal(hashTree(path.join(S.dst.root, 'shared')).size, SLOW_FILES, 'only the first run wrote there');
    assert.deepEqual(fs.readdirSync(LOCKS), [], 'no lock left behind');
  });

  test('the same job name writing another target is not locked out', async () => {
    const same = jobFile('same-name', SERVERS, '  - name: lk-slow\n    from: src:/tree\n    to: dst:/elsewhere\n');
    const first = run(slowJob('shared2'), ['--lock-dir', LOCKS]);
    await lockAppears(LOCKS);
    const b = await run(same, ['--lock-dir', LOCKS]);
    const a = await first;
    assert.equal(b.code, EXIT.OK, show(b));
    assert.equal(a.code, EXIT.OK, show(a));
    assert.ok(b.ms < a.ms, 'the second ran while the first held its lock');
    assert.equal(hashTree(path.join(S.dst.root, 'elsewhere')).size, 3);
  });

  test('the default lock directory is the same under cron (no XDG_RUNTIME_DIR) and in a login shell (XDG_RUNTIME_DIR set)', async () => {
    const dir = defaultLockDir();
    const file = path.join(dir, lockFileName(targetLockKey('127.0.3.32', 2332, '/shared-default')));
    const job = jobFile('default-dir', SERVERS, '  - name: lk-default\n    from: src:/slow\n    to: dst:/shared-default\n    parallel: 1\n');
    const cronRun = run(job, ['-q']);
    const t0 = Date.now();
    while (!fs.existsSync(file)) {
      assert.ok(Date.now() - t0 < 10_000, `the cron run never took ${file}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const login = await run(job, ['-q'], { XDG_RUNTIME_DIR: path.join(TMP, 'run-user') });
    const c = await cronRun;
    assert.equal(c.code, EXIT.OK, show(c));
    assert.equal(login.code, EXIT.LOCKED, show(login));
    assert.match(login.stderr, /^lk-default: dst:\/shared-default: locked: .* by job 'lk-default'/);
    assert.equal(fs.existsSync(file), false);
  });

  test('fan-out: a target down, one locked and one refused each fail on their own; the healthy one is synced; exit is the worst', async () => {
    const noperm = path.join(S.dst.root, 'noperm');
    fs.mkdirSync(noperm, { recursive: true });
    fs.chmodSync(noperm, 0o555);
    // Another live process holds dst2:/iso-locked.
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    fs.mkdirSync(LOCKS, { recursive: true });
    const heldFile = path.join(LOCKS, lockFileName(targetLockKey('127.0.3.33', 2333, '/iso-locked')));
    fs.writeFileSync(heldFile, JSON.stringify({ pid: holder.pid, startedAt: new Date().toISOString(), host: 'h', job: 'holder', target: 'x:/iso-locked' }));
    try {
      const job = jobFile('fan', SERVERS, '  - name: fan-iso\n    from: src:/tree\n    to: [dst:/iso-ok, dead:/iso, dst2:/iso-locked, dst:/noperm/iso]\n');
      const log = path.join(TMP, 'fan.log');
      const r = await run(job, ['--lock-dir', LOCKS, '-q', '--json', '--log-format', 'json', '--log-file', log]);
      assert.equal(r.code, EXIT.CONNECT, `the worst of 0, 3, 5 and 6\n${show(r)}`);
      const [result] = JSON.parse(r.stdout) as { job: string; exitCode: number; targets: { target: string; server: string; path: string; exitCode: number; error?: string }[] }[];
      assert.deepEqual(
        result.targets.map((t) => [t.target, t.server, t.path, t.exitCode]),
        [
          ['dst:/iso-ok', 'dst', '/iso-ok', EXIT.OK],
          ['dead:/iso', 'dead', '/iso', EXIT.CONNECT],
          ['dst2:/iso-locked', 'dst2', '/iso-locked', EXIT.LOCKED],
          ['dst:/noperm/iso', 'dst', '/noperm/iso', EXIT.REMOTE],
        ],
      );
      const said = lines(r.stderr);
      assert.equal(said.length, 3, show(r));
      assert.match(said[0], /^fan-iso: dead:\/iso: failed: dead: cannot connect to 127\.0\.3\.39:2399: connection refused/);
      assert.match(said[1], new RegExp(`^fan-iso: dst2:/iso-locked: locked: dst2:/iso-locked is locked by job 'holder' \\(x:/iso-locked\\), pid ${holder.pid}, `));
      assert.match(said[2], /^fan-iso: dst:\/noperm\/iso: failed: .*550 /);
      assert.deepEqual(hashTree(path.join(S.dst.root, 'iso-ok')), hashTree(path.join(S.src.root, 'tree')));
      assert.equal(fs.existsSync(path.join(S.dst2.root, 'iso-locked')), false, 'a locked target is not touched');
      assert.equal(fs.existsSync(heldFile), true, "the other run's lock is left alone");
      // Every event about a target names it, by server name and path.
      const events = lines(fs.readFileSync(log, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const e of events.filter((x) => ['transfer', 'failed', 'locked', 'summary'].includes(x.event as string))) {
        assert.ok(result.targets.some((t) => t.target === e.target), JSON.stringify(e));
      }
      assert.equal(events.filter((e) => e.event === 'transfer' && e.target === 'dst:/iso-ok').length, 3);
    } finally {
      holder.kill();
      fs.rmSync(heldFile, { force: true });
      fs.chmodSync(noperm, 0o755);
    }
  });
});
