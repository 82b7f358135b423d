/**
 * The entry point (bin/fxpmirror). `fxpmirror --version` alone is answered
 * here, before the command line's modules load (commander, every option's
 * parser): a script that asks for the version pays for Node's start-up only.
 * Everything else goes to program.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { VERSION } from './version.js';

/**
 * V8 optimises a function with TurboFan (on a worker thread) once it has run
 * for a budget of bytecode; this is four times V8's default of 67,584 (V8
 * 11.3, Node 20). A mirror of 1,000 small files runs about 2 s, and with
 * the default budget TurboFan compiled a few hundred functions that ran only
 * a few thousand times: about a quarter of the client's CPU seconds went to
 * that compiler, on a machine whose cores the client shares with both
 * servers. Code that is really hot (listing parsers, the diff of a large
 * tree) still gets optimised, a moment later. Measured on the bench's
 * loopback scenario 1: client CPU about 0.86x of the default's.
 */
const INTERRUPT_BUDGET = 4 * 67_584;

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  await (await import('./program.js')).main(argv);
}
