/**
 * Every exit code through `fxpmirror run`, with one job and with several
 * (the most urgent code wins: 7, 2, 3, 4, 6, 5, 1, then 0), against real
 * servers of the lab; and servers that send garbage instead of a greeting.
 *
 *   src     pyftpdlib            127.0.1.24:2121
 *   dst     proftpd              127.0.1.25:2122
 *   strict  vsftpd, strict       127.0.1.26:2123  (refuses FXP both ways: exit 4 under fxp: force)
 *   dead    nothing              127.0.1.27:2199  (connection refused: exit 3)
 *   fake    scripted greetings   127.0.1.36:<ephemeral>  (garbage, 999, 000: exit 3)
 *
 * Exit 7 needs a bug: test/fixtures/inject-bug.ts, loaded with --import,
 * makes the pool of the server named "buggy" throw a TypeError.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { lockFileName, targetLockKey } from '../../src/job/lock.js';
import { LAB_PASSWORD, LAB_USER, REPO_ROOT, startServer, stopAll, type LabServer } from '../lab/lab.js';
import { CLI_BIN, hashTree, lines, requireServers, runNode, writeLabFile, type CliRun } from '../lab/helpers.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd', 'vsftpd']);
const FAKE_ADDRESS = '127.0.1.36';
const INJECT = path.join(REPO_ROOT, 'dist/test/fixtures/inject-bug.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-exits-'));
const LOCKS = path.join(TMP, 'locks');
const JOB_FILE = path.join(TMP, 'exits.yaml');

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  // FXPMIRROR_NO_BUNDLE: the bug patches dist/src's ConnectionPool, which the bundle (bin/fxpmirror's default) does not use.
  return runNode(['--import', INJECT, CLI_BIN, ...args], {
    env: { NETRC: path.join(TMP, 'no-netrc'), EX_PW: LAB_PASSWORD, XDG_RUNTIME_DIR: undefined, FXPMIRROR_PASSWORD: undefined, FXPMIRROR_NO_BUNDLE: '1', ...env },
  });
}

/** A listener that answers every connection with `greeting` and counts them; port 0 on our own address. */
async function scriptedGreeting(greeting: string): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    s.on('error', () => undefined);
    s.end(greeting);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, FAKE_ADDRESS, resolve));
  return { port: (server.address() as net.AddressInfo).port, connections: () => count, close: () => server.close() };
}

/** What each job of the job file ends with, alone. */
const JOBS: Record<string, number> = {
  'ex-ok': EXIT.OK,
  'ex-partial': EXIT.PARTIAL,
  'ex-locked': EXIT.LOCKED,
  'ex-remote': EXIT.REMOTE,
  'ex-fxp': EXIT.FXP_REFUSED,
  'ex-connect': EXIT.CONNECT,
  'ex-usage': EXIT.USAGE,
  'ex-internal': EXIT.INTERNAL,
};
/** The lead's order: the first code present among the jobs is the run's. */
const ORDER = [EXIT.INTERNAL, EXIT.USAGE, EXIT.CONNECT, EXIT.FXP_REFUSED, EXIT.REMOTE, EXIT.LOCKED, EXIT.PARTIAL, EXIT.OK];

function jobFile(): string {
  const server = (name: string, host: string, port: number, extra = '') =>
    `  ${name}:\n    url: ftp://${host}:${port}/\n    user: ${LAB_USER}\n    password: \${EX_PW}\n${extra}`;
  const job = (name: string, from: string, to: string, extra = '') => `  - name: ${name}\n    from: ${from}\n    to: ${to}\n${extra}`;
  return [
    'version: 1',
    'servers:',
    server('src', '127.0.1.24', 2121),
    server('dst', '127.0.1.25', 2122),
    server('strict', '127.0.1.26', 2123),
    server('dead', '127.0.1.27', 2199, '    timeouts: { connect: 5s }\n'),
    server('buggy', '127.0.1.25', 2122),
    'defaults:',
    '  retries: 0',
    'jobs:',
    job('ex-ok', 'src:/tree', 'dst:/ok'),
    job('ex-partial', 'src:/partial', 'dst:/partial'),
    job('ex-locked', 'src:/tree', 'dst:/locked'),
    job('ex-remote', 'src:/tree', 'dst:/rootowned/sub', '    remoteLock: true\n'),
    job('ex-fxp', 'strict:/one', 'dst:/fxp', '    fxp: force\n'),
    job('ex-connect', 'dead:/tree', 'dst:/connect'),
    job('ex-usage', 'src:/tree', 'dst:/usage', `    excludeFrom: ${path.join(TMP, 'missing-excludes.txt')}\n`),
    job('ex-internal', 'buggy:/tree', 'dst:/internal'),
  ].join('\n');
}

describe('fxpmirror run: every exit code, one job and several', { skip: UNAVAILABLE ?? false }, () => {
  let src: LabServer;
  let dst: LabServer;
  let strict: LabServer;

  before(async () => {
    [src, dst, strict] = await Promise.all([
      startServer('pyftpdlib', { profile: 'fxp', address: '127.0.1.24', port: 2121 }),
      startServer('proftpd', { profile: 'fxp', address: '127.0.1.25', port: 2122 }),
      startServer('vsftpd', { profile: 'strict', address: '127.0.1.26', port: 2123 }),
    ]);
    for (const [rel, data] of Object.entries({ 'a.txt': 'a\n', 'sub/b.bin': randomBytes(5000) })) writeLabFile(path.join(src.root, 'tree', rel), data);
    writeLabFile(path.join(src.root, 'partial', 'ok.txt'), 'fine\n');
    writeLabFile(path.join(src.root, 'partial', 'closed', 'hidden.txt'), 'no\n');
    fs.chmodSync(path.join(src.root, 'partial', 'closed'), 0o000);
    writeLabFile(path.join(strict.root, 'one', 'a.bin'), randomBytes(3000));
    // Owned by root: the lab user cannot create the remote lock's target under it.
    fs.mkdirSync(path.join(dst.root, 'rootowned'), { mode: 0o755 });
    // A live pid holds ex-locked's lock: this test process.
    fs.mkdirSync(LOCKS, { recursive: true });
    // Locks are keyed by the target they protect (README: Locks).
    fs.writeFileSync(path.join(LOCKS, lockFileName(targetLockKey('127.0.1.25', 2122, '/locked'))), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), host: os.hostname() }) + '\n');
    fs.writeFileSync(JOB_FILE, jobFile());
  });

  after(async () => {
    fs.chmodSync(path.join(src.root, 'partial', 'closed'), 0o755);
    await stopAll();
  });

  for (const [name, code] of Object.entries(JOBS)) {
    test(`one job: ${name} exits ${code}`, async () => {
      const r = await cli(['run', JOB_FILE, '--lock-dir', LOCKS, '--job', name, '-q']);
      assert.equal(r.code, code, show(r));
      // The cron contract (README): -q prints nothing on success, and one
      // line on stderr per failed job and target, naming both.
      assert.equal(r.stdout, '', show(r));
      if (code === EXIT.OK) {
        assert.equal(r.stderr, '', show(r));
      } else {
        assert.equal(lines(r.stderr).length, 1, show(r));
        assert.match(r.stderr, new RegExp(`^${name}: dst:/`));
      }
    });
  }

  test('what the jobs did on disk: copied, partly copied, or nothing at all', () => {
    assert.deepEqual([...hashTree(path.join(dst.root, 'ok')).entries()].sort(), [...hashTree(path.join(src.root, 'tree')).entries()].sort());
    assert.equal(fs.readFileSync(path.join(dst.root, 'partial', 'ok.txt'), 'utf8'), 'fine\n');
    assert.equal(fs.existsSync(path.join(dst.root, 'partial', 'closed', 'hidden.txt')), false);
    assert.deepEqual(fs.readdirSync(path.join(dst.root, 'rootowned')), []);
    // FXP refused both ways: no file, no temporary file.
    assert.deepEqual(fs.existsSync(path.join(dst.root, 'fxp')) ? fs.readdirSync(path.join(dst.root, 'fxp')) : [], []);
    for (const never of ['locked', 'usage', 'internal', 'connect']) assert.equal(fs.existsSync(path.join(dst.root, never)), false, never);
  });

  // Several jobs at once: each step drops the most urgent job left, so every code must win once.
  const names = Object.keys(JOBS).reverse(); // most urgent first
  for (let i = 0; i < names.length; i++) {
    const chosen = names.slice(i);
    const expected = ORDER.find((c) => chosen.some((n) => JOBS[n] === c))!;
    test(`several jobs (${chosen.length}): ${expected} wins over ${[...new Set(chosen.map((n) => JOBS[n]))].filter((c) => c !== expected).join(', ') || 'nothing'}`, async () => {
      const r = await cli(['run', JOB_FILE, '--lock-dir', LOCKS, '--jobs', '4', '-q', '--json', ...chosen.flatMap((n) => ['--job', n])]);
      assert.equal(r.code, expected, show(r));
      const out = JSON.parse(r.stdout) as { job: string; exitCode: number }[];
      assert.deepEqual(Object.fromEntries(out.map((o) => [o.job, o.exitCode])), Object.fromEntries(chosen.map((n) => [n, JOBS[n]])));
    });
  }
});

describe('a server that does not speak FTP: exit 3, one line, for ls and for run', () => {
  const GREETINGS: [string, string, RegExp][] = [
    ['garbage', 'SSH-2.0-OpenSSH_9.6\r\n', /not an FTP reply: "SSH-2\.0-OpenSSH_9\.6"/],
    ['code 999', '999 ready\r\n', /reply code outside 100-599: "999 ready"/],
    ['code 000', '000 ready\r\n', /reply code outside 100-599: "000 ready"/],
    ['code 600', '600 ready\r\n', /reply code outside 100-599/],
    ['a group closed by 999', '220-welcome\r\n999 end\r\n', /reply code outside 100-599: "999 end"/],
  ];
  const fakes: Awaited<ReturnType<typeof scriptedGreeting>>[] = [];
  before(async () => {
    for (const [, greeting] of GREETINGS) fakes.push(await scriptedGreeting(greeting));
  });
  after(() => fakes.forEach((f) => f.close()));

  test('ls: exit 3 (not 6), one line naming the server and what it sent', async () => {
    for (const [i, [what, , message]] of GREETINGS.entries()) {
      const r = await cli(['ls', `ftp://${FAKE_ADDRESS}:${fakes[i].port}/`]);
      assert.equal(r.code, EXIT.CONNECT, `${what}: ${show(r)}`);
      assert.equal(lines(r.stderr).length, 1, show(r));
      assert.match(r.stderr, new RegExp(`^fxpmirror: ${FAKE_ADDRESS}:${fakes[i].port}: `));
      assert.match(r.stderr, message, what);
    }
  });

  test('run: one job per greeting, alone and all together: exit 3', async () => {
    const file = path.join(TMP, 'garbage.yaml');
    const servers = fakes.map((f, i) => `  g${i}:\n    url: ftp://${FAKE_ADDRESS}:${f.port}/\n    user: u\n    password: \${EX_PW}\n`).join('');
    const jobs = fakes.map((_, i) => `  - name: garbage-${i}\n    from: g${i}:/a\n    to: g${(i + 1) % fakes.length}:/b\n`).join('');
    fs.writeFileSync(file, `version: 1\nservers:\n${servers}jobs:\n${jobs}`);
    const one = await cli(['run', file, '--lock-dir', LOCKS, '--job', 'garbage-2']);
    assert.equal(one.code, EXIT.CONNECT, show(one));
    assert.match(one.stderr, /error \[garbage-2\] failed .*reply code outside 100-599/);
    const all = await cli(['run', file, '--lock-dir', LOCKS, '--jobs', '5']);
    assert.equal(all.code, EXIT.CONNECT, show(all));
    assert.equal(lines(all.stderr).length, fakes.length, show(all));
  });
});

after(() => {
  fs.rmSync(TMP, { recursive: true, force: true });
});
