/**
 * `npm run demo`: fxpmirror end to end against two real FTP servers.
 *
 *   1. starts pyftpdlib (the source) and proftpd (the mirror) from the test
 *      lab, in the 'fxp' profile (both accept server-to-server transfers);
 *   2. seeds a small tree on the source: directories, text and binary files,
 *      a UTF-8 name;
 *   3. runs jobs/demo.yaml twice through the real CLI: the first run copies
 *      everything by FXP, the second finds nothing to do;
 *   4. checks that both trees are byte-for-byte identical (sha256) and stops
 *      the servers, also when something failed.
 *
 * The lab needs root (servers bind loopback aliases, chroot and switch to the
 * lab user) and the packages test/lab/install.sh installs. As root, a missing
 * piece is installed first; otherwise the demo says what to run and exits 1.
 *
 * FXPMIRROR_DEMO_ADDRESSES=a,b overrides the two loopback addresses (the
 * integration test uses it so it cannot collide with other lab users).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { LAB_PASSWORD, LAB_USER, REPO_ROOT, labAvailable, runningServers, startServer, stopAll, type LabServer, type ServerKind } from './lab.js';
import { hashTree, runCli, writeLabFile, type CliRun } from './helpers.js';

// pyftpdlib is the source because the source takes PASV (the default
// --passive source): pyftpdlib 1.5.7 as the PORT side of back-to-back data
// connections sometimes closes the new data socket along with the old one (an
// fd reuse bug, giampaolo/pyftpdlib PR #657) and the transfer stalls.
const SOURCE_KIND: ServerKind = 'pyftpdlib';
const MIRROR_KIND: ServerKind = 'proftpd';
const [SOURCE_ADDRESS, MIRROR_ADDRESS] = (process.env.FXPMIRROR_DEMO_ADDRESSES ?? '127.0.0.21,127.0.0.22').split(',');
const SOURCE_PORT = 2121;
const MIRROR_PORT = 2122;
const JOB_FILE = 'jobs/demo.yaml';
/** The job's from/to paths (jobs/demo.yaml). */
const SOURCE_DIR = 'pub';
const MIRROR_DIR = 'mirror';

const say = (line = '') => process.stdout.write(line + '\n');
const step = (n: number, text: string) => say(`\n=== ${n}. ${text}`);

/** One line per missing piece; empty when both servers can run here. */
function missingPieces(): string[] {
  return [SOURCE_KIND, MIRROR_KIND].map(labAvailable).filter((r): r is string => r !== null);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Make sure the lab can run; install it when we may. false = cannot (already explained). */
function ensureLab(): boolean {
  let missing = missingPieces();
  if (missing.length === 0) return true;
  if (process.platform !== 'linux') {
    say(`The demo runs real FTP servers and needs Linux: ${missing[0]}`);
    return false;
  }
  if (!isRoot()) {
    say(`The demo starts two real FTP servers (${SOURCE_KIND} and ${MIRROR_KIND}) on loopback addresses.`);
    say('That needs root: the servers bind 127.0.0.x aliases, chroot, and switch to a test user.');
    say('');
    say('Run, as root:');
    say('  sudo bash test/lab/install.sh   # once: installs vsftpd, pyftpdlib, lftp, nftables; unpacks proftpd');
    say('                                  # and pure-ftpd into .lab/; creates the login user ' + LAB_USER);
    say('  sudo npm run demo');
    return false;
  }
  say(`Test lab incomplete (${missing.join('; ')}): running bash test/lab/install.sh`);
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'test/lab/install.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  missing = missingPieces();
  if (r.status !== 0 || missing.length) {
    say(`test/lab/install.sh ${r.status !== 0 ? `failed (exit ${r.status ?? r.signal})` : 'finished'}; still missing: ${missing.join('; ') || 'nothing'}`);
    return false;
  }
  return true;
}

/** The sample tree: relative path -> content. */
function sampleTree(): Map<string, Buffer> {
  const text = (s: string) => Buffer.from(s, 'utf8');
  return new Map<string, Buffer>([
    ['README.txt', text('Sample release area for the fxpmirror demo.\nEverything here is copied server to server.\n')],
    ['docs/guide.txt', text('Install: unpack the archive.\nRun: ./app --help\n'.repeat(40))],
    ['docs/changelog.txt', text('1.1  faster\n1.0  first release\n')],
    ['images/logo.bin', randomBytes(200 * 1024)],
    ['releases/1.0/app-1.0.tar.gz', randomBytes(1024 * 1024)],
    ['releases/1.1/app-1.1.tar.gz', randomBytes(1536 * 1024 + 7)],
    ['releases/1.1/SHA256SUMS', text('see the files next to this one\n')],
    // A UTF-8 name (RFC 2640): accents, a non-Latin script and a space.
    ['i18n/café – 日本語 notes.txt', text('Grüße, こんにちは\n')],
  ]);
}

function seed(root: string, tree: Map<string, Buffer>): void {
  // Several days old, so the mirror's preserved modification times are visible in a listing.
  const when = new Date(Date.now() - 3 * 86400_000);
  // The server runs as the lab user and must be able to read (and the mirror to modify) everything.
  for (const [rel, data] of tree) writeLabFile(path.join(root, rel), data, when);
}

/** Run the real CLI (no time limit), echoing its output as it comes (indented) and keeping a copy to check. */
function runDemoCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const echo = (chunk: string) => process.stdout.write(chunk.replace(/^(?=.)/gm, '  | '));
  return runCli(args, { env, timeoutMs: 0, onOutput: echo });
}

/** "transferred:  3 files, 1.0 MiB" -> 3 (the summary's line; see src/cli/render.ts). */
function transferredCount(stdout: string): number | undefined {
  const m = /^transferred:\s+(\d+) files?\b/m.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

async function demo(): Promise<number> {
  say('fxpmirror demo: mirror one FTP server to another by FXP (server to server)');
  if (!ensureLab()) return 1;

  step(1, `starting ${SOURCE_KIND} (source) on ${SOURCE_ADDRESS}:${SOURCE_PORT} and ${MIRROR_KIND} (mirror) on ${MIRROR_ADDRESS}:${MIRROR_PORT}`);
  const [source, mirror]: LabServer[] = await Promise.all([
    startServer(SOURCE_KIND, { profile: 'fxp', address: SOURCE_ADDRESS, port: SOURCE_PORT }),
    startServer(MIRROR_KIND, { profile: 'fxp', address: MIRROR_ADDRESS, port: MIRROR_PORT }),
  ]);
  say(`source: ftp://${source.host}:${source.port}/  (files on disk in ${source.root})`);
  say(`mirror: ftp://${mirror.host}:${mirror.port}/  (files on disk in ${mirror.root})`);

  step(2, `seeding /${SOURCE_DIR} on the source`);
  const tree = sampleTree();
  seed(path.join(source.root, SOURCE_DIR), tree);
  let total = 0;
  for (const [rel, data] of tree) {
    say(`  ${String(data.length).padStart(9)}  /${SOURCE_DIR}/${rel}`);
    total += data.length;
  }
  say(`  ${tree.size} files, ${total} bytes`);

  // What jobs/demo.yaml reads through ${...}; the password never appears on a command line.
  const env: Record<string, string> = {
    DEMO_SRC_URL: `ftp://${source.host}:${source.port}/`,
    DEMO_DST_URL: `ftp://${mirror.host}:${mirror.port}/`,
    DEMO_USER: LAB_USER,
    FXPMIRROR_DEMO_PASSWORD: LAB_PASSWORD,
  };

  step(3, `first run: fxpmirror run ${JOB_FILE}`);
  const first = await runDemoCli(['run', JOB_FILE], env);
  const problems: string[] = [];
  if (first.code !== 0) problems.push(`first run exited with ${first.code ?? first.signal}`);
  const firstCount = transferredCount(first.stdout);
  if (firstCount !== tree.size) problems.push(`first run transferred ${firstCount ?? '?'} files, expected ${tree.size}`);
  if (!/^modes:\s+.*\bfxp\b/m.test(first.stdout)) problems.push('first run did not report mode fxp');

  step(4, `second run: fxpmirror run ${JOB_FILE} (nothing changed, so nothing to do)`);
  const second = await runDemoCli(['run', JOB_FILE], env);
  if (second.code !== 0) problems.push(`second run exited with ${second.code ?? second.signal}`);
  const secondCount = transferredCount(second.stdout);
  if (secondCount !== 0) problems.push(`second run transferred ${secondCount ?? '?'} files, expected 0`);

  step(5, 'comparing both trees on disk (sha256)');
  const a = hashTree(path.join(source.root, SOURCE_DIR), { allowMissing: true });
  const b = hashTree(path.join(mirror.root, MIRROR_DIR), { allowMissing: true });
  const differ = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  if (differ.length) problems.push(`trees differ: ${differ.join(', ')}`);
  else say(`  identical: ${a.size} files, same sha256 on both servers`);

  say('');
  if (problems.length) {
    for (const p of problems) say(`DEMO FAILED: ${p}`);
    return 1;
  }
  say(`summary: first run copied ${firstCount} files by FXP; the second run transferred ${secondCount}; both trees are identical.`);
  return 0;
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void stopAll().finally(() => process.exit(130));
  });
}

let code: number;
try {
  code = await demo();
} catch (err) {
  say(`DEMO FAILED: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  if (runningServers().length) {
    step(6, 'stopping the servers');
    await stopAll();
  }
}
process.exitCode = code;
