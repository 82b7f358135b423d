/**
 * The mirror engine against the lab servers: which files count as changed
 * (and the flags that change that), --delete (order, unreadable source
 * directories, --max-delete) and --dry-run's plan. The servers, tree helpers
 * and the CLI are in mirror-setup.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { lines, urlOf } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import {
  S,
  UNAVAILABLE,
  assertSameTree,
  cli,
  copyTree,
  disk,
  filesOf,
  mirrorJson,
  own,
  put,
  snapshot,
  withServers,
} from './mirror-setup.js';

// ---------------------------------------------------------------------------

describe('mirror engine against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 600_000 }, () => {
  withServers(['proftpd', 'pure']);

  // -------------------------------------------------------------------------
  describe('what counts as changed (src/tree/diff.ts compareFile)', () => {
    const T0 = Date.UTC(2024, 0, 1) / 1000;
    /** Original files; the destination starts as a mirror of these. */
    const original: Record<string, [string, number]> = {
      'same.txt': ['s'.repeat(100), T0],
      'newer-same-size.txt': ['a'.repeat(100), T0],
      'older-other-size.txt': ['b'.repeat(100), T0],
      'sub dir/newer-other-size.txt': ['c'.repeat(100), T0],
    };
    /** The source after the changes. */
    const changed: Record<string, [string, number]> = {
      'same.txt': ['s'.repeat(100), T0],
      // Same length, new bytes, one hour newer: only the time tells.
      'newer-same-size.txt': ['A'.repeat(100), T0 + 3600],
      'older-other-size.txt': ['B'.repeat(150), T0 - 3600],
      'sub dir/newer-other-size.txt': ['C'.repeat(120), T0 + 7200],
      'added.txt': ['new', T0 - 86400],
    };
    let base = '';

    before(async () => {
      for (const [f, [data, t]] of Object.entries(original)) put(disk(S.proftpd, `cmp/${f}`), data, t);
      own(disk(S.proftpd, 'cmp'));
      await mirrorJson(urlOf(S.proftpd, 'cmp'), urlOf(S.pure, 'cmp-base'));
      base = disk(S.pure, 'cmp-base');
      assertSameTree(snapshot(base), snapshot(disk(S.proftpd, 'cmp')), 'base copy');
      fs.rmSync(disk(S.proftpd, 'cmp'), { recursive: true });
      for (const [f, [data, t]] of Object.entries(changed)) put(disk(S.proftpd, `cmp/${f}`), data, t);
      own(disk(S.proftpd, 'cmp'));
    });

    /** Run with `flags` onto a fresh copy of the base; return which files now hold the source's bytes and mtime. */
    async function runMode(name: string, flags: string[]): Promise<{ summary: MirrorSummary; fromSource: string[] }> {
      const target = `cmp-${name}`;
      copyTree(base, disk(S.pure, target));
      const { summary } = await mirrorJson(urlOf(S.proftpd, 'cmp'), urlOf(S.pure, target), flags);
      const src = snapshot(disk(S.proftpd, 'cmp'));
      const dst = snapshot(disk(S.pure, target));
      const fromSource = filesOf(src).filter((f) => dst.get(f) === src.get(f) && f !== 'same.txt');
      for (const f of filesOf(dst)) {
        if (!fromSource.includes(f) && f !== 'same.txt') {
          assert.ok(original[f], `${name}: unexpected ${f}`);
          const [data, t] = original[f];
          assert.equal(dst.get(f), `${data.length} ${t} ${createHash('sha256').update(data).digest('hex')}`, `${name}: ${f} should be untouched`);
        }
      }
      return { summary, fromSource };
    }

    test('changed file: same size, newer mtime is re-transferred and its new bytes and mtime arrive', async () => {
      const { summary, fromSource } = await runMode('default', []);
      assert.deepEqual(fromSource, ['added.txt', 'newer-same-size.txt', 'older-other-size.txt', 'sub dir/newer-other-size.txt']);
      assert.equal(summary.files.transferred, 4);
      assert.equal(summary.files.unchanged, 1);
      const got = fs.readFileSync(disk(S.pure, 'cmp-default/newer-same-size.txt'), 'utf8');
      assert.equal(got, 'A'.repeat(100));
      assert.equal(Math.floor(fs.statSync(disk(S.pure, 'cmp-default/newer-same-size.txt')).mtimeMs / 1000), T0 + 3600);
    });

    test('--ignore-time: size alone decides (the same-size change is missed, as documented)', async () => {
      const { summary, fromSource } = await runMode('ignore-time', ['--ignore-time']);
      assert.deepEqual(fromSource, ['added.txt', 'older-other-size.txt', 'sub dir/newer-other-size.txt']);
      assert.equal(summary.files.unchanged, 2);
    });

    test('--only-newer: only files newer on the source (and missing ones); an older source file stays', async () => {
      const { summary, fromSource } = await runMode('only-newer', ['--only-newer']);
      assert.deepEqual(fromSource, ['added.txt', 'newer-same-size.txt', 'sub dir/newer-other-size.txt']);
      assert.equal(summary.files.transferred, 3);
    });

    test('--only-missing: only files the destination lacks', async () => {
      const { summary, fromSource } = await runMode('only-missing', ['--only-missing']);
      assert.deepEqual(fromSource, ['added.txt']);
      assert.equal(summary.files.transferred, 1);
      assert.equal(summary.files.unchanged, 4);
    });
  });

  // -------------------------------------------------------------------------
  describe('--delete', () => {
    test('removes extraneous files first, then directories deepest first; without --delete they stay', async () => {
      for (const f of ['keep/a.txt', 'keep/sub/b.txt', 'top.txt']) put(disk(S.proftpd, `del/${f}`), f);
      // A stale part file on the source is never transferred.
      put(disk(S.proftpd, 'del/keep/.junk.fxpmirror-part'), 'partial');
      own(disk(S.proftpd, 'del'));
      await mirrorJson(urlOf(S.proftpd, 'del'), urlOf(S.pure, 'del'));
      const extras = ['gone.txt', 'keep/gone2.txt', 'old/x.txt', 'old/d1/y.txt', 'old/d1/d2/z.txt', 'old/d1/d2/d3/w.txt', 'keep/sub/gone3.txt'];
      for (const f of extras) put(disk(S.pure, `del/${f}`), f);
      fs.mkdirSync(disk(S.pure, 'del/emptygone/deeper'), { recursive: true });
      own(disk(S.pure, 'del'));

      const plain = await mirrorJson(urlOf(S.proftpd, 'del'), urlOf(S.pure, 'del'));
      assert.equal(plain.summary.files.deleted, 0);
      for (const f of extras) assert.ok(fs.existsSync(disk(S.pure, `del/${f}`)), `${f} kept without --delete`);

      const { summary, r } = await mirrorJson(urlOf(S.proftpd, 'del'), urlOf(S.pure, 'del'), ['--delete', '-v']);
      assert.equal(summary.files.deleted, extras.length);
      assert.equal(summary.dirs.deleted, 6); // old, old/d1, old/d1/d2, old/d1/d2/d3, emptygone, emptygone/deeper
      // The wire log shows the order the server saw.
      const ops = lines(r.stderr)
        .map((l) => /^127\.0\.0\.40:4140 > (DELE|RMD) \/del\/(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ cmd: m[1], path: m[2] }));
      assert.deepEqual(ops.filter((o) => o.cmd === 'DELE').map((o) => o.path).sort(), [...extras].sort());
      const lastDele = ops.map((o) => o.cmd).lastIndexOf('DELE');
      const firstRmd = ops.map((o) => o.cmd).indexOf('RMD');
      assert.ok(lastDele < firstRmd, `files first: ${JSON.stringify(ops)}`);
      const rmd = ops.filter((o) => o.cmd === 'RMD').map((o) => o.path);
      assert.deepEqual(rmd.slice().sort(), ['emptygone', 'emptygone/deeper', 'old', 'old/d1', 'old/d1/d2', 'old/d1/d2/d3']);
      const depths = rmd.map((p) => p.split('/').length);
      assert.deepEqual(depths, depths.slice().sort((a, b) => b - a), `deepest first: ${rmd.join(', ')}`);

      // The source's stale part file was not copied (snapshot() fails on one).
      const src = snapshot(disk(S.proftpd, 'del'), { allowParts: true });
      assert.ok(src.delete('keep/.junk.fxpmirror-part'));
      assertSameTree(snapshot(disk(S.pure, 'del')), src, 'after --delete');
    });

    test('an unreadable source directory: nothing under it is deleted, it is reported unsynced, exit 1', async () => {
      for (const f of ['open/a.txt', 'locked/b.txt', 'locked/sub/c.txt']) put(disk(S.proftpd, `lock/${f}`), f);
      own(disk(S.proftpd, 'lock'));
      await mirrorJson(urlOf(S.proftpd, 'lock'), urlOf(S.pure, 'lock'));
      for (const f of ['locked/extra.txt', 'locked/sub/extra2.txt', 'locked/onlydst/e.txt', 'open/extra3.txt']) put(disk(S.pure, `lock/${f}`), f);
      own(disk(S.pure, 'lock'));
      const before = snapshot(disk(S.pure, 'lock/locked'), { exact: true });
      fs.chmodSync(disk(S.proftpd, 'lock/locked'), 0o000);
      try {
        const { summary } = await mirrorJson(urlOf(S.proftpd, 'lock'), urlOf(S.pure, 'lock'), ['--delete'], EXIT.PARTIAL);
        assert.equal(summary.unsynced.length, 1, JSON.stringify(summary.unsynced));
        assert.equal(summary.unsynced[0].path, 'locked');
        assert.equal(summary.unsynced[0].side, 'source');
        assert.match(summary.unsynced[0].reason, /^550\b/);
        // Elsewhere --delete still works.
        assert.equal(summary.files.deleted, 1);
        assert.ok(!fs.existsSync(disk(S.pure, 'lock/open/extra3.txt')));
      } finally {
        fs.chmodSync(disk(S.proftpd, 'lock/locked'), 0o755);
      }
      assertSameTree(snapshot(disk(S.pure, 'lock/locked'), { exact: true }), before, 'nothing under the unsynced directory changed');
    });

    test('--max-delete N and P% stop before deleting anything (exit 1, message); at the limit it deletes', async () => {
      put(disk(S.proftpd, 'md/a.txt'), 'a');
      own(disk(S.proftpd, 'md'));
      await mirrorJson(urlOf(S.proftpd, 'md'), urlOf(S.pure, 'md'));
      for (let i = 1; i <= 4; i++) put(disk(S.pure, `md/x${i}.txt`), `x${i}`);
      own(disk(S.pure, 'md'));
      const before = snapshot(disk(S.pure, 'md'), { exact: true });

      const text = await cli(['mirror', urlOf(S.proftpd, 'md'), urlOf(S.pure, 'md'), '--delete', '--max-delete', '3']);
      assert.equal(text.code, EXIT.PARTIAL, text.stderr);
      assert.match(text.stderr, /refusing to delete 4 entries: more than --max-delete 3; nothing was deleted/);
      assert.match(text.stdout, /delete limit: +4 planned, over --max-delete 3: nothing was deleted/);
      assertSameTree(snapshot(disk(S.pure, 'md'), { exact: true }), before, '--max-delete 3');

      // 4 of 5 destination entries is 80%.
      const pct = await mirrorJson(urlOf(S.proftpd, 'md'), urlOf(S.pure, 'md'), ['--delete', '--max-delete', '50%'], EXIT.PARTIAL);
      assert.deepEqual(pct.summary.deleteLimit, { planned: 4, limit: '50%' });
      assert.equal(pct.summary.files.deleted, 0);
      assertSameTree(snapshot(disk(S.pure, 'md'), { exact: true }), before, '--max-delete 50%');

      const ok = await mirrorJson(urlOf(S.proftpd, 'md'), urlOf(S.pure, 'md'), ['--delete', '--max-delete', '4']);
      assert.equal(ok.summary.files.deleted, 4);
      assert.deepEqual(filesOf(snapshot(disk(S.pure, 'md'))), ['a.txt']);
    });
  });

  // -------------------------------------------------------------------------
  test('--dry-run prints one line per action with its reason (text and --json) and changes nothing', async () => {
    const T = Date.UTC(2024, 2, 3) / 1000;
    for (const f of ['same.txt', 'grown.txt', 'touched.txt']) put(disk(S.proftpd, `plan/${f}`), `${f}-0123456789`, T);
    own(disk(S.proftpd, 'plan'));
    await mirrorJson(urlOf(S.proftpd, 'plan'), urlOf(S.pure, 'plan'));
    // Changes after the first sync: on the source...
    put(disk(S.proftpd, 'plan/grown.txt'), 'grown.txt-0123456789-and-more', T);
    put(disk(S.proftpd, 'plan/touched.txt'), 'TOUCHED.TXT-0123456789', T + 600);
    put(disk(S.proftpd, 'plan/new.txt'), 'new', T);
    put(disk(S.proftpd, 'plan/newdir/inner.txt'), 'inner', T);
    own(disk(S.proftpd, 'plan'));
    // ...and extras on the destination.
    put(disk(S.pure, 'plan/extra.txt'), 'extra');
    put(disk(S.pure, 'plan/olddir/x.txt'), 'x');
    own(disk(S.pure, 'plan'));
    const before = snapshot(disk(S.pure, 'plan'), { exact: true });

    const expected = [
      'delete extra.txt',
      'delete olddir/',
      'delete olddir/x.txt',
      'mkdir newdir/',
      'transfer grown.txt size',
      'transfer new.txt missing',
      'transfer newdir/inner.txt missing',
      'transfer touched.txt time',
    ];

    const text = await cli(['mirror', urlOf(S.proftpd, 'plan'), urlOf(S.pure, 'plan'), '--delete', '--dry-run']);
    assert.equal(text.code, EXIT.OK, text.stderr);
    const out = lines(text.stdout);
    const summaryAt = out.indexOf('dry run: nothing changed');
    assert.ok(summaryAt > 0, text.stdout);
    const plan = out.slice(0, summaryAt).map((l) => {
      const m = /^(transfer|mkdir|delete) +(\S+)(?: {2}\((\w+)(?:, [^)]*)?\))?$/.exec(l);
      assert.ok(m, `plan line: ${JSON.stringify(l)}`);
      return [m[1], m[2], m[3]].filter(Boolean).join(' ');
    });
    assert.deepEqual(plan.slice().sort(), expected);
    assert.match(text.stdout, /to transfer: +4 files/);
    assert.match(text.stdout, /to delete: +2 files, 1 directory/);

    const { summary, r } = await mirrorJson(urlOf(S.proftpd, 'plan'), urlOf(S.pure, 'plan'), ['--delete', '--dry-run']);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.files.transferred, 4);
    const actions = lines(r.stdout)
      .filter((l) => l.startsWith('{"'))
      .map((l) => JSON.parse(l) as { kind: string; path: string; reason?: string; type?: string });
    const asText = actions.map((a) => [a.kind, a.kind === 'mkdir' || a.type === 'dir' ? `${a.path}/` : a.path, a.kind === 'transfer' ? a.reason : ''].filter(Boolean).join(' '));
    assert.deepEqual(asText.sort(), expected);

    assertSameTree(snapshot(disk(S.pure, 'plan'), { exact: true }), before, 'dry run changed the destination');
  });
});
