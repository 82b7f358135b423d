import { runProbe, renderProbe } from '../fxp/probe.js';
import { serverFromUrl } from './servers.js';
import { flagsOf, type CommonOpts } from './options.js';
import { EXIT } from './exit.js';

/** `fxpmirror probe <url-a> <url-b>`: which FXP modes two servers accept; exit 4 when none. */
export async function probeCommand(a: string, b: string, o: CommonOpts & { json?: boolean }): Promise<number> {
  const flags = flagsOf(o);
  const first = serverFromUrl(a, 'A', flags);
  const second = serverFromUrl(b, 'B', flags);
  const report = await runProbe(first.server, second.server, first.url.path, second.url.path);
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : renderProbe(report));
  return report.results.some((r) => r.ok) ? EXIT.OK : EXIT.FXP_REFUSED;
}
