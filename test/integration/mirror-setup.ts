/**
 * What the mirror-*.test.ts files share: their lab servers, files on the
 * servers' disks, snapshots of trees and the CLI. Those files run the mirror
 * engine through the CLI (`node bin/fxpmirror mirror <src> <dst>`) against the
 * real lab servers. Every check looks at the servers' disks: sha256 of every
 * file, the tree shape (empty directories included), mtimes to the second,
 * ctimes where "nothing changed" is the claim, exit codes, the JSON summary,
 * the wire log (-v) and proftpd's own command log.
 *
 * Addresses 127.0.0.37 .. 127.0.0.40 and 127.0.2.21 .. 127.0.2.40 belong to
 * these files; the suite runs files one at a time, and each file starts the
 * servers it needs in `before` and stops them in `after`. The byte counter
 * (lab.ts's startByteCounter, in mirror-sync.test.ts) is limited to
 * 127.0.0.37-40, so other files' servers cannot inflate it.
 *
 * pyftpdlib 1.5.7 as the *active* side of a data connection (it connects on
 * PORT) sometimes never reads the connection: its epoll loop unregisters an fd
 * that was just reused ("unregister(); fd was no longer in socket_map" in its
 * log), the transfer stalls until the 30 s data timeout. With pyftpdlib as the
 * destination these files therefore make it the passive side
 * (--passive destination), where it is reliable.
 *
 * Under CI=true a server that cannot run is a failure (requireServer);
 * locally each file skips with labAvailable()'s reason.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  SERVER_KINDS,
  labUserIds,
  stopAll,
  type LabServer,
  type ServerKind,
  type StartOptions,
} from '../lab/lab.js';
import { requireServers, runCli, sha256FileSync, startPlan, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { summaryOf } from './faults-setup.js';

export const UNAVAILABLE = requireServers(SERVER_KINDS);

export const MiB = 1024 * 1024;
export const T2023 = Date.UTC(2023, 0, 1) / 1000;

// ---------------------------------------------------------------------------
// The servers of the mirror-*.test.ts files

export type Role = 'proftpd' | 'pyftpdlib' | 'vsftpd' | 'pure' | 'proftpdStrict' | 'pureStrict' | 'proftpdCapped' | 'pureCapped';

export const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  proftpd: ['proftpd', { address: '127.0.0.37', port: 4137 }],
  pyftpdlib: ['pyftpdlib', { address: '127.0.0.38', port: 4138 }],
  vsftpd: ['vsftpd', { address: '127.0.0.39', port: 4139 }],
  pure: ['pure-ftpd', { address: '127.0.0.40', port: 4140 }],
  proftpdStrict: ['proftpd', { address: '127.0.2.21', port: 4221, profile: 'strict' }],
  pureStrict: ['pure-ftpd', { address: '127.0.2.22', port: 4222, profile: 'strict' }],
  proftpdCapped: ['proftpd', { address: '127.0.2.23', port: 4223, maxPerIp: 2 }],
  pureCapped: ['pure-ftpd', { address: '127.0.2.24', port: 4224, maxPerIp: 2 }],
};
export const S = {} as Record<Role, LabServer>;

// ---------------------------------------------------------------------------
// Files on the servers' disks

/** Everything under `dir` belongs to the lab user, so the servers may read and change it. */
export function own(dir: string): void {
  const { uid, gid } = labUserIds();
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, dir]);
}

export function disk(server: LabServer, rel: string): string {
  return path.join(server.root, rel);
}

/** Write a file (parents too) with a known mtime in whole seconds. Call own() afterwards. */
export function put(file: string, data: Buffer | string, mtimeSec = T2023): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.utimesSync(file, mtimeSec, mtimeSec);
}

/** A copy of a tree on disk, mtimes included (to give another server the same source). */
export function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  own(to);
}

/** Deterministic pseudo-random numbers (mulberry32): the same tree on every run. */
export function prng(seed: number): () => number {
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
export function buildMainTree(root: string, files = 300): { files: number; bytes: number } {
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
export function snapshot(root: string, opts: SnapOptions = {}): Map<string, string> {
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
export function assertSameTree(actual: Map<string, string>, expected: Map<string, string>, what: string): void {
  const diffs: string[] = [];
  for (const k of new Set([...actual.keys(), ...expected.keys()])) {
    if (actual.get(k) !== expected.get(k)) diffs.push(`${k}: got ${actual.get(k) ?? '(missing)'}, want ${expected.get(k) ?? '(absent)'}`);
  }
  assert.equal(diffs.length, 0, `${what}: ${diffs.length} differences:\n${diffs.slice(0, 10).join('\n')}`);
}

export function treeHash(snap: Map<string, string>): string {
  return createHash('sha256').update(JSON.stringify([...snap.entries()].sort())).digest('hex');
}

export function filesOf(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => !k.endsWith('/')).sort();
}

export function dirsOf(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => k.endsWith('/')).sort();
}

// ---------------------------------------------------------------------------
// The CLI

/** The CLI with this file's time limit: 90 s a run (whole trees, not single files). */
export function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { timeoutMs: 90_000 });
}

/** `mirror src dst --json ...`: the summary, after checking the exit code. */
export async function mirrorJson(src: string, dst: string, args: string[] = [], expectCode: number = EXIT.OK): Promise<{ summary: MirrorSummary; r: CliRun }> {
  const r = await cli(['mirror', src, dst, '--json', ...args]);
  assert.equal(r.code, expectCode, `exit ${r.code}, want ${expectCode}; stderr:\n${r.stderr}\nstdout:\n${r.stdout.slice(0, 3000)}`);
  // Under --dry-run the plan lines come first; the summary is the last, pretty-printed object.
  const summary = summaryOf(r);
  if (expectCode === EXIT.OK) assert.deepEqual(summary.failures, [], 'no failures');
  return { summary, r };
}

/**
 * Start `roles` in `before` (into S) and stop every lab server in `after`.
 * Call inside the file's top-level describe, before its other hooks.
 */
export function withServers(roles: readonly Role[]): void {
  before(async () => {
    const plan = Object.fromEntries(roles.map((r) => [r, PLAN[r]])) as Record<Role, [ServerKind, StartOptions]>;
    Object.assign(S, await startPlan(plan));
  });
  after(async () => {
    await stopAll();
  });
}
