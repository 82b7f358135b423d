/**
 * Refusal or transient: the one judgement of what a failed site-to-site
 * transfer means, used by the engine (copy, mirror) and by probe alike, so
 * probe's verdict is what copy and mirror then do. Pure: it reads typed
 * errors and one observed fact (did data flow?), never a socket.
 *
 * - refusal: a server will not take part in this layout. The ladder moves to
 *   its next rung (the other passive side, another TLS role, relay), and the
 *   rung is not tried again for that pair of servers.
 * - transient: this attempt failed (a reset, a timeout, a stall, a short
 *   file, a 4xx) after the layout had worked. Retried in the same mode by the
 *   tree layer's retry loop; the ladder does not move.
 * - full: the destination's disk or quota is full. Never retried.
 * - permanent: the server refused the file itself (550 no such file, 553
 *   permission denied). Not retried, the ladder does not move.
 */
import { FtpError, FtpProtocolError, FtpReplyError, FtpTimeoutError, FxpRefusedError, asDiskFull, isDiskFull, isTransient, replyText } from '../ftp/errors.js';

export type FaultClass = 'refusal' | 'transient' | 'full' | 'permanent';

/**
 * Steps that are one command, answered before any data moves: a negative
 * reply to one of them is that server refusing its part in this layout
 * (PORT/EPRT to a foreign address, PASV/EPSV/CPSV/CEPR, SSCN, PROT C, PRET).
 */
export const COMMAND_STEPS: ReadonlySet<string> = new Set(['PRET', 'PASV', 'EPSV', 'CPSV', 'CEPR', 'PORT', 'EPRT', 'SSCN', 'PROT C']);

/**
 * A server that refuses a data connection from (or to) a foreign address,
 * in its own words. PORT refusals need no list (any negative reply to PORT is
 * a refusal); these are the words that come on RETR or STOR, where the same
 * codes also mean other things. Known texts (README, "Troubleshooting"):
 * - vsftpd: "425 Security: Bad IP connecting." (PORT: "500 Illegal PORT command.")
 * - proftpd: "425 Unable to build data connection: Permission denied" (PORT: "500 Illegal PORT command")
 * - pyftpdlib: "425 Rejected data connection from foreign address …" (PORT: "501 Rejected data connection to foreign address …")
 * - ftp-srv: "550 Remote addresses do not match" (PORT: "500 The given address is not yours")
 * - pure-ftpd: PORT "500 I won't open a connection to …"; a passive connection from a foreign address gets no reply at all
 * - GNU inetutils ftpd: PORT "500 Illegal PORT Command"
 */
export const FOREIGN_ADDRESS_TEXT =
  /Bad IP connecting|Unable to build data connection: Permission denied|Rejected data connection (from|to) foreign address|Remote addresses do not match|given address is not yours|won't open a connection to|Illegal PORT command/i;

/**
 * A 425 that is the server running out of something of its own, not a
 * refusal: pure-ftpd as the active side connects from port 20, and many small
 * files in a row reuse a four-tuple still in TIME_WAIT ("425 Could not open
 * data connection to port N: Cannot assign requested address").
 */
const LOCAL_RESOURCE_TEXT = /cannot assign requested address|address already in use|too many open files|resource temporarily unavailable/i;

/** What went wrong at one step of a transfer, before it is judged. */
export interface Fault {
  /** PASV, PORT, SSCN, ..., RETR, STOR, or "data" (the data connection, seen through the part file). */
  step: string;
  error: unknown;
  /**
   * Nothing was heard: a reply that never came, a side silent after the
   * other finished, a part file that stopped growing. Before any data moved
   * that is a data connection that never came (pure-ftpd's refusal is
   * silence); after, it is a stall.
   */
  silent?: boolean;
}

/** Whether the verdict depends on whether data reached the destination (only then is it worth a SIZE). */
export function dataFlowMatters(f: Fault): boolean {
  return !COMMAND_STEPS.has(f.step) && !isDiskFull(f.error);
}

/** The verdict on a fault; `dataFlowed`: bytes reached the destination's part file in this attempt. */
export function classifyFault(f: Fault, dataFlowed: boolean): FaultClass {
  const err = f.error;
  if (isDiskFull(err)) return 'full';
  if (COMMAND_STEPS.has(f.step)) {
    // 421 is the server closing the connection, not an answer to the command.
    if (err instanceof FtpReplyError) return err.replyCode === 421 ? 'transient' : 'refusal';
    // A passive reply we cannot read: this server cannot do this layout.
    if (err instanceof FtpProtocolError) return 'refusal';
    return transientOrPermanent(err);
  }
  if (!dataFlowed) {
    if (err instanceof FtpReplyError) {
      const text = replyText(err.lines);
      if (LOCAL_RESOURCE_TEXT.test(text)) return 'transient';
      // 425 can't open data connection, 426 closed before a byte (RFC 959 §4.2), or a foreign-address text.
      if (err.replyCode === 425 || err.replyCode === 426 || FOREIGN_ADDRESS_TEXT.test(text)) return 'refusal';
    } else if (f.silent) return 'refusal';
  }
  if (f.silent) return 'transient';
  return transientOrPermanent(err);
}

function transientOrPermanent(err: unknown): FaultClass {
  if (err instanceof FtpReplyError) return err.transient ? 'transient' : 'permanent';
  if (err instanceof FtpError && ['ECLOSED', 'ETIMEOUT', 'EABORTED', 'ECONNECT'].includes(err.code)) return 'transient';
  return 'permanent';
}

/**
 * A transfer that stopped moving bytes: the destination's part file did not
 * grow for --timeout seconds (or, where it cannot be watched, the transfer
 * outlived its deadline). Transient: retried in the same mode.
 */
export class FxpStallError extends FtpError {
  constructor(
    message: string,
    /** Which side stopped, as far as the client can tell (see README, "Stall detection"). */
    readonly blamed: 'source' | 'destination' | 'between',
    /** The part file's size when the transfer was given up. */
    readonly bytes: number,
  ) {
    super('ETIMEOUT', message);
  }
}

/** The size check failed after both servers said 226: a short (or long) file. Transient: sent again. */
export class FxpShortFileError extends FtpError {
  constructor(message: string) {
    super('EPROTOCOL', message);
  }
  override get transient(): boolean {
    return true;
  }
}

/** The words a refusal quotes: the reply's lines, or what was observed. */
function reasonOf(err: unknown): string {
  if (err instanceof FtpReplyError) return replyText(err.lines);
  return err instanceof Error ? err.message : String(err);
}

/**
 * The error a judged fault is thrown as: FxpRefusedError for a refusal (the
 * ladder's signal), FtpDiskFullError for a full disk, and for a transient
 * fault an error the retry loop sees as transient (isTransient).
 */
export function judgedError(f: Fault, cls: FaultClass, server: string): unknown {
  const err = f.error;
  switch (cls) {
    case 'refusal': {
      if (err instanceof FxpRefusedError) return err;
      // "<server> refused RETR: no reply to RETR within 10 s …": the server is named once.
      const reason = reasonOf(err);
      return new FxpRefusedError(server, f.step, reason.startsWith(`${server}: `) ? reason.slice(server.length + 2) : reason, { cause: err });
    }
    case 'full':
      return asDiskFull(err, server);
    case 'transient':
      return isTransient(err) ? err : new FtpTimeoutError(err instanceof Error && err.message.startsWith(server) ? err.message : `${server}: ${reasonOf(err)}`, { cause: err });
    case 'permanent':
      return err;
  }
}
