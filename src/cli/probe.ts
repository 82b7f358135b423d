import { FtpConnection } from '../ftp/connection.js';
import type { ServerOptions } from '../ftp/options.js';
import { runProbe, renderProbe } from '../fxp/probe.js';
import { resolveOn } from './login-paths.js';
import { serverFromUrl } from './servers.js';
import { flagsOf, type CommonOpts } from './options.js';
import { EXIT } from './exit.js';
import { createLogger, streamSink } from './log.js';

/** A relative directory (ftp://host/dir) made absolute with the login directory, on a connection of its own. */
async function absoluteDir(server: ServerOptions, path: string): Promise<string> {
  if (path.startsWith('/')) return path;
  const conn = await FtpConnection.connect(server);
  try {
    return await resolveOn(conn, path);
  } finally {
    await conn.close();
  }
}

/** `fxpmirror probe <url-a> <url-b>`: which FXP modes two servers accept; exit 4 when none. */
export async function probeCommand(a: string, b: string, o: CommonOpts & { json?: boolean }): Promise<number> {
  const first = serverFromUrl(a, 'A', flagsOf(o, 'a'));
  const second = serverFromUrl(b, 'B', flagsOf(o, 'b'));
  const log = createLogger({ sinks: [streamSink(process.stderr, 'text', 'info', !!process.stderr.isTTY)] });
  const [dirA, dirB] = await Promise.all([absoluteDir(first.server, first.url.path), absoluteDir(second.server, second.url.path)]);
  const report = await runProbe(first.server, second.server, dirA, dirB, (n) => log.log(n));
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : renderProbe(report));
  return report.results.some((r) => r.ok) ? EXIT.OK : EXIT.FXP_REFUSED;
}
