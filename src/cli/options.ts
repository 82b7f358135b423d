import { readFileSync } from 'node:fs';
import { Command, Option, InvalidArgumentError } from 'commander';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../tree/options.js';
import { CHOICES } from '../job/schema.js';
import { parseDateOrAge, parseDuration, parseMaxDelete, parseSize, type Parsed } from '../job/values.js';
import { caFileProblem, isSha256Fingerprint } from '../ftp/tls-policy.js';
import type { ServerFlags } from './servers.js';
import { LOG_LEVELS, redactSecrets, type LogLevel } from './log.js';
import { UsageError } from './exit.js';

/**
 * The options the commands share, declared once (commander `Option`s with
 * their choices and defaults), and the typed values they parse into. The
 * commands (ls.ts, copy.ts, mirror.ts, probe.ts, run.ts) take these values;
 * index.ts only wires them to commander.
 */

/**
 * A commander argument parser from one of the value parsers the job loader
 * uses too (src/job/values.ts): "10K", "2m", "7d", "10%" mean the same in a
 * job file and on the command line.
 */
function valueArg<T>(parse: (v: string) => Parsed<T>): (v: string) => T {
  return (v) => {
    const r = parse(v);
    if (!r.ok) throw new InvalidArgumentError(r.message);
    return r.value;
  };
}

/** Milliseconds: seconds ("30"), or "500ms", "10s", "2m"...; more than 0 and at most what a timer can hold. */
const durationArg = valueArg((v) => {
  const r = parseDuration(v);
  return r.ok && r.value === 0 ? { ok: false, message: 'must be greater than 0' } : r;
});
const sizeArg = valueArg(parseSize);
const dateArg = valueArg((v) => parseDateOrAge(v, new Date()));
const maxDeleteArg = valueArg(parseMaxDelete);

function fingerprintArg(v: string, prev: string[] = []): string[] {
  if (!isSha256Fingerprint(v)) throw new InvalidArgumentError('expected a SHA-256 fingerprint: 64 hex digits, with or without colons');
  return [...prev, v];
}

function caArg(v: string): string {
  const problem = caFileProblem(v);
  if (problem) throw new InvalidArgumentError(`cannot use this CA file: ${problem}`);
  return v;
}

export function intArg(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return n;
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The option is gone; its value is never read: a usage error (exit 2) that names what replaced it, while the arguments are parsed. */
function removedFixPasvAddress(): never {
  throw new UsageError(
    "--fix-pasv-address was removed: a PASV address other than the server's own is never used now (only its port is); --trust-pasv-address opts in to using it",
  );
}

/** Help for --trust-pasv-address: ls takes it as a flag, copy/mirror name a side (source, destination, both), probe a server (a, b, both). */
export const TRUST_PASV_HELP = "use the address in a server's PASV reply even when it is not the server's own (a separate data interface; logged as a warning)";

/** Options every command that connects shares. */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--ca <file>', 'trust the CA certificates in this PEM file (TLS)', caArg)
    .option('--fingerprint <sha256>', 'trust the server certificate with this SHA-256 fingerprint instead of a CA; name and dates are still checked (repeatable)', fingerprintArg)
    .option('--insecure', 'do not verify TLS certificates (explicit opt-out); with --fingerprint, only the pin is checked')
    .option('--timeout <duration>', 'command and data timeout (seconds, or 500ms, 2m...)', durationArg)
    .option('--connect-timeout <duration>', 'connect and greeting timeout (seconds, or 500ms, 2m...)', durationArg)
    .addOption(new Option('--fix-pasv-address <when>').hideHelp().argParser(removedFixPasvAddress))
    .option('--active', "open fxpmirror's own data connections (listings, relay) in active mode (PORT)")
    .option('-v, --verbose', 'log the FTP conversation to stderr (passwords masked)');
}

/** Bounds on every directory listing read (ls, mirror): past one, that directory counts as not listed. */
export function listingOptions(cmd: Command): Command {
  return cmd
    .option('--max-listing-entries <n>', 'most lines in one directory listing (default 1000000)', intArg(1))
    .option('--max-listing-line <size>', 'longest line in a listing (default 8K)', (v: string) => {
      const n = sizeArg(v);
      if (n < 1) throw new InvalidArgumentError('must be at least 1 byte');
      return n;
    });
}

export function transferOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--fxp <policy>', 'auto: fall back to relaying; force: FXP or fail; never: always relay').choices(CHOICES.fxp).default(DEFAULT_MIRROR_OPTIONS.fxp))
    .addOption(new Option('--passive <side>', 'which server gets PASV').choices(CHOICES.passive).default(DEFAULT_MIRROR_OPTIONS.passive))
    .addOption(new Option('--verify <how>', 'check each transferred file').choices(CHOICES.verify).default(DEFAULT_MIRROR_OPTIONS.verify))
    .option('--continue', 'resume partial transfers (keeps .<name>.fxpmirror-part on failure)')
    .option('--allow-clear-data', 'under TLS, allow FXP with unprotected data (PROT C) when protected FXP fails')
    .addOption(new Option('--trust-pasv-address <side>', TRUST_PASV_HELP).choices([...CHOICES.passive, 'both']))
    .option('--json', 'print the result as JSON');
}

/** What `mirror` compares, filters and does: the flags behind MirrorOptions. */
export function mirrorOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--symlinks <how>', 'what to do with symlinks on the source').choices(CHOICES.symlinks).default(DEFAULT_MIRROR_OPTIONS.symlinks))
    .option('--ignore-time', 'compare by size only')
    .option('--ignore-size', 'compare by time only')
    .option('--only-newer', 'transfer only files newer on the source')
    .option('--only-missing', 'transfer only files missing on the destination')
    .addOption(new Option('--compare <how>', 'how to decide that a file changed').choices(CHOICES.compare).default(DEFAULT_MIRROR_OPTIONS.compare))
    .option('--include <glob>', 'transfer only matching files (repeatable)', collect)
    .option('--exclude <glob>', 'skip matching files and prune matching directories (repeatable)', collect)
    .option('--exclude-from <file>', 'read exclude globs from a file, one per line')
    .option('--min-size <size>', 'skip smaller files (e.g. 10K, 1.5MiB)', sizeArg)
    .option('--max-size <size>', 'skip larger files', sizeArg)
    .option('--newer-than <when>', 'only files modified after (ISO date or age like 7d)', dateArg)
    .option('--older-than <when>', 'only files modified before (ISO date or age like 7d)', dateArg)
    .option('--delete', 'delete destination entries that are not on the source')
    .option('--max-delete <n|p%>', 'stop before deleting more than N entries or P% of the destination', maxDeleteArg)
    .option('-P, --parallel <n>', 'connection pairs working at once (default: 4, more on distant servers)', intArg(1), DEFAULT_MIRROR_OPTIONS.parallel)
    .option('--max-connections <n>', 'most connections per server', intArg(1))
    .option('--retries <n>', 'retries for transient failures', intArg(0), DEFAULT_MIRROR_OPTIONS.retries)
    .option('--max-errors <n>', 'stop after this many failed files', intArg(1))
    .option('-n, --dry-run', 'print the plan; change nothing');
}

/**
 * How `mirror` and `run` report: the cron contract (README, "Cron and
 * systemd"). -q: nothing on success, one line per failed target on stderr;
 * the log file always gets the whole record at --log-level.
 */
export function outputOptions(cmd: Command): Command {
  return cmd
    .option('-q, --quiet', 'print nothing on success; on failure one line per failed target, on stderr (cron)')
    .addOption(new Option('--log-format <format>', 'log format on stderr or in --log-file').choices(['text', 'json']).default('text'))
    .option('--log-file <file>', 'append the full log to this file (whatever -q says) instead of stderr')
    .addOption(new Option('--log-level <level>', 'lowest level logged (default info; debug with -v)').choices([...LOG_LEVELS]))
    .option('--stats <duration>', 'log the progress figures this often (seconds, or 2m...; with or without a terminal)', durationArg)
    .option('--lock-dir <dir>', 'directory of the local lock files (default: /run/lock/fxpmirror for root, else ~/.local/state/fxpmirror/locks)');
}

export interface CommonOpts {
  ca?: string;
  fingerprint?: string[];
  insecure?: boolean;
  /** Milliseconds (--timeout). */
  timeout?: number;
  /** Milliseconds (--connect-timeout). */
  connectTimeout?: number;
  /** ls: a flag; copy/mirror: source|destination|both; probe: a|b|both. */
  trustPasvAddress?: boolean | string;
  verbose?: boolean;
  maxConnections?: number;
  active?: boolean;
  maxListingEntries?: number;
  maxListingLine?: number;
}

export interface TransferFlags {
  fxp: MirrorOptions['fxp'];
  passive: MirrorOptions['passive'];
  passiveExplicit?: boolean;
  /** -P was given: the number of transfers at once is fixed (else it adapts, src/tree/pairs.ts). */
  parallelExplicit?: boolean;
  verify: MirrorOptions['verify'];
  continue?: boolean;
  allowClearData?: boolean;
  json?: boolean;
}

export interface OutputFlags {
  quiet?: boolean;
  json?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
  logFormat: 'text' | 'json';
  logFile?: string;
  logLevel?: LogLevel;
  /** Milliseconds between --stats lines. */
  stats?: number;
  lockDir?: string;
}

export interface MirrorFlags extends CommonOpts, TransferFlags, OutputFlags {
  symlinks: MirrorOptions['symlinks'];
  ignoreTime?: boolean;
  ignoreSize?: boolean;
  onlyNewer?: boolean;
  onlyMissing?: boolean;
  compare: MirrorOptions['compare'];
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
}

/** The flags for one server; `side` is its name in --trust-pasv-address (source, destination, a, b; ls has one server). */
export function flagsOf(o: CommonOpts, side?: string): ServerFlags {
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

export function mirrorOptionsOf(o: MirrorFlags): MirrorOptions {
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

/**
 * -v for ls/copy/mirror: the FTP conversation on stderr ("host:port > CMD"),
 * passwords masked; `write` puts it above the progress display (mirror).
 */
export function wireLog(verbose: boolean | undefined, label: string, write: (text: string) => void = (t) => void process.stderr.write(t)) {
  if (!verbose) return undefined;
  return (dir: '>' | '<', line: string) => write(redactSecrets(`${label} ${dir} ${line}`) + '\n');
}

/** The text of --exclude-from (or a job's excludeFrom): one glob per line. */
export function readExcludeFrom(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --exclude-from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
