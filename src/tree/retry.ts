import { setTimeout as delay } from 'node:timers/promises';
import { FtpAbortError, FtpError, isTransient } from '../ftp/errors.js';

/**
 * When and how often a mirror run tries again after a transient failure (a
 * 4xx reply, a reset, a timeout, a refused connect).
 *
 * The schedule is exponential with jitter: retry n (0-based) waits
 * min(base * 2^n, cap), stretched at random by up to `jitter` (0.25: 1x to
 * 1.25x), so the retries of files that failed together do not hit a server
 * that just restarted all at the same instant. With the defaults (base 1 s,
 * cap 16 s) and `--retries 5` the waits are 1, 2, 4, 8 and 16 s: at least 31 s
 * in all, enough to ride out a server restart. The same total is the retry
 * window: how long a run waits for an unreachable server to come back before
 * it gives up on that server's remaining work (reachability.ts).
 */
export interface RetryPolicy {
  /** Retries per operation after a transient failure (--retries, a count). */
  retries: number;
  /** The first wait; each next one doubles. */
  baseMs: number;
  /** No single wait is longer than this. */
  capMs: number;
  /** Each wait is stretched at random by up to this share of itself. */
  jitter: number;
  /** Injected for tests: the clock, the dice and the sleep. */
  now(): number;
  random(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const DEFAULT_RETRY_BASE_MS = 1000;
export const DEFAULT_RETRY_CAP_MS = 16_000;
export const DEFAULT_RETRY_JITTER = 0.25;

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    throw new FtpAbortError('aborted while waiting to retry', { cause: err });
  }
}

export function retryPolicy(retries: number, overrides: Partial<Omit<RetryPolicy, 'retries'>> = {}): RetryPolicy {
  return {
    retries: Math.max(0, retries),
    baseMs: DEFAULT_RETRY_BASE_MS,
    capMs: DEFAULT_RETRY_CAP_MS,
    jitter: DEFAULT_RETRY_JITTER,
    now: () => Date.now(),
    random: Math.random,
    sleep,
    ...overrides,
  };
}

/** Pure: the wait before retry `n` (0-based) without jitter. */
export function backoffMs(n: number, p: Pick<RetryPolicy, 'baseMs' | 'capMs'>): number {
  return Math.min(p.capMs, p.baseMs * 2 ** n);
}

/** The wait before retry `n`, jitter included: between backoffMs and (1 + jitter) times it. */
export function jitteredBackoffMs(n: number, p: RetryPolicy): number {
  return Math.round(backoffMs(n, p) * (1 + p.jitter * p.random()));
}

/** Pure: the least time `retries` retries cover (the sum of their waits without jitter): the retry window. */
export function retryWindowMs(p: Pick<RetryPolicy, 'retries' | 'baseMs' | 'capMs'>): number {
  let sum = 0;
  for (let n = 0; n < p.retries; n++) sum += backoffMs(n, p);
  return sum;
}

/**
 * A failure that says nothing about the file and everything about reaching
 * the server: a refused or timed-out connect, a connection that closed or
 * went silent. The FXP layer may wrap it (a refusal whose cause it is), so
 * the causes are searched too.
 */
export function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof FtpError && (e.code === 'ECONNECT' || e.code === 'ETIMEOUT' || e.code === 'ECLOSED')) return true;
  }
  return false;
}

/**
 * Retry `fn` on the schedule while its failures are transient. For work that
 * has no server watch of its own (the source root's listing, read before the
 * run starts); the mirror's stages retry through a Retrier (retrier.ts).
 */
export async function withRetries<T>(policy: RetryPolicy, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= policy.retries || !isTransient(err)) throw err;
      await policy.sleep(jitteredBackoffMs(attempt, policy), signal);
    }
  }
}
