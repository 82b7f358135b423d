/**
 * The mirror engine against the lab servers: filters (--exclude, --include,
 * --exclude-from, sizes, dates) select exactly what they say, and symlinks on
 * the source are skipped or followed. The servers, tree helpers and the CLI
 * are in mirror-setup.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labStateDir, type LabServer } from '../lab/lab.js';
import { urlOf } from '../lab/helpers.js';
import {
  S,
  UNAVAILABLE,
  dirsOf,
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
  withServers(['proftpd', 'pure', 'vsftpd']);

  // -------------------------------------------------------------------------
  describe('filters select exactly what they say', () => {
    const files: Record<string, [number, number]> = {
      // path: [size, mtime]
      'keep/a.txt': [100, Date.UTC(2024, 5, 1) / 1000],
      'keep/b.log': [100, Date.UTC(2024, 5, 1) / 1000],
      'keep/c.tmp': [100, Date.UTC(2024, 5, 1) / 1000],
      'logs/app.log': [100, Date.UTC(2024, 5, 1) / 1000],
      'logs/deep/x.txt': [100, Date.UTC(2024, 5, 1) / 1000],
      'cache/c.bin': [100, Date.UTC(2024, 5, 1) / 1000],
      'docs/readme.txt': [100, Date.UTC(2024, 5, 1) / 1000],
      's/small.bin': [10, Date.UTC(2024, 5, 1) / 1000],
      's/mid.bin': [5000, Date.UTC(2024, 5, 1) / 1000],
      's/big.bin': [100_000, Date.UTC(2024, 5, 1) / 1000],
      't/old.txt': [100, Date.UTC(2020, 0, 1) / 1000],
      't/mid.txt': [100, Date.UTC(2022, 5, 1) / 1000],
      't/new.txt': [100, Date.UTC(2024, 0, 1) / 1000],
    };
    const ALL_DIRS = ['cache/', 'docs/', 'keep/', 'logs/', 'logs/deep/', 's/', 't/'];
    let n = 0;

    before(() => {
      for (const [f, [size, t]] of Object.entries(files)) put(disk(S.proftpd, `filt/${f}`), Buffer.alloc(size, f), t);
      own(disk(S.proftpd, 'filt'));
    });

    async function filtered(flags: string[]): Promise<{ files: string[]; dirs: string[]; log: string }> {
      const target = `filt-${++n}`;
      const logFile = S.proftpd.logFile;
      const from = fs.statSync(logFile).size;
      await mirrorJson(urlOf(S.proftpd, 'filt'), urlOf(S.pure, target), flags);
      const snap = snapshot(disk(S.pure, target));
      // Every transferred file is byte-identical with its source, mtime included.
      const src = snapshot(disk(S.proftpd, 'filt'));
      for (const f of filesOf(snap)) assert.equal(snap.get(f), src.get(f), f);
      const fd = fs.openSync(logFile, 'r');
      const buf = Buffer.alloc(fs.statSync(logFile).size - from);
      fs.readSync(fd, buf, 0, buf.length, from);
      fs.closeSync(fd);
      return { files: filesOf(snap), dirs: dirsOf(snap), log: buf.toString('utf8') };
    }

    test('--exclude (repeatable): an excluded directory is pruned, never listed on the source', async () => {
      const r = await filtered(['--exclude', 'logs/', '--exclude', '*.tmp']);
      assert.deepEqual(r.files, ['cache/c.bin', 'docs/readme.txt', 'keep/a.txt', 'keep/b.log', 's/big.bin', 's/mid.bin', 's/small.bin', 't/mid.txt', 't/new.txt', 't/old.txt']);
      assert.deepEqual(r.dirs, ALL_DIRS.filter((d) => !d.startsWith('logs/')));
      // proftpd's command log: the other directories were listed, logs never.
      assert.match(r.log, /"MLSD \/filt\/keep"/);
      assert.doesNotMatch(r.log, /\/filt\/logs/);
    });

    test('--include (repeatable) with --exclude: only matching files; a directory include takes its subtree', async () => {
      const r = await filtered(['--include', '*.txt', '--include', 's/', '--exclude', 'logs/']);
      assert.deepEqual(r.files, ['docs/readme.txt', 'keep/a.txt', 's/big.bin', 's/mid.bin', 's/small.bin', 't/mid.txt', 't/new.txt', 't/old.txt']);
      assert.doesNotMatch(r.log, /\/filt\/logs/);
    });

    test('--exclude-from FILE: one glob per line, comments and blank lines ignored', async () => {
      const list = path.join(labStateDir(), `mirror-test-exclude-${process.pid}.txt`);
      fs.writeFileSync(list, '# build output\ncache/\n\n*.log\r\nt/old.txt\n');
      try {
        const r = await filtered(['--exclude-from', list]);
        assert.deepEqual(r.files, ['docs/readme.txt', 'keep/a.txt', 'keep/c.tmp', 'logs/deep/x.txt', 's/big.bin', 's/mid.bin', 's/small.bin', 't/mid.txt', 't/new.txt']);
        assert.ok(!r.dirs.includes('cache/'));
        assert.doesNotMatch(r.log, /\/filt\/cache/);
      } finally {
        fs.rmSync(list, { force: true });
      }
    });

    test('--min-size / --max-size: inclusive bounds', async () => {
      const r = await filtered(['--min-size', '1K', '--max-size', '50K']);
      assert.deepEqual(r.files, ['s/mid.bin']);
      const exact = await filtered(['--min-size', '5000', '--max-size', '100000']);
      assert.deepEqual(exact.files, ['s/big.bin', 's/mid.bin']);
    });

    test('--newer-than / --older-than: by the source mtime', async () => {
      const between = await filtered(['--newer-than', '2021-01-01', '--older-than', '2023-01-01']);
      assert.deepEqual(between.files, ['t/mid.txt']);
      const old = await filtered(['--older-than', '2022-01-01T00:00:00Z']);
      assert.deepEqual(old.files, ['t/old.txt']);
      const recent = await filtered(['--newer-than', '2023-06-01']);
      assert.deepEqual(recent.files, Object.keys(files).filter((f) => f !== 't/old.txt' && f !== 't/mid.txt').sort());
    });
  });

  // -------------------------------------------------------------------------
  describe('symlinks on the source', () => {
    /** real.txt, dir/inner.txt, lnk -> real.txt, dirlink -> dir, dir/up -> .. (an ancestor), dangling -> nowhere. */
    function links(server: LabServer): void {
      put(disk(server, 'links/real.txt'), 'real bytes');
      put(disk(server, 'links/dir/inner.txt'), 'inner bytes');
      fs.symlinkSync('real.txt', disk(server, 'links/lnk'));
      fs.symlinkSync('dir', disk(server, 'links/dirlink'));
      fs.symlinkSync('..', disk(server, 'links/dir/up'));
      fs.symlinkSync('nowhere', disk(server, 'links/dangling'));
      own(disk(server, 'links'));
    }

    before(() => {
      links(S.proftpd);
      links(S.vsftpd);
    });

    test('--symlinks skip (default) reports them as skipped entries and copies none', async () => {
      const { summary } = await mirrorJson(urlOf(S.proftpd, 'links'), urlOf(S.pure, 'links-skip'));
      const skipped = summary.skippedEntries.map((s) => `${s.path} ${s.reason}`).sort();
      // proftpd's MLSD leaves the dangling link out; the others are reported.
      assert.deepEqual(skipped, ['dir/up symlink', 'dirlink symlink', 'lnk symlink']);
      assert.equal(summary.files.skipped, 3);
      assert.deepEqual(filesOf(snapshot(disk(S.pure, 'links-skip'))), ['dir/inner.txt', 'real.txt']);
    });

    // proftpd's MLSD names no link target ("OS.unix=symlink"); vsftpd's LIST does ("up -> ..").
    for (const role of ['proftpd', 'vsftpd'] as const) {
      test(`--symlinks follow (${role}): a linked file and directory are copied, a link to an ancestor is not walked`, async () => {
        const target = `links-follow-${role}`;
        const { summary, r } = await mirrorJson(urlOf(S[role], 'links'), urlOf(S.pure, target), ['--symlinks', 'follow']);
        assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
        const snap = snapshot(disk(S.pure, target));
        assert.deepEqual(filesOf(snap), ['dir/inner.txt', 'dirlink/inner.txt', 'lnk', 'real.txt']);
        assert.equal(snap.get('lnk')!.split(' ')[2], createHash('sha256').update('real bytes').digest('hex'));
        assert.equal(snap.get('dirlink/inner.txt')!.split(' ')[2], createHash('sha256').update('inner bytes').digest('hex'));
        const skipped = summary.skippedEntries.map((s) => s.path).sort();
        assert.deepEqual(skipped, role === 'vsftpd' ? ['dangling', 'dir/up', 'dirlink/up'] : ['dir/up', 'dirlink/up']);
      });
    }
  });
});
