import type { Listing } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { CopyResult, FxpEngine } from '../fxp/engine.js';
import type { MirrorOptions } from './options.js';
import type { PlanAction } from './plan.js';
import type { RetryPolicy } from './retry.js';

/** The shapes a caller of mirror() hands in and listens to. */

export interface MirrorEndpoint {
  pool: ConnectionPool;
  /** Absolute directory on the server. */
  root: string;
  /** For summaries: "server:/path" or a redacted URL. */
  display: string;
  /** The engine for this target's transfers (its events name the target); default: the run's. */
  engine?: FxpEngine;
}

export interface MirrorEvents {
  /** Every action as it passes the gate (the dry-run plan is exactly this stream). */
  action?(target: number, a: PlanAction): void;
  /** A side effect completed. */
  done?(target: number, a: PlanAction, result?: CopyResult): void;
  /**
   * A side effect failed for good (after retries). Not called for files that
   * fail without being tried because their destination is full or a server
   * was given up: a warning said so once, and the summary lists each of them.
   */
  failed?(target: number, a: PlanAction | { kind: 'list'; path: string }, err: Error): void;
  /** `target` is set when the warning is about one target. */
  warn?(message: string, target?: number): void;
  /** A transfer was found and queued; it runs (and passes the gate) later (progress totals). */
  queued?(target: number, a: Extract<PlanAction, { kind: 'transfer' }>): void;
  /** A transfer started (progress display). */
  started?(target: number, a: PlanAction): void;
  /** The walk has ended: every transfer it found has been reported by queued() (progress totals). */
  walked?(): void;
  /** Without -P: the number of transfers at once changed (pairs.ts), and why. */
  pairs?(pairs: number, reason: string): void;
}

export interface MirrorRun {
  src: MirrorEndpoint;
  targets: MirrorEndpoint[];
  options: MirrorOptions;
  /** Default engine for targets without one of their own (default: one built from the options). */
  engine?: FxpEngine;
  /** The source root's listing when the caller read it already (readSourceRoot), so it is not listed twice. */
  sourceListing?: Listing;
  excludeFromText?: string;
  events?: MirrorEvents;
  /** -P was not given (nor `parallel` in a job): the number of transfers at once adapts to the path, from options.parallel (pairs.ts). */
  parallelAuto?: boolean;
  /** Interrupted (a signal): start nothing more, abort the running transfers, delete nothing. */
  signal?: AbortSignal;
  /** The retry schedule's base, cap, jitter, clock and sleep (tests); the count is options.retries. */
  retry?: Partial<Omit<RetryPolicy, 'retries'>>;
}
