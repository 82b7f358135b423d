/**
 * The scripted FTP server (test/support) proves itself against the real
 * src/ftp FtpConnection: login, replies cut into pieces, multi-line replies,
 * passive and active data connections with real bytes, STOR into its tree,
 * refusals, an endless listing, and the recording listener.
 * Addresses 127.0.77.x, port 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { FtpConnection, type DataStream } from '../../src/ftp/connection.js';
import { FtpReplyError } from '../../src/ftp/errors.js';
import { containedPath } from '../../src/ftp/remote-path.js';
import { ScriptedFtpServer, endlessListing, startRecordingListener } from '../support/index.js';

const HOST = '127.0.77.1';

async function withServer(opts: Parameters<typeof ScriptedFtpServer.start>[0], fn: (srv: ScriptedFtpServer) => Promise<void>): Promise<void> {
  const srv = await ScriptedFtpServer.start({ host: HOST, ...opts });
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

test('login: greeting, USER/PASS, FEAT (with TYPE I in the same write) read into features; every command recorded', async () => {
  await withServer({ greeting: '220 hello from the script', features: ['MLST type*;size*;', 'SIZE', 'UTF8'] }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      assert.equal(conn.greeting, 'hello from the script');
      assert.equal(conn.features.mlsd, true);
      assert.equal(conn.features.mdtm, false);
      assert.equal(await conn.pwd(), '/');
    } finally {
      await conn.close();
    }
    assert.deepEqual(srv.sessions[0].commands, ['USER user', 'PASS pass', 'FEAT', 'TYPE I', 'OPTS UTF8 ON', 'PWD', 'QUIT']);
    // TYPE I travels with FEAT: one round trip for both.
    assert.ok(srv.sessions[0].reads.some((g) => g.join() === 'FEAT,TYPE I'), JSON.stringify(srv.sessions[0].reads));
  });
});

test('TYPE I refused at login: the first listing asks for it again', async () => {
  await withServer({ files: { '/d/a': 'x' } }, async (srv) => {
    let types = 0;
    srv.on('TYPE', (ctx) => (++types === 1 ? ctx.reply('504 not now') : ctx.fallback()));
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      assert.deepEqual((await conn.list('/d')).entries.map((e) => e.name), ['a']);
      assert.deepEqual((await conn.list('/d')).entries.map((e) => e.name), ['a']);
    } finally {
      await conn.close();
    }
    assert.deepEqual(srv.sent('TYPE'), ['TYPE I', 'TYPE I']);
  });
});

test('a wrong password is refused with 530', async () => {
  await withServer({ password: 'right' }, async (srv) => {
    await assert.rejects(FtpConnection.connect(srv.clientOptions({ password: 'wrong' })), { code: 'ELOGIN' });
  });
});

test('a reply cut into pieces (mid-code, mid-text, CR apart from LF) is read as one reply', async () => {
  const pieces = ['3', '31 Pass', 'word please\r', '\n'];
  await withServer(
    {
      handlers: {
        async USER(ctx) {
          ctx.session.user = ctx.arg;
          for (const p of pieces) {
            ctx.write(p);
            await new Promise((r) => setTimeout(r, 15));
          }
        },
      },
    },
    async (srv) => {
      const conn = await FtpConnection.connect(srv.clientOptions());
      await conn.close();
      assert.deepEqual(srv.sessions[0].commands.slice(0, 2), ['USER user', 'PASS pass']);
    },
  );
});

test('a multi-line reply reaches the caller whole, and a delayed reply is waited for', async () => {
  await withServer({}, async (srv) => {
    srv.on('NOOP', { delayMs: 100, reply: ['200-first line', ' second line', '200-third', '200 last'] });
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      const r = await conn.noop();
      assert.equal(r.code, 200);
      assert.deepEqual(r.lines, ['200-first line', ' second line', '200-third', '200 last']);
      assert.equal(r.message, 'first line\n second line\nthird\nlast');
    } finally {
      await conn.close();
    }
  });
});

test('garbage greetings: a 999 code, a 000 code and text that is no reply reach the client as such', async () => {
  for (const greeting of ['999 what', '000 nothing']) {
    await withServer({ greeting }, async (srv) => {
      await assert.rejects(FtpConnection.connect(srv.clientOptions()), (err: Error) => err.message.includes(greeting.slice(0, 3)) || err instanceof FtpReplyError);
    });
  }
  await withServer({ greeting: Buffer.from('SSH-2.0-OpenSSH_9.2\r\n') }, async (srv) => {
    await assert.rejects(FtpConnection.connect(srv.clientOptions()), { code: 'EBADREPLY' });
  });
});

test('PASV + RETR: real bytes over a real passive data connection, recorded with its peer', async () => {
  const data = Buffer.alloc(300_000, 'x');
  await withServer({ files: { '/pub/big.bin': data } }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      const got = await conn.exclusive(async () => {
        const d = await conn.openData('RETR', '/pub/big.bin');
        const bytes = await readAll(d.socket);
        await d.finish();
        return bytes;
      });
      assert.ok(got.equals(data));
    } finally {
      await conn.close();
    }
    assert.deepEqual(srv.sent('PASV', 'RETR'), ['PASV', 'RETR /pub/big.bin']);
    assert.equal(srv.dataConnections.length, 1);
    assert.deepEqual({ ...srv.dataConnections[0], remotePort: 0, localPort: 0 }, {
      session: 1, mode: 'passive', remoteAddress: srv.sessions[0].remoteAddress, remotePort: 0, localAddress: HOST, localPort: 0, command: 'RETR /pub/big.bin',
    });
  });
});

test('a PASV reply can advertise any address while the listener stays where the test says', async () => {
  await withServer({ pasvAddress: '10.1.2.3' }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      const r = await conn.cmd('PASV');
      assert.match(r.message, /\(10,1,2,3,\d+,\d+\)/);
      // The client replaced the address with the control peer's and still got the listing.
      assert.deepEqual(await conn.list('/'), { entries: [], rejected: [] });
    } finally {
      await conn.close();
    }
  });
});

test('STOR: the bytes land in the tree; MLSD and LIST list them', async () => {
  await withServer({ files: { '/up/': '' } }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      await conn.exclusive(async () => {
        const d: DataStream = await conn.openData('STOR', containedPath('/up', 'new.txt'));
        await new Promise<void>((r) => d.socket.end('stored bytes\n', r));
        await d.finish();
      });
      assert.equal(srv.tree.read('/up/new.txt')?.toString(), 'stored bytes\n');
      assert.deepEqual((await conn.list('/up')).entries.map((e) => [e.name, e.type, e.size]), [['new.txt', 'file', 13]]);
      srv.options.features = ['SIZE'];
      conn.state.listing = 'LIST';
      assert.deepEqual((await conn.list('/up')).entries.map((e) => [e.name, e.type, e.size]), [['new.txt', 'file', 13]]);
      const up = (name: string) => containedPath('/up', name);
      await conn.rename(up('new.txt'), up('renamed.txt'));
      await conn.mkdir(up('sub'));
      assert.deepEqual(srv.tree.paths(), ['/up', '/up/renamed.txt', '/up/sub']);
      await conn.delete(up('renamed.txt'));
      await conn.rmdir(up('sub'));
      assert.deepEqual(srv.tree.paths(), ['/up']);
    } finally {
      await conn.close();
    }
  });
});

test('a 425 on RETR reaches the caller as FtpReplyError 425', async () => {
  await withServer({ files: { '/a.txt': 'a' } }, async (srv) => {
    srv.on('RETR', "425 Can't open data connection.");
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      await assert.rejects(
        conn.exclusive(() => conn.openData('RETR', '/a.txt')),
        (err: unknown) => err instanceof FtpReplyError && err.replyCode === 425,
      );
    } finally {
      await conn.close();
    }
  });
});

test('active mode: the server really connects to the PORT address', async () => {
  await withServer({ files: { '/d/f.txt': 'f' } }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions({ dataMode: 'active' }));
    try {
      assert.deepEqual((await conn.list('/d')).entries.map((e) => e.name), ['f.txt']);
    } finally {
      await conn.close();
    }
    assert.equal(srv.sent('PORT').length, 1);
    assert.equal(srv.dataConnections[0].mode, 'active');
    assert.equal(srv.dataConnections[0].localAddress, HOST);
    assert.equal(srv.dataConnections[0].remoteAddress, srv.sessions[0].remoteAddress);
  });
});

test('PORT to a third address: the recording listener sees who connected and the bytes', async () => {
  const third = await startRecordingListener('127.0.77.2');
  try {
    await withServer({ files: { '/secret.txt': 'file contents' } }, async (srv) => {
      const conn = await FtpConnection.connect(srv.clientOptions());
      try {
        await conn.exclusive(async () => {
          const p = third.port;
          await conn.request('PORT', `127,0,77,2,${p >> 8},${p & 255}`);
          const r = await conn.request('RETR', '/secret.txt');
          assert.equal(r.code, 226);
        });
      } finally {
        await conn.close();
      }
    });
    assert.equal(third.connections.length, 1);
    assert.equal(third.connections[0].remoteAddress, HOST);
    assert.equal(third.connections[0].bytes.toString(), 'file contents');
  } finally {
    await third.close();
  }
});

test('an endless MLSD streams until the client closes; the server then answers 426', async () => {
  await withServer({ listing: (verb) => (verb === 'MLSD' ? endlessListing() : undefined) }, async (srv) => {
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      const reply = await conn.exclusive(async () => {
        const d = await conn.openData('MLSD', '/');
        let n = 0;
        await new Promise<void>((resolve) => {
          d.socket.on('data', (c: Buffer) => {
            n += c.length;
            if (n > 5_000_000) {
              d.socket.destroy();
              resolve();
            }
          });
        });
        return d.finish().catch((e: unknown) => e);
      });
      assert.ok(reply instanceof FtpReplyError && reply.replyCode === 426, String(reply));
    } finally {
      await conn.close();
    }
  });
});
