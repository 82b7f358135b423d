import path from 'node:path/posix';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Listing } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { FxpEngine } from '../fxp/engine.js';
import { PathFilter } from './filter.js';
import { isFar } from '../ftp/server-state.js';
import { MtimeProbe } from './mtimes.js';
import type { MirrorOptions } from './options.js';
import type { PlanAction } from './plan.js';
import { ServerWatch } from './reachability.js';
import { Retrier } from './retrier.js';
import { retryPolicy } from './retry.js';
import type { MirrorEndpoint, MirrorEvents, MirrorRun } from './run-types.js';
import { errorRecord } from './summary.js';
import { Target } from './target.js';

/**
 * How many connections to one server the walk may list on at once. On a
 * distant server (server-state.ts: isFar), its connection cap (--max-connections)
 * but one, which stays free for watching transfers (ConnectionPool.spare),
 * and at least -P: there listings cost round trips, not work, and a walk on
 * four connections waits two to four round trips per directory per
 * connection. On a near one, -P: its own CPU sets the pace, and more
 * connections would only cost it logins.
 */
export function walkWidth(pool: ConnectionPool, parallel: number): number {
  const cap = pool.server.maxConnections;
  return Math.max(1, Math.min(cap, isFar(pool.state) ? Math.max(parallel, cap - 1) : parallel));
}

/**
 * What every stage of one mirror run shares: the options, the filter, the
 * event sink, the targets, the retry loop and the servers' watches, the
 * listing limits, and the --max-errors count.
 */
export class RunState {
  readonly opts: MirrorOptions;
  readonly events: MirrorEvents;
  readonly filter: PathFilter;
  readonly src: MirrorEndpoint;
  readonly targets: Target[];
  readonly retrier: Retrier;
  readonly mtimeProbe = new MtimeProbe();
  readonly signal?: AbortSignal;
  /** The number of transfers at once adapts to the path (pairs.ts). */
  readonly parallelAuto: boolean;
  /** Set when --max-errors is reached: no new transfer starts, no deletion runs. */
  stopped = false;

  /** Nothing new may start: --max-errors was reached, or the run was interrupted. */
  get halted(): boolean {
    return this.stopped || this.signal?.aborted === true;
  }
  private failedTotal = 0;
  private readonly defaultEngine: FxpEngine;
  private readonly listLimits = new Map<ConnectionPool, LimitFunction>();
  private readonly prefetched = new Map<ConnectionPool, Map<string, Promise<Listing | undefined>>>();
  private readonly watches = new Map<ConnectionPool, ServerWatch>();
  private readonly mtimeless = new Set<ConnectionPool>();

  constructor(run: MirrorRun) {
    this.opts = run.options;
    this.events = run.events ?? {};
    this.filter = PathFilter.fromOptions(run.options, run.excludeFromText);
    this.src = run.src;
    this.signal = run.signal;
    this.parallelAuto = run.parallelAuto ?? false;
    this.defaultEngine = run.engine ?? new FxpEngine(run.options);
    this.targets = run.targets.map((ep, i) => new Target(i, ep, run.src.display, run.options.dryRun, this.events));
    const policy = retryPolicy(run.options.retries, run.retry);
    this.retrier = new Retrier(policy, (pool) => this.watchOf(pool), run.signal);
  }

  /** Reads (listings, RETR, SIZE, MDTM) join plainly; every write goes through containedPath(). */
  abs(root: string, rel: string): string {
    return rel === '' ? root : path.join(root, rel);
  }

  engineFor(t: Target): FxpEngine {
    return t.ep.engine ?? this.defaultEngine;
  }

  /**
   * A directory listing, with retries. Each server lists with its own
   * concurrency: a shared limit would let the source's listings starve the
   * destination's, and the other way round.
   */
  listing(pool: ConnectionPool, dir: string): Promise<Listing> {
    const early = this.prefetched.get(pool)?.get(dir);
    if (early) {
      this.prefetched.get(pool)!.delete(dir);
      return early.then((l) => l ?? this.listing(pool, dir));
    }
    let limit = this.listLimits.get(pool);
    if (!limit) this.listLimits.set(pool, (limit = pLimit(walkWidth(pool, this.opts.parallel))));
    const queue = limit;
    // More listings waiting for this server: the next one's PASV is asked ahead (list-command.ts).
    return queue(() => this.retrier.run([pool], () => pool.use((c) => c.list(dir, { more: queue.pendingCount > 0 }))));
  }

  /**
   * Start listing `dir` now (a read, nothing changes); the walk's listing()
   * of that directory takes this one instead of asking again. One attempt,
   * without retries or reports: when it fails, listing() asks again in full.
   */
  prefetch(pool: ConnectionPool, dir: string): void {
    const p = pool.use((c) => c.list(dir, { more: true })).catch(() => undefined);
    let m = this.prefetched.get(pool);
    if (!m) this.prefetched.set(pool, (m = new Map<string, Promise<Listing | undefined>>()));
    m.set(dir, p);
  }

  /**
   * A side effect failed for good. `quiet`: it was never tried (a full
   * destination, a server given up), and one warning said so for all of them.
   */
  fail(t: Target, a: PlanAction | { kind: 'list'; path: string }, err: unknown, quiet = false): void {
    const { code, message } = errorRecord(err);
    // Cut short on purpose (an interrupted run): not a failure; the next run does it.
    if (this.signal?.aborted && code === 'EABORTED') return;
    t.summary.failures.push({ path: a.path, code, message });
    if (a.kind === 'transfer' || a.kind === 'verify') t.summary.files.failed++;
    this.failedTotal++;
    if (this.opts.maxErrors !== undefined && this.failedTotal >= this.opts.maxErrors && !this.stopped) {
      this.stopped = true;
      this.events.warn?.(`stopping: ${this.failedTotal} errors reached --max-errors ${this.opts.maxErrors}`);
    }
    if (!quiet) this.events.failed?.(t.index, a, err as Error);
  }

  /** Once a run per destination server that cannot set mtimes: a warning for each of its targets. */
  noteMtimeless(pool: ConnectionPool): void {
    if (this.mtimeless.has(pool)) return;
    this.mtimeless.add(pool);
    const message = `${pool.server.name} cannot set modification times (no MFMT, SITE UTIME or MDTM with a time): there a file of the same size that is not older than the source's counts as unchanged`;
    for (const t of this.targets) if (t.pool === pool) t.warn(message);
  }

  /** The watch of a server (reachability.ts); none with --retries 0, which asks for no waiting at all. */
  private watchOf(pool: ConnectionPool): ServerWatch | undefined {
    if (this.retrier.policy.retries === 0) return undefined;
    let w = this.watches.get(pool);
    if (!w) {
      const report = (message: string) => {
        const affected = pool === this.src.pool ? this.targets : this.targets.filter((t) => t.pool === pool);
        for (const t of affected) t.summary.warnings.push(message);
        this.events.warn?.(message, affected.length === 1 ? affected[0].index : undefined);
      };
      w = ServerWatch.forPool(pool, this.retrier.policy, report, this.signal);
      this.watches.set(pool, w);
    }
    return w;
  }
}
