/**
 * No FTP bounce through a PASV address (issue 9, section 2), against the
 * scripted server: a hostile server answers PASV with a third address, where a
 * recording listener waits on the very port the reply names. Neither
 * fxpmirror's own data connections (listings, relay) nor the other server's
 * PORT (FXP, PASV asked ahead included) may go there; the control address is
 * used with the reply's port, and a note says so once per server. With
 * trustPasvAddress the advertised address is used, with a warning.
 * The real-server side of the same cases is test/integration/bounce.test.ts.
 * Addresses 127.0.79.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection, type FtpNote } from '../../src/ftp/connection.js';
import { ConnectionLease, ConnectionPool } from '../../src/ftp/pool.js';
import type { ServerOptions } from '../../src/ftp/options.js';
import { FxpEngine, type TransferPolicy } from '../../src/fxp/engine.js';
import { runProbe } from '../../src/fxp/probe.js';
import { acquireRemoteLock } from '../../src/job/remote-lock.js';
import { ScriptedFtpServer, startRecordingListener, type Handler, type RecordingListener } from '../support/index.js';

const HOSTILE = '127.0.79.1';
const HONEST = '127.0.79.2';
/** The third party a hostile PASV reply names. */
const THIRD = '127.0.79.3';
/** A trusted server's separate data interface. */
const DATA_IF = '127.0.79.4';

/**
 * PASV that listens on the control address as usual but names THIRD, where a
 * recording listener waits on the same port: a client or server that follows
 * the reply lands there.
 */
function bouncingPasv(recorders: RecordingListener[]): Handler {
  return async (ctx) => {
    const { port } = await ctx.session.data.listen(ctx.session.localAddress);
    recorders.push(await startRecordingListener(THIRD, { port }));
    return `227 Entering Passive Mode (${THIRD.split('.').join(',')},${port >> 8},${port & 255}).`;
  };
}

async function hostileServer(files: Record<string, string | Buffer>, recorders: RecordingListener[]): Promise<ScriptedFtpServer> {
  return ScriptedFtpServer.start({ host: HOSTILE, files, handlers: { PASV: bouncingPasv(recorders) } });
}

function assertNobodyAtThird(recorders: RecordingListener[]): void {
  assert.ok(recorders.length > 0, 'the hostile PASV was asked');
  for (const r of recorders) assert.deepEqual(r.connections, [], `a connection reached ${r.host}:${r.port}`);
}

async function closeAll(recorders: RecordingListener[], ...servers: ScriptedFtpServer[]): Promise<void> {
  await Promise.all([...recorders.map((r) => r.close()), ...servers.map((s) => s.close())]);
}

test('listings go to the control address, not to the address in PASV; one note per server', async () => {
  const recorders: RecordingListener[] = [];
  const srv = await hostileServer({ '/pub/a.txt': 'aaa', '/pub/b.txt': 'bb' }, recorders);
  const notes: FtpNote[] = [];
  const state = {};
  try {
    for (let i = 0; i < 2; i++) {
      // Two connections sharing one ServerState (as a pool's do): still one note.
      const conn = await FtpConnection.connect(srv.clientOptions(), { state, onNote: (n) => notes.push(n) });
      try {
        assert.deepEqual((await conn.list('/pub')).entries.map((e) => [e.name, e.size]), [['a.txt', 3], ['b.txt', 2]]);
        assert.deepEqual((await conn.list('/pub')).entries.map((e) => e.name), ['a.txt', 'b.txt']);
      } finally {
        await conn.close();
      }
    }
    assertNobodyAtThird(recorders);
    assert.equal(srv.dataConnections.length, 4);
    for (const d of srv.dataConnections) assert.equal(d.localAddress, HOSTILE);
    const name = srv.clientOptions().name;
    assert.deepEqual(notes, [
      { level: 'info', event: 'pasv-address', server: name, message: `${name} advertised ${THIRD} in PASV; using its control address ${HOSTILE}` },
    ]);
  } finally {
    await closeAll(recorders, srv);
  }
});

test('trustPasvAddress: the advertised address is used, with one warning; without it the control address is', async () => {
  const srv = await ScriptedFtpServer.start({ host: HONEST, dataHost: DATA_IF, files: { '/f.txt': 'data' } });
  try {
    const notes: FtpNote[] = [];
    const trusted = await FtpConnection.connect(srv.clientOptions({ trustPasvAddress: true }), { onNote: (n) => notes.push(n) });
    try {
      assert.deepEqual((await trusted.list('/')).entries.map((e) => e.name), ['f.txt']);
      assert.deepEqual((await trusted.list('/')).entries.map((e) => e.name), ['f.txt']);
    } finally {
      await trusted.close();
    }
    assert.deepEqual(srv.dataConnections.map((d) => d.localAddress), [DATA_IF, DATA_IF]);
    assert.equal(notes.length, 1);
    assert.equal(notes[0].level, 'warn');
    assert.match(notes[0].message, new RegExp(`advertised ${DATA_IF} in PASV, not its control address ${HONEST}; using it because .*trustPasvAddress`));
    // Not trusted: the data connection goes to HONEST:<port>, where nothing listens.
    const plain = await FtpConnection.connect(srv.clientOptions());
    try {
      await assert.rejects(plain.list('/'), (err: Error & { code?: string }) => err.code === 'ECONNECT' && err.message.includes(`${HONEST}:`));
    } finally {
      await plain.close();
    }
    assert.equal(srv.dataConnections.length, 2);
  } finally {
    await srv.close();
  }
});

const POLICY: TransferPolicy = { fxp: 'force', passive: 'source', passiveExplicit: true, verify: 'size', continue: false, allowClearData: false };

/** An engine copy between two scripted servers, with pools whose notes are collected. */
async function engineCopy(
  src: ServerOptions,
  dst: ServerOptions,
  policy: TransferPolicy,
  files: { srcPath: string; dstRoot: string; dstRel: string; size: number }[],
): Promise<{ notes: FtpNote[]; modes: string[] }> {
  const notes: FtpNote[] = [];
  const pools = [new ConnectionPool(src, 1), new ConnectionPool(dst, 1)];
  for (const p of pools) p.onNote = (n) => notes.push(n);
  const [s, d] = pools.map((p) => new ConnectionLease(p));
  const engine = new FxpEngine(policy);
  const modes: string[] = [];
  try {
    for (const [i, f] of files.entries()) modes.push((await engine.copy(s, d, { ...f, more: i < files.length - 1 })).mode);
  } finally {
    s.release();
    d.release();
    await Promise.all(pools.map((p) => p.close()));
  }
  return { notes, modes };
}

test('FXP, hostile destination passive: the source gets PORT with the destination control address', async () => {
  const recorders: RecordingListener[] = [];
  const dst = await hostileServer({ '/in/': '' }, recorders);
  const src = await ScriptedFtpServer.start({ host: HONEST, files: { '/out/f.bin': Buffer.alloc(100_000, 7) } });
  try {
    const { notes, modes } = await engineCopy(src.clientOptions(), dst.clientOptions(), { ...POLICY, passive: 'destination' }, [
      { srcPath: '/out/f.bin', dstRoot: '/in', dstRel: 'f.bin', size: 100_000 },
    ]);
    assert.deepEqual(modes, ['fxp-reversed']);
    assertNobodyAtThird(recorders);
    const ports = src.sent('PORT');
    assert.equal(ports.length, 1);
    assert.match(ports[0], /^PORT 127,0,79,1,\d+,\d+$/);
    assert.ok(dst.tree.read('/in/f.bin')?.equals(Buffer.alloc(100_000, 7)));
    assert.deepEqual(notes.map((n) => [n.level, n.server]), [['info', dst.clientOptions().name]]);
  } finally {
    await closeAll(recorders, src, dst);
  }
});

test('FXP, hostile source passive, PASV asked ahead too: every PORT names the source control address', async () => {
  const recorders: RecordingListener[] = [];
  const src = await hostileServer({ '/out/1.txt': 'one', '/out/2.txt': 'two!', '/out/3.txt': 'three' }, recorders);
  const dst = await ScriptedFtpServer.start({ host: HONEST, files: { '/in/': '' } });
  try {
    const files = ['1.txt', '2.txt', '3.txt'].map((n) => ({ srcPath: `/out/${n}`, dstRoot: '/in', dstRel: n, size: src.tree.read(`/out/${n}`)!.length }));
    const { notes, modes } = await engineCopy(src.clientOptions(), dst.clientOptions(), POLICY, files);
    assert.deepEqual(modes, ['fxp', 'fxp', 'fxp']);
    assertNobodyAtThird(recorders);
    // One PASV per file: the second and third were asked ahead, beside the previous file's SIZE+MFMT.
    assert.equal(src.sent('PASV').length, 3);
    const ports = dst.sent('PORT');
    assert.equal(ports.length, 3);
    for (const p of ports) assert.match(p, /^PORT 127,0,79,1,\d+,\d+$/);
    assert.deepEqual(['1.txt', '2.txt', '3.txt'].map((n) => dst.tree.read(`/in/${n}`)?.toString()), ['one', 'two!', 'three']);
    assert.equal(notes.length, 1);
  } finally {
    await closeAll(recorders, src, dst);
  }
});

test('relay from a hostile source: the client connects to the control address', async () => {
  const recorders: RecordingListener[] = [];
  const src = await hostileServer({ '/out/r.bin': Buffer.alloc(50_000, 3) }, recorders);
  const dst = await ScriptedFtpServer.start({ host: HONEST, files: { '/in/': '' } });
  try {
    const { modes } = await engineCopy(src.clientOptions(), dst.clientOptions(), { ...POLICY, fxp: 'never' }, [
      { srcPath: '/out/r.bin', dstRoot: '/in', dstRel: 'r.bin', size: 50_000 },
    ]);
    assert.deepEqual(modes, ['relay']);
    assertNobodyAtThird(recorders);
    assert.deepEqual(src.dataConnections.map((d) => [d.mode, d.localAddress, d.command]), [['passive', HOSTILE, 'RETR /out/r.bin']]);
    assert.ok(dst.tree.read('/in/r.bin')?.equals(Buffer.alloc(50_000, 3)));
  } finally {
    await closeAll(recorders, src, dst);
  }
});

test("CPSV is read like PASV (control address); PASV refused falls back to EPSV; both refused is PASV's refusal", async () => {
  const recorders: RecordingListener[] = [];
  const srv = await ScriptedFtpServer.start({ host: HOSTILE, handlers: { CPSV: bouncingPasv(recorders) } });
  try {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      const cpsv = await conn.exclusive(() => conn.passive('CPSV'));
      assert.deepEqual(cpsv, { host: HOSTILE, port: recorders[0].port });
      srv.on('PASV', '500 PASV not understood.');
      const viaEpsv = await conn.exclusive(() => conn.passiveWithFallback(false));
      assert.equal(viaEpsv.extended, true);
      assert.equal(viaEpsv.hp.host, HOSTILE);
      srv.on('EPSV', '500 EPSV not understood.');
      await assert.rejects(conn.exclusive(() => conn.passiveWithFallback(false)), (err: Error & { command?: string; replyCode?: number }) => err.command === 'PASV' && err.replyCode === 500);
      // EPSV asked for directly: its own refusal.
      await assert.rejects(conn.exclusive(() => conn.passiveWithFallback(true)), (err: Error & { command?: string }) => err.command === 'EPSV');
    } finally {
      await conn.close();
    }
    assert.deepEqual(srv.sent('PASV', 'EPSV', 'CPSV'), ['CPSV', 'PASV', 'EPSV', 'PASV', 'EPSV', 'EPSV']);
    assertNobodyAtThird(recorders);
  } finally {
    await closeAll(recorders, srv);
  }
});

test('probe with a hostile server: every mode and the uploads go to its control address', async () => {
  const recorders: RecordingListener[] = [];
  const a = await hostileServer({ '/a/': '' }, recorders);
  const b = await ScriptedFtpServer.start({ host: HONEST, files: { '/b/': '' } });
  try {
    const notes: FtpNote[] = [];
    const report = await runProbe(a.clientOptions(), b.clientOptions(), '/a', '/b', (n) => notes.push(n));
    assert.deepEqual(
      report.results.filter((r) => !r.ok).map((r) => `${r.direction} ${r.mode}: ${r.reply}`),
      [],
    );
    assert.ok(report.results.some((r) => r.mode === 'fxp' && r.direction === 'A->B'));
    assertNobodyAtThird(recorders);
    for (const p of b.sent('PORT')) assert.match(p, /^PORT 127,0,79,1,\d+,\d+$/);
    for (const d of a.dataConnections.filter((x) => x.mode === 'passive')) assert.equal(d.localAddress, HOSTILE);
    assert.equal(notes.length, 1);
  } finally {
    await closeAll(recorders, a, b);
  }
});

test('the remote lock writes its owner file over the control address', async () => {
  const recorders: RecordingListener[] = [];
  const srv = await hostileServer({ '/target/': '' }, recorders);
  try {
    const lock = await acquireRemoteLock(() => FtpConnection.connect(srv.clientOptions()), '/target', 60_000);
    assert.match(srv.tree.read('/target/.fxpmirror-lock.fxpmirror-part/owner')?.toString() ?? '', /pid \d+ since /);
    await lock.release();
    assertNobodyAtThird(recorders);
    assert.deepEqual(srv.dataConnections.map((d) => d.localAddress), [HOSTILE]);
  } finally {
    await closeAll(recorders, srv);
  }
});
