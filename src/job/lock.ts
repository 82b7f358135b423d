/**
 * A local lock per job, so a cron run that is still going when the next one
 * starts makes the new one stop with ELOCKED instead of racing it.
 *
 * Default directory (see defaultLockDir): `$XDG_RUNTIME_DIR/fxpmirror` when
 * set (per-user tmpfs, cleared at logout/reboot, so locks do not outlive a
 * crash across reboots), otherwise `/tmp/fxpmirror-locks-<uid>` (per user, so
 * one user cannot block or spoof another's jobs).
 *
 * The lock file holds JSON {pid, startedAt, host}. It is written to a private
 * temp file and then hard-linked into place: link(2) fails with EEXIST like an
 * 'wx' open, but the file never exists half-written, so a competing process
 * can never read an empty lock and mistake it for a stale one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export class LockHeldError extends Error {
  readonly code = 'ELOCKED';
  readonly job: string;
  readonly pid: number;
  readonly since: Date;
  constructor(job: string, pid: number, since: Date) {
    const when = Number.isNaN(since.getTime()) ? 'an unknown time' : since.toISOString();
    super(`job '${job}' is already running (pid ${pid}, since ${when})`);
    this.name = 'LockHeldError';
    this.job = job;
    this.pid = pid;
    this.since = since;
  }
}

interface LockInfo {
  pid: number;
  startedAt: string;
  host: string;
}

export function defaultLockDir(env: Record<string, string | undefined> = process.env): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'fxpmirror');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join('/tmp', `fxpmirror-locks-${uid}`);
}

/**
 * Job names are free text; file names are not. Keep [A-Za-z0-9._-], replace
 * the rest, and when anything was replaced add a hash of the real name so
 * "a/b" and "a_b" do not share a lock.
 */
export function lockFileName(job: string): string {
  let safe = job.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100);
  if (safe !== job || safe === '') {
    const hash = createHash('sha256').update(job).digest('hex').slice(0, 8);
    safe = safe ? `${safe}-${hash}` : hash;
  }
  return `${safe}.lock`;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    return { pid: v.pid, startedAt: typeof v.startedAt === 'string' ? v.startedAt : '', host: String(v.host ?? '') };
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
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
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
 * Atomically create `<lockDir>/<safe job name>.lock`. A lock whose pid is dead
 * (or whose content is unparseable) is taken over and reported to onStale. A
 * live pid throws LockHeldError. Returns release(), which removes the file
 * only while it still holds our pid and start time.
 */
export async function acquireLocalLock(
  lockDir: string,
  job: string,
  onStale?: (info: { pid: number; startedAt: string }) => void,
): Promise<() => Promise<void>> {
  await fs.mkdir(lockDir, { recursive: true, mode: 0o700 });
  const path = join(lockDir, lockFileName(job));
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), host: hostname() };
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
    if (info && pidAlive(info.pid)) throw new LockHeldError(job, info.pid, new Date(info.startedAt));

    // Stale. Two processes may decide this at once, so take it over by
    // renaming it aside (only one rename of this inode wins) and checking
    // that what we moved is still the stale content we judged.
    const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
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
    onStale?.({ pid: info?.pid ?? 0, startedAt: info?.startedAt ?? '' });
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
