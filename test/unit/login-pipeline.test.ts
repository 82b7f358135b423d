/**
 * A login is one round trip for USER and PASS (written together), one for
 * FEAT and TYPE I: the scripted server records what arrived in one read.
 * The odd answers stay in step: a server that needs no password, one that
 * refuses the user and hangs up. Addresses 127.0.97.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection } from '../../src/ftp/connection.js';
import { isTooManyConnections } from '../../src/ftp/pool.js';
import { ScriptedFtpServer } from '../support/index.js';

async function withServer(fn: (srv: ScriptedFtpServer) => Promise<void>): Promise<void> {
  const srv = await ScriptedFtpServer.start({ host: '127.0.97.1', files: { '/d/a': 'x' } });
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

test('USER and PASS arrive in one write, FEAT and TYPE I in the next; the password never in the wire log', async () => {
  await withServer(async (srv) => {
    const wire: string[] = [];
    const conn = await FtpConnection.connect(srv.clientOptions(), { wireLog: (d, l) => wire.push(`${d} ${l}`) });
    await conn.close();
    assert.deepEqual(srv.sessions[0].reads.slice(0, 2), [
      ['USER user', 'PASS pass'],
      ['FEAT', 'TYPE I'],
    ]);
    assert.ok(wire.includes('> PASS ***'), wire.join('\n'));
    assert.ok(!wire.some((l) => l.includes('pass') && l.startsWith('> PASS') && !l.endsWith('***')));
  });
});

test('a server that needs no password (230 to USER, 503 to PASS): logged in, and the next command gets its own reply', async () => {
  await withServer(async (srv) => {
    srv.on('USER', (ctx) => {
      ctx.session.loggedIn = true;
      ctx.reply('230 Welcome, no password needed.');
    });
    srv.on('PASS', '503 Already logged in.');
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      assert.equal(await conn.pwd(), '/');
      assert.deepEqual((await conn.list('/d')).entries.map((e) => e.name), ['a']);
    } finally {
      await conn.close();
    }
  });
});

test('421 to USER and the connection closed before PASS is answered: "too many connections", not a lost connection', async () => {
  await withServer(async (srv) => {
    srv.on('USER', (ctx) => {
      ctx.reply('421 Too many connections from your address.');
      ctx.close();
    });
    const err = await FtpConnection.connect(srv.clientOptions()).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.ok(isTooManyConnections(err), String(err));
  });
});

test('a wrong password is still a login refusal (530 to the pipelined PASS)', async () => {
  await withServer(async (srv) => {
    await assert.rejects(FtpConnection.connect(srv.clientOptions({ password: 'wrong' })), { code: 'ELOGIN' });
    assert.deepEqual(srv.sessions[0].reads[0], ['USER user', 'PASS wrong']);
  });
});
