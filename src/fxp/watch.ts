/**
 * Watching FXP transfers from the bytes that move. In FXP the data never
 * passes the client, and both control connections stay silent until the
 * end, so the only sign of life is the destination's part file growing. A
 * PartWatcher polls the part files of every transfer into one server over
 * one connection of its own (ConnectionPool.spare(): counted against the
 * server's connection cap, not taken from the transfers), once per poll
 * interval, all files in one pipelined write.
 *
 * What the polled sizes give:
 * - stall detection: a part file seen not growing for the stall time
 *   (--timeout) is a stalled transfer, whatever its size and deadline;
 * - progress: bytes so far and a rate, for transfers the client never sees.
 *
 * Which command reads the size of a file being written: SIZE (RFC 3659 §4,
 * in TYPE I); where a server does not understand it, MLST's size fact, then
 * STAT <file> (its LIST line). Seen in the lab: vsftpd, proftpd, pure-ftpd
 * and pyftpdlib all answer SIZE with the growing size (and STAT too; vsftpd
 * has no MLST). Where no command works, or no spare connection can be had,
 * the transfer is blind and falls back to its deadline.
 */
import type { FtpConnection } from '../ftp/connection.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { ContainedPath } from '../ftp/remote-path.js';
import { FtpReplyError, type FtpError } from '../ftp/errors.js';
import type { FtpReply } from '../ftp/reply.js';
import { parseListingLine } from '../ftp/listing.js';

export interface StallSignal {
  /** 'stall': seen not growing for the stall time; 'deadline': not watchable, and past the deadline. */
  kind: 'stall' | 'deadline';
  /** The largest size read (undefined: never read). */
  bytes: number | undefined;
  /** How long it stood still (stall) or ran (deadline), ms. */
  forMs: number;
}

/** One watched part file. */
export interface PartWatch {
  /** Settles once, when the transfer is judged stalled. */
  readonly stalled: Promise<StallSignal>;
  /** Calls `fn` once, when the transfer is judged stalled (what `stalled` does, without a promise per transfer). */
  onStalled(fn: (s: StallSignal) => void): void;
  /** The largest size read so far, undefined while none was read. */
  readonly maxBytes: number | undefined;
  stop(): void;
}

export interface WatchOptions {
  /** Bytes already there (REST offset). */
  rest: number;
  /** Size the file will have. */
  total: number;
  /** No growth for this long is a stall (--timeout). */
  stallMs: number;
  /** While no size can be read: give up after this long. */
  deadlineMs: number;
  onProgress?: (bytes: number, bytesPerSecond: number) => void;
}

type SizeMethod = 'SIZE' | 'MLST' | 'STAT' | 'none';

/** After the spare connection could not be had, wait this long before asking again. */
const SPARE_RETRY_MS = 5_000;

class Tracked implements PartWatch {
  maxBytes: number | undefined;
  private listener: ((s: StallSignal) => void) | undefined;
  private signal: StallSignal | undefined;
  private fired = false;
  readonly startedAt = Date.now();
  private lastGrowthAt = this.startedAt;
  private lastSampleAt: number | undefined;
  private prevBytes: number;
  private prevAt: number;

  constructor(
    readonly path: ContainedPath,
    private readonly opts: WatchOptions,
    private readonly watcher: PartWatcher,
  ) {
    this.prevBytes = opts.rest;
    this.prevAt = this.startedAt;
  }

  get stalled(): Promise<StallSignal> {
    return new Promise((resolve) => this.onStalled(resolve));
  }

  onStalled(fn: (s: StallSignal) => void): void {
    if (this.signal) return fn(this.signal);
    const before = this.listener;
    this.listener = before ? (s) => (before(s), fn(s)) : fn;
  }

  /** A size read at `at`; undefined: the file is not there (yet). */
  sample(bytes: number | undefined, at: number): void {
    if (bytes === undefined || this.fired) return;
    this.lastSampleAt = at;
    if (this.maxBytes === undefined || bytes > this.maxBytes) {
      if (bytes > (this.maxBytes ?? this.opts.rest)) this.lastGrowthAt = at;
      this.maxBytes = bytes;
    }
    const seconds = (at - this.prevAt) / 1000;
    this.opts.onProgress?.(bytes, seconds > 0 ? Math.max(0, bytes - this.prevBytes) / seconds : 0);
    this.prevBytes = bytes;
    this.prevAt = at;
  }

  /**
   * A stall needs evidence: a size read at least the stall time after the
   * last growth. Without fresh readings (no connection, a server that stopped
   * answering altogether) only the deadline ends the transfer.
   */
  check(now: number): void {
    if (this.fired) return;
    const { stallMs, deadlineMs } = this.opts;
    if (this.lastSampleAt !== undefined && this.lastSampleAt - this.lastGrowthAt >= stallMs) {
      this.settle({ kind: 'stall', bytes: this.maxBytes, forMs: this.lastSampleAt - this.lastGrowthAt });
    } else if (now - this.startedAt >= deadlineMs && (this.lastSampleAt === undefined || now - this.lastSampleAt >= stallMs)) {
      this.settle({ kind: 'deadline', bytes: this.maxBytes, forMs: now - this.startedAt });
    }
  }

  private settle(s: StallSignal): void {
    this.fired = true;
    this.signal = s;
    this.listener?.(s);
  }

  stop(): void {
    this.fired = true;
    this.listener = undefined;
    this.watcher.untrack(this);
  }
}

/** Watches the part files of the FXP transfers into one server (one per destination pool). */
export class PartWatcher {
  private readonly tracked = new Set<Tracked>();
  private conn: FtpConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private method: SizeMethod = 'SIZE';
  private spareAfter = 0;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly pollMs: number,
  ) {}

  /** How this server's growing files are read: learned on the first transfers. */
  get sizeMethod(): SizeMethod {
    return this.method;
  }

  watch(path: ContainedPath, opts: WatchOptions): PartWatch {
    const t = new Tracked(path, opts, this);
    this.tracked.add(t);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.pollMs);
      this.timer.unref();
    }
    return t;
  }

  /** Called by a Tracked that stops. */
  untrack(t: Tracked): void {
    this.tracked.delete(t);
    if (this.tracked.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    // Back to the pool while no transfer runs; the next watch takes it again.
    if (this.conn && !this.polling) {
      this.pool.releaseSpare(this.conn);
      this.conn = undefined;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const t of this.tracked) t.check(now);
    if (this.polling || this.tracked.size === 0 || this.method === 'none') return;
    this.polling = true;
    this.poll()
      .catch(() => undefined)
      .finally(() => {
        this.polling = false;
        if (this.tracked.size === 0 && this.conn) {
          this.pool.releaseSpare(this.conn);
          this.conn = undefined;
        }
      });
  }

  private async connection(): Promise<FtpConnection | undefined> {
    if (this.conn && !this.conn.closed) return this.conn;
    if (this.conn) this.pool.releaseSpare(this.conn);
    this.conn = undefined;
    if (Date.now() < this.spareAfter) return undefined;
    this.conn = await this.pool.spare().catch(() => undefined);
    if (!this.conn) this.spareAfter = Date.now() + SPARE_RETRY_MS;
    return this.conn;
  }

  private async poll(): Promise<void> {
    // A transfer younger than half a poll interval is read from the next
    // poll on: most files of a mirror end before then, and polling them
    // only took a spare connection and a SIZE per file. A stall still
    // needs a whole --timeout without growth, so it is seen no later.
    const files: Tracked[] = [];
    const young = Date.now() - this.pollMs / 2;
    for (const t of this.tracked) if (t.startedAt <= young) files.push(t);
    if (files.length === 0) return;
    const conn = await this.connection();
    if (!conn) return;
    const method = this.method;
    const replies = await conn.exclusive(async () => {
      // RFC 3659 §4: SIZE is exact in TYPE I only (proftpd and pyftpdlib refuse it in ASCII).
      if (method === 'SIZE') await conn.ensureType('I');
      return conn.pipeline(files.map((t) => [method, t.path] as [string, string]));
    });
    const at = Date.now();
    for (const [i, t] of files.entries()) {
      const r = replies[i];
      const bytes = sizeFrom(method, r);
      if (bytes === 'unusable') {
        // Not understood: the next command, for every later poll of this server.
        this.method = method === 'SIZE' ? (conn.features.mlst ? 'MLST' : 'STAT') : method === 'MLST' ? 'STAT' : 'none';
        return;
      }
      t.sample(bytes, at);
    }
    // Judge on the reading itself: waiting for the next tick would add a
    // whole poll interval to every stall (--timeout 2 s took 4.9 s to end in
    // the lab, faults-stall.test.ts).
    for (const t of files) t.check(at);
  }
}

/** The size in a reply to `method`; undefined when the file is not there (550); 'unusable' when the command does not work here. */
export function sizeFrom(method: SizeMethod, r: FtpReply | FtpError): number | undefined | 'unusable' {
  if (r instanceof FtpReplyError) return r.replyCode === 550 || r.replyCode === 450 ? undefined : 'unusable';
  if (!('lines' in r)) return undefined; // the connection failed: no reading this time
  let n: number | undefined;
  if (method === 'SIZE') n = Number(r.message.trim());
  else if (method === 'MLST') n = Number(/(?:^|;|\s)size=(\d+)/i.exec(r.message)?.[1]);
  else {
    const now = new Date();
    for (const line of r.lines.slice(1, -1)) {
      const e = parseListingLine('LIST', line.replace(/^\d{3}-/, '').trim(), now);
      if (e?.size !== undefined) {
        n = e.size;
        break;
      }
    }
  }
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : 'unusable';
}
