import { ConnectionPool } from '../ftp/pool.js';
import type { FtpConnection } from '../ftp/connection.js';
import { redactUrls } from '../ftp/url.js';
import { containedPath } from '../ftp/remote-path.js';
import { FxpEngine } from '../fxp/engine.js';
import { ConnectionLease } from '../ftp/pool.js';
import { serverFromUrl } from './servers.js';
import { resolveOn } from './login-paths.js';
import { interruption } from './interrupt.js';
import { flagsOf, wireLog, type CommonOpts, type TransferFlags } from './options.js';
import { EXIT, UsageError } from './exit.js';
import { createLogger, streamSink, type LogEvent } from './log.js';
import { displayText, formatBytes, formatDuration } from './render.js';

/** `fxpmirror copy <src-url> <dst-url>`: one file, server to server. */

/**
 * Where the file goes, as the directory nothing may be written outside of
 * (`dstRoot`) and the name in it (`dstRel`). The destination may name a
 * directory, and then the file keeps its name: a path ending in "/", or one
 * that exists as a directory (CWD succeeds).
 */
export async function destinationOf(dst: FtpConnection, dstPath: string, name: string): Promise<{ dstRoot: string; dstRel: string }> {
  if (dstPath.endsWith('/') || (await dst.isDirectory(dstPath))) return { dstRoot: dstPath, dstRel: name };
  const slash = dstPath.lastIndexOf('/');
  return { dstRoot: dstPath.slice(0, slash) || '/', dstRel: dstPath.slice(slash + 1) };
}

export async function copyCommand(srcUrl: string, dstUrl: string, o: CommonOpts & TransferFlags): Promise<number> {
  const src = serverFromUrl(srcUrl, 'SRC', flagsOf(o, 'source'));
  const dst = serverFromUrl(dstUrl, 'DST', flagsOf(o, 'destination'));
  if (src.url.path.endsWith('/') || src.url.path === '') throw new UsageError(`source must name a file, not a directory: ${redactUrls(srcUrl)}`);
  const signal = interruption();
  const srcPool = new ConnectionPool(src.server, 1, wireLog(o.verbose, `${src.server.name}`));
  const dstPool = new ConnectionPool(dst.server, 1, wireLog(o.verbose, `${dst.server.name}`));
  const log = createLogger({ sinks: [streamSink(process.stderr, 'text', 'info', !!process.stderr.isTTY)] });
  // Held back until the copy succeeds: on failure the one error line already
  // names every refusal, and stderr stays one line (cron mail, scripts).
  const held: LogEvent[] = [];
  const engine = new FxpEngine(
    { fxp: o.fxp, passive: o.passive, passiveExplicit: o.passiveExplicit, verify: o.verify, continue: !!o.continue, allowClearData: !!o.allowClearData },
    {
      warn: (m) => held.push({ level: 'warn', event: 'warning', message: m }),
      fallback: (mode, err) => held.push({ level: 'info', event: 'fallback', mode, message: `${mode} failed: ${err.message}` }),
    },
  );
  for (const p of [srcPool, dstPool]) p.onNote = (n) => held.push(n);
  const s = new ConnectionLease(srcPool);
  const d = new ConnectionLease(dstPool);
  const started = Date.now();
  try {
    // Each server has a pool of its own here, so both logins can run at once
    // (the source-first order only matters where pools are shared and full),
    // and so can the questions to each: a round trip or two less per copy.
    const [srcConn, dstConn] = await Promise.all([s.connection(), d.connection()]);
    // Relative paths (ftp://host/file) start at the login directory: asked now, fresh from login.
    const [srcPath, dstUrlPath] = await Promise.all([resolveOn(srcConn, src.url.path), resolveOn(dstConn, dst.url.path)]);
    const name = srcPath.split('/').pop()!;
    const [{ dstRoot, dstRel }, { mtime, size }] = await Promise.all([
      destinationOf(dstConn, dstUrlPath, name),
      (async () => ({ mtime: await srcConn.mdtm(srcPath).catch(() => undefined), size: await srcConn.size(srcPath) }))(),
    ]);
    // The destination directory is the root nothing may be written outside of.
    const dstPath = containedPath(dstRoot, dstRel);
    // A signal aborts the transfer and deletes its temporary file (kept with --continue): interrupt.ts.
    const result = await engine.copy(s, d, { srcPath, dstRoot, dstRel, mtime, size, signal });
    if (result.mode === 'relay' && o.fxp !== 'never') {
      held.push({ level: 'warn', event: 'relay', path: dstPath, message: 'every FXP mode was refused: the file went through this machine (relay)' });
    }
    for (const e of held) log.log(e);
    const ms = Date.now() - started;
    if (o.json) {
      process.stdout.write(
        JSON.stringify({ source: redactUrls(srcUrl), destination: redactUrls(dstUrl), path: dstPath, ...result, durationMs: ms }, null, 2) + '\n',
      );
    } else {
      process.stdout.write(
        `copied ${displayText(srcPath)} -> ${displayText(dstPath)}: ${formatBytes(result.bytes)} in ${formatDuration(ms)} via ${result.mode}` +
          `${result.resumedFrom ? ` (resumed at ${result.resumedFrom})` : ''}${result.checksum ? `, ${result.checksum.algorithm} verified` : ''}` +
          `${result.mtimeSet ? '' : ', mtime not preserved'}\n`,
      );
    }
    return EXIT.OK;
  } finally {
    s.release();
    d.release();
    await Promise.all([srcPool.close(), dstPool.close()]);
  }
}
