import { isTransient } from '../ftp/errors.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { Slot } from './queue.js';
import type { ServerWatch } from './reachability.js';
import { isConnectionFailure, jitteredBackoffMs, type RetryPolicy } from './retry.js';

/** What one operation asks of the retry loop beyond the schedule. */
export interface RetryHooks {
  /** Before each attempt: may throw to fail without trying (a destination known to be full). */
  before?(): void;
  /** Transient failures that are nevertheless final (a full disk: retrying cannot help). */
  final?(err: unknown): boolean;
  /** Before any wait (a backoff, a server that is down): give back what the attempt held (pooled connections). */
  idle?(): void;
  /** The work-queue slot the operation runs in: handed back while a server is down. */
  slot?: Slot;
}

/**
 * The mirror's retry loop: transient failures are retried on the schedule of
 * retry.ts; while a server the operation needs is down (reachability.ts) it
 * waits, and that wait costs none of its retries; once the server is given
 * up, the operation fails at once.
 */
export class Retrier {
  constructor(
    readonly policy: RetryPolicy,
    /** The watch of a server; undefined when nothing is watched (--retries 0). */
    private readonly watchOf: (pool: ConnectionPool) => ServerWatch | undefined,
    private readonly signal?: AbortSignal,
  ) {}

  /** Run `fn`, which talks to the servers of `pools`, with retries. */
  async run<T>(pools: ConnectionPool[], fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
    const watches: ServerWatch[] = [];
    for (let i = 0; i < pools.length; i++) {
      const w = this.watchOf(pools[i]);
      if (w) watches.push(w);
    }
    // Waits for a server cost no retries, but each must end with the server
    // back: a server that flaps between checks cannot hold a file forever.
    let pauses = 0;
    for (let attempt = 0; ; ) {
      // Checked here first: nearly always every server is up, and then no wait is awaited.
      if (anyDown(watches)) await this.ready(watches, hooks);
      hooks.before?.();
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err) || hooks.final?.(err)) throw err;
        hooks.idle?.();
        if (watches.length > 0 && pauses <= this.policy.retries && isConnectionFailure(err)) {
          const down = await Promise.all(watches.map((w) => w.check()));
          if (down.some(Boolean)) {
            pauses++;
            continue;
          }
        }
        if (attempt >= this.policy.retries) throw err;
        await this.policy.sleep(jitteredBackoffMs(attempt, this.policy), this.signal);
        attempt++;
      }
    }
  }

  /** Wait while a server is down, without holding a work slot; throws when one is given up. */
  private async ready(watches: ServerWatch[], hooks: RetryHooks): Promise<void> {
    hooks.idle?.();
    hooks.slot?.release();
    try {
      for (const w of watches) await w.ready();
    } finally {
      await hooks.slot?.acquire();
    }
  }
}

function anyDown(watches: ServerWatch[]): boolean {
  for (let i = 0; i < watches.length; i++) if (watches[i].down) return true;
  return false;
}
