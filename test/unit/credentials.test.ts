/**
 * Credentials in one place (src/ftp/credentials.ts): the command line
 * (serverFromUrl) and job files (loadJobText) ask the same module, so they
 * agree on netrc lookups, on a netrc that cannot be used, and on values that
 * would break the control connection. No message here may contain a value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_NETRC, netrcFromEnv, netrcFromText, resolveCredentials, type CredentialRequest } from '../../src/ftp/credentials.js';
import { CredentialError, assertSafeArgument, unsafeValueReason } from '../../src/ftp/errors.js';
import { redactSecrets } from '../../src/ftp/secrets.js';
import { serverFromUrl } from '../../src/cli/servers.js';
import { exitCodeFor, EXIT } from '../../src/cli/exit.js';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';

const SECRET = 'Unit-Secret-4417';

function request(extra: Partial<CredentialRequest> = {}): CredentialRequest {
  return { server: "server 'a'", host: 'a.example', passwords: [], netrc: NO_NETRC, ...extra };
}

/** Runs fn, which must throw a CredentialError; returns it after checking that no secret leaked into it. */
function credentialError(fn: () => unknown): CredentialError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CredentialError, `expected a CredentialError, got ${String(caught)}`);
  assert.equal(exitCodeFor(caught), EXIT.USAGE);
  assert.ok(!caught.message.includes(SECRET), caught.message);
  assert.doesNotMatch(caught.message, /[\r\n\0]/);
  return caught;
}

test('unsafeValueReason: says what is wrong without quoting the value', () => {
  assert.equal(unsafeValueReason('fine value'), undefined);
  assert.equal(unsafeValueReason(`${SECRET}\r`), 'the value ends with a carriage return (CR); was the file saved with CRLF line endings?');
  assert.equal(unsafeValueReason(`${SECRET}\n`), 'the value ends with a line feed (LF)');
  assert.equal(unsafeValueReason(`${SECRET}\r\n`), 'the value ends with a line feed (LF)');
  assert.equal(unsafeValueReason(`a\rb`), 'the value contains a carriage return (CR)');
  assert.equal(unsafeValueReason(`a\nb\0`), 'the value contains a line feed (LF) and a NUL byte');
  // Asked again: its module-level regex keeps no state between calls (no g flag).
  for (let i = 0; i < 3; i++) {
    assert.equal(unsafeValueReason('fine value'), undefined);
    assert.equal(unsafeValueReason('a\0'), 'the value contains a NUL byte');
  }
});

test('assertSafeArgument never quotes the argument (it may be a PASS or ACCT argument)', () => {
  for (const [arg, what] of [[`${SECRET}\r`, 'PASS argument'], [`x\n${SECRET}`, 'ACCT argument'], [`${SECRET}\0`, 'command PASS']]) {
    assert.throws(
      () => assertSafeArgument(arg, what),
      (err: Error) => err.message.startsWith(`refusing ${what}: the value `) && !err.message.includes(SECRET),
    );
  }
});

test('resolveCredentials: first offered password wins, then netrc by host and user, then anonymous', () => {
  const netrc = netrcFromText('machine a.example login alice password from-netrc account acct\nmachine b.example password bare\n');
  const pw = (value: string | undefined, from = 'x') => ({ value, from });
  assert.deepEqual(resolveCredentials(request({ user: pw('bob'), passwords: [pw(undefined), pw('second')], netrc })), { user: 'bob', password: 'second' });
  assert.deepEqual(resolveCredentials(request({ user: pw('alice'), netrc })), { user: 'alice', password: 'from-netrc', account: 'acct' });
  assert.deepEqual(resolveCredentials(request({ netrc })), { user: 'alice', password: 'from-netrc', account: 'acct' });
  // An entry without a login lends its password only to a user named elsewhere.
  assert.deepEqual(resolveCredentials(request({ host: 'b.example', netrc })), { user: 'anonymous', password: 'anonymous@' });
  assert.deepEqual(resolveCredentials(request({ host: 'b.example', user: pw('carol'), netrc })), { user: 'carol', password: 'bare' });
  // A user without a password anywhere: a warning naming where it looked, and an empty password.
  const warnings: string[] = [];
  const r = resolveCredentials(request({ user: pw('dave'), passwords: [pw(undefined, 'the URL'), pw(undefined, 'environment variable P')], netrc, warn: (m) => warnings.push(m) }));
  assert.deepEqual(r, { user: 'dave', password: '' });
  assert.deepEqual(warnings, ["no password for user 'dave' on server 'a' (not in the URL, environment variable P or ~/.netrc): logging in without one"]);
  // Resolved passwords and accounts are masked from then on; the anonymous convention is not.
  assert.equal(redactSecrets('from-netrc acct second anonymous@'), '*** *** *** anonymous@');
});

test('resolveCredentials: CR, LF or NUL in any source is refused, naming the source and never the value', () => {
  const at = { file: 'jobs.yaml', line: 7, col: 15 };
  let e = credentialError(() => resolveCredentials(request({ passwords: [{ value: `${SECRET}\r`, from: 'environment variable FXPMIRROR_PASSWORD' }] })));
  assert.equal(e.message, 'environment variable FXPMIRROR_PASSWORD: the value ends with a carriage return (CR); was the file saved with CRLF line endings?');
  e = credentialError(() => resolveCredentials(request({ passwords: [{ value: `${SECRET}\n`, from: "the 'password' key (from environment variable 'PW')", at }] })));
  assert.equal(e.message, "jobs.yaml:7:15: the 'password' key (from environment variable 'PW'): the value ends with a line feed (LF)");
  assert.deepEqual(e.at, at);
  e = credentialError(() => resolveCredentials(request({ user: { value: 'u\nDELE x', from: "the 'user' key" } })));
  assert.equal(e.message, "the 'user' key: the value contains a line feed (LF)");
  e = credentialError(() => resolveCredentials(request({ passwords: [{ value: 'p', from: 'x' }], account: { value: `${SECRET}\0`, from: "the 'account' key" } })));
  assert.equal(e.message, "the 'account' key: the value contains a NUL byte");
  // From the netrc: its file, line and column.
  const netrc = netrcFromText(`machine a.example\n  login alice\n  password "${SECRET}\n"\n`, '/home/u/.netrc');
  e = credentialError(() => resolveCredentials(request({ user: { value: 'alice', from: 'the URL' }, netrc })));
  assert.equal(e.message, '/home/u/.netrc:3:12: the password for machine a.example: the value ends with a line feed (LF)');
  // A bad value that is not used is no error: only what goes on the wire counts.
  assert.deepEqual(resolveCredentials(request({ passwords: [{ value: 'good', from: 'the URL' }, { value: `${SECRET}\r`, from: 'env' }], netrc })), {
    user: 'anonymous',
    password: 'good',
  });
});

test('the netrc is read once, only when needed; a directory, an unclosed quote or a group-readable file: the same for the CLI and job files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-cred-'));
  const env = (NETRC: string): NodeJS.ProcessEnv => ({ NETRC });
  const job = (url: string) => `version: 1\nservers:\n  a:\n    url: ${url}\n  b:\n    url: ftp://b.example/\n    user: anonymous\n    password: ""\njobs:\n  - name: j\n    from: a:/x\n    to: b:/y\n`;
  const jobDiagnostics = (netrcPath: string, url = 'ftp://a.example/'): string[] => {
    const warnings: string[] = [];
    const r = loadJobText(job(url), 'j.yaml', {}, {
      netrc: netrcFromEnv(env(netrcPath), (m, at) => warnings.push(`${at?.file}:${at?.line}:${at?.col}: warning: ${m}`)),
    });
    return [...warnings, ...r.diagnostics.map(formatDiagnostic)];
  };
  try {
    // NETRC names a directory: an error in both, once the netrc is needed; ignored when it is not.
    mkdirSync(join(dir, 'd'));
    const cli = credentialError(() => serverFromUrl('ftp://a.example/', 'SRC', {}, env(join(dir, 'd'))));
    assert.equal(cli.message, `cannot use the netrc file ${join(dir, 'd')} (from $NETRC): is a directory`);
    assert.deepEqual(jobDiagnostics(join(dir, 'd')), [`j.yaml:3:3: server 'a': cannot use the netrc file ${join(dir, 'd')} (from $NETRC): is a directory`]);
    assert.equal(serverFromUrl('ftp://u:p@a.example/', 'SRC', {}, env(join(dir, 'd'))).server.password, 'p');
    assert.deepEqual(jobDiagnostics(join(dir, 'd'), 'ftp://u:p@a.example/').filter((d) => !/plain text/.test(d)), []);

    // A missing netrc is no netrc.
    assert.equal(serverFromUrl('ftp://a.example/', 'SRC', {}, env(join(dir, 'missing'))).server.user, 'anonymous');
    assert.deepEqual(jobDiagnostics(join(dir, 'missing')), []);

    // An unclosed quote: the quote's position, nothing of the file's text.
    const broken = join(dir, 'broken');
    writeFileSync(broken, `machine a.example login alice password "${SECRET}\nmachine z login zed password Other-${SECRET}\n`, { mode: 0o600 });
    const q = credentialError(() => serverFromUrl('ftp://a.example/', 'SRC', {}, env(broken)));
    assert.equal(q.message, `${broken}:1:40: unterminated quoted token (a quote is never closed; nothing after it is read)`);
    assert.deepEqual(jobDiagnostics(broken), [`${broken}:1:40: unterminated quoted token (a quote is never closed; nothing after it is read)`]);

    // Readable by group or others: a warning (once per netrc), and the password is still used.
    const open = join(dir, 'open');
    writeFileSync(open, `machine a.example login alice password ${SECRET}\n`);
    chmodSync(open, 0o644);
    const warnings: string[] = [];
    const source = netrcFromEnv(env(open), (m) => warnings.push(m));
    for (let i = 0; i < 3; i++) assert.equal(resolveCredentials(request({ netrc: source })).password, SECRET);
    assert.deepEqual(warnings, [`readable by group or others, and it holds passwords (chmod 600 ${open})`]);
    assert.deepEqual(jobDiagnostics(open), [`${open}:1:1: warning: readable by group or others, and it holds passwords (chmod 600 ${open})`]);
    chmodSync(open, 0o600);
    assert.deepEqual(jobDiagnostics(open), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('job files: a password from ${VAR} with a CR is refused at its key, naming the variable, not the value', () => {
  const text = `version: 1\nservers:\n  a:\n    url: ftp://a.example/\n    user: me\n    password: \${PW}\n  b:\n    url: ftp://b.example/\n    account: "\${ACCT}"\njobs:\n  - name: j\n    from: a:/x\n    to: b:/y\n`;
  const r = loadJobText(text, 'j.yaml', { PW: `${SECRET}\r`, ACCT: `x\n${SECRET}` });
  assert.deepEqual(r.jobs, []);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "j.yaml:6:15: the 'password' key (from environment variable 'PW'): the value ends with a carriage return (CR); was the file saved with CRLF line endings?",
    "j.yaml:9:14: the 'account' key (from environment variable 'ACCT'): the value contains a line feed (LF)",
  ]);
  // The same value on the command line: named by its variable.
  const e = credentialError(() => serverFromUrl('ftp://me@a.example/', 'DST', {}, { FXPMIRROR_DST_PASSWORD: `${SECRET}\r`, NETRC: '/nonexistent' }));
  assert.equal(e.message, 'environment variable FXPMIRROR_DST_PASSWORD: the value ends with a carriage return (CR); was the file saved with CRLF line endings?');
});
