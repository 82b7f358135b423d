import os from 'node:os';
import type { FtpConnection } from '../ftp/connection.js';
import { FtpReplyError } from '../ftp/errors.js';
import { partName } from '../fxp/part-name.js';
import { containedPath } from '../ftp/remote-path.js';

/** The lock directory's name: a part name, so the mirror never transfers or deletes it. */
export const REMOTE_LOCK_NAME = partName('fxpmirror-lock');

export class RemoteLockHeldError extends Error {
  readonly code = 'EREMOTELOCKED';
  constructor(readonly server: string, readonly dir: string, readonly owner: string) {
    super(`${server}: ${dir} is locked by another fxpmirror run (${owner || 'owner unknown'})`);
  }
}

export interface RemoteLock {
  release(): Promise<void>;
}

/**
 * A lock on the destination server, so two cron hosts never mirror into the
 * same target at once. MKD is atomic on every server (RFC 959 §4.1.3: it
 * fails when the directory exists), so whoever creates the directory holds
 * the lock. The lock expires: its heartbeat is the modification time of an
 * "owner" file inside, rewritten every ttl/3 while the job runs; a lock whose
 * heartbeat is older than the ttl is taken over. Removed at the end.
 *
 * `connect` gives a connection of its own: the heartbeat must not wait behind
 * a transfer on a pooled connection.
 */
export async function acquireRemoteLock(
  connect: () => Promise<FtpConnection>,
  root: string,
  ttlMs: number,
  onStale?: (owner: string) => void,
): Promise<RemoteLock> {
  const conn = await connect();
  const dir = containedPath(root, REMOTE_LOCK_NAME);
  const ownerFile = containedPath(root, REMOTE_LOCK_NAME, 'owner');
  const owner = `${os.hostname()} pid ${process.pid} since ${new Date().toISOString()}`;
  const writeOwner = (c: FtpConnection) => c.upload(ownerFile, owner + '\n');
  const takeLock = async () => {
    // The lock lives inside the target root, which does not exist before the
    // first run; creating it is not the lock (two runs may both do it).
    await conn.mkdir(containedPath(root), true).catch(async (err: unknown) => {
      if (!(await conn.isDirectory(root))) throw err;
    });
    try {
      await conn.mkdir(dir);
    } catch (err) {
      if (!(err instanceof FtpReplyError)) throw err;
      // It exists (or we may not create it). Is it stale?
      const beat = await conn.mdtm(ownerFile).catch(() => undefined);
      const heldBy = await readOwner(conn, ownerFile);
      if (beat && Date.now() - beat.getTime() <= ttlMs) throw new RemoteLockHeldError(conn.label, dir, heldBy);
      if (!beat) {
        // No heartbeat at all: a run died between MKD and its first heartbeat, or
        // the server cannot tell times. Judge by the directory's own time.
        const { entries } = await conn.list(root).catch(() => ({ entries: [] }));
        const self = entries.find((e) => e.name === REMOTE_LOCK_NAME);
        if (!self) throw err; // could not create it and it is not there: permissions
        if (self.mtime && Date.now() - self.mtime.getTime() <= ttlMs + self.mtimePrecision) throw new RemoteLockHeldError(conn.label, dir, heldBy);
      }
      onStale?.(heldBy);
      await conn.delete(ownerFile).catch(() => undefined);
      await conn.rmdir(dir).catch(() => undefined);
      // A racing taker-over loses here, and is locked out like any second run.
      await conn.mkdir(dir).catch((again: unknown) => {
        throw again instanceof FtpReplyError ? new RemoteLockHeldError(conn.label, dir, 'another run took it over') : again;
      });
    }
    await writeOwner(conn);
  };
  try {
    await takeLock();
  } catch (err) {
    // Every failure path must close the connection: an open control
    // connection keeps the process alive after the job has failed.
    await conn.close();
    throw err;
  }
  const timer = setInterval(() => {
    writeOwner(conn).catch(() => undefined);
  }, Math.max(1000, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    release: async () => {
      clearInterval(timer);
      try {
        const c = conn.closed ? await connect() : conn;
        await c.delete(ownerFile).catch(() => undefined);
        await c.rmdir(dir).catch(() => undefined);
        await c.close();
      } finally {
        await conn.close();
      }
    },
  };
}

async function readOwner(conn: FtpConnection, file: string): Promise<string> {
  try {
    return await conn.exclusive(async () => {
      const retr = await conn.openData('RETR', file);
      const chunks: Buffer[] = [];
      for await (const c of retr.socket) chunks.push(c as Buffer);
      await retr.finish();
      return Buffer.concat(chunks).toString('utf8').trim().slice(0, 200);
    });
  } catch {
    return '';
  }
}
