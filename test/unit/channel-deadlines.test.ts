/**
 * Reply deadlines with one timer per control channel (channel.ts, armTimer):
 * each waiter still gets its own deadline, counted from when it started
 * waiting, whatever the waiters before it had; a missed one closes the
 * connection with its own message. Addresses 127.0.93.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FtpTimeoutError } from '../../src/ftp/errors.js';
import { ScriptedFtpServer } from '../support/index.js';

async function withConnection(fn: (conn: FtpConnection, srv: ScriptedFtpServer) => Promise<void>): Promise<void> {
  const srv = await ScriptedFtpServer.start({ host: '127.0.93.2' });
  // SITE SILENT is never answered.
  srv.on('SITE', () => undefined);
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    await fn(conn, srv);
  } finally {
    await conn.close();
    await srv.close();
  }
}

/** How long `p` took to reject, and with what. */
async function rejection(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  const err = await p.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - t0 };
}

test('a short deadline after answered replies with long ones fires on time, not at the long one', async () => {
  await withConnection(async (conn) => {
    await conn.exclusive(async () => {
      for (let i = 0; i < 20; i++) await conn.request('NOOP', undefined, { timeoutMs: 30_000 });
      conn.send('SITE', 'SILENT');
      const { err, ms } = await rejection(conn.reply(100, undefined, 'reply to SITE'));
      assert.ok(err instanceof FtpTimeoutError, String(err));
      assert.match((err as Error).message, /no reply to SITE within 100 ms/);
      assert.ok(ms >= 90 && ms < 2000, `took ${ms} ms`);
    });
    assert.ok(conn.closed, 'a missed deadline closes the connection: the replies would be out of step');
  });
});

test('a waiter behind one with a longer deadline fails at its own deadline, and every waiter gets its error', async () => {
  await withConnection(async (conn) => {
    await conn.exclusive(async () => {
      conn.send('SITE', 'SILENT');
      conn.send('SITE', 'SILENT');
      const first = rejection(conn.reply(30_000, undefined, 'reply to first'));
      const second = rejection(conn.reply(150, undefined, 'reply to second'));
      const [a, b] = await Promise.all([first, second]);
      assert.match((b.err as Error).message, /no reply to second within 150 ms/);
      assert.ok(b.ms >= 140 && b.ms < 2000, `took ${b.ms} ms`);
      // The first waiter is rejected by the same close, long before its own deadline.
      assert.equal(a.err, b.err);
    });
  });
});

test('a deadline counts from when the waiter started, not from when the timer was set', async () => {
  await withConnection(async (conn) => {
    await conn.exclusive(async () => {
      // A waiter answered at once arms the timer for 300 ms from now.
      await conn.request('NOOP', undefined, { timeoutMs: 300 });
      await new Promise((r) => setTimeout(r, 200));
      // This one may wait 300 ms from now: it must not fail when the timer fires 100 ms from now.
      conn.send('SITE', 'SILENT');
      const { err, ms } = await rejection(conn.reply(300, undefined, 'reply to SITE'));
      assert.ok(err instanceof FtpTimeoutError, String(err));
      assert.ok(ms >= 290, `failed after ${ms} ms, before its deadline`);
    });
  });
});

test('an abort still ends one wait at once, and the connection with it', async () => {
  await withConnection(async (conn) => {
    await conn.exclusive(async () => {
      conn.send('SITE', 'SILENT');
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const { err, ms } = await rejection(conn.reply(30_000, ac.signal, 'reply to SITE'));
      assert.equal((err as { code?: string }).code, 'EABORTED');
      assert.ok(ms < 2000, `took ${ms} ms`);
    });
    assert.ok(conn.closed);
  });
});
