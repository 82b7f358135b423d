/**
 * The end of a site-to-site transfer (step 3 of fxpTransfer): both final
 * replies, in either order; a side that stays silent once the other is done;
 * a part file that stops growing; and the verdict on whatever went wrong
 * (faults.ts), so that a refusal moves the ladder and nothing else does.
 */
import type { FtpConnection } from '../ftp/connection.js';
import type { FtpReply } from '../ftp/reply.js';
import { FtpAbortError, FtpReplyError, FtpTimeoutError, isDiskFull } from '../ftp/errors.js';
import { formatMs } from '../ftp/channel.js';
import { settledWithin } from '../ftp/wait.js';
import { FxpStallError, classifyFault, dataFlowMatters, judgedError, type Fault } from './faults.js';
import type { PartWatch, StallSignal } from './watch.js';
import type { ContainedPath } from '../ftp/remote-path.js';

export interface FxpFile {
  srcPath: string;
  /** Where STOR writes: built by containedPath(). */
  dstPath: ContainedPath;
  /** REST offset on both sides (resume), 0 for a full transfer. */
  rest: number;
  /** Bytes still to move; sets the transfer deadline. */
  remaining: number;
  /**
   * More files follow on these connections (a mirror): a passive source
   * that holds commands during RETR gets the next file's PASV in RETR's
   * write (transfer.ts).
   */
  more?: boolean;
  /** An interrupted run: relay stops streaming at once (FXP waits end when the engine closes the connections). */
  signal?: AbortSignal;
}

export interface FxpTimings {
  /** How long a side may stay silent after the other finished (lftp's CopyCheckTimeout idea). */
  copyCheckMs: number;
  /** How long to wait for a passive destination's 1xx before sending RETR anyway. */
  markGraceMs: number;
  /** How often the destination's part file is polled (watch.ts): stall detection and progress. */
  pollMs: number;
  /** After a stall, how long the servers' answers to ABOR are waited for: they tell which side is alive. */
  abortGraceMs: number;
}

export const DEFAULT_TIMINGS: FxpTimings = { copyCheckMs: 10_000, markGraceMs: 1_500, pollMs: 1_000, abortGraceMs: 3_000 };

/** What the caller lends a transfer, to judge its failures and to watch it. */
export interface TransferAids {
  /**
   * The destination part file's size now (SIZE over any connection to that
   * server), undefined when it is not there; throws when it cannot tell.
   * Asked only after a failure whose verdict depends on whether data moved.
   */
  measure?: () => Promise<number | undefined>;
  /**
   * Starts watching the part file (watch.ts) once RETR is sent: no growth
   * for `stallMs` is a stall; while its size cannot be read, `deadlineMs` ends it.
   */
  watch?: (limits: { stallMs: number; deadlineMs: number }) => PartWatch;
}

export interface Ends {
  /** The passive side: blamed first when both fail (see below). */
  passive: FtpConnection;
  /** No growth of the part file for this long is a stall (--timeout). */
  stallMs: number;
  /** Where the part file cannot be watched, the longest a transfer may take. */
  deadline: number;
  commandTimeout: number;
  timings: FxpTimings;
  aids: TransferAids;
  /**
   * The destination's final reply ends the wait when it comes first; the
   * source's is judged later (SourceEnd). Set by transfer.ts where the next
   * commands to the destination need nothing from the source
   * (stor-with-pasv.ts): proftpd sends its 226 one server round trip after
   * its 150 (a lingering close of the data connection), after the
   * destination's own 226.
   */
  early?: boolean;
}

/**
 * A transfer that returned on the destination's final reply (Ends.early).
 * `verdict` resolves once the source said 2xx, rejects with the judged
 * failure (a 426, 451, a reset, or silence past the copy-check timeout:
 * transient, since the data had all arrived); never unhandled. An object,
 * not the promise itself: an async function returning a promise would wait for it.
 */
export interface SourceEnd {
  verdict: Promise<void>;
}

/** After one side fails, how long the other may take to report its own verdict. */
const SETTLE_MS = 1000;

interface Failure {
  conn: FtpConnection;
  step: 'RETR' | 'STOR';
  err: unknown;
  /** Set when we cut the side short (see cutShort), as it was when it failed. */
  cut?: Side['cut'];
}

/** One side of a transfer while its final replies are awaited. */
interface Side {
  conn: FtpConnection;
  step: Failure['step'];
  /** What the side waits for now ("reply to STOR", "end of RETR"): named by the error when it is cut. */
  what: string;
  settled: boolean;
  /** Why it was cut short by us: the other failed first, or it stayed silent after the other finished. */
  cut?: { kind: 'peer' | 'copy-check'; text: string };
}

/**
 * Ends a side's wait for its replies: its connection closes with an abort
 * (what an AbortSignal given to the wait did, without one per side per
 * file): the wait rejects, and the caller replaces the connection. A side
 * already settled is left alone.
 */
function cutShort(s: Side, why: NonNullable<Side['cut']>): void {
  if (s.settled) return;
  s.cut ??= why;
  s.conn.destroy(new FtpAbortError(`${s.conn.label}: ${s.what} aborted`, { cause: why.text }));
}

/**
 * Both final replies, in either order, with a copy-check timeout once one
 * side is done. `dstFirst` is STOR's first reply, read already or still
 * pending (a passive destination that marks only once the source connected).
 *
 * While a watch runs, the final replies have no deadline of their own: the
 * watch ends a transfer whose part file stopped growing for --timeout, and
 * falls back to `ends.deadline` only while it cannot read the size.
 *
 * Per file this is the hot path of a mirror: one record per side, one
 * promise for the outcome, and timers only once one side has settled.
 */
export async function awaitBoth(src: FtpConnection, dst: FtpConnection, file: FxpFile, dstFirst: FtpReply | Promise<FtpReply> | undefined, ends: Ends): Promise<SourceEnd | undefined> {
  const watch = ends.aids.watch?.({ stallMs: ends.stallMs, deadlineMs: ends.deadline });
  try {
    // After an early return the part file is complete: the watch has nothing left to see.
    return await finish(src, dst, file, dstFirst, ends, watch);
  } finally {
    watch?.stop();
  }
}

async function finish(
  src: FtpConnection,
  dst: FtpConnection,
  file: FxpFile,
  dstFirst: FtpReply | Promise<FtpReply> | undefined,
  ends: Ends,
  watch: PartWatch | undefined,
): Promise<SourceEnd | undefined> {
  const { commandTimeout, timings } = ends;
  const finalTimeout = watch ? Infinity : ends.deadline;
  const finalOf = async (s: Side, path: string, first: FtpReply | Promise<FtpReply> | undefined): Promise<void> => {
    const command = s.step;
    let r = first ? await first : await s.conn.reply(commandTimeout, undefined, (s.what = `reply to ${command}`));
    if (r.code < 200) r = await s.conn.reply(finalTimeout, undefined, (s.what = `end of ${command}`));
    if (r.code >= 300) throw new FtpReplyError(r.code, `${command} ${path}`, r.lines);
  };
  const srcSide: Side = { conn: src, step: 'RETR', what: 'reply to RETR', settled: false };
  const dstSide: Side = { conn: dst, step: 'STOR', what: 'reply to STOR', settled: false };
  const failures: Failure[] = [];
  let checkTimer: NodeJS.Timeout | undefined;
  let open = 2;
  // Settles with the stall signal, or undefined once both sides settled.
  let resolveEnded!: (s: StallSignal | undefined) => void;
  const ended = new Promise<StallSignal | undefined>((r) => (resolveEnded = r));
  // Ends.early: settles with what comes first, `ended` or the destination's
  // 2xx (undefined); made only then, one promise per file on that path alone.
  let resolveFirst: ((s: StallSignal | undefined) => void) | undefined;
  const first = ends.early ? new Promise<StallSignal | undefined>((r) => (resolveFirst = r)) : undefined;
  const end = (s: StallSignal | undefined): void => {
    resolveEnded(s);
    resolveFirst?.(s);
  };
  // Told once both sides settled, for a stall's wait for the answers to ABOR (made only then).
  let bothSettled: (() => void) | undefined;
  // When one side fails, the other gets a moment to report its own verdict
  // before it is cut (its connection closes; the caller replaces it).
  const watchSide = (s: Side, other: Side, p: Promise<void>) =>
    void p.then(
      () => {
        s.settled = true;
        if (--open === 0) return bothEnded();
        if (s === dstSide) resolveFirst?.(undefined);
        // Still running after an early return: the source's silence is caught here too.
        checkTimer ??= setTimeout(() => cutShort(other, { kind: 'copy-check', text: `no reply to ${other.step} within ${formatMs(timings.copyCheckMs)} after ${s.conn.label} finished` }), timings.copyCheckMs);
      },
      (err: unknown) => {
        s.settled = true;
        failures.push({ conn: s.conn, step: s.step, err, cut: s.cut });
        if (--open === 0) return bothEnded();
        setTimeout(() => cutShort(other, { kind: 'peer', text: `${s.conn.label} failed` }), SETTLE_MS).unref();
      },
    );
  const bothEnded = (): void => {
    bothSettled?.();
    end(undefined);
  };
  watchSide(srcSide, dstSide, finalOf(srcSide, file.srcPath, undefined));
  watchSide(dstSide, srcSide, finalOf(dstSide, file.dstPath, dstFirst));
  watch?.onStalled(end);
  const both = (): Promise<void> => (open === 0 ? Promise.resolve() : new Promise<void>((r) => (bothSettled = r)));
  const verdict = async (late: boolean): Promise<void> => {
    const stalled = await ended;
    if (checkTimer) clearTimeout(checkTimer);
    if (stalled) return stall(src, dst, file, stalled, srcSide, dstSide, both(), ends, watch);
    if (failures.length === 0) return;
    return failed(file, failures, ends, watch, late);
  };
  if (first) {
    // Undefined once the destination said 2xx or both sides settled; a stall signal otherwise (then judged now).
    if ((await first) === undefined && open > 0) {
      // The destination is done, the source not yet: its verdict comes later.
      const later = verdict(true);
      later.catch(() => undefined);
      return { verdict: later };
    }
  }
  await verdict(false);
  return undefined;
}

/**
 * The verdict on a transfer with at least one failed side. `late`: the
 * destination had said 2xx before the source failed (Ends.early): the
 * data had all arrived, so whatever the source says now is transient.
 */
async function failed(file: FxpFile, failures: Failure[], ends: Ends, watch: PartWatch | undefined, late: boolean): Promise<never> {
  // If both fail, the passive side is the cause: an active side that was
  // allowed its PORT can only fail on the data connection because the
  // passive side refused or dropped it (vsftpd's "425 Security: Bad IP
  // connecting" races pyftpdlib's own error for the dropped connection).
  // A full destination is the cause whichever side failed: the source's
  // 426 is only the data connection the destination closed when its write failed.
  const own = failures.filter((f) => f.cut?.kind !== 'peer');
  const candidates = own.length ? own : failures;
  const chosen = failures.find((f) => isDiskFull(f.err)) ?? candidates.find((f) => f.conn === ends.passive) ?? candidates[0];
  // A side that failed may still have its RETR/STOR queued: pyftpdlib
  // answers a refused foreign data connection with a 425 sent *before* it
  // reads RETR, then marks RETR 150 and serves it to the next data connection
  // (a later relay on that connection received the file twice). Its replies no
  // longer pair with our commands, so every failed side is closed; the caller reconnects.
  // Not a late final reply (only an active source has one: Ends.early): it is in step, and the next
  // transfer, under way on the destination already, goes on over that connection.
  for (const f of failures) if (!(late && f.err instanceof FtpReplyError)) f.conn.destroy(f.err instanceof Error ? f.err : undefined);
  const why = chosen.cut;
  const fault: Fault =
    why?.kind === 'copy-check'
      ? { step: chosen.step, error: new FtpTimeoutError(`${chosen.conn.label}: ${why.text}`), silent: true }
      : { step: chosen.step, error: chosen.err, silent: chosen.err instanceof FtpTimeoutError };
  const flowed = dataFlowMatters(fault) && (late || (await dataFlowed(file, watch, ends.aids)));
  const cls = classifyFault(fault, flowed);
  // Too late to move down the ladder (the next file is under way), and the data came: sent again.
  throw judgedError(fault, late && cls === 'permanent' ? 'transient' : cls, chosen.conn.label);
}

/**
 * The part file stopped growing (or, unwatchable, outlived its deadline).
 * ABOR goes to both servers: a live one answers (426, then 226), a stopped
 * one cannot. Which one answered is the best sign of who stopped; when
 * neither does (vsftpd and proftpd do not read their control connection
 * during a transfer without TCP urgent data, which Node.js cannot send), the
 * destination is blamed: its file stopped growing while the source said
 * nothing. Both connections are closed either way: their replies are out of step.
 */
async function stall(
  src: FtpConnection,
  dst: FtpConnection,
  file: FxpFile,
  signal: StallSignal,
  srcSide: Side,
  dstSide: Side,
  both: Promise<unknown>,
  ends: Ends,
  watch: PartWatch | undefined,
): Promise<never> {
  for (const s of [srcSide, dstSide]) {
    if (s.settled) continue;
    try {
      s.conn.send('ABOR');
    } catch {
      /* already closed: it cannot answer */
    }
  }
  // At most half the stall time: the whole abort stays within about twice --timeout.
  await settledWithin(both, Math.min(ends.timings.abortGraceMs, ends.stallMs / 2));
  const srcAlive = srcSide.settled;
  const dstAlive = dstSide.settled;
  const bytes = signal.bytes ?? watch?.maxBytes;
  const what =
    signal.kind === 'stall'
      ? `the part file ${file.dstPath} stayed at ${bytes ?? 0} bytes for ${formatMs(signal.forMs)}`
      : `no end of transfer within ${formatMs(signal.forMs)} (the size of ${file.dstPath} could not be read)`;
  let err: FxpStallError;
  if (srcAlive && dstAlive) err = new FxpStallError(`no data moved between ${src.label} and ${dst.label}: ${what}; both answered ABOR`, 'between', bytes ?? 0);
  else if (dstAlive) err = new FxpStallError(`${src.label}: the source stopped sending: ${what}; ${dst.label} answered ABOR, ${src.label} did not`, 'source', bytes ?? 0);
  else err = new FxpStallError(`${dst.label}: the destination stopped: ${what}; ${srcAlive ? `${src.label} answered ABOR, ${dst.label} did not` : 'neither server answered ABOR'}`, 'destination', bytes ?? 0);
  src.destroy(err);
  dst.destroy(err);
  const blamed = err.blamed === 'source' ? src : err.blamed === 'destination' ? dst : ends.passive;
  const fault: Fault = { step: 'data', error: err, silent: true };
  throw judgedError(fault, classifyFault(fault, await dataFlowed(file, watch, ends.aids)), blamed.label);
}

/**
 * Whether bytes reached the destination's part file in this attempt: the
 * watch saw it grow, or its size now is past the REST offset. When nothing
 * can tell (no way to measure, or measuring failed), it is taken as yes: a
 * fault is then transient (retried in the same mode), never a reason to
 * leave FXP.
 */
async function dataFlowed(file: FxpFile, watch: PartWatch | undefined, aids: TransferAids): Promise<boolean> {
  if (watch?.maxBytes !== undefined && watch.maxBytes > file.rest) return true;
  if (!aids.measure) return true;
  try {
    return ((await aids.measure()) ?? 0) > file.rest;
  } catch {
    return true;
  }
}
