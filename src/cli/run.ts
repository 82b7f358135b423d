import pLimit from 'p-limit';
import { loadJobFiles } from '../job/job-files.js';
import { formatDiagnostic } from '../job/reader.js';
import { writeMetricsFile, type JobMetrics } from '../job/metrics.js';
import { EXIT, UsageError } from './exit.js';
import type { OutputFlags } from './options.js';
import { openOutput } from './output.js';
import { checkRunPaths } from './preflight.js';
import { defaultLockDir } from '../job/lock.js';
import { runJob, type JobOutcome } from './job-run.js';
import { interruptedBy, interruption } from './interrupt.js';
import { outcomeOfError } from './outcome.js';
import type { Job } from '../job/job.js';
import { displayText, failureLine, renderSummary } from './render.js';

/**
 * `fxpmirror run`: the jobs of job files, in order (or N at once), each target
 * under its own lock (job-run.ts). Output follows the cron contract (README):
 * with -q nothing on success and one line per failed job and target on
 * stderr; --log-file always gets the whole record.
 */

export interface RunFlags extends OutputFlags {
  job?: string[];
  jobs: number;
  metricsFile?: string;
}

/** Order of precedence when jobs end differently: the most urgent code wins (a signal first: the run was stopped). */
const SEVERITY: number[] = [EXIT.SIGTERM, EXIT.SIGINT, EXIT.SIGHUP, EXIT.SIGPIPE, EXIT.INTERNAL, EXIT.USAGE, EXIT.CONNECT, EXIT.FXP_REFUSED, EXIT.REMOTE, EXIT.LOCKED, EXIT.PARTIAL, EXIT.OK];

function worst(codes: number[]): number {
  for (const c of SEVERITY) if (codes.includes(c)) return c;
  return EXIT.OK;
}

/** The JSON result: one object per job, each naming its targets. */
function jobJson(o: JobOutcome): object {
  return {
    job: o.job.name,
    exitCode: o.code,
    interrupted: o.targets.find((t) => t.interrupted)?.interrupted,
    error: o.error,
    targets: o.targets.map((t) => ({ target: t.target, server: t.server, path: t.path, exitCode: t.code, interrupted: t.interrupted, error: t.error, summary: t.summary })),
  };
}

function jobMetrics(o: JobOutcome, now: number): JobMetrics {
  const ok = o.code === EXIT.OK;
  const summaries = o.targets.flatMap((t) => (t.summary ? [t.summary] : []));
  return {
    job: o.job.name,
    lastRunTimestamp: now,
    lastSuccessTimestamp: ok ? now : undefined,
    files: summaries.reduce((n, s) => n + s.files.transferred, 0),
    bytes: summaries.reduce((n, s) => n + s.bytes.transferred, 0),
    // A target that could not be synced at all counts as one failure.
    failures: o.targets.reduce((n, t) => n + (t.summary ? t.summary.failures.length : 1), 0),
    durationSeconds: o.durationMs / 1000,
    success: ok,
  };
}

/** A job a signal stopped before it began: each target interrupted, nothing done. */
function notStarted(job: Job): JobOutcome {
  const sig = interruptedBy();
  const targets = job.to.map((ep) => outcomeOfError({ target: `${ep.serverName}:${ep.path}`, server: ep.serverName, path: ep.path }, new Error('not started'), sig));
  return { job, code: worst(targets.map((t) => t.code)), targets, durationMs: 0 };
}

/** `fxpmirror run`: jobs in order (or N at once), each target under its lock. */
export async function runJobsCommand(files: string[], flags: RunFlags): Promise<number> {
  const { jobs, diagnostics } = await loadJobFiles(files);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!flags.quiet) for (const d of diagnostics.filter((x) => x.severity === 'warning')) process.stderr.write(formatDiagnostic(d) + '\n');
  if (errors.length) {
    for (const d of errors) process.stderr.write(formatDiagnostic(d) + '\n');
    return EXIT.USAGE;
  }
  let selected = jobs;
  if (flags.job?.length) {
    const unknown = flags.job.filter((n) => !jobs.some((j) => j.name === n));
    if (unknown.length) throw new UsageError(`no job named ${unknown.map((n) => `'${n}'`).join(', ')} (jobs: ${jobs.map((j) => j.name).join(', ')})`);
    selected = jobs.filter((j) => flags.job!.includes(j.name));
  }
  checkRunPaths({ lockDir: flags.lockDir ?? defaultLockDir(), lockDirFromOption: flags.lockDir !== undefined, metricsFile: flags.metricsFile, logFile: flags.logFile });
  // A signal stops the run cleanly (interrupt.ts): installed before anything connects.
  const signal = interruption();
  const output = openOutput(flags, selected.length);
  const { screen } = output;
  // The job files' warnings (printed above unless -q) belong to the full record too.
  for (const d of diagnostics.filter((x) => x.severity === 'warning')) output.fileLog.log({ level: 'warn', event: 'job-file', message: formatDiagnostic(d) });
  // Text on stdout for people: each job's header, then its plan (dry run) and
  // its summaries. -q prints nothing there; --json prints one result at the end.
  const human = !flags.quiet && !flags.json;
  // The failure lines go to stderr unless the log is there already (it said it).
  const failureLines = !output.logOnStderr;
  const limit = pLimit(Math.max(1, flags.jobs));
  let outcomes: JobOutcome[];
  try {
    outcomes = await Promise.all(
      selected.map((job) =>
        limit(async () => {
          let headed = false;
          const print = (text: string) => {
            if (human && !headed) screen.out(`== ${displayText(job.name)}: ${job.from.serverName}:${job.from.path} -> ${job.to.map((t) => `${t.serverName}:${t.path}`).join(', ')}\n`);
            headed = true;
            screen.out(text);
          };
          // Jobs still waiting for their turn when a signal came do not start.
          const o = signal.aborted ? notStarted(job) : await runJob(job, {
            output,
            lockDir: flags.lockDir,
            dryRun: !!flags.dryRun,
            verbose: !!flags.verbose,
            printPlan: !flags.quiet || !!flags.json,
            json: !!flags.json,
            print,
            worst,
            signal,
          });
          if (human) {
            const summarized = o.targets.filter((t) => t.summary);
            for (const [i, t] of summarized.entries()) print(`${i > 0 ? '\n' : ''}${renderSummary(t.summary!, t.interrupted)}\n`);
          }
          if (failureLines) {
            for (const t of o.targets) {
              const line = failureLine(t, job.name);
              if (line) screen.err(`${line}\n`);
            }
          }
          return o;
        }),
      ),
    );
  } finally {
    output.close();
  }
  if (flags.json) screen.out(JSON.stringify(outcomes.map(jobJson), null, 2) + '\n');
  if (flags.metricsFile && !flags.dryRun) {
    const now = Date.now() / 1000;
    await writeMetricsFile(flags.metricsFile, outcomes.map((o) => jobMetrics(o, now)));
  }
  return worst(outcomes.map((o) => o.code));
}
