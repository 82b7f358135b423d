import { FtpConnection, type FtpNote, type ServerState } from './connection.js';
import type { WireLog } from './channel.js';
import { FtpReplyError, FtpError } from './errors.js';
import { staggersSessions } from './software.js';
import { isFar } from './server-state.js';
import type { ServerOptions } from './options.js';

/**
 * "Too many connections": 421 at the greeting (RFC 959 §4.2; vsftpd,
 * pure-ftpd, pyftpdlib), or a refused login that says so (proftpd's
 * MaxClientsPerHost answers PASS with "530 Sorry, the maximum number of
 * clients (2) for this host already connected").
 */
export function isTooManyConnections(err: unknown): boolean {
  if (err instanceof FtpReplyError && err.replyCode === 421) return true;
  return err instanceof FtpError && /too many|maximum number of (clients|connections)|max(imum)? (clients|connections)/i.test(err.message);
}
/**
 * Control connections to one server, reused across files: opening one costs
 * a TCP handshake, a greeting, maybe TLS, USER/PASS and FEAT — more round
 * trips than a small file's whole transfer.
 *
 * The pool never holds more than `limit` connections. When the server answers
 * 421 (too many connections, RFC 959 §4.2) the limit shrinks to what we have
 * and the caller waits for a free connection instead of failing.
 */
export class ConnectionPool {
  readonly state: ServerState = {};
  private idle: FtpConnection[] = [];
  private all = new Set<FtpConnection>();
  private opening = 0;
  private waiters: ((c: FtpConnection | Error) => void)[] = [];
  private limit: number;
  /** Connections outside the limit (spare()), within the server's cap. */
  private spares = new Set<FtpConnection>();
  private idleSpares: FtpConnection[] = [];
  private sparesOpening = 0;
  /** The server's cap (maxConnections), lowered when it answers 421. */
  private cap: number;
  private closed = false;
  /** Settles when the latest connect has its greeting: the next one waits for it on servers that start sessions slowly in parallel. */
  private lastGreeting: Promise<void> = Promise.resolve();
  /** Called once each time the pool shrinks because of 421. */
  onShrink?: (limit: number, reason: string) => void;
  /** Called when a connect starts and when its greeting has arrived (or it failed first). */
  onConnectPhase?: (phase: 'connect' | 'greeted') => void;
  /** Notes about the server (a PASV address not used, once per pool): see FtpNote. */
  onNote?: (note: FtpNote) => void;

  constructor(
    readonly server: ServerOptions,
    limit: number,
    private readonly wireLog?: WireLog,
  ) {
    this.limit = Math.max(1, Math.min(limit, server.maxConnections));
    this.cap = Math.max(1, server.maxConnections);
  }

  get size(): number {
    return this.all.size;
  }

  /** The most connections the pool opens now (widen() raises it, a 421 lowers it). */
  get currentLimit(): number {
    return this.limit;
  }

  /** A connection for exclusive use until release(). Reconnects transparently. */
  async acquire(): Promise<FtpConnection> {
    if (this.closed) throw new FtpError('ECLOSED', `${this.server.name}: pool closed`);
    const idle = this.takeIdle();
    if (idle) return idle;
    if (this.all.size + this.opening < this.limit) return this.open();
    return this.wait();
  }

  /** Let the pool open up to `n` connections, within the server's cap (lowered by any 421 so far); never narrows it. */
  widen(n: number): void {
    this.limit = Math.max(this.limit, Math.min(n, this.cap));
  }

  /**
   * Log in up to `n` connections (at most the limit) in the background, so
   * they are ready when the work fans out instead of each costing its own
   * logins then. Quiet: a failure shows again at the next acquire().
   */
  warm(n: number = this.limit): void {
    if (this.closed) return;
    for (let k = this.all.size + this.opening; k < Math.min(n, this.limit); k++) {
      this.open().then(
        (c) => this.release(c),
        () => undefined,
      );
    }
  }

  /** An idle connection for exclusive use until release(), taken now; undefined when none is idle (acquire() then opens or waits). */
  takeIdleNow(): FtpConnection | undefined {
    return this.closed ? undefined : this.takeIdle();
  }

  private takeIdle(): FtpConnection | undefined {
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (!conn.closed) return conn;
      this.all.delete(conn);
    }
    return undefined;
  }

  /** One more connection; the caller has checked the limit. */
  private async open(): Promise<FtpConnection> {
    this.opening++;
    try {
      let greetedNow!: () => void;
      const mine = new Promise<void>((r) => (greetedNow = r));
      let greetedOnce = false;
      const greeted = () => {
        if (greetedOnce) return;
        greetedOnce = true;
        this.onConnectPhase?.('greeted');
        greetedNow();
      };
      const before = this.lastGreeting;
      this.lastGreeting = mine;
      if (staggersSessions(this.state.kind) && !isFar(this.state)) await before;
      this.onConnectPhase?.('connect');
      const conn = await FtpConnection.connect(this.server, { state: this.state, wireLog: this.wireLog, onGreeting: greeted, onNote: (n) => this.onNote?.(n) });
      if (this.closed) {
        // close() ran while we were connecting: nobody will release this one.
        await conn.close();
        throw new FtpError('ECLOSED', `${this.server.name}: pool closed`);
      }
      this.all.add(conn);
      return conn;
    } catch (err) {
      if (isTooManyConnections(err) && this.all.size > 0) {
        // Several logins may be refused at once (they were opened together):
        // the shrink is reported once per new limit, not once per refusal.
        const limit = Math.max(1, this.all.size);
        if (limit < this.limit) this.onShrink?.(limit, (err as Error).message);
        this.limit = Math.min(this.limit, limit);
        this.cap = Math.min(this.cap, this.all.size + this.spares.size);
        // While this login was being refused, every other connection may
        // have come back idle (nobody was waiting then): take one, or
        // wait() would wait for a release that never comes.
        return this.takeIdle() ?? this.wait();
      }
      throw err;
    } finally {
      this.opening--;
    }
  }

  private wait(): Promise<FtpConnection> {
    return new Promise((resolve, reject) => {
      this.waiters.push((c) => (c instanceof Error ? reject(c) : resolve(c)));
    });
  }

  /** Give a connection back. A closed one is dropped, and a waiter gets a fresh one. */
  release(conn: FtpConnection): void {
    if (conn.closed) {
      this.all.delete(conn);
      const next = this.waiters.shift();
      if (next) this.acquire().then(next, next);
      return;
    }
    const next = this.waiters.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }

  /** Run `fn` with a pooled connection. */
  async use<T>(fn: (conn: FtpConnection) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    try {
      return await fn(conn);
    } finally {
      this.release(conn);
    }
  }

  /**
   * One more connection beside the pool's own, never waited for: for
   * watching transfers (the FXP engine polls a part file's size over it).
   * It counts against the server's cap (maxConnections) but not against the
   * pool's limit, so the transfers keep their parallelism. Undefined when the
   * cap is reached (the pool's limit already uses it all) or the server
   * refuses one more login; other failures (a dead server) throw.
   */
  async spare(): Promise<FtpConnection | undefined> {
    if (this.closed) return undefined;
    for (let c = this.idleSpares.pop(); c; c = this.idleSpares.pop()) {
      if (!c.closed) return c;
      this.spares.delete(c);
    }
    if (this.all.size + this.opening + this.spares.size + this.sparesOpening >= this.cap) return undefined;
    this.sparesOpening++;
    try {
      const conn = await FtpConnection.connect(this.server, { state: this.state, wireLog: this.wireLog, onNote: (n) => this.onNote?.(n) });
      if (this.closed) {
        await conn.close();
        return undefined;
      }
      this.spares.add(conn);
      return conn;
    } catch (err) {
      if (!isTooManyConnections(err)) throw err;
      this.cap = Math.max(1, Math.min(this.cap, this.all.size + this.spares.size));
      return undefined;
    } finally {
      this.sparesOpening--;
    }
  }

  /** Give a spare() connection back; kept for the next spare() while it stays open. */
  releaseSpare(conn: FtpConnection): void {
    if (conn.closed) this.spares.delete(conn);
    else this.idleSpares.push(conn);
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new FtpError('ECLOSED', `${this.server.name}: pool closed`);
    for (const w of this.waiters.splice(0)) w(err);
    await Promise.all([...this.all, ...this.spares].map((c) => c.close()));
    this.all.clear();
    this.idle = [];
    this.spares.clear();
    this.idleSpares = [];
  }
}

/**
 * A lease on one pooled connection, for work that must stay on one
 * connection (a file's transfer: TYPE, PASV, STOR, SIZE, rename). connection()
 * is the leased connection, or a fresh one from the pool when a failure
 * closed it (a failed transfer closes a side whose replies may be out of
 * step); release() gives it back.
 */
export class ConnectionLease {
  private conn: FtpConnection | undefined;
  constructor(readonly pool: ConnectionPool) {}

  connection(): Promise<FtpConnection> {
    // Not an async function: nearly always the leased connection is still open, or one is idle.
    const c = this.current();
    return c ? Promise.resolve(c) : this.replace();
  }

  /**
   * connection() without a promise where none is needed: the leased
   * connection while it is open, else (the closed one given back first, as
   * connection() does) an idle one of the pool, leased now; undefined when
   * the pool has none idle (connection() then waits or connects). The
   * engine's hot path, about ten times per file:
   * `lease.current() ?? (await lease.connection())`.
   */
  current(): FtpConnection | undefined {
    const c = this.conn;
    if (c && !c.closed) return c;
    if (c) this.pool.release(c);
    this.conn = this.pool.takeIdleNow();
    return this.conn;
  }

  private async replace(): Promise<FtpConnection> {
    if (this.conn) this.pool.release(this.conn);
    this.conn = undefined;
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
