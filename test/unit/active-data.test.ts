/**
 * fxpmirror's own data connections in active mode (--active: listings,
 * relay), against a scripted server that misbehaves as real ones do. ftp-srv
 * connects to our PORT at once, from whatever source address the kernel picks
 * (127.0.0.1 beside a server on 127.0.x.y), so we refuse that connection as
 * foreign, and it answers 150 and then 226 for an empty transfer; and a
 * server may answer a transfer command with a 2xx and never connect.
 * Neither may leave a listening socket behind (the process would never
 * exit) or a reply unread on the control connection (it would answer our
 * next command: a PORT that "succeeds" with a stale 226).
 * Addresses 127.0.84.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FtpConnection } from '../../src/ftp/connection.js';
import { isTransient } from '../../src/ftp/errors.js';
import { ScriptedFtpServer, type CommandContext } from '../support/index.js';

const HOST = '127.0.84.1';
/** Not the server's address: a data connection from here is foreign. */
const FOREIGN = '127.0.84.9';

/** Where the last PORT of this session asked the server to connect. */
function portTarget(ctx: CommandContext): { host: string; port: number } {
  const line = [...ctx.session.commands].reverse().find((c) => /^PORT /i.test(c))!;
  const n = line.slice(5).split(',').map(Number);
  return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] };
}

/** Whether anything still listens at `t`. */
function listening(t: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(t);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * `fn` with an active-mode connection to a scripted server whose MLSD is
 * `mlsd`; `target` is where its last PORT pointed (our data port).
 */
async function withActive(mlsd: (ctx: CommandContext) => Promise<string | void> | string, fn: (conn: FtpConnection, target: () => { host: string; port: number }) => Promise<void>): Promise<void> {
  let target: { host: string; port: number } | undefined;
  const srv = await ScriptedFtpServer.start({
    host: HOST,
    files: { '/d/': '' },
    handlers: {
      MLSD(ctx) {
        target = portTarget(ctx);
        return mlsd(ctx);
      },
    },
  });
  const conn = await FtpConnection.connect(srv.clientOptions({ dataMode: 'active', timeouts: { connect: 3000, command: 3000, data: 500 } }));
  try {
    await fn(conn, () => target!);
  } finally {
    await conn.close();
    await srv.close();
  }
}

test('a data connection from a foreign address is refused; the 150 and 226 that follow never answer a later command', async () => {
  const ftpSrv = async (ctx: CommandContext) => {
    // ftp-srv: the connection comes first, from the wrong address; we drop it.
    const s = net.connect({ ...portTarget(ctx), localAddress: FOREIGN });
    await new Promise((r) => s.once('close', r)).finally(() => s.destroy());
    ctx.reply('150 File status okay; about to open data connection');
    return '226 /d';
  };
  await withActive(ftpSrv, async (conn, target) => {
    const err = await conn.list('/d').catch((e: unknown) => e);
    assert.ok(isTransient(err), String(err));
    assert.match(String(err), /did not connect to our data port/);
    // Its 226 would have been read as the reply to our next command: the connection is closed instead.
    assert.equal(conn.closed, true);
    assert.equal(await listening(target()), false, 'our data port still listens');
  });
});

test('a transfer command answered with a 2xx at once: nothing to read, and our data port is closed', async () => {
  await withActive(
    () => '226 No files.',
    async (conn, target) => {
      assert.deepEqual((await conn.list('/d')).entries, []);
      assert.equal(await listening(target()), false, 'our data port still listens: the process would never exit');
      assert.equal(await conn.pwd(), '/');
    },
  );
});
