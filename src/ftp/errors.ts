/**
 * Typed errors. Every error the tool raises on purpose carries a stable `code`
 * so callers (the FXP ladder, the mirror executor, the CLI's exit-code map)
 * branch on codes, never on message text.
 */

export type FtpErrorCode =
  | 'EFTPREPLY' // the server answered with a 4xx/5xx (or an unexpected) reply
  | 'ETIMEOUT' // a connect, greeting, command or data deadline passed
  | 'ECLOSED' // the control or data connection closed underneath us
  | 'ETLS' // TLS handshake or certificate verification failed
  | 'EPROTOCOL' // a reply we cannot read (PASV address, SIZE, PWD), or a transfer that does not add up
  | 'EBADREPLY' // the control connection broke the protocol: not a reply, a code outside 100-599, an endless reply
  | 'EUNSAFE' // an argument would have put CR, LF or NUL on the wire
  | 'ECONNECT' // TCP connect failed (refused, unreachable, unknown host)
  | 'ELOGIN' // credentials refused
  | 'EURL' // a URL we could not understand
  | 'ECREDENTIALS' // a password, user, account or netrc we must not use (CR/LF/NUL, unreadable netrc)
  | 'EABORTED' // the caller aborted through its AbortSignal
  | 'EPATH' // a write path would have left the job's root (remote-path.ts)
  | 'ELIMIT' // a listing went past --max-listing-entries or --max-listing-line
  | 'EFXPREFUSED' // a server refused its part of a site-to-site transfer
  | 'EFULL'; // the server's disk or quota is full (452/552, or a reply that says so): never retried

export class FtpError extends Error {
  readonly code: FtpErrorCode;
  constructor(code: FtpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  /** Transient errors are worth a retry with backoff (4xx, resets, timeouts). */
  get transient(): boolean {
    return this.code === 'ETIMEOUT' || this.code === 'ECLOSED' || this.code === 'ECONNECT';
  }
}

/**
 * A reply we did not want. Carries everything the server said, like pg's
 * DatabaseError; the message keeps every line of a multi-line reply, because
 * servers put the cause on the `NNN-` lines (pure-ftpd on a full disk:
 * "451-Error during write to file", "451-Transfer aborted", then "451 0.002
 * seconds (measured here), …").
 */
export class FtpReplyError extends FtpError {
  readonly replyCode: number;
  readonly command: string;
  readonly lines: string[];
  constructor(replyCode: number, command: string, lines: string[]) {
    const text = lines.length ? replyText(lines) : String(replyCode);
    super('EFTPREPLY', `${command ? `${command}: ` : ''}${text}`);
    this.replyCode = replyCode;
    this.command = command;
    this.lines = lines;
  }
  /** RFC 959 §4.2: 4yz is "transient negative completion"; but a full disk (452) stays full. */
  override get transient(): boolean {
    return this.replyCode >= 400 && this.replyCode < 500 && !isDiskFullReply(this.replyCode, this.lines, this.command);
  }
}

/** A reply longer than this is cut in messages: a hostile server may send 64 KiB of lines. */
const MAX_REPLY_TEXT = 2000;

/**
 * A reply as one line of text for messages and JSON: every line of a
 * multi-line reply, joined by " / ", codes kept ("451-Error during write to
 * file / 451-Transfer aborted / 451 0.002 seconds"). The one home of this
 * wording: the FXP ladder, the mirror's unsynced reasons and FtpReplyError use it.
 */
export function replyText(lines: readonly string[]): string {
  const text = lines
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' / ');
  return text.length > MAX_REPLY_TEXT ? `${text.slice(0, MAX_REPLY_TEXT)}…` : text;
}

/**
 * Replies that say the space is exhausted, whatever their code: "No space
 * left on device" (proftpd, inetutils), "ENOSPC" (ftp-srv: "550 ENOSPC: no
 * space left on device, write"), "Disk full", "quota".
 */
const NO_SPACE_TEXT = /no space|ENOSPC|disk (is )?full|quota|not enough (disk )?space|insufficient (disk|storage)|storage allocation|space (is )?exhausted/i;

/**
 * A server that could not write the file it was storing, in the words of
 * the lab's servers when their disk fills in the middle of a transfer:
 * vsftpd "451 Failure writing to local file." (its network-side failure is
 * "426 Failure reading network stream."), pure-ftpd "451-Error during write
 * to file" (network: "Error during read from data connection"), proftpd
 * "451 Transfer aborted. Input/output error" (the errno of a later call; 452
 * with "No space left on device" once it is full from the start).
 */
const WRITE_FAILED_TEXT = /failure writing|error (during |while )?writ|(could not|cannot|can't|unable to) write|write (error|failed|failure)|input\/output error/i;

/**
 * pyftpdlib's reply to STOR when writing its file failed, in the 1.5.7 the
 * lab runs (Debian's python3-pyftpdlib, pyftpdlib/handlers.py). The errno is
 * lost on the way: DTPHandler.handle_read() wraps the OSError of
 * file_obj.write() as `_FileReadWriteError(err)` (line 812), an OSError made
 * from one argument, whose errno is None; handle_error() (lines 845-859)
 * answers "426 %s; transfer aborted." with _strerror(None), which is
 * str(None) (lines 235-245). Its other 426 replies to STOR say something
 * else: "426 Internal error; transfer aborted." (any other exception, a
 * socket error among them), "426 Transfer aborted via ABOR." (line 2501).
 * A data connection that is reset or closed early is no 426 at all:
 * ioloop.py's recv() (lines 899-912) turns ECONNRESET into handle_close(),
 * which answers a receiving channel "226 Transfer complete." (lines
 * 864-880; the size check catches that short file). On the sending side
 * "None" also answers a failed read of the file (line 1074), so it is only
 * read this way for STOR and APPE.
 */
const PYFTPDLIB_WRITE_FAILED = /^426 None; transfer aborted\.?$/;

/**
 * Whether a reply says the server's disk or quota is full. RFC 959 §4.2:
 * 452 "insufficient storage space", 552 "exceeded storage allocation"; any
 * 4xx/5xx that says the space is exhausted; and a reply to STOR or APPE
 * (`command`, as FtpReplyError keeps it) that says the server could not
 * write the file: a 451 in words (WRITE_FAILED_TEXT), or pyftpdlib's
 * "426 None" (PYFTPDLIB_WRITE_FAILED). That is a judgement: few servers name
 * the cause, and a server that cannot write its disk now will not write it
 * within this run's retry window (31 s); the next run tries again.
 */
export function isDiskFullReply(code: number, lines: readonly string[], command = ''): boolean {
  if (code === 452 || code === 552) return true;
  if (code < 400) return false;
  const text = lines.join('\n');
  if (NO_SPACE_TEXT.test(text)) return true;
  if (!/^(STOR|APPE)\b/i.test(command)) return false;
  if (code === 426) return lines.some((l) => PYFTPDLIB_WRITE_FAILED.test(l.trim()));
  return code === 451 && WRITE_FAILED_TEXT.test(text);
}

/**
 * The destination's disk or quota is full. Not transient: every retry would
 * fail the same way, so the tree layer stops sending to that destination.
 */
export class FtpDiskFullError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EFULL', message, options);
  }
}

/** Whether `err` says the server's disk or quota is full (see isDiskFullReply). */
export function isDiskFull(err: unknown): boolean {
  if (err instanceof FtpDiskFullError) return true;
  return err instanceof FtpReplyError && isDiskFullReply(err.replyCode, err.lines, err.command);
}

/** `err` as an FtpDiskFullError when it says the disk is full, else `err` itself. */
export function asDiskFull(err: unknown, server?: string): unknown {
  if (!(err instanceof FtpReplyError) || !isDiskFull(err)) return err;
  return new FtpDiskFullError(`${server ? `${server}: ` : ''}${err.message}`, { cause: err });
}

export class FtpTimeoutError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ETIMEOUT', message, options);
  }
}

export class FtpClosedError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ECLOSED', message, options);
  }
}

export class FtpTlsError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ETLS', message, options);
  }
}

export class FtpProtocolError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EPROTOCOL', message, options);
  }
}

/**
 * The control connection stopped speaking FTP: a line that is not a reply
 * (an HTML page, an SSH banner), a code outside 100-599, an endless reply.
 * Nothing after it can be trusted to be in step, so the connection is closed;
 * the CLI treats it as a failed connection (exit 3).
 */
export class FtpBadReplyError extends FtpError {
  constructor(message: string) {
    super('EBADREPLY', message);
  }
}

export class FtpUnsafeArgumentError extends FtpError {
  constructor(message: string) {
    super('EUNSAFE', message);
  }
}

export class FtpConnectError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ECONNECT', message, options);
  }
}

export class FtpLoginError extends FtpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ELOGIN', message, options);
  }
}

export class FtpUrlError extends FtpError {
  constructor(message: string) {
    super('EURL', message);
  }
}

/** A listing went past a bound: the directory counts as not listed (never a short list). */
export class FtpListingLimitError extends FtpError {
  constructor(message: string) {
    super('ELIMIT', message);
  }
}

/** Where a value was written: a job file key, a netrc token. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/**
 * A credential (or the netrc holding it) that cannot be used. The message
 * says where the value came from (an environment variable, a job file key, a
 * netrc line) and never contains the value itself.
 */
export class CredentialError extends FtpError {
  /** The message without the position, for callers that print the position their own way. */
  readonly reason: string;
  readonly at?: SourcePosition;
  constructor(reason: string, at?: SourcePosition) {
    super('ECREDENTIALS', at ? `${at.file}:${at.line}:${at.col}: ${reason}` : reason);
    this.reason = reason;
    this.at = at;
  }
}

export class FtpAbortError extends FtpError {
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super('EABORTED', message, options);
  }
}

/** True when an error is worth retrying. Non-FtpErrors (bugs) are never retried. */
export function isTransient(err: unknown): boolean {
  return err instanceof FtpError && err.transient;
}

/** CR, LF or NUL (no g flag: test() keeps no state between calls). */
const UNSAFE_CHAR = /[\r\n\0]/;

/**
 * Why `value` must not go on the wire, in words that never quote it (it may be
 * a password), or undefined when it is safe. RFC 959 §4.1.3: <CRLF> ends a
 * command, so a CR or LF inside one would start another; NUL truncates it on
 * C servers. A value that ends with CR is nearly always a line of a file
 * saved with CRLF line endings (a secrets.env edited on Windows): say so.
 */
export function unsafeValueReason(value: string): string | undefined {
  // One module-level regex: a literal here would be a new RegExp object per call, and this runs for every command sent.
  if (!UNSAFE_CHAR.test(value)) return undefined;
  if (/^[^\r\n\0]*\r$/.test(value)) return 'the value ends with a carriage return (CR); was the file saved with CRLF line endings?';
  if (/^[^\r\n\0]*\r?\n$/.test(value)) return 'the value ends with a line feed (LF)';
  const what = [value.includes('\r') && 'a carriage return (CR)', value.includes('\n') && 'a line feed (LF)', value.includes('\0') && 'a NUL byte'].filter(Boolean);
  return `the value contains ${what.join(' and ')}`;
}

/**
 * Refuse CR, LF and NUL before anything reaches the wire (RFC 959 §4.1.3:
 * <CRLF> ends a command). The message names `what` but never quotes the
 * argument: it may be the argument of PASS or ACCT.
 */
export function assertSafeArgument<A>(arg: string, what: string | ((a: A) => string) = 'argument', whatArg?: A): void {
  const reason = unsafeValueReason(arg);
  // `what` may be a function of `whatArg`: the hot paths (every command sent)
  // name the command only when it is refused, without a closure per command.
  if (reason) throw new FtpUnsafeArgumentError(`refusing ${typeof what === 'function' ? what(whatArg as A) : what}: ${reason}`);
}

/**
 * A server refused its part in a site-to-site transfer: a rejected PASV,
 * PORT, SSCN..., a data connection from or to a foreign address refused
 * before any data flowed, or one that never came (silence). Judged by
 * classifyFault (src/fxp/faults.ts). The FXP ladder moves to its next rung on
 * this error, and only on this one.
 */
export class FxpRefusedError extends FtpError {
  constructor(
    /** Display name of the server that refused. */
    readonly server: string,
    /** The step: PASV, PORT, EPSV, EPRT, SSCN, CPSV, PROT, RETR, STOR, data, size. */
    readonly step: string,
    /** The server's reply text, or what we observed ("no reply within 10 s"). */
    readonly reply: string,
    options?: { cause?: unknown },
  ) {
    super('EFXPREFUSED', `${server} refused ${step}: ${reply}`, options);
  }
}
