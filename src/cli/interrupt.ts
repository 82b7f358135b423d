import { FtpAbortError } from '../ftp/errors.js';
import { EXIT } from './exit.js';

/**
 * Stopping on a signal, in one place: SIGINT (Ctrl-C), SIGTERM (systemd's
 * stop, kill) and SIGHUP (the terminal went away). Only commands that can
 * stop cleanly install it (mirror, run and copy ask for interruption());
 * ls, probe and validate keep the default: the signal ends them.
 *
 * The first signal:
 * 1. aborts the AbortSignal the command passed down: no new transfer starts,
 *    the running ones are aborted (their control connections closed), their
 *    part files deleted (kept with --continue), nothing is deleted;
 * 2. runs the onInterrupt handlers at once (the progress display is cleared and
 *    the log says what is stopping);
 * 3. lets the command wind down as it would at the end of a run: locks
 *    released (local and remote), the log and the metrics written, the
 *    summary printed marked "interrupted"; then the process exits with
 *    128 + the signal's number (129, 130, 143: the shell's convention).
 * A wind-down that takes longer than GRACE_MS (a server that does not
 * answer) runs the onForcedExit handlers (the local locks) and exits with
 * that code anyway. A second signal exits at once: what is left is what a
 * crash leaves, and the next run takes it over (a local lock whose pid is
 * dead; a remote lock of a dead process on this host, remote-lock.ts).
 */

export const STOP_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM'] as const;
/** What stopped a run: a signal, or 'SIGPIPE' for an output whose reader went away (stopOnClosedOutput). */
export type StopSignal = (typeof STOP_SIGNALS)[number] | 'SIGPIPE';

/** 128 + the signal number. */
export const SIGNAL_EXIT = { SIGHUP: EXIT.SIGHUP, SIGINT: EXIT.SIGINT, SIGPIPE: EXIT.SIGPIPE, SIGTERM: EXIT.SIGTERM } as const;

type Handler = () => void | Promise<void>;

/** How long the wind-down may take before the process exits anyway. */
const GRACE_MS = 20_000;
/** How long the onForcedExit handlers together may take. */
const FORCED_BUDGET_MS = 2000;

const immediate: Handler[] = [];
const forced: Handler[] = [];
let controller: AbortController | undefined;
let received: StopSignal | undefined;

function install(): AbortController {
  if (controller) return controller;
  const c = (controller = new AbortController());
  for (const sig of STOP_SIGNALS) process.on(sig, () => stop(c, sig));
  return c;
}

function stop(c: AbortController, sig: StopSignal): void {
  if (received) process.exit(SIGNAL_EXIT[received]);
  received = sig;
  c.abort(new FtpAbortError(`interrupted by ${sig}`));
  for (const h of [...immediate].reverse()) void safely(h);
  // unref: a wind-down that finishes lets the process end by itself.
  setTimeout(() => void runAll(forced, FORCED_BUDGET_MS).finally(() => process.exit(SIGNAL_EXIT[sig])), GRACE_MS).unref();
}

/**
 * The reader of stdout or stderr went away (`fxpmirror ls … | head -1`).
 * Node.js ignores SIGPIPE, so the next write fails with EPIPE, as an
 * 'error' event that, unheard, ends the process with a stack trace. Here it
 * ends the run as SIGPIPE ends a C program's, with 141 (128 + 13): a command
 * that can stop cleanly (mirror, run, copy: interruption() was asked for)
 * winds down as on a stop signal, part files deleted and locks released; ls,
 * probe and validate, which hold nothing, exit at once without a word. Any
 * other error on these streams (a full disk under `> file`) ends it the same
 * way: the output it was asked for can no longer be written.
 */
export function stopOnClosedOutput(): void {
  const closed = (): void => {
    if (!controller) process.exit(EXIT.SIGPIPE);
    if (!received) stop(controller, 'SIGPIPE');
    // Also when the command had already finished and only its last lines were lost.
    process.exitCode = EXIT.SIGPIPE;
  };
  for (const stream of [process.stdout, process.stderr]) stream.on('error', closed);
}

async function safely(h: Handler): Promise<void> {
  try {
    await h();
  } catch {
    /* the others still run */
  }
}

/** Last registered first: a lock taken inside a run is released before the run's own handlers. */
async function runAll(handlers: Handler[], budgetMs: number): Promise<void> {
  const budget = new Promise<void>((resolve) => setTimeout(resolve, budgetMs).unref());
  const all = (async () => {
    for (const h of [...handlers].reverse()) await safely(h);
  })();
  await Promise.race([all, budget]);
}

function register(list: Handler[], handler: Handler): () => void {
  install();
  list.push(handler);
  return () => {
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  };
}

/** The signal a command passes down to stop cleanly; installs the handlers. */
export function interruption(): AbortSignal {
  return install().signal;
}

/** The signal that interrupted this run, if one did. */
export function interruptedBy(): StopSignal | undefined {
  return received;
}

/** The exit code of an interrupted run (129, 130, 141, 143), or undefined. */
export function interruptExitCode(): number | undefined {
  return received ? SIGNAL_EXIT[received] : undefined;
}

/** Run `handler` as soon as the first signal arrives (stop drawing, say so). Returns the function that unregisters it. */
export function onInterrupt(handler: Handler): () => void {
  return register(immediate, handler);
}

/** Run `handler` only when the process must exit before the wind-down is done (release a local lock). */
export function onForcedExit(handler: Handler): () => void {
  return register(forced, handler);
}
