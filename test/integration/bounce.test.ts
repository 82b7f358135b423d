/**
 * No FTP bounce through a PASV address (issue 9, section 2), through the real
 * CLI, with the scripted server (test/support) playing the hostile side next
 * to real vsftpd and proftpd (fxp profile: they would connect anywhere).
 *
 * The hostile server listens for data on its control address as usual but
 * answers PASV with a third address, where a recording listener waits on the
 * very port the reply names. Every test checks that nothing ever reached that
 * listener, and what really happened from outside fxpmirror: the real
 * server's own log (the PORT it was given), the bytes on its disk, the
 * scripted server's tree and its record of data connections.
 *
 * Addresses 127.0.4.31-37 (ftp.test.ts has 127.0.4.21-29 of the same block).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stopAll, type LabServer, type ServerKind, type StartOptions } from '../lab/lab.js';
import { lines, mkdirLab, oneErrorLine, requireServers, runCli, sha256File, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { ScriptedFtpServer, startRecordingListener, type Handler, type RecordingListener } from '../support/index.js';

const REAL = ['vsftpd', 'proftpd'] as const;
const UNAVAILABLE = requireServers(REAL);

const PLAN: Record<'vsftpd' | 'proftpd', [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.4.31', port: 5331 }],
  proftpd: ['proftpd', { address: '127.0.4.32', port: 5332 }],
};
/** The scripted server's control address. */
const HOSTILE = '127.0.4.35';
/** The third party a hostile PASV reply names. */
const THIRD = '127.0.4.36';
/** A trusted scripted server's separate data interface. */
const DATA_IF = '127.0.4.37';

const S = {} as Record<'vsftpd' | 'proftpd', LabServer>;
/** The current test's recording listeners (reset per test); every one is also in allRecorders, closed at the end. */
let recorders: RecordingListener[] = [];
const allRecorders: RecordingListener[] = [];
const scripted: ScriptedFtpServer[] = [];

function tuple(host: string): string {
  return host.split('.').join(',');
}

/** PASV answered with THIRD:<port of the real listener on the control address>, where a recording listener waits. */
const bouncingPasv: Handler = async (ctx) => {
  const { port } = await ctx.session.data.listen(ctx.session.localAddress);
  const r = await startRecordingListener(THIRD, { port });
  recorders.push(r);
  allRecorders.push(r);
  return `227 Entering Passive Mode (${tuple(THIRD)},${port >> 8},${port & 255}).`;
};

async function hostile(files: Record<string, string | Buffer>): Promise<ScriptedFtpServer> {
  const srv = await ScriptedFtpServer.start({ host: HOSTILE, files, handlers: { PASV: bouncingPasv } });
  scripted.push(srv);
  return srv;
}

function assertNobodyAtThird(): void {
  assert.ok(recorders.length > 0, 'the hostile PASV was asked');
  for (const r of recorders) assert.deepEqual(r.connections, [], `a connection reached the third address ${r.host}:${r.port}`);
}

/**
 * A copy through the hostile server: it worked in `mode`, nothing reached the
 * third address, and the real server's log (what it gained during the copy)
 * shows one PORT, naming the hostile server's control address.
 */
function assertNoBounce(r: CliRun, log: string, mode: string): void {
  assertNobodyAtThird();
  assert.equal(r.code, EXIT.OK, r.stderr);
  assert.equal(JSON.parse(r.stdout).mode, mode);
  const ports = log.match(/PORT \d+,\d+,\d+,\d+,\d+,\d+/g) ?? [];
  assert.equal(ports.length, 1, log);
  assert.match(ports[0], new RegExp(`^PORT ${tuple(HOSTILE)},\\d+,\\d+$`));
  assert.ok(!log.includes(tuple(THIRD)), 'the third address never reached the real server');
}

/** What a server's log gained while `fn` ran. */
async function logDuring<T>(server: LabServer, fn: () => Promise<T>): Promise<[T, string]> {
  const before = fs.statSync(server.logFile).size;
  const r = await fn();
  // The servers write their log line as they process the command; give the last one a moment.
  await new Promise((res) => setTimeout(res, 200));
  const fd = fs.openSync(server.logFile, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size - before);
    fs.readSync(fd, buf, 0, buf.length, before);
    return [r, buf.toString('utf8')];
  } finally {
    fs.closeSync(fd);
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('no FTP bounce through a PASV address (scripted hostile server, real vsftpd and proftpd)', { skip: UNAVAILABLE ?? false }, () => {
  before(async () => {
    Object.assign(S, await startPlan(PLAN));
  });

  after(async () => {
    await Promise.all([...allRecorders.map((r) => r.close()), ...scripted.map((s) => s.close())]);
    await stopAll();
  });

  for (const kind of REAL) {
    test(`(a) hostile destination passive: ${kind} as source gets PORT with the destination's control address`, async () => {
      recorders = [];
      const data = randomBytes(300_000);
      writeLabFile(path.join(S[kind].root, 'a', `to-hostile-${kind}.bin`), data);
      const dst = await hostile({ '/in/': '' });
      const [r, log] = await logDuring(S[kind], () =>
        runCli(['copy', urlOf(S[kind], `a/to-hostile-${kind}.bin`), dst.url('/in/'), '--fxp', 'force', '--passive', 'destination', '--json']),
      );
      assertNoBounce(r, log, 'fxp-reversed');
      // The real source's data connection went to the hostile server's control address, and the file is intact.
      assert.deepEqual(dst.dataConnections.map((d) => [d.localAddress, d.remoteAddress, d.command]), [[HOSTILE, S[kind].host, `STOR /in/.to-hostile-${kind}.bin.fxpmirror-part`]]);
      assert.equal(sha256(dst.tree.read(`/in/to-hostile-${kind}.bin`)!), sha256(data));
      assert.match(r.stderr, new RegExp(`advertised ${THIRD.replace(/\./g, '\\.')} in PASV; using its control address ${HOSTILE.replace(/\./g, '\\.')}`));
    });

    test(`(b) hostile source passive: ${kind} as destination gets PORT with the source's control address and stores the right bytes`, async () => {
      recorders = [];
      const data = randomBytes(250_000);
      const src = await hostile({ '/out/f.bin': data });
      mkdirLab(path.join(S[kind].root, 'b'));
      const [r, log] = await logDuring(S[kind], () =>
        runCli(['copy', src.url('/out/f.bin'), urlOf(S[kind], `b/from-hostile.bin`), '--fxp', 'force', '--passive', 'source', '--json']),
      );
      assertNoBounce(r, log, 'fxp');
      assert.deepEqual(src.dataConnections.map((d) => [d.localAddress, d.remoteAddress]), [[HOSTILE, S[kind].host]]);
      assert.equal(await sha256File(path.join(S[kind].root, 'b', 'from-hostile.bin')), sha256(data));
    });
  }

  test('(c) ls against a hostile PASV connects to the control address', async () => {
    recorders = [];
    const srv = await hostile({ '/pub/one.txt': '1', '/pub/two.txt': '22', '/pub/sub/three.txt': '333' });
    const r = await runCli(['ls', '-R', srv.url('/pub/')]);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.deepEqual(lines(r.stdout).map((l) => l.split(/\s+/).pop()), ['one.txt', 'sub/', 'sub/three.txt', 'two.txt']);
    assertNobodyAtThird();
    assert.equal(srv.dataConnections.length, 2);
    for (const d of srv.dataConnections) assert.equal(d.localAddress, HOSTILE);
    // One note for the server, not one per listing.
    const notes = lines(r.stderr).filter((l) => l.includes('pasv-address'));
    assert.equal(notes.length, 1, r.stderr);
    // stderr is a pipe here, not a terminal: the line starts with an ISO 8601 date-time with offset.
    assert.match(notes[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info +pasv-address .*advertised 127\.0\.4\.36 in PASV; using its control address 127\.0\.4\.35/);
  });

  test('(c) relay from and to a hostile server connects to its control address; vsftpd has the bytes', async () => {
    recorders = [];
    const data = randomBytes(200_000);
    const src = await hostile({ '/out/r.bin': data });
    const r1 = await runCli(['copy', src.url('/out/r.bin'), urlOf(S.vsftpd, 'relayed.bin'), '--fxp', 'never', '--json']);
    assert.equal(r1.code, EXIT.OK, r1.stderr);
    assert.equal(JSON.parse(r1.stdout).mode, 'relay');
    assert.equal(await sha256File(path.join(S.vsftpd.root, 'relayed.bin')), sha256(data));
    const dst = await hostile({ '/in/': '' });
    const r2 = await runCli(['copy', urlOf(S.vsftpd, 'relayed.bin'), dst.url('/in/back.bin'), '--fxp', 'never', '--json']);
    assert.equal(r2.code, EXIT.OK, r2.stderr);
    assert.equal(sha256(dst.tree.read('/in/back.bin')!), sha256(data));
    assertNobodyAtThird();
    for (const s of [src, dst]) {
      assert.equal(s.dataConnections.length, 1);
      assert.equal(s.dataConnections[0].localAddress, HOSTILE);
    }
  });

  test('(d) --trust-pasv-address: the advertised address (a separate data interface) is used, with a warning', async () => {
    const data = randomBytes(120_000);
    const src = await ScriptedFtpServer.start({ host: HOSTILE, dataHost: DATA_IF, files: { '/out/t.bin': data } });
    scripted.push(src);
    const [r, log] = await logDuring(S.proftpd, () =>
      runCli(['copy', src.url('/out/t.bin'), urlOf(S.proftpd, 'trusted.bin'), '--fxp', 'force', '--passive', 'source', '--trust-pasv-address', 'source', '--json']),
    );
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.match(log, new RegExp(`PORT ${tuple(DATA_IF)},\\d+,\\d+`));
    assert.equal(await sha256File(path.join(S.proftpd.root, 'trusted.bin')), sha256(data));
    assert.deepEqual(src.dataConnections.map((d) => [d.localAddress, d.remoteAddress]), [[DATA_IF, S.proftpd.host]]);
    const warnings = lines(r.stderr).filter((l) => / warn +pasv-address /.test(l));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0], /advertised 127\.0\.4\.37 in PASV, not its control address 127\.0\.4\.35; using it because/);
    // Trusting only the other side: this server's advertised address is not used. The
    // destination is sent to the control address, where nothing listens, so the first
    // rung fails and the ladder makes the destination passive instead.
    const [other, otherLog] = await logDuring(S.proftpd, () =>
      runCli(['copy', src.url('/out/t.bin'), urlOf(S.proftpd, 'untrusted.bin'), '--fxp', 'force', '--passive', 'source', '--trust-pasv-address', 'destination', '--json']),
    );
    assert.equal(other.code, EXIT.OK, other.stderr);
    assert.equal(JSON.parse(other.stdout).mode, 'fxp-reversed');
    assert.match(otherLog, new RegExp(`PORT ${tuple(HOSTILE)},\\d+,\\d+`));
    assert.ok(!otherLog.includes(tuple(DATA_IF)), 'the untrusted data address never reached the real server');
    assert.doesNotMatch(other.stderr, / warn +pasv-address /);
    assert.match(other.stderr, / info +pasv-address .*advertised 127\.0\.4\.37 in PASV; using its control address 127\.0\.4\.35/);
    assert.equal(await sha256File(path.join(S.proftpd.root, 'untrusted.bin')), sha256(data));
  });

  test('(d) ls --trust-pasv-address lists over the advertised address', async () => {
    const srv = await ScriptedFtpServer.start({ host: HOSTILE, dataHost: DATA_IF, files: { '/d/x.txt': 'x' } });
    scripted.push(srv);
    const r = await runCli(['ls', '--trust-pasv-address', srv.url('/d/')]);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.match(r.stdout, /x\.txt/);
    assert.deepEqual(srv.dataConnections.map((d) => d.localAddress), [DATA_IF]);
    assert.match(r.stderr, / warn +pasv-address .*advertised 127\.0\.4\.37 in PASV, not its control address/);
  });

  test('the removed --fix-pasv-address is a one-line usage error naming its replacement', async () => {
    for (const args of [
      ['ls', '--fix-pasv-address', 'auto', urlOf(S.vsftpd)],
      ['copy', '--fix-pasv-address=never', urlOf(S.vsftpd, 'x'), urlOf(S.proftpd)],
      ['probe', '--fix-pasv-address', 'always', urlOf(S.vsftpd), urlOf(S.proftpd)],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, EXIT.USAGE);
      assert.match(oneErrorLine(r), /--fix-pasv-address was removed: .*--trust-pasv-address/);
    }
  });
});
