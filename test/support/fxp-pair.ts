/**
 * Two scripted servers, a pool and a lease on each, and an FxpEngine between
 * them that records every event: the fixture of the engine's unit tests
 * (faults, ladder, stalls). Short timeouts and timings, so a fault is judged
 * in well under a second or two.
 */
import { ConnectionLease, ConnectionPool } from '../../src/ftp/pool.js';
import type { ServerOptions } from '../../src/ftp/options.js';
import { FxpEngine, type CopyResult, type EngineEvents, type TransferPolicy } from '../../src/fxp/engine.js';
import { DEFAULT_TIMINGS, type FxpTimings } from '../../src/fxp/transfer.js';
import { ScriptedFtpServer, type ScriptedServerOptions } from './ftp-server.js';

export interface RecordedEvent {
  event: 'warn' | 'fallback' | 'relayed' | 'progress';
  mode?: string;
  message?: string;
  path?: string;
  bytes?: number;
  bytesPerSecond?: number;
}

export interface PairOptions {
  src?: ScriptedServerOptions;
  dst?: ScriptedServerOptions;
  policy?: Partial<TransferPolicy>;
  timings?: Partial<FxpTimings>;
  /** Applied to both servers' client options (timeouts, maxConnections). */
  client?: Partial<ServerOptions>;
  /** Pool limit (connections for transfers) per server. Default 1. */
  limit?: number;
}

export class FxpPair {
  readonly events: RecordedEvent[] = [];
  readonly engine: FxpEngine;
  readonly s: ConnectionLease;
  readonly d: ConnectionLease;
  readonly pools: [ConnectionPool, ConnectionPool];

  private constructor(
    readonly src: ScriptedFtpServer,
    readonly dst: ScriptedFtpServer,
    o: PairOptions,
  ) {
    const client = { timeouts: { connect: 3000, command: 3000, data: 3000 }, ...o.client };
    this.pools = [new ConnectionPool(src.clientOptions(client), o.limit ?? 1), new ConnectionPool(dst.clientOptions(client), o.limit ?? 1)];
    this.s = new ConnectionLease(this.pools[0]);
    this.d = new ConnectionLease(this.pools[1]);
    const events: EngineEvents = {
      warn: (message) => this.events.push({ event: 'warn', message }),
      fallback: (mode, err) => this.events.push({ event: 'fallback', mode, message: err.message }),
      relayed: (e) => this.events.push({ event: 'relayed', ...e, message: e.reason }),
      progress: (e) => this.events.push({ event: 'progress', path: e.path, bytes: e.bytes, bytesPerSecond: e.bytesPerSecond }),
    };
    const timings: FxpTimings = { ...DEFAULT_TIMINGS, copyCheckMs: 600, markGraceMs: 300, pollMs: 100, abortGraceMs: 400, ...o.timings };
    this.engine = new FxpEngine({ fxp: 'auto', passive: 'source', passiveExplicit: true, verify: 'size', continue: false, allowClearData: false, timings, ...o.policy }, events);
  }

  /** A source on `hosts[0]` and a destination (with an empty /in) on `hosts[1]`. */
  static async start(hosts: [string, string], o: PairOptions = {}): Promise<FxpPair> {
    const src = await ScriptedFtpServer.start({ host: hosts[0], ...o.src });
    const dst = await ScriptedFtpServer.start({ host: hosts[1], files: { '/in/': '' }, ...o.dst });
    return new FxpPair(src, dst, o);
  }

  /** Copy /out/<name> (source) to /in/<name> (destination). */
  copy(name: string, opts: { more?: boolean; publishLater?: boolean; mtime?: Date } = {}): Promise<CopyResult> {
    const data = this.src.tree.read(`/out/${name}`);
    return this.engine.copy(this.s, this.d, { srcPath: `/out/${name}`, dstRoot: '/in', dstRel: name, size: data?.length, ...opts });
  }

  /** Give both leased connections back to their pools (as the mirror's executor does after each file). */
  release(): void {
    this.s.release();
    this.d.release();
  }

  /** Events of one kind. */
  of(event: RecordedEvent['event']): RecordedEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Paths on the destination under /in. */
  get landed(): string[] {
    return this.dst.tree.paths().filter((p) => p.startsWith('/in/'));
  }

  async close(): Promise<void> {
    this.s.release();
    this.d.release();
    await Promise.all(this.pools.map((p) => p.close()));
    await Promise.all([this.src.close(), this.dst.close()]);
  }
}

/** Run `fn` with a started pair, closed afterwards whatever happens. */
export async function withPair(hosts: [string, string], o: PairOptions, fn: (p: FxpPair) => Promise<void>): Promise<void> {
  const p = await FxpPair.start(hosts, o);
  try {
    await fn(p);
  } finally {
    await p.close();
  }
}
