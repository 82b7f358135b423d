/**
 * The mirror engine through the CLI (`node bin/fxpmirror mirror <src> <dst>`)
 * against the real lab servers. Every check looks at the servers' disks:
 * sha256 of every file, the tree shape (empty directories included), mtimes to
 * the second, ctimes where "nothing changed" is the claim, exit codes, the JSON
 * summary, the wire log (-v) and proftpd's own command log.
 *
 * Addresses 127.0.0.37 .. 127.0.0.40 and 127.0.2.21 .. 127.0.2.40 belong to
 * this file. The byte counter (lab.ts's startByteCounter) is limited to
 * 127.0.0.37-40, so other files' servers cannot inflate it.
 *
 * pyftpdlib 1.5.7 as the *active* side of a data connection (it connects on
 * PORT) sometimes never reads the connection: its epoll loop unregisters an fd
 * that was just reused ("unregister(); fd was no longer in socket_map" in its
 * log), the transfer stalls until the 30 s data timeout. With pyftpdlib as the
 * destination this file therefore makes it the passive side
 * (--passive destination), where it is reliable.
 *
 * Under CI=true a server that cannot run is a failure (requireServer);
 * locally the whole file skips with labAvailable()'s reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  SERVER_KINDS,
  labStateDir,
  labUserIds,
  startByteCounter,
  stopAll,
  type ByteCounter,
  type LabServer,
  type ServerKind,
  type StartOptions,
} from '../lab/lab.js';
import { lines, requireServers, runCli, sha256FileSync, startPlan, urlOf, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import type { MirrorSummary } from '../../src/tree/plan.js';

const UNAVAILABLE = requireServers(SERVER_KINDS);

const MiB = 1024 * 1024;
const T2023 = Date.UTC(2023, 0, 1) / 1000;

// ---------------------------------------------------------------------------
// The servers of this file

type Role = 'proftpd' | 'pyftpdlib' | 'vsftpd' | 'pure' | 'proftpdStrict' | 'pureStrict' | 'proftpdCapped' | 'pureCapped';

const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  proftpd: ['proftpd', { address: '127.0.0.37', port: 4137 }],
  pyftpdlib: ['pyftpdlib', { address: '127.0.0.38', port: 4138 }],
  vsftpd: ['vsftpd', { address: '127.0.0.39', port: 4139 }],
  pure: ['pure-ftpd', { address: '127.0.0.40', port: 4140 }],
  proftpdStrict: ['proftpd', { address: '127.0.2.21', port: 4221, profile: 'strict' }],
  pureStrict: ['pure-ftpd', { address: '127.0.2.22', port: 4222, profile: 'strict' }],
  proftpdCapped: ['proftpd', { address: '127.0.2.23', port: 4223, maxPerIp: 2 }],
  pureCapped: ['pure-ftpd', { address: '127.0.2.24', port: 4224, maxPerIp: 2 }],
};
const S = {} as Record<Role, LabServer>;

// ---------------------------------------------------------------------------
// Files on the servers' disks

/** Everything under `dir` belongs to the lab user, so the servers may read and change it. */
function own(dir: string): void {
  const { uid, gid } = labUserIds();
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, dir]);
}

function disk(server: LabServer, rel: string): string {
  return path.join(server.root, rel);
}

/** Write a file (parents too) with a known mtime in whole seconds. Call own() afterwards. */
function put(file: string, data: Buffer | string, mtimeSec = T2023): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.utimesSync(file, mtimeSec, mtimeSec);
}

/** A copy of a tree on disk, mtimes included (to give another server the same source). */
function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  own(to);
}

/** Deterministic pseudo-random numbers (mulberry32): the same tree on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The main tree: depth 5, ~300 files from 0 B to 8 MiB, names with spaces
 * (one with two in a row) and UTF-8 (Latin, CJK), three empty directories
 * (one nested under another that holds nothing else), mtimes spread over two
 * years in whole seconds. Returns the number of files and their total size.
 */
function buildMainTree(root: string, files = 300): { files: number; bytes: number } {
  const rnd = prng(42);
  const names = ['alpha', 'beta gamma', 'Ünïcödé', 'données', '日本語', 'space  two', 'x'];
  const dirs = [''];
  let spine = '';
  for (let d = 1; d <= 5; d++) {
    spine = path.posix.join(spine, `level${d} ${names[d % names.length]}`);
    dirs.push(spine);
  }
  for (let i = 0; i < 20; i++) {
    const parent = dirs[Math.floor(rnd() * dirs.length)];
    const dir = path.posix.join(parent, `${names[i % names.length]}-${i}`);
    if (dir.split('/').length <= 5) dirs.push(dir);
  }
  for (const d of [...dirs, 'empty', 'level1 beta gamma/empty é', 'nested/empty/deeper']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const pattern = Buffer.alloc(8 * MiB);
  for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    // 0 B, exactly 8 MiB, a few MiB-sized, some 100 KiB-sized, most small.
    const size = i === 0 ? 0 : i === 1 ? 8 * MiB : i < 5 ? Math.floor(rnd() * 4 * MiB) : i < 40 ? Math.floor(rnd() * 200_000) : Math.floor(rnd() * 4000);
    const start = Math.floor(rnd() * (pattern.length - size + 1));
    const file = path.join(root, dirs[i % dirs.length], `${names[i % names.length]} file-${i}.dat`);
    put(file, pattern.subarray(start, start + size), T2023 + Math.floor(rnd() * 86400 * 700));
    bytes += size;
  }
  own(root);
  return { files, bytes };
}

interface SnapOptions {
  /** Also record ctimes and directory mtimes: any change on disk shows. */
  exact?: boolean;
  /** Record part files instead of failing on them (a source may hold one). */
  allowParts?: boolean;
}

/**
 * The tree under `root` as path -> description: "dir" (trailing "/"), or
 * "<size> <mtime seconds> <sha256>" for a file, "link -> target" for a link.
 * Fails on a temporary part file: they must never be left behind.
 */
function snapshot(root: string, opts: SnapOptions = {}): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(root, p);
      const st = fs.lstatSync(full);
      const extra = opts.exact ? ` c${st.ctimeMs} m${st.mtimeMs}` : '';
      if (e.isDirectory()) {
        out.set(`${p}/`, `dir${extra}`);
        walk(p);
      } else if (e.isSymbolicLink()) {
        out.set(p, `link -> ${fs.readlinkSync(full)}`);
      } else {
        assert.ok(opts.allowParts || !isPartName(e.name), `temporary file left behind: ${full}`);
        out.set(p, `${st.size} ${Math.floor(st.mtimeMs / 1000)} ${sha256FileSync(full)}${extra}`);
      }
    }
  };
  walk('');
  return out;
}

/** Same keys, same values; the message names the first differences. */
function assertSameTree(actual: Map<string, string>, expected: Map<string, string>, what: string): void {
  const diffs: string[] = [];
  for (const k of new Set([...actual.keys(), ...expected.keys()])) {
    if (actual.get(k) !== expected.get(k)) diffs.push(`${k}: got ${actual.get(k) ?? '(missing)'}, want ${expected.get(k) ?? '(absent)'}`);
  }
  assert.equal(diffs.length, 0, `${what}: ${diffs.length} differences:\n${diffs.slice(0, 10).join('\n')}`);
}

function treeHash(snap: Map<string, string>): string {
  return createHash('sha256').update(JSON.stringify([...snap.entries()].sort())).digest('hex');
}

function filesOf(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => !k.endsWith('/')).sort();
}

function dirsOf(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => k.endsWith('/')).sort();
}

// ---------------------------------------------------------------------------
// The CLI

/** The CLI with this file's time limit: 90 s a run (whole trees, not single files). */
function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { timeoutMs: 90_000 });
}

/** `mirror src dst --json ...`: the summary, after checking the exit code. */
async function mirrorJson(src: string, dst: string, args: string[] = [], expectCode: number = EXIT.OK): Promise<{ summary: MirrorSummary; r: CliRun }> {
  const r = await cli(['mirror', src, dst, '--json', ...args]);
  assert.equal(r.code, expectCode, `exit ${r.code}, want ${expectCode}; stderr:\n${r.stderr}\nstdout:\n${r.stdout.slice(0, 3000)}`);
  // Under --dry-run the plan lines come first; the summary is the last, pretty-printed object.
  const at = r.stdout.lastIndexOf('\n{\n') >= 0 ? r.stdout.lastIndexOf('\n{\n') + 1 : r.stdout.indexOf('{');
  const summary = JSON.parse(r.stdout.slice(at)) as MirrorSummary;
  if (expectCode === EXIT.OK) assert.deepEqual(summary.failures, [], 'no failures');
  return { summary, r };
}

let counter: ByteCounter | undefined;

// ---------------------------------------------------------------------------

describe('mirror engine against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 600_000 }, () => {
  /** The main tree on proftpd's disk (/tree) and what it is. */
  let main: { files: number; bytes: number };
  let mainSnap: Map<string, string>;

  before(async () => {
    Object.assign(S, await startPlan(PLAN));
    // The client is 127.0.0.1; only the four servers of the first-sync pairs count.
    counter = await startByteCounter('127.0.0.1', (['proftpd', 'pyftpdlib', 'vsftpd', 'pure'] as Role[]).map((r) => PLAN[r][1].address!));
    main = buildMainTree(disk(S.proftpd, 'tree'));
    mainSnap = snapshot(disk(S.proftpd, 'tree'));
  });

  after(async () => {
    await counter?.close();
    await stopAll();
  });

  // -------------------------------------------------------------------------
  describe('first sync and re-sync', () => {
    test('the main tree is what the brief asks for', () => {
      assert.ok(main.files >= 290 && main.files <= 310, `${main.files} files`);
      const sizes = filesOf(mainSnap).map((f) => Number(mainSnap.get(f)!.split(' ')[0]));
      assert.equal(Math.min(...sizes), 0);
      assert.equal(Math.max(...sizes), 8 * MiB);
      assert.ok(dirsOf(mainSnap).some((d) => d.split('/').length - 1 >= 5), 'depth 5');
      assert.ok(filesOf(mainSnap).some((f) => /[^\x00-\x7f]/.test(f) && f.includes(' ')), 'UTF-8 names with spaces');
      for (const d of ['empty/', 'nested/empty/deeper/', 'level1 beta gamma/empty é/']) assert.ok(mainSnap.has(d), d);
    });

    const pairs: { name: string; src: Role; dst: Role; args: string[]; fxpModes: string[] }[] = [
      // MLSD on both sides; pyftpdlib passive (see the header).
      { name: 'proftpd -> pyftpdlib (MLSD both sides)', src: 'proftpd', dst: 'pyftpdlib', args: ['--passive', 'destination'], fxpModes: ['fxp-reversed'] },
      // vsftpd has no MLSD: the source is read with LIST (dates to the day for
      // these old files), so the exact mtimes come from MDTM.
      // pure-ftpd is made the passive side (software.ts: unreliableActive).
      { name: 'vsftpd (LIST only) -> pure-ftpd', src: 'vsftpd', dst: 'pure', args: [], fxpModes: ['fxp-reversed'] },
      // vsftpd as the destination: compared through LIST, mtimes set with "MDTM time path".
      { name: 'proftpd -> vsftpd (LIST only)', src: 'proftpd', dst: 'vsftpd', args: [], fxpModes: ['fxp'] },
    ];
    for (const p of pairs) {
      test(`${p.name}: identical bytes, shape, mtimes; a re-run transfers 0 files and changes nothing`, async () => {
        if (p.src !== 'proftpd') copyTree(disk(S.proftpd, 'tree'), disk(S[p.src], 'tree'));
        const target = `first-${p.src}`;
        await counter!.reset();
        const { summary } = await mirrorJson(urlOf(S[p.src], 'tree'), urlOf(S[p.dst], target), p.args);
        const bytes = await counter!.read();

        assert.equal(summary.files.transferred, main.files);
        assert.equal(summary.bytes.transferred, main.bytes);
        assert.deepEqual(Object.keys(summary.modes), p.fxpModes, `modes ${JSON.stringify(summary.modes)}`);
        assert.deepEqual(summary.unsynced, []);
        // The data went from server to server; the client saw only control traffic and listings.
        assert.ok(bytes.serverToServer >= main.bytes, `server-to-server ${bytes.serverToServer} < ${main.bytes}`);
        const client = bytes.clientToServers + bytes.serversToClient;
        assert.ok(client < main.bytes / 10, `client traffic ${client} bytes is not far below ${main.bytes}`);

        const dst = disk(S[p.dst], target);
        assertSameTree(snapshot(dst), mainSnap, `${p.name}: destination vs source`);

        const before = snapshot(dst, { exact: true });
        const again = await mirrorJson(urlOf(S[p.src], 'tree'), urlOf(S[p.dst], target), p.args);
        assert.equal(again.summary.files.transferred, 0);
        assert.equal(again.summary.files.unchanged, main.files);
        assert.equal(again.summary.dirs.created, 0);
        assertSameTree(snapshot(dst, { exact: true }), before, `${p.name}: re-run changed the disk`);
      });
    }
  });

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

  // -------------------------------------------------------------------------
  test('--parallel 1 and --parallel 8 give the same tree (and the source\'s)', async () => {
    const one = await mirrorJson(urlOf(S.proftpd, 'tree'), urlOf(S.pure, 'par-1'), ['--parallel', '1']);
    const eight = await mirrorJson(urlOf(S.proftpd, 'tree'), urlOf(S.pure, 'par-8'), ['--parallel', '8']);
    assert.equal(one.summary.files.transferred, main.files);
    assert.equal(eight.summary.files.transferred, main.files);
    const a = snapshot(disk(S.pure, 'par-1'));
    const b = snapshot(disk(S.pure, 'par-8'));
    assert.equal(treeHash(a), treeHash(b));
    assert.equal(treeHash(a), treeHash(mainSnap));
  });

  test('one pair, both layouts: the next PASV is asked ahead and PORT goes out with STOR or RETR; same bytes and mtimes', async () => {
    const flat = disk(S.proftpd, 'flat');
    for (let i = 0; i < 20; i++) put(path.join(flat, `f${i}.bin`), Buffer.alloc(1000 + i * 37, i), T2023 + i);
    const want = snapshot(flat);
    // Commands sent to one server, in order (-v: "host:port > COMMAND arg").
    const sent = (r: CliRun, s: LabServer) =>
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith(`${s.host}:${s.port} > `))
        .map((l) => l.slice(`${s.host}:${s.port} > `.length).split(' ')[0]);
    const runs = (cmds: string[], a: string, b: string) => cmds.filter((c, i) => c === a && cmds[i + 1] === b).length;

    // pure-ftpd destination: made passive. Its next PASV rides after RNFR+RNTO; proftpd gets PORT+RETR.
    const rev = await mirrorJson(urlOf(S.proftpd, 'flat'), urlOf(S.pure, 'flat-rev'), ['--parallel', '1', '-v']);
    assert.deepEqual(rev.summary.modes, { 'fxp-reversed': 20 });
    assertSameTree(snapshot(disk(S.pure, 'flat-rev')), want, 'fxp-reversed');
    const pureSent = sent(rev.r, S.pure);
    assert.equal(runs(pureSent, 'RNTO', 'PASV'), 20, pureSent.join(' '));
    assert.equal(pureSent.filter((c) => c === 'PASV').length, 21, 'one PASV of its own, then one ahead per file');
    assert.equal(runs(sent(rev.r, S.proftpd), 'PORT', 'RETR'), 20);

    // vsftpd destination: active. proftpd's PASV for the next file goes out beside SIZE+MFMT; vsftpd gets PORT+STOR.
    const fwd = await mirrorJson(urlOf(S.proftpd, 'flat'), urlOf(S.vsftpd, 'flat-fwd'), ['--parallel', '1', '-v']);
    assert.deepEqual(fwd.summary.modes, { fxp: 20 });
    assertSameTree(snapshot(disk(S.vsftpd, 'flat-fwd')), want, 'fxp');
    const proSent = sent(fwd.r, S.proftpd);
    assert.equal(runs(proSent, 'PASV', 'RETR'), 20, proSent.join(' '));
    assert.equal(proSent.filter((c) => c === 'PASV').length, 22, 'the listing, the first file, then one ahead per file');
    assert.equal(runs(sent(fwd.r, S.vsftpd), 'PORT', 'STOR'), 20);
  });

  test('servers capped at 2 connections per address, --parallel 8: completes, same tree', async () => {
    copyTree(disk(S.proftpd, 'tree'), disk(S.proftpdCapped, 'tree'));
    const r = await cli(['mirror', urlOf(S.proftpdCapped, 'tree'), urlOf(S.pureCapped, 'capped'), '--parallel', '8']);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.match(r.stdout, new RegExp(`transferred: +${main.files} files`));
    assert.match(r.stdout, /failed: +0 files/);
    // The caps were really hit (proftpd refuses the login with 530, pure-ftpd greets with 421).
    // The cap was hit and the pool shrank instead of failing. Which of the two
    // pools tries a third connection first depends on timing, so either counts;
    // each pool reports a shrink once per new limit, not once per refusal.
    const shrinks = r.stderr.split('\n').filter((l) => /pool-shrink /.test(l));
    assert.ok(shrinks.some((l) => /server=127\.0\.2\.2[34]:422[34]/.test(l)), r.stderr);
    for (const server of ['127.0.2.23:4223', '127.0.2.24:4224']) {
      assert.ok(shrinks.filter((l) => l.includes(`server=${server}`)).length <= 1, `one shrink report per limit for ${server}`);
    }
    assertSameTree(snapshot(disk(S.pureCapped, 'capped')), mainSnap, 'capped servers');
    const again = await mirrorJson(urlOf(S.proftpdCapped, 'tree'), urlOf(S.pureCapped, 'capped'), ['--parallel', '8']);
    assert.equal(again.summary.files.transferred, 0);
  });

  test('two strict servers (FXP refused both ways) still mirror under --fxp auto, by relay', async () => {
    const T = Date.UTC(2023, 6, 7) / 1000;
    put(disk(S.proftpdStrict, 'rel/empty.bin'), '', T);
    put(disk(S.proftpdStrict, 'rel/one MiB.bin'), Buffer.alloc(MiB, 7), T + 1);
    for (let i = 0; i < 10; i++) put(disk(S.proftpdStrict, `rel/sub ü/f${i}.txt`), `file ${i}\n`.repeat(i * 50), T + i);
    fs.mkdirSync(disk(S.proftpdStrict, 'rel/empty dir'));
    own(disk(S.proftpdStrict, 'rel'));
    const { summary } = await mirrorJson(urlOf(S.proftpdStrict, 'rel'), urlOf(S.pureStrict, 'rel'), ['--fxp', 'auto']);
    assert.deepEqual(summary.modes, { relay: 12 });
    assertSameTree(snapshot(disk(S.pureStrict, 'rel')), snapshot(disk(S.proftpdStrict, 'rel')), 'relayed tree');
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

  // -------------------------------------------------------------------------
  test('a wrong password: exit 3, one stderr line, no password in it', async () => {
    const secret = 'Wrong-Pass-4137x';
    const url = `ftp://ftptest:${secret}@${S.proftpd.host}:${S.proftpd.port}/tree`;
    const r = await cli(['mirror', url, urlOf(S.pure, 'never')]);
    assert.equal(r.code, EXIT.CONNECT);
    const l = lines(r.stderr);
    assert.equal(l.length, 1, r.stderr);
    assert.match(l[0], /^fxpmirror: .*(530|login)/i);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'password printed');
    assert.ok(!fs.existsSync(disk(S.pure, 'never')), 'nothing created');
  });

  test('scale: ~5,000 tiny files in 50 directories; the re-run transfers 0', async () => {
    const root = disk(S.proftpd, 'scale');
    const rnd = prng(7);
    for (let d = 0; d < 50; d++) {
      fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) put(path.join(root, `d${d}`, `f${f}.txt`), `${d}/${f} `.repeat(1 + Math.floor(rnd() * 8)), T2023 + d * 100 + f);
    }
    own(root);
    const first = await mirrorJson(urlOf(S.proftpd, 'scale'), urlOf(S.pure, 'scale'), ['--parallel', '8']);
    assert.equal(first.summary.files.transferred, 5000);
    const snap = snapshot(disk(S.pure, 'scale'));
    assert.equal(filesOf(snap).length, 5000);
    assertSameTree(snap, snapshot(root), 'scale tree');
    const again = await mirrorJson(urlOf(S.proftpd, 'scale'), urlOf(S.pure, 'scale'), ['--parallel', '8']);
    assert.equal(again.summary.files.transferred, 0);
    assert.equal(again.summary.files.unchanged, 5000);
  });
});
