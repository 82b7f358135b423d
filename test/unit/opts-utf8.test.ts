/**
 * The login's OPTS UTF8 ON (RFC 2640 §3.1) costs no round trip of its own
 * (session.ts): it goes out in the write of the connection's first command,
 * and its reply, whatever it is and however late, is read before that
 * command's. A 1xx mark to it closes the connection rather than hand a reply
 * to the wrong command. Addresses 127.0.75.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FtpConnection } from '../../src/ftp/connection.js';
import { DEFAULT_FEATURES, ScriptedFtpServer, type Handler } from '../support/index.js';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const s of open) await s.close();
});

async function server(last: number, opts?: Handler, features?: string[]): Promise<ScriptedFtpServer> {
  const srv = await ScriptedFtpServer.start({ host: `127.0.75.${last}`, files: { '/d/a': 'xyz' }, features });
  if (opts !== undefined) srv.on('OPTS', opts);
  open.push(srv);
  return srv;
}

/** Log in, then ask PWD and SIZE: each must get its own reply. */
async function firstCommands(srv: ScriptedFtpServer): Promise<{ pwd: string; size: number }> {
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    const [pwd, size] = await Promise.all([conn.pwd(), conn.size('/d/a')]);
    return { pwd, size };
  } finally {
    await conn.close();
  }
}

for (const [name, last, handler] of [
  ['accepted (200)', 1, undefined],
  ['refused (501, as pyftpdlib does)', 2, '501 Invalid argument.'],
  ['answered with a multi-line reply', 3, ['200-UTF8 set to on', ' first continuation line', '200 done']],
  ['answered late (300 ms)', 4, async (ctx) => {
    await sleep(300);
    ctx.reply('200 UTF8 on, eventually.');
  }],
] as [string, number, Handler | undefined][]) {
  test(`OPTS UTF8 ON ${name}: it rides with the first command and every reply goes to its own command`, async () => {
    const srv = await server(last, handler);
    assert.deepEqual(await firstCommands(srv), { pwd: '/', size: 3 });
    const reads = srv.sessions[0].reads;
    assert.deepEqual(reads.slice(0, 2), [
      ['USER user', 'PASS pass'],
      ['FEAT', 'TYPE I'],
    ]);
    assert.deepEqual(reads[2].slice(0, 2), ['OPTS UTF8 ON', 'PWD'], JSON.stringify(reads));
  });
}

test('a server that does not advertise UTF8 is not sent OPTS', async () => {
  const srv = await server(5, undefined, DEFAULT_FEATURES.filter((f) => f !== 'UTF8'));
  assert.deepEqual(await firstCommands(srv), { pwd: '/', size: 3 });
  assert.deepEqual(srv.sent('OPTS'), []);
});

test('a 1xx mark to OPTS: the connection is closed as out of step, no command is given a reply meant for another', async () => {
  const srv = await server(6, ['150 what?', '200 ok']);
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    await assert.rejects(conn.pwd(), /out of step/);
    assert.ok(conn.closed);
  } finally {
    await conn.close();
  }
});
