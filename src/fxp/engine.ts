import type { FtpConnection } from '../ftp/connection.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { FxpPolicy, PassiveSide } from '../ftp/options.js';
import { FtpAbortError, FtpError, FtpReplyError, FxpRefusedError, assertSafeArgument } from '../ftp/errors.js';
import { modeName, type TransferMode } from './modes.js';
import { containedPartPath } from './part-name.js';
import { containedPath, type ContainedPath } from '../ftp/remote-path.js';
import { fxpTransfer, DEFAULT_TIMINGS, type FxpLayout, type FxpTimings, type TlsRole } from './transfer.js';
import { FxpState } from './state.js';
import { relayTransfer } from './relay.js';
import { unreliableActive } from '../ftp/software.js';

export interface TransferPolicy {
  fxp: FxpPolicy;
  passive: PassiveSide;
  allowClearData: boolean;
  verify: 'size' | 'checksum' | 'none';
  continue: boolean;
  timings?: FxpTimings;
  /**
   * The user chose `passive` (flag or job key, or a server's passive
   * preference). Otherwise it is a default, and a server known to be
   * unreliable as the active side is made passive instead.
   */
  passiveExplicit?: boolean;
}

/** One rung of the fallback ladder. `layout` undefined means relay through the client. */
export interface Rung {
  mode: TransferMode;
  layout?: FxpLayout;
}

export class FxpVerifyError extends FtpError {
  constructor(message: string) {
    super('EPROTOCOL', message);
    this.name = 'FxpVerifyError';
  }
}

/** Raised under --fxp force (or when every rung failed): names the server and its refusal. */
export class FxpForceError extends FtpError {
  constructor(readonly refusals: FxpRefusedError[], message: string) {
    super('EFXPREFUSED', message);
  }
}

const swap = (p: PassiveSide): PassiveSide => (p === 'source' ? 'destination' : 'source');

/**
 * The fallback ladder (lftp's order, FileCopyFtp.cc): first the preferred
 * passive side, then the other; under TLS, every way of choosing the TLS
 * client (SSCN on either side, CPSV on the passive side); then clear data if
 * the user allowed it; then relay, unless --fxp force.
 *
 * Layouts that cannot work are left out instead of being tried: two TLS
 * servers of which neither offers SSCN or CPSV would each wait for the other's
 * ClientHello until a timeout.
 */
export function buildLadder(src: FtpConnection, dst: FtpConnection, policy: TransferPolicy, fxp: FxpState = new FxpState()): { rungs: Rung[]; notes: string[] } {
  const notes: string[] = [];
  const rungs: Rung[] = [];
  const rung = (layout?: FxpLayout): Rung => ({ mode: modeName(layout), layout });
  const relay = rung();
  if (policy.fxp === 'never') return { rungs: [relay], notes: ['--fxp never: relaying through the client'] };
  let first = policy.passive;
  if (!policy.passiveExplicit) {
    const activeOf = (p: PassiveSide) => (p === 'source' ? dst : src);
    const bad = (c: FtpConnection) => c.state?.kind !== undefined && unreliableActive(c.state.kind);
    if (bad(activeOf(first)) && !bad(activeOf(swap(first)))) first = swap(first);
  }
  const sides: PassiveSide[] = [first, swap(first)];
  const bothTls = src.isTls && dst.isTls;
  const oneTls = src.isTls !== dst.isTls;
  if (!src.isTls && !dst.isTls) {
    for (const p of sides) rungs.push(rung({ passive: p, tls: 'none' }));
  } else if (bothTls) {
    const sscn = (c: FtpConnection) => (c.features.sscn || fxp.sscnWorks(c) === true) && fxp.sscnWorks(c) !== false;
    const roles: [TlsRole, (p: PassiveSide) => boolean][] = [
      ['sscn-source', () => sscn(src)],
      ['sscn-destination', () => sscn(dst)],
      ['cpsv', (p) => (p === 'source' ? src : dst).features.cpsv],
    ];
    for (const p of sides) {
      for (const [tls, possible] of roles) {
        if (possible(p)) rungs.push(rung({ passive: p, tls }));
      }
    }
    if (rungs.length === 0) {
      notes.push(`protected FXP impossible: neither ${src.label} nor ${dst.label} offers SSCN or CPSV, so neither can act as TLS client of the data connection`);
    }
  }
  if ((bothTls || oneTls) && policy.allowClearData) {
    for (const p of sides) rungs.push(rung({ passive: p, tls: 'clear' }));
  } else if (oneTls) {
    notes.push(`FXP between ${src.isTls ? src.label : dst.label} (TLS) and ${src.isTls ? dst.label : src.label} (no TLS) needs clear data: allow it with --allow-clear-data`);
  } else if (bothTls) {
    notes.push('clear-data FXP not tried: it needs --allow-clear-data');
  }
  if (policy.fxp !== 'force') rungs.push(relay);
  return { rungs, notes };
}

export interface CopyRequest {
  srcPath: string;
  /** The destination's root: nothing is written outside it (remote-path.ts). */
  dstRoot: string;
  /** The file's path below dstRoot. The data goes to a temporary name beside it first. */
  dstRel: string;
  /** Source size when the listing gave it; otherwise SIZE asks. */
  size?: number;
  /** Source mtime to preserve. */
  mtime?: Date;
  /** More files will follow on these connections (mirror): open the next transfer's PASV ahead (see transfer.ts). */
  more?: boolean;
  /**
   * Aborted (an interrupted run): the transfer stops at once, its connections
   * are closed (the pool replaces them), the temporary file is deleted (kept
   * with --continue), and copy() rejects with an EABORTED error.
   */
  signal?: AbortSignal;
}

export interface CopyResult {
  mode: TransferMode;
  bytes: number;
  resumedFrom: number;
  /** Bytes that went through the client (relay only). */
  relayedBytes: number;
  mtimeSet: boolean;
  verified: 'size' | 'checksum' | 'none';
  checksum?: { algorithm: string; value: string };
}

export interface EngineEvents {
  /** Once per server: it cannot set mtimes. */
  warn?(message: string): void;
  /** A rung failed and the ladder moves on. */
  fallback?(from: TransferMode, err: FxpRefusedError): void;
}

/** Holds a pooled connection and replaces it when a failed transfer closed it. */
export class Side {
  private conn: FtpConnection | undefined;
  constructor(readonly pool: ConnectionPool) {}
  async live(): Promise<FtpConnection> {
    if (this.conn && !this.conn.closed) return this.conn;
    if (this.conn) this.pool.release(this.conn);
    this.conn = await this.pool.acquire();
    return this.conn;
  }
  release(): void {
    if (this.conn) this.pool.release(this.conn);
    this.conn = undefined;
  }
  /** Close the leased connection now: whatever waits on it fails at once (an interrupted run). */
  destroy(cause: Error): void {
    this.conn?.destroy(cause);
  }
}

/** The error an aborted copy rejects with: the signal's reason when it is one of ours. */
function abortError(signal: AbortSignal): FtpError {
  return signal.reason instanceof FtpError && signal.reason.code === 'EABORTED' ? signal.reason : new FtpAbortError('transfer aborted', { cause: signal.reason });
}

/**
 * Copies files from one server to another. Remembers, for the rest of the run,
 * which rung worked for each ordered pair of servers, so only the first file
 * of a pair pays for the fallbacks.
 */
export class FxpEngine {
  /** What the transfers learn about the servers, and the PASV asked ahead (state.ts). */
  private readonly fxp = new FxpState();
  private memory = new Map<string, TransferMode>();
  private refused = new Map<string, Set<TransferMode>>();
  private warned = new Set<string>();

  constructor(
    readonly policy: TransferPolicy,
    private readonly events: EngineEvents = {},
  ) {}

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.events.warn?.(message);
  }

  /** Copy one file with atomic publish: temporary name, size check, mtime, rename. */
  async copy(src: Side, dst: Side, req: CopyRequest): Promise<CopyResult> {
    assertSafeArgument(req.srcPath, 'source path');
    const final = containedPath(req.dstRoot, req.dstRel);
    const tmp = containedPartPath(req.dstRoot, req.dstRel);
    const signal = req.signal;
    if (signal?.aborted) throw abortError(signal);
    // Closing both control connections ends every wait at once; the servers
    // end the transfer when they notice (some only once it is done).
    const onAbort = () => {
      const err = abortError(signal!);
      src.destroy(err);
      dst.destroy(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.copyOnce(src, dst, req, final, tmp);
    } catch (err) {
      throw signal?.aborted ? abortError(signal) : err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async copyOnce(src: Side, dst: Side, req: CopyRequest, final: ContainedPath, tmp: ContainedPath): Promise<CopyResult> {
    // Connections are always taken source first, then destination, by every
    // caller: two tasks taking them in opposite orders could deadlock a full pool.
    const s0 = await src.live();
    await dst.live();
    // Aborted while waiting for the connections: their abort came before they were leased.
    if (req.signal?.aborted) throw abortError(req.signal);
    const size = req.size ?? (await s0.size(req.srcPath));
    let rest = 0;
    let complete = false;
    if (this.policy.continue) {
      const have = await (await dst.live()).sizeIfExists(tmp);
      if (have !== undefined && have > 0 && have < size) rest = have;
      else if (have === size && size > 0) complete = true;
    }
    let mode: TransferMode = 'fxp';
    let relayedBytes = 0;
    let aheadOnSrc: Promise<void> | undefined;
    try {
      if (!complete) {
        try {
          ({ mode, relayedBytes } = await this.transfer(src, dst, { srcPath: req.srcPath, dstPath: tmp, rest, remaining: size - rest, signal: req.signal }));
        } catch (err) {
          // Servers may refuse REST before STOR (RFC 3659 §5): proftpd does by
          // default ("451 Append/Restart not permitted", AllowStoreRestart off).
          // Without this, --continue would fail on such a server forever.
          if (rest === 0 || !(err instanceof FtpReplyError) || !err.command.startsWith('STOR ')) throw err;
          const label = (await dst.live()).label;
          this.warnOnce(`rest:${label}`, `${label} does not resume uploads (${err.message}): transferring from the start`);
          rest = 0;
          ({ mode, relayedBytes } = await this.transfer(src, dst, { srcPath: req.srcPath, dstPath: tmp, rest, remaining: size, signal: req.signal }));
        }
      }
      // The next file's PASV, asked for while this one is checked and renamed
      // (transfer.ts, "PASV ahead"): on a passive source now, beside the
      // destination's SIZE+MFMT; on a passive destination, pipelined after
      // RNFR+RNTO. Not with --verify checksum, which needs the source meanwhile.
      let aheadOnDst = false;
      if (req.more && !complete && this.policy.verify !== 'checksum' && (mode === 'fxp' || mode === 'fxp-reversed')) {
        const passive: PassiveSide = mode === 'fxp' ? 'source' : 'destination';
        const conn = await (passive === 'source' ? src : dst).live();
        if (this.fxp.canOpenAhead(conn)) {
          if (passive === 'source') aheadOnSrc = this.fxp.openAhead(conn);
          else aheadOnDst = true;
        }
      }
      const d = await dst.live();
      // SIZE and the mtime command go out together (one round trip) once we
      // know how this server sets times; the rename waits for the size check,
      // so a short file never gets its final name.
      await d.ensureType('I'); // RFC 3659 §4: SIZE is exact in binary type only
      const setTime = req.mtime ? d.mtimeCommand(tmp, req.mtime) : undefined;
      const batch: [string, string?][] = [];
      if (this.policy.verify !== 'none') batch.push(['SIZE', tmp]);
      if (setTime) batch.push(setTime);
      const replies = batch.length ? await d.pipeline(batch) : [];
      if (this.policy.verify !== 'none') {
        // Always compare sizes: two "226" replies can still leave a short file
        // (a refused data connection, or proftpd's TLS 1.3 truncation).
        const r = replies[0];
        if (r instanceof FtpReplyError) throw r;
        const got = Number(r.message.trim());
        if (got !== size) throw new FxpVerifyError(`${d.label}: ${final}: size after transfer is ${r.message.trim()}, expected ${size}`);
      }
      let checksum: CopyResult['checksum'];
      if (this.policy.verify === 'checksum') checksum = await this.verifyChecksum(await src.live(), d, req.srcPath, tmp);
      let mtimeSet = false;
      if (setTime) {
        const r = replies[replies.length - 1];
        if (r instanceof FtpReplyError) throw r;
        mtimeSet = true;
      } else if (req.mtime) {
        mtimeSet = await d.setMtime(tmp, req.mtime); // learns the server's method on the first file
        if (!mtimeSet) this.warnOnce(`mtime:${d.label}`, `${d.label} cannot set modification times (no MFMT, SITE UTIME or MDTM with a time): mtimes are not preserved there`);
      }
      await publish(d, tmp, final, aheadOnDst ? this.fxp : undefined);
      // Without a shared algorithm the file was checked by size only: say so.
      const verified = this.policy.verify === 'checksum' && !checksum ? 'size' : this.policy.verify;
      return { mode, bytes: size - rest, resumedFrom: rest, relayedBytes, mtimeSet, verified, checksum };
    } catch (err) {
      if (!this.policy.continue) await discard(dst, tmp);
      throw err;
    } finally {
      // The source goes back to the pool only once its PASV reply is read:
      // the next user's first reply would be that 227 otherwise.
      await aheadOnSrc;
    }
  }

  private async verifyChecksum(s: FtpConnection, d: FtpConnection, srcPath: string, dstPath: ContainedPath): Promise<CopyResult['checksum']> {
    const common = s.hashAlgorithms().filter((a) => d.hashAlgorithms().includes(a));
    if (common.length === 0) {
      this.warnOnce(`hash:${s.label}>${d.label}`, `${s.label} and ${d.label} share no checksum algorithm (HASH, XSHA256, XSHA1, XMD5, XCRC): verified by size only`);
      return undefined;
    }
    const algorithm = common[0];
    const [a, b] = await Promise.all([s.checksum(srcPath, algorithm), d.checksum(dstPath, algorithm)]);
    if (a !== b) throw new FxpVerifyError(`${d.label}: ${dstPath}: ${algorithm} ${b} differs from the source's ${a}`);
    return { algorithm, value: a };
  }

  /** Walk the ladder for one file. */
  async transfer(src: Side, dst: Side, file: { srcPath: string; dstPath: ContainedPath; rest: number; remaining: number; signal?: AbortSignal }): Promise<{ mode: TransferMode; relayedBytes: number }> {
    let s = await src.live();
    let d = await dst.live();
    const key = `${s.label}\u0000${d.label}`;
    const { rungs, notes } = buildLadder(s, d, this.policy, this.fxp);
    const refused = this.refused.get(key) ?? new Set<TransferMode>();
    this.refused.set(key, refused);
    const known = this.memory.get(key);
    const ordered = known ? [...rungs.filter((r) => r.mode === known), ...rungs.filter((r) => r.mode !== known)] : rungs;
    const refusals: FxpRefusedError[] = [];
    for (const rung of ordered) {
      if (refused.has(rung.mode) && rung.mode !== 'relay') continue;
      s = await src.live();
      d = await dst.live();
      try {
        let relayedBytes = 0;
        if (rung.layout) {
          await fxpTransfer(s, d, rung.layout, file, this.fxp, this.policy.timings ?? DEFAULT_TIMINGS);
          if (rung.layout.tls.startsWith('sscn')) this.fxp.learnSscn(rung.layout.tls === 'sscn-source' ? s : d, true);
        } else {
          await resetForClientData(s);
          await resetForClientData(d);
          relayedBytes = await relayTransfer(s, d, file);
        }
        this.memory.set(key, rung.mode);
        // The notes explain why the data went through the client or in the
        // clear; when protected FXP worked they are noise, and when every rung
        // failed they are part of the error message instead.
        if (rung.mode === 'relay' || rung.mode.startsWith('fxp-clear')) for (const n of notes) this.warnOnce(`note:${key}:${n}`, n);
        return { mode: rung.mode, relayedBytes };
      } catch (err) {
        // An aborted transfer is no refusal: the ladder stops here.
        if (!(err instanceof FxpRefusedError) || !rung.layout || file.signal?.aborted) throw err;
        refusals.push(err);
        // A rung that already worked for this pair is not banned by one failure
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

/**
 * RNFR/RNTO the temporary file onto its final name. Some servers refuse to
 * rename onto an existing file; then the old file is deleted first, which
 * leaves a moment with no file, never a half-written one.
 */
async function publish(d: FtpConnection, tmp: ContainedPath, final: ContainedPath, ahead?: FxpState): Promise<void> {
  // RNFR and RNTO in one round trip: RNTO after a refused RNFR just gets 503.
  // PASV for the next transfer may ride along: it does not depend on them.
  const rename = async (withPasv: boolean) => {
    const replies = await (withPasv ? d.pipeline([['RNFR', tmp], ['RNTO', final], ['PASV']]) : d.pipeline([['RNFR', tmp], ['RNTO', final]]));
    const [from, to, pasv] = replies;
    if (pasv !== undefined && !(pasv instanceof FtpReplyError)) ahead?.rememberAhead(d, pasv);
    if (from instanceof FtpReplyError) throw from;
    if (to instanceof FtpReplyError) throw to;
  };
  try {
    await rename(ahead !== undefined);
  } catch (err) {
    if (!(err instanceof FtpReplyError)) throw err;
    await d.delete(final).catch(() => undefined);
    await rename(false);
  }
}

async function discard(dst: Side, tmp: ContainedPath): Promise<void> {
  try {
    const d = await dst.live();
    await d.delete(tmp);
  } catch {
    /* nothing there, or the server is gone: nothing more we can do */
  }
}
