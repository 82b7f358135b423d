import { createWriteStream } from 'node:fs';
import pLimit from 'p-limit';
import { loadJobFiles, formatDiagnostic, type Job } from '../job/load.js';
import { acquireLocalLock, defaultLockDir, LockHeldError } from '../job/lock.js';
import { acquireRemoteLock, type RemoteLock } from '../job/remote-lock.js';
import { writeMetricsFile, type JobMetrics } from '../job/metrics.js';
import { ConnectionPool } from '../ftp/pool.js';
import { FtpConnection } from '../ftp/connection.js';
import type { ServerOptions } from '../ftp/options.js';
import { FxpEngine } from '../fxp/engine.js';
import type { MirrorSummary } from '../tree/plan.js';
import { EXIT, UsageError, exitCodeFor } from './exit.js';
import { createLogger, redactSecrets, type Logger } from './log.js';
import { renderSummary, renderSummaryLine } from './render.js';
import { readExcludeFrom, runMirrorWithOutput, summaryExit } from './index.js';
import { checkRunPaths } from './preflight.js';

export interface RunFlags {
  job?: string[];
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  logFormat: 'text' | 'json';
  logFile?: string;
  lockDir?: string;
  metricsFile?: string;
  jobs: number;
  verbose?: boolean;
}

/** `fxpmirror validate`: every diagnostic, exit 2 when any is an error. */
export async function validateCommand(files: string[]): Promise<number> {
  const { jobs, diagnostics } = await loadJobFiles(files);
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  if (diagnostics.some((d) => d.severity === 'error')) return EXIT.USAGE;
  process.stdout.write(`ok: ${jobs.length} job${jobs.length === 1 ? '' : 's'} in ${files.join(', ')}\n`);
  return EXIT.OK;
}

/** Order of precedence when jobs end differently: the most urgent code wins. */
const SEVERITY: number[] = [EXIT.INTERNAL, EXIT.USAGE, EXIT.CONNECT, EXIT.FXP_REFUSED, EXIT.REMOTE, EXIT.LOCKED, EXIT.PARTIAL, EXIT.OK];

function worst(codes: number[]): number {
  for (const c of SEVERITY) if (codes.includes(c)) return c;
  return EXIT.OK;
}

/** A server's own fxp policy narrows the job's: never beats force beats auto. */
function effectiveFxp(job: Job): Job['options']['fxp'] {
  const policies = [job.from, ...job.to].map((e) => e.server.fxp).filter(Boolean);
  if (job.options.fxp !== 'auto') return job.options.fxp;
  if (policies.includes('never')) return 'never';
  if (policies.includes('force')) return 'force';
  return 'auto';
}

interface JobOutcome {
  job: Job;
  code: number;
  summaries: MirrorSummary[];
  error?: string;
  durationMs: number;
}

async function runJob(job: Job, flags: RunFlags, log: Logger): Promise<JobOutcome> {
  const started = Date.now();
  const jlog = log.child({ job: job.name });
  const options = { ...job.options, fxp: effectiveFxp(job), dryRun: job.options.dryRun || !!flags.dryRun };
  let releaseLocal: (() => Promise<void>) | undefined;
  const remoteLocks: RemoteLock[] = [];
  const pools = new Map<string, ConnectionPool>();
  const poolFor = (name: string, server: ServerOptions) => {
    let p = pools.get(name);
    if (!p) {
      const wire = flags.verbose ? (dir: '>' | '<', line: string) => jlog.log({ level: 'debug', event: 'ftp', server: name, message: `${dir} ${line}` }) : undefined;
      p = new ConnectionPool(server, options.parallel, wire);
      p.onShrink = (n, why) => jlog.log({ level: 'warn', event: 'pool-shrink', server: name, message: `too many connections (${why}): using ${n}` });
      p.onNote = (n) => jlog.log(n);
      pools.set(name, p);
    }
    return p;
  };
  try {
    // A local file the job needs is read before anything connects (a usage error, exit 2).
    const excludeFromText = readExcludeFrom(options.excludeFrom);
    releaseLocal = await acquireLocalLock(flags.lockDir ?? defaultLockDir(), job.name, (info) =>
      jlog.log({ level: 'warn', event: 'stale-lock', message: `took over a stale lock of pid ${info.pid} (started ${info.startedAt})` }),
    );
    const src = poolFor(job.from.serverName, job.from.server);
    const targets = job.to.map((t) => ({ pool: poolFor(t.serverName, t.server), root: t.path, display: `${t.serverName}:${t.path}` }));
    // allSettled, not all: when one server fails, the finally below must not
    // close the pools while another connect is still in flight (that
    // connection would land in a closed pool, stay open and keep the process alive).
    const connected = await Promise.allSettled([src, ...targets.map((t) => t.pool)].map((p) => p.use(async () => undefined)));
    for (const c of connected) if (c.status === 'rejected') throw c.reason;
    if (job.remoteLock && !options.dryRun) {
      for (const t of job.to) {
        remoteLocks.push(
          await acquireRemoteLock(() => FtpConnection.connect(t.server, { state: poolFor(t.serverName, t.server).state, onNote: (n) => jlog.log(n) }), t.path, job.remoteLockTtlMs, (owner) =>
            jlog.log({ level: 'warn', event: 'stale-remote-lock', server: t.serverName, message: `took over an expired remote lock (${owner || 'owner unknown'})` }),
          ),
        );
      }
    }
    // Logged once connected and locked, so a run that is locked out or cannot
    // connect says so in one line.
    jlog.log({ level: 'info', event: 'start', message: `${job.from.serverName}:${job.from.path} -> ${job.to.map((t) => `${t.serverName}:${t.path}`).join(', ')}${options.dryRun ? ' (dry run)' : ''}` });
    const engine = new FxpEngine({ ...options, passiveExplicit: job.passiveExplicit }, {
      warn: (m) => jlog.log({ level: 'warn', event: 'warning', message: m }),
      fallback: (mode, err) => jlog.log({ level: 'info', event: 'fallback', mode, message: `${mode} failed: ${err.message}` }),
    });
    const summaries = await runMirrorWithOutput(
      {
        src: { pool: src, root: job.from.path, display: `${job.from.serverName}:${job.from.path}` },
        targets,
        options,
        engine,
        excludeFromText,
      },
      { json: !!flags.json, quiet: !!flags.quiet, log: jlog },
    );
    for (const s of summaries) {
      jlog.log({
        level: s.failures.length || s.unsynced.length || s.unusable.length || s.deleteLimit ? 'warn' : 'info',
        event: 'summary',
        path: s.destination,
        bytes: s.bytes.transferred,
        message: renderSummaryLine(s),
        files: s.files,
        modes: s.modes,
        durationMs: s.durationMs,
      });
    }
    return { job, code: summaryExit(summaries), summaries, durationMs: Date.now() - started };
  } catch (err) {
    const code = err instanceof LockHeldError ? EXIT.LOCKED : exitCodeFor(err);
    const message = redactSecrets((err as Error).message);
    jlog.log({ level: 'error', event: code === EXIT.LOCKED ? 'locked' : 'failed', message, code: (err as { code?: string }).code });
    return { job, code, summaries: [], error: message, durationMs: Date.now() - started };
  } finally {
    for (const l of remoteLocks) await l.release().catch(() => undefined);
    await Promise.all([...pools.values()].map((p) => p.close()));
    await releaseLocal?.();
  }
}

/** `fxpmirror run`: jobs in order (or N at once), each under its lock. */
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
  const stream = flags.logFile ? createWriteStream(flags.logFile, { flags: 'a' }) : process.stderr;
  const log = createLogger({ format: flags.logFormat, stream, quiet: !!flags.quiet, verbose: !!flags.verbose });
  const limit = pLimit(Math.max(1, flags.jobs));
  const outcomes = await Promise.all(selected.map((job) => limit(() => runJob(job, flags, log))));
  if (flags.json) {
    process.stdout.write(
      JSON.stringify(outcomes.map((o) => ({ job: o.job.name, exitCode: o.code, error: o.error, targets: o.summaries })), null, 2) + '\n',
    );
  } else {
    // A job that ended in an error was already logged as one 'locked'/'failed'
    // line; when that line went to the terminal as text, repeating it on stdout
    // would double every error in a cron mail. With --log-file or JSON logs the
    // human-readable line goes to stdout instead.
    const errorsShown = !flags.logFile && flags.logFormat === 'text';
    for (const o of outcomes) {
      if (o.error) {
        if (!errorsShown) process.stdout.write(`${o.job.name}: ${o.code === EXIT.LOCKED ? 'locked' : 'failed'}: ${o.error}\n`);
        continue;
      }
      for (const s of o.summaries) {
        process.stdout.write(flags.quiet ? `${o.job.name}: ${renderSummaryLine(s)}\n` : `== ${o.job.name}: ${s.source} -> ${s.destination}\n${renderSummary(s)}\n`);
      }
    }
  }
  if (flags.metricsFile && !flags.dryRun) {
    const now = Date.now() / 1000;
    const metrics: JobMetrics[] = outcomes.map((o) => {
      const ok = o.code === EXIT.OK;
      return {
        job: o.job.name,
        lastRunTimestamp: now,
        lastSuccessTimestamp: ok ? now : undefined,
        files: o.summaries.reduce((n, s) => n + s.files.transferred, 0),
        bytes: o.summaries.reduce((n, s) => n + s.bytes.transferred, 0),
        failures: o.summaries.reduce((n, s) => n + s.failures.length, 0) + (o.error ? 1 : 0),
        durationSeconds: o.durationMs / 1000,
        success: ok,
      };
    });
    await writeMetricsFile(flags.metricsFile, metrics);
  }
  if (stream !== process.stderr) await new Promise<void>((r) => (stream as NodeJS.WritableStream).end(() => r()));
  return worst(outcomes.map((o) => o.code));
}
