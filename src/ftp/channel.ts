import type net from 'node:net';
import type tls from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import { parseReplies, MAX_REPLY_BYTES, type FtpReply } from './reply.js';
import {
  FtpAbortError,
  FtpBadReplyError,
  FtpClosedError,
  FtpError,
  FtpProtocolError,
  FtpTimeoutError,
  assertSafeArgument,
} from './errors.js';
import { isTlsSocket, tlsModule } from './tls-policy.js';
import { eventWithin, guardErrors, monotonicMs } from './wait.js';

/** Where a socket's bytes come from other than its 'data' events (socket.ts, SocketInbox). */
export interface ByteSource {
  receive(receiver: (chunk: Buffer) => void): void;
}

/** Receives protocol lines for debugging. The channel never hands it a password. */
export type WireLog = (direction: '>' | '<', line: string) => void;

interface Waiter {
  resolve(reply: FtpReply): void;
  reject(err: Error): void;
  /** Set when the command takes exactly one reply: a 1xx mark for it means the replies are out of step. */
  oneReply?: string;
  /** monotonicMs() by which the reply must have come; Infinity for none. */
  deadline: number;
  timeoutMs: number;
  /** What is awaited, for the timeout's message ("reply to PASV"). */
  what: string;
}

/**
 * The control channel: one socket (plain or TLS), a reply parser and a FIFO of
 * replies. It knows no FTP commands: it sends lines and hands out replies in
 * arrival order. Replies that arrive while nobody waits are queued, because
 * FXP and data transfers routinely get a 226 before the caller asks for it.
 *
 * There is exactly one close path, close(cause): the first cause is kept and
 * every later failure (pending waiters, next send) quotes it.
 */
export class ControlChannel {
  /** Commands written so far: lets a caller tell whether anything was sent since a given point. */
  commandsSent = 0;
  private socket: net.Socket;
  private decoder = new StringDecoder('utf8');
  private buffer = '';
  private queue: FtpReply[] = [];
  private waiters: Waiter[] = [];
  private closeCause: Error | undefined;
  /** The deadline timer (armTimer) and the time it is set for. */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /**
   * Command text written in this turn of the event loop and not yet handed
   * to the socket (see queueWrite).
   */
  private pending = '';
  /** The newest TLS session of the control connection, offered to data connections (servers like vsftpd require reuse). */
  tlsSession: Buffer | undefined;
  readonly label: string;

  /**
   * `inbox`: a plain socket opened with net.connect's `onread` (socket.ts)
   * delivers its bytes there, not as 'data' events.
   */
  constructor(socket: net.Socket, label: string, private readonly wireLog?: WireLog, inbox?: ByteSource) {
    this.label = label;
    this.socket = socket;
    this.attach(socket);
    inbox?.receive(this.onChunk);
  }

  get closed(): boolean {
    return this.closeCause !== undefined;
  }

  get cause(): Error | undefined {
    return this.closeCause;
  }

  get isTls(): boolean {
    return isTlsSocket(this.socket);
  }

  get rawSocket(): net.Socket {
    return this.socket;
  }

  /** Address of the server as seen on the control connection (the NAT fix needs it). */
  get remoteAddress(): string {
    return stripMapped(this.socket.remoteAddress ?? '');
  }

  /** Our own address on the control connection: active-mode listeners bind here. */
  get localAddress(): string {
    return stripMapped(this.socket.localAddress ?? '');
  }

  private readonly onChunk = (chunk: Buffer) => this.onData(chunk);
  private readonly onError = (err: Error) => this.close(new FtpClosedError(`${this.label}: ${err.message}`, { cause: err }));
  private readonly onClose = () => this.close(new FtpClosedError(`${this.label}: control connection closed by server`));
  private readonly onSession = (session: Buffer) => {
    this.tlsSession = session;
  };

  private attach(socket: net.Socket): void {
    // The guard stays for the socket's whole life, also once the TLS socket
    // has taken over (upgradeToTls): a reset of the plain socket underneath
    // must not become an uncaught exception.
    guardErrors(socket);
    socket.setNoDelay(true);
    socket.on('data', this.onChunk);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (isTlsSocket(socket)) socket.on('session', this.onSession);
  }

  /** Only our own listeners: the guard stays. */
  private detach(socket: net.Socket): void {
    socket.removeListener('data', this.onChunk);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    socket.removeListener('session', this.onSession);
  }

  private onData(chunk: Buffer): void {
    if (this.closeCause) return;
    this.buffer += this.decoder.write(chunk);
    let parsed;
    try {
      parsed = parseReplies(this.buffer, MAX_REPLY_BYTES);
    } catch (err) {
      // The parser knows no server: name it, so the one error line says who sent garbage.
      this.close(err instanceof FtpBadReplyError ? new FtpBadReplyError(`${this.label}: ${err.message}`) : (err as Error));
      return;
    }
    this.buffer = parsed.rest;
    // Indexed loops on this path (every reply) and in sendBatch: for-of
    // allocates an iterator result per element until V8 optimises the
    // function, and most of a run's functions never are (index.ts).
    const replies = parsed.replies;
    for (let r = 0; r < replies.length; r++) {
      const reply = replies[r];
      if (this.wireLog) for (let i = 0; i < reply.lines.length; i++) this.wireLog('<', reply.lines[i]);
      const waiter = this.waiters.shift();
      if (waiter?.oneReply !== undefined && reply.code < 200) {
        // Checked here, before the next reply is handed out: the waiters
        // behind this one would otherwise take replies meant for others.
        const err = new FtpProtocolError(`${this.label}: a ${reply.code} mark answered ${waiter.oneReply}, which takes one reply: the replies are out of step`);
        this.close(err);
        waiter.reject(err);
        return;
      }
      if (waiter) waiter.resolve(reply);
      else this.queue.push(reply);
    }
  }

  /**
   * Send one command line. `shown` replaces the line in the wire log (PASS is
   * logged as "PASS ***"). CR, LF and NUL are refused before anything is sent.
   */
  send(line: string, shown: string = line): void {
    assertSafeArgument(line, verbOf, line);
    if (this.closeCause) throw this.closedError();
    this.commandsSent++;
    this.wireLog?.('>', shown);
    this.queueWrite(line + '\r\n');
  }

  /** Several command lines in one write (pipelining); each is checked first, nothing is sent if one is unsafe. */
  sendBatch(lines: string[]): void {
    let text = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      assertSafeArgument(line, verbOf, line);
      text += line + '\r\n';
    }
    if (this.closeCause) throw this.closedError();
    this.commandsSent += lines.length;
    if (this.wireLog) for (let i = 0; i < lines.length; i++) this.wireLog('>', lines[i]);
    this.queueWrite(text);
  }

  /**
   * Commands sent in one turn of the event loop go out in one write, at the
   * end of the turn (process.nextTick runs once the promise jobs queued by
   * this turn are done). On loopback every write() runs the server's TCP
   * receive in our process and wakes the server once: a mirror sends a
   * file's rename and the next file's STOR from one turn, which cost two
   * writes (and two server wake-ups) before. Order is kept: all text goes
   * through `pending`. Replies cannot come sooner than the write anyway.
   */
  private queueWrite(text: string): void {
    if (this.pending === '') process.nextTick(this.flush);
    this.pending += text;
  }

  private readonly flush = (): void => {
    const text = this.pending;
    this.pending = '';
    if (text !== '' && !this.closeCause && this.socket.writable) this.socket.write(text);
  };

  /**
   * The next reply in arrival order, within `timeoutMs`, cancellable by
   * `signal`. With `oneReply` (the command's name), a 1xx mark instead
   * closes the channel: that command takes exactly one reply.
   */
  nextReply(timeoutMs: number, signal?: AbortSignal, what = 'reply', oneReply?: string): Promise<FtpReply> {
    const now = this.takeNow(oneReply);
    if (now !== undefined) return now instanceof Error ? Promise.reject(now) : Promise.resolve(now);
    return new Promise<FtpReply>((resolve, reject) => {
      const waiter = this.waiter(timeoutMs, what, oneReply, resolve, reject);
      if (signal) {
        const onAbort = () => this.fail(waiter, new FtpAbortError(`${this.label}: ${what} aborted`, { cause: signal.reason }));
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.resolve = (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        };
        waiter.reject = (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        };
      }
      this.wait(waiter);
    });
  }

  /**
   * nextReply for a command that takes one reply, sent pipelined
   * (FtpSession.pipelineEach): a promise that never rejects, of `settle`'s
   * verdict on the reply or the failure. One promise per reply where a
   * `.then` after nextReply's made two: a mirror reads several per file.
   * `settle` must not throw (it runs inside the reply parser's loop).
   */
  settledReply<T>(timeoutMs: number, what: string, oneReply: string, settle: (r: FtpReply | Error) => T): Promise<T> {
    const now = this.takeNow(oneReply);
    if (now !== undefined) return Promise.resolve(settle(now));
    return new Promise<T>((resolve) => this.wait(this.waiter(timeoutMs, what, oneReply, (r) => resolve(settle(r)), (e) => resolve(settle(e)))));
  }

  /** A reply already queued, or the error that fails a reader at once (a mark where one reply was due, a closed channel); undefined: wait. */
  private takeNow(oneReply: string | undefined): FtpReply | Error | undefined {
    const queued = this.queue.shift();
    if (queued && oneReply !== undefined && queued.code < 200) {
      const err = new FtpProtocolError(`${this.label}: a ${queued.code} mark answered ${oneReply}, which takes one reply: the replies are out of step`);
      this.close(err);
      return err;
    }
    if (queued) return queued;
    if (this.closeCause) return this.closedError();
    return undefined;
  }

  private waiter(timeoutMs: number, what: string, oneReply: string | undefined, resolve: (r: FtpReply) => void, reject: (e: Error) => void): Waiter {
    const finite = timeoutMs > 0 && Number.isFinite(timeoutMs);
    return { oneReply, resolve, reject, deadline: finite ? monotonicMs() + timeoutMs : Infinity, timeoutMs, what };
  }

  private wait(waiter: Waiter): void {
    this.waiters.push(waiter);
    if (waiter.deadline < this.timerAt) this.armTimer(waiter.deadline);
  }

  /**
   * A reply that never comes leaves the conversation out of step: the late
   * reply would be taken as the answer to the next command. So a deadline
   * or an abort closes the connection; callers reconnect.
   */
  private fail(waiter: Waiter, err: FtpError): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    this.close(err);
    waiter.reject(err);
  }

  /**
   * One timer per channel for the waiters' deadlines, set for the earliest,
   * not one per reply: a mirror waits for about ten replies per file, and
   * arming and clearing a timer for each cost more than reading the reply.
   * An answered waiter leaves the timer as it is; when it fires it fails
   * the first waiter past its deadline, or is set again for the earliest
   * one left. Unref'd: the socket, open while anyone waits, keeps the
   * process alive.
   */
  private armTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - monotonicMs())));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closeCause) return;
    // Timers may fire a fraction of a millisecond before monotonicMs() reaches their time.
    const now = monotonicMs() + 1;
    let next = Infinity;
    for (const w of this.waiters) {
      if (w.deadline <= now) {
        this.fail(w, new FtpTimeoutError(`${this.label}: no ${w.what} within ${formatMs(w.timeoutMs)}`));
        return;
      }
      if (w.deadline < next) next = w.deadline;
    }
    if (next !== Infinity) this.armTimer(next);
  };

  /** RFC 4217 §4: after "234" the client starts the TLS handshake on the same socket. */
  async upgradeToTls(options: tls.ConnectionOptions, timeoutMs: number): Promise<tls.TLSSocket> {
    this.flush(); // nothing is pending after 234, but nothing may go out in the clear after the switch either
    const plain = this.socket;
    this.detach(plain);
    const secure = await tlsHandshake({ ...options, socket: plain }, timeoutMs, this.label);
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** The one close path. Keeps the first cause; rejects every waiter with it. */
  close(cause?: Error): void {
    if (this.closeCause) return;
    // What was sent before the close goes out, as it did when every send wrote at once (a QUIT, an ABOR).
    this.flush();
    this.closeCause = cause ?? new FtpClosedError(`${this.label}: connection closed`);
    const err = this.closedError();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.socket.destroy();
  }

  private closedError(): FtpError {
    const cause = this.closeCause;
    if (cause instanceof FtpError && cause.code !== 'ECLOSED') return cause;
    return new FtpClosedError(cause?.message ?? `${this.label}: connection closed`, { cause });
  }
}

/**
 * What a refused command line is called in the error: "command " and its
 * name, its first word, and nothing of its argument (that may be a password:
 * "PASS <secret>").
 */
function verbOf(line: string): string {
  const verb = /^[A-Za-z]{1,8}/.exec(line)?.[0];
  return `command ${verb ? verb.toUpperCase() : '(unnamed)'}`;
}

/** "::ffff:1.2.3.4" (an IPv4 peer on a dual-stack socket) -> "1.2.3.4". */
export function stripMapped(addr: string): string {
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s` : `${ms} ms`;
}

/**
 * Start a TLS client handshake; resolve on secureConnect, reject with the
 * verification error. The TLS socket is guarded for its whole life (see
 * guardErrors): a data connection's reset after the handshake is seen by
 * whoever reads it, never as an uncaught 'error' event.
 */
export async function tlsHandshake(options: tls.ConnectionOptions, timeoutMs: number, label: string): Promise<tls.TLSSocket> {
  if (options.socket) guardErrors(options.socket);
  const socket = guardErrors(tlsModule().connect(options));
  try {
    await eventWithin(socket, 'secureConnect', {
      ms: timeoutMs,
      timeout: () => new FtpTimeoutError(`${label}: TLS handshake timed out after ${formatMs(timeoutMs)}`),
    });
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
