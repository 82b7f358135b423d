/**
 * Local locks keyed by what they protect: the destination, a server
 * (host:port) and an absolute directory on it. Two runs that would write the
 * same target exclude each other whatever their job names or job files; runs
 * writing different targets never do. A fan-out job takes one lock per target.
 *
 * Default directory (see defaultLockDir): the same for cron and for a login
 * shell of the same user, so a nightly run and a manual run of one job do see
 * each other. XDG_RUNTIME_DIR is not used: cron leaves it unset while a login
 * shell sets it. root uses the system lock directory (/run/lock, a tmpfs
 * cleared at boot, so no lock outlives a reboot); other users a directory
 * under their home. A lock whose pid is dead is taken over (see below), so a
 * crash never leaves a target locked for good.
 *
 * The lock file holds JSON {pid, startedAt, host, job, target}. It is written
 * to a private temp file and then hard-linked into place: link(2) fails with
 * EEXIST like an 'wx' open, but the file never exists half-written, so a
 * competing process can never read an empty lock and mistake it for a stale one.
 */
import { existsSync, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { sha256Hex } from './sha256.js';

/**
 * Every run takes a lock, once. Not fs.promises (its first use loads
 * node:fs/promises with readline and the fs watchers, about 1 ms of the
 * start-up CPU) and not node:crypto (about 2.5 ms to load, for one hash of
 * a short key and two random names): see sha256.ts and uniqueSuffix.
 */
const fs = {
  link: promisify(link),
  mkdir: promisify(mkdir),
  readFile: promisify(readFile),
  rename: promisify(rename),
  unlink: promisify(unlink),
  writeFile: promisify(writeFile),
};

/** Part of a temporary name beside the lock: the pid and 32 random bits (two runs that picked one name would fail on 'wx' or link(2), never share a file). */
function uniqueSuffix(): string {
  return `${process.pid}.${Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0')}`;
}

/** Who holds (or wants) a lock: shown to the run that is locked out. */
export interface LockOwner {
  /** The job name, when the run is a job of a job file. */
  job?: string;
  /** The target as the user wrote it ("mirror:/pub" or a URL without password). */
  target: string;
}

export class LockHeldError extends Error {
  readonly code = 'ELOCKED';
  readonly pid: number;
  readonly since: Date;
  readonly holder: LockOwner | undefined;
  constructor(what: string, pid: number, since: Date, holder?: LockOwner) {
    const when = Number.isNaN(since.getTime()) ? 'an unknown time' : since.toISOString();
    const who = holder?.job !== undefined ? `job '${holder.job}' (${holder.target})` : holder ? holder.target : 'another run';
    super(`${what} is locked by ${who}, pid ${pid}, running since ${when}`);
    this.name = 'LockHeldError';
    this.pid = pid;
    this.since = since;
    this.holder = holder;
  }
}

interface LockInfo {
  pid: number;
  startedAt: string;
  host: string;
  job?: string;
  target?: string;
}

/**
 * root: /run/lock/fxpmirror (/var/lock/fxpmirror where /run/lock does not
 * exist); anyone else: ~/.local/state/fxpmirror/locks. Only the uid and the
 * home directory decide, both the same under cron and in a login shell.
 */
export function defaultLockDir(
  uid: number | undefined = typeof process.getuid === 'function' ? process.getuid() : undefined,
  home: string = homedir(),
  exists: (p: string) => boolean = existsSync,
): string {
  if (uid === 0) return exists('/run/lock') ? '/run/lock/fxpmirror' : '/var/lock/fxpmirror';
  return join(home, '.local', 'state', 'fxpmirror', 'locks');
}

/**
 * The lock key of a destination: "host:port/absolute/path", host in lower
 * case (IPv6 in brackets), the path normalised ("//pub/./x/" is "/pub/x"), so
 * every spelling of one target gives one key. Names are not resolved: a
 * target reached once by name and once by address is two keys.
 */
export function targetLockKey(host: string, port: number, path: string): string {
  const h = host.toLowerCase();
  const hostPart = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  let p = posix.normalize(`/${path}`);
  if (p.length > 1) p = p.replace(/\/+$/, '');
  return `${hostPart}:${port}${p}`;
}

/**
 * Keys are free text; file names are not. Keep [A-Za-z0-9._-], replace the
 * rest, and when anything was replaced add a hash of the real key so
 * "a/b" and "a_b" do not share a lock.
 */
export function lockFileName(key: string): string {
  let safe = key.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100);
  if (safe !== key || safe === '') {
    const hash = sha256Hex(key).slice(0, 8);
    safe = safe ? `${safe}-${hash}` : hash;
  }
  return `${safe}.lock`;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    return {
      pid: v.pid,
      startedAt: typeof v.startedAt === 'string' ? v.startedAt : '',
      host: String(v.host ?? ''),
      job: typeof v.job === 'string' ? v.job : undefined,
      target: typeof v.target === 'string' ? v.target : undefined,
    };
  } catch {
    return undefined;
  }
}

/** kill(pid, 0) sends nothing but says whether the pid exists; EPERM means it exists under another user. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Create `path` with `content`, failing with EEXIST if it exists. */
async function createExclusive(path: string, content: string): Promise<void> {
  const tmp = `${path}.${uniqueSuffix()}.tmp`;
  await fs.writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    await fs.link(tmp, path);
  } catch (err) {
    // Filesystems without hard links: fall back to an 'wx' open (tiny window with an empty file).
    if (isCode(err, 'EPERM') || isCode(err, 'ENOTSUP') || isCode(err, 'EOPNOTSUPP')) {
      await fs.writeFile(path, content, { flag: 'wx', mode: 0o644 });
    } else {
      throw err;
    }
  } finally {
    await fs.unlink(tmp).catch(() => {});
  }
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Atomically create `<lockDir>/<safe key>.lock` (see targetLockKey). A lock
 * whose pid is dead (or whose content is unparseable) is taken over and
 * reported to onStale. A live pid throws LockHeldError naming the holder.
 * Returns release(), which removes the file only while it still holds our pid
 * and start time.
 */
export async function acquireLocalLock(
  lockDir: string,
  key: string,
  owner: LockOwner,
  onStale?: (info: { pid: number; startedAt: string; job?: string }) => void,
): Promise<() => Promise<void>> {
  await fs.mkdir(lockDir, { recursive: true, mode: 0o700 });
  const path = join(lockDir, lockFileName(key));
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), host: hostname(), job: owner.job, target: owner.target };
  const content = `${JSON.stringify(mine)}\n`;

  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await createExclusive(path, content);
      return makeRelease(path, content);
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
    }
    const existing = await readOrUndefined(path);
    if (existing === undefined) continue; // released between our create and read: try again
    const info = parseLock(existing);
    if (info && pidAlive(info.pid)) {
      const holder = info.target !== undefined ? { job: info.job, target: info.target } : undefined;
      throw new LockHeldError(owner.target, info.pid, new Date(info.startedAt), holder);
    }

    // Stale. Two processes may decide this at once, so take it over by
    // renaming it aside (only one rename of this inode wins) and checking
    // that what we moved is still the stale content we judged.
    const aside = `${path}.${uniqueSuffix()}.stale`;
    try {
      await fs.rename(path, aside);
    } catch (err) {
      if (isCode(err, 'ENOENT')) continue;
      throw err;
    }
    const moved = await readOrUndefined(aside);
    if (moved !== existing) {
      // We moved someone's fresh lock: put it back unless yet another process already locked.
      await fs.link(aside, path).catch(() => {});
      await fs.unlink(aside).catch(() => {});
      continue;
    }
    await fs.unlink(aside).catch(() => {});
    onStale?.({ pid: info?.pid ?? 0, startedAt: info?.startedAt ?? '', job: info?.job });
  }
  throw new Error(`could not take the lock ${path}: it keeps changing`);
}

function makeRelease(path: string, content: string): () => Promise<void> {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const now = await readOrUndefined(path);
    if (now === content)
      await fs.unlink(path).catch((err: unknown) => {
        if (!isCode(err, 'ENOENT')) throw err;
      });
  };
}
