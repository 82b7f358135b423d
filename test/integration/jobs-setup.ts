/**
 * What jobs-validate.test.ts and jobs-run.test.ts share: job files and cron,
 * end to end: the real CLI (`node bin/fxpmirror`) as a child process against
 * real servers of the lab (started by jobs-run.test.ts).
 *
 *   source   pyftpdlib  127.0.1.21:2121   (its log records every command)
 *   target   proftpd    127.0.1.22:2122
 *   target2  vsftpd     127.0.1.23:2123   (second fan-out target)
 *
 * pyftpdlib is the source because the source takes PASV (the default
 * `passive: source`): pyftpdlib 1.5.7 as the PORT side of back-to-back data
 * connections sometimes closes the new data socket along with the old one
 * (fd reuse, giampaolo/pyftpdlib PR #657) and a transfer stalls until the
 * data timeout. proftpd also answers a wrong password at once (pyftpdlib
 * waits 3 s), so the wrong-password server is proftpd.
 *   dead     nothing    127.0.1.38:2199   (connection refused)
 *   demo     proftpd + pyftpdlib on 127.0.1.39/.40 (the demo's own servers)
 *
 * What is checked is what a cron user relies on: exit codes from
 * src/cli/exit.ts, one-line messages, local and remote locks that really
 * exclude a second run (and are gone afterwards), JSON logs a log shipper can
 * parse, a Prometheus textfile replaced atomically, fan-out listing the source
 * once, and that no password ever reaches any output.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAB_PASSWORD, LAB_USER, type ServerKind } from '../lab/lab.js';
import { CLI_BIN, hashTree, requireServers, runNode, writeLabFile, type CliRun } from '../lab/helpers.js';

const KINDS: ServerKind[] = ['pyftpdlib', 'proftpd', 'vsftpd'];
export const UNAVAILABLE = requireServers(KINDS);

export const SRC_ADDRESS = '127.0.1.21';
export const DST_ADDRESS = '127.0.1.22';
export const DST2_ADDRESS = '127.0.1.23';
const DEAD = { host: '127.0.1.38', port: 2199 };
export const DEMO_ADDRESSES = '127.0.1.39,127.0.1.40';

/** Passwords that must never be printed: the lab's (the jobs' real one), a wrong one, one inside a bad URL. */
const WRONG_PASSWORD = 'Wrong-Secret-7731';
export const URL_PASSWORD = 'Url-Secret-5519';
export const SECRETS = [LAB_PASSWORD, WRONG_PASSWORD, URL_PASSWORD];

/** Files the slow job copies one at a time (parallel 1): ~1.5 s of FXP on loopback, so two runs overlap. */
export const SLOW_FILES = 500;

export const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-jobs-test-'));
export const LOCKS = path.join(TMP, 'locks');
export const JOB_FILE = path.join(TMP, 'jobs.yaml');

/** Every byte any run printed or wrote (stdout, stderr, log files, JSON, metrics): scanned for passwords at the end. */
export const produced: { what: string; text: string }[] = [];

function record(what: string, text: string): void {
  produced.push({ what, text });
}

export function readRecorded(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  record(file, text);
  return text;
}

/**
 * The environment of every run, as changes to process.env: no ~/.netrc, no
 * inherited job variables or runtime directory (undefined removes a variable).
 */
function jobEnv(extra: Record<string, string | undefined>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { NETRC: path.join(TMP, 'no-netrc'), JT_PW: LAB_PASSWORD, JT_WRONG_PW: WRONG_PASSWORD };
  for (const k of ['XDG_RUNTIME_DIR', 'FXPMIRROR_PASSWORD', 'FXPMIRROR_SRC_PASSWORD', 'FXPMIRROR_DST_PASSWORD', 'FXPMIRROR_DEBUG']) env[k] = undefined;
  return { ...env, ...extra };
}

/** A node script with jobEnv(env); everything it printed is recorded for the password scan. */
export async function spawnNode(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const r = await runNode(args, { env: jobEnv(env), timeoutMs });
  const what = `${path.basename(args[0])} ${args.slice(1).join(' ')}`;
  record(`stdout of ${what}`, r.stdout);
  record(`stderr of ${what}`, r.stderr);
  return r;
}

export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return spawnNode([CLI_BIN, ...args], env);
}

/** `run` of the test job file, private lock directory unless the args give one. */
export function runJobs(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const lock = args.includes('--lock-dir') ? [] : ['--lock-dir', LOCKS];
  return cli(['run', JOB_FILE, ...lock, ...args], env);
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

// ---------------------------------------------------------------------------
// Trees on the servers' disks

/** Write files under `root` (relative path -> content), owned by the lab user (new directories too). */
export function seed(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, data] of Object.entries(files)) writeLabFile(path.join(root, rel), data);
}

export function dirsOf(root: string, ftpRoot: string): string[] {
  const out = [ftpRoot];
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      out.push(`${ftpRoot}/${rel ? `${rel}/` : ''}${e.name}`);
      walk(path.join(dir, e.name), rel ? `${rel}/${e.name}` : e.name);
    }
  };
  walk(root, '');
  return out.sort();
}

export function assertSameTree(a: string, b: string): number {
  const ha = hashTree(a);
  const hb = hashTree(b);
  assert.ok(ha.size > 0, `${a} is empty`);
  assert.deepEqual([...hb.entries()].sort(), [...ha.entries()].sort(), `${b} differs from ${a}`);
  return ha.size;
}

/** The sample tree most jobs copy: nested directories, text, binary, a UTF-8 name. */
export const TREE: Record<string, Buffer | string> = {
  'README.txt': 'fxpmirror job test tree\n',
  'docs/guide.txt': 'line\n'.repeat(500),
  'docs/deep/notes.txt': 'deep\n',
  'bin/blob.bin': randomBytes(300 * 1024),
  'bin/small.bin': randomBytes(1000),
  'i18n/Grüße 日本.txt': 'utf-8 name\n',
};
export const TREE_FILES = Object.keys(TREE).length;
export const TREE_BYTES = Object.values(TREE).reduce((n, d) => n + Buffer.byteLength(d), 0);

// ---------------------------------------------------------------------------
// The job file

export function jobFile(): string {
  const server = (name: string, host: string, port: number, pwVar = 'JT_PW', extra = '') =>
    `  ${name}:\n    url: ftp://${host}:${port}/\n    user: ${LAB_USER}\n    password: \${${pwVar}}\n${extra}`;
  const job = (name: string, from: string, to: string | string[], extra = '') =>
    `  - name: ${name}\n    from: ${from}\n    to: ${Array.isArray(to) ? `[${to.join(', ')}]` : to}\n${extra}`;
  return [
    '# yaml-language-server: $schema=../fxpmirror.schema.json',
    'version: 1',
    'servers:',
    server('src', SRC_ADDRESS, 2121),
    server('dst', DST_ADDRESS, 2122),
    server('dst2', DST2_ADDRESS, 2123),
    server('dead', DEAD.host, DEAD.port, 'JT_PW', '    timeouts: { connect: 5s }\n'),
    server('wrongpw', DST_ADDRESS, 2122, 'JT_WRONG_PW'),
    'defaults:',
    '  retries: 0',
    'jobs:',
    job('jt-slow', 'src:/slow', 'dst:/lock-local', '    parallel: 1\n'),
    job('jt-remote', 'src:/slow', 'dst:/lock-remote', '    parallel: 1\n    remoteLock: true\n'),
    job('jt-logs', 'src:/tree', 'dst:/logs'),
    job('jt-logfile', 'src:/tree', 'dst:/logfile'),
    job('jt-quiet', 'src:/tree', 'dst:/quiet'),
    job('jt-fan', 'src:/tree', ['dst:/fan', 'dst2:/fan']),
    job('jt-metrics', 'src:/tree', 'dst:/metrics'),
    job('jt-partial', 'src:/partial', 'dst:/partial'),
    job('jt-dead', 'dead:/tree', 'dst:/dead'),
    job('jt-wrongpw', 'wrongpw:/tree', 'dst:/wrongpw'),
  ].join('\n');
}

