import type { FtpConnection } from '../ftp/connection.js';
import type { ConnectionLease, ConnectionPool } from '../ftp/pool.js';
import type { PassiveSide } from '../ftp/options.js';
import { FtpAbortError, FtpError, FtpReplyError, FxpRefusedError, asDiskFull, assertSafeArgument } from '../ftp/errors.js';
import type { ContainedPath } from '../ftp/remote-path.js';
import type { TransferMode } from './modes.js';
import { containedPaths } from './part-name.js';
import { fxpTransfer, DEFAULT_TIMINGS, type FxpFile, type TransferAids } from './transfer.js';
import { FxpState } from './state.js';
import { relayTransfer } from './relay.js';
import { LadderCache, type TransferPolicy } from './ladder.js';
import { checksumsOf } from './checksum.js';
import { FxpShortFileError } from './faults.js';
import { PartWatcher } from './watch.js';
import { publishLater, publishNow } from './publish.js';
import { deferredFinish, type Deferred } from './finish-later.js';
import { storesWithPasv } from './stor-with-pasv.js';
import { FxpForceError, FxpVerifyError, type CopyRequest, type CopyResult, type EngineEvents, type Outcome } from './copy-types.js';

export { buildLadder } from './ladder.js';
export type { Rung, TransferPolicy } from './ladder.js';
export { FxpForceError, FxpVerifyError } from './copy-types.js';
export type { CopyRequest, CopyResult, EngineEvents, Outcome, TransferProgress } from './copy-types.js';

/** A copy's two leases: what an abort closes. */
type LeasePair = [ConnectionLease, ConnectionLease];

/** The error an aborted copy rejects with: the signal's reason when it is one of ours. */
function abortError(signal: AbortSignal): FtpError {
  return signal.reason instanceof FtpError && signal.reason.code === 'EABORTED' ? signal.reason : new FtpAbortError('transfer aborted', { cause: signal.reason });
}

/**
 * Copies files from one server to another. Remembers, for the rest of the run,
 * which FXP rung worked for each ordered pair of servers, so only the first
 * file of a pair pays for the fallbacks, and which rungs were refused.
 *
 * Failures are judged by one function (faults.ts), as probe judges them: only
 * a refusal moves down the ladder (and bans that rung for the pair, unless it
 * worked before); a transient fault (reset, timeout, stall, short file) is
 * thrown as it is, for the caller's retry loop to try again in the same mode;
 * a full disk is thrown as FtpDiskFullError (code EFULL).
 */
export class FxpEngine {
  /** What the transfers learn about the servers, and the PASV asked ahead (state.ts). */
  private readonly fxp = new FxpState();
  /** Each pair of connections' ladder, built once (ladder.ts). */
  private readonly ladders: LadderCache;
  /** The FXP mode that worked, per ordered pair of servers. Relay is never remembered: it is only ever the last resort. */
  private memory = new Map<string, TransferMode>();
  private refused = new Map<string, Set<TransferMode>>();
  private warned = new Set<string>();
  /** One part-file watcher per destination server. */
  private watchers = new WeakMap<ConnectionPool, PartWatcher>();
  /**
   * Part files (destination server and path) that a failed attempt could not
   * delete, because the destination did not answer. A session of that attempt
   * may still hold the file open, and once the server is back it writes what
   * it still had, at its old offset, and closes the file. STOR to the same
   * name reuses the file (truncated, same inode), so those late bytes and
   * their mtime would land in the file the retry publishes: pyftpdlib after a
   * 20 s partition bumped a published file's mtime, and the next run sent it
   * again (faults-stall.test.ts). The next attempt deletes it first, and
   * writes a new file; the late writes go to the unlinked one.
   */
  private undeleted = new Set<string>();
  /** Per abort signal, the copies running under it (runningUnder). */
  private running = new WeakMap<AbortSignal, Set<LeasePair>>();

  constructor(
    readonly policy: TransferPolicy,
    private readonly events: EngineEvents = {},
  ) {
    this.ladders = new LadderCache(policy, this.fxp);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.events.warn?.(message);
  }

  private get timings() {
    return this.policy.timings ?? DEFAULT_TIMINGS;
  }

  /** Copy one file with atomic publish: temporary name, size check, mtime, rename. */
  async copy(src: ConnectionLease, dst: ConnectionLease, req: CopyRequest): Promise<CopyResult> {
    assertSafeArgument(req.srcPath, 'source path');
    const { final, part: tmp } = containedPaths(req.dstRoot, req.dstRel);
    const signal = req.signal;
    if (signal?.aborted) throw abortError(signal);
    // Closing both control connections ends every wait at once; the servers
    // end the transfer when they notice (some only once it is done).
    const running = signal ? this.runningUnder(signal) : undefined;
    const pair: LeasePair = [src, dst];
    running?.add(pair);
    try {
      return await this.copyOnce(src, dst, req, final, tmp);
    } catch (err) {
      throw signal?.aborted ? abortError(signal) : err;
    } finally {
      running?.delete(pair);
    }
  }

  /**
   * The copies running under `signal`, whose connections its abort closes:
   * one listener per signal (a run's), not one added and removed per file.
   */
  private runningUnder(signal: AbortSignal): Set<LeasePair> {
    let running = this.running.get(signal);
    if (!running) {
      const set = (running = new Set<LeasePair>());
      this.running.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          const err = abortError(signal);
          for (const [src, dst] of set) {
            src.destroy(err);
            dst.destroy(err);
          }
        },
        { once: true },
      );
    }
    return running;
  }

  private async copyOnce(src: ConnectionLease, dst: ConnectionLease, req: CopyRequest, final: ContainedPath, tmp: ContainedPath): Promise<CopyResult> {
    // Connections are always taken source first, then destination, by every
    // caller: two tasks taking them in opposite orders could deadlock a full pool.
    const s0 = src.current() ?? (await src.connection());
    if (!dst.current()) await dst.connection();
    // Aborted while waiting for the connections: their abort came before they were leased.
    if (req.signal?.aborted) throw abortError(req.signal);
    const size = req.size ?? (await s0.size(req.srcPath));
    let rest = 0;
    let complete = false;
    if (this.policy.continue) {
      const have = await (await dst.connection()).sizeIfExists(tmp);
      if (have !== undefined && have > 0 && have < size) rest = have;
      else if (have === size && size > 0) complete = true;
    }
    // The key is built only when some part file is held (nearly never), not for every file.
    const held = this.undeleted.size > 0 ? heldKey(dst.pool, tmp) : undefined;
    if (held !== undefined && this.undeleted.has(held)) {
      // A 550 is fine (gone meanwhile); anything else fails this attempt, as transient as what left it.
      await (await dst.connection()).delete(tmp).catch((err: unknown) => {
        if (!(err instanceof FtpReplyError && err.replyCode === 550)) throw err;
      });
      this.undeleted.delete(held);
    }
    let mode: TransferMode = 'fxp';
    let relayedBytes = 0;
    let aheadOnSrc: Promise<void> | undefined;
    let sourceEnd: Promise<void> | undefined; // the source's 226, when the destination's came first (finish.ts)
    try {
      if (!complete) {
        // The next file's PASV may ride behind RETR (transfer.ts) where it may be asked ahead at all (below).
        const more = req.more === true && this.policy.verify !== 'checksum';
        const file = (from: number): FxpFile => ({ srcPath: req.srcPath, dstPath: tmp, rest: from, remaining: size - from, more, signal: req.signal });
        let outcome: Outcome;
        try {
          outcome = await this.transfer(src, dst, file(rest), req.dstRel);
        } catch (err) {
          // Servers may refuse REST before STOR (RFC 3659 §5): proftpd does by
          // default ("451 Append/Restart not permitted", AllowStoreRestart off).
          // Without this, --continue would fail on such a server forever.
          if (rest === 0 || !(err instanceof FtpReplyError) || !err.command.startsWith('STOR ')) throw err;
          const label = dst.pool.server.name;
          this.warnOnce(`rest:${label}`, `${label} does not resume uploads (${err.message}): transferring from the start`);
          rest = 0;
          outcome = await this.transfer(src, dst, file(0), req.dstRel);
        }
        ({ mode, relayedBytes, sourceEnd } = outcome);
        if (mode === 'relay' && this.policy.fxp !== 'never') this.reportRelay(req.dstRel, outcome);
      }
      // The next file's PASV, asked for while this one is checked (state.ts,
      // "PASV ahead"): on a passive source beside the destination's SIZE+MFMT,
      // unless it went behind RETR already; on a passive destination in the
      // same write after them. Not with --verify checksum, which needs the
      // source meanwhile.
      let aheadOnDst = false;
      if (req.more && !complete && this.policy.verify !== 'checksum' && (mode === 'fxp' || mode === 'fxp-reversed')) {
        const passive: PassiveSide = mode === 'fxp' ? 'source' : 'destination';
        const lease = passive === 'source' ? src : dst;
        const conn = lease.current() ?? (await lease.connection());
        if (this.fxp.canOpenAhead(conn)) {
          if (passive === 'source') aheadOnSrc = this.fxp.hasAhead(conn) ? undefined : this.fxp.openAhead(conn);
          // Not where the next copy sends [PASV, STOR] itself (stor-with-pasv.ts).
          else aheadOnDst = !storesWithPasv(src.current() ?? (await src.connection()), conn, this.fxp);
        }
      }
      const d = dst.current() ?? (await dst.connection());
      const late = await this.finishingLater(src, dst.pool, d, req, { tmp, final, mode, complete, size, sourceEnd });
      if (sourceEnd && !late) await sourceEnd;
      if (late) return (late.result = { mode, bytes: size - rest, resumedFrom: rest, relayedBytes, mtimeSet: late.mtimeSet, verified: this.policy.verify, published: late.published });
      // SIZE and the mtime command go out together (one round trip): the
      // method this server is known to take, or MFMT where advertised while
      // nothing is known yet. The rename waits for the size check, so a short
      // file never gets its final name. The mtime is set on the temporary
      // name, not sent after RNTO: after a refused rename that would give the
      // old copy under the final name the new time, and the next run would
      // take it for current.
      await d.ensureType('I'); // RFC 3659 §4: SIZE is exact in binary type only
      const known = req.mtime ? d.mtimeCommand(tmp, req.mtime) : undefined;
      const guess = req.mtime && !known ? d.mtimeGuess(tmp, req.mtime) : undefined;
      const setTime = known ?? guess;
      const batch: [string, string?][] = [];
      if (this.policy.verify !== 'none') batch.push(['SIZE', tmp]);
      if (setTime) batch.push(setTime);
      if (aheadOnDst) batch.push(['PASV']);
      const replies = batch.length ? await d.pipeline(batch) : [];
      const pasv = aheadOnDst ? replies.pop() : undefined;
      if (this.policy.verify !== 'none') {
        // Always compare sizes: two "226" replies can still leave a short file
        // (a data connection cut short, or proftpd's TLS 1.3 truncation). It
        // is sent again (transient), never published.
        const r = replies[0];
        if (r instanceof FtpError) throw r;
        const got = Number(r.message.trim());
        if (got !== size) throw new FxpShortFileError(`${d.label}: ${final}: size after transfer is ${r.message.trim()}, expected ${size}`);
      }
      let checksum: CopyResult['checksum'];
      if (this.policy.verify === 'checksum') checksum = await this.verifyChecksum(src.current() ?? (await src.connection()), d, req.srcPath, tmp);
      let mtimeSet = false;
      const timeReply = setTime ? replies[replies.length - 1] : undefined;
      if (timeReply instanceof FtpError && !guess) throw timeReply;
      if (timeReply && !(timeReply instanceof FtpError)) {
        if (guess) d.mtimeWorked('MFMT');
        mtimeSet = true;
      } else if (req.mtime) {
        mtimeSet = await d.setMtime(tmp, req.mtime); // learns the server's method on the first file
        if (!mtimeSet) this.mtimeless(d);
      }
      // A PASV ahead lost with its connection does not stop the rename: it goes over the lease's next connection.
      const p = dst.current() ?? (await dst.connection());
      let published: Promise<void> | undefined;
      if (req.publishLater) published = publishLater(p, tmp, final, { pool: dst.pool, size, keepPart: this.policy.continue, fxp: this.fxp });
      else await publishNow(p, tmp, final);
      // Remembered after the rename went out: it leaves the listener alone (commands.ts, keepsDataConnection).
      if (pasv !== undefined && !(pasv instanceof FtpError) && p === d) this.fxp.rememberAhead(d, pasv);
      // Without a shared algorithm the file was checked by size only: say so.
      const verified = this.policy.verify === 'checksum' && !checksum ? 'size' : this.policy.verify;
      return { mode, bytes: size - rest, resumedFrom: rest, relayedBytes, mtimeSet, verified, checksum, published };
    } catch (err) {
      if (!this.policy.continue && !(await discard(dst, tmp))) this.undeleted.add(held ?? heldKey(dst.pool, tmp));
      throw asDiskFull(err, dst.pool.server.name);
    } finally {
      // The source goes back to the pool only once its PASV reply is read:
      // the next user's first reply would be that 227 otherwise.
      if (aheadOnSrc) await aheadOnSrc;
    }
  }

  /**
   * The size check, mtime and rename of this file deferred to ride with the
   * next file's transfer (finish-later.ts), where that saves a round trip:
   * a mirror with another file to come on this pair, --verify size or none
   * (a checksum needs the source meanwhile), the source passive with the
   * next PASV already answered (behind RETR) or the destination passive
   * taking the next [PASV, STOR] in one write (stor-with-pasv.ts), and the
   * destination's mtime method known or MFMT advertised (deferredFinish).
   * Undefined otherwise: the copy finishes as before.
   */
  private async finishingLater(
    src: ConnectionLease,
    pool: ConnectionPool,
    d: FtpConnection,
    req: CopyRequest,
    t: { tmp: ContainedPath; final: ContainedPath; mode: TransferMode; complete: boolean; size: number; sourceEnd?: Promise<void> },
  ): Promise<Deferred | undefined> {
    if (!req.publishLater || !req.more || t.complete || this.policy.verify === 'checksum') return undefined;
    const s = src.current() ?? (await src.connection());
    // The next transfer's first write to `d`: PORT+STOR (passive source, its PASV answered) or PASV+STOR (stor-with-pasv.ts).
    const rides = t.mode === 'fxp' ? this.fxp.hasAhead(s) : t.mode === 'fxp-reversed' && storesWithPasv(s, d, this.fxp);
    if (!rides) return undefined;
    const o = { pool, size: t.size, keepPart: this.policy.continue, fxp: this.fxp, checkSize: this.policy.verify !== 'none', sourceEnd: t.sourceEnd };
    return deferredFinish(d, t.tmp, t.final, req.mtime, o, () => this.mtimeless(d));
  }

  private mtimeless(d: FtpConnection): void {
    this.warnOnce(`mtime:${d.label}`, `${d.label} cannot set modification times (no MFMT, SITE UTIME or MDTM with a time): mtimes are not preserved there`);
  }

  private reportRelay(path: string, o: Outcome): void {
    const reason = o.refusals.length ? `FXP refused: ${o.refusals.map((r) => r.message).join('; ')}` : o.why;
    if (this.events.relayed) this.events.relayed({ path, bytes: o.relayedBytes, reason });
    else this.events.warn?.(`${path}: relayed through the client (${o.relayedBytes} bytes): ${reason}`);
  }

  private async verifyChecksum(s: FtpConnection, d: FtpConnection, srcPath: string, dstPath: ContainedPath): Promise<CopyResult['checksum']> {
    const sums = await checksumsOf(s, d, srcPath, dstPath);
    if (!sums) {
      this.warnOnce(`hash:${s.label}>${d.label}`, `${s.label} and ${d.label} share no checksum algorithm (HASH, XSHA256, XSHA1, XMD5, XCRC): verified by size only`);
      return undefined;
    }
    if (sums.source !== sums.destination) throw new FxpVerifyError(`${d.label}: ${dstPath}: ${sums.algorithm} ${sums.destination} differs from the source's ${sums.source}`);
    return { algorithm: sums.algorithm, value: sums.source };
  }

  /** Reports one attempt's progress (EngineEvents.progress); called with no arguments when the attempt starts. */
  private progressOf(file: FxpFile, path: string): (bytes?: number, bytesPerSecond?: number) => void {
    const total = file.rest + file.remaining;
    return (bytes = file.rest, bytesPerSecond) => this.events.progress?.({ path, bytes, total, bytesPerSecond, resumedFrom: file.rest });
  }

  /** What a transfer lends fxpTransfer: a SIZE of the part file on demand, and a watch on it. */
  private aids(dst: ConnectionLease, file: FxpFile, onProgress: (bytes: number, bytesPerSecond: number) => void): TransferAids {
    let watcher = this.watchers.get(dst.pool);
    if (!watcher) this.watchers.set(dst.pool, (watcher = new PartWatcher(dst.pool, this.timings.pollMs)));
    const w = watcher;
    return {
      measure: async () => (await dst.connection()).sizeIfExists(file.dstPath),
      watch: ({ stallMs, deadlineMs }) => w.watch(file.dstPath, { rest: file.rest, total: file.rest + file.remaining, stallMs, deadlineMs, onProgress }),
    };
  }

  /** Walk the ladder for one file. */
  async transfer(src: ConnectionLease, dst: ConnectionLease, file: FxpFile, path: string = file.dstPath): Promise<Outcome> {
    let s = src.current() ?? (await src.connection());
    let d = dst.current() ?? (await dst.connection());
    const key = `${s.label}\u0000${d.label}`;
    const { rungs, notes } = this.ladders.ladder(s, d);
    let refused = this.refused.get(key);
    if (!refused) this.refused.set(key, (refused = new Set<TransferMode>()));
    const known = this.memory.get(key);
    // The mode that worked goes first (nearly always it is first already: no copy then).
    const ordered = known && rungs[0]?.mode !== known ? [...rungs.filter((r) => r.mode === known), ...rungs.filter((r) => r.mode !== known)] : rungs;
    const refusals: FxpRefusedError[] = [];
    const progress = this.progressOf(file, path);
    for (const rung of ordered) {
      if (rung.layout && refused.has(rung.mode)) continue;
      s = src.current() ?? (await src.connection());
      d = dst.current() ?? (await dst.connection());
      progress();
      try {
        let relayedBytes = 0;
        let sourceEnd: Promise<void> | undefined;
        if (rung.layout) {
          sourceEnd = (await fxpTransfer(s, d, rung.layout, file, this.fxp, this.timings, this.aids(dst, file, progress)))?.verdict;
          if (rung.layout.tls.startsWith('sscn')) this.fxp.learnSscn(rung.layout.tls === 'sscn-source' ? s : d, true);
          this.memory.set(key, rung.mode);
        } else {
          await this.fxp.owed(s); // a source's final reply still owed (stor-with-pasv.ts, sourceFinishing)
          await resetForClientData(s);
          await resetForClientData(d);
          const marks = [this.fxp.transferring(s), this.fxp.transferring(d)];
          try {
            relayedBytes = await relayTransfer(s, d, file, progress, this.timings.pollMs);
          } finally {
            for (const end of marks) end();
          }
        }
        // The notes explain why the data went through the client or in the
        // clear; when protected FXP worked they are noise, and when every rung
        // failed they are part of the error message instead.
        if (rung.mode === 'relay' || rung.mode.startsWith('fxp-clear')) for (const n of notes) this.warnOnce(`note:${key}:${n}`, n);
        // Said only for relay (reportRelay): not built for every file.
        const why = rung.mode !== 'relay' ? '' : notes.length ? notes.join('; ') : `FXP modes refused earlier in this run: ${[...refused].join(', ')}`;
        return { mode: rung.mode, relayedBytes, refusals, why, sourceEnd };
      } catch (err) {
        // An aborted transfer is no refusal: the ladder stops here.
        if (!(err instanceof FxpRefusedError) || !rung.layout || file.signal?.aborted) throw err;
        refusals.push(err);
        // A rung that already worked for this pair is not banned by one refusal
        // (pyftpdlib sometimes drops a back-to-back active data connection):
        // this file moves down the ladder, the next one tries it again.
        if (rung.mode !== known) refused.add(rung.mode);
        if (err.step === 'SSCN') this.fxp.learnSscn(err.server === s.label ? s : d, false);
        this.events.fallback?.(rung.mode, err);
        // The refusal may have closed a connection, or left a partial temp file.
        await discard(dst, file.dstPath).catch(() => undefined);
      }
    }
    const first = refusals[0];
    const tail = notes.length ? `; ${notes.join('; ')}` : '';
    if (!first) throw new FxpForceError([], `no FXP mode is possible between ${s.label} and ${d.label}${tail}`);
    throw new FxpForceError(refusals, `FXP refused: ${refusals.map((r) => r.message).join('; ')}${tail}`);
  }
}

/** Relay opens client-side data connections: the server must be the TLS server (SSCN OFF) and PROT P again. */
export async function resetForClientData(c: FtpConnection): Promise<void> {
  await c.setSscn(false);
  if (c.isTls) await c.setProtection('P');
}

/** A part file in FxpEngine.undeleted: its server and path. */
function heldKey(pool: ConnectionPool, tmp: ContainedPath): string {
  return `${pool.server.name}\u0000${tmp}`;
}

/** Delete a part file; false when it may still be there (the server did not answer, or refused other than with 550). */
async function discard(dst: ConnectionLease, tmp: ContainedPath): Promise<boolean> {
  try {
    const d = await dst.connection();
    await d.delete(tmp);
    return true;
  } catch (err) {
    // 550: nothing there. Otherwise the server is gone, for now: the next attempt deletes it first.
    return err instanceof FtpReplyError && err.replyCode === 550;
  }
}
