/**
 * The end of a copy in a mirror, deferred so that it rides with the next
 * file's transfer: file n's size check and mtime go out without being
 * awaited, the copy returns, and the next file's PORT+STOR follow them in
 * the same write (channel.ts writes one event-loop turn's commands at
 * once). Per file that is one client round trip instead of two, where the
 * next file's PASV is already answered (behind RETR: transfer.ts).
 *
 * File n's rename waits for its size check, and then for the end of any
 * transfer on that connection. Lab, RNFR sent 0.5 s into a STOR: vsftpd
 * 3.0.3 answers it after the 226 (350); proftpd 1.3.8 answers "450 RNFR:
 * data transfer in progress" before the 226, and pure-ftpd 1.0.50 "500
 * Unknown command" at once, refused either way. So RNFR/RNTO go out once
 * the transfer's final replies are read, in practice with the next file's
 * own SIZE+MFMT. With no transfer running (the last file of a queue) they
 * go out at once: nothing needs flushing at the end of a queue or on abort.
 *
 * File n is done only when its rename's replies came (CopyResult.published).
 * A short file is that file's failure (FxpShortFileError, transient: the
 * mirror retries it) and is never renamed; its temporary file is deleted,
 * unless --continue keeps it. A connection lost before the size check was
 * answered fails the file (transient); one lost after it, before the
 * rename went out, leaves a checked file: it is renamed over another
 * connection of the pool.
 */
import type { FtpConnection } from '../ftp/connection.js';
import type { Command } from '../ftp/commands.js';
import { FtpError, FtpReplyError } from '../ftp/errors.js';
import type { FtpReply } from '../ftp/reply.js';
import type { ContainedPath } from '../ftp/remote-path.js';
import { FxpShortFileError } from './faults.js';
import type { CopyResult } from './copy-types.js';
import { discardPart, publishNow, renamed, type LaterPublish } from './publish.js';

export interface LaterFinish extends LaterPublish {
  /** SIZE must match `size` before the rename (--verify size); false: --verify none. */
  checkSize: boolean;
  /** The mtime command this server is known to take, on the temporary name; undefined: no mtime to set. */
  setTime?: Command;
  /** The source's final verdict, still to come (finish.ts, SourceEnd): the rename waits for it too. */
  sourceEnd?: Promise<void>;
  /**
   * `setTime` is MFMT tried before this server's mtime method is known
   * (FEAT advertises it: FtpConnection.mtimeGuess), so that a connection's
   * first file is checked one transfer later too. Accepted, MFMT is
   * learned; refused, the method is learned over any connection of the pool
   * (setMtime, as the engine does for a file finished at once) and
   * `learned` is told whether the time was set.
   */
  guess?: { mtime: Date; learned(set: boolean): void };
}

/** A copy finished later (deferredFinish); `result`, once set, is told whether a guessed mtime was set after all. */
export interface Deferred {
  published: Promise<void>;
  mtimeSet: boolean;
  result?: CopyResult;
}

/**
 * finishLater with the mtime command this server is known to take, or MFMT
 * as a guess where advertised (a connection's first file); undefined when
 * there is a time to set and no way to set it in the batch (the copy
 * finishes at once and learns the method). `mtimeless` is told when a
 * refused guess found no method.
 */
export async function deferredFinish(
  d: FtpConnection,
  tmp: ContainedPath,
  final: ContainedPath,
  mtime: Date | undefined,
  base: Omit<LaterFinish, 'setTime' | 'guess'>,
  mtimeless: () => void,
): Promise<Deferred | undefined> {
  const known = mtime ? d.mtimeCommand(tmp, mtime) : undefined;
  const guess = mtime && !known ? d.mtimeGuess(tmp, mtime) : undefined;
  if (mtime && !known && !guess) return undefined;
  await d.ensureType('I'); // RFC 3659 §4: SIZE is exact in binary type only
  const late = { mtimeSet: mtime !== undefined } as Deferred;
  // Told after the copy returned (its result is `late.result` by then): whether the time was set after all.
  const learned = (set: boolean) => {
    if (late.result) late.result.mtimeSet = set;
    if (!set) mtimeless();
  };
  late.published = finishLater(d, tmp, final, mtime && guess ? { ...base, setTime: guess, guess: { mtime, learned } } : { ...base, setTime: known });
  return late;
}

/**
 * Send SIZE and the mtime command for `tmp` on `d` and return at once; the
 * promise settles once the file has its final name (resolved) or failed
 * (rejected, its temporary file deleted unless kept).
 */
export function finishLater(d: FtpConnection, tmp: ContainedPath, final: ContainedPath, o: LaterFinish): Promise<void> {
  const batch: Command[] = [];
  if (o.checkSize) batch.push(['SIZE', tmp]);
  if (o.setTime) batch.push(o.setTime);
  const replies = batch.length ? d.pipelineEach(batch) : [];
  // The last reply is owed: the others come before it (FxpState.oweReply).
  if (replies.length) o.fxp.oweReply(d, replies[replies.length - 1]);
  const done = (async () => {
    try {
      const got: (FtpReply | FtpError)[] = [];
      for (let i = 0; i < replies.length; i++) got.push(await replies[i]);
      checked(got, d, final, o);
      if (o.guess) await learnedMtime(got[got.length - 1], d, tmp, o.guess, o);
      // Both servers' 2xx and the size: a source's late 426 or silence fails this file (transient), never renamed.
      if (o.sourceEnd) await o.sourceEnd;
    } catch (err) {
      await discardPart(tmp, o);
      throw err;
    }
    const sent = await sendWhenIdle(d, o, () =>
      d.pipelineEach([
        ['RNFR', tmp],
        ['RNTO', final],
      ]),
    );
    if (sent) {
      o.fxp.oweReply(d, sent[1]);
      return renamed(sent[0], sent[1], tmp, final, o);
    }
    // `d` closed with the rename unsent: the file was checked, any connection may rename it.
    try {
      await o.pool.use((c) => publishNow(c, tmp, final));
    } catch (err) {
      await discardPart(tmp, o);
      throw err;
    }
  })();
  // Heard even when the caller drops it; the caller awaiting it still sees the rejection.
  done.catch(() => undefined);
  return done;
}

/** Throws unless the size (when checked) matches and the mtime (when set, unless a guess refused) was accepted. */
function checked(replies: (FtpReply | FtpError)[], d: FtpConnection, final: ContainedPath, o: LaterFinish): void {
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i];
    if (r instanceof FtpError && !(o.guess && i === replies.length - 1 && r instanceof FtpReplyError)) throw r;
  }
  if (!o.checkSize) return;
  // Two "226" replies can still leave a short file (a data connection cut
  // short, proftpd's TLS 1.3 truncation): it is sent again, never published.
  const text = (replies[0] as FtpReply).message.trim();
  if (Number(text) !== o.size) throw new FxpShortFileError(`${d.label}: ${final}: size after transfer is ${text}, expected ${o.size}`);
}

/** After a guessed MFMT (LaterFinish.guess): learns that it works, or the method that does. */
async function learnedMtime(reply: FtpReply | FtpError, d: FtpConnection, tmp: ContainedPath, guess: NonNullable<LaterFinish['guess']>, o: LaterFinish): Promise<void> {
  if (!(reply instanceof FtpError)) return d.mtimeWorked('MFMT');
  guess.learned(await o.pool.use((c) => c.setMtime(tmp, guess.mtime)));
}

/**
 * `send()` on `d` once no transfer runs on it; undefined when `d` closed
 * first. Taken inside `d`'s queue, so that no listing or other queued
 * operation of the connection is in progress either; `send` itself does not
 * wait, so the queue is held for no round trip.
 */
async function sendWhenIdle<T>(d: FtpConnection, o: LaterFinish, send: () => T): Promise<T | undefined> {
  for (;;) {
    const ended = o.fxp.transferEnded(d);
    if (ended) await ended;
    if (d.closed) return undefined;
    // Nothing runs or waits in `d`'s queue and no transfer: sent now, as the queue would have run it (a turn later).
    if (d.idle && !o.fxp.inTransfer(d)) return send();
    // A transfer that started while the queue was waited for: wait for its end too.
    const out = await d.exclusive(async () => (d.closed || o.fxp.inTransfer(d) ? undefined : { value: send() }));
    if (out) return out.value;
    if (d.closed) return undefined;
  }
}
