/**
 * mirror() against scripted servers: stale part files on the destination
 * (removed through the gate and reported, left alone where they must be), and
 * a destination that cannot set modification times (no MFMT, SITE UTIME or
 * MDTM with a time, like GNU inetutils ftpd). Addresses 127.0.92.x.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FEATURES, ScriptedFtpServer, type TreeSeed } from '../support/index.js';
import { closeAll, poolOf, runMirror } from '../support/mirror-rig.js';
import type { MirrorOptions } from '../../src/tree/options.js';

const T0 = new Date(Date.UTC(2023, 4, 1));
const open: { close(): Promise<void> }[] = [];
after(() => closeAll(...open));

async function start(host: string, files: TreeSeed, extra: Partial<Parameters<typeof ScriptedFtpServer.start>[0]> = {}): Promise<ScriptedFtpServer> {
  const srv = await ScriptedFtpServer.start({ host, files, ...extra });
  open.push(srv);
  return srv;
}

async function mirrorOnce(src: ScriptedFtpServer, dst: ScriptedFtpServer, options: Partial<MirrorOptions> = {}) {
  // Fresh pools each time: a new run knows nothing about the servers yet.
  const [sp, dp] = [poolOf(src), poolOf(dst)];
  open.push(sp, dp);
  return runMirror({
    src: { pool: sp, root: '/src', display: 'src' },
    targets: [{ pool: dp, root: '/dst', display: 'dst' }],
    options,
  });
}

const file = (data: string, mtime = T0) => ({ data, mtime });

/** Source a.txt, b.txt (new), sub/c.txt, skipme/x.txt, bad/y.txt (unlistable); destination with part files everywhere. */
async function partsRig(host: number) {
  const src = await start(`127.0.92.${host}`, {
    '/src/a.txt': file('aaaa'),
    '/src/b.txt': file('hello'),
    '/src/sub/c.txt': file('cc'),
    '/src/skipme/x.txt': file('x'),
    '/src/bad/y.txt': file('y'),
  });
  src.on('MLSD', (ctx) => (ctx.arg === '/src/bad' ? ctx.reply('550 /src/bad: Permission denied.') : ctx.fallback()));
  const dst = await start(`127.0.92.${host + 1}`, {
    '/dst/a.txt': file('aaaa'),
    '/dst/.a.txt.fxpmirror-part': 'aa', // a.txt is in sync: stale
    '/dst/.b.txt.fxpmirror-part': 'hel', // b.txt is transferred now: resumed or rewritten, not deleted
    '/dst/sub/c.txt': file('cc'),
    '/dst/sub/.gone.txt.fxpmirror-part': 'old', // no such file anywhere: stale
    '/dst/.fxpmirror-lock.fxpmirror-part/owner': 'host 1 pid 2', // the remote lock: a directory, left alone
    '/dst/skipme/.x.txt.fxpmirror-part': 'x', // excluded: hands off
    '/dst/bad/.y.txt.fxpmirror-part': 'y', // unsynced subtree: hands off
  });
  return { src, dst };
}

const KEPT = ['/dst/.fxpmirror-lock.fxpmirror-part/owner', '/dst/skipme/.x.txt.fxpmirror-part', '/dst/bad/.y.txt.fxpmirror-part'];

test('stale part files: a dry run plans their removal (and changes nothing), a real run removes and reports them', async () => {
  const { src, dst } = await partsRig(1);
  const before = dst.tree.paths();
  const plan = await mirrorOnce(src, dst, { dryRun: true, exclude: ['skipme/'] });
  assert.deepEqual(dst.tree.paths(), before, 'dry run changed nothing');
  assert.ok(plan.actions.includes('0 delete .a.txt.fxpmirror-part'), plan.actions.join('\n'));
  assert.ok(plan.actions.includes('0 delete sub/.gone.txt.fxpmirror-part'), plan.actions.join('\n'));
  assert.deepEqual([...plan.summaries[0].staleParts].sort(), ['.a.txt.fxpmirror-part', 'sub/.gone.txt.fxpmirror-part']);

  const r = await mirrorOnce(src, dst, { exclude: ['skipme/'] });
  const [s] = r.summaries;
  assert.deepEqual([...s.staleParts].sort(), ['.a.txt.fxpmirror-part', 'sub/.gone.txt.fxpmirror-part']);
  assert.deepEqual(dst.sent('DELE').filter((c) => !c.includes('/dst/.b.txt')).sort(), ['DELE /dst/.a.txt.fxpmirror-part', 'DELE /dst/sub/.gone.txt.fxpmirror-part']);
  assert.equal(s.files.deleted, 0, 'not counted as deleted files (no --delete, no --max-delete)');
  assert.equal(dst.tree.read('/dst/b.txt')?.toString(), 'hello');
  const parts = dst.tree.paths().filter((p) => p.includes('fxpmirror-part') && dst.tree.get(p)?.type === 'file');
  assert.deepEqual(parts.sort(), [...KEPT].sort());
  assert.equal(s.unsynced.length, 1);
  // A second run finds nothing more to clean.
  const again = await mirrorOnce(src, dst, { exclude: ['skipme/'] });
  assert.deepEqual(again.summaries[0].staleParts, []);
  assert.equal(again.summaries[0].files.transferred, 0);
});

test('--continue resumes the part file of a file it transfers (REST) and still removes the stale ones', async () => {
  const { src, dst } = await partsRig(3);
  const r = await mirrorOnce(src, dst, { continue: true, exclude: ['skipme/'] });
  const [s] = r.summaries;
  assert.deepEqual(s.failures, []);
  assert.deepEqual([...s.staleParts].sort(), ['.a.txt.fxpmirror-part', 'sub/.gone.txt.fxpmirror-part']);
  assert.equal(dst.tree.read('/dst/b.txt')?.toString(), 'hello');
  assert.ok(dst.sent('REST').includes('REST 3'), dst.sent('REST', 'STOR').join('\n'));
  assert.equal(s.bytes.transferred, 2, 'only the missing two bytes moved');
});

test('a part file that cannot be removed is a warning, not a failed file', async () => {
  const { src, dst } = await partsRig(5);
  dst.on('DELE', (ctx) => (ctx.arg.endsWith('.a.txt.fxpmirror-part') ? ctx.reply('550 Permission denied.') : ctx.fallback()));
  const r = await mirrorOnce(src, dst, { exclude: ['skipme/'] });
  const [s] = r.summaries;
  assert.deepEqual(s.staleParts, ['sub/.gone.txt.fxpmirror-part']);
  assert.deepEqual(s.failures, []);
  assert.ok(r.warnings.some((w) => /^0 \.a\.txt\.fxpmirror-part: stale part file not removed: .*550 Permission denied/.test(w)), r.warnings.join('\n'));
});

// ---------------------------------------------------------------------------

/** A destination like GNU inetutils ftpd: no MFMT, no SITE UTIME, MDTM only reads. */
function mtimeless(host: string): Promise<ScriptedFtpServer> {
  return start(host, { '/dst/': '' }, {
    features: DEFAULT_FEATURES.filter((f) => f !== 'MFMT'),
    handlers: { MFMT: "500 'MFMT': command not understood." },
  });
}

test('a destination that cannot set mtimes: a second run transfers nothing, with one warning in the log and the summary', async () => {
  const src = await start('127.0.92.7', { '/src/a.txt': file('alpha'), '/src/d/b.txt': file('bravo bravo'), '/src/c.txt': file('') });
  const dst = await mtimeless('127.0.92.8');

  const first = await mirrorOnce(src, dst);
  assert.equal(first.summaries[0].files.transferred, 3);
  assert.ok(dst.tree.get('/dst/a.txt')!.mtime.getTime() > T0.getTime(), 'the copy carries its arrival time');
  const rule = /^0 127\.0\.92\.8:\d+ cannot set modification times \(no MFMT, SITE UTIME or MDTM with a time\): there a file of the same size that is not older than the source's counts as unchanged$/;
  assert.equal(first.warnings.filter((w) => rule.test(w)).length, 1, first.warnings.join('\n'));
  assert.equal(first.summaries[0].warnings.length, 1);

  const stors = dst.sent('STOR').length;
  const sites = dst.sent('SITE').length;
  const second = await mirrorOnce(src, dst);
  const [s] = second.summaries;
  assert.equal(s.files.transferred, 0);
  assert.equal(s.files.unchanged, 3);
  assert.equal(dst.sent('STOR').length, stors, 'nothing stored');
  assert.equal(second.warnings.filter((w) => rule.test(w)).length, 1, second.warnings.join('\n'));
  assert.deepEqual(s.warnings, [second.warnings.find((w) => rule.test(w))!.slice(2)]);
  // The probe: one file asked to keep the time it has (both SITE UTIME forms refused), once.
  assert.equal(dst.sent('SITE').length - sites, 2);

  // A real change still goes: a source file newer than the copy, or of another size.
  const later = new Date(Date.now() + 3600_000);
  src.tree.put('/src/a.txt', 'ALPHA', later);
  src.tree.put('/src/c.txt', 'now longer', T0);
  const third = await mirrorOnce(src, dst);
  assert.equal(third.summaries[0].files.transferred, 2);
  assert.equal(dst.tree.read('/dst/a.txt')?.toString(), 'ALPHA');
  assert.equal(dst.tree.read('/dst/c.txt')?.toString(), 'now longer');
});

test('a destination that sets mtimes keeps the default rule: same size but newer there is a change', async () => {
  const src = await start('127.0.92.9', { '/src/a.txt': file('alpha') });
  const dst = await start('127.0.92.10', { '/dst/a.txt': file('ALPHA', new Date(T0.getTime() + 3600_000)) });
  const r = await mirrorOnce(src, dst);
  assert.equal(r.summaries[0].files.transferred, 1);
  assert.equal(dst.tree.read('/dst/a.txt')?.toString(), 'alpha');
  assert.equal(dst.tree.get('/dst/a.txt')!.mtime.getTime(), T0.getTime());
  assert.deepEqual(r.summaries[0].warnings, []);
});
