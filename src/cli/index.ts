import { readFileSync } from 'node:fs';
import { Command, Option, InvalidArgumentError, CommanderError } from 'commander';
import { FtpConnection } from '../ftp/connection.js';
import { ConnectionLease, ConnectionPool } from '../ftp/pool.js';
import { FtpUrlError } from '../ftp/errors.js';
import { FxpEngine } from '../fxp/engine.js';
import { mirror } from '../tree/mirror.js';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../tree/options.js';
import { parseMaxDelete } from '../tree/deletes.js';
import { parseSize, parseDateOrAge } from '../job/schema.js';
import { MAX_TIMER_MS } from '../ftp/options.js';
import { caFileProblem, isSha256Fingerprint } from '../ftp/tls-policy.js';
import { redactUrls } from '../ftp/url.js';
import { EXIT, EXIT_TABLE, UsageError, exitCodeFor } from './exit.js';
import { serverFromUrl, type ServerFlags } from './servers.js';
import { createLogger, redactSecrets, type LogEvent, type Logger } from './log.js';
import { actionToJson, renderAction, renderSummary, renderSummaryLine, formatBytes, formatDuration, displayText, quoteName } from './render.js';
import { containedPath } from '../ftp/remote-path.js';
import { Progress } from './progress.js';
import { runProbe, renderProbe } from '../fxp/probe.js';
import type { ListEntry } from '../ftp/entry.js';
import type { MirrorSummary } from '../tree/plan.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function intArg(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return n;
  };
}

/** Seconds that end up in a timer: at most what setTimeout can hold. */
function secondsArg(v: string): number {
  const max = Math.floor(MAX_TIMER_MS / 1000);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected whole seconds from 1 to ${max} (about 24 days, the longest timer Node.js can set)`);
  return n;
}

function fingerprintArg(v: string, prev: string[] = []): string[] {
  if (!isSha256Fingerprint(v)) throw new InvalidArgumentError('expected a SHA-256 fingerprint: 64 hex digits, with or without colons');
  return [...prev, v];
}

function caArg(v: string): string {
  const problem = caFileProblem(v);
  if (problem) throw new InvalidArgumentError(`cannot use this CA file: ${problem}`);
  return v;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function sizeArg(v: string): number {
  const r = parseSize(v);
  if (!r.ok) throw new InvalidArgumentError(r.message);
  return r.value;
}

function dateArg(v: string): Date {
  const r = parseDateOrAge(v, new Date());
  if (!r.ok) throw new InvalidArgumentError(r.message);
  return r.value;
}

function maxDeleteArg(v: string): MirrorOptions['maxDelete'] {
  try {
    return parseMaxDelete(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The option is gone; its value is never read: a usage error (exit 2) that names what replaced it, while the arguments are parsed. */
function removedFixPasvAddress(): never {
  throw new UsageError(
    "--fix-pasv-address was removed: a PASV address other than the server's own is never used now (only its port is); --trust-pasv-address opts in to using it",
  );
}

/** Options every command that connects shares. */
function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--ca <file>', 'trust the CA certificates in this PEM file (TLS)', caArg)
    .option('--fingerprint <sha256>', 'trust the server certificate with this SHA-256 fingerprint instead of a CA; name and dates are still checked (repeatable)', fingerprintArg)
    .option('--insecure', 'do not verify TLS certificates (explicit opt-out); with --fingerprint, only the pin is checked')
    .option('--timeout <seconds>', 'command and data timeout', secondsArg)
    .option('--connect-timeout <seconds>', 'connect and greeting timeout', secondsArg)
    .addOption(new Option('--fix-pasv-address <when>').hideHelp().argParser(removedFixPasvAddress))
    .option('--active', "open fxpmirror's own data connections (listings, relay) in active mode (PORT)")
    .option('-v, --verbose', 'log the FTP conversation to stderr (passwords masked)');
}

/** Bounds on every directory listing read (ls, mirror): past one, that directory counts as not listed. */
function listingOptions(cmd: Command): Command {
  return cmd
    .option('--max-listing-entries <n>', 'most lines in one directory listing (default 1000000)', intArg(1))
    .option('--max-listing-line <size>', 'longest line in a listing (default 8K)', (v: string) => {
      const n = sizeArg(v);
      if (n < 1) throw new InvalidArgumentError('must be at least 1 byte');
      return n;
    });
}

function transferOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--fxp <policy>', 'auto: fall back to relaying; force: FXP or fail; never: always relay').choices(['auto', 'force', 'never']).default('auto'))
    .addOption(new Option('--passive <side>', 'which server gets PASV').choices(['source', 'destination']).default('source'))
    .addOption(new Option('--verify <how>', 'check each transferred file').choices(['size', 'checksum', 'none']).default('size'))
    .option('--continue', 'resume partial transfers (keeps .<name>.fxpmirror-part on failure)')
    .option('--allow-clear-data', 'under TLS, allow FXP with unprotected data (PROT C) when protected FXP fails')
    .addOption(new Option('--trust-pasv-address <side>', TRUST_PASV_HELP).choices(['source', 'destination', 'both']))
    .option('--json', 'print the result as JSON');
}

interface CommonOpts {
  ca?: string;
  fingerprint?: string[];
  insecure?: boolean;
  timeout?: number;
  connectTimeout?: number;
  /** ls: a flag; copy/mirror: source|destination|both; probe: a|b|both. */
  trustPasvAddress?: boolean | string;
  verbose?: boolean;
  maxConnections?: number;
  active?: boolean;
  maxListingEntries?: number;
  maxListingLine?: number;
}

/** The flags for one server; `side` is its name in --trust-pasv-address (source, destination, a, b; ls has one server). */
function flagsOf(o: CommonOpts, side?: string): ServerFlags {
  const trust = o.trustPasvAddress;
  return {
    ca: o.ca,
    fingerprint: o.fingerprint,
    insecure: o.insecure,
    timeout: o.timeout,
    connectTimeout: o.connectTimeout,
    trustPasvAddress: trust === true || trust === 'both' || (side !== undefined && trust === side),
    maxConnections: o.maxConnections,
    active: o.active,
    maxListingEntries: o.maxListingEntries,
    maxListingLine: o.maxListingLine,
  };
}

const TRUST_PASV_HELP = "use the address in a server's PASV reply even when it is not the server's own (a separate data interface; logged as a warning)";

function wireLog(verbose: boolean | undefined, label: string) {
  if (!verbose) return undefined;
  return (dir: '>' | '<', line: string) => process.stderr.write(redactSecrets(`${label} ${dir} ${line}`) + '\n');
}

function entryJson(e: ListEntry & { path?: string }): object {
  return {
    ...(e.path !== undefined ? { path: e.path } : {}),
    name: e.name,
    type: e.type,
    size: e.size,
    mtime: e.mtime?.toISOString(),
    mtimePrecision: e.mtimePrecision,
    mtimeApproximate: e.mtimeApproximate,
    target: e.target,
    mode: e.mode !== undefined ? e.mode.toString(8).padStart(4, '0') : undefined,
  };
}

function entryLine(e: ListEntry, name: string): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'special' ? 's' : '-';
  const size = e.size !== undefined ? String(e.size) : '-';
  const when = e.mtime ? (e.mtimeApproximate ? '~' : ' ') + e.mtime.toISOString().replace(/\.000Z$/, 'Z') : ' -';
  return `${t} ${size.padStart(12)} ${when.padEnd(22)} ${displayText(name)}${e.target ? ` -> ${displayText(e.target)}` : ''}${e.type === 'dir' ? '/' : ''}`;
}

async function lsCommand(url: string, o: CommonOpts & { recursive?: boolean; json?: boolean }): Promise<number> {
  const { server, url: u } = serverFromUrl(url, '', flagsOf(o));
  const log = createLogger({ format: 'text', stream: process.stderr });
  const conn = await FtpConnection.connect(server, { wireLog: wireLog(o.verbose, server.name), onNote: (n) => log.log(n) });
  try {
    const out: (ListEntry & { path: string })[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const { entries, rejected } = await conn.list(dir);
      for (const r of rejected) process.stderr.write(`fxpmirror: warning: ${displayText(dir)}: unusable name ${quoteName(r.name)} (${r.reason}), left out\n`);
      for (const e of entries) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (o.json) out.push({ ...e, path: p });
        else process.stdout.write(entryLine(e, o.recursive ? p : e.name) + '\n');
        if (o.recursive && e.type === 'dir') await walk(dir.replace(/\/$/, '') + '/' + e.name, p);
      }
    };
    await walk(u.path, '');
    if (o.json) process.stdout.write(JSON.stringify(out.map(entryJson), null, 2) + '\n');
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}

async function copyCommand(srcUrl: string, dstUrl: string, o: CommonOpts & TransferFlags): Promise<number> {
  const src = serverFromUrl(srcUrl, 'SRC', flagsOf(o, 'source'));
  const dst = serverFromUrl(dstUrl, 'DST', flagsOf(o, 'destination'));
  if (src.url.path.endsWith('/') || src.url.path === '/') throw new UsageError(`source must name a file, not a directory: ${redactUrls(srcUrl)}`);
  const srcPool = new ConnectionPool(src.server, 1, wireLog(o.verbose, `${src.server.name}`));
  const dstPool = new ConnectionPool(dst.server, 1, wireLog(o.verbose, `${dst.server.name}`));
  const log = createLogger({ format: 'text', stream: process.stderr });
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
    const name = src.url.path.split('/').pop()!;
    const [toDirectory, { mtime, size }] = await Promise.all([
      // The destination may name a directory: then the file keeps its name.
      dst.url.path.endsWith('/') || dstConn.isDirectory(dst.url.path),
      (async () => ({ mtime: await srcConn.mdtm(src.url.path).catch(() => undefined), size: await srcConn.size(src.url.path) }))(),
    ]);
    // The destination directory is the root nothing may be written outside of.
    const slash = dst.url.path.lastIndexOf('/');
    const [dstRoot, dstRel] = toDirectory ? [dst.url.path, name] : [dst.url.path.slice(0, slash) || '/', dst.url.path.slice(slash + 1)];
    const dstPath = containedPath(dstRoot, dstRel);
    const result = await engine.copy(s, d, { srcPath: src.url.path, dstRoot, dstRel, mtime, size });
    for (const e of held) log.log(e);
    const ms = Date.now() - started;
    if (o.json) {
      process.stdout.write(
        JSON.stringify({ source: redactUrls(srcUrl), destination: redactUrls(dstUrl), path: dstPath, ...result, durationMs: ms }, null, 2) + '\n',
      );
    } else {
      process.stdout.write(
        `copied ${displayText(src.url.path)} -> ${displayText(dstPath)}: ${formatBytes(result.bytes)} in ${formatDuration(ms)} via ${result.mode}` +
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

interface TransferFlags {
  fxp: 'auto' | 'force' | 'never';
  passive: 'source' | 'destination';
  passiveExplicit?: boolean;
  verify: 'size' | 'checksum' | 'none';
  continue?: boolean;
  allowClearData?: boolean;
  json?: boolean;
}

interface MirrorFlags extends CommonOpts, TransferFlags {
  symlinks: 'skip' | 'follow';
  ignoreTime?: boolean;
  ignoreSize?: boolean;
  onlyNewer?: boolean;
  onlyMissing?: boolean;
  compare: 'default' | 'checksum';
  include?: string[];
  exclude?: string[];
  excludeFrom?: string;
  minSize?: number;
  maxSize?: number;
  newerThan?: Date;
  olderThan?: Date;
  delete?: boolean;
  maxDelete?: MirrorOptions['maxDelete'];
  parallel: number;
  retries: number;
  maxErrors?: number;
  dryRun?: boolean;
  stats?: number;
  quiet?: boolean;
}

function mirrorOptionsOf(o: MirrorFlags): MirrorOptions {
  return {
    ...DEFAULT_MIRROR_OPTIONS,
    symlinks: o.symlinks,
    ignoreTime: !!o.ignoreTime,
    ignoreSize: !!o.ignoreSize,
    onlyNewer: !!o.onlyNewer,
    onlyMissing: !!o.onlyMissing,
    compare: o.compare,
    include: o.include ?? [],
    exclude: o.exclude ?? [],
    excludeFrom: o.excludeFrom,
    minSize: o.minSize,
    maxSize: o.maxSize,
    newerThan: o.newerThan,
    olderThan: o.olderThan,
    delete: !!o.delete,
    maxDelete: o.maxDelete,
    parallel: o.parallel,
    retries: o.retries,
    maxErrors: o.maxErrors,
    dryRun: !!o.dryRun,
    fxp: o.fxp,
    passive: o.passive,
    verify: o.verify,
    continue: !!o.continue,
    allowClearData: !!o.allowClearData,
  };
}

export function readExcludeFrom(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --exclude-from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Everything a mirror run prints: plan lines (dry-run), progress (TTY), logs, and the summary. */
export interface MirrorOutput {
  json: boolean;
  quiet: boolean;
  log: Logger;
  stats?: number;
}

export async function runMirrorWithOutput(
  args: Omit<Parameters<typeof mirror>[0], 'events'>,
  out: MirrorOutput,
): Promise<MirrorSummary[]> {
  const dry = args.options.dryRun;
  const progress = !out.json && !out.quiet ? Progress.create(process.stderr, out.stats) : undefined;
  const multi = args.targets.length > 1;
  try {
    return await mirror({
      ...args,
      events: {
        action: (t, a) => {
          if (dry) {
            const prefix = multi ? `[${args.targets[t].display}] ` : '';
            process.stdout.write(out.json ? JSON.stringify({ target: multi ? t : undefined, ...actionToJson(a) }) + '\n' : prefix + renderAction(a) + '\n');
          }
          if (a.kind === 'transfer') progress?.planned(a.src.size ?? 0);
        },
        started: (_t, a) => progress?.start(a.path),
        done: (_t, a, r) => {
          if (a.kind === 'transfer') {
            progress?.finish(a.path, r?.bytes ?? 0);
            out.log.log({ level: 'info', event: 'transfer', path: a.path, bytes: r?.bytes, mode: r?.mode, message: a.reason });
          } else if (a.kind === 'delete') out.log.log({ level: 'info', event: 'delete', path: a.path });
        },
        failed: (_t, a, err) => {
          if (a.kind === 'transfer') progress?.finish(a.path, 0);
          out.log.log({ level: 'error', event: 'failed', path: a.path, code: (err as { code?: string }).code, message: err.message });
        },
        warn: (m) => out.log.log({ level: 'warn', event: 'warning', message: m }),
      },
    });
  } finally {
    progress?.stop();
  }
}

export function summaryExit(summaries: MirrorSummary[]): number {
  const bad = summaries.some((s) => s.failures.length > 0 || s.unsynced.length > 0 || s.unusable.length > 0 || s.deleteLimit !== undefined);
  if (!bad) return EXIT.OK;
  // A file refused FXP under --fxp force: exit 4 says why, as it does for copy.
  return summaries.some((s) => s.failures.some((f) => f.code === 'EFXPREFUSED')) ? EXIT.FXP_REFUSED : EXIT.PARTIAL;
}

async function mirrorCommand(srcUrl: string, dstUrl: string, o: MirrorFlags): Promise<number> {
  const src = serverFromUrl(srcUrl, 'SRC', flagsOf(o, 'source'));
  const dst = serverFromUrl(dstUrl, 'DST', flagsOf(o, 'destination'));
  const options = mirrorOptionsOf(o);
  const excludeFromText = readExcludeFrom(o.excludeFrom);
  const log = createLogger({ format: 'text', stream: process.stderr, quiet: o.quiet || o.json });
  const srcPool = new ConnectionPool(src.server, options.parallel, wireLog(o.verbose, src.server.name));
  const dstPool = new ConnectionPool(dst.server, options.parallel, wireLog(o.verbose, dst.server.name));
  for (const p of [srcPool, dstPool]) {
    p.onShrink = (n, why) => log.log({ level: 'warn', event: 'pool-shrink', server: p.server.name, message: `too many connections (${why}): using ${n}` });
    p.onNote = (n) => log.log(n);
  }
  const engine = new FxpEngine({ ...options, passiveExplicit: o.passiveExplicit }, {
    warn: (m) => log.log({ level: 'warn', event: 'warning', message: m }),
    fallback: (mode, err) => log.log({ level: 'info', event: 'fallback', mode, message: `${mode} failed: ${err.message}` }),
  });
  try {
    // Connect once up front, so a wrong password or a dead host is one clear error (exit 3).
    // allSettled: closing the pools while the other connect is in flight would leave that connection open.
    const connected = await Promise.allSettled([srcPool.use(async () => undefined), dstPool.use(async () => undefined)]);
    for (const c of connected) if (c.status === 'rejected') throw c.reason;
    const [summary] = await runMirrorWithOutput(
      {
        src: { pool: srcPool, root: src.url.path, display: redactUrls(srcUrl) },
        targets: [{ pool: dstPool, root: dst.url.path, display: redactUrls(dstUrl) }],
        options,
        engine,
        excludeFromText,
      },
      { json: !!o.json, quiet: !!o.quiet, log, stats: o.stats },
    );
    if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    else if (o.quiet) process.stdout.write(renderSummaryLine(summary) + '\n');
    else process.stdout.write(renderSummary(summary) + '\n');
    return summaryExit([summary]);
  } finally {
    await Promise.all([srcPool.close(), dstPool.close()]);
  }
}

function exitHelp(): string {
  return '\nExit codes:\n' + EXIT_TABLE.map(([c, d]) => `  ${c}  ${d}`).join('\n') + '\n';
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
    .addHelpText('after', `\nURLs: ftp://user:pass@host:port/path, ftps:// (implicit TLS, port 990), ftpes:// (explicit TLS).\nA URL without a password takes it from FXPMIRROR_SRC_PASSWORD / FXPMIRROR_DST_PASSWORD / FXPMIRROR_PASSWORD, then ~/.netrc.\n${exitHelp()}`);

  listingOptions(connectionOptions(program.command('ls').description('list a remote directory (MLSD, else LIST)').argument('<url>')))
    .option('-R, --recursive', 'list subdirectories too')
    .option('--trust-pasv-address', TRUST_PASV_HELP)
    .option('--json', 'print entries as JSON')
    .action(async (url: string, o: Parameters<typeof lsCommand>[1]) => setExit(await lsCommand(url, o)));

  transferOptions(connectionOptions(program.command('copy').description('copy one file from server to server').argument('<src-url>').argument('<dst-url>', 'a file, or a directory (ending in / or existing)')))
    .action(async (a: string, b: string, o: CommonOpts & TransferFlags, cmd: Command) => setExit(await copyCommand(a, b, { ...o, passiveExplicit: cmd.getOptionValueSource('passive') === 'cli' })));

  listingOptions(transferOptions(connectionOptions(program.command('mirror').description('make the destination tree identical to the source tree').argument('<src-url>').argument('<dst-url>'))))
    .addOption(new Option('--symlinks <how>', 'what to do with symlinks on the source').choices(['skip', 'follow']).default('skip'))
    .option('--ignore-time', 'compare by size only')
    .option('--ignore-size', 'compare by time only')
    .option('--only-newer', 'transfer only files newer on the source')
    .option('--only-missing', 'transfer only files missing on the destination')
    .addOption(new Option('--compare <how>', 'how to decide that a file changed').choices(['default', 'checksum']).default('default'))
    .option('--include <glob>', 'transfer only matching files (repeatable)', collect)
    .option('--exclude <glob>', 'skip matching files and prune matching directories (repeatable)', collect)
    .option('--exclude-from <file>', 'read exclude globs from a file, one per line')
    .option('--min-size <size>', 'skip smaller files (e.g. 10K, 1.5MiB)', sizeArg)
    .option('--max-size <size>', 'skip larger files', sizeArg)
    .option('--newer-than <when>', 'only files modified after (ISO date or age like 7d)', dateArg)
    .option('--older-than <when>', 'only files modified before (ISO date or age like 7d)', dateArg)
    .option('--delete', 'delete destination entries that are not on the source')
    .option('--max-delete <n|p%>', 'stop before deleting more than N entries or P% of the destination', maxDeleteArg)
    .option('-P, --parallel <n>', 'connection pairs working at once', intArg(1), DEFAULT_MIRROR_OPTIONS.parallel)
    .option('--max-connections <n>', 'most connections per server', intArg(1))
    .option('--retries <n>', 'retries for transient failures', intArg(0), DEFAULT_MIRROR_OPTIONS.retries)
    .option('--max-errors <n>', 'stop after this many failed files', intArg(1))
    .option('-n, --dry-run', 'print the plan; change nothing')
    .option('--stats <seconds>', 'print progress every N seconds even without a TTY', secondsArg)
    .option('-q, --quiet', 'print errors and a one-line summary only')
    .action(async (a: string, b: string, o: MirrorFlags, cmd: Command) => setExit(await mirrorCommand(a, b, { ...o, passiveExplicit: cmd.getOptionValueSource('passive') === 'cli' })));

  connectionOptions(program.command('probe').description('find which FXP modes two servers accept, and why the others fail').argument('<url-a>').argument('<url-b>'))
    .addOption(new Option('--trust-pasv-address <side>', TRUST_PASV_HELP).choices(['a', 'b', 'both']))
    .option('--json', 'print the results as JSON')
    .action(async (a: string, b: string, o: CommonOpts & { json?: boolean }) => {
      const A = serverFromUrl(a, 'A', flagsOf(o, 'a'));
      const B = serverFromUrl(b, 'B', flagsOf(o, 'b'));
      const log = createLogger({ format: 'text', stream: process.stderr });
      const report = await runProbe(A.server, B.server, A.url.path, B.url.path, (n) => log.log(n));
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : renderProbe(report));
      setExit(report.results.some((r) => r.ok) ? EXIT.OK : EXIT.FXP_REFUSED);
    });

  program
    .command('run')
    .description('run the jobs of YAML job files (cron)')
    .argument('<file|dir...>')
    .option('--job <name>', 'run only this job (repeatable)', collect)
    .option('-n, --dry-run', 'print the plan; change nothing')
    .option('--json', 'print the summaries as JSON')
    .option('-q, --quiet', 'print errors and one summary line per job (short cron mail)')
    .addOption(new Option('--log-format <format>', 'log format on stderr or --log-file').choices(['text', 'json']).default('text'))
    .option('--log-file <file>', 'append the log to this file instead of stderr')
    .option('--lock-dir <dir>', 'directory for the per-job lock files')
    .option('--metrics-file <file>', 'write a Prometheus textfile (node_exporter) after the run')
    .option('--jobs <n>', 'run up to N jobs at once', intArg(1), 1)
    .option('-v, --verbose', 'log the FTP conversation (passwords masked)')
    .action(async (files: string[], o: import('./run.js').RunFlags) => setExit(await (await loadRun()).runJobsCommand(files, o)));

  program
    .command('validate')
    .description('check job files; print every error as file:line:col')
    .argument('<file|dir...>')
    .action(async (files: string[]) => setExit(await (await loadRun()).validateCommand(files)));

  return program;
}

/**
 * The job layer (YAML parser, schema, locks, metrics) is loaded only by the
 * commands that use it: ls/copy/mirror start ~30 ms sooner, which is a
 * visible share of a no-op re-sync (test/bench).
 */
function loadRun(): Promise<typeof import('./run.js')> {
  return import('./run.js');
}

function setExit(code: number): void {
  process.exitCode = code;
}

/** The entry point: one line per error, a documented exit code, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (or help/version).
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    const code = err instanceof FtpUrlError ? EXIT.USAGE : exitCodeFor(err);
    const message = redactSecrets(redactUrls((err as Error)?.message ?? String(err))).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`fxpmirror: ${code === EXIT.INTERNAL ? 'internal error: ' : ''}${message}\n`);
    if (code === EXIT.INTERNAL && process.env.FXPMIRROR_DEBUG) process.stderr.write(`${redactSecrets(redactUrls(String((err as Error).stack)))}\n`);
    process.exitCode = code;
  }
}
