import { ConnectionPool } from '../ftp/pool.js';
import { redactUrls } from '../ftp/url.js';
import { serverFromUrl } from './servers.js';
import { flagsOf, mirrorOptionsOf, readExcludeFrom, wireLog, type MirrorFlags } from './options.js';
import { openOutput } from './output.js';
import { checkRunPaths } from './preflight.js';
import { defaultLockDir } from '../job/lock.js';
import { connectAndResolve } from './login-paths.js';
import { outcomeOfSummary } from './outcome.js';
import { failureLine, renderSummary } from './render.js';
import { interruptedBy, interruption } from './interrupt.js';

/**
 * `fxpmirror mirror <src-url> <dst-url>`: one source tree onto one target,
 * under the target's local lock. Errors that stop the run (bad URL, connect,
 * locked, missing source) reach main() as exceptions: one line on stderr and
 * their exit code; they are logged to --log-file first.
 */
export async function mirrorCommand(srcUrl: string, dstUrl: string, o: MirrorFlags): Promise<number> {
  const src = serverFromUrl(srcUrl, 'SRC', flagsOf(o, 'source'));
  const dst = serverFromUrl(dstUrl, 'DST', flagsOf(o, 'destination'));
  const options = mirrorOptionsOf(o);
  const excludeFromText = readExcludeFrom(o.excludeFrom);
  // Local paths this run writes to are usage errors before anything connects (preflight.ts).
  checkRunPaths({ lockDir: o.lockDir ?? defaultLockDir(), lockDirFromOption: o.lockDir !== undefined, logFile: o.logFile });
  // A signal stops the run cleanly (interrupt.ts): installed before anything connects.
  const signal = interruption();
  const output = openOutput(o, 1);
  const { log, screen } = output;
  const target = { target: redactUrls(dstUrl), path: dst.url.path };
  const wire = (t: string) => screen.err(t);
  // The walk, the FXP engine and the reports load while the servers answer
  // the logins (a distant server takes several round trips to log in).
  const modules = Promise.all([import('../tree/mirror.js'), import('./report.js'), import('./target-lock.js')]);
  modules.catch(() => undefined);
  const srcPool = new ConnectionPool(src.server, options.parallel, wireLog(o.verbose, src.server.name, wire));
  const dstPool = new ConnectionPool(dst.server, options.parallel, wireLog(o.verbose, dst.server.name, wire));
  for (const p of [srcPool, dstPool]) p.onNote = (n) => log.log(n);
  let release: (() => Promise<void>) | undefined;
  try {
    // Connect once up front, so a wrong password or a dead host is one clear
    // error (exit 3), and learn the login directories the paths may be relative to.
    // allSettled: closing the pools while the other connect is in flight would leave that connection open.
    const connected = await Promise.allSettled([connectAndResolve(srcPool, [src.url.path]), connectAndResolve(dstPool, [dst.url.path])]);
    const [srcAt, dstAt] = connected.map((c) => {
      if (c.status === 'rejected') throw c.reason;
      return c.value;
    });
    const [{ mirror }, { logPoolShrink, mirrorEvents, targetEngine }, { lockTarget }] = await modules;
    // Only one connection each so far: no refusal could have shrunk a pool yet.
    for (const p of [srcPool, dstPool]) p.onShrink = logPoolShrink(log, p.server.name, options.parallel);
    const srcRoot = srcAt(src.url.path);
    const dstRoot = dstAt(dst.url.path);
    if (signal.aborted) throw signal.reason;
    // A dry run writes nothing, so it takes no lock and is never locked out.
    if (!options.dryRun) release = await lockTarget(o.lockDir, dst.server, dstRoot, { target: target.target }, log);
    const events = mirrorEvents({
      output,
      targets: [{ name: target.target, log }],
      log,
      printPlan: options.dryRun && (!o.quiet || !!o.json),
      json: !!o.json,
      nameTargets: false,
      relayAsked: options.fxp === 'never',
    });
    const [summary] = await mirror({
      src: { pool: srcPool, root: srcRoot, display: redactUrls(srcUrl) },
      targets: [{ pool: dstPool, root: dstRoot, display: target.target, engine: targetEngine({ ...options, passiveExplicit: o.passiveExplicit }, log, events, 0) }],
      options,
      parallelAuto: !o.parallelExplicit,
      excludeFromText,
      signal,
      events,
    });
    const interrupted = signal.aborted ? interruptedBy() : undefined;
    const outcome = outcomeOfSummary(target, summary, interrupted);
    output.close();
    if (o.json) screen.out(JSON.stringify(interrupted ? { ...summary, interrupted } : summary, null, 2) + '\n');
    else if (!o.quiet) screen.out(renderSummary(summary, interrupted) + '\n');
    // -q: nothing on success; a failed target is one line on stderr (the cron contract).
    const line = failureLine(outcome);
    if (line && (o.quiet || !output.logOnStderr)) screen.err(line + '\n');
    return outcome.code;
  } catch (err) {
    output.fileLog.log({ level: 'error', event: 'failed', target: target.target, code: (err as { code?: string }).code, message: (err as Error).message });
    throw err;
  } finally {
    output.close();
    await Promise.all([srcPool.close(), dstPool.close()]);
    await release?.();
  }
}
