/**
 * One end-to-end test: known passwords go in through every door (URL,
 * environment, job file, netrc), through successful and failing runs of every
 * command, with -v, --json, --log-format json, a log file and a metrics file;
 * then every byte that came out (stdout, stderr, log files, metrics files) is
 * searched for them. Nothing may contain a password, in any form.
 *
 *   pyftpdlib  127.0.1.28:2121   (source)
 *   proftpd    127.0.1.29:2122   (destination; answers a wrong password at once)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { LAB_PASSWORD, LAB_USER, startServer, stopAll } from '../lab/lab.js';
import { lines, mkdirLab, requireServers, runCli, writeLabFile, type CliRun } from '../lab/helpers.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-secrets-'));

/** The lab's real password (successful logins), a wrong one (refused logins), one with a "/" (a URL that does not parse). */
const WRONG = 'Wrong-Known-Pass-4471';
const SLASHED = 'Slash/Known-Part-8830';
const SECRETS = [LAB_PASSWORD, WRONG, SLASHED, 'Known-Part-8830'];

after(() => fs.rmSync(TMP, { recursive: true, force: true }));

test('no password, however it was given, appears in any output of any run, successful or not', { skip: UNAVAILABLE ?? false }, async (t) => {
  const [src, dst] = await Promise.all([
    startServer('pyftpdlib', { address: '127.0.1.28', port: 2121 }),
    startServer('proftpd', { address: '127.0.1.29', port: 2122 }),
  ]);
  t.after(() => stopAll());
  writeLabFile(path.join(src.root, 'tree', 'a.txt'), 'a\n');
  writeLabFile(path.join(src.root, 'tree', 'sub', 'b.txt'), 'b\n');
  writeLabFile(path.join(src.root, 'one.txt'), 'one\n');
  mkdirLab(path.join(dst.root, 'copied'));

  const outputs: { what: string; text: string }[] = [];
  const files: string[] = [];
  const file = (name: string, text?: string, mode = 0o600): string => {
    const p = path.join(TMP, name);
    if (text !== undefined) fs.writeFileSync(p, text, { mode });
    files.push(p);
    return p;
  };
  const base = { NETRC: file('no-netrc'), XDG_RUNTIME_DIR: TMP, FXPMIRROR_PASSWORD: undefined, FXPMIRROR_SRC_PASSWORD: undefined, FXPMIRROR_DST_PASSWORD: undefined };
  const run = async (expected: number, args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> => {
    const r = await runCli(args, { env: { ...base, ...env } });
    outputs.push({ what: `stdout of ${args.join(' ')}`, text: r.stdout }, { what: `stderr of ${args.join(' ')}`, text: r.stderr });
    assert.equal(r.code, expected, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
    return r;
  };

  const srcUrl = (pw = LAB_PASSWORD) => `ftp://${LAB_USER}:${encodeURIComponent(pw)}@${src.host}:${src.port}/`;
  const dstUrl = (pw = LAB_PASSWORD) => `ftp://${LAB_USER}:${encodeURIComponent(pw)}@${dst.host}:${dst.port}/`;
  const bare = (s: typeof src) => `ftp://${LAB_USER}@${s.host}:${s.port}/`;

  // --- the command line: URL, environment, netrc; successful, with -v and --json
  const verbose = await run(EXIT.OK, ['ls', '-v', srcUrl() + 'tree/']);
  assert.match(verbose.stderr, /> PASS \*\*\*/, 'the PASS command is traced, masked');
  await run(EXIT.OK, ['ls', '-v', '--json', '-R', bare(src)], { FXPMIRROR_PASSWORD: LAB_PASSWORD });
  const netrc = file('netrc', `machine ${src.host} login ${LAB_USER} password ${LAB_PASSWORD}\nmachine ${dst.host} login ${LAB_USER} password "${LAB_PASSWORD}"\n`);
  await run(EXIT.OK, ['ls', '-v', `ftp://${dst.host}:${dst.port}/`], { NETRC: netrc });
  await run(EXIT.OK, ['copy', '-v', '--json', srcUrl() + 'one.txt', dstUrl() + 'copied/']);
  await run(EXIT.OK, ['mirror', '-v', '--json', bare(src) + 'tree/', bare(dst) + 'mirrored/'], { FXPMIRROR_SRC_PASSWORD: LAB_PASSWORD, FXPMIRROR_DST_PASSWORD: LAB_PASSWORD });
  await run(EXIT.OK, ['mirror', '-v', '--dry-run', '--json', bare(src) + 'tree/', bare(dst) + 'dry/'], { NETRC: netrc });
  await run(EXIT.OK, ['probe', '-v', '--json', srcUrl(), dstUrl()]);

  // --- the command line, failing: a refused login at a real server, values that cannot be sent, URLs that do not parse
  const refused = await run(EXIT.CONNECT, ['ls', '-v', dstUrl(WRONG)]);
  assert.match(refused.stderr, /login refused/);
  await run(EXIT.CONNECT, ['copy', '-v', '--json', srcUrl() + 'one.txt', dstUrl(WRONG) + 'x/']);
  await run(EXIT.CONNECT, ['mirror', '-v', '--json', bare(src) + 'tree/', bare(dst) + 'm2/'], { FXPMIRROR_SRC_PASSWORD: LAB_PASSWORD, FXPMIRROR_DST_PASSWORD: WRONG });
  await run(EXIT.USAGE, ['ls', '-v', bare(dst)], { FXPMIRROR_PASSWORD: `${LAB_PASSWORD}\r` });
  await run(EXIT.USAGE, ['ls', '-v', srcUrl(`${LAB_PASSWORD}\r`)]);
  await run(EXIT.USAGE, ['ls', `ftp://${LAB_USER}:${SLASHED}@${src.host}:${src.port}/`]);
  await run(EXIT.USAGE, ['ls', `ftp://${LAB_USER}:${LAB_PASSWORD}@${src.host}:99999/`]);
  await run(EXIT.USAGE, ['ls', '-v', bare(src)], { NETRC: file('netrc-lf', `machine ${src.host} login ${LAB_USER} password "${LAB_PASSWORD}\n"\n`) });
  const unclosed = file('netrc-unclosed', `machine ${src.host} login ${LAB_USER} password "${WRONG}\nmachine ${dst.host} login ${LAB_USER} password ${LAB_PASSWORD}\n`);
  await run(EXIT.USAGE, ['ls', '-v', bare(src)], { NETRC: unclosed });
  await run(EXIT.USAGE, ['ls', '-v', bare(dst)], { NETRC: unclosed });

  // --- job files: ${VAR}, plain text, netrc; every output format, log and metrics files
  const jobs = file(
    'jobs.yaml',
    [
      'version: 1',
      'servers:',
      `  src:\n    url: ftp://${src.host}:${src.port}/\n    user: ${LAB_USER}\n    password: \${SEC_PW}`,
      `  dst:\n    url: ftp://${dst.host}:${dst.port}/\n    user: ${LAB_USER}\n    password: \${SEC_PW}`,
      `  bad:\n    url: ftp://${dst.host}:${dst.port}/\n    user: ${LAB_USER}\n    password: \${SEC_WRONG}`,
      `  fromnetrc:\n    url: ftp://${src.host}:${src.port}/\n    user: ${LAB_USER}`,
      `  plain:\n    url: ftp://${LAB_USER}:${LAB_PASSWORD}@${dst.host}:${dst.port}/`,
      'defaults:\n  retries: 0',
      'jobs:',
      '  - name: sec-ok\n    from: src:/tree\n    to: dst:/job-ok',
      '  - name: sec-netrc\n    from: fromnetrc:/tree\n    to: plain:/job-netrc',
      '  - name: sec-partial\n    from: src:/missing\n    to: dst:/job-partial',
      '  - name: sec-refused\n    from: src:/tree\n    to: bad:/job-refused',
    ].join('\n') + '\n',
  );
  const env = { SEC_PW: LAB_PASSWORD, SEC_WRONG: WRONG, NETRC: netrc };
  for (const format of ['json', 'text']) {
    const log = file(`run-${format}.log`);
    const metrics = file(`metrics-${format}.prom`);
    const r = await run(EXIT.CONNECT, ['run', jobs, '-v', '--json', '--log-format', format, '--log-file', log, '--metrics-file', metrics], env);
    assert.deepEqual((JSON.parse(r.stdout) as { job: string; exitCode: number }[]).map((o) => [o.job, o.exitCode]), [
      ['sec-ok', EXIT.OK],
      ['sec-netrc', EXIT.OK],
      // A missing source directory is one line and exit 6 (README: Exit codes).
      ['sec-partial', EXIT.REMOTE],
      ['sec-refused', EXIT.CONNECT],
    ]);
    assert.match(fs.readFileSync(log, 'utf8'), /PASS \*\*\*/);
    await run(EXIT.CONNECT, ['run', jobs, '-v', '--log-format', format, '--job', 'sec-refused', '--job', 'sec-ok'], env);
  }
  assert.equal(fs.readFileSync(path.join(dst.root, 'job-ok', 'sub', 'b.txt'), 'utf8'), 'b\n');
  await run(EXIT.OK, ['validate', jobs], env);
  await run(EXIT.USAGE, ['validate', jobs], { ...env, SEC_PW: `${LAB_PASSWORD}\r` });
  await run(EXIT.USAGE, ['run', jobs, '-v', '--json', '--log-format', 'json'], { ...env, SEC_WRONG: `${WRONG}\n` });
  await run(EXIT.USAGE, ['run', jobs, '-v', '--log-format', 'json'], { ...env, NETRC: unclosed });
  const badUrl = file('bad-url.yaml', `version: 1\nservers:\n  a:\n    url: ftp://${LAB_USER}:${SLASHED}@${src.host}/\n  b:\n    url: "ftp://${LAB_USER}:${LAB_PASSWORD}%0d@${dst.host}/"\njobs:\n  - name: j\n    from: a:/x\n    to: b:/y\n`);
  const bad = await run(EXIT.USAGE, ['run', badUrl, '--json'], env);
  assert.equal(lines(bad.stderr).length, 2, bad.stderr);

  // --- every byte that came out
  for (const f of files) if (fs.existsSync(f) && !/netrc|\.yaml$/.test(f)) outputs.push({ what: f, text: fs.readFileSync(f, 'utf8') });
  assert.ok(outputs.some((o) => o.what.endsWith('.prom') && /fxpmirror_success\{job="sec-ok"\} 1/.test(o.text)), 'the metrics files were written');
  assert.ok(outputs.length >= 56, `only ${outputs.length} outputs`);
  for (const { what, text } of outputs) {
    for (const secret of SECRETS) {
      for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
        const at = text.indexOf(form);
        assert.equal(at, -1, `a password appears in ${what}:\n${text.slice(Math.max(0, at - 200), at + 200)}`);
      }
    }
  }
});
