import type { FtpConnection } from '../ftp/connection.js';
import { FtpReplyError, asDiskFull } from '../ftp/errors.js';
import { partName } from '../fxp/part-name.js';
import { containedPath } from '../ftp/remote-path.js';
import { deadOnThisHost, thisProcess, type ProcessIdentity } from './host.js';

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
 * The owner file: a line for people ("host pid 42 since <ISO time>", shown
 * to a run that is locked out), then the identity a run on the same host
 * checks ("boot <boot id> start <start ticks>", host.ts).
 */
export function ownerText(p: ProcessIdentity, since: Date): string {
  return `${p.host} pid ${p.pid} since ${since.toISOString()}\n${p.bootId !== undefined && p.start !== undefined ? `boot ${p.bootId} start ${p.start}\n` : ''}`;
}

/** The owner file read back: the line to show, and the holder's identity when it recorded one. */
export function parseOwner(text: string): { shown: string; holder?: ProcessIdentity } {
  const [first = '', second = ''] = text.split('\n').map((l) => l.trim());
  const who = /^(\S+) pid (\d+) since \S+$/.exec(first);
  const ident = /^boot ([0-9a-f-]+) start (\d+)$/i.exec(second);
  const shown = first.slice(0, 200);
  if (!who) return { shown };
  return { shown, holder: { host: who[1], pid: Number(who[2]), bootId: ident?.[1], start: ident ? Number(ident[2]) : undefined } };
}

/**
 * A lock on the destination server, so two cron hosts never mirror into the
 * same target at once. MKD is atomic on every server (RFC 959 §4.1.3: it
 * fails when the directory exists), so whoever creates the directory holds
 * the lock. The lock expires: its heartbeat is the modification time of an
 * "owner" file inside, rewritten every ttl/3 while the job runs; a lock whose
 * heartbeat is older than the ttl is taken over. A lock whose owner ran on
 * this host (same name and boot id) and is gone (its pid dead, or reused by a
 * process started later) is taken over at once: a run killed here (SIGKILL,
 * a crash, a second Ctrl-C) does not lock out the next one for a ttl. A live
 * or foreign holder is respected until its ttl. Removed at the end.
 *
 * `connect` gives a connection of its own: the heartbeat must not wait behind
 * a transfer on a pooled connection.
 */
export async function acquireRemoteLock(
  connect: () => Promise<FtpConnection>,
  root: string,
  ttlMs: number,
  onStale?: (owner: string, why: 'expired' | 'its process on this host is gone') => void,
): Promise<RemoteLock> {
  const conn = await connect();
  const dir = containedPath(root, REMOTE_LOCK_NAME);
  const ownerFile = containedPath(root, REMOTE_LOCK_NAME, 'owner');
  const me = thisProcess();
  const owner = ownerText(me, new Date());
  const writeOwner = (c: FtpConnection) => c.upload(ownerFile, owner);
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
      const { shown: heldBy, holder } = parseOwner(await readOwner(conn, ownerFile));
      const gone = holder !== undefined && deadOnThisHost(holder, me);
      const beat = gone ? undefined : await conn.mdtm(ownerFile).catch(() => undefined);
      if (beat && Date.now() - beat.getTime() <= ttlMs) throw new RemoteLockHeldError(conn.label, dir, heldBy);
      if (!beat && !gone) {
        // No heartbeat at all: a run died between MKD and its first heartbeat, or
        // the server cannot tell times. Judge by the directory's own time.
        const { entries } = await conn.list(root).catch(() => ({ entries: [] }));
        const self = entries.find((e) => e.name === REMOTE_LOCK_NAME);
        if (!self) throw err; // could not create it and it is not there: permissions
        if (self.mtime && Date.now() - self.mtime.getTime() <= ttlMs + self.mtimePrecision) throw new RemoteLockHeldError(conn.label, dir, heldBy);
      }
      onStale?.(heldBy, gone ? 'its process on this host is gone' : 'expired');
      await conn.delete(ownerFile).catch(() => undefined);
      await conn.rmdir(dir).catch(() => undefined);
      // A racing taker-over loses here, and is locked out like any second run.
      await conn.mkdir(dir).catch((again: unknown) => {
        throw again instanceof FtpReplyError ? new RemoteLockHeldError(conn.label, dir, 'another run took it over') : again;
      });
    }
    try {
      await writeOwner(conn);
    } catch (err) {
      // The directory is ours but names no owner (a full disk cannot take
      // even that file): left there, it would lock every run out for the TTL.
      await conn.delete(ownerFile).catch(() => undefined);
      await conn.rmdir(dir).catch(() => undefined);
      throw asDiskFull(err, conn.label);
    }
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
      return Buffer.concat(chunks).toString('utf8').slice(0, 1000);
    });
  } catch {
    return '';
  }
}
