/**
 * The last step of a copy: the temporary file, checked (size, checksum,
 * mtime: engine.ts), gets its final name by RNFR/RNTO (RFC 959 §4.1.3).
 *
 * Two ways, one meaning:
 * - now: RNFR+RNTO in one write, both replies awaited (copy, a file with
 *   nothing after it);
 * - later (a mirror): RNFR+RNTO go out and the copy returns at once, so the
 *   next file's commands follow them on the same connection in the same
 *   round trip. The replies are read when they arrive (they come before any
 *   reply to what was sent after them, RFC 959 §4.2), and the file counts
 *   as done only then: a refused rename is that file's failure, with the
 *   server's reply as its reason, and nothing else's.
 *
 * Either way a half-written file never gets its final name: the rename is
 * sent only after the size check passed. A rename that fails leaves the
 * final name as it was (or, on a server that will not rename onto an
 * existing file, briefly absent), and the temporary file is deleted unless
 * --continue keeps it.
 */
import type { FtpConnection } from '../ftp/connection.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { FtpReply } from '../ftp/reply.js';
import { FtpError, FtpReplyError } from '../ftp/errors.js';
import type { ContainedPath } from '../ftp/remote-path.js';
import type { FxpState } from './state.js';

/** Rename `tmp` onto `final` now, on `d`. */
export async function publishNow(d: FtpConnection, tmp: ContainedPath, final: ContainedPath): Promise<void> {
  const [from, to] = await renameOn(d, tmp, final);
  if (!renameRefusedAtTarget(from, to)) return settled(from, to);
  await replaceByRename(d, tmp, final);
}

export interface LaterPublish {
  /** The destination's pool: the fallback and the checks after a lost connection use any of its connections. */
  pool: ConnectionPool;
  /** The source's size: what the final name must have when the rename's replies were lost. */
  size: number;
  /** --continue: a temporary file that was not renamed is kept for the next attempt. */
  keepPart: boolean;
  /** Told which replies `d` still owes, so that a transfer that closes `d` waits for them first. */
  fxp: FxpState;
}

/**
 * Send the rename on `d` and return at once; the promise settles when its
 * replies have come: resolved once the file has its final name, rejected
 * with the reason it has not (its temporary file then deleted, unless kept).
 */
export function publishLater(d: FtpConnection, tmp: ContainedPath, final: ContainedPath, o: LaterPublish): Promise<void> {
  const [from, to] = d.pipelineEach([
    ['RNFR', tmp],
    ['RNTO', final],
  ]);
  o.fxp.oweReply(d, to); // RNFR's reply comes before RNTO's
  const done = renamed(from, to, tmp, final, o);
  // Heard even when the caller drops it; the caller awaiting it still sees the rejection.
  done.catch(() => undefined);
  return done;
}

/**
 * Settles once the replies to a rename sent by pipelineEach have come:
 * resolved once the file has its final name, rejected with the reason it
 * has not (its temporary file then deleted, unless kept).
 */
export async function renamed(from: Promise<FtpReply | FtpError>, to: Promise<FtpReply | FtpError>, tmp: ContainedPath, final: ContainedPath, o: LaterPublish): Promise<void> {
  const f = await from;
  const t = await to;
  if (!(f instanceof FtpError) && !(t instanceof FtpError)) return;
  try {
    if (renameRefusedAtTarget(f, t)) return await o.pool.use((c) => replaceByRename(c, tmp, final));
    // The connection was lost before the replies came: the rename may have
    // happened. It did if the temporary name is gone and the final name
    // has the file's size.
    if (!(f instanceof FtpReplyError) && !(t instanceof FtpReplyError) && (await o.pool.use((c) => wasRenamed(c, tmp, final, o.size)).catch(() => false))) return;
    return settled(f, t);
  } catch (err) {
    await discardPart(tmp, o);
    throw err;
  }
}

/** A temporary file that will not be renamed: deleted over any connection, unless --continue keeps it. Never throws. */
export async function discardPart(tmp: ContainedPath, o: LaterPublish): Promise<void> {
  if (!o.keepPart) await o.pool.use((c) => c.delete(tmp)).catch(() => undefined);
}

/** Throws the rename's first failure, if any. */
function settled(from: FtpReply | FtpError, to: FtpReply | FtpError): void {
  if (from instanceof FtpError) throw from;
  if (to instanceof FtpError) throw to;
}

/**
 * RNFR was accepted (350) and RNTO refused: some servers will not rename
 * onto an existing file. When RNFR itself was refused, the temporary file
 * is missing and the final name must be left alone.
 */
function renameRefusedAtTarget(from: FtpReply | FtpError, to: FtpReply | FtpError): boolean {
  return !(from instanceof FtpError) && to instanceof FtpReplyError;
}

/** Delete the final name, then rename again: a moment with no file, never a half-written one. */
async function replaceByRename(c: FtpConnection, tmp: ContainedPath, final: ContainedPath): Promise<void> {
  await c.delete(final).catch(() => undefined);
  const [from, to] = await renameOn(c, tmp, final);
  settled(from, to);
}

/**
 * RNFR+RNTO in one write, each taking its place in the reply queue as it is
 * sent (pipelineEach, not pipeline, which queues its second reader only once
 * the first reply came): a connection taken from the pool here may carry a
 * rename sent in the same turn by finish-later.ts, and that one's replies
 * would otherwise be read by this one (pipelined-publish.test.ts: the "553"
 * to one file's RNTO was handed to the next file's RNFR).
 */
function renameOn(c: FtpConnection, tmp: ContainedPath, final: ContainedPath): Promise<(FtpReply | FtpError)[]> {
  return Promise.all(
    c.pipelineEach([
      ['RNFR', tmp],
      ['RNTO', final],
    ]),
  );
}

async function wasRenamed(c: FtpConnection, tmp: ContainedPath, final: ContainedPath, size: number): Promise<boolean> {
  return (await c.sizeIfExists(tmp)) === undefined && (await c.sizeIfExists(final)) === size;
}
