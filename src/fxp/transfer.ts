import type { FtpConnection } from '../ftp/connection.js';
import type { FtpReply } from '../ftp/reply.js';
import type { HostPort } from '../ftp/address.js';
import { commandLine, passiveVerb, portCommand, pretCommand, restCommand, type Command } from '../ftp/commands.js';
import { FtpReplyError, FtpTimeoutError, FxpRefusedError } from '../ftp/errors.js';
import { formatMs } from '../ftp/channel.js';
import { settledWithin } from '../ftp/wait.js';
import { setTimeout as delay } from 'node:timers/promises';
import { connectsOnPort, wantsPret } from '../ftp/software.js';
import type { FxpState } from './state.js';
import { DEFAULT_TIMINGS, awaitBoth, type Ends, type FxpFile, type FxpTimings, type SourceEnd, type TransferAids } from './finish.js';
import { classifyFault, judgedError, type Fault } from './faults.js';
import { pasvWithStor, sourceFinishing, storesWithPasvNow } from './stor-with-pasv.js';

export { DEFAULT_TIMINGS } from './finish.js';
export type { FxpFile, FxpTimings, SourceEnd, TransferAids } from './finish.js';

/** Who acts as TLS client on the server-to-server data connection. */
export type TlsRole = 'none' | 'sscn-source' | 'sscn-destination' | 'cpsv' | 'clear';

/** One rung of the ladder: which side is passive, and how the data is protected. */
export interface FxpLayout {
  passive: 'source' | 'destination';
  tls: TlsRole;
  /** Force EPSV/EPRT (RFC 2428) even for IPv4: probe tries it; transfers use it when PASV is refused. */
  extended?: boolean;
}

/**
 * Where the part file cannot be watched, transfers slower than this are
 * considered stalled (lets a 1 GiB file take 68 minutes).
 */
const FLOOR_RATE_BYTES_PER_MS = 256;

/**
 * A failure at a command step, judged (faults.ts): a refused command is the
 * layout's refusal, a lost connection is transient. No data can have moved
 * before RETR is sent.
 */
function judged(conn: FtpConnection, step: string, err: unknown): unknown {
  const fault: Fault = { step, error: err };
  return judgedError(fault, classifyFault(fault, false), conn.label);
}

/**
 * RFC 4217 has no word on server-to-server TLS. In practice one server must
 * act as TLS client of the data connection: SSCN ON makes that server the
 * client (proftpd, glftpd, drftpd); CPSV is PASV that also makes the passive
 * server the TLS client. Without either, both servers wait for a ClientHello
 * from each other forever, so that layout is never attempted.
 */
async function setSscn(conn: FtpConnection, on: boolean): Promise<void> {
  try {
    await conn.setSscn(on);
  } catch (err) {
    throw judged(conn, 'SSCN', err);
  }
}

async function prepareProtection(src: FtpConnection, dst: FtpConnection, layout: FxpLayout): Promise<void> {
  const bothTls = src.isTls && dst.isTls;
  if (layout.tls === 'clear' || (!bothTls && (src.isTls || dst.isTls))) {
    // Clear data between a TLS and a non-TLS server, or by explicit choice (--allow-clear-data).
    await Promise.all([src, dst].map(async (c) => {
      if (!c.isTls) return;
      await setSscn(c, false);
      try {
        await c.setProtection('C');
      } catch (err) {
        throw judged(c, 'PROT C', err);
      }
    }));
    return;
  }
  if (!bothTls) return;
  await Promise.all([src.setProtection('P'), dst.setProtection('P')]);
  const passive = layout.passive === 'source' ? src : dst;
  const active = passive === src ? dst : src;
  if (layout.tls === 'sscn-source' || layout.tls === 'sscn-destination') {
    const client = layout.tls === 'sscn-source' ? src : dst;
    const other = client === src ? dst : src;
    await Promise.all([setSscn(client, true), setSscn(other, false)]);
  } else if (layout.tls === 'cpsv') {
    // CPSV itself tells the passive side to be the TLS client; the active side must be the TLS server.
    await Promise.all([setSscn(active, false), setSscn(passive, false)]);
  }
}

/**
 * PASV (or CPSV, or EPSV when PASV is refused or the peer is IPv6) on the
 * passive side, when no PASV asked ahead could be taken (fxpTransfer). The address comes from
 * the ftp layer's passiveTarget: never a third host the reply may name,
 * unless the user trusts this server's PASV address.
 */
async function openPassive(conn: FtpConnection, layout: FxpLayout, pret: Command, fxp: FxpState): Promise<{ hp: HostPort; extended: boolean }> {
  if (wantsPret(conn.state.kind, conn.features.pret)) {
    try {
      await conn.request(...pretCommand(pret));
    } catch (err) {
      throw judged(conn, 'PRET', err);
    }
  }
  // RFC 2428 §3: an IPv6 peer needs EPSV (or CEPR), which answers with a port only.
  const extended = !!layout.extended || conn.channel.remoteAddress.includes(':');
  const verb = passiveVerb({ extended, tlsClient: layout.tls === 'cpsv' });
  try {
    // Only a plain PASV falls back to EPSV: a refused EPSV, CPSV or CEPR is the rung's refusal.
    if (verb !== 'PASV') return { hp: await conn.passive(verb), extended };
    const got = await conn.passiveWithFallback(false);
    fxp.learnPasv(conn, !got.extended);
    return got;
  } catch (err) {
    // The step is the command that was refused (PASV when it and EPSV both were).
    throw judged(conn, err instanceof FtpReplyError ? err.command.split(' ')[0] : verb, err);
  }
}

async function sendPort(conn: FtpConnection, port: Command): Promise<void> {
  try {
    await conn.request(...port);
  } catch (err) {
    throw judged(conn, port[0], err);
  }
}

/**
 * One site-to-site transfer in one layout. The caller holds both connections
 * (inside their `exclusive`), and replaces any connection this closes.
 *
 * Order of commands, and why:
 * 1. STOR goes to the destination first. pyftpdlib opens an active data
 *    connection as soon as it gets PORT, and drops data that arrives before it
 *    has processed STOR, then waits forever. That is why lftp (RETR first)
 *    stalls from pure-ftpd to pyftpdlib with the source passive: pure-ftpd
 *    starts sending the moment pyftpdlib's connection is accepted.
 * 2. We wait for the destination's 1xx before RETR. An active destination
 *    marks as soon as it has connected. A passive one may mark only after the
 *    source connects (vsftpd, proftpd accept first, then mark), so we wait a
 *    short grace, learn that per server, and then send RETR anyway.
 * 3. RETR to the source. Then both final replies, in either order: a 226 from
 *    one side alone proves nothing (a refused data connection can still end
 *    in "226" for an empty file on the other side).
 * Where the active side is known to answer PORT at once and to connect only
 * while processing RETR or STOR (see pipelinable), PORT goes out in the same
 * write as STOR or RETR and nothing is waited for before the final replies
 * (a passive destination that marks at once gets STOR a head start instead
 * of a wait; in a mirror, STOR in its PASV's own write instead:
 * stor-with-pasv.ts). With the PASV asked ahead (behind RETR here, or beside
 * SIZE+MFMT: state.ts) and the rename pipelined with the next file's
 * commands (engine.ts, publish.ts), a file in a mirror costs two round
 * trips: the transfer, and SIZE+MFMT.
 */
export async function fxpTransfer(
  src: FtpConnection,
  dst: FtpConnection,
  layout: FxpLayout,
  file: FxpFile,
  fxp: FxpState,
  timings: FxpTimings = DEFAULT_TIMINGS,
  aids: TransferAids = {},
): Promise<SourceEnd | undefined> {
  const passive = layout.passive === 'source' ? src : dst;
  // A passive destination in a mirror: STOR in PASV's own write (stor-with-pasv.ts), no head start,
  // and the transfer over once the destination said 226 (the source's verdict comes later: finish.ts).
  const storSent = storesWithPasvNow(src, dst, layout, file, fxp);
  // Nothing goes to a source whose previous transfer's 226 is still owed (Ends.early: proftpd answers 450 meanwhile).
  const owed = storSent ? undefined : fxp.owed(src);
  if (owed) await owed;
  const typeSrc = src.ensureType('I');
  const typeDst = dst.ensureType('I');
  // Both already binary (every file but a connection's first): the same settled promise, one await.
  await (typeSrc === typeDst ? typeSrc : Promise.all([typeSrc, typeDst]));
  // Without TLS on either side there is nothing to set (PROT, SSCN).
  if (src.isTls || dst.isTls) await prepareProtection(src, dst, layout);
  const deadline = Math.max(src.server.timeouts.data, dst.server.timeouts.data, file.remaining / FLOOR_RATE_BYTES_PER_MS);
  const commandTimeout = Math.max(src.server.timeouts.command, dst.server.timeouts.command);
  const stallMs = Math.max(src.server.timeouts.data, dst.server.timeouts.data);
  const ends: Ends = { passive, deadline, stallMs, commandTimeout, timings, aids, early: storSent && file.remaining > 0 };
  let behind = false;
  // Both connections carry a transfer from their first command until its
  // replies are read: a rename checked meanwhile waits (finish-later.ts).
  const marks = [fxp.transferring(src), fxp.transferring(dst)];
  let later: SourceEnd | undefined;
  try {
    // The PASV asked ahead (state.ts) needs no command: taken here, without openPassive's round of promises.
    const early = storSent ? undefined : fxp.takeAhead(passive, layout.tls === 'none' && !layout.extended);
    const { hp, extended } = storSent
      ? { hp: await pasvWithStor(src, dst, file, fxp, commandTimeout), extended: false }
      : early
        ? { hp: early, extended: false }
        : await openPassive(passive, layout, passive === src ? ['RETR', file.srcPath] : ['STOR', file.dstPath], fxp);
    // PORT or EPRT, built once: the PORT names only what openPassive chose.
    const port = portCommand(hp, extended);
    const plan = storSent ? { headStartMs: 0, storSent } : pipelinable(src, dst, layout, file, fxp);
    // "PASV behind RETR" (state.ts): the next file's PASV in RETR's write,
    // answered after RETR's 226, so the next file needs no wait of its own
    // for it. Read once RETR's replies are, whatever the transfer's outcome:
    // a source that is still open then has it owed.
    behind = passive === src && file.more === true && layout.tls === 'none' && !extended && fxp.canAskBehindRetr(src);
    const retr: Command[] = behind ? [['RETR', file.srcPath], ['PASV']] : [['RETR', file.srcPath]];
    later = await transferWith(src, dst, layout, file, fxp, { port, retr, plan, ends });
    return later;
  } finally {
    if (behind) await fxp.readBehindRetr(src, commandTimeout);
    marks[1]();
    // The source carries this transfer until its own final reply (stor-with-pasv.ts, sourceFinishing).
    if (later) sourceFinishing(src, later.verdict, fxp, marks[0]);
    else marks[0]();
  }
}

interface Steps {
  port: Command;
  /** RETR, and the PASV behind it. */
  retr: Command[];
  /** storSent: STOR went out with PASV already (stor-with-pasv.ts). */
  plan: { headStartMs: number; storSent?: boolean } | undefined;
  ends: Ends;
}

/** fxpTransfer once the passive side has its address: the commands to both servers, then their final replies. */
async function transferWith(src: FtpConnection, dst: FtpConnection, layout: FxpLayout, file: FxpFile, fxp: FxpState, steps: Steps): Promise<SourceEnd | undefined> {
  const { port, retr, plan, ends } = steps;
  const { passive, timings, commandTimeout } = ends;
  const active = passive === src ? dst : src;
  if (plan) {
    // One write per server, no waiting between them (see pipelinable): a
    // file costs one round trip less. PORT's reply is read first; a refused
    // PORT leaves the other commands' replies and the other side's pending
    // command behind, so both connections are closed and the caller reconnects.
    try {
      if (passive === dst) {
        if (!plan.storSent) dst.send('STOR', file.dstPath);
        if (plan.headStartMs > 0) await delay(plan.headStartMs);
        src.sendBatch([port, ...retr]);
      } else {
        dst.sendBatch([port, ['STOR', file.dstPath]]);
        src.sendBatch(retr);
      }
    } catch (err) {
      // One side closed under us: the other may have a command pending.
      await closeBoth(src, dst, fxp, err);
      throw err;
    }
    let failure: unknown;
    try {
      const portReply = await active.reply(commandTimeout, undefined, `reply to ${port[0]}`);
      if (portReply.code >= 300) failure = new FtpReplyError(portReply.code, commandLine(port), portReply.lines);
    } catch (err) {
      failure = err;
    }
    if (failure !== undefined) {
      await closeBoth(src, dst, fxp, failure);
      throw judged(active, port[0], failure);
    }
    if (plan.headStartMs === 0) return awaitBoth(src, dst, file, undefined, ends);
    try {
      return await awaitBoth(src, dst, file, undefined, ends);
    } catch (err) {
      // Data may have reached it before STOR (pyftpdlib then drops the data
      // connection and says nothing more): this server gets its mark waited
      // for from now on. What looks like a refusal (silence, nothing
      // written) is not judged one until tried that way: the retry does.
      fxp.learnHeadStartFailed(dst);
      if (!(err instanceof FxpRefusedError)) throw err;
      throw new FtpTimeoutError(`${err.server}: ${err.step}: ${err.reply} (STOR went ${plan.headStartMs} ms ahead of RETR; the next try waits for its mark)`, { cause: err });
    }
  }
  // PORT is never pipelined with STOR: pyftpdlib answers PORT only once its
  // data connection is up, so a STOR sent in the same write gets its 150
  // before PORT's 200, and the replies no longer pair with the commands.
  await sendPort(active, port);
  // RFC 3659 §5: REST STREAM offset on both sides before RETR/STOR. The
  // source's REST waits until STOR was accepted: a REST left pending on a
  // pooled connection would apply to the next, unrelated RETR.
  if (file.rest > 0) await dst.request(...restCommand(file.rest));

  // 1. STOR on the destination.
  dst.send('STOR', file.dstPath);
  let dstMark: FtpReply | undefined;
  // STOR's first reply: read now (below), or still pending for awaitBoth.
  let dstFirst: Promise<FtpReply> | undefined;
  const dstPassive = passive === dst;
  const knownLate = fxp.marksAfterAccept(dst) === true;
  // An active destination that connects only while processing STOR cannot
  // receive data early: RETR may follow at once (one round trip less per file).
  const safeEarly = !dstPassive && dst.state.kind !== undefined && connectsOnPort(dst.state.kind) === false;
  if (!safeEarly && (!dstPassive || !knownLate)) {
    const wait = dstPassive ? timings.markGraceMs : commandTimeout;
    let fault: Fault | undefined;
    try {
      dstFirst = dst.reply(commandTimeout, undefined, 'reply to STOR');
      dstMark = await settledWithin(dstFirst, wait);
      if (dstMark === undefined && !dstPassive) {
        // An active destination that does not mark: its data connection to the passive source never came.
        fault = { step: 'STOR', error: new FtpTimeoutError(`no reply within ${formatMs(wait)}`), silent: true };
      } else if (dstMark !== undefined && dstMark.code >= 300) {
        fault = { step: 'STOR', error: new FtpReplyError(dstMark.code, `STOR ${file.dstPath}`, dstMark.lines) };
      }
    } catch (err) {
      fault = { step: 'STOR', error: err, silent: err instanceof FtpTimeoutError };
    }
    if (fault) {
      // Nothing was sent to the source yet, so no data moved. A destination
      // that did not answer STOR may still: it is closed (the caller reconnects).
      if (dstMark === undefined) dst.destroy(fault.error instanceof Error ? fault.error : undefined);
      throw judgedError(fault, classifyFault(fault, false), dst.label);
    }
    if (dstMark === undefined) fxp.learnMarksAfterAccept(dst, true); // this passive server marks only after the data connection arrives
    else if (dstPassive) fxp.learnMarksAfterAccept(dst, false);
  }
  // 2. RETR on the source.
  if (file.rest > 0) {
    try {
      await src.request(...restCommand(file.rest));
    } catch (err) {
      dst.destroy(err as Error); // its STOR is pending: the caller replaces the connection
      throw err;
    }
  }
  try {
    src.sendBatch(retr);
  } catch (err) {
    dst.destroy(err as Error); // its STOR is pending: the caller replaces the connection
    throw err;
  }
  return awaitBoth(src, dst, file, dstMark ?? dstFirst, ends);
}

/**
 * Whether fxpTransfer may send PORT together with the command after it and
 * not wait for the destination's mark: a plain layout, no REST, and an
 * active side known to connect only while processing RETR or STOR, and to
 * answer PORT at once (vsftpd, proftpd, pure-ftpd; not pyftpdlib, which
 * answers PORT late and connects on PORT):
 * - source passive: the active destination connects only while processing
 *   STOR, so no data flows before it is ready: PORT+STOR, RETR;
 * - destination passive: STOR, then PORT+RETR. A destination that accepts
 *   before it marks (vsftpd, proftpd, pure-ftpd) holds the source's
 *   connection in its backlog until STOR is processed. One that marks at
 *   once (pyftpdlib) drops data that arrives before STOR is processed: it
 *   gets STOR a head start (headStartMs) where the round trips make that
 *   safe and worth it, else its mark is waited for (the path after this).
 */
function pipelinable(src: FtpConnection, dst: FtpConnection, layout: FxpLayout, file: FxpFile, fxp: FxpState): { headStartMs: number } | undefined {
  if (layout.tls !== 'none' || file.rest !== 0) return undefined;
  const lazy = (c: FtpConnection) => c.state.kind !== undefined && connectsOnPort(c.state.kind) === false;
  if (layout.passive === 'source') return lazy(dst) ? { headStartMs: 0 } : undefined;
  if (!lazy(src)) return undefined;
  const marksLate = fxp.marksAfterAccept(dst);
  if (marksLate === true) return { headStartMs: 0 };
  if (marksLate === undefined || !fxp.headStartAllowed(dst)) return undefined;
  const ms = headStartMs(src.state.rttMs, dst.state.rttMs);
  return ms === undefined ? undefined : { headStartMs: ms };
}

/** Never less than this head start: a destination busy for a few ms (pyftpdlib is one Python thread) must not lose the race. */
const MIN_HEAD_START_MS = 5;

/**
 * How long STOR goes ahead of PORT+RETR to a passive destination that
 * marks STOR at once, so that it has processed STOR before the data comes;
 * undefined when that is not worth it (waiting for its mark costs one
 * round trip to it) or the round trips are not known yet.
 *
 * The client sends STOR at t and RETR at t + head start. STOR reaches the
 * destination after half its round trip; the data, after the head start,
 * half the source's round trip, and a TCP handshake between the servers.
 * The head start makes up for a farther destination and keeps a margin of
 * a quarter of its round trip (at least MIN_HEAD_START_MS), before the
 * handshake between the servers even starts. On the bench's WAN (40 ms to
 * each server) that is 10 ms instead of a 40 ms wait; on loopback the
 * mark is waited for (it costs less than the margin).
 */
export function headStartMs(srcRttMs: number | undefined, dstRttMs: number | undefined): number | undefined {
  if (srcRttMs === undefined || dstRttMs === undefined) return undefined;
  const ms = Math.max(0, (dstRttMs - srcRttMs) / 2) + Math.max(MIN_HEAD_START_MS, dstRttMs / 4);
  return ms < (dstRttMs * 3) / 4 ? Math.ceil(ms) : undefined;
}

/**
 * Close both connections (their replies are out of step), but only once the
 * replies still owed on them have come: the rename of the file before, sent
 * pipelined ahead of this transfer's commands (publish.ts), is answered
 * first, and its file is not lost with the connection.
 */
async function closeBoth(src: FtpConnection, dst: FtpConnection, fxp: FxpState, cause: unknown): Promise<void> {
  await Promise.all([fxp.owed(src), fxp.owed(dst)]);
  const err = cause instanceof Error ? cause : undefined;
  src.destroy(err);
  dst.destroy(err);
}
