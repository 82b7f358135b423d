/**
 * The remote lock against the scripted server (no root): who may take over a
 * lock that is already there. A holder that ran on this host and is gone is
 * replaced at once; a live holder here, or one on another host, keeps it
 * until its heartbeat is older than the ttl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { FtpConnection } from '../../src/ftp/connection.js';
import { thisProcess } from '../../src/job/host.js';
import { REMOTE_LOCK_NAME, RemoteLockHeldError, acquireRemoteLock, ownerText } from '../../src/job/remote-lock.js';
import { ScriptedFtpServer } from '../support/ftp-server.js';

const DIR = `/t/${REMOTE_LOCK_NAME}`;
const TTL = 10 * 60_000;

/** A server holding a lock whose owner file says `owner`, its heartbeat `ageMs` old. */
async function heldBy(owner: string, ageMs = 0): Promise<ScriptedFtpServer> {
  const when = new Date(Date.now() - ageMs);
  return ScriptedFtpServer.start({ host: '127.0.9.31', files: { [`${DIR}/owner`]: { data: owner, mtime: when } } });
}

async function take(srv: ScriptedFtpServer): Promise<{ stale?: [string, string]; error?: unknown }> {
  let stale: [string, string] | undefined;
  try {
    const lock = await acquireRemoteLock(() => FtpConnection.connect(srv.clientOptions()), '/t', TTL, (owner, why) => (stale = [owner, why]));
    assert.match(srv.tree.read(`${DIR}/owner`)!.toString(), new RegExp(`^\\S+ pid ${process.pid} since \\S+\\nboot `), 'the new owner file names this process');
    await lock.release();
    assert.equal(srv.tree.get(DIR), undefined, 'released: the lock directory is gone');
    return { stale };
  } catch (error) {
    return { stale, error };
  }
}

test('a holder on this host whose process is gone is replaced at once, however fresh its heartbeat', async () => {
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  const text = ownerText({ ...thisProcess(), pid: gone }, new Date());
  const srv = await heldBy(text);
  try {
    const r = await take(srv);
    assert.equal(r.error, undefined, String(r.error));
    assert.deepEqual(r.stale, [text.split('\n')[0], 'its process on this host is gone']);
  } finally {
    await srv.close();
  }
});

test('a live holder on this host keeps its lock', async () => {
  const srv = await heldBy(ownerText(thisProcess(), new Date()));
  try {
    const r = await take(srv);
    assert.ok(r.error instanceof RemoteLockHeldError, String(r.error));
    assert.match((r.error as Error).message, new RegExp(`is locked by another fxpmirror run \\(\\S+ pid ${process.pid} since \\S+\\)$`));
    assert.equal(r.stale, undefined);
  } finally {
    await srv.close();
  }
});

test('a holder on another host keeps its lock until the ttl, even with a dead pid; then it is taken over as expired', async () => {
  const other = ownerText({ host: 'elsewhere', bootId: thisProcess().bootId, pid: 1_999_999, start: 1 }, new Date());
  const fresh = await heldBy(other);
  try {
    const r = await take(fresh);
    assert.ok(r.error instanceof RemoteLockHeldError, String(r.error));
  } finally {
    await fresh.close();
  }
  const old = await heldBy(other, TTL + 60_000);
  try {
    const r = await take(old);
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.stale?.[1], 'expired');
    assert.match(r.stale?.[0] ?? '', /^elsewhere pid 1999999 since /);
  } finally {
    await old.close();
  }
});
