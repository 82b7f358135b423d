/**
 * A directory's new subdirectories are made with their MKDs in one write on
 * one connection (tree/walk.ts hand(), tree/execute.ts makeDirs), each reply
 * judged on its own: a refused MKD fails only its directory, which is not
 * descended into; dry-run sends none. Addresses 127.0.76.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedFtpServer } from '../support/index.js';
import { closeAll, dstFiles, poolOf, runMirror, type RigRun } from '../support/mirror-rig.js';

const T0 = new Date(Date.UTC(2023, 4, 1));
const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

/** /src/<d>/f.txt for each of `dirs`, and /src/top.txt. */
function files(dirs: string[]): Record<string, { data: string; mtime: Date }> {
  const out: Record<string, { data: string; mtime: Date }> = { '/src/top.txt': { data: 'top '.repeat(20), mtime: T0 } };
  for (const d of dirs) out[`/src/${d}/f.txt`] = { data: `${d} `.repeat(30), mtime: T0 };
  return out;
}

async function pair(last: number, dirs: string[]): Promise<{ src: ScriptedFtpServer; dst: ScriptedFtpServer }> {
  const src = await ScriptedFtpServer.start({ host: `127.0.76.${last}`, files: files(dirs) });
  const dst = await ScriptedFtpServer.start({ host: `127.0.76.${last + 1}`, files: { '/dst/': '' } });
  open.push(src, dst);
  return { src, dst };
}

function run(src: ScriptedFtpServer, dst: ScriptedFtpServer, extra: Omit<RigRun, 'src' | 'targets'> = {}) {
  const [srcPool, dstPool] = [poolOf(src), poolOf(dst)];
  open.push(srcPool, dstPool);
  return runMirror({ src: { pool: srcPool, root: '/src', display: 'src' }, targets: [{ pool: dstPool, root: '/dst', display: 'dst' }], ...extra });
}

const tree = dstFiles;

/** Each read of the destination's sessions that carried an MKD, MKD lines only. */
function mkdReads(dst: ScriptedFtpServer): string[][] {
  return dst.sessions.flatMap((s) => s.reads.map((r) => r.filter((l) => l.startsWith('MKD ')))).filter((r) => r.length > 0);
}

test('the MKDs of one directory go out in one write, and every directory gets its file', async () => {
  const { src, dst } = await pair(1, ['a', 'b', 'c', 'd']);
  const r = await run(src, dst);
  const [s] = r.summaries;
  assert.deepEqual(s.failures, []);
  assert.equal(s.dirs.created, 4);
  assert.equal(s.files.transferred, 5);
  assert.deepEqual(mkdReads(dst), [['MKD /dst/a', 'MKD /dst/b', 'MKD /dst/c', 'MKD /dst/d']]);
  assert.deepEqual(tree(dst), { 'top.txt': 'top '.repeat(20), 'a/f.txt': 'a '.repeat(30), 'b/f.txt': 'b '.repeat(30), 'c/f.txt': 'c '.repeat(30), 'd/f.txt': 'd '.repeat(30) });
  // Each directory's MKD came before any command that stored into it.
  const cmds = dst.sessions.flatMap((x) => x.arrivals.map((a) => a));
  for (const d of ['a', 'b', 'c', 'd']) {
    const made = cmds.findIndex((c) => c.line === `MKD /dst/${d}`);
    const stored = cmds.findIndex((c) => c.line.startsWith(`STOR /dst/${d}/`));
    assert.ok(made >= 0 && stored >= 0, `${d}: ${made} ${stored}`);
    assert.ok(cmds[made].at <= cmds[stored].at, `${d}: stored before made`);
  }
});

test('nested new directories: each level in one write per directory, parents before children', async () => {
  const { src, dst } = await pair(3, ['a/b/c', 'a/x', 'y']);
  const r = await run(src, dst);
  const [s] = r.summaries;
  assert.deepEqual(s.failures, []);
  assert.equal(s.dirs.created, 5);
  assert.deepEqual(mkdReads(dst), [['MKD /dst/a', 'MKD /dst/y'], ['MKD /dst/a/b', 'MKD /dst/a/x'], ['MKD /dst/a/b/c']]);
  assert.deepEqual(Object.keys(tree(dst)).sort(), ['a/b/c/f.txt', 'a/x/f.txt', 'top.txt', 'y/f.txt']);
});

test('one MKD refused among several: only its directory fails and is not descended into; the others are made and filled', async () => {
  const { src, dst } = await pair(5, ['a', 'b', 'c']);
  dst.on('MKD', (ctx) => (ctx.arg === '/dst/b' ? ctx.reply('550 /dst/b: Permission denied.') : ctx.fallback()));
  const r = await run(src, dst);
  const [s] = r.summaries;
  assert.deepEqual(mkdReads(dst), [['MKD /dst/a', 'MKD /dst/b', 'MKD /dst/c']], 'a permanent refusal is not tried again');
  assert.equal(s.dirs.created, 2);
  assert.deepEqual(r.failed, ['0 b EFTPREPLY']);
  assert.deepEqual(s.failures.map((f) => f.path), ['b']);
  assert.match(s.failures[0].message, /550/);
  assert.deepEqual(Object.keys(tree(dst)).sort(), ['a/f.txt', 'c/f.txt', 'top.txt']);
  assert.equal(dst.tree.get('/dst/b'), undefined);
  // Nothing was tried under the directory that could not be made, and its source was not listed.
  assert.deepEqual(dst.sent('STOR', 'CWD', 'MLSD', 'LIST').filter((c) => c.includes('/dst/b')), []);
  assert.deepEqual(src.sent('MLSD', 'LIST').filter((c) => c.includes('/src/b')), []);
  assert.equal(s.files.transferred, 3);
});

test('an MKD answered 450 in a write with others: that directory is tried again on its own and made', async () => {
  const { src, dst } = await pair(7, ['a', 'b', 'c']);
  let refused = 0;
  dst.on('MKD', (ctx) => (ctx.arg === '/dst/b' && refused++ === 0 ? ctx.reply('450 /dst/b: try later.') : ctx.fallback()));
  const r = await run(src, dst);
  const [s] = r.summaries;
  assert.deepEqual(s.failures, []);
  assert.equal(s.dirs.created, 3);
  assert.deepEqual(dst.sent('MKD'), ['MKD /dst/a', 'MKD /dst/b', 'MKD /dst/c', 'MKD /dst/b']);
  assert.deepEqual(Object.keys(tree(dst)).sort(), ['a/f.txt', 'b/f.txt', 'c/f.txt', 'top.txt']);
});

test('dry-run: every directory is in the plan, no MKD is sent', async () => {
  const { src, dst } = await pair(9, ['a', 'b']);
  const r = await run(src, dst, { options: { dryRun: true } });
  const [s] = r.summaries;
  assert.deepEqual(dst.sent('MKD', 'STOR', 'RNFR', 'DELE'), []);
  assert.equal(s.dirs.created, 2);
  assert.deepEqual(r.actions.filter((a) => a.includes(' mkdir ')), ['0 mkdir a', '0 mkdir b']);
  assert.deepEqual(
    r.actions.filter((a) => a.includes(' transfer ')).sort(),
    ['0 transfer a/f.txt', '0 transfer b/f.txt', '0 transfer top.txt'],
  );
  assert.deepEqual(tree(dst), {});
});
