import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLocalLock, defaultLockDir, LockHeldError, lockFileName } from '../../src/job/lock.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fxpm-lock-'));
}

/** A pid that certainly does not exist: a child that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

test('take and release: the file holds our pid and goes away on release', async () => {
  const dir = join(tempDir(), 'nested', 'locks'); // created on demand
  const release = await acquireLocalLock(dir, 'debian');
  const path = join(dir, 'debian.lock');
  const info = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; startedAt: string; host: string };
  assert.equal(info.pid, process.pid);
  assert.ok(!Number.isNaN(Date.parse(info.startedAt)));
  assert.equal(typeof info.host, 'string');
  await release();
  assert.equal(existsSync(path), false);
  await release(); // idempotent
  // Free again after release.
  const again = await acquireLocalLock(dir, 'debian');
  await again();
});

test('held: a live pid makes the second taker fail with ELOCKED', async () => {
  const dir = tempDir();
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const since = '2024-06-01T02:30:00.000Z';
    writeFileSync(join(dir, 'debian.lock'), JSON.stringify({ pid: sleeper.pid, startedAt: since, host: 'x' }));
    await assert.rejects(acquireLocalLock(dir, 'debian'), (err: unknown) => {
      assert.ok(err instanceof LockHeldError);
      assert.equal(err.code, 'ELOCKED');
      assert.equal(err.pid, sleeper.pid);
      assert.equal(err.since.toISOString(), since);
      assert.match(err.message, /job 'debian' is already running/);
      return true;
    });
    // The holder's file is untouched.
    assert.equal(JSON.parse(readFileSync(join(dir, 'debian.lock'), 'utf8')).pid, sleeper.pid);
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('held by ourselves: a second acquire in the same process fails too', async () => {
  const dir = tempDir();
  const release = await acquireLocalLock(dir, 'job');
  await assert.rejects(acquireLocalLock(dir, 'job'), LockHeldError);
  await release();
  rmSync(dir, { recursive: true, force: true });
});

test('stale: a dead pid is taken over and reported', async () => {
  const dir = tempDir();
  const pid = await deadPid();
  writeFileSync(join(dir, 'nightly.lock'), JSON.stringify({ pid, startedAt: '2024-01-01T00:00:00.000Z', host: 'h' }));
  const stale: { pid: number; startedAt: string }[] = [];
  const release = await acquireLocalLock(dir, 'nightly', (info) => stale.push(info));
  assert.deepEqual(stale, [{ pid, startedAt: '2024-01-01T00:00:00.000Z' }]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'nightly.lock'), 'utf8')).pid, process.pid);
  await release();
  assert.equal(existsSync(join(dir, 'nightly.lock')), false);
  rmSync(dir, { recursive: true, force: true });
});

test('stale: an unparseable lock file is taken over', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'j.lock'), 'garbage{');
  let called = 0;
  const release = await acquireLocalLock(dir, 'j', () => called++);
  assert.equal(called, 1);
  await release();
  rmSync(dir, { recursive: true, force: true });
});

test('release leaves a lock alone that is no longer ours', async () => {
  const dir = tempDir();
  const release = await acquireLocalLock(dir, 'j');
  const other = JSON.stringify({ pid: 1, startedAt: '2024-01-01T00:00:00.000Z', host: 'h' });
  writeFileSync(join(dir, 'j.lock'), other);
  await release();
  assert.equal(readFileSync(join(dir, 'j.lock'), 'utf8'), other);
  rmSync(dir, { recursive: true, force: true });
});

test('job names become safe, distinct file names; default dir follows XDG_RUNTIME_DIR', () => {
  assert.equal(lockFileName('debian-cd_2.x'), 'debian-cd_2.x.lock');
  const a = lockFileName('a/b');
  const b = lockFileName('a_b');
  assert.match(a, /^a_b-[0-9a-f]{8}\.lock$/);
  assert.notEqual(a, b);
  assert.match(lockFileName('../../etc/passwd'), /^[A-Za-z0-9_][A-Za-z0-9._-]*\.lock$/);
  assert.match(lockFileName(''), /^[0-9a-f]{8}\.lock$/);
  assert.equal(defaultLockDir({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/fxpmirror');
  assert.match(defaultLockDir({}), /^\/tmp\/fxpmirror-locks-\w+$/);
});
