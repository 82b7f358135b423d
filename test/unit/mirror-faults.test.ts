/**
 * mirror() against scripted servers when a server goes away or fills up:
 * a destination "restarted" (its doorway shut, then opened again on the same
 * port), one that never comes back, a full destination beside a healthy one,
 * and the pool replacing connections that died. Addresses 127.0.91.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedFtpServer } from '../support/index.js';
import { Doorway, closeAll, dstFiles, poolOf, runMirror, type RigRun } from '../support/mirror-rig.js';

const T0 = new Date(Date.UTC(2023, 4, 1));
const open: ({ close(): Promise<void> } | Doorway)[] = [];
after(() => closeAll(...open));

function files(n: number, dir = '/src'): Record<string, { data: string; mtime: Date }> {
  const out: Record<string, { data: string; mtime: Date }> = {};
  for (let i = 0; i < n; i++) out[`${dir}/f${String(i).padStart(2, '0')}.txt`] = { data: `file ${i} `.repeat(50 + i), mtime: T0 };
  return out;
}

async function servers(n: number, dsts: string[]): Promise<{ src: ScriptedFtpServer; dst: ScriptedFtpServer[] }> {
  const src = await ScriptedFtpServer.start({ host: '127.0.91.1', files: files(n) });
  const dst = await Promise.all(dsts.map((host) => ScriptedFtpServer.start({ host, files: { '/dst/': '' } })));
  open.push(src, ...dst);
  return { src, dst };
}

const tree = dstFiles;

function sourceFiles(src: ScriptedFtpServer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of src.tree.paths()) if (src.tree.get(p)!.type === 'file') out[p.slice(5)] = src.tree.read(p)!.toString();
  return out;
}

/** A doorway before `dst` that shuts on its third STOR (and opens again after `upAfterMs`, if given). */
async function cutOnThirdStor(dst: ScriptedFtpServer, upAfterMs?: number): Promise<Doorway> {
  const door = await Doorway.before(dst);
  open.push(door);
  let stors = 0;
  dst.on('STOR', async (ctx) => {
    if (++stors !== 3) return ctx.fallback();
    await door.down();
    if (upAfterMs !== undefined) setTimeout(() => void door.up(), upAfterMs);
  });
  return door;
}

/** One run of /src onto /dst (through `door` when given), with fresh pools. */
function oneTarget(src: ScriptedFtpServer, dst: ScriptedFtpServer, door: Doorway | undefined, extra: Omit<RigRun, 'src' | 'targets'> = {}) {
  const [srcPool, dstPool] = [poolOf(src), poolOf(dst, { door })];
  open.push(srcPool, dstPool);
  return runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }], ...extra });
}

test('a destination restarted mid-run (down 300 ms): every file arrives, none fails, its work waited instead of retrying', async () => {
  const { src, dst: [dst] } = await servers(8, ['127.0.91.2']);
  const door = await cutOnThirdStor(dst, 300);
  const r = await oneTarget(src, dst, door, {
    options: { parallel: 2 },
    retry: { baseMs: 50, capMs: 400 }, // window 50+100+200+400+400 = 1150 ms
  });
  const [s] = r.summaries;
  assert.deepEqual(s.failures, []);
  assert.deepEqual(r.failed, []);
  assert.equal(s.files.transferred, 8);
  assert.deepEqual(tree(dst), sourceFiles(src));
  assert.ok(r.warnings.some((w) => /unreachable \(.*\); its work waits for it, up to 1\.2 s$/.test(w)), r.warnings.join('\n'));
  assert.ok(r.warnings.some((w) => /reachable again after [\d.]+ s; its work resumes$/.test(w)), r.warnings.join('\n'));
  assert.deepEqual(s.warnings, r.warnings.map((w) => w.slice(2)));
  // Each file was stored once, or twice when the cut hit it: no attempts wasted on a closed door.
  const perFile = new Map<string, number>();
  for (const c of dst.sent('STOR')) perFile.set(c, (perFile.get(c) ?? 0) + 1);
  assert.ok([...perFile.values()].every((n) => n <= 2), JSON.stringify([...perFile]));
});

test('a destination that never comes back: given up after the retry window, its remaining files fail at once with one line', async () => {
  const { src, dst: [dst] } = await servers(12, ['127.0.91.3']);
  const door = await cutOnThirdStor(dst);
  const r = await oneTarget(src, dst, door, {
    options: { parallel: 1, retries: 3 },
    retry: { baseMs: 50, capMs: 400 }, // window 350 ms
  });
  const [s] = r.summaries;
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  assert.equal(s.files.transferred, 2);
  assert.equal(s.files.failed, 10);
  assert.equal(s.failures.length, 10);
  for (const f of s.failures) assert.equal(f.code, 'ECONNECT', JSON.stringify(f));
  const gone = r.warnings.filter((w) => /still unreachable after [\d.]+ s \(.*\): its remaining work fails without being tried$/.test(w));
  assert.equal(gone.length, 1, r.warnings.join('\n'));
  // Only the file that was being tried when it went away is logged on its own.
  assert.deepEqual(r.failed, ['0 f02.txt ECONNECT']);
  assert.deepEqual(Object.keys(tree(dst)).sort(), ['f00.txt', 'f01.txt']);

  // Back again: the next run completes the tree.
  await door.up();
  dst.on('STOR', undefined);
  const again = await oneTarget(src, dst, door);
  assert.deepEqual(again.summaries[0].failures, []);
  assert.equal(again.summaries[0].files.transferred, 10);
  assert.deepEqual(tree(dst), sourceFiles(src));
});

test('a full destination (552) beside a healthy one: its files fail fast with one line, no part file, the other target is synced', async () => {
  const { src, dst: [ok, full] } = await servers(6, ['127.0.91.4', '127.0.91.5']);
  full.on('STOR', '552 Insufficient storage space: disk full.');
  const srcPool = poolOf(src);
  const okPool = poolOf(ok);
  const fullPool = poolOf(full);
  open.push(srcPool, okPool, fullPool);
  const r = await runMirror({
    src: { pool: srcPool, root: '/src', display: 'src' },
    targets: [
      { pool: okPool, root: '/dst', display: 'ok:/dst' },
      { pool: fullPool, root: '/dst', display: 'full:/dst' },
    ],
    options: { parallel: 1 },
  });
  const [a, b] = r.summaries;
  assert.deepEqual(a.failures, []);
  assert.equal(a.files.transferred, 6);
  assert.deepEqual(tree(ok), sourceFiles(src));

  assert.equal(b.files.transferred, 0);
  assert.equal(b.files.failed, 6);
  assert.equal(full.sent('STOR').length, 1, 'one attempt, no retries, nothing after it');
  assert.deepEqual(tree(full), {});
  // The engine reports the full disk itself (FtpDiskFullError, EFULL); the rest fail without being tried.
  assert.deepEqual(b.failures.map((f) => f.code), ['EFULL', 'EFULL', 'EFULL', 'EFULL', 'EFULL', 'EFULL']);
  assert.match(b.failures[1].message, /^destination full: full:\/dst: .*552.*: not sent$/);
  const lines = r.warnings.filter((w) => w.startsWith('1 destination full'));
  assert.equal(lines.length, 1, r.warnings.join('\n'));
  assert.match(lines[0], /^1 destination full \(.*Insufficient storage space.*\): nothing more is sent to full:\/dst; its remaining files fail without being tried$/);
  assert.deepEqual(b.warnings, [lines[0].slice(2)]);
  assert.deepEqual(r.failed, [`1 ${b.failures[0].path} EFULL`], 'one error line for the file that hit it');
});

test('a quota reply in other words ("No space left on device" on a 451) counts as full too', async () => {
  const { src, dst: [full] } = await servers(3, ['127.0.91.6']);
  full.on('STOR', '451 Failure writing file: No space left on device');
  const r = await oneTarget(src, full, undefined, { options: { parallel: 1 } });
  assert.equal(full.sent('STOR').length, 1, '451 is transient, but a full disk is not retried');
  assert.deepEqual(r.summaries[0].failures.map((f) => f.code), ['EFULL', 'EFULL', 'EFULL']);
});

test('the pool replaces connections that died while idle (a restart between two files)', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.91.7' });
  open.push(srv);
  const door = await Doorway.before(srv);
  open.push(door);
  const pool = poolOf(srv, { door });
  open.push(pool);
  const conn = await pool.acquire();
  pool.release(conn);
  assert.equal(door.accepted, 1);
  await door.down();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(conn.closed, 'the cut connection knows it is closed');
  await door.up();
  assert.equal(await pool.use((c) => c.pwd()), '/');
  assert.equal(door.accepted, 2, 'a fresh connection replaced the dead one');
  assert.equal(pool.size, 1);
});
