/**
 * Local setup problems are usage errors found before any connection: one
 * line naming the option (or the job file position), exit 2, and not one
 * connection to the server. The server here is a listener of our own
 * (127.0.1.36, ephemeral port) that counts connections; no lab server is
 * needed, so this file runs everywhere.
 *
 * Also: job files too big or too deep, and a netrc that is a directory,
 * through the real CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { labUserIds } from '../lab/lab.js';
import { lines, oneLine, runCli, type CliRun } from '../lab/helpers.js';

const ADDRESS = '127.0.1.36';
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-setup-'));
fs.chmodSync(TMP, 0o755); // the unwritable-directory case runs the CLI as the lab user
const ENV = { NETRC: path.join(TMP, 'no-netrc'), SETUP_PW: 'Setup-Secret-8812', XDG_RUNTIME_DIR: undefined };

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

let connections = 0;
let port = 0;
const listener = net.createServer((s) => {
  connections++;
  s.on('error', () => undefined);
  s.end('220 counted\r\n');
});

function write(name: string, text: string): string {
  const file = path.join(TMP, name);
  fs.writeFileSync(file, text);
  fs.chmodSync(file, 0o644);
  return file;
}

function jobFile(extraServer = ''): string {
  return `version: 1\nservers:\n  a:\n    url: ftp://${ADDRESS}:${port}/\n    user: u\n    password: \${SETUP_PW}\n${extraServer}  b:\n    url: ftp://${ADDRESS}:${port}/\n    user: u\n    password: \${SETUP_PW}\njobs:\n  - name: setup-job\n    from: a:/x\n    to: b:/y\n`;
}

/** exit 2, exactly one line on stderr matching `message`, nothing on stdout, no connection. */
async function usageError(args: string[], message: RegExp, env: Record<string, string | undefined> = {}): Promise<void> {
  const before = connections;
  const r = await runCli(args, { env: { ...ENV, ...env } });
  assert.equal(r.code, EXIT.USAGE, show(r));
  assert.match(oneLine(r.stderr), message, show(r));
  assert.equal(r.stdout, '', show(r));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(connections, before, `${args.join(' ')} connected before reporting a local problem`);
}

before(async () => {
  await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(0, ADDRESS, resolve));
  port = (listener.address() as net.AddressInfo).port;
});

after(() => {
  listener.close();
  fs.rmSync(TMP, { recursive: true, force: true });
});

describe('run: local paths are checked before any connection', () => {
  test('--lock-dir that is a file, or under a file', async () => {
    const job = write('job.yaml', jobFile());
    const file = write('a-file', 'x');
    await usageError(['run', job, '--lock-dir', file], new RegExp(`^fxpmirror: --lock-dir ${file}: not a directory$`));
    await usageError(['run', job, '--lock-dir', path.join(file, 'locks')], new RegExp(`^fxpmirror: --lock-dir ${file}/locks: ${file} is not a directory$`));
  });

  test('--lock-dir that is not writable (as the lab user: root may write anywhere)', async () => {
    const job = write('job-ro.yaml', jobFile());
    const ro = path.join(TMP, 'read-only');
    fs.mkdirSync(ro, { mode: 0o555 });
    fs.chmodSync(ro, 0o555);
    const user = process.getuid?.() === 0 ? labUserIds() : undefined;
    for (const [dir, expected] of [
      [ro, `--lock-dir ${ro}: not writable \\(permission denied\\)`],
      [path.join(ro, 'locks'), `--lock-dir ${ro}/locks: cannot create it in ${ro} \\(permission denied\\)`],
    ]) {
      const before = connections;
      const r = await runCli(['run', job, '--lock-dir', dir], { env: { ...ENV, HOME: TMP }, user });
      assert.equal(r.code, EXIT.USAGE, show(r));
      assert.match(oneLine(r.stderr), new RegExp(`^fxpmirror: ${expected}$`));
      assert.equal(connections, before);
    }
  });

  test('--metrics-file under a file, or naming a directory', async () => {
    const job = write('job-m.yaml', jobFile());
    const file = write('not-a-dir', 'x');
    await usageError(['run', job, '--metrics-file', path.join(file, 'fxpmirror.prom')], new RegExp(`^fxpmirror: --metrics-file ${file}/fxpmirror.prom: ${file} is not a directory$`));
    await usageError(['run', job, '--metrics-file', TMP], new RegExp(`^fxpmirror: --metrics-file ${TMP}: is a directory$`));
  });

  test('--log-file in a missing directory: one line, not a stack trace', async () => {
    const job = write('job-l.yaml', jobFile());
    const missing = path.join(TMP, 'no-such-dir');
    await usageError(['run', job, '--log-file', path.join(missing, 'run.log')], new RegExp(`^fxpmirror: --log-file ${missing}/run.log: the directory ${missing} does not exist$`));
    await usageError(['run', job, '--log-file', TMP], new RegExp(`^fxpmirror: --log-file ${TMP}: is a directory$`));
  });
});

describe('option values are checked before any connection', () => {
  const url = () => `ftp://u:p@${ADDRESS}:${port}/x`;

  test('a malformed --fingerprint, for every command that connects', async () => {
    for (const cmd of [['ls', url()], ['copy', url(), url() + 'y'], ['mirror', url() + '/', url() + 'y/'], ['probe', url(), url()]]) {
      await usageError([...cmd, '--fingerprint', 'AB:CD'], /^error: option '--fingerprint <sha256>' argument 'AB:CD' is invalid\. expected a SHA-256 fingerprint/);
    }
  });

  test('a missing or certificate-less --ca file', async () => {
    await usageError(['ls', url(), '--ca', path.join(TMP, 'missing.pem')], /^error: option '--ca <file>' argument '.*missing\.pem' is invalid\. cannot use this CA file: no such file or directory$/);
    const notPem = write('not.pem', 'hello\n');
    await usageError(['ls', url(), '--ca', notPem], /^error: option '--ca <file>' argument '.*not\.pem' is invalid\. cannot use this CA file: no PEM certificate/);
  });

  test('a timeout or interval that overflows a timer (2^31-1 ms), or is no duration at all', async () => {
    // The same duration reader as a job file's (src/job/values.ts): seconds, or 500ms, 10s, 2m ...
    await usageError(['ls', url(), '--connect-timeout', '1e12'], /^error: option '--connect-timeout <duration>' argument '1e12' is invalid\. is not a duration: '1e12' \(use seconds or "500ms", "10s", "2m", "1h", "7d"\)$/);
    await usageError(['ls', url(), '--timeout', '2147484'], /^error: option '--timeout <duration>' argument '2147484' is invalid\. must be at most 2147483647 ms /);
    await usageError(['ls', url(), '--timeout', '0'], /^error: option '--timeout <duration>' argument '0' is invalid\. must be greater than 0$/);
    await usageError(['mirror', url() + '/', url() + 'y/', '--stats', '99999999999'], /^error: option '--stats <duration>' argument '99999999999' is invalid\./);
    // Sizes and ages read as in a job file too.
    await usageError(['mirror', url() + '/', url() + 'y/', '--min-size', '10X'], /^error: option '--min-size <size>' argument '10X' is invalid\. is not a size: '10X' \(use bytes or "10K", "10M", "1\.5GiB"\)$/);
    await usageError(['mirror', url() + '/', url() + 'y/', '--max-delete', '150%'], /^error: option '--max-delete <n\|p%>' argument '150%' is invalid\. percentage must be between 0% and 100%, got "150%"$/);
  });

  test('durations with units are accepted: the command goes on to connect', async () => {
    const before = connections;
    const r = await runCli(['ls', url(), '--connect-timeout', '1500ms', '--timeout', '2m'], { env: ENV });
    assert.equal(r.code, EXIT.CONNECT, show(r));
    assert.equal(connections, before + 1, show(r));
  });

  test('job files: a missing CA file and an overflowing timeout, at their positions', async () => {
    const job = write('job-ca.yaml', jobFile(`    ca: ${path.join(TMP, 'missing.pem')}\n    timeouts: { connect: 1e12 }\n`));
    for (const cmd of ['validate', 'run']) {
      const before = connections;
      const r = await runCli([cmd, job, '--lock-dir', path.join(TMP, 'locks')].slice(0, cmd === 'run' ? 4 : 2), { env: ENV });
      assert.equal(r.code, EXIT.USAGE, show(r));
      assert.deepEqual(lines(r.stderr), [
        `${job}:7:9: cannot use CA file '${path.join(TMP, 'missing.pem')}': no such file or directory`,
        `${job}:8:26: 'timeouts.connect' must be at most 2147483647 ms (about 24 days, the longest timer Node.js can set)`,
      ]);
      assert.equal(connections, before);
    }
  });

  test('an unencoded "/" in a URL password: the error says to percent-encode it, and does not print it', async () => {
    await usageError(['ls', `ftp://u:Slash/Secret-55@${ADDRESS}:${port}/`], /^fxpmirror: FTP URL has an invalid port \(must be 1-65535\) \(if the password contains "\/", write it percent-encoded as %2F\)$/);
  });
});

describe('job file bounds and the netrc, through the CLI', () => {
  test('a 50 MB job file and one nested 3,000 levels: exit 2, one file:line:col line, well under a second', async () => {
    const big = path.join(TMP, 'big.yaml');
    fs.writeFileSync(big, `version: 1\njobs:\n${'  - name: x\n'.repeat(Math.ceil((50 * 1024 * 1024) / 12))}`);
    const deep = write('deep.yaml', `version: 1\nservers:\n  a:\n    url: ${'['.repeat(1500)}${'{k: '.repeat(1500)}x${'}'.repeat(1500)}${']'.repeat(1500)}\n`);
    const block = write('block.yaml', `version: 1\njobs:\n  - ${'- '.repeat(3000)}x\n`);
    for (const [file, message] of [
      [big, `${big}:1:1: the job file is larger than 1 MiB: is it the right file?`],
      [deep, `${deep}:4:57: mappings and lists nested more than 50 levels deep (a job file needs fewer than 10): is it the right file?`],
      [block, `${block}:3:101: mappings and lists nested more than 50 levels deep (a job file needs fewer than 10): is it the right file?`],
    ]) {
      for (const cmd of ['validate', 'run']) {
        const r = await runCli([cmd, file], { env: ENV });
        assert.equal(r.code, EXIT.USAGE, show(r));
        assert.equal(oneLine(r.stderr), message);
        assert.ok(r.ms < 1000, `${cmd} ${path.basename(file)} took ${r.ms} ms`);
      }
    }
  });

  test('NETRC naming a directory: the same usage error for the CLI and for job files', async () => {
    const dir = path.join(TMP, 'netrc-dir');
    fs.mkdirSync(dir);
    const reason = `cannot use the netrc file ${dir} \\(from \\$NETRC\\): is a directory`;
    // No password in the URL or the job: the netrc is needed.
    await usageError(['ls', `ftp://${ADDRESS}:${port}/`], new RegExp(`^fxpmirror: ${reason}$`), { NETRC: dir });
    const job = write('job-netrc.yaml', `version: 1\nservers:\n  a:\n    url: ftp://${ADDRESS}:${port}/\n  b:\n    url: ftp://${ADDRESS}:${port}/\n    user: u\n    password: \${SETUP_PW}\njobs:\n  - name: n\n    from: a:/x\n    to: b:/y\n`);
    for (const cmd of ['validate', 'run']) await usageError([cmd, job], new RegExp(`^${job}:3:3: server 'a': ${reason}$`), { NETRC: dir });
  });

  test('a netrc others may read: a warning from the CLI and from job files, and it is still used', async () => {
    const netrc = write('netrc-open', `machine ${ADDRESS} login u password Netrc-Secret-31\n`);
    const warning = `readable by group or others, and it holds passwords \\(chmod 600 ${netrc}\\)`;
    const r = await runCli(['ls', `ftp://${ADDRESS}:${port}/`, '--connect-timeout', '2'], { env: { ...ENV, NETRC: netrc } });
    assert.match(lines(r.stderr)[0], new RegExp(`^fxpmirror: warning: ${netrc}: ${warning}$`), show(r));
    const job = write('job-open.yaml', `version: 1\nservers:\n  a:\n    url: ftp://${ADDRESS}:${port}/\n  b:\n    url: ftp://${ADDRESS}:${port}/\n    user: u\n    password: \${SETUP_PW}\njobs:\n  - name: n\n    from: a:/x\n    to: b:/y\n`);
    const v = await runCli(['validate', job], { env: { ...ENV, NETRC: netrc } });
    assert.equal(v.code, EXIT.OK, show(v));
    assert.equal(oneLine(v.stderr), `${netrc}:1:1: warning: ${warning.replace(/\\/g, '')}`);
    assert.ok(!(r.stdout + r.stderr + v.stdout + v.stderr).includes('Netrc-Secret-31'));
  });
});
