/**
 * A passive destination in a mirror gets STOR in its PASV's own write
 * (fxp/stor-with-pasv.ts): scripted servers that say they are proftpd
 * (active source: answers PORT at once, connects on RETR) and pyftpdlib
 * (passive destination: marks STOR at once). Checked: SIZE+MFMT of file n,
 * PASV and STOR of file n+1 in one write, PORT+RETR only after the 227 and
 * after STOR was processed, no PASV asked ahead, the rename one transfer
 * later; a refused PASV, a garbled 227 and a refused PORT (the destination
 * with STOR pending is closed, PORT never reaches the source for a bad
 * PASV, the ladder moves); a foreign address in the 227 never handed to the
 * source; a 426 with the file before's rename queued; copy (not mirror)
 * unchanged. Addresses 127.0.88.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../../src/ftp/errors.js';
import { ScriptedFtpServer, withPair, type Handler, type PairOptions } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.88.1', '127.0.88.2'];
const A = Buffer.from(Array.from({ length: 150_000 }, (_, i) => i % 251));
const B = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 253));
const C = Buffer.from('c'.repeat(5000));
const FILES = { '/out/a.bin': A, '/out/b.bin': B, '/out/c.bin': C };
const PROFTPD = '220 ProFTPD 1.3.8 Server (scripted)';
const PYFTPDLIB = '220 pyftpdlib 1.5.7 ready.';
const T0 = new Date('2024-03-01T10:20:30Z');
const part = (name: string) => `/in/.${name}.fxpmirror-part`;
const MIRROR = { more: true, publishLater: true } as const;

/** proftpd (active source) → pyftpdlib (passive destination). */
function pair(handlers: { src?: Record<string, Handler>; dst?: Record<string, Handler> } = {}, dst: PairOptions['dst'] = {}): PairOptions {
  return {
    src: { files: FILES, greeting: PROFTPD, handlers: handlers.src ?? {} },
    dst: { greeting: PYFTPDLIB, handlers: handlers.dst ?? {}, ...dst },
    policy: { passive: 'destination', passiveExplicit: true },
  };
}

/** The reads (one client write each) of the destination's sessions, without the login. */
function dstReads(srv: ScriptedFtpServer): string[][] {
  return srv.sessions.flatMap((s) => s.reads.map((r) => r.filter((c) => !/^(USER|PASS|FEAT|OPTS|TYPE)/.test(c)))).filter((r) => r.length > 0);
}

function arrived(srv: ScriptedFtpServer, line: string): number {
  const hit = srv.sessions.flatMap((s) => s.arrivals).find((a) => a.line.startsWith(line));
  assert.ok(hit, `${line} never arrived: ${srv.commands.join(' | ')}`);
  return hit.at;
}

/** STOR that records when it started being processed and when it was answered. */
function storTimes(started: Map<string, number>, answered: Map<string, number>): Handler {
  return async (ctx) => {
    started.set(ctx.arg, Date.now());
    await ctx.fallback();
    answered.set(ctx.arg, Date.now());
  };
}

/** The first session that got `line` (the failed rung's) is closed by the client; the fallback's went on. */
async function closedAfter(srv: ScriptedFtpServer, line: string): Promise<void> {
  const of = srv.sessions.filter((s) => s.commands.includes(line));
  assert.ok(of.length === 2, `${line} arrived on two sessions: ${of.length}`);
  for (let i = 0; i < 100 && !of[0].socket.destroyed; i++) await sleep(10);
  assert.ok(of[0].socket.destroyed, `the session that got ${line} first was closed`);
  assert.ok(!of[0].commands.slice(of[0].commands.indexOf(line) + 1).some((c) => /^(RNFR|RNTO|PASV|PORT|STOR)/.test(c)), 'nothing sent after the pending STOR');
}

test('mirror: SIZE+MFMT of a file, PASV and STOR of the next in one write; PORT+RETR after STOR was processed; no PASV ahead; renames one transfer later', async () => {
  const started = new Map<string, number>();
  const answered = new Map<string, number>();
  // The 227 comes 30 ms after PASV was read: a head start (or a PORT sent before the 227) would show.
  const slowPasv: Handler = async (ctx) => {
    await sleep(30);
    await ctx.fallback();
  };
  await withPair(HOSTS, pair({ dst: { STOR: storTimes(started, answered), PASV: slowPasv } }), async (p) => {
    const a = await p.copy('a.bin', { ...MIRROR, mtime: T0 });
    p.release();
    const b = await p.copy('b.bin', { ...MIRROR, mtime: T0 });
    p.release();
    const c = await p.copy('c.bin', { ...MIRROR, mtime: T0 });
    p.release();
    await Promise.all([a.published, b.published, c.published]);
    for (const r of [a, b, c]) {
      assert.equal(r.mode, 'fxp-reversed');
      assert.equal(r.mtimeSet, true);
    }
    const reads = dstReads(p.dst).map((r) => r.join('|'));
    const mfmt = (name: string) => `MFMT 20240301102030 ${part(name)}`;
    // a: PASV alone (the first file learns that this server answers it), then STOR; b and c: [PASV, STOR].
    assert.ok(reads.includes('PASV') && !reads.includes(['PASV', `STOR ${part('a.bin')}`].join('|')), `first file: ${JSON.stringify(reads)}`);
    assert.ok(reads.some((r) => r.endsWith(['PASV', `STOR ${part('b.bin')}`].join('|'))), `second file: ${JSON.stringify(reads)}`);
    assert.ok(reads.includes([`SIZE ${part('a.bin')}`, mfmt('a.bin'), 'PASV', `STOR ${part('b.bin')}`].join('|')), `one write: ${JSON.stringify(reads)}`);
    assert.ok(reads.includes([`RNFR ${part('a.bin')}`, 'RNTO /in/a.bin', `SIZE ${part('b.bin')}`, mfmt('b.bin'), 'PASV', `STOR ${part('c.bin')}`].join('|')), `one write: ${JSON.stringify(reads)}`);
    // Every PASV after the first went with a STOR: none asked ahead.
    for (const r of dstReads(p.dst).slice(1)) if (r.includes('PASV')) assert.ok(r[r.indexOf('PASV') + 1]?.startsWith('STOR '), `PASV without STOR: ${r.join('|')}`);
    assert.equal(p.dst.sent('PASV').length, 3);
    // b's rename went out after c's transfer ended.
    assert.ok(arrived(p.dst, `RNFR ${part('b.bin')}`) >= answered.get(part('c.bin'))!, "b's RNFR came after c's STOR was answered");
    for (const name of ['b.bin', 'c.bin']) {
      const port = p.src.sessions.flatMap((s) => s.arrivals).filter((x) => x.line.startsWith('PORT '))[['a.bin', 'b.bin', 'c.bin'].indexOf(name)];
      assert.ok(port.at >= started.get(part(name))!, `${name}: PORT reached the source after STOR was being processed`);
    }
    assert.ok(p.src.sessions.some((s) => s.reads.some((r) => r.length === 2 && r[0].startsWith('PORT ') && r[1] === 'RETR /out/c.bin')), 'PORT+RETR in one write');
    for (const [name, data] of [['a.bin', A], ['b.bin', B], ['c.bin', C]] as const) {
      assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
      assert.equal(p.dst.tree.get(`/in/${name}`)?.mtime.getTime(), T0.getTime(), `${name} mtime`);
    }
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin', '/in/c.bin']);
  });
});

test('copy (not a mirror): STOR after the 227, as before', async () => {
  await withPair(HOSTS, pair(), async (p) => {
    await p.copy('a.bin');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(!dstReads(p.dst).some((r) => r.includes('PASV') && r.some((c) => c.startsWith('STOR '))), 'PASV and STOR in separate writes');
  });
});

/** PASV answered once (the first file), then `later` for every other. */
function pasvOnce(later: string): Handler {
  let n = 0;
  return (ctx) => (n++ === 0 ? ctx.fallback() : later);
}

test('PASV refused with STOR pending: the destination connection is closed, PORT never goes to the source, the file moves down the ladder (and the next with it: the ladder remembers what worked)', async () => {
  await withPair(HOSTS, pair({ dst: { PASV: pasvOnce('502 PASV not allowed here.') } }), async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const ports = p.src.sent('PORT').length;
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    const c = await p.copy('c.bin', MIRROR);
    p.release();
    await Promise.all([a.published, b.published, c.published]);
    assert.deepEqual([a.mode, b.mode, c.mode], ['fxp-reversed', 'fxp', 'fxp']);
    assert.deepEqual(p.of('fallback').map((e) => e.mode), ['fxp-reversed']);
    assert.match(p.of('fallback')[0].message!, /PASV/);
    await closedAfter(p.dst, `STOR ${part('b.bin')}`);
    // The source got no PORT for b: only the fallback's PASV (source passive).
    assert.equal(p.src.sent('PORT').length, ports, 'no PORT for b or c');
    assert.equal(p.dst.sent('PASV').length, 2, 'no PASV to the destination after the refusal');
    for (const [name, data] of [['a.bin', A], ['b.bin', B], ['c.bin', C]] as const) assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
  });
});

test('a garbled 227 with STOR pending: the destination connection is closed, nothing is handed to the source, the ladder moves', async () => {
  await withPair(HOSTS, pair({ dst: { PASV: pasvOnce('227 Entering Passive Mode (1,2,3).') } }), async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const ports = p.src.sent('PORT');
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    await Promise.all([a.published, b.published]);
    assert.deepEqual([a.mode, b.mode], ['fxp-reversed', 'fxp']);
    assert.deepEqual(p.of('fallback').map((e) => e.mode), ['fxp-reversed']);
    await closedAfter(p.dst, `STOR ${part('b.bin')}`);
    assert.deepEqual(p.src.sent('PORT'), ports, 'no PORT for b');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
  });
});

test('a 227 naming a third host: the source is sent the destination\'s control address, never the advertised one', async () => {
  await withPair(HOSTS, pair({}, { pasvAddress: '192.0.2.7' }), async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    await Promise.all([a.published, b.published]);
    assert.deepEqual([a.mode, b.mode], ['fxp-reversed', 'fxp-reversed']);
    assert.ok(dstReads(p.dst).some((r) => r.join('|').endsWith(['PASV', `STOR ${part('b.bin')}`].join('|'))), 'b: STOR behind PASV');
    const ports = p.src.sent('PORT');
    assert.equal(ports.length, 2);
    for (const port of ports) assert.match(port, /^PORT 127,0,88,2,/);
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
  });
});

test('PORT refused by the source with STOR pending on the destination: both connections closed, the ladder moves, the file lands', async () => {
  let ports = 0;
  const refuseSecond: Handler = (ctx) => (ports++ === 1 ? '500 Illegal PORT command.' : ctx.fallback());
  await withPair(HOSTS, pair({ src: { PORT: refuseSecond } }), async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    await Promise.all([a.published, b.published]);
    assert.equal(ports, 2);
    assert.deepEqual([a.mode, b.mode], ['fxp-reversed', 'fxp']);
    assert.deepEqual(p.of('fallback').map((e) => e.mode), ['fxp-reversed']);
    assert.ok(dstReads(p.dst).some((r) => r.join('|').endsWith(['PASV', `STOR ${part('b.bin')}`].join('|'))), 'b: STOR behind PASV');
    await closedAfter(p.dst, `STOR ${part('b.bin')}`);
    // PORT+RETR went in one write (the pipelined path): the source's session is closed as well.
    const refusedOn = p.src.sessions.find((s) => s.commands.filter((c) => c.startsWith('PORT ')).length === 2)!;
    for (let i = 0; i < 100 && !refusedOn.socket.destroyed; i++) await sleep(10);
    assert.ok(refusedOn.socket.destroyed, 'the source session that refused PORT was closed');
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
  });
});

test('the next transfer fails (426) with a rename queued: the file before is published exactly once, the failed one is retried and lands', async () => {
  let stors = 0;
  const failB: Handler = async (ctx) => {
    if (ctx.arg !== part('b.bin') || stors++ > 0) return ctx.fallback();
    ctx.reply('150 File status okay. About to open data connection.');
    const s = await ctx.session.data.open(ctx.line);
    // Some bytes arrived (so it is no refusal of the layout), then the data connection broke (ss -K).
    const first = await new Promise<Buffer>((resolve) => s.once('data', resolve));
    ctx.server.tree.put(ctx.arg, first);
    s.resetAndDestroy();
    ctx.reply('426 Connection closed; transfer aborted.');
  };
  await withPair(HOSTS, pair({ dst: { STOR: failB } }), async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    await assert.rejects(p.copy('b.bin', MIRROR), (err: Error) => /426/.test(err.message) && isTransient(err));
    p.release();
    await a.published;
    const again = await p.copy('b.bin', MIRROR);
    p.release();
    await again.published;
    assert.equal(again.mode, 'fxp-reversed');
    assert.deepEqual(p.dst.sent('RNTO').filter((c) => c === 'RNTO /in/a.bin'), ['RNTO /in/a.bin'], 'a renamed once');
    // a's size check rode with b's first [PASV, STOR]; its rename went out after b's 426.
    assert.ok(dstReads(p.dst).some((r) => r.join('|') === [`SIZE ${part('a.bin')}`, 'PASV', `STOR ${part('b.bin')}`].join('|')), JSON.stringify(dstReads(p.dst)));
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});
