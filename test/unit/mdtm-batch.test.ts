/**
 * A LIST-only source gives coarse times (here only the day), so the exact
 * time of each file to copy is asked with MDTM. The walker asks a
 * directory's MDTMs together (src/ftp/mdtm-batch.ts, src/tree/source-times.ts):
 * one write, then a NOOP as sentinel. These runs check that each file gets its
 * own time, and that hostile replies (one missing, one doubled, a 5xx in the
 * middle, garbage) never give a file another file's time: the batch fails and
 * each file asks on its own. Addresses 127.0.96.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnection } from '../../src/ftp/connection.js';
import { MDTM_BATCH, mdtmBatch } from '../../src/ftp/mdtm-batch.js';
import { ScriptedFtpServer, type CommandContext } from '../support/index.js';
import { closeAll, poolOf, runMirror } from '../support/mirror-rig.js';

const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

/** LIST only: no MLST in FEAT. */
const LIST_ONLY = ['SIZE', 'MDTM', 'MFMT', 'REST STREAM', 'UTF8', 'EPSV'];
const NAMES = ['a', 'b', 'c', 'd', 'e'];
/** Each file its own second, all on one day: the listing's day cannot tell them apart. */
const timeOf = (i: number) => new Date(Date.UTC(2023, 4, 1, 10, i, 7 + i));

function sourceFiles(): Record<string, { data: string; mtime: Date }> {
  const out: Record<string, { data: string; mtime: Date }> = {};
  NAMES.forEach((n, i) => (out[`/src/${n}.txt`] = { data: `file ${n} `.repeat(20 + i), mtime: timeOf(i) }));
  out['/src/sub/x.txt'] = { data: 'x', mtime: timeOf(7) };
  out['/src/sub/y.txt'] = { data: 'yy', mtime: timeOf(8) };
  return out;
}

async function run(mdtm?: (ctx: CommandContext, nth: number) => unknown) {
  const src = await ScriptedFtpServer.start({ host: '127.0.96.1', features: LIST_ONLY, files: sourceFiles() });
  const dst = await ScriptedFtpServer.start({ host: '127.0.96.2', files: { '/dst/': '' } });
  open.push(src, dst);
  let nth = 0;
  if (mdtm) src.on('MDTM', (ctx) => mdtm(ctx, ++nth) as Promise<void>);
  const [srcPool, dstPool] = [poolOf(src), poolOf(dst)];
  open.push(srcPool, dstPool);
  const r = await runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }] });
  return { src, dst, srcPool, r };
}

/** Every source file's mtime against the destination copy's: path -> [source, destination] in ISO form. */
function times(src: ScriptedFtpServer, dst: ScriptedFtpServer): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const p of src.tree.paths()) {
    const n = src.tree.get(p)!;
    if (n.type !== 'file') continue;
    const d = dst.tree.get(`/dst${p.slice(4)}`);
    out[p] = [n.mtime.toISOString(), d?.mtime.toISOString() ?? 'missing'];
  }
  return out;
}

function assertOwnTimes(t: Record<string, [string, string]>, except: string[] = []): void {
  for (const [p, [s, d]] of Object.entries(t)) if (!except.includes(p)) assert.equal(d, s, `${p}: destination time ${d}, source ${s}`);
}

test('LIST-only source: a directory asks its MDTMs in one write, then a NOOP; each file gets its own exact time', async () => {
  const { src, dst, srcPool, r } = await run();
  assert.deepEqual(r.summaries[0].failures, []);
  assert.equal(r.summaries[0].files.transferred, 7);
  assertOwnTimes(times(src, dst));
  // One MDTM per file, no more: none asked again by the transfers.
  assert.equal(src.sent('MDTM').length, 7);
  const groups = src.sessions.flatMap((s) => s.reads).filter((g) => g.some((l) => l.startsWith('MDTM')));
  assert.deepEqual(
    groups.map((g) => g.map((l) => l.replace(/^MDTM \/src\//, ''))).sort((a, b) => a.length - b.length),
    [
      ['sub/x.txt', 'sub/y.txt', 'NOOP'],
      ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt', 'NOOP'],
    ],
  );
  assert.equal(srcPool.state.mdtmBatch, undefined);
});

test('one MDTM reply missing: seen when the NOOP answers in its place (no timeout), and no file takes another one\'s time', async () => {
  const { src, dst, srcPool, r } = await run((ctx, nth) => (nth === 2 ? undefined : ctx.fallback()));
  assert.deepEqual(r.summaries[0].failures, []);
  assertOwnTimes(times(src, dst));
  assert.ok(r.ms < 2000, `took ${r.ms} ms: waited for a timeout`);
  // The batch failed: the server is asked one file at a time from then on.
  assert.equal(srcPool.state.mdtmBatch, false);
  assert.equal(src.sent('NOOP').length, 1);
});

test('one MDTM answered twice: the sentinel gets a 213, the batch fails, every file still gets its own time', async () => {
  const { src, dst, srcPool, r } = await run((ctx, nth) => {
    if (nth === 2) ctx.reply('213 20000101000000');
    return ctx.fallback();
  });
  assert.deepEqual(r.summaries[0].failures, []);
  assertOwnTimes(times(src, dst));
  assert.equal(srcPool.state.mdtmBatch, false);
});

test('a 5xx in the middle: that file keeps its listed day, the others their exact times from the batch', async () => {
  const { src, dst, srcPool, r } = await run((ctx) => (ctx.arg.endsWith('/c.txt') ? ctx.reply('550 c.txt: Permission denied') : ctx.fallback()));
  assert.deepEqual(r.summaries[0].failures, []);
  const t = times(src, dst);
  assertOwnTimes(t, ['/src/c.txt']);
  // The listing's day, not a neighbour's time.
  assert.equal(t['/src/c.txt'][1], '2023-05-01T00:00:00.000Z');
  // A refusal is an answer: batches go on.
  assert.equal(srcPool.state.mdtmBatch, undefined);
  assert.equal(src.sent('NOOP').length, 2);
});

test('garbage in an MDTM reply fails the whole batch: no file gets a time from it', async () => {
  const { src, dst, srcPool, r } = await run((ctx, nth) => (nth === 3 ? ctx.reply('213 the third of May') : ctx.fallback()));
  assert.deepEqual(r.summaries[0].failures, []);
  assertOwnTimes(times(src, dst));
  assert.equal(srcPool.state.mdtmBatch, false);
});

test('mdtmBatch: a path with CR LF sends nothing; more than MDTM_BATCH paths are refused before anything is sent', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.96.3', features: LIST_ONLY, files: sourceFiles() });
  open.push(srv);
  const conn = await FtpConnection.connect(srv.clientOptions());
  try {
    await assert.rejects(mdtmBatch(conn, ['/src/a.txt', '/src/b.txt\r\nDELE /src/a.txt']), { code: 'EUNSAFE' });
    await assert.rejects(
      mdtmBatch(
        conn,
        Array.from({ length: MDTM_BATCH + 1 }, (_, i) => `/src/${i}`),
      ),
      RangeError,
    );
    assert.deepEqual(srv.sent('MDTM', 'DELE', 'NOOP'), []);
    // Still in step: a batch after them gets each file's own time.
    const got = await mdtmBatch(conn, ['/src/e.txt', '/src/missing', '/src/a.txt']);
    assert.deepEqual(got.map((d) => d?.toISOString()), [timeOf(4).toISOString(), undefined, timeOf(0).toISOString()]);
  } finally {
    await conn.close();
  }
});
