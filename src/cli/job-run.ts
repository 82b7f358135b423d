import type { Job, JobEndpoint } from '../job/job.js';
import { acquireRemoteLock, type RemoteLock } from '../job/remote-lock.js';
import { ConnectionPool } from '../ftp/pool.js';
import { FtpConnection } from '../ftp/connection.js';
import type { ServerOptions } from '../ftp/options.js';
import { mirror, type MirrorEndpoint } from '../tree/mirror.js';
import { readSourceRoot } from '../tree/source-root.js';
import type { MirrorOptions } from '../tree/options.js';
import { EXIT } from './exit.js';
import type { Logger } from './log.js';
import type { Output } from './output.js';
import { readExcludeFrom } from './options.js';
import { logPoolShrink, mirrorEvents, targetEngine } from './report.js';
import { lockTarget } from './target-lock.js';
import { connectAndResolve } from './login-paths.js';
import { interruptedBy } from './interrupt.js';
import { errorText, outcomeOfError, outcomeOfSummary, type TargetName, type TargetOutcome } from './outcome.js';
import { renderSummaryLine } from './render.js';

/**
 * One job of `fxpmirror run`. Each target is on its own: it is locked,
 * connected, synced and reported separately, and one that is down, locked,
 * full or refused does not stop the others. What concerns the whole job (the
 * source cannot be reached or listed, a bad exclude file) fails every target
 * that was still to be synced, with that reason.
 */

export interface JobOutcome {
  job: Job;
  /** The worst of the targets' codes. */
  code: number;
  targets: TargetOutcome[];
  /** An error of the whole job (source, exclude file), when there was one. */
  error?: string;
  durationMs: number;
}

export interface JobRunContext {
  output: Output;
  lockDir?: string;
  dryRun: boolean;
  verbose: boolean;
  /** Print the plan through `print` when the job is a dry run (--dry-run or its own dryRun). */
  printPlan: boolean;
  json: boolean;
  /** The job's part of stdout (its header comes first). */
  print: (text: string) => void;
  /** The most urgent of several exit codes. */
  worst: (codes: number[]) => number;
  /** Aborted by a signal (interrupt.ts): start nothing more, abort what runs, release everything. */
  signal: AbortSignal;
}

/** A server's own fxp policy narrows the job's: never beats force beats auto. */
function effectiveFxp(job: Job): Job['options']['fxp'] {
  const policies = [job.from, ...job.to].map((e) => e.server.fxp).filter(Boolean);
  if (job.options.fxp !== 'auto') return job.options.fxp;
  if (policies.includes('never')) return 'never';
  if (policies.includes('force')) return 'force';
  return 'auto';
}

interface Slot {
  ep: JobEndpoint;
  name: TargetName;
  log: Logger;
  outcome?: TargetOutcome;
  /** The target's absolute directory, once its server told its login directory (see login-paths.ts). */
  root?: string;
  releaseLocal?: () => Promise<void>;
  remote?: RemoteLock;
}

/** The options of a server the job names (its source or one of its targets). */
function serverOf(job: Job, name: string): ServerOptions {
  return [job.from, ...job.to].find((e) => e.serverName === name)!.server;
}

export async function runJob(job: Job, ctx: JobRunContext): Promise<JobOutcome> {
  const started = Date.now();
  const jlog = ctx.output.log.child({ job: job.name });
  const options: MirrorOptions = { ...job.options, fxp: effectiveFxp(job), dryRun: job.options.dryRun || ctx.dryRun };
  const slots: Slot[] = job.to.map((ep) => {
    const target = `${ep.serverName}:${ep.path}`;
    return { ep, name: { target, server: ep.serverName, path: ep.path }, log: jlog.child({ target }) };
  });
  const pending = () => slots.filter((s) => !s.outcome);
  const failTarget = (s: Slot, err: unknown) => {
    s.outcome = outcomeOfError(s.name, err);
    const locked = s.outcome.code === EXIT.LOCKED;
    s.log.log({ level: 'error', event: locked ? 'locked' : 'failed', message: (err as Error).message, code: (err as { code?: string }).code });
  };
  const pools = new Map<string, ConnectionPool>();
  const poolFor = (name: string, server: ServerOptions) => {
    let p = pools.get(name);
    if (!p) {
      const wire = ctx.verbose ? (dir: '>' | '<', line: string) => jlog.log({ level: 'debug', event: 'ftp', server: name, message: `${dir} ${line}` }) : undefined;
      p = new ConnectionPool(server, options.parallel, wire);
      p.onShrink = logPoolShrink(jlog, name, options.parallel);
      p.onNote = (n) => jlog.log(n);
      pools.set(name, p);
    }
    return p;
  };
  let walked = false;
  const walkDone = () => {
    if (!walked) ctx.output.progress?.walkDone();
    walked = true;
  };
  let jobError: string | undefined;
  /** Stop here when a signal came: what follows would only have to be undone. */
  const checkInterrupted = () => {
    if (ctx.signal.aborted) throw ctx.signal.reason;
  };
  try {
    checkInterrupted();
    const excludeFromText = readExcludeFrom(options.excludeFrom);
    // Connect every server once up front, so a wrong password or a dead host
    // is one clear error, and learn each one's login directory where a path
    // is relative to it ("server:pub"): every path is absolute from here on.
    // allSettled, not all: when one server fails, the finally below must not
    // close the pools while another connect is still in flight (that
    // connection would land in a closed pool, stay open and keep the process alive).
    const servers = [...new Set([job.from.serverName, ...slots.map((s) => s.ep.serverName)])];
    const pathsOn = (name: string) => [job.from, ...job.to].filter((e) => e.serverName === name).map((e) => e.path);
    const connects = await Promise.allSettled(servers.map((name) => connectAndResolve(poolFor(name, serverOf(job, name)), pathsOn(name))));
    const resolvers = new Map(servers.map((name, i) => [name, connects[i]]));
    const srcConnect = resolvers.get(job.from.serverName)!;
    if (srcConnect.status === 'rejected') throw srcConnect.reason;
    for (const s of slots) {
      const c = resolvers.get(s.ep.serverName)!;
      if (c.status === 'rejected') failTarget(s, c.reason);
      else s.root = c.value(s.ep.path);
    }
    if (pending().length === 0) return finish();
    checkInterrupted();
    const src: MirrorEndpoint = { pool: poolFor(job.from.serverName, job.from.server), root: srcConnect.value(job.from.path), display: `${job.from.serverName}:${job.from.path}` };
    // A dry run writes nothing: it takes no lock and is never locked out.
    if (!options.dryRun) {
      for (const s of pending()) {
        try {
          s.releaseLocal = await lockTarget(ctx.lockDir, s.ep.server, s.root!, { job: job.name, target: s.name.target }, s.log);
        } catch (err) {
          failTarget(s, err);
        }
      }
    }
    if (pending().length === 0) return finish();
    // The source root before anything is done on a target (a remote lock
    // creates the target's root): a missing source leaves every target untouched.
    checkInterrupted();
    const sourceListing = await readSourceRoot(src, options);
    if (job.remoteLock && !options.dryRun) {
      for (const s of pending()) {
        try {
          const connect = () => FtpConnection.connect(s.ep.server, { state: poolFor(s.ep.serverName, s.ep.server).state, onNote: (n) => s.log.log(n) });
          s.remote = await acquireRemoteLock(connect, s.root!, job.remoteLockTtlMs, (owner, why) =>
            s.log.log({
              level: 'warn',
              event: 'stale-remote-lock',
              server: s.ep.serverName,
              message: why === 'expired' ? `took over an expired remote lock (${owner || 'owner unknown'})` : `took over a remote lock whose process on this host is gone (${owner})`,
            }),
          );
        } catch (err) {
          failTarget(s, err);
        }
      }
    }
    const live = pending();
    if (live.length === 0) return finish();
    checkInterrupted();
    // Logged once connected and locked, so a run that is locked out or cannot
    // connect says so in one line.
    jlog.log({ level: 'info', event: 'start', message: `${src.display} -> ${live.map((s) => s.name.target).join(', ')}${options.dryRun ? ' (dry run)' : ''}` });
    const policy = { ...options, passiveExplicit: job.passiveExplicit };
    const events = mirrorEvents({
      output: ctx.output,
      print: ctx.print,
      targets: live.map((s) => ({ name: s.name.target, log: s.log })),
      log: jlog,
      printPlan: ctx.printPlan && options.dryRun,
      json: ctx.json,
      nameTargets: true,
      relayAsked: options.fxp === 'never',
    });
    const summaries = await mirror({
      src,
      targets: live.map((s, i) => ({ pool: poolFor(s.ep.serverName, s.ep.server), root: s.root!, display: s.name.target, engine: targetEngine(policy, s.log, events, i) })),
      options,
      parallelAuto: !job.parallelExplicit,
      sourceListing,
      excludeFromText,
      signal: ctx.signal,
      events: { ...events, walked: () => walkDone() },
    });
    const interrupted = ctx.signal.aborted ? interruptedBy() : undefined;
    live.forEach((s, i) => {
      const summary = summaries[i];
      s.outcome = outcomeOfSummary(s.name, summary, interrupted);
      s.log.log({
        level: s.outcome.code === EXIT.OK ? 'info' : 'warn',
        event: 'summary',
        bytes: summary.bytes.transferred,
        message: renderSummaryLine(summary, interrupted),
        files: summary.files,
        modes: summary.modes,
        durationMs: summary.durationMs,
      });
    });
  } catch (err) {
    const interrupted = ctx.signal.aborted ? interruptedBy() : undefined;
    jobError = errorText(err);
    jlog.log({ level: interrupted ? 'warn' : 'error', event: interrupted ? 'interrupted' : 'failed', message: (err as Error).message, code: (err as { code?: string }).code });
    for (const s of pending()) s.outcome = outcomeOfError(s.name, err, interrupted);
  } finally {
    walkDone();
    for (const s of slots) await s.remote?.release().catch(() => undefined);
    await Promise.all([...pools.values()].map((p) => p.close()));
    for (const s of slots) await s.releaseLocal?.();
  }
  return finish();

  function finish(): JobOutcome {
    const targets = slots.map((s) => s.outcome!);
    return { job, code: ctx.worst(targets.map((t) => t.code)), targets, error: jobError, durationMs: Date.now() - started };
  }
}
