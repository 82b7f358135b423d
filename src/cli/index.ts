/**
 * The entry point (bin/fxpmirror). `fxpmirror --version` alone is answered
 * here, before the command line's modules load (commander, every option's
 * parser): a script that asks for the version pays for Node's start-up only.
 * Everything else goes to program.ts. V8's flags are set by bin/fxpmirror,
 * before this module is compiled (its code cache depends on them).
 */
import { VERSION } from './version.js';

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  await (await import('./program.js')).main(argv);
}
