import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLocalLock, defaultLockDir, LockHeldError, lockFileName, targetLockKey } from '../../src/job/lock.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fxpm-lock-'));
}

/** A pid that certainly does not exist: a child that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

const OWNER = { job: 'debian', target: 'mirror:/srv/debian' };

test('take and release: the file holds our pid, job and target, and goes away on release', async () => {
  const dir = join(tempDir(), 'nested', 'locks'); // created on demand
  const release = await acquireLocalLock(dir, 'debian', OWNER);
  const path = join(dir, 'debian.lock');
  const info = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; startedAt: string; host: string; job: string; target: string };
  assert.equal(info.pid, process.pid);
  assert.ok(!Number.isNaN(Date.parse(info.startedAt)));
  assert.equal(typeof info.host, 'string');
  assert.equal(info.job, 'debian');
  assert.equal(info.target, 'mirror:/srv/debian');
  await release();
  assert.equal(existsSync(path), false);
  await release(); // idempotent
  // Free again after release.
  const again = await acquireLocalLock(dir, 'debian', OWNER);
  await again();
});

test('held: a live pid makes the second taker fail with ELOCKED, naming the holder', async () => {
  const dir = tempDir();
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const since = '2024-06-01T02:30:00.000Z';
    writeFileSync(join(dir, 'k.lock'), JSON.stringify({ pid: sleeper.pid, startedAt: since, host: 'x', job: 'nightly', target: 'eu:/pub' }));
    await assert.rejects(acquireLocalLock(dir, 'k', { job: 'other', target: 'mirror-eu:/pub' }), (err: unknown) => {
      assert.ok(err instanceof LockHeldError);
      assert.equal(err.code, 'ELOCKED');
      assert.equal(err.pid, sleeper.pid);
      assert.equal(err.since.toISOString(), since);
      assert.deepEqual(err.holder, { job: 'nightly', target: 'eu:/pub' });
      assert.equal(err.message, `mirror-eu:/pub is locked by job 'nightly' (eu:/pub), pid ${sleeper.pid}, running since ${since}`);
      return true;
    });
    // The holder's file is untouched.
    assert.equal(JSON.parse(readFileSync(join(dir, 'k.lock'), 'utf8')).pid, sleeper.pid);
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('held by ourselves: a second acquire in the same process fails too', async () => {
  const dir = tempDir();
  const release = await acquireLocalLock(dir, 'job', OWNER);
  await assert.rejects(acquireLocalLock(dir, 'job', { target: 'x' }), /x is locked by job 'debian' \(mirror:\/srv\/debian\)/);
  await release();
  rmSync(dir, { recursive: true, force: true });
});

test('stale: a dead pid is taken over and reported', async () => {
  const dir = tempDir();
  const pid = await deadPid();
  writeFileSync(join(dir, 'nightly.lock'), JSON.stringify({ pid, startedAt: '2024-01-01T00:00:00.000Z', host: 'h', job: 'old' }));
  const stale: { pid: number; startedAt: string; job?: string }[] = [];
  const release = await acquireLocalLock(dir, 'nightly', OWNER, (info) => stale.push(info));
  assert.deepEqual(stale, [{ pid, startedAt: '2024-01-01T00:00:00.000Z', job: 'old' }]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'nightly.lock'), 'utf8')).pid, process.pid);
  await release();
  assert.equal(existsSync(join(dir, 'nightly.lock')), false);
  rmSync(dir, { recursive: true, force: true });
});

test('stale: an unparseable lock file is taken over', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'j.lock'), 'garbage{');
  let called = 0;
  const release = await acquireLocalLock(dir, 'j', OWNER, () => called++);
  assert.equal(called, 1);
  await release();
  rmSync(dir, { recursive: true, force: true });
});

test('release leaves a lock alone that is no longer ours', async () => {
  const dir = tempDir();
  const release = await acquireLocalLock(dir, 'j', OWNER);
  const other = JSON.stringify({ pid: 1, startedAt: '2024-01-01T00:00:00.000Z', host: 'h' });
  writeFileSync(join(dir, 'j.lock'), other);
  await release();
  assert.equal(readFileSync(join(dir, 'j.lock'), 'utf8'), other);
  rmSync(dir, { recursive: true, force: true });
});

test('target keys: every spelling of one destination is one key; another port, host or path is another', () => {
  const key = targetLockKey('Mirror.Example.ORG', 21, '/pub/debian');
  for (const p of ['/pub/debian/', '//pub//debian', '/pub/./debian', '/pub/x/../debian', 'pub/debian']) {
    assert.equal(targetLockKey('mirror.example.org', 21, p), key, p);
  }
  assert.equal(key, 'mirror.example.org:21/pub/debian');
  assert.notEqual(targetLockKey('mirror.example.org', 2121, '/pub/debian'), key);
  assert.notEqual(targetLockKey('mirror2.example.org', 21, '/pub/debian'), key);
  assert.notEqual(targetLockKey('mirror.example.org', 21, '/pub/debian-cd'), key);
  assert.equal(targetLockKey('::1', 21, '/'), '[::1]:21/');
  assert.equal(targetLockKey('[::1]', 21, '/x/'), '[::1]:21/x');
});

test('lock file names: safe, distinct, readable', () => {
  assert.equal(lockFileName('debian-cd_2.x'), 'debian-cd_2.x.lock');
  const a = lockFileName('a/b');
  const b = lockFileName('a_b');
  assert.match(a, /^a_b-[0-9a-f]{8}\.lock$/);
  assert.notEqual(a, b);
  assert.match(lockFileName('../../etc/passwd'), /^[A-Za-z0-9_][A-Za-z0-9._-]*\.lock$/);
  assert.match(lockFileName(''), /^[0-9a-f]{8}\.lock$/);
  assert.match(lockFileName(targetLockKey('127.0.0.1', 2121, '/pub')), /^127\.0\.0\.1_2121_pub-[0-9a-f]{8}\.lock$/);
});

test('default lock directory: by uid and home only (never XDG_RUNTIME_DIR), the same for cron and a login shell', () => {
  assert.equal(defaultLockDir(0, '/root', () => true), '/run/lock/fxpmirror');
  assert.equal(defaultLockDir(0, '/root', () => false), '/var/lock/fxpmirror');
  assert.equal(defaultLockDir(1000, '/home/mirror', () => true), '/home/mirror/.local/state/fxpmirror/locks');
  // The real call: cron's environment (no XDG_RUNTIME_DIR) and a login shell's give the same answer.
  const saved = process.env.XDG_RUNTIME_DIR;
  try {
    delete process.env.XDG_RUNTIME_DIR;
    const cron = defaultLockDir();
    process.env.XDG_RUNTIME_DIR = '/run/user/1000';
    assert.equal(defaultLockDir(), cron);
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  }
});
