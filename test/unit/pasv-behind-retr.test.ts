/**
 * "PASV behind RETR" (fxp/transfer.ts, state.ts): on a passive source that
 * holds commands during a transfer (vsftpd), the next file's PASV goes out
 * in RETR's own write and is answered after RETR's 226, so the next file
 * needs no wait for it. Against scripted servers that say they are vsftpd
 * (source) and proftpd (destination, active: the default layout); the
 * scripted session, like vsftpd, runs the commands of a read one after the
 * other. Also: a proftpd source gets no PASV behind RETR; a source that
 * fails mid-transfer with the PASV queued (426), and a destination that
 * fails while the source succeeds, keep the replies in step, and the
 * retry or the next file works. Addresses 127.0.86.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../../src/ftp/errors.js';
import { withPair, type Handler, type PairOptions, type ScriptedFtpServer } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.86.1', '127.0.86.2'];
const A = Buffer.from(Array.from({ length: 150_000 }, (_, i) => i % 251));
const B = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 253));
const FILES = { '/out/a.bin': A, '/out/b.bin': B };
const VSFTPD = '220 (vsFTPd 3.0.3)';
const PROFTPD = '220 ProFTPD 1.3.8 Server (scripted)';

/** vsftpd (passive source) → proftpd (active destination): the default layout. */
function pair(srcHandlers: Record<string, Handler> = {}, dstHandlers: Record<string, Handler> = {}, srcGreeting = VSFTPD): PairOptions {
  return {
    src: { files: FILES, greeting: srcGreeting, handlers: srcHandlers },
    dst: { greeting: PROFTPD, handlers: dstHandlers },
    policy: { passive: 'source', passiveExplicit: false },
  };
}

/** The source's transfer commands, per session that transferred. */
function transfers(srv: ScriptedFtpServer): string[][] {
  return srv.sessions.filter((s) => s.commands.some((c) => c.startsWith('RETR '))).map((s) => s.commands.filter((c) => /^(PASV|RETR|SIZE)/.test(c)));
}

/** Whether `lines` arrived in one read of some session (written at once by the client). */
function oneRead(srv: ScriptedFtpServer, lines: string[]): boolean {
  return srv.sessions.some((s) => s.reads.some((r) => r.length === lines.length && r.every((l, i) => l === lines[i])));
}

test('vsftpd source: the next PASV goes in RETR\'s write, is answered after the 226, and the next file uses it', async () => {
  await withPair(HOSTS, pair(), async (p) => {
    const a = await p.copy('a.bin', { more: true, publishLater: true });
    assert.equal(a.mode, 'fxp');
    p.release();
    const b = await p.copy('b.bin', { publishLater: true });
    p.release();
    await a.published;
    await b.published;
    assert.ok(oneRead(p.src, ['RETR /out/a.bin', 'PASV']), `RETR and PASV in one write: ${JSON.stringify(p.src.sessions.map((s) => s.reads))}`);
    // The last file asks nothing ahead; no PASV beside the destination's SIZE either.
    assert.deepEqual(transfers(p.src), [['PASV', 'RETR /out/a.bin', 'PASV', 'RETR /out/b.bin']]);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});

test('proftpd source: no PASV behind RETR (it answers one that arrives mid-transfer with 450); the PASV ahead goes beside SIZE', async () => {
  await withPair(HOSTS, pair({}, {}, PROFTPD), async (p) => {
    await p.copy('a.bin', { more: true });
    p.release();
    await p.copy('b.bin');
    p.release();
    assert.ok(!oneRead(p.src, ['RETR /out/a.bin', 'PASV']));
    assert.deepEqual(transfers(p.src), [['PASV', 'RETR /out/a.bin', 'PASV', 'RETR /out/b.bin']]);
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});

test('the source fails mid-transfer (426) with the PASV queued behind RETR: the file fails as RETR\'s 426, no part file; the retry lands it', async () => {
  let retrs = 0;
  const failFirst: Handler = async (ctx) => {
    if (retrs++ > 0) return ctx.fallback();
    ctx.reply('150 Opening BINARY mode data connection.');
    const s = await ctx.session.data.open(ctx.line);
    s.write(A.subarray(0, 20_000));
    await sleep(50);
    s.destroy();
    ctx.reply('426 Failure writing network stream.');
  };
  await withPair(HOSTS, pair({ RETR: failFirst }), async (p) => {
    await assert.rejects(p.copy('a.bin', { more: true }), (err: Error) => /RETR \/out\/a\.bin: 426 Failure writing network stream\./.test(err.message) && isTransient(err));
    p.release();
    assert.deepEqual(p.landed, [], 'no part file, no final name');
    assert.ok(oneRead(p.src, ['RETR /out/a.bin', 'PASV']));
    const again = await p.copy('a.bin', { more: true });
    p.release();
    assert.equal(again.mode, 'fxp');
    const b = await p.copy('b.bin');
    p.release();
    assert.equal(b.mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
    assert.deepEqual(p.of('fallback'), [], 'no refusal: the same layout throughout');
  });
});

test('the destination fails while the source succeeds: the source\'s 227 is read after its 226, the connection stays in step and the next file uses it', async () => {
  let stors = 0;
  const failFirst: Handler = async (ctx) => {
    if (stors++ > 0) return ctx.fallback();
    ctx.reply('150 Ok to send data.');
    const s = await ctx.session.data.open(ctx.line);
    await new Promise((resolve) => {
      s.on('close', resolve);
      s.resume();
    });
    ctx.reply('451 Requested action aborted: local error in processing');
  };
  await withPair(HOSTS, pair({}, { STOR: failFirst }), async (p) => {
    await assert.rejects(p.copy('a.bin', { more: true }), /STOR \/in\/\.a\.bin\.fxpmirror-part: 451 Requested action aborted/);
    p.release();
    assert.deepEqual(p.landed, [], 'no part file, no final name');
    const b = await p.copy('b.bin');
    p.release();
    assert.equal(b.mode, 'fxp');
    assert.ok(oneRead(p.src, ['RETR /out/a.bin', 'PASV']));
    // One source session: it survived the destination's failure, and b went through the PASV asked behind a's RETR.
    assert.deepEqual(transfers(p.src), [['PASV', 'RETR /out/a.bin', 'PASV', 'RETR /out/b.bin']]);
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/b.bin']);
  });
});

test('a refused PASV behind RETR is no failure: the file lands, the next file asks its own PASV', async () => {
  let pasvs = 0;
  const refuseSecond: Handler = (ctx) => (++pasvs === 2 ? '425 Could not enter passive mode.' : ctx.fallback());
  await withPair(HOSTS, pair({ PASV: refuseSecond }), async (p) => {
    await p.copy('a.bin', { more: true });
    p.release();
    await p.copy('b.bin');
    p.release();
    assert.ok(oneRead(p.src, ['RETR /out/a.bin', 'PASV']));
    // Refused behind RETR, so asked again beside the destination's SIZE.
    assert.deepEqual(transfers(p.src), [['PASV', 'RETR /out/a.bin', 'PASV', 'PASV', 'RETR /out/b.bin']]);
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});
