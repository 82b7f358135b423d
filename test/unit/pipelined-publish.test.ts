/**
 * The rename of file n pipelined with file n+1's commands on the same
 * destination connection (fxp/publish.ts), against scripted servers that
 * say they are proftpd (source: connects only on RETR) and pure-ftpd
 * (destination, passive): the copy returns before the rename is answered,
 * the next file's commands reach the server before that answer, and a
 * rename refused or lost then is that file's failure alone, with no part
 * file and no final name left for it. Also a refused pipelined PORT while a
 * rename is still owed, a mark where one reply was due, and the mirror's
 * executor reporting such a file as failed.
 * Addresses 127.0.84.x, ephemeral ports.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../../src/ftp/errors.js';
import { isPartName } from '../../src/fxp/part-name.js';
import { ScriptedFtpServer, withPair, type Handler, type PairOptions } from '../support/index.js';
import { closeAll, poolOf, runMirror } from '../support/mirror-rig.js';

const HOSTS: [string, string] = ['127.0.84.1', '127.0.84.2'];
const A = Buffer.from(Array.from({ length: 150_000 }, (_, i) => i % 251));
const B = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 253));
const C = Buffer.from('c'.repeat(5000));
const FILES = { '/out/a.bin': A, '/out/b.bin': B, '/out/c.bin': C };
const PROFTPD = '220 ProFTPD 1.3.8 Server (scripted)';
const PUREFTPD = '220 Welcome to Pure-FTPd (scripted)';

/** proftpd → pure-ftpd with the destination passive: the pipelined layout (STOR, then PORT+RETR). */
function pair(dstHandlers: Record<string, Handler> = {}, srcHandlers: Record<string, Handler> = {}): PairOptions {
  return {
    src: { files: FILES, greeting: PROFTPD, handlers: srcHandlers },
    dst: { greeting: PUREFTPD, handlers: dstHandlers },
    policy: { passive: 'destination' },
  };
}

/** When the destination's session received `line` (Date.now()). */
function arrived(srv: ScriptedFtpServer, line: string): number {
  const hit = srv.sessions.flatMap((s) => s.arrivals).find((a) => a.line === line);
  assert.ok(hit, `${line} never arrived: ${srv.commands.join(' | ')}`);
  return hit.at;
}

/** RNTO of `name`: answered `delayMs` late, with `reply` (default: the rename done). Records when it answered. */
function rntoOf(name: string, delayMs: number, answeredAt: number[], reply?: string): Handler {
  return async (ctx) => {
    if (!ctx.arg.endsWith(`/${name}`)) return ctx.fallback();
    await sleep(delayMs);
    answeredAt.push(Date.now());
    if (reply) return reply;
    await ctx.fallback();
  };
}

test('the rename goes out with the next file: the copy returns before RNTO is answered, the next STOR arrives before that answer, both files land', async () => {
  const answered: number[] = [];
  const T1 = new Date(Date.UTC(2022, 0, 2, 3, 4, 5));
  await withPair(HOSTS, pair({ RNTO: rntoOf('a.bin', 300, answered) }), async (p) => {
    // a's size check and (guessed) MFMT ride with b's PASV+STOR; its rename goes once b's transfer ended.
    const a = await p.copy('a.bin', { more: true, publishLater: true, mtime: T1 });
    const returned = Date.now();
    assert.equal(a.mode, 'fxp-reversed');
    assert.ok(a.published, 'a pending rename');
    p.release();
    const b = await p.copy('b.bin', { more: true, publishLater: true, mtime: T1 });
    p.release();
    await a.published;
    await b.published;
    assert.ok(returned < answered[0], 'copy() did not wait for the rename');
    assert.ok(arrived(p.dst, 'STOR /in/.b.bin.fxpmirror-part') < answered[0], "b's STOR was pipelined behind a's rename");
    // One destination connection for both files (the other sessions only watch the part file's size).
    const transfers = p.dst.sessions.filter((x) => x.commands.some((c) => c.startsWith('STOR ')));
    assert.equal(transfers.length, 1, 'one destination connection for both files');
    assert.deepEqual(transfers[0].commands.filter((c) => !/^(USER|PASS|FEAT|OPTS|TYPE)/.test(c)), [
      'PASV',
      'STOR /in/.a.bin.fxpmirror-part',
      // SIZE and MFMT, with b's PASV+STOR behind them (stor-with-pasv.ts); a's rename after b's transfer
      'SIZE /in/.a.bin.fxpmirror-part',
      'MFMT 20220102030405 /in/.a.bin.fxpmirror-part',
      'PASV',
      'STOR /in/.b.bin.fxpmirror-part',
      'RNFR /in/.a.bin.fxpmirror-part',
      'RNTO /in/a.bin',
      'SIZE /in/.b.bin.fxpmirror-part',
      'MFMT 20220102030405 /in/.b.bin.fxpmirror-part',
      'RNFR /in/.b.bin.fxpmirror-part',
      'RNTO /in/b.bin',
    ]);
    assert.ok(transfers[0].reads.some((r) => r.join('|') === ['SIZE /in/.a.bin.fxpmirror-part', 'MFMT 20220102030405 /in/.a.bin.fxpmirror-part', 'PASV', 'STOR /in/.b.bin.fxpmirror-part'].join('|')), 'one write');
    assert.deepEqual(p.src.sent('PASV'), [], 'the source stayed active');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});

test('a rename refused after the next transfer started: that file fails with the reason, no part file and no final name; the next file lands', async () => {
  const answered: number[] = [];
  await withPair(HOSTS, pair({ RNTO: rntoOf('a.bin', 100, answered, '553 a.bin: Permission denied.') }), async (p) => {
    const a = await p.copy('a.bin', { more: true, publishLater: true });
    p.release();
    const b = await p.copy('b.bin', { publishLater: true });
    p.release();
    await b.published;
    await assert.rejects(a.published!, (err: Error) => /RNTO \/in\/a\.bin: 553 a\.bin: Permission denied\./.test(err.message) && !isTransient(err));
    assert.ok(arrived(p.dst, 'STOR /in/.b.bin.fxpmirror-part') < answered[0], 'detected after the next transfer started');
    // Refused onto a name that may exist: DELE it and rename once more (refused again), then the part file goes.
    assert.deepEqual(p.dst.sent('RNTO', 'DELE'), ['RNTO /in/a.bin', 'RNTO /in/b.bin', 'DELE /in/a.bin', 'RNTO /in/a.bin', 'DELE /in/.a.bin.fxpmirror-part']);
    assert.deepEqual(p.landed, ['/in/b.bin']);
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
  });
});

test('RNFR refused: the final name is left alone (no DELE), the file fails', async () => {
  await withPair(HOSTS, pair({ RNFR: '550 No such file.' }), async (p) => {
    p.dst.tree.put('/in/a.bin', Buffer.from('the old copy'), new Date());
    const a = await p.copy('a.bin', { publishLater: true });
    p.release();
    await assert.rejects(a.published!, /RNFR \/in\/\.a\.bin\.fxpmirror-part: 550 No such file\./);
    assert.deepEqual(p.dst.sent('DELE'), ['DELE /in/.a.bin.fxpmirror-part']);
    assert.equal(p.dst.tree.read('/in/a.bin')?.toString(), 'the old copy');
  });
});

test('the connection closes after RNTO did its work, before the reply: the file is found renamed and counts as done', async () => {
  const renameThenDrop: Handler = async (ctx) => {
    await ctx.fallback();
    ctx.session.socket.destroy();
  };
  await withPair(HOSTS, pair({ RNTO: renameThenDrop }), async (p) => {
    // The reply is written, then the socket destroyed at once: it may or may not get through. Either way a is published.
    const a = await p.copy('a.bin', { publishLater: true });
    p.release();
    await a.published;
    assert.deepEqual(p.landed, ['/in/a.bin']);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
  });
});

test('the connection closes mid-pipeline, before RNFR ran: the file fails (connection lost), its part file is deleted; the next copy reconnects', async () => {
  let drops = 0;
  const dropAtRnfr: Handler = (ctx) => {
    if (drops++ > 0) return ctx.fallback();
    ctx.close();
  };
  await withPair(HOSTS, pair({ RNFR: dropAtRnfr }), async (p) => {
    const a = await p.copy('a.bin', { publishLater: true });
    p.release();
    await assert.rejects(a.published!, (err: Error) => isTransient(err));
    assert.deepEqual(p.landed, [], 'no final name, and the part file deleted');
    const b = await p.copy('b.bin', { publishLater: true });
    p.release();
    await b.published;
    assert.deepEqual(p.landed, ['/in/b.bin']);
  });
});

test('replies out of step (a 150 mark where RNFR takes one reply): the connection is closed, the file fails, nothing gets a final name', async () => {
  let marks = 0;
  const markAtRnfr: Handler = (ctx) => (marks++ === 0 ? '150 Opening BINARY mode data connection.' : ctx.fallback());
  await withPair(HOSTS, pair({ RNFR: markAtRnfr }), async (p) => {
    const a = await p.copy('a.bin', { publishLater: true });
    p.release();
    await assert.rejects(a.published!, /out of step/);
    assert.deepEqual(p.landed, []);
    const b = await p.copy('b.bin', { publishLater: true });
    p.release();
    await b.published;
    assert.deepEqual(p.landed, ['/in/b.bin']);
    assert.equal(p.dst.sessions.filter((x) => x.commands.some((c) => c.startsWith('STOR '))).length, 2, 'the connection out of step was replaced');
  });
});

test("a pipelined PORT refused while the file before still waits for its rename's replies: that rename is read first and holds; the ladder moves on", async () => {
  const answered: number[] = [];
  let ports = 0;
  const refuseSecondPort: Handler = (ctx) => (++ports === 2 ? '500 Illegal PORT command.' : ctx.fallback());
  await withPair(HOSTS, pair({ RNTO: rntoOf('a.bin', 150, answered) }, { PORT: refuseSecondPort }), async (p) => {
    const a = await p.copy('a.bin', { more: true, publishLater: true });
    p.release();
    const b = await p.copy('b.bin', { publishLater: true });
    p.release();
    await a.published;
    await b.published;
    assert.equal(b.mode, 'fxp', 'the other passive side');
    assert.deepEqual(
      p.of('fallback').map((e) => [e.mode, e.message]),
      [['fxp-reversed', `${p.src.clientOptions().name} refused PORT: 500 Illegal PORT command.`]],
    );
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(A));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(B));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
  });
});

const T0 = new Date(Date.UTC(2023, 4, 1));
const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

test('mirror: a rename refused after the next file started is that file failed, with the reason; the others arrive; no part file, no final name for it', async () => {
  const files: Record<string, { data: string; mtime: Date }> = {};
  for (let i = 0; i < 4; i++) files[`/src/f${i}.txt`] = { data: `file ${i} `.repeat(100 + i), mtime: T0 };
  const answered: number[] = [];
  const src = await ScriptedFtpServer.start({ host: '127.0.84.3', files, greeting: PROFTPD });
  const dst = await ScriptedFtpServer.start({ host: '127.0.84.4', files: { '/dst/': '' }, greeting: PUREFTPD, handlers: { RNTO: rntoOf('f1.txt', 100, answered, '553 f1.txt: Permission denied.') } });
  const [srcPool, dstPool] = [poolOf(src, { limit: 1 }), poolOf(dst, { limit: 1 })];
  open.push(srcPool, dstPool, src, dst);
  const r = await runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }], options: { parallel: 1 } });
  const [s] = r.summaries;
  assert.deepEqual(
    s.failures.map((f) => [f.path, f.message]),
    [['f1.txt', 'RNTO /dst/f1.txt: 553 f1.txt: Permission denied.']],
  );
  assert.deepEqual(r.failed, ['0 f1.txt EFTPREPLY']);
  assert.equal(s.files.transferred, 3);
  assert.ok(arrived(dst, 'STOR /dst/.f2.txt.fxpmirror-part') < answered[0], "f2's transfer started before f1's rename was refused");
  const landed = dst.tree.paths().filter((x) => x.startsWith('/dst/') && dst.tree.get(x)?.type === 'file');
  assert.deepEqual(landed, ['/dst/f0.txt', '/dst/f2.txt', '/dst/f3.txt']);
  assert.ok(!landed.some((x) => isPartName(x.slice(5))));
  for (const f of landed) assert.equal(dst.tree.read(f)?.toString(), files[f.replace('/dst/', '/src/')].data);
});

test('the first file tries MFMT (advertised) in the same write as SIZE: no round trip of its own to learn how this server sets times', async () => {
  const when = new Date(Date.UTC(2022, 0, 2, 3, 4, 5));
  await withPair(HOSTS, pair(), async (p) => {
    const a = await p.copy('a.bin', { more: true, publishLater: true, mtime: when });
    await a.published;
    assert.equal(a.mtimeSet, true);
    assert.equal(p.dst.tree.get('/in/a.bin')?.mtime.getTime(), when.getTime());
    const cmds = p.dst.commands.map((c) => c.replace(/^\d+ /, '').split(' ')[0]);
    // No PASV asked ahead: the next file sends PASV+STOR itself (stor-with-pasv.ts).
    assert.deepEqual(cmds.slice(cmds.indexOf('SIZE'), cmds.indexOf('SIZE') + 3), ['SIZE', 'MFMT', 'RNFR']);
    assert.equal(cmds.filter((c) => c === 'MFMT').length, 1);
  });
});

test('MFMT advertised but refused: the guess costs nothing more than the slow way (every method tried once), the file is still published', async () => {
  const when = new Date(Date.UTC(2022, 0, 2, 3, 4, 5));
  await withPair(HOSTS, pair({ MFMT: '550 Not allowed.' }), async (p) => {
    const a = await p.copy('a.bin', { publishLater: true, mtime: when });
    await a.published;
    assert.equal(a.mtimeSet, false);
    assert.deepEqual(p.landed, ['/in/a.bin']);
    assert.match(p.of('warn').map((e) => e.message).join('\n'), /cannot set modification times/);
  });
});

test('a PASV asked ahead on a passive source survives an MDTM sent between (a LIST source), not a listing', async () => {
  await withPair(HOSTS, { src: { files: FILES, greeting: PROFTPD }, dst: { greeting: PUREFTPD } }, async (p) => {
    const a = await p.copy('a.bin', { more: true, publishLater: true });
    assert.equal(a.mode, 'fxp');
    await a.published;
    await (await p.s.connection()).mdtm('/out/b.bin');
    const b = await p.copy('b.bin', { more: true, publishLater: true });
    await b.published;
    assert.deepEqual(p.src.sent('PASV').length, 3, 'the first, and one ahead after each file: none of its own for b');
    await (await p.s.connection()).list('/out');
    await (await p.copy('c.bin')).published;
    assert.deepEqual(p.src.sent('PASV').length, 5, "the listing's PASV spoiled the one ahead: c asked its own");
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin', '/in/c.bin']);
  });
});
