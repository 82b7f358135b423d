import { redactUrls } from '../ftp/url.js';
import type { MirrorSummary } from '../tree/plan.js';
import { EXIT, exitCodeFor, exitCodeForCode, type ExitCode } from './exit.js';
import { redactSecrets } from './log.js';
import { displayText, quoteName, renderSummaryLine, summaryStatus } from './render.js';

/**
 * How each target of a run ended, as plain data: the exit code, the error
 * that stopped it before or while it was synced, or its summary. A fan-out
 * job is as good as its worst target; the JSON result, the -q lines and the
 * exit code all come from this.
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
}

export interface TargetName {
  target: string;
  server?: string;
  path: string;
}

/** Secrets and URL passwords out, one line: the text is printed outside the logger. */
function oneLine(text: string): string {
  return redactSecrets(redactUrls(text)).replace(/\s*[\r\n]+\s*/g, ' ');
}

/** An error's message, fit to print outside the logger (JSON results, -q lines). */
export function errorText(err: unknown): string {
  return oneLine((err as Error)?.message ?? String(err));
}

export function outcomeOfError(name: TargetName, err: unknown): TargetOutcome {
  return { ...name, code: exitCodeFor(err), error: errorText(err) };
}

/** A summary's exit code: its target-level error's, else 1 for anything partial (failed files, unsynced subtrees, unusable names, --max-delete), else 0. */
export function summaryExit(s: MirrorSummary): ExitCode {
  if (s.error) return exitCodeForCode(s.error.code);
  if (summaryStatus(s) !== 'partial') return EXIT.OK;
  // A file refused FXP under --fxp force: exit 4 says why, as it does for copy.
  return s.failures.some((f) => f.code === 'EFXPREFUSED') ? EXIT.FXP_REFUSED : EXIT.PARTIAL;
}

export function outcomeOfSummary(name: TargetName, s: MirrorSummary): TargetOutcome {
  const code = summaryExit(s);
  return { ...name, code, error: s.error ? oneLine(s.error.message) : undefined, summary: s };
}

/** The first thing that went wrong in a partial summary, for the one-line report. */
function firstProblem(s: MirrorSummary): string | undefined {
  const f = s.failures[0];
  if (f) return `${displayText(f.path || '.')}: ${displayText(oneLine(f.message))}`;
  const u = s.unsynced[0];
  if (u) return `${displayText(u.path ? `${u.path}/` : './')}: ${u.side} listing failed: ${displayText(oneLine(u.reason))}`;
  const n = s.unusable[0];
  if (n) return `${displayText(n.dir ? `${n.dir}/` : './')}: ${n.side} name ${quoteName(n.name)} is unusable: ${displayText(oneLine(n.reason))}`;
  return undefined;
}

/**
 * The one line a failed target gets under -q (cron mail), or undefined when
 * it is in sync:
 *   "nightly: eu:/pub: failed: 127.0.0.1:2121: connect ECONNREFUSED"
 *   "nightly: eu:/pub: locked: eu:/pub is locked by job 'other' (eu:/pub), pid 42, ..."
 *   "nightly: eu:/pub: partial: 3 transferred (1.0 KiB), 0 deleted, 1 failed in 0.5 s; a/b.iso: STOR ...: 552 ..."
 */
export function failureLine(o: TargetOutcome, job?: string): string | undefined {
  if (o.code === EXIT.OK) return undefined;
  const where = `${job !== undefined ? `${displayText(job)}: ` : ''}${displayText(o.target)}`;
  if (o.error !== undefined || !o.summary) {
    return `${where}: ${o.code === EXIT.LOCKED ? 'locked' : 'failed'}: ${displayText(o.error ?? 'unknown error')}`;
  }
  const s = o.summary;
  const first = firstProblem(s);
  return `${where}: ${renderSummaryLine(s)}${first ? `; ${first}` : ''}`;
}
