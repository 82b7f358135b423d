/**
 * Waiting on sockets: one event within a deadline (the timer-plus-`once`
 * promise every connect, handshake and accept needs), and the guard that
 * keeps a socket's 'error' event from ever going unheard.
 */
import type { EventEmitter } from 'node:events';

/**
 * Give `emitter` (a socket or a listening server) an 'error' listener for
 * its whole life. Node.js turns an 'error' event nobody listens to into an
 * uncaught exception: a stack trace and exit 1. A data socket can be reset
 * at any moment (while the client waits for the 1xx mark, during a relay,
 * after the 226), and the code that reads it may not be listening yet, or
 * any more. The error is not lost: the stream keeps it (`socket.errored`),
 * the socket is destroyed and 'close' follows, and whoever waits on the
 * socket sees that (readAll, pipeline(), finished()). Idempotent.
 */
export function guardErrors<T extends EventEmitter>(emitter: T): T {
  const marked = emitter as T & { [GUARDED]?: true };
  if (!marked[GUARDED]) {
    marked[GUARDED] = true;
    emitter.on('error', ignore);
  }
  return emitter;
}

const GUARDED = Symbol('fxpmirror.guarded');

function ignore(): void {
  /* heard: see guardErrors */
}

export interface EventWait {
  /** Give up after this many milliseconds. */
  ms: number;
  /** The error for a deadline that passed. */
  timeout: () => Error;
  /** The error for an 'error' event (default: the event's error). */
  error?: (err: Error & { code?: string }) => Error;
  /** Give up when this signal aborts, with this error. */
  signal?: AbortSignal;
  aborted?: () => Error;
}

/**
 * The first `event` of `emitter` (its first argument), within `w.ms`.
 * Rejects on an 'error' event, on the deadline and on `w.signal`; every
 * listener and the timer are removed whichever comes first. The caller
 * destroys the socket on failure (it knows whether it owns it).
 */
export function eventWithin<T = void>(emitter: EventEmitter, event: string, w: EventWait): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      emitter.removeListener(event, onEvent);
      emitter.removeListener('error', onError);
      w.signal?.removeEventListener('abort', onAbort);
    };
    const onEvent = (value: T) => {
      done();
      resolve(value);
    };
    const onError = (err: Error & { code?: string }) => {
      done();
      reject(w.error ? w.error(err) : err);
    };
    const onAbort = () => {
      done();
      reject(w.aborted ? w.aborted() : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      done();
      reject(w.timeout());
    }, w.ms);
    emitter.once(event, onEvent);
    emitter.once('error', onError);
    if (w.signal?.aborted) onAbort();
    else w.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `p`'s value, or undefined once `ms` have passed without it (a grace
 * period: a reply that may or may not come). A rejection of `p` within the
 * time rejects; after it, nobody hears it (the caller closes what `p` waits on).
 */
export function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Milliseconds on a monotonic clock (uv_hrtime, as performance.now()'s) for
 * deadlines and round trips. Not performance.now(): in Node.js 20 the first
 * use of the `performance` global loads perf_hooks and its ten internal
 * modules (about 0.8 ms of start-up CPU) for the one function used here. Not
 * process.uptime(), which also updates the event loop's cached time.
 */
export function monotonicMs(): number {
  // The same clock as process.hrtime(), without its array per call.
  return Number(process.hrtime.bigint()) / 1e6;
}
