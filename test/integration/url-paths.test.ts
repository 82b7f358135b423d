/**
 * URL paths follow RFC 1738 §3.2.2 and job endpoints follow scp: relative to
 * the login directory, absolute with "%2F" (URLs) or a leading "/" (job
 * files). Every lab server chroots its user to the served directory, where
 * the login directory is "/" and both readings agree; the scripted server
 * (test/support) logs its user in at /home/u instead, as a server that does
 * not chroot does (vsftpd with chroot_local_user=NO). The real CLI runs as a
 * child process against two scripted servers in this process: FXP between
 * them, files checked in their in-memory trees, and the commands fxpmirror
 * sent checked in their logs (PWD once per server, every path absolute).
 *
 *   a  127.0.10.1 (ephemeral port), login directory /home/u
 *   b  127.0.10.2 (ephemeral port), login directory /home/u
 *   c  127.0.10.3 (ephemeral port), PWD answers a path that is not absolute
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { ScriptedFtpServer } from '../support/ftp-server.js';
import { lines, runCli, type CliRun } from '../lab/helpers.js';

const HOME = '/home/u';
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-url-paths-'));
const ENV = { NETRC: path.join(TMP, 'no-netrc'), XDG_RUNTIME_DIR: undefined, FXPMIRROR_PASSWORD: undefined, UP_PW: 'pass' };

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** A scripted server whose user starts in `home` after login. */
async function serverWithHome(host: string, home: string, files: Record<string, string> = {}): Promise<ScriptedFtpServer> {
  const srv = await ScriptedFtpServer.start({ host, files: { [`${home}/`]: '', ...files } });
  srv.on('PASS', async (ctx) => {
    await ctx.fallback();
    if (ctx.session.loggedIn) ctx.session.cwd = home;
  });
  return srv;
}

/** The path arguments of `verbs` that fxpmirror sent to `srv`. */
function pathsSent(srv: ScriptedFtpServer, ...verbs: string[]): string[] {
  return srv.sent(...verbs).map((c) => c.slice(c.indexOf(' ') + 1));
}

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { env: ENV, timeoutMs: 30_000 });
}

describe('URL and endpoint paths: relative to the login directory, absolute with %2F or server:/', () => {
  let a: ScriptedFtpServer;
  let b: ScriptedFtpServer;
  let c: ScriptedFtpServer;

  before(async () => {
    a = await serverWithHome('127.0.10.1', HOME, {
      [`${HOME}/pub/a.txt`]: 'relative a\n',
      [`${HOME}/pub/d/b.txt`]: 'relative b\n',
      '/pub/root.txt': 'absolute\n',
    });
    b = await serverWithHome('127.0.10.2', HOME, { '/abs/': '', [`${HOME}/pub/`]: '' });
    c = await ScriptedFtpServer.start({ host: '127.0.10.3', files: { '/pub/x.txt': 'x\n' } });
    c.on('PWD', '257 "C:\\Users\\ftp" is the current directory.');
  });
  after(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  test('ls: ftp://host/pub lists <login dir>/pub; ftp://host/%2Fpub lists /pub', async () => {
    const rel = await cli(['ls', '--json', a.url('/pub')]);
    assert.equal(rel.code, EXIT.OK, show(rel));
    assert.deepEqual((JSON.parse(rel.stdout) as { path: string }[]).map((e) => e.path).sort(), ['a.txt', 'd']);
    const abs = await cli(['ls', '--json', a.url('/%2Fpub')]);
    assert.equal(abs.code, EXIT.OK, show(abs));
    assert.deepEqual((JSON.parse(abs.stdout) as { path: string }[]).map((e) => e.path), ['root.txt']);
    // One PWD for the relative URL, none for the absolute one; the listings named absolute paths.
    assert.equal(a.sent('PWD').length, 1);
    assert.deepEqual(pathsSent(a, 'MLSD'), [`${HOME}/pub`, '/pub']);
  });

  test('mirror: both URLs relative; every path sent is absolute, under the login directory', async () => {
    const before = a.sessions.length;
    const r = await cli(['mirror', a.url('/pub'), b.url('/copy'), '--lock-dir', path.join(TMP, 'locks')]);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(b.tree.read(`${HOME}/copy/a.txt`)?.toString(), 'relative a\n');
    assert.equal(b.tree.read(`${HOME}/copy/d/b.txt`)?.toString(), 'relative b\n');
    assert.equal(b.tree.get('/copy'), undefined, 'nothing written at the absolute /copy');
    // PWD once per server, on the first connection, before anything else moved it.
    const pwds = a.sessions.slice(before).filter((s) => s.commands.some((c) => c === 'PWD'));
    assert.equal(pwds.length, 1);
    for (const p of [...pathsSent(b, 'STOR', 'MKD', 'RNFR', 'RNTO', 'MLSD'), ...pathsSent(a, 'RETR', 'MLSD')]) {
      assert.ok(p.startsWith('/'), `a relative path was sent: ${p}`);
    }
    assert.ok(pathsSent(b, 'STOR').every((p) => p.startsWith(`${HOME}/copy/`)), pathsSent(b, 'STOR').join(', '));
  });

  test('copy: a relative source into the login directory; an absolute one with %2F into an absolute directory', async () => {
    const rel = await cli(['copy', a.url('/pub/a.txt'), b.url('/')]);
    assert.equal(rel.code, EXIT.OK, show(rel));
    assert.equal(b.tree.read(`${HOME}/a.txt`)?.toString(), 'relative a\n');
    const abs = await cli(['copy', a.url('/%2Fpub/root.txt'), b.url('/%2Fabs/')]);
    assert.equal(abs.code, EXIT.OK, show(abs));
    assert.equal(b.tree.read('/abs/root.txt')?.toString(), 'absolute\n');
    assert.match(abs.stdout, /^copied \/pub\/root\.txt -> \/abs\/root\.txt: /);
  });

  test('run: server:path is relative to the login directory, server:/path absolute (as in scp)', async () => {
    const job = path.join(TMP, 'rel.yaml');
    const server = (name: string, s: ScriptedFtpServer) => `  ${name}:\n    url: ftp://${s.address.host}:${s.address.port}/\n    user: user\n    password: \${UP_PW}\n`;
    fs.writeFileSync(job, `version: 1\nservers:\n${server('a', a)}${server('b', b)}jobs:\n  - name: rel\n    from: a:pub\n    to: [b:relcopy, b:/abs/copy]\n`);
    const r = await cli(['run', job, '--lock-dir', path.join(TMP, 'locks'), '-q']);
    assert.equal(r.code, EXIT.OK, show(r));
    assert.equal(r.stdout + r.stderr, '', show(r));
    for (const root of [`${HOME}/relcopy`, '/abs/copy']) {
      assert.equal(b.tree.read(`${root}/a.txt`)?.toString(), 'relative a\n', root);
      assert.equal(b.tree.read(`${root}/d/b.txt`)?.toString(), 'relative b\n', root);
    }
  });

  test('probe: relative URLs put its temporary files in each login directory', async () => {
    const stored = (srv: ScriptedFtpServer) => pathsSent(srv, 'STOR').filter((p) => p.includes('.fxpmirror-probe-'));
    const [beforeA, beforeB] = [stored(a).length, stored(b).length];
    const r = await cli(['probe', '--json', a.url('/'), b.url('/pub')]);
    assert.equal(r.code, EXIT.OK, show(r));
    const newA = stored(a).slice(beforeA);
    const newB = stored(b).slice(beforeB);
    assert.ok(newA.length > 0 && newB.length > 0, `${newA.join(', ')} | ${newB.join(', ')}`);
    for (const p of newA) assert.ok(p.startsWith(`${HOME}/.fxpmirror-probe-`), p);
    for (const p of newB) assert.ok(p.startsWith(`${HOME}/pub/.fxpmirror-probe-`), p);
  });

  test('a server whose PWD is not an absolute path: a relative URL is one clear line (exit 6); an absolute one works', async () => {
    const r = await cli(['ls', c.url('/pub')]);
    assert.equal(r.code, EXIT.REMOTE, show(r));
    assert.equal(lines(r.stderr).length, 1, show(r));
    assert.match(r.stderr, /^fxpmirror: 127\.0\.10\.3:\d+: PWD named "C:\\\\Users\\\\ftp", not an absolute path, so a path relative to the login directory cannot be used there: write it absolute \(ftp:\/\/host\/%2Fpath, or server:\/path in a job file\)\n$/);
    const ok = await cli(['ls', c.url('/%2Fpub')]);
    assert.equal(ok.code, EXIT.OK, show(ok));
    assert.match(ok.stdout, /x\.txt/);
  });
});
