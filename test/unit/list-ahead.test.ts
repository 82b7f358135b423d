/**
 * Listings in a row on one connection (src/ftp/list-command.ts): on a server
 * known to hold commands during a transfer, a PASV goes out in the same
 * write as each listing command, and the next listing uses its answer; on
 * proftpd the data connection is half-closed at once. Hostile and failing
 * answers keep the conversation in step: a refused listing, garbage in the
 * PASV asked ahead, a data connection cut mid-listing. Addresses 127.0.98.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection } from '../../src/ftp/connection.js';
import { ScriptedFtpServer } from '../support/index.js';
import { closeAll, poolOf, runMirror } from '../support/mirror-rig.js';

const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

const PROFTPD = '220 ProFTPD Server (scripted) [127.0.98.1]';
const T0 = new Date(Date.UTC(2023, 4, 1, 10, 0, 0));

function tree(dirs: string[], root = ''): Record<string, { data: string; mtime: Date }> {
  const out: Record<string, { data: string; mtime: Date }> = {};
  for (const d of dirs) for (const f of ['x', 'y']) out[`${root}/${d}/${f}.txt`] = { data: `${d}/${f} `.repeat(10), mtime: T0 };
  return out;
}

async function server(host: string, greeting?: string, files = tree(['a', 'b', 'c'])): Promise<ScriptedFtpServer> {
  const srv = await ScriptedFtpServer.start({ host, greeting, files });
  open.push(srv);
  return srv;
}

const names = async (conn: FtpConnection, dir: string, more = true) => (await conn.list(dir, { more })).entries.map((e) => e.name);

test('proftpd: each listing asks the next one\'s PASV in the same write, and the next listing uses it', async () => {
  const srv = await server('127.0.98.1', PROFTPD);
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    assert.deepEqual(await names(conn, '/a'), ['x.txt', 'y.txt']);
    assert.deepEqual(await names(conn, '/b'), ['x.txt', 'y.txt']);
    assert.deepEqual(await names(conn, '/c', false), ['x.txt', 'y.txt']);
  } finally {
    await conn.close();
  }
  // The login's OPTS UTF8 ON rides with the first PASV (session.ts): left out here.
  const groups = srv.sessions[0].reads.map((g) => g.filter((l) => !l.startsWith('OPTS'))).filter((g) => g.some((l) => /^(PASV|MLSD)/.test(l)));
  assert.deepEqual(groups, [['PASV'], ['MLSD /a', 'PASV'], ['MLSD /b', 'PASV'], ['MLSD /c']]);
  // Every listing's data connection was its own, and each carried its directory.
  assert.deepEqual(
    srv.dataConnections.map((d) => d.command),
    ['MLSD /a', 'MLSD /b', 'MLSD /c'],
  );
});

test('a server not known to hold commands during a transfer (pyftpdlib, unknown): no PASV ahead', async () => {
  for (const [host, greeting] of [
    ['127.0.98.2', '220 pyftpdlib 1.5.7 ready.'],
    ['127.0.98.3', undefined],
  ] as const) {
    const srv = await server(host, greeting);
    const conn = await FtpConnection.connect(srv.clientOptions());
    try {
      for (const d of ['/a', '/b', '/c']) assert.deepEqual(await names(conn, d), ['x.txt', 'y.txt']);
    } finally {
      await conn.close();
    }
    assert.equal(srv.sent('PASV').length, 3, `${greeting}: one PASV per listing`);
    const reads = srv.sessions[0].reads.map((g) => g.filter((l) => !l.startsWith('OPTS')));
    assert.ok(reads.every((g) => !(g.includes('PASV') && g.length > 1)), JSON.stringify(srv.sessions[0].reads));
  }
});

test('a listing refused after its pipelined PASV: that listing fails, the next gets its own directory', async () => {
  const srv = await server('127.0.98.4', PROFTPD);
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    assert.deepEqual(await names(conn, '/a'), ['x.txt', 'y.txt']);
    // This one uses the PASV asked ahead, sends another behind its MLSD, and is refused.
    await assert.rejects(conn.list('/missing', { more: true }), { code: 'EFTPREPLY', replyCode: 550 });
    assert.deepEqual(await names(conn, '/b'), ['x.txt', 'y.txt']);
    assert.deepEqual(await names(conn, '/c'), ['x.txt', 'y.txt']);
  } finally {
    await conn.close();
  }
  assert.deepEqual(
    srv.dataConnections.filter((d) => d.command).map((d) => d.command),
    ['MLSD /a', 'MLSD /b', 'MLSD /c'],
  );
});

test('garbage answering the PASV asked ahead: not used; the next listing asks its own PASV and is right', async () => {
  const srv = await server('127.0.98.5', PROFTPD);
  let pasv = 0;
  srv.on('PASV', (ctx) => (++pasv === 2 ? ctx.reply('227 no address today') : ctx.fallback()));
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    assert.deepEqual(await names(conn, '/a'), ['x.txt', 'y.txt']);
    assert.deepEqual(await names(conn, '/b'), ['x.txt', 'y.txt']);
  } finally {
    await conn.close();
  }
  assert.deepEqual(srv.sent('PASV', 'MLSD'), ['PASV', 'MLSD /a', 'PASV', 'PASV', 'MLSD /b', 'PASV']);
});

test('mirror: a data connection cut mid-listing (PASV asked ahead behind it) is listed again: nothing copied, the extraneous file deleted only once every listing was whole', async () => {
  const dirs = ['a', 'b', 'c', 'd', 'e', 'f'];
  const src = await server('127.0.98.6', PROFTPD, tree(dirs, '/src'));
  const dst = await server('127.0.98.7', '220 Welcome to Pure-FTPd [privsep]', { ...tree(dirs, '/dst'), '/dst/keep.txt': { data: 'keep', mtime: T0 } });
  let cut = false;
  src.on('MLSD', async (ctx) => {
    if (cut || ctx.arg !== '/src/c') return ctx.fallback();
    cut = true;
    ctx.reply('150 Opening BINARY mode data connection for MLSD');
    const s = await ctx.session.data.open(ctx.line);
    s.destroy();
    ctx.reply('426 Connection closed; transfer aborted.');
  });
  const [srcPool, dstPool] = [poolOf(src), poolOf(dst)];
  open.push(srcPool, dstPool);
  const r = await runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }], options: { delete: true } });
  const [s] = r.summaries;
  assert.ok(cut);
  assert.deepEqual(s.failures, []);
  assert.equal(s.files.transferred, 0);
  assert.equal(s.files.unchanged, 12);
  // keep.txt is extraneous and --delete is on: deleted only because every listing completed.
  assert.equal(s.files.deleted, 1);
  assert.equal(src.sent('MLSD').filter((c) => c === 'MLSD /src/c').length, 2);
});

test('a listing slower than the data timeout, its data flowing: read whole (the final reply waits for the data, not a deadline)', async () => {
  // 40 files with long names: about 5 KB of MLSD at 4 KB/s, against a 400 ms data timeout.
  const files: Record<string, { data: string; mtime: Date }> = {};
  for (let i = 0; i < 40; i++) files[`/slow/${String(i).padStart(2, '0')}-${'n'.repeat(60)}.txt`] = { data: 'x', mtime: T0 };
  for (const [host, greeting] of [
    ['127.0.98.21', PROFTPD],
    ['127.0.98.22', '220 pyftpdlib 1.5.7 ready.'],
  ] as const) {
    const srv = await ScriptedFtpServer.start({ host, greeting, files, dataRate: 4000 });
    open.push(srv);
    const conn = await FtpConnection.connect({ ...srv.clientOptions(), timeouts: { connect: 3000, command: 3000, data: 400 } });
    try {
      const t0 = Date.now();
      assert.equal((await names(conn, '/slow')).length, 40);
      assert.ok(Date.now() - t0 > 800, `took ${Date.now() - t0} ms: not slower than the data timeout, the test proves nothing`);
    } finally {
      await conn.close();
    }
  }
});
