/**
 * A passive destination's next [PASV, STOR] goes out on the destination's own
 * 226, without waiting for the source's (fxp/finish.ts, Ends.early;
 * fxp/stor-with-pasv.ts, sourceFinishing): scripted servers that say they are
 * proftpd (active source, its 226 held back after the data, as proftpd's
 * lingering close does) and pyftpdlib (passive destination). Checked: the
 * destination's next write before the source's 226, the source's next PORT
 * never before that 226; a late 426 from the source (file failed, never
 * renamed, its temporary deleted, sent again; the next file lands over the
 * same source connection); a source that stays silent (the copy-check
 * timeout fails the file, nothing renamed). Addresses 127.0.93.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../../src/ftp/errors.js';
import { withPair, type Handler, type PairOptions } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.93.1', '127.0.93.2'];
const A = Buffer.from(Array.from({ length: 90_000 }, (_, i) => i % 251));
const B = Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7) % 253));
const C = Buffer.from('c'.repeat(5000));
const W = Buffer.from('w'.repeat(3000));
const FILES = { '/out/w.bin': W, '/out/a.bin': A, '/out/b.bin': B, '/out/c.bin': C };
const T0 = new Date('2024-03-01T10:20:30Z');
const part = (name: string) => `/in/.${name}.fxpmirror-part`;
const MIRROR = { more: true, publishLater: true, mtime: T0 } as const;

/** The first file of a run learns that the destination answers a plain PASV; the path under test starts with the next. */
async function warmUp(p: Parameters<Parameters<typeof withPair>[2]>[0]): Promise<void> {
  const w = await p.copy('w.bin', MIRROR);
  p.release();
  await w.published;
}

/**
 * RETR that sends the whole file, then says `final(name)` `holdMs` later
 * (undefined: says nothing until the connection closes). `said` records when
 * each final reply went out.
 */
function lingering(holdMs: number, final: (name: string) => string | undefined, said: Map<string, number>): Handler {
  return async (ctx) => {
    const data = ctx.server.tree.read(ctx.arg);
    if (!data) return ctx.reply(`550 ${ctx.arg}: No such file.`);
    ctx.reply('150 Opening BINARY mode data connection.');
    const s = await ctx.session.data.open(ctx.line);
    await new Promise<void>((resolve) => s.end(data, resolve));
    await sleep(holdMs);
    const text = final(ctx.arg);
    if (text === undefined) return new Promise<void>((resolve) => ctx.session.socket.once('close', resolve));
    said.set(ctx.arg, Date.now());
    ctx.reply(text);
  };
}

function pair(retr: Handler, timings: PairOptions['timings'] = {}): PairOptions {
  return {
    src: { files: FILES, greeting: '220 ProFTPD 1.3.8 Server (scripted)', handlers: { RETR: retr } },
    dst: { greeting: '220 pyftpdlib 1.5.7 ready.' },
    policy: { passive: 'destination', passiveExplicit: true },
    timings,
  };
}

function arrival(arrivals: { line: string; at: number }[], line: string): number {
  const hit = arrivals.find((a) => a.line === line);
  assert.ok(hit, `${line} never arrived`);
  return hit.at;
}

test("the destination's next PASV+STOR goes on its own 226, before the source's; the source's next PORT only after its 226", async () => {
  const said = new Map<string, number>();
  await withPair(HOSTS, pair(lingering(150, () => '226 Transfer complete.', said)), async (p) => {
    await warmUp(p);
    const results = [];
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      results.push(await p.copy(name, MIRROR));
      p.release();
    }
    for (const r of results) await r.published;
    const dst = p.dst.sessions.flatMap((s) => s.arrivals);
    const src = p.src.sessions.flatMap((s) => s.arrivals);
    for (const [before, next] of [['a.bin', 'b.bin'], ['b.bin', 'c.bin']]) {
      const stor = arrival(dst, `STOR ${part(next)}`);
      const srcEnd = said.get(`/out/${before}`)!;
      // The source holds its 226 150 ms after the data: the next STOR came well before it.
      assert.ok(stor < srcEnd - 50, `${next}: STOR at ${stor}, ${before}'s 226 from the source at ${srcEnd}`);
      const port = src.filter((a) => a.line.startsWith('PORT '))[['w.bin', 'a.bin', 'b.bin', 'c.bin'].indexOf(next)];
      assert.ok(port.at >= srcEnd, `${next}: PORT at ${port.at}, before ${before}'s 226 at ${srcEnd}`);
    }
    // b's size check rode with c's [PASV, STOR], in one write.
    const reads = p.dst.sessions.flatMap((s) => s.reads.map((r) => r.join('|')));
    assert.ok(reads.some((r) => r.endsWith([`SIZE ${part('b.bin')}`, `MFMT 20240301102030 ${part('b.bin')}`, 'PASV', `STOR ${part('c.bin')}`].join('|'))), JSON.stringify(reads));
    assert.equal(p.src.sessions.length, 1, 'one source connection throughout');
    for (const [name, data] of [['a.bin', A], ['b.bin', B], ['c.bin', C]] as const) {
      assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
      assert.equal(p.dst.tree.get(`/in/${name}`)?.mtime.getTime(), T0.getTime(), `${name} mtime`);
    }
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin', '/in/c.bin', '/in/w.bin']);
    assert.deepEqual(p.dst.sent('RNTO'), ['RNTO /in/w.bin', 'RNTO /in/a.bin', 'RNTO /in/b.bin', 'RNTO /in/c.bin']);
  });
});

test("a 426 from the source after the destination's 226, the next file under way: that file fails (transient), is never renamed, its temporary is deleted; the next lands; the retry lands", async () => {
  const said = new Map<string, number>();
  let aTries = 0;
  const final = (name: string) => (name === '/out/a.bin' && aTries++ === 0 ? '426 Connection closed; transfer aborted.' : '226 Transfer complete.');
  await withPair(HOSTS, pair(lingering(120, final, said)), async (p) => {
    await warmUp(p);
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    // b's [PASV, STOR] goes out before a's 426 arrives.
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    await assert.rejects(a.published!, (err: Error) => /426/.test(err.message) && isTransient(err));
    assert.ok(arrival(p.dst.sessions.flatMap((s) => s.arrivals), `STOR ${part('b.bin')}`) < said.get('/out/a.bin')!, "b's STOR before a's 426");
    const c = await p.copy('c.bin', MIRROR);
    p.release();
    const again = await p.copy('a.bin', { ...MIRROR, more: false });
    p.release();
    await Promise.all([b.published, c.published, again.published]);
    assert.equal(aTries, 2);
    // a was renamed once, by its retry; b went on over the same source connection.
    assert.deepEqual(p.dst.sent('RNTO'), ['RNTO /in/w.bin', 'RNTO /in/b.bin', 'RNTO /in/c.bin', 'RNTO /in/a.bin']);
    assert.deepEqual(p.dst.sent('RNFR').filter((c) => c.includes('a.bin')).length, 1);
    assert.equal(p.src.sessions.length, 1, 'the source connection was kept (its replies are in step)');
    assert.ok(p.dst.sent('DELE').includes(`DELE ${part('a.bin')}`), "a's temporary deleted");
    for (const [name, data] of [['a.bin', A], ['b.bin', B], ['c.bin', C]] as const) assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin', '/in/c.bin', '/in/w.bin']);
  });
});

test("the source silent after the destination's 226: the copy-check timeout fails that file and the next one (transient), nothing is renamed, no PORT goes to the silent source", async () => {
  const said = new Map<string, number>();
  let silent = true;
  const final = (name: string) => (silent && name !== '/out/w.bin' ? undefined : '226 Transfer complete.');
  await withPair(HOSTS, pair(lingering(0, final, said), { copyCheckMs: 400 }), async (p) => {
    await warmUp(p);
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const began = Date.now();
    const b = p.copy('b.bin', MIRROR);
    await assert.rejects(b, (err: Error) => isTransient(err));
    p.release();
    await assert.rejects(a.published!, (err: Error) => /no reply to RETR within/.test(err.message) && isTransient(err));
    assert.ok(Date.now() - began < 3000, 'judged by the copy-check timeout');
    assert.deepEqual(p.dst.sent('RNFR', 'RNTO'), [`RNFR ${part('w.bin')}`, 'RNTO /in/w.bin'], 'nothing renamed but the warm-up file');
    const first = p.src.sessions[0];
    assert.deepEqual(first.commands.filter((c) => c.startsWith('PORT ')).length, 2, 'no PORT for b on the silent source');
    for (let i = 0; i < 100 && !first.socket.destroyed; i++) await sleep(10);
    assert.ok(first.socket.destroyed, 'the silent source connection was closed');
    for (let i = 0; i < 100 && p.dst.tree.get(part('a.bin')); i++) await sleep(10);
    assert.equal(p.dst.tree.get(part('a.bin')), undefined, "a's temporary deleted");
    assert.equal(p.dst.tree.get('/in/a.bin'), undefined);
    silent = false;
    const results = [];
    for (const name of ['a.bin', 'b.bin']) {
      results.push(await p.copy(name, { ...MIRROR, more: name === 'a.bin' }));
      p.release();
    }
    for (const r of results) await r.published;
    for (const [name, data] of [['a.bin', A], ['b.bin', B]] as const) assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin', '/in/w.bin']);
  });
});

test("another user of the source connection while its 226 is owed (an MDTM, as a LIST source's walker sends) waits for it: nothing reaches the source during its transfer", async () => {
  const said = new Map<string, number>();
  await withPair(HOSTS, pair(lingering(150, () => '226 Transfer complete.', said)), async (p) => {
    await warmUp(p);
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    // The pool's one source connection, back in the pool before the source's 226 for a.
    assert.equal(said.get('/out/a.bin'), undefined, "copy a returned before the source's 226");
    const time = await p.pools[0].use((c) => c.mdtm('/out/b.bin'));
    assert.ok(time instanceof Date);
    const mdtm = arrival(p.src.sessions.flatMap((s) => s.arrivals), 'MDTM /out/b.bin');
    assert.ok(mdtm >= said.get('/out/a.bin')!, `MDTM at ${mdtm}, the source's 226 for a at ${said.get('/out/a.bin')}`);
    assert.equal(p.src.sessions.length, 1);
    await a.published;
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
  });
});

test("a connection's first file finishes one transfer later too, its MFMT a guess; refused, the method is learned over the pool, the file is published without its time and the result says so", async () => {
  const said = new Map<string, number>();
  const options = pair(lingering(0, () => '226 Transfer complete.', said));
  options.dst = { ...options.dst, handlers: { MFMT: () => '502 MFMT not implemented.' } };
  await withPair(HOSTS, options, async (p) => {
    const a = await p.copy('a.bin', MIRROR);
    p.release();
    const b = await p.copy('b.bin', MIRROR);
    p.release();
    await Promise.all([a.published, b.published]);
    // a's SIZE and guessed MFMT rode with b's PASV+STOR; the refusal did not fail a.
    const reads = p.dst.sessions.flatMap((s) => s.reads.map((r) => r.join('|')));
    assert.ok(reads.includes([`SIZE ${part('a.bin')}`, `MFMT 20240301102030 ${part('a.bin')}`, 'PASV', `STOR ${part('b.bin')}`].join('|')), JSON.stringify(reads));
    assert.equal(a.mtimeSet, false, 'a: the result says the time was not set');
    assert.equal(b.mtimeSet, false);
    // Guessed for a and b (b finished before a's refusal was answered), tried once more while learning.
    assert.equal(p.dst.sent('MFMT').length, 3);
    // Learned: c gets no MFMT, and finishes at once (no method to ride with the next transfer).
    const c = await p.copy('c.bin', MIRROR);
    p.release();
    await c.published;
    assert.equal(p.dst.sent('MFMT').length, 3);
    assert.equal(c.mtimeSet, false);
    assert.equal(p.of('warn').filter((e) => /cannot set modification times/.test(e.message ?? '')).length, 1);
    assert.deepEqual(p.dst.sent('RNTO'), ['RNTO /in/a.bin', 'RNTO /in/b.bin', 'RNTO /in/c.bin']);
    for (const [name, data] of [['a.bin', A], ['b.bin', B], ['c.bin', C]] as const) assert.ok(p.dst.tree.read(`/in/${name}`)?.equals(data), name);
  });
});
