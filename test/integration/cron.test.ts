/**
 * The cron contract, end to end: the README's own cron line, run as written
 * by /bin/sh with cron's environment (no terminal, no XDG_RUNTIME_DIR, a
 * minimal PATH), against real servers. On success nothing at all is printed;
 * on failure one line per failed job and target, on stderr; the log file gets
 * the whole record whatever -q says. Also: a missing source directory (exit 6,
 * target untouched), excluded entries counted, a dry run's header before its
 * plan, and a fall-back to relay logged as a warning.
 *
 *   src      pyftpdlib  127.0.3.21:2321
 *   dst      proftpd    127.0.3.22:2322
 *   dead     nothing    127.0.3.38:2399   (connection refused)
 *   strictA  pyftpdlib  127.0.3.25:2325   strict: refuses FXP, so files are relayed
 *   strictB  proftpd    127.0.3.26:2326   strict
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { defaultLockDir, lockFileName, targetLockKey } from '../../src/job/lock.js';
import { LAB_PASSWORD, LAB_USER, REPO_ROOT, stopAll, type LabServer } from '../lab/lab.js';
import { CLI_BIN, hashTree, lines, requireServers, runCli, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-cron-test-'));
const ISO_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/;

const TREE: Record<string, Buffer> = {
  'a.bin': randomBytes(2000),
  'docs/b.txt': Buffer.from('b\n'.repeat(300)),
  'docs/deep/c.bin': randomBytes(70_000),
  'junk.tmp': Buffer.from('excluded\n'),
};
const KEPT = Object.keys(TREE).filter((f) => !f.endsWith('.tmp'));

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The README's cron line without its five time fields, exactly as a user copies it. */
function readmeCronCommand(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /```cron\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the README has a cron block');
  const line = block[1].split('\n').find((l) => / fxpmirror run /.test(l));
  assert.ok(line, 'the cron block has a fxpmirror run line');
  return line.trim().split(/\s+/).slice(5).join(' ');
}

/** Cron's environment: HOME, LOGNAME, SHELL and a short PATH (where fxpmirror and node are installed), nothing else. */
function cronEnv(): Record<string, string> {
  const bin = path.join(TMP, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  if (!fs.existsSync(path.join(bin, 'fxpmirror'))) fs.symlinkSync(CLI_BIN, path.join(bin, 'fxpmirror'));
  return { HOME: os.homedir(), LOGNAME: os.userInfo().username, SHELL: '/bin/sh', PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin` };
}

interface CronRun extends CliRun {
  log: Record<string, unknown>[];
}

/** The README's cron line with its job file, log and metrics paths replaced by this test's, run by /bin/sh. */
async function cron(jobFile: string, name: string): Promise<CronRun> {
  const logFile = path.join(TMP, `${name}.log`);
  const metrics = path.join(TMP, `${name}.prom`);
  let cmd = readmeCronCommand();
  const swaps: [string, string][] = [
    ['UPSTREAM_PASSWORD=…', `UPSTREAM_PASSWORD='${LAB_PASSWORD}'`],
    ['/etc/fxpmirror/nightly.yaml', jobFile],
    ['/var/log/fxpmirror.log', logFile],
    ['/var/lib/node_exporter/fxpmirror.prom', metrics],
  ];
  for (const [from, to] of swaps) {
    assert.ok(cmd.includes(from), `the README's cron line no longer has ${from}: ${cmd}`);
    cmd = cmd.replace(from, to);
  }
  const r = await new Promise<CliRun>((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn('/bin/sh', ['-c', cmd], { cwd: TMP, env: cronEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, timedOut: false, stdout, stderr, pid: child.pid ?? 0, ms: Date.now() - t0 }));
  });
  const log = lines(fs.readFileSync(logFile, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>);
  fs.rmSync(logFile);
  assert.ok(fs.existsSync(metrics), 'the metrics file is written');
  for (const e of log) assert.match(String(e.time), ISO_OFFSET, JSON.stringify(e));
  return { ...r, log };
}

function jobFile(name: string, jobs: string): string {
  const file = path.join(TMP, `${name}.yaml`);
  const server = (n: string, host: string, port: number) => `  ${n}:\n    url: ftp://${host}:${port}/\n    user: ${LAB_USER}\n    password: \${UPSTREAM_PASSWORD}\n    timeouts: { connect: 5s }\n`;
  fs.writeFileSync(
    file,
    `version: 1\nservers:\n${server('src', '127.0.3.21', 2321)}${server('dst', '127.0.3.22', 2322)}${server('dead', '127.0.3.38', 2399)}` +
      `defaults:\n  retries: 0\n  exclude: ["*.tmp"]\njobs:\n${jobs}`,
  );
  return file;
}

const events = (log: Record<string, unknown>[], event: string, target?: string) => log.filter((e) => e.event === event && (target === undefined || e.target === target));

describe('cron and operators: the README cron line against real servers', { skip: UNAVAILABLE ?? false }, () => {
  let S: Record<'src' | 'dst' | 'strictA' | 'strictB', LabServer>;
  before(async () => {
    S = await startPlan({
      src: ['pyftpdlib', { address: '127.0.3.21', port: 2321 }],
      dst: ['proftpd', { address: '127.0.3.22', port: 2322 }],
      strictA: ['pyftpdlib', { address: '127.0.3.25', port: 2325, profile: 'strict' }],
      strictB: ['proftpd', { address: '127.0.3.26', port: 2326, profile: 'strict' }],
    });
    for (const [f, data] of Object.entries(TREE)) writeLabFile(path.join(S.src.root, 'tree', f), data);
    for (const f of ['ok.txt', 'closed/secret.txt']) writeLabFile(path.join(S.src.root, 'partial', f), `${f}\n`);
  });
  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  test('success: nothing on stdout or stderr; the log file has every transfer and the summary, excluded entries counted', async () => {
    const file = jobFile('ok', '  - name: c-ok\n    from: src:/tree\n    to: dst:/cron-ok\n');
    const r = await cron(file, 'ok');
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(r.stdout + r.stderr, '', show(r));
    assert.deepEqual(events(r.log, 'transfer', 'dst:/cron-ok').map((e) => e.path).sort(), KEPT.sort());
    for (const e of events(r.log, 'transfer')) assert.equal(e.bytes, TREE[e.path as string].length);
    const [summary] = events(r.log, 'summary', 'dst:/cron-ok');
    assert.equal(summary.job, 'c-ok');
    assert.deepEqual(summary.files, { transferred: 3, skipped: 1, excluded: 1, deleted: 0, failed: 0, unchanged: 0 });
    const want = new Map([...hashTree(path.join(S.src.root, 'tree'))].filter(([f]) => !f.endsWith('.tmp')));
    assert.deepEqual(hashTree(path.join(S.dst.root, 'cron-ok')), want);
    // Run as written, it used the default lock directory, and left no lock behind.
    assert.equal(fs.existsSync(path.join(defaultLockDir(), lockFileName(targetLockKey('127.0.3.22', 2322, '/cron-ok')))), false);
    // The next night: nothing to do, still silent, still logged.
    const again = await cron(file, 'ok');
    assert.equal(again.code, EXIT.OK, show(again));
    assert.equal(again.stdout + again.stderr, '', show(again));
    assert.match(String(events(again.log, 'summary')[0].message), /^ok: 0 transferred/);
  });

  test('partial failure: one line per failed job and target on stderr, nothing else; the log has the rest', async () => {
    const closed = path.join(S.src.root, 'partial', 'closed');
    fs.chmodSync(closed, 0o000);
    try {
      const file = jobFile(
        'partial',
        '  - name: c-fine\n    from: src:/tree\n    to: dst:/cron-fine\n' +
          '  - name: c-partial\n    from: src:/partial\n    to: dst:/cron-partial\n' +
          '  - name: c-fan\n    from: src:/tree\n    to: [dst:/cron-fan, dead:/cron-fan]\n',
      );
      const r = await cron(file, 'partial');
      assert.equal(r.code, EXIT.CONNECT, `the worst of 0, 1, 0 and 3\n${show(r)}`);
      assert.equal(r.stdout, '', show(r));
      const said = lines(r.stderr);
      assert.equal(said.length, 2, show(r));
      assert.match(said[0], /^c-partial: dst:\/cron-partial: partial: 1 transferred \(\d+ B\), 0 deleted, 0 failed, 1 unsynced in \d+\.\d s; closed\/: source listing failed: 5\d\d /);
      assert.match(said[1], /^c-fan: dead:\/cron-fan: failed: dead: cannot connect to 127\.0\.3\.38:2399: connection refused/);
      // The healthy target of the fan-out job was synced all the same.
      assert.equal(hashTree(path.join(S.dst.root, 'cron-fan')).size, KEPT.length);
      assert.equal(events(r.log, 'transfer', 'dst:/cron-fine').length, KEPT.length);
      assert.equal(events(r.log, 'transfer', 'dst:/cron-fan').length, KEPT.length);
      assert.equal(events(r.log, 'failed', 'dead:/cron-fan')[0].level, 'error');
      const summaries = events(r.log, 'summary').map((e) => [e.job, e.target, e.level].map(String).join(' ')).sort();
      assert.deepEqual(summaries, ['c-fan dst:/cron-fan info', 'c-fine dst:/cron-fine info', 'c-partial dst:/cron-partial warn']);
    } finally {
      fs.chmodSync(closed, 0o755);
    }
  });

  test('--max-delete: nothing deleted, one line on stderr, the warning in the log', async () => {
    for (const f of ['old1', 'old2', 'old3']) writeLabFile(path.join(S.dst.root, 'cron-maxdel', f), 'stale\n');
    const file = jobFile('maxdel', '  - name: c-maxdel\n    from: src:/tree\n    to: dst:/cron-maxdel\n    delete: true\n    maxDelete: 1\n');
    const r = await cron(file, 'maxdel');
    assert.equal(r.code, EXIT.PARTIAL, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /^c-maxdel: dst:\/cron-maxdel: partial: 3 transferred \(.*\), 0 deleted, 0 failed, deletions stopped by --max-delete 1 \(3 planned\) in \d+\.\d s\n$/);
    for (const f of ['old1', 'old2', 'old3']) assert.ok(fs.existsSync(path.join(S.dst.root, 'cron-maxdel', f)), `${f} must not be deleted`);
    const [warning] = events(r.log, 'warning', 'dst:/cron-maxdel');
    assert.equal(warning.level, 'warn');
    assert.match(String(warning.message), /max-delete/);
  });

  test('--log-level and text log files: ISO 8601 date-times with offset; the file follows --log-level, not -q', async () => {
    const file = jobFile('levels', '  - name: c-lv\n    from: src:/tree\n    to: [dst:/cron-lv, dead:/cron-lv]\n');
    const text = path.join(TMP, 'levels.log');
    const r = await runCli(['run', file, '-q', '--log-file', text, '--log-level', 'warn', '--lock-dir', path.join(TMP, 'locks')], { env: { UPSTREAM_PASSWORD: LAB_PASSWORD } });
    assert.equal(r.code, EXIT.CONNECT, show(r));
    const got = lines(fs.readFileSync(text, 'utf8'));
    assert.ok(got.length >= 1, got.join('\n'));
    for (const l of got) {
      const [time, level] = l.split(/\s+/);
      assert.match(time, ISO_OFFSET, l);
      assert.ok(level === 'warn' || level === 'error', `--log-level warn keeps info out: ${l}`);
    }
    assert.ok(got.some((l) => / error \[c-lv dead:\/cron-lv\] failed /.test(l)), got.join('\n'));
    const debug = path.join(TMP, 'debug.log');
    const v = await runCli(['run', file, '-q', '-v', '--log-file', debug, '--lock-dir', path.join(TMP, 'locks')], { env: { UPSTREAM_PASSWORD: LAB_PASSWORD } });
    assert.equal(v.code, EXIT.CONNECT, show(v));
    assert.match(fs.readFileSync(debug, 'utf8'), / debug \[c-lv\] ftp > PASS \*\*\* server=src$/m, '-v puts the FTP conversation in the file at debug level');
    assert.equal(lines(v.stderr).length, 1, show(v));
  });

  test('a missing source directory: exit 6, one line naming the server and path, the target untouched', async () => {
    const file = jobFile('missing', '  - name: c-missing\n    from: src:/no-such-dir\n    to: dst:/cron-missing\n    remoteLock: true\n');
    const r = await runCli(['run', file, '-q', '--lock-dir', path.join(TMP, 'locks')], { env: { UPSTREAM_PASSWORD: LAB_PASSWORD } });
    assert.equal(r.code, EXIT.REMOTE, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.match(r.stderr, /^c-missing: dst:\/cron-missing: failed: source directory src:\/no-such-dir \(127\.0\.3\.21:2321\) cannot be listed: MLSD \/no-such-dir: 5\d\d .*\n$/);
    const m = await runCli(['mirror', urlOf(S.src, 'no-such-dir'), urlOf(S.dst, 'mirror-missing'), '-q', '--lock-dir', path.join(TMP, 'locks')]);
    assert.equal(m.code, EXIT.REMOTE, show(m));
    assert.equal(m.stdout, '', show(m));
    assert.match(m.stderr, /^fxpmirror: source directory ftp:\/\/ftptest:\*\*\*@127\.0\.3\.21:2321\/no-such-dir cannot be listed: MLSD \/no-such-dir: 5\d\d .*\n$/);
    for (const d of ['cron-missing', 'mirror-missing']) assert.equal(fs.existsSync(path.join(S.dst.root, d)), false, `${d} must not be created`);
  });

  test('a dry run prints the job header before its plan', async () => {
    const file = jobFile('dry', '  - name: c-dry\n    from: src:/tree\n    to: dst:/cron-dry\n');
    const r = await runCli(['run', file, '--dry-run', '--lock-dir', path.join(TMP, 'locks')], { env: { UPSTREAM_PASSWORD: LAB_PASSWORD } });
    assert.equal(r.code, EXIT.OK, show(r));
    const out = lines(r.stdout);
    assert.equal(out[0], '== c-dry: src:/tree -> dst:/cron-dry', show(r));
    // The plan, one line per action, naming the target (transfers run concurrently, so in any order).
    assert.equal(out[1], '[dst:/cron-dry] mkdir     ./');
    assert.deepEqual(out.slice(2, 7).sort(), [
      '[dst:/cron-dry] mkdir     docs/',
      '[dst:/cron-dry] mkdir     docs/deep/',
      '[dst:/cron-dry] transfer  a.bin  (missing, 2.0 KiB)',
      '[dst:/cron-dry] transfer  docs/b.txt  (missing, 600 B)',
      '[dst:/cron-dry] transfer  docs/deep/c.bin  (missing, 68.4 KiB)',
    ]);
    assert.equal(out[7], 'dry run: nothing changed');
    assert.ok(out.includes('skipped:      1 entry (1 excluded)'), show(r));
    assert.equal(fs.existsSync(path.join(S.dst.root, 'cron-dry')), false);
  });

  test('a fall-back to relay is a warning naming the target; with --fxp never it is what was asked', async () => {
    writeLabFile(path.join(S.strictA.root, 'relay', 'r.bin'), randomBytes(5000));
    const args = (dst: string) => ['mirror', urlOf(S.strictA, 'relay'), urlOf(S.strictB, dst), '--lock-dir', path.join(TMP, 'locks'), '--retries', '0'];
    const r = await runCli(args('relay-auto'));
    assert.equal(r.code, EXIT.OK, show(r));
    assert.match(r.stderr, /^\S+ warn {2}relay r\.bin every FXP mode was refused: files go through this machine \(relay\); see the fallback events$/m, show(r));
    assert.match(r.stdout, /^modes:\s+relay 1$/m);
    const never = await runCli([...args('relay-never'), '--fxp', 'never']);
    assert.equal(never.code, EXIT.OK, show(never));
    assert.doesNotMatch(never.stderr, / warn {2}relay /, show(never));
  });
});
