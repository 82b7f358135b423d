/**
 * `fxpmirror run` of a job file against real servers of the lab (addresses
 * and what is checked: jobs-setup.ts): locks, logs, metrics, fan-out, exit
 * codes, the demo, and that no password reaches any output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { REMOTE_LOCK_NAME } from '../../src/job/remote-lock.js';
import { parseMetrics } from '../../src/job/metrics.js';
import { lockFileName, targetLockKey } from '../../src/job/lock.js';
import { LAB_USER, REPO_ROOT, startServer, stopAll, type LabServer } from '../lab/lab.js';
import { lines, type CliRun } from '../lab/helpers.js';
import {
  DEMO_ADDRESSES,
  DST2_ADDRESS,
  DST_ADDRESS,
  JOB_FILE,
  LOCKS,
  SECRETS,
  SLOW_FILES,
  SRC_ADDRESS,
  TMP,
  TREE,
  TREE_BYTES,
  TREE_FILES,
  UNAVAILABLE,
  URL_PASSWORD,
  assertSameTree,
  cli,
  dirsOf,
  escapeRe,
  jobFile,
  produced,
  readRecorded,
  runJobs,
  seed,
  show,
  spawnNode,
} from './jobs-setup.js';


describe('fxpmirror run: jobs against real servers', { skip: UNAVAILABLE ?? false }, () => {
  let src: LabServer;
  let dst: LabServer;
  let dst2: LabServer;

  before(async () => {
    [src, dst, dst2] = await Promise.all([
      startServer('pyftpdlib', { profile: 'fxp', address: SRC_ADDRESS, port: 2121 }),
      startServer('proftpd', { profile: 'fxp', address: DST_ADDRESS, port: 2122 }),
      startServer('vsftpd', { profile: 'fxp', address: DST2_ADDRESS, port: 2123 }),
    ]);
    const slow: Record<string, Buffer> = {};
    for (let i = 0; i < SLOW_FILES; i++) slow[`part-${String(i).padStart(3, '0')}.bin`] = randomBytes(1024);
    seed(path.join(src.root, 'slow'), slow);
    seed(path.join(src.root, 'tree'), TREE);
    fs.writeFileSync(JOB_FILE, jobFile());
  });

  after(async () => {
    await stopAll();
  });

  test('two runs of one job at once: one runs, the other exits 5 with one line naming the holder; the lock is gone after', async () => {
    const [a, b] = await Promise.all([runJobs(['--job', 'jt-slow']), runJobs(['--job', 'jt-slow'])]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(codes, [EXIT.OK, EXIT.LOCKED], `${show(a)}\n${show(b)}`);
    const [winner, loser] = a.code === EXIT.OK ? [a, b] : [b, a];
    assert.match(winner.stdout, new RegExp(`^transferred:\\s+${SLOW_FILES} files\\b`, 'm'), show(winner));
    const said = lines(loser.stdout + loser.stderr);
    assert.equal(said.length, 1, show(loser));
    assert.match(said[0], new RegExp(`locked dst:/lock-local is locked by job 'jt-slow' \\(dst:/lock-local\\), pid ${winner.pid}, running since `), show(loser));
    assert.ok(winner.ms > loser.ms, `the locked run should stop at once (winner ${winner.ms} ms, loser ${loser.ms} ms)`);
    assert.deepEqual(fs.readdirSync(LOCKS), [], 'lock files left behind');
    assertSameTree(path.join(src.root, 'slow'), path.join(dst.root, 'lock-local'));
  });

  test('a stale local lock (dead pid) is taken over and logged', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const lockFile = path.join(LOCKS, lockFileName(targetLockKey(DST_ADDRESS, 2122, '/lock-local')));
    fs.mkdirSync(LOCKS, { recursive: true });
    fs.writeFileSync(lockFile, JSON.stringify({ pid: dead, startedAt: '2020-01-02T03:04:05.000Z', host: 'gone' }) + '\n');
    const r = await runJobs(['--job', 'jt-slow']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.match(r.stderr, new RegExp(`^.*warn .*\\[jt-slow dst:/lock-local\\] stale-lock took over a stale lock of pid ${dead} \\(started 2020-01-02T03:04:05.000Z\\)$`, 'm'));
    assert.match(r.stdout, /^transferred:\s+0 files/m, 'nothing changed since the last run');
    assert.equal(fs.existsSync(lockFile), false, 'the taken-over lock must be released at the end');
  });

  test('remote lock: two hosts (different lock dirs) at once: one exits 5; no lock directory remains', async () => {
    const lockDir = path.join(dst.root, 'lock-remote', REMOTE_LOCK_NAME);
    let sawLock = false;
    const poll = setInterval(() => {
      if (fs.existsSync(path.join(lockDir, 'owner'))) sawLock = true;
    }, 10);
    let a: CliRun;
    let b: CliRun;
    try {
      [a, b] = await Promise.all([
        runJobs(['--job', 'jt-remote', '--lock-dir', path.join(TMP, 'host-a')]),
        runJobs(['--job', 'jt-remote', '--lock-dir', path.join(TMP, 'host-b')]),
      ]);
    } finally {
      clearInterval(poll);
    }
    assert.deepEqual([a.code, b.code].sort(), [EXIT.OK, EXIT.LOCKED], `${show(a)}\n${show(b)}`);
    const [winner, loser] = a.code === EXIT.OK ? [a, b] : [b, a];
    assert.match(winner.stdout, new RegExp(`^transferred:\\s+${SLOW_FILES} files\\b`, 'm'), show(winner));
    const said = lines(loser.stdout + loser.stderr);
    assert.equal(said.length, 1, show(loser));
    // The owner file may not be written yet when the loser looks: then the owner is unknown.
    assert.match(said[0], /locked dst: \/lock-remote\/\S+ is locked by another fxpmirror run \((\S+ pid \d+ since \S+|owner unknown)\)/, show(loser));
    assert.ok(sawLock, `the lock directory ${lockDir} with its owner file never appeared on the target's disk`);
    assert.equal(fs.existsSync(lockDir), false, 'the remote lock directory must be removed');
    assertSameTree(path.join(src.root, 'slow'), path.join(dst.root, 'lock-remote'));
  });

  test('remote lock: a fresh lock on disk makes the run exit 5; an expired one is taken over and removed', async () => {
    const lockDir = path.join(dst.root, 'lock-remote', REMOTE_LOCK_NAME);
    seed(lockDir, { owner: 'otherhost pid 4242 since 2020-01-01T00:00:00.000Z\n' });

    const held = await runJobs(['--job', 'jt-remote']);
    assert.equal(held.code, EXIT.LOCKED, show(held));
    assert.equal(lines(held.stdout + held.stderr).length, 1, show(held));
    assert.match(held.stderr, /is locked by another fxpmirror run \(otherhost pid 4242 since 2020-01-01T00:00:00\.000Z\)/);
    assert.ok(fs.existsSync(path.join(lockDir, 'owner')), 'a run that is locked out must not touch the lock');

    // Older than the default ttl (15 min): abandoned by a crashed run.
    const old = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(path.join(lockDir, 'owner'), old, old);
    fs.utimesSync(lockDir, old, old);
    const took = await runJobs(['--job', 'jt-remote']);
    assert.equal(took.code, EXIT.OK, show(took));
    assert.match(took.stderr, /warn .*\[jt-remote dst:\/lock-remote\] stale-remote-lock took over an expired remote lock \(otherhost pid 4242 since 2020-01-01T00:00:00\.000Z\) server=dst$/m, show(took));
    assert.equal(fs.existsSync(lockDir), false, 'the taken-over remote lock must be removed at the end');
  });

  test('--log-format json, on stderr and in --log-file: every line is an event with time, level, event and job', async () => {
    const check = (text: string, job: string) => {
      const events = lines(text).map((l) => {
        let e: Record<string, unknown>;
        assert.doesNotThrow(() => (e = JSON.parse(l)), `not JSON: ${l}`);
        return e!;
      });
      for (const e of events) {
        // ISO 8601 with the offset: a date-time that means one instant wherever it is read.
        assert.ok(typeof e.time === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/.test(e.time) && !Number.isNaN(Date.parse(e.time)), `time: ${JSON.stringify(e)}`);
        assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level as string), `level: ${JSON.stringify(e)}`);
        assert.equal(typeof e.event, 'string');
        assert.equal(e.job, job);
      }
      const transfers = events.filter((e) => e.event === 'transfer');
      assert.equal(transfers.length, TREE_FILES, text);
      assert.deepEqual(transfers.map((e) => e.path).sort(), Object.keys(TREE).sort());
      for (const t of transfers) {
        assert.equal(t.bytes, Buffer.byteLength(TREE[t.path as string]), JSON.stringify(t));
        assert.equal(t.mode, 'fxp', JSON.stringify(t));
      }
      assert.deepEqual(events.filter((e) => e.event === 'summary').length, 1);
    };

    const r = await runJobs(['--job', 'jt-logs', '--log-format', 'json']);
    assert.equal(r.code, EXIT.OK, show(r));
    check(r.stderr, 'jt-logs');

    const logFile = path.join(TMP, 'logs', 'run.log');
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const f = await runJobs(['--job', 'jt-logfile', '--log-format', 'json', '--log-file', logFile]);
    assert.equal(f.code, EXIT.OK, show(f));
    assert.equal(f.stderr, '', 'with --log-file nothing is logged to stderr');
    assert.match(f.stdout, new RegExp(`^transferred:\\s+${TREE_FILES} files`, 'm'));
    check(readRecorded(logFile), 'jt-logfile');
    assertSameTree(path.join(src.root, 'tree'), path.join(dst.root, 'logfile'));
  });

  test('-q prints nothing for a job in sync, and one line on stderr for a failed job and target', async () => {
    const r = await runJobs(['--job', 'jt-quiet', '--job', 'jt-dead', '-q']);
    // The worst outcome wins: a connection failure beats a success.
    assert.equal(r.code, EXIT.CONNECT, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /^jt-dead: dst:\/dead: failed: .*127\.0\.1\.38:2199/);
    assertSameTree(path.join(src.root, 'tree'), path.join(dst.root, 'quiet'));
  });

  test('fan-out: both targets become identical to the source, which is listed once per directory', async () => {
    const logFile = src.logFile;
    const before = fs.statSync(logFile).size;
    const r = await runJobs(['--job', 'jt-fan']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(assertSameTree(path.join(src.root, 'tree'), path.join(dst.root, 'fan')), TREE_FILES);
    assertSameTree(path.join(src.root, 'tree'), path.join(dst2.root, 'fan'));
    assert.match(r.stdout, /^== jt-fan: src:\/tree -> dst:\/fan, dst2:\/fan$/m);
    assert.match(r.stdout, /^destination:\s+dst:\/fan$/m);
    assert.match(r.stdout, /^destination:\s+dst2:\/fan$/m);
    assert.equal([...r.stdout.matchAll(/^modes:\s+fxp 6$/gm)].length, 2, show(r));

    // pyftpdlib's log: one line per command received, `... <- MLSD /tree/docs` (or LIST after a CWD).
    const log = fs.readFileSync(logFile).subarray(before).toString('utf8');
    const listed = [...log.matchAll(/ <- (MLSD|LIST|NLST)(?: (.*))?$/gm)].map((m) => m[2] ?? '');
    assert.ok(!listed.some((p) => p === '' || p.startsWith('-')), `listing without a path (after CWD) cannot be attributed: ${listed.join(', ')}`);
    const expected = dirsOf(path.join(src.root, 'tree'), '/tree');
    assert.deepEqual([...listed].sort(), expected, 'each source directory listed exactly once for two targets');
  });

  test('--metrics-file: a Prometheus textfile per job, replaced atomically', async () => {
    const dir = path.join(TMP, 'metrics');
    const file = path.join(dir, 'fxpmirror.prom');
    const t0 = Date.now() / 1000;
    const r = await runJobs(['--job', 'jt-metrics', '--metrics-file', file]);
    assert.equal(r.code, EXIT.OK, show(r));
    const t1 = Date.now() / 1000;
    assert.deepEqual(fs.readdirSync(dir), ['fxpmirror.prom'], 'no temp or lock files left next to the metrics file');
    const text = readRecorded(file);
    for (const family of ['last_run_timestamp_seconds', 'last_success_timestamp_seconds', 'files_transferred', 'bytes_transferred', 'failures', 'duration_seconds']) {
      assert.match(text, new RegExp(`^# TYPE fxpmirror_${family} gauge$`, 'm'));
    }
    const m = parseMetrics(text).get('jt-metrics');
    assert.ok(m, text);
    const v = (k: string) => m.get(`fxpmirror_${k}`);
    assert.equal(v('files_transferred'), TREE_FILES);
    assert.equal(v('bytes_transferred'), TREE_BYTES);
    assert.equal(v('failures'), 0);
    assert.equal(v('success'), 1);
    const lastRun = v('last_run_timestamp_seconds')!;
    assert.ok(lastRun >= t0 - 1 && lastRun <= t1 + 1, `last run ${lastRun} not within the run (${t0}..${t1})`);
    assert.equal(v('last_success_timestamp_seconds'), lastRun);
    assert.ok(v('duration_seconds')! > 0 && v('duration_seconds')! < t1 - t0 + 1, `duration ${v('duration_seconds')}`);

    // Second run: nothing to do; the file is a new inode (rename over the old one), not rewritten in place.
    const inode = fs.statSync(file).ino;
    const again = await runJobs(['--job', 'jt-metrics', '--metrics-file', file]);
    assert.equal(again.code, EXIT.OK, show(again));
    assert.notEqual(fs.statSync(file).ino, inode, 'the metrics file must be replaced by rename, not rewritten');
    const m2 = parseMetrics(readRecorded(file)).get('jt-metrics')!;
    assert.equal(m2.get('fxpmirror_files_transferred'), 0);
    assert.ok(m2.get('fxpmirror_last_success_timestamp_seconds')! >= lastRun);

    // A failing job joins the same file; the other job's samples stay.
    const bad = await runJobs(['--job', 'jt-dead', '--metrics-file', file]);
    assert.equal(bad.code, EXIT.CONNECT, show(bad));
    assert.deepEqual(fs.readdirSync(dir), ['fxpmirror.prom']);
    const all = parseMetrics(readRecorded(file));
    assert.equal(all.get('jt-metrics')?.get('fxpmirror_success'), 1);
    const dead = all.get('jt-dead')!;
    assert.equal(dead.get('fxpmirror_success'), 0);
    assert.ok(dead.get('fxpmirror_failures')! >= 1);
    assert.equal(dead.has('fxpmirror_last_success_timestamp_seconds'), false, 'a job that never succeeded has no last success');
  });

  test('exit 1: an unreadable source directory leaves its subtree unsynced, the rest is copied', async () => {
    seed(path.join(src.root, 'partial'), { 'ok.txt': 'fine\n', 'open/a.txt': 'a\n', 'closed/secret.txt': 'no\n' });
    const closed = path.join(src.root, 'partial', 'closed');
    fs.chmodSync(closed, 0o000);
    try {
      const r = await runJobs(['--job', 'jt-partial', '-q']);
      assert.equal(r.code, EXIT.PARTIAL, show(r));
      assert.equal(r.stdout, '', show(r));
      assert.match(r.stderr, /^jt-partial: dst:\/partial: partial: 2 transferred \(\d+ B\), 0 deleted, 0 failed, 1 unsynced in \d+\.\d s; closed\/: source listing failed: 5\d\d .*\n$/, show(r));
      assert.equal(fs.readFileSync(path.join(dst.root, 'partial/ok.txt'), 'utf8'), 'fine\n');
      assert.equal(fs.readFileSync(path.join(dst.root, 'partial/open/a.txt'), 'utf8'), 'a\n');
      assert.equal(fs.existsSync(path.join(dst.root, 'partial/closed/secret.txt')), false);
    } finally {
      fs.chmodSync(closed, 0o755);
    }
  });

  test('exit 3: a dead port is one line on stderr', async () => {
    const r = await runJobs(['--job', 'jt-dead']);
    assert.equal(r.code, EXIT.CONNECT, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /error \[jt-dead\] failed .*127\.0\.1\.38:2199.*(refused|ECONNREFUSED)/i);
  });

  test('exit 2: an unknown --job name is one line naming the jobs there are', async () => {
    const r = await runJobs(['--job', 'jt-nope']);
    assert.equal(r.code, EXIT.USAGE, show(r));
    assert.equal(r.stdout, '');
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /^fxpmirror: no job named 'jt-nope' \(jobs: jt-slow, jt-remote, .*jt-wrongpw\)\n$/);
  });

  test('exit 3: a wrong password is one line, and the password is not in it', async () => {
    const r = await runJobs(['--job', 'jt-wrongpw', '--json']);
    assert.equal(r.code, EXIT.CONNECT, show(r));
    const out = JSON.parse(r.stdout) as { job: string; exitCode: number; error?: string }[];
    assert.equal(out.length, 1);
    assert.equal(out[0].exitCode, EXIT.CONNECT);
    assert.match(out[0].error ?? '', /530|login/i);
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /error \[jt-wrongpw\] failed .*(530|login)/i);
  });

  test('exit 2: a bad URL with a password in it is reported without the password', async () => {
    const file = path.join(TMP, 'bad-url.yaml');
    fs.writeFileSync(
      file,
      `version: 1\nservers:\n  a:\n    url: ftp://${LAB_USER}:${URL_PASSWORD}@${SRC_ADDRESS}:99999/\n  b:\n    url: "ftp://${LAB_USER}:${URL_PASSWORD}@[::1/"\njobs:\n  - name: x\n    from: a:/x\n    to: b:/y\n`,
    );
    for (const args of [['validate', file], ['run', file, '--lock-dir', LOCKS]]) {
      const r = await cli(args);
      assert.equal(r.code, EXIT.USAGE, show(r));
      assert.equal(r.stdout, '');
      const ls = lines(r.stderr);
      assert.ok(ls.length >= 2, show(r));
      for (const l of ls) assert.match(l, new RegExp(`^${escapeRe(file)}:\\d+:\\d+: `));
    }
    // Also on the command line of `mirror`.
    const m = await cli(['mirror', `ftp://${LAB_USER}:${URL_PASSWORD}@${SRC_ADDRESS}:99999/x/`, 'ftp://127.0.0.1/y/']);
    assert.equal(m.code, EXIT.USAGE, show(m));
    assert.equal(lines(m.stderr).length, 1, show(m));
  });

  test('-v logs the FTP conversation with the password masked', async () => {
    const r = await runJobs(['--job', 'jt-logs', '-v']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.match(r.stderr, /> PASS \*\*\*/, 'the PASS command is logged, masked');
    assert.match(r.stdout, /^transferred:\s+0 files/m);
  });

  test('npm run demo: both runs succeed, the first by FXP, the second with nothing to do', async () => {
    const r = await spawnNode([path.join(REPO_ROOT, 'dist/test/lab/demo.js')], {
      FXPMIRROR_DEMO_ADDRESSES: DEMO_ADDRESSES,
    }, 120_000);
    assert.equal(r.code, 0, show(r));
    const [first, rest] = r.stdout.split('=== 4.');
    assert.ok(rest, show(r));
    assert.match(first, /^ {2}\| modes:\s+fxp 8$/m, show(r));
    assert.match(first, /^ {2}\| transferred:\s+8 files/m);
    assert.match(rest, /^ {2}\| transferred:\s+0 files, 0 B$/m);
    assert.match(r.stdout, /identical: 8 files, same sha256 on both servers/);
    assert.match(r.stdout, /=== 6\. stopping the servers/);
  });
});

test('no password appears in anything any run printed or wrote', () => {
  assert.ok(produced.length > 0);
  for (const { what, text } of produced) {
    for (const s of SECRETS) {
      for (const form of new Set([s, encodeURIComponent(s)])) {
        assert.ok(!text.includes(form), `a password appears in ${what}:\n${text.slice(Math.max(0, text.indexOf(form) - 200), text.indexOf(form) + 200)}`);
      }
    }
  }
});

after(() => {
  fs.rmSync(TMP, { recursive: true, force: true });
});
