/**
 * Writes stay inside the target (issue 9 §1), proven on real disks:
 * - a scripted hostile SOURCE lists "../keep.txt", "../newdir", "a/b", "a\b",
 *   names with CR and NUL, a duplicate and a file+directory pair; `mirror`
 *   copies into a real lab server (proftpd: MLSD, vsftpd: LIST), whose disk
 *   must be unchanged outside the target, with the good names transferred,
 *   exit 1 and every reason in the JSON summary;
 * - a scripted hostile DESTINATION lists "../x" entries under --delete:
 *   nothing outside the target is deleted, no DELE/RMD with such a path is
 *   ever sent;
 * - --symlinks follow on real servers: links out of the source root (direct,
 *   absolute, through another link, through a directory link) are skipped.
 *
 * (An LF cannot be inside a listed name: the listing's lines end at LF, so
 * "a\nb" arrives as two lines; names.test.ts covers the rule itself.)
 *
 * Addresses: lab servers 127.0.3.30-31, scripted servers 127.0.3.35-36 (port 0).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labUserIds, stopAll, type LabServer, type ServerKind, type StartOptions } from '../lab/lab.js';
import { requireServers, runCli, sha256FileSync, startPlan, urlOf, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { ScriptedFtpServer } from '../support/index.js';

type Role = 'proftpd' | 'vsftpd';
const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  proftpd: ['proftpd', { address: '127.0.3.30', port: 4330 }],
  vsftpd: ['vsftpd', { address: '127.0.3.31', port: 4331 }],
};
const UNAVAILABLE = requireServers(Object.values(PLAN).map(([k]) => k));
const S = {} as Record<Role, LabServer>;
const T = new Date(Date.UTC(2023, 4, 6, 7, 8, 9));

/** Every path under `root` (directories end in "/") -> sha256 and mtime of files: any change outside the target shows. */
function snapshot(root: string, skip?: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === skip) continue;
      const full = path.join(root, p);
      if (e.isDirectory()) {
        out.set(`${p}/`, 'dir');
        walk(p);
      } else out.set(p, `${sha256FileSync(full)} ${fs.lstatSync(full).mtimeMs}`);
    }
  };
  walk('');
  return out;
}

function own(p: string): void {
  const { uid, gid } = labUserIds();
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, p]);
}

function put(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.utimesSync(file, T, T);
}

async function mirrorJson(args: string[]): Promise<{ r: CliRun; summary: MirrorSummary }> {
  const r = await runCli(['mirror', '--json', ...args], { timeoutMs: 60_000 });
  let summary: MirrorSummary;
  try {
    summary = JSON.parse(r.stdout) as MirrorSummary;
  } catch {
    assert.fail(`exit ${r.code}, no JSON summary; stderr:\n${r.stderr}\nstdout:\n${r.stdout}`);
  }
  return { r, summary };
}

const mlsdFile = (name: string, size: number) => `type=file;size=${size};modify=20230506070809; ${name}\r\n`;
const mlsdDir = (name: string) => `type=dir;modify=20230506070809; ${name}\r\n`;

describe('path containment against real servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  before(async () => Object.assign(S, await startPlan(PLAN)));
  after(() => stopAll());

  for (const role of ['proftpd', 'vsftpd'] as const) {
    test(`hostile source listing mirrored into ${role}: nothing outside the target changes, good names arrive, exit 1 with every reason`, async () => {
      const root = S[role].root;
      put(path.join(root, 'keep.txt'), 'precious, outside the target\n');
      put(path.join(root, 'target/old.txt'), 'already there\n');
      own(root);
      const outside = snapshot(root, 'target');
      const hostile = [
        mlsdFile('../keep.txt', 5),
        mlsdDir('../newdir'),
        mlsdFile('a/b', 5),
        mlsdFile('a\\b', 5),
        mlsdFile('..\\up.txt', 5),
        mlsdFile('cr\rname', 5),
        mlsdFile('nul\0name', 5),
        mlsdFile('dup.txt', 5),
        mlsdFile('dup.txt', 6),
        mlsdFile('both', 5),
        mlsdDir('both'),
        mlsdFile('good.txt', 10),
        mlsdDir('gooddir'),
      ].join('');
      // The scripted server resolves "/src/../keep.txt" to its own /keep.txt: a client that
      // followed the names would find files to copy there.
      const src = await ScriptedFtpServer.start({
        host: '127.0.3.35',
        files: {
          '/keep.txt': 'EVIL', '/src/good.txt': { data: 'good bytes', mtime: T }, '/src/gooddir/inner.txt': { data: 'inner', mtime: T },
          '/src/a/b': 'EVIL', '/src/dup.txt': 'EVIL', '/src/both': 'EVIL', '/newdir/x': 'EVIL',
        },
        listing: (verb, dir) => (dir === '/src' && verb === 'MLSD' ? hostile : undefined),
      });
      try {
        const { r, summary } = await mirrorJson([src.url('/src'), urlOf(S[role], 'target'), '--delete']);
        assert.equal(r.code, EXIT.PARTIAL, r.stderr);
        // Outside the target: byte for byte and mtime for mtime the same, nothing new.
        assert.deepEqual(snapshot(root, 'target'), outside);
        assert.equal(fs.readFileSync(path.join(root, 'keep.txt'), 'utf8'), 'precious, outside the target\n');
        assert.ok(!fs.existsSync(path.join(root, 'newdir')));
        // Inside: the good names, and the old file deleted by --delete (it is not on the source).
        const inside = snapshot(path.join(root, 'target'));
        assert.deepEqual([...inside.keys()].sort(), ['good.txt', 'gooddir/', 'gooddir/inner.txt']);
        assert.equal(fs.readFileSync(path.join(root, 'target/good.txt'), 'utf8'), 'good bytes');
        assert.equal(fs.readFileSync(path.join(root, 'target/gooddir/inner.txt'), 'utf8'), 'inner');
        assert.deepEqual(
          summary.unusable.map((u) => [u.dir, u.name, u.side, u.reason]),
          [
            ['', '../keep.txt', 'source', 'contains "/"'],
            ['', '../newdir', 'source', 'contains "/"'],
            ['', 'a/b', 'source', 'contains "/"'],
            ['', 'a\\b', 'source', 'contains "\\" (a separator on Windows servers)'],
            ['', '..\\up.txt', 'source', 'contains "\\" (a separator on Windows servers)'],
            ['', 'cr\rname', 'source', 'contains CR'],
            ['', 'nul\0name', 'source', 'contains NUL'],
            ['', 'dup.txt', 'source', 'duplicate entry'],
            ['', 'both', 'source', 'duplicate entry'],
          ],
        );
        assert.equal(summary.files.transferred, 2);
        assert.deepEqual(summary.failures, []);
        // Only the good files were ever asked for.
        assert.deepEqual(src.sent('RETR').sort(), ['RETR /src/good.txt', 'RETR /src/gooddir/inner.txt']);
        // Again, as text: each unusable name is a warning on stderr and a summary line; still exit 1, still nothing outside.
        const text = await runCli(['mirror', src.url('/src'), urlOf(S[role], 'target'), '--delete'], { timeoutMs: 60_000 });
        assert.equal(text.code, EXIT.PARTIAL, text.stderr);
        assert.ok(text.stderr.includes('warning source /: unusable name "../keep.txt" (contains "/"): neither transferred nor deleted'), text.stderr);
        assert.ok(text.stdout.includes('unusable names (9, neither transferred nor deleted):'), text.stdout);
        assert.ok(text.stdout.includes('  "cr\\rname" in ./  (source: contains CR)'), text.stdout);
        assert.match(text.stdout, /transferred: +0 files/);
        assert.deepEqual(snapshot(root, 'target'), outside);
      } finally {
        await src.close();
      }
    });
  }

  test('hostile destination listing under --delete: nothing outside the target deleted, no DELE/RMD of such a path', async () => {
    const srcRoot = path.join(S.proftpd.root, 'dsrc');
    put(path.join(srcRoot, 'good.txt'), 'good\n');
    put(path.join(srcRoot, 'dupe'), 'source dupe\n');
    own(srcRoot);
    const target = [
      mlsdFile('../x', 1),
      mlsdDir('../xdir'),
      mlsdFile('..', 1),
      mlsdFile('stale.txt', 5),
      mlsdFile('dupe', 3),
      mlsdFile('dupe', 4),
      mlsdDir('olddir'),
    ].join('');
    const dst = await ScriptedFtpServer.start({
      host: '127.0.3.36',
      files: { '/dst/x': 'outside', '/dst/xdir/y': 'outside', '/dst/target/stale.txt': 'stale', '/dst/target/dupe': 'dupe', '/dst/target/olddir/f': 'f', '/dst/escape': 'outside' },
      listing: (verb, dir) => (dir === '/dst/target' ? target : dir === '/dst/target/olddir' ? mlsdFile('f', 1) + mlsdFile('../../escape', 1) : undefined),
    });
    try {
      const { r, summary } = await mirrorJson([urlOf(S.proftpd, 'dsrc'), dst.url('/dst/target'), '--delete']);
      assert.equal(r.code, EXIT.PARTIAL, r.stderr);
      assert.deepEqual(dst.sent('DELE', 'RMD'), ['DELE /dst/target/stale.txt']);
      for (const p of ['/dst/x', '/dst/xdir/y', '/dst/escape', '/dst/target/olddir/f', '/dst/target/dupe']) assert.ok(dst.tree.get(p), `${p} still there`);
      assert.equal(dst.tree.read('/dst/target/good.txt')?.toString(), 'good\n');
      assert.equal(dst.tree.read('/dst/target/dupe')?.toString(), 'dupe', 'an ambiguous name is not overwritten');
      assert.ok(!dst.sent('STOR', 'RNTO', 'RNFR', 'MKD', 'MFMT').some((l) => /\.\.|dupe/.test(l)), dst.sent('STOR', 'RNTO').join('\n'));
      assert.deepEqual(
        summary.unusable.map((u) => [u.dir, u.name, u.side, u.reason]),
        [
          ['', '../x', 'destination', 'contains "/"'],
          ['', '../xdir', 'destination', 'contains "/"'],
          ['', 'dupe', 'destination', 'duplicate entry'],
          ['olddir', '../../escape', 'destination', 'contains "/"'],
        ],
      );
      assert.equal(summary.files.deleted, 1);
    } finally {
      await dst.close();
    }
  });

  for (const role of ['proftpd', 'vsftpd'] as const) {
    test(`--symlinks follow (${role}): links out of the source root are skipped, links inside are copied`, async () => {
      const base = path.join(S[role].root, 'lk');
      put(path.join(base, 'outside.txt'), 'OUTSIDE');
      put(path.join(base, 'outsidedir/x'), 'OUTSIDE X');
      put(path.join(base, 'src/real.txt'), 'real');
      put(path.join(base, 'src/dir/inner.txt'), 'inner');
      const link = (to: string, name: string) => fs.symlinkSync(to, path.join(base, 'src', name));
      link('real.txt', 'in');
      link('in', 'chain');
      link('dir', 'dirlink');
      link('../outside.txt', 'out');
      link('out', 'chainout');
      link('../outsidedir', 'outdir');
      link('/lk/outside.txt', 'abs');
      link('dir/../../outside.txt', 'via');
      link('outdir/x', 'hop');
      own(base);
      const { r, summary } = await mirrorJson([urlOf(S[role], 'lk/src'), urlOf(S.proftpd, `lk-copy-${role}`), '--symlinks', 'follow']);
      assert.equal(r.code, EXIT.OK, r.stderr);
      const copy = snapshot(path.join(S.proftpd.root, `lk-copy-${role}`));
      assert.deepEqual([...copy.keys()].sort(), ['chain', 'dir/', 'dir/inner.txt', 'dirlink/', 'dirlink/inner.txt', 'in', 'real.txt']);
      for (const f of ['chain', 'in']) assert.equal(fs.readFileSync(path.join(S.proftpd.root, `lk-copy-${role}`, f), 'utf8'), 'real');
      const skipped = Object.fromEntries(summary.skippedEntries.map((s) => [s.path, s.reason]));
      assert.deepEqual(skipped, { abs: 'outside', chainout: 'outside', hop: 'outside', out: 'outside', outdir: 'outside', via: 'outside' });
    });
  }
});
