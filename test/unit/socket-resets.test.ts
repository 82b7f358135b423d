/**
 * A reset at any phase fails that attempt with one line, never an unhandled
 * 'error' event (which node:test would report as a failure of this file):
 * a data socket reset while the client waits for the 1xx mark, during a
 * relay, after a 226; a control connection reset after a 226, while a PASV
 * asked ahead is pending, and in the middle of an FXP transfer. Each failure
 * is transient (retried in the same mode), and the next attempt completes.
 * Addresses 127.0.81.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection } from '../../src/ftp/connection.js';
import { isTransient } from '../../src/ftp/errors.js';
import { ScriptedFtpServer, withPair, type Handler } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.81.1', '127.0.81.2'];
const DATA = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
const FILES = { '/out/a.bin': DATA, '/out/b.bin': DATA.subarray(0, 90_000) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One line, transient: what every reset must come to. */
function assertTransientLine(err: unknown): void {
  assert.ok(err instanceof Error, `not an error: ${String(err)}`);
  assert.ok(isTransient(err), `${err.name}: ${err.message}`);
  assert.doesNotMatch(err.message, /\n|\s{2}at /, 'one line, no stack');
}

test('data socket reset while waiting for the 1xx mark: the listing fails with one line, the next one works', async () => {
  let resets = 1;
  const srv = await ScriptedFtpServer.start({
    host: HOSTS[0],
    files: { '/d/f.txt': 'f' },
    handlers: {
      async MLSD(ctx) {
        if (resets-- <= 0) return ctx.fallback();
        (await ctx.session.data.open(ctx.line)).resetAndDestroy();
        await sleep(100); // the RST arrives while the client waits for the mark
        ctx.reply('150 Here comes the directory listing.');
        await sleep(50);
        return '426 Connection reset.';
      },
    },
  });
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    assertTransientLine(await conn.list('/d').catch((e: unknown) => e));
    // The control connection was closed with it (its 426 would answer the next command).
    assert.equal(conn.closed, true);
    const again = await FtpConnection.connect(srv.clientOptions());
    assert.deepEqual((await again.list('/d')).entries.map((e) => e.name), ['f.txt']);
    await again.close();
  } finally {
    await conn.close();
    await srv.close();
  }
});

test('relay: the source data socket reset mid-stream, and the destination reset before its mark; then the relay completes', async () => {
  let n = 0;
  const resetSource: Handler = async (ctx) => {
    if (n++ === 1) setTimeout(() => ctx.session.data.resetSockets(), 150);
    return ctx.fallback();
  };
  let m = 0;
  const resetBeforeMark: Handler = async (ctx) => {
    if (m++ > 0) return ctx.fallback();
    (await ctx.session.data.open(ctx.line)).resetAndDestroy();
    await sleep(100);
    ctx.reply('150 Ok to send data.');
    await sleep(50);
    return '426 Failure reading network stream.';
  };
  await withPair(HOSTS, { src: { files: FILES, dataRate: 400_000, handlers: { RETR: resetSource } }, dst: { handlers: { STOR: resetBeforeMark } }, policy: { fxp: 'never' } }, async (p) => {
    // The destination fails first (file a), then the source (file a again).
    assertTransientLine(await p.copy('a.bin').catch((e: unknown) => e));
    assertTransientLine(await p.copy('a.bin').catch((e: unknown) => e));
    assert.deepEqual(p.landed, []);
    const ok = await p.copy('a.bin');
    assert.equal(ok.mode, 'relay');
    assert.equal(ok.relayedBytes, DATA.length);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test('after a 226: a data socket reset instead of its end, and a control connection reset before SIZE', async () => {
  let a = 0;
  const resetAfter226: Handler = async (ctx) => {
    if (a++ > 0) return ctx.fallback();
    ctx.reply('150 Opening data connection.');
    const s = await ctx.session.data.open(ctx.line);
    s.write(ctx.server.tree.read(ctx.arg)!);
    ctx.reply('226 Transfer complete.');
    await sleep(50);
    s.resetAndDestroy();
  };
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: resetAfter226 } }, policy: { fxp: 'never' } }, async (p) => {
    assertTransientLine(await p.copy('a.bin').catch((e: unknown) => e));
    assert.deepEqual(p.landed, []);
    assert.equal((await p.copy('a.bin')).mode, 'relay');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
  let b = 0;
  const dropControlAfter226: Handler = async (ctx) => {
    await ctx.fallback();
    if (b++ === 0) ctx.session.socket.resetAndDestroy();
  };
  await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { STOR: dropControlAfter226 } } }, async (p) => {
    assertTransientLine(await p.copy('a.bin').catch((e: unknown) => e));
    assert.deepEqual(p.landed.filter((x) => !x.endsWith('-part')), [], 'never published');
    assert.equal((await p.copy('a.bin')).mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    assert.deepEqual(p.landed, ['/in/a.bin']);
  });
});

test('a PASV asked ahead dies with its connection (source: beside SIZE+MFMT; destination: after RNFR+RNTO): the file is still published', async () => {
  let pasv = 0;
  const dropSecondPasv: Handler = async (ctx) => {
    if (++pasv !== 2) return ctx.fallback();
    ctx.session.socket.resetAndDestroy();
  };
  await withPair(HOSTS, { src: { files: FILES, handlers: { PASV: dropSecondPasv } } }, async (p) => {
    assert.equal((await p.copy('a.bin', { more: true })).mode, 'fxp');
    assert.equal((await p.copy('b.bin')).mode, 'fxp');
    assert.equal(pasv, 3, 'the second PASV was the one asked ahead');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(FILES['/out/b.bin']));
  });
  pasv = 0;
  await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { PASV: dropSecondPasv } }, policy: { passive: 'destination' } }, async (p) => {
    assert.equal((await p.copy('a.bin', { more: true })).mode, 'fxp-reversed');
    assert.deepEqual(p.landed, ['/in/a.bin'], 'renamed before the PASV behind RNTO was lost');
    assert.equal((await p.copy('b.bin')).mode, 'fxp-reversed');
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(FILES['/out/b.bin']));
    assert.deepEqual(p.of('fallback'), []);
  });
});

test('control connection reset in the middle of an FXP transfer: transient, the mode is not banned', async () => {
  let n = 0;
  const dropMidway: Handler = async (ctx) => {
    if (n++ === 0) setTimeout(() => ctx.session.socket.resetAndDestroy(), 200);
    return ctx.fallback();
  };
  await withPair(HOSTS, { src: { files: FILES, dataRate: 300_000, handlers: { RETR: dropMidway } } }, async (p) => {
    assertTransientLine(await p.copy('a.bin').catch((e: unknown) => e));
    assert.deepEqual(p.landed, []);
    assert.equal((await p.copy('a.bin')).mode, 'fxp');
    assert.deepEqual([p.of('fallback'), p.of('relayed')], [[], []]);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});
