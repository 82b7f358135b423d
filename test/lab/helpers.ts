/**
 * Small helpers the integration tests and the demo share: running the real
 * CLI as a child process, splitting its output into lines and holding it to
 * the one-line error contract, hashing files and trees on the servers' disks,
 * and writing files there as the lab user.
 *
 * What needs the lab itself (servers, the lab user's ids, the nftables byte
 * counter, fault injection) is in lab.ts and the modules it re-exports; this
 * module only builds on it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, labAvailable, labUserIds, requireServer, startServer, type LabKind, type LabServer, type StartOptions } from './lab.js';

/** The CLI entry point (it loads dist/src). */
export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'fxpmirror');

// ---------------------------------------------------------------------------
// Servers

/**
 * requireServer() for each kind (under CI a kind that cannot run throws),
 * then the first reason one cannot run here, or null: the `skip` of a suite
 * outside CI.
 */
export function requireServers(kinds: readonly LabKind[]): string | null {
  for (const kind of kinds) requireServer(kind);
  return kinds.map(labAvailable).find((r) => r !== null) ?? null;
}

/** Start every server of a plan (role -> kind and options) at once; role -> server. */
export async function startPlan<R extends string>(plan: Record<R, [LabKind, StartOptions]>): Promise<Record<R, LabServer>> {
  const roles = Object.keys(plan) as R[];
  const started = await Promise.all(roles.map((r) => startServer(plan[r][0], plan[r][1])));
  return Object.fromEntries(roles.map((r, i) => [r, started[i]])) as Record<R, LabServer>;
}

// ---------------------------------------------------------------------------
// Child processes

export interface CliRun {
  /** Exit code; null when the process was killed by a signal (the timeout's SIGKILL among them). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when timeoutMs ran out and the process was killed. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
  pid: number;
  /** Wall time from spawn to close. */
  ms: number;
}

export interface RunOptions {
  /**
   * Changes to process.env for the child: a string sets a variable,
   * undefined removes it (e.g. a variable the test must not inherit).
   */
  env?: Record<string, string | undefined>;
  /** Kill the child (SIGKILL) after this long; 0 = never. Default 60 s. */
  timeoutMs?: number;
  /** Called with every chunk as it arrives (the demo echoes the CLI's output live). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Run as this user (needs root): a directory the CLI may not write, which root always may. */
  user?: { uid: number; gid: number };
}

/**
 * `node <args>` from the repository root, stdin ignored (a CLI that waited
 * for input would hang the test), stdout and stderr collected as UTF-8.
 * Rejects only when the process cannot be spawned; a non-zero exit resolves.
 */
export function runNode(args: string[], opts: RunOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}) });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onOutput?.(c, 'stdout');
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      opts.onOutput?.(c, 'stderr');
    });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs)
        : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr, pid: child.pid ?? 0, ms: Date.now() - t0 });
    });
  });
}

/** `node bin/fxpmirror <args>`: the real CLI, as a user runs it. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliRun> {
  return runNode([CLI_BIN, ...args], opts);
}

// ---------------------------------------------------------------------------
// Output

/** The non-empty lines of `text`. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** Asserts that `text` holds exactly one non-empty line and returns it. */
export function oneLine(text: string): string {
  const l = lines(text);
  assert.equal(l.length, 1, `expected one line, got:\n${text}`);
  return l[0];
}

/** The one-line error contract: exactly one stderr line, starting with "fxpmirror: ". */
export function oneErrorLine(r: Pick<CliRun, 'stderr'>): string {
  const line = oneLine(r.stderr);
  assert.match(line, /^fxpmirror: /);
  return line;
}

// ---------------------------------------------------------------------------
// Hashes of what is on disk

/** sha256 (hex) of a file, streamed: the FXP tests hash files of 300 MiB. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 (hex) of a file, synchronously (for tree walks that build a snapshot in one go); read in 1 MiB blocks. */
export function sha256FileSync(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1024 * 1024);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Relative path ("a/b.txt") -> sha256 of every regular file under `root`
 * (symlinks and other special files are left out). With `allowMissing`, a
 * missing root is an empty tree instead of an error (the demo compares a
 * mirror that a failed run may never have created).
 */
export function hashTree(root: string, opts: { allowMissing?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else if (e.isFile()) out.set(r, sha256FileSync(path.join(dir, e.name)));
    }
  };
  if (!opts.allowMissing || fs.existsSync(root)) walk(root, '');
  return out;
}

// ---------------------------------------------------------------------------
// Files on the servers' disks

/** mkdir -p; each directory it creates is chowned to the lab user (existing ones are left alone). */
export function mkdirLab(dir: string): void {
  if (fs.existsSync(dir)) return;
  mkdirLab(path.dirname(dir));
  const { uid, gid } = labUserIds();
  fs.mkdirSync(dir);
  fs.chownSync(dir, uid, gid);
}

/**
 * Write a file (missing parents too, see mkdirLab) owned by the lab user, so
 * the server running as that user may read, replace and delete it; with
 * `mtime`, the file gets that modification time. Returns `file`.
 */
export function writeLabFile(file: string, data: string | Buffer, mtime?: Date | number): string {
  const { uid, gid } = labUserIds();
  mkdirLab(path.dirname(file));
  fs.writeFileSync(file, data);
  fs.chownSync(file, uid, gid);
  if (mtime !== undefined) fs.utimesSync(file, mtime, mtime);
  return file;
}

/** The server's URL for `rel`, each path segment percent-encoded (RFC 3986 §2.1). */
export function urlOf(server: LabServer, rel = ''): string {
  return server.url + rel.split('/').map(encodeURIComponent).join('/');
}
