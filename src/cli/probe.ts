import { runProbe, renderProbe } from '../fxp/probe.js';
import { serverFromUrl } from './servers.js';
import { flagsOf, type CommonOpts } from './options.js';
import { EXIT } from './exit.js';
import { createLogger, streamSink } from './log.js';

/** `fxpmirror probe <url-a> <url-b>`: which FXP modes two servers accept; exit 4 when none. */
export async function probeCommand(a: string, b: string, o: CommonOpts & { json?: boolean }): Promise<number> {
  const first = serverFromUrl(a, 'A', flagsOf(o, 'a'));
  const second = serverFromUrl(b, 'B', flagsOf(o, 'b'));
  const log = createLogger({ sinks: [streamSink(process.stderr, 'text', 'info', !!process.stderr.isTTY)] });
  const report = await runProbe(first.server, second.server, first.url.path, second.url.path, (n) => log.log(n));
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : renderProbe(report));
  return report.results.some((r) => r.ok) ? EXIT.OK : EXIT.FXP_REFUSED;
}
