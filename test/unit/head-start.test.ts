/**
 * A passive destination that marks STOR at once (pyftpdlib: it drops data
 * that arrives before it has processed STOR) with an active source that
 * answers PORT at once and connects only on RETR (proftpd): STOR goes out,
 * and PORT+RETR follow after a head start when the round trips make that
 * safe, instead of a round trip waiting for the mark (fxp/transfer.ts).
 * Scripted servers that say they are proftpd and pyftpdlib; an emulated
 * round trip (latencyMs) where the head start applies. Plus the pure rule,
 * the ftp layer's pipelineEach and round-trip estimate, and the work
 * queue's slot handed on for good.
 * Addresses 127.0.85.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FtpError, FtpReplyError } from '../../src/ftp/errors.js';
import type { FtpReply } from '../../src/ftp/reply.js';
import { headStartMs } from '../../src/fxp/transfer.js';
import { WorkQueue } from '../../src/tree/queue.js';
import { ScriptedFtpServer, withPair, type CommandContext, type Handler, type PairOptions } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.85.1', '127.0.85.2'];
const A = Buffer.from(Array.from({ length: 120_000 }, (_, i) => i % 249));
const B = Buffer.from('b'.repeat(9000));
const PROFTPD = '220 ProFTPD 1.3.8 Server (scripted)';
const PYFTPDLIB = '220 pyftpdlib 1.5.7 ready.';

function pair(latencyMs: number, stor?: Handler): PairOptions {
  return {
    src: { files: { '/out/a.bin': A, '/out/b.bin': B }, greeting: PROFTPD, latencyMs },
    dst: { greeting: PYFTPDLIB, latencyMs, handlers: stor ? { STOR: stor } : {} },
    policy: { passive: 'destination' },
    // Room for the emulated round trips.
    timings: { markGraceMs: 1000, copyCheckMs: 600 },
  };
}

/** When a line starting with `prefix` arrived at `srv` (the n-th such line). */
function arrival(srv: ScriptedFtpServer, prefix: string, n = 0): number {
  const hits = srv.sessions.flatMap((s) => s.arrivals).filter((a) => a.line.startsWith(prefix));
  assert.ok(hits[n], `${prefix} #${n} never arrived: ${srv.commands.join(' | ')}`);
  return hits[n].at;
}

/** STOR whose 150 comes `ms` late, then the default transfer. */
const lateMark =
  (ms: number) =>
  async (ctx: CommandContext): Promise<void> => {
    await sleep(ms);
    await ctx.fallback();
  };

test('headStartMs: a quarter of the destination round trip (5 ms at least), plus what a farther destination needs; none where waiting for the mark is as cheap', () => {
  assert.equal(headStartMs(40, 40), 10);
  assert.equal(headStartMs(20, 40), 20, 'the destination is 10 ms farther one way');
  assert.equal(headStartMs(40, 20), 5);
  assert.equal(headStartMs(100, 100), 25);
  assert.equal(headStartMs(0.3, 0.3), undefined, 'loopback: the mark costs less than the margin');
  assert.equal(headStartMs(5, 60), 43, 'much farther: still less than its round trip');
  assert.equal(headStartMs(1, 6), undefined, 'a few ms away: the 5 ms margin would cost more than the mark');
  assert.equal(headStartMs(undefined, 40), undefined);
  assert.equal(headStartMs(40, undefined), undefined);
});

test('40 ms round trips: PORT+RETR go to the source a head start after STOR, not after the destination\'s 150', async () => {
  await withPair(HOSTS, pair(40, lateMark(400)), async (p) => {
    const a = await p.copy('a.bin');
    assert.equal(a.mode, 'fxp-reversed');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    const stor = arrival(p.dst, 'STOR ');
    const retr = arrival(p.src, 'RETR ');
    const port = arrival(p.src, 'PORT ');
    assert.ok(retr - stor >= 8, `head start kept: RETR ${retr - stor} ms after STOR`);
    assert.ok(retr - stor < 300, `the 150 (400 ms late) was not waited for: RETR ${retr - stor} ms after STOR`);
    assert.ok(retr - port < 5, 'PORT and RETR in one write');
    const rtt = p.pools[1].state.rttMs!;
    assert.ok(rtt >= 39 && rtt < 120, `round trip estimated: ${rtt} ms`);
  });
});

test('loopback round trips: the destination\'s 150 is waited for before PORT+RETR (the head start would not be safe)', async () => {
  await withPair(HOSTS, pair(0, lateMark(200)), async (p) => {
    await p.copy('a.bin');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    const gap = arrival(p.src, 'RETR ') - arrival(p.dst, 'STOR ');
    assert.ok(gap >= 180, `RETR ${gap} ms after STOR: after the 150`);
  });
});

test('a transfer given only a head start fails: from then on that server\'s mark is waited for', async () => {
  let stors = 0;
  // The first STOR behaves as pyftpdlib does when data came early: it marks, then never answers.
  const dropFirst: Handler = async (ctx) => {
    if (stors++ > 0) return lateMark(200)(ctx);
    ctx.reply('150 File status okay. About to open data connection.');
  };
  await withPair(HOSTS, pair(40, dropFirst), async (p) => {
    // Silence and nothing written would be a refusal; after a head start it is only transient (no fallback).
    await assert.rejects(p.copy('a.bin'), (err: FtpError) => err.transient && /STOR went \d+ ms ahead of RETR; the next try waits for its mark\)$/.test(err.message));
    assert.deepEqual(p.of('fallback'), []);
    p.release();
    await p.copy('b.bin');
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    const gap = arrival(p.src, 'RETR ', 1) - arrival(p.dst, 'STOR ', 1);
    assert.ok(gap >= 180, `RETR ${gap} ms after STOR: the 150 was waited for`);
  });
});

test('pipelineEach: replies pair with their commands though more went out before they came; a refusal is a result; rttMs is learned', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.85.3', latencyMs: 30, handlers: { SYST: { delayMs: 80, reply: '215 UNIX Type: L8' }, NOOP: '421 not now' } });
  const c = await FtpConnection.connect(srv.clientOptions());
  try {
    const [syst, noop] = c.pipelineEach([['SYST'], ['NOOP']]);
    const pwd = await c.request('PWD');
    assert.match(pwd.message, /"\/"/);
    assert.equal(((await syst) as FtpReply).code, 215);
    const refused = await noop;
    assert.ok(refused instanceof FtpReplyError && refused.replyCode === 421 && refused.command === 'NOOP');
    assert.ok(c.state.rttMs! >= 29 && c.state.rttMs! < 100, `rttMs ${c.state.rttMs}`);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('pipelineEach: a 1xx mark where one reply was due closes the connection; every pending reply is that error', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.85.3', handlers: { SYST: '150 here comes nothing' } });
  const c = await FtpConnection.connect(srv.clientOptions());
  try {
    const results = await Promise.all(c.pipelineEach([['SYST'], ['NOOP'], ['PWD']]));
    assert.ok(results.every((r) => r instanceof FtpError && /out of step/.test(r.message)), results.map(String).join('\n'));
    assert.ok(c.closed);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('WorkQueue: a task that hands its slot back for good (it only waits now) lets the next start, and the limit still holds', async () => {
  const q = new WorkQueue('transfers', 1, 10);
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  let answer!: () => void;
  const replies = new Promise<void>((r) => (answer = r));
  q.push(async (slot) => {
    order.push('a work');
    slot.release();
    await replies;
    order.push('a done');
  });
  for (const name of ['b', 'c']) {
    q.push(async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(10);
      order.push(name);
      running--;
    });
  }
  await sleep(40);
  assert.deepEqual(order, ['a work', 'b', 'c']);
  answer();
  await q.drain();
  assert.deepEqual(order, ['a work', 'b', 'c', 'a done']);
  assert.equal(peak, 1);
  // The slot was not given back twice: one more task still runs alone.
  let alone = 0;
  q.push(async () => void (alone = running));
  q.push(async () => undefined);
  await q.drain();
  assert.equal(alone, 0);
});
