import { VERSION } from './version.js';
import { Command, CommanderError, Option } from 'commander';
import { FtpUrlError } from '../ftp/errors.js';
import { redactUrls } from '../ftp/url.js';
import { EXIT, EXIT_TABLE, exitCodeFor } from './exit.js';
import { redactSecrets } from './log.js';
import { interruptExitCode, stopOnClosedOutput } from './interrupt.js';
import {
  TRUST_PASV_HELP,
  collect,
  connectionOptions,
  intArg,
  listingOptions,
  mirrorOptions,
  outputOptions,
  transferOptions,
  type CommonOpts,
  type MirrorFlags,
  type TransferFlags,
} from './options.js';
import type { LsFlags } from './ls.js';
import type { RunFlags } from './run.js';

/**
 * The command line: commander wiring only. Each command lives in a module of
 * its own (ls.ts, copy.ts, mirror.ts, probe.ts, run.ts, validate.ts), loaded
 * when it runs: `mirror` never loads the job layer (YAML parser, metrics),
 * which keeps its start-up short (a visible share of a no-op re-sync, see
 * test/bench). index.ts loads this module only when there is a command to parse.
 */


function exitHelp(): string {
  return '\nExit codes:\n' + EXIT_TABLE.map(([c, d]) => `  ${String(c).padStart(3)}  ${d}`).join('\n') + '\n';
}

/** The user chose --passive (otherwise a server known to be a bad active side may be made passive). */
function passiveExplicit(cmd: Command): boolean {
  return cmd.getOptionValueSource('passive') === 'cli';
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fxpmirror')
    .description('Keep FTP mirror sites in sync by FXP: the servers send files straight to each other.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    // Set before the subcommands are added, so they inherit it: a parse error
    // becomes a CommanderError and exit code 2, not commander's own exit(1).
    .exitOverride()
    .addHelpText('after', `\nURLs: ftp://user:pass@host:port/path, ftps:// (implicit TLS, port 990), ftpes:// (explicit TLS).\nThe path is relative to the login directory (RFC 1738); %2F makes it absolute: ftp://host/%2Fpub.\nA URL without a password takes it from FXPMIRROR_SRC_PASSWORD / FXPMIRROR_DST_PASSWORD / FXPMIRROR_PASSWORD, then ~/.netrc.\n${exitHelp()}`);

  listingOptions(connectionOptions(program.command('ls').description('list a remote directory (MLSD, else LIST)').argument('<url>')))
    .option('-R, --recursive', 'list subdirectories too')
    .option('--trust-pasv-address', TRUST_PASV_HELP)
    .option('--json', 'print entries as JSON')
    .action(async (url: string, o: LsFlags) => setExit(await (await import('./ls.js')).lsCommand(url, o)));

  transferOptions(connectionOptions(program.command('copy').description('copy one file from server to server').argument('<src-url>').argument('<dst-url>', 'a file, or a directory (ending in / or existing)')))
    .action(async (a: string, b: string, o: CommonOpts & TransferFlags, cmd: Command) => setExit(await (await import('./copy.js')).copyCommand(a, b, { ...o, passiveExplicit: passiveExplicit(cmd) })));

  outputOptions(mirrorOptions(listingOptions(transferOptions(connectionOptions(program.command('mirror').description('make the destination tree identical to the source tree').argument('<src-url>').argument('<dst-url>'))))))
    .action(async (a: string, b: string, o: MirrorFlags, cmd: Command) => setExit(await (await import('./mirror.js')).mirrorCommand(a, b, { ...o, passiveExplicit: passiveExplicit(cmd), parallelExplicit: cmd.getOptionValueSource('parallel') === 'cli' })));

  connectionOptions(program.command('probe').description('find which FXP modes two servers accept, and why the others fail').argument('<url-a>').argument('<url-b>'))
    .addOption(new Option('--trust-pasv-address <side>', TRUST_PASV_HELP).choices(['a', 'b', 'both']))
    .option('--json', 'print the results as JSON')
    .action(async (a: string, b: string, o: CommonOpts & { json?: boolean }) => setExit(await (await import('./probe.js')).probeCommand(a, b, o)));

  outputOptions(
    program
      .command('run')
      .description('run the jobs of YAML job files (cron)')
      .argument('<file|dir...>')
      .option('--job <name>', 'run only this job (repeatable)', collect)
      .option('-n, --dry-run', 'print the plan; change nothing')
      .option('--json', 'print the results as JSON'),
  )
    .option('--metrics-file <file>', 'write a Prometheus textfile (node_exporter) after the run')
    .option('--jobs <n>', 'run up to N jobs at once', intArg(1), 1)
    .option('-v, --verbose', 'log the FTP conversation (passwords masked)')
    .action(async (files: string[], o: RunFlags) => setExit(await (await import('./run.js')).runJobsCommand(files, o)));

  program
    .command('validate')
    .description('check job files; print every error as file:line:col')
    .argument('<file|dir...>')
    .action(async (files: string[]) => setExit(await (await import('./validate.js')).validateCommand(files)));

  return program;
}

/** A command's own code, unless a signal interrupted it: then 128 + the signal's number (interrupt.ts). */
function setExit(code: number): void {
  process.exitCode = interruptExitCode() ?? code;
}

/** The entry point: one line per error, a documented exit code, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  stopOnClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (or help/version).
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    const code = interruptExitCode() ?? (err instanceof FtpUrlError ? EXIT.USAGE : exitCodeFor(err));
    const message = redactSecrets(redactUrls((err as Error)?.message ?? String(err))).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`fxpmirror: ${code === EXIT.INTERNAL ? 'internal error: ' : ''}${message}\n`);
    if (code === EXIT.INTERNAL && process.env.FXPMIRROR_DEBUG) process.stderr.write(`${redactSecrets(redactUrls(String((err as Error).stack)))}\n`);
    process.exitCode = code;
  }
}
