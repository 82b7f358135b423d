import { redactUrls } from '../ftp/url.js';
import type { MirrorSummary } from '../tree/plan.js';
import { EXIT, exitCodeFor, exitCodeForCode, type ExitCode } from './exit.js';
import { redactSecrets } from '../ftp/secrets.js';
import { SIGNAL_EXIT, type StopSignal } from './interrupt.js';

/**
 * How each target of a run ended, as plain data: the exit code, the error
 * that stopped it before or while it was synced, or its summary. A fan-out
 * job is as good as its worst target; the JSON result, the -q lines and the
 * exit code all come from this. The text made from it (the -q lines) is
 * drawn by render.ts.
 */
export interface TargetOutcome {
  /** How the user names the target: "server:/path" in a job, the URL (without password) for `mirror`. */
  target: string;
  /** The job file's server name. */
  server?: string;
  path: string;
  code: ExitCode;
  /** Why the target was not synced at all (locked, down, refused, source missing). */
  error?: string;
  summary?: MirrorSummary;
  /** A signal stopped this target before it was done (interrupt.ts): its code is 128 + the signal's number. */
  interrupted?: StopSignal;
}

export interface TargetName {
  target: string;
  server?: string;
  path: string;
}

/** Secrets and URL passwords out, one line: for text printed outside the logger (JSON results, -q lines). */
export function oneLine(text: string): string {
  return redactSecrets(redactUrls(text)).replace(/\s*[\r\n]+\s*/g, ' ');
}

/** An error's message, fit to print outside the logger (JSON results, -q lines). */
export function errorText(err: unknown): string {
  return oneLine((err as Error)?.message ?? String(err));
}

export function outcomeOfError(name: TargetName, err: unknown, interrupted?: StopSignal): TargetOutcome {
  if (interrupted) return { ...name, code: SIGNAL_EXIT[interrupted], error: errorText(err), interrupted };
  return { ...name, code: exitCodeFor(err), error: errorText(err) };
}

/**
 * The one test for "not everything is in sync": "ok" when everything synced;
 * "partial" when a file failed, a subtree went unsynced, a name was unusable
 * or --max-delete stopped deletions. The exit code, the summary line and the
 * metrics' success all follow it.
 */
export function summaryStatus(s: MirrorSummary): 'ok' | 'partial' {
  return s.files.failed > 0 || s.failures.length > 0 || s.unsynced.length > 0 || s.unusable.length > 0 || s.deleteLimit ? 'partial' : 'ok';
}

/** A summary's exit code: its target-level error's, else 1 for anything partial (failed files, unsynced subtrees, unusable names, --max-delete), else 0. */
export function summaryExit(s: MirrorSummary): ExitCode {
  if (s.error) return exitCodeForCode(s.error.code);
  if (summaryStatus(s) !== 'partial') return EXIT.OK;
  // A file refused FXP under --fxp force: exit 4 says why, as it does for copy.
  return s.failures.some((f) => f.code === 'EFXPREFUSED') ? EXIT.FXP_REFUSED : EXIT.PARTIAL;
}

/** `interrupted`: the run was stopped by that signal before this target was done. */
export function outcomeOfSummary(name: TargetName, s: MirrorSummary, interrupted?: StopSignal): TargetOutcome {
  const code = interrupted ? SIGNAL_EXIT[interrupted] : summaryExit(s);
  return { ...name, code, error: s.error ? oneLine(s.error.message) : undefined, summary: s, ...(interrupted ? { interrupted } : {}) };
}
