/**
 * The control channel writes the commands of one turn of the event loop in
 * one write (channel.ts, queueWrite): on loopback every write runs the
 * server's TCP receive in the client's process. Order, the CR/LF/NUL check
 * and a close right after a send are as before. Replies on a plain socket
 * come through its inbox (socket.ts). Addresses 127.0.93.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FtpError } from '../../src/ftp/errors.js';
import { SocketInbox } from '../../src/ftp/socket.js';
import { ScriptedFtpServer } from '../support/index.js';

async function withConnection(fn: (conn: FtpConnection, srv: ScriptedFtpServer, writes: string[]) => Promise<void>): Promise<void> {
  const srv = await ScriptedFtpServer.start({ host: '127.0.93.1', files: { '/d/a': 'x' } });
  const conn = await FtpConnection.connect(srv.clientOptions());
  // Every write the channel hands its socket, as it hands it.
  const writes: string[] = [];
  const socket = conn.channel.rawSocket;
  const write = socket.write.bind(socket);
  socket.write = (chunk: string | Uint8Array): boolean => {
    writes.push(String(chunk));
    return write(chunk);
  };
  try {
    await fn(conn, srv, writes);
  } finally {
    await conn.close();
    await srv.close();
  }
}

test('commands sent in one turn go out in one write, in order, and each gets its own reply', async () => {
  await withConnection(async (conn, srv, writes) => {
    await conn.exclusive(async () => {
      conn.send('NOOP');
      conn.sendBatch([['CWD', '/d'], ['PWD']]);
      conn.send('SIZE', '/d/a');
      assert.deepEqual(writes, [], 'nothing is written before the turn ends');
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await conn.reply()).code);
      assert.deepEqual(codes, [200, 250, 257, 213]);
    });
    // The login's OPTS UTF8 ON is not waited for: it rides with the first command (session.ts).
    assert.deepEqual(writes, ['OPTS UTF8 ON\r\nNOOP\r\nCWD /d\r\nPWD\r\nSIZE /d/a\r\n']);
    const session = srv.sessions[0];
    assert.deepEqual(session.reads.at(-1), ['OPTS UTF8 ON', 'NOOP', 'CWD /d', 'PWD', 'SIZE /d/a']);
  });
});

test('a command sent after a wait goes out in a write of its own', async () => {
  await withConnection(async (conn, _srv, writes) => {
    await conn.exclusive(async () => {
      conn.send('NOOP');
      await sleep(5);
      conn.send('PWD');
      assert.equal((await conn.reply()).code, 200);
      assert.equal((await conn.reply()).code, 257);
    });
    assert.deepEqual(writes, ['OPTS UTF8 ON\r\nNOOP\r\n', 'PWD\r\n']);
  });
});

test('a line with CR or LF is refused at send and nothing of the turn is lost or reordered', async () => {
  await withConnection(async (conn, _srv, writes) => {
    await conn.exclusive(async () => {
      conn.send('NOOP');
      // The error names the command, never the argument (it may be a password).
      assert.throws(() => conn.send('CWD', '/d\r\nDELE /d/a'), (e: unknown) => e instanceof FtpError && e.message === 'refusing CWD argument: the value contains a carriage return (CR) and a line feed (LF)');
      assert.throws(() => conn.sendBatch([['PWD'], ['CWD', '/d\u0000x']]), (e: unknown) => e instanceof FtpError && e.message === 'refusing CWD argument: the value contains a NUL byte');
      // A whole line is checked again in the channel, named by its verb.
      assert.throws(() => conn.channel.sendBatch(['PWD', 'PASS se\ncret']), (e: unknown) => e instanceof FtpError && e.message === 'refusing command PASS: the value contains a line feed (LF)');
      assert.throws(() => conn.channel.send('pass se\rcret'), (e: unknown) => e instanceof FtpError && e.message === 'refusing command PASS: the value contains a carriage return (CR)');
      conn.send('PWD');
      assert.equal((await conn.reply()).code, 200);
      assert.equal((await conn.reply()).code, 257);
    });
    assert.deepEqual(writes, ['OPTS UTF8 ON\r\nNOOP\r\nPWD\r\n']);
  });
});

test('a command sent right before the connection is closed still reaches the server', async () => {
  await withConnection(async (conn, srv) => {
    conn.channel.send('NOOP');
    conn.destroy();
    const session = srv.sessions[0];
    for (let i = 0; i < 100 && !session.arrivals.some((a) => a.line === 'NOOP'); i++) await sleep(10);
    assert.ok(session.arrivals.some((a) => a.line === 'NOOP'), session.arrivals.map((a) => a.line).join(', '));
    // Nothing goes out after the close: a send now throws the close's cause.
    assert.throws(() => conn.channel.send('PWD'), FtpError);
  });
});

test('a plain control socket reads through its inbox: bytes that came before the channel took it are kept, copied out of the reused buffer', () => {
  const inbox = new SocketInbox();
  const { buffer, callback } = inbox.onread;
  buffer.write('220 rea', 0, 'latin1');
  assert.equal(callback(7, buffer), true, 'the socket keeps reading');
  // The same buffer is reused for the next read.
  buffer.write('dy\r\n200', 0, 'latin1');
  callback(4, buffer);
  const got: string[] = [];
  inbox.receive((chunk) => got.push(chunk.toString('latin1')));
  assert.deepEqual(got, ['220 rea', 'dy\r\n']);
  buffer.write(' OK\r\n', 0, 'latin1');
  callback(5, buffer);
  assert.deepEqual(got, ['220 rea', 'dy\r\n', ' OK\r\n']);
});
