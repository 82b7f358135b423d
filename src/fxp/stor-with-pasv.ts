/**
 * A passive destination in a mirror gets STOR in the same write as its PASV:
 * dst [PASV, STOR] (after the previous file's SIZE+MFMT, finish-later.ts, in
 * one write: channel.ts sends one event-loop turn's commands together), the
 * 227 is read and checked, then src [PORT, RETR] at once.
 *
 * Why this is safe by construction: the destination reads PASV and STOR in
 * order (RFC 959 §4.2: commands are processed one after another) and had
 * processed STOR before its 227 even reached the client; the source is told
 * to connect only after that, so no data can reach the destination before
 * STOR. pyftpdlib drops data that comes before STOR and then hangs (lab
 * notes, "pyftpdlib as destination races"): no head start to guess
 * (transfer.ts, headStartMs), no race to lose, and no wait for its 150. The
 * classic FXP order (STOR before RETR) already relies on every RFC 959
 * server taking STOR before the passive data connection exists: lab,
 * pyftpdlib 1.5.7, pure-ftpd 1.0.50 and proftpd 1.3.8 do.
 *
 * What can go wrong once STOR is pending: PASV refused, or a 227 that
 * cannot be read. STOR's own reply follows (pyftpdlib "425 Use PORT or PASV
 * first", or a wait for a connection), so the replies are out of step: the
 * destination is closed (after the replies owed to the file before, so its
 * rename is not lost: state.ts), PORT never goes to the source, and the
 * failure is judged as a PASV step (a refusal moves down the ladder for this
 * file), and the next transfers send PASV alone again, with its EPSV
 * fallback. A 227 naming another host is replaced by the control
 * peer as everywhere (FtpConnection.passiveTarget): a third party's address
 * never reaches the source. A refused PORT is handled by the caller as on
 * every pipelined path (both connections closed).
 */
import type { FtpConnection } from '../ftp/connection.js';
import type { HostPort } from '../ftp/address.js';
import type { FtpReply } from '../ftp/reply.js';
import { FtpClosedError, FtpReplyError, FxpRefusedError } from '../ftp/errors.js';
import { connectsOnPort } from '../ftp/software.js';
import { classifyFault, judgedError, type Fault } from './faults.js';
import type { FxpFile } from './finish.js';
import type { FxpState } from './state.js';

/**
 * Whether the destination `dst` may get [PASV, STOR] from a transfer with
 * `src` as the active side: a plain PASV server (no TLS, IPv4, no PRET:
 * FxpState.canOpenAhead) and a source known to answer PORT at once and to
 * connect only while processing RETR (software.ts), so that PORT+RETR go
 * out in one write after the 227 (transfer.ts, pipelinable). The engine
 * asks this too: where it holds, no PASV is asked ahead on the destination
 * and the size check of the file before rides with [PASV, STOR]. Only once
 * this server answered a transfer's PASV alone (the first file of a run
 * learns it: transfer.ts, openPassive): one that refuses PASV and takes
 * EPSV keeps that fallback, which [PASV, STOR] has no room for.
 */
export function storesWithPasv(src: FtpConnection, dst: FtpConnection, fxp: FxpState): boolean {
  return src.state.kind !== undefined && connectsOnPort(src.state.kind) === false && fxp.canOpenAhead(dst) && fxp.pasvWorks(dst) === true;
}

/** What this module reads of a layout (transfer.ts, FxpLayout, which imports this module). */
interface LayoutShape {
  passive: 'source' | 'destination';
  tls: string;
  extended?: boolean;
}

/**
 * Whether this transfer takes that path: the destination is passive in a
 * plain layout (no TLS role, no EPSV), nothing is resumed (REST must come
 * between PASV and STOR), and it is a mirror (`file.more`: copy keeps its
 * order).
 */
export function storesWithPasvNow(src: FtpConnection, dst: FtpConnection, layout: LayoutShape, file: FxpFile, fxp: FxpState): boolean {
  return layout.passive === 'destination' && layout.tls === 'none' && !layout.extended && file.rest === 0 && file.more === true && storesWithPasv(src, dst, fxp);
}

/**
 * Send PASV and STOR to `dst` in one write and return where the source must
 * connect, once `src` may be told: its final reply to the transfer before
 * has come (see sourceFinishing). On any failure before that address is
 * known, `dst` is closed (its STOR is pending) and the judged failure is
 * thrown. A source lost meanwhile (its late 426 closed it) fails at PORT,
 * transient: both connections are closed and this file is sent again.
 */
export async function pasvWithStor(src: FtpConnection, dst: FtpConnection, file: FxpFile, fxp: FxpState, timeoutMs: number): Promise<HostPort> {
  let pending = false;
  try {
    dst.sendBatch([['PASV'], ['STOR', file.dstPath]]);
    pending = true;
    const reply: FtpReply = await dst.reply(timeoutMs, undefined, 'reply to PASV');
    if (reply.code !== 227) throw new FtpReplyError(reply.code, 'PASV', reply.lines);
    const hp = dst.passiveTarget('PASV', reply);
    fxp.learnPasv(dst, true);
    const owed = fxp.owed(src);
    if (owed) await owed;
    // Closed by the transfer before's verdict (its source silent past the copy-check timeout): this file is sent again.
    if (src.closed) throw new FtpClosedError(`${src.label}: connection closed before PORT (the transfer before ended badly)`);
    return hp;
  } catch (err) {
    if (pending) {
      await fxp.owed(dst);
      dst.destroy(err instanceof Error ? err : undefined);
    }
    const fault: Fault = { step: 'PASV', error: err };
    const judged = judgedError(fault, classifyFault(fault, false), dst.label);
    // Refused, or a 227 that cannot be read: the next transfers send PASV alone again (with its EPSV fallback).
    if (judged instanceof FxpRefusedError) fxp.learnPasv(dst, false);
    throw judged;
  }
}

/**
 * The source of a transfer that returned on the destination's final reply
 * (finish.ts, Ends.early), until its own final reply comes: proftpd 1.3.8
 * sends its 226 one server round trip after its 150 (a lingering close of
 * the data connection), after pyftpdlib's or pure-ftpd's 226, and answers a
 * command that arrives meanwhile with "450 ... data transfer in progress".
 * So that reply is owed (FxpState.owe): the next transfer's PORT+RETR wait
 * for it (pasvWithStor; fxpTransfer and relay on every other path), and so
 * does a transfer that closes the connection; every queued operation of the
 * connection (a listing, an MDTM, QUIT) waits for it in its queue; and the
 * connection stays marked as transferring. Returned to the pool meanwhile,
 * it is never spoken to before that reply, whoever takes it.
 */
export function sourceFinishing(src: FtpConnection, end: Promise<void>, fxp: FxpState, unmark: () => void): void {
  const settled = end.then(unmark, unmark);
  fxp.owe(src, settled);
  void src.exclusive(() => settled);
}
