import type { ListEntry } from '../ftp/entry.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { containedPath } from '../ftp/remote-path.js';
import { compareFile, type DestinationMtimes } from './diff.js';
import type { MirrorOptions } from './options.js';
import type { PlanAction } from './plan.js';

/**
 * Whether a destination server can set modification times. The connection
 * state of its pool remembers it once a transfer (or the probe below) tried:
 * the method that worked, or 'none' (ftp/connection.ts setMtime).
 */
export type MtimeAbility = DestinationMtimes | 'unknown';

export function mtimeAbility(pool: ConnectionPool): MtimeAbility {
  const m = pool.state.mtime;
  return m === 'none' ? 'none' : m === undefined ? 'unknown' : 'settable';
}

/** Pure: a transfer that the rule for destinations without mtimes would not make (diff.ts compareFile). */
export function hingesOnMtimes(a: PlanAction, opts: MirrorOptions): a is Extract<PlanAction, { kind: 'transfer' }> & { dst: ListEntry } {
  return a.kind === 'transfer' && a.reason === 'time' && a.dst?.type === 'file' && compareFile(a.src, a.dst, opts, 'none') === null;
}

/**
 * A run that has not transferred anything yet does not know whether the
 * destination sets mtimes, and a second run into a server that cannot would
 * otherwise transfer every file again. So the first time a directory holds a
 * file whose fate depends on it, the destination is asked to set that file's
 * mtime to the time it already has (read exactly with MDTM, RFC 3659 §3):
 * the file does not change either way, and the server's answer is learned
 * (setMtime tries MFMT, SITE UTIME, MDTM with a time). Once per server and
 * run, shared by every directory waiting for it; never under dry-run (it is a
 * write command): a dry run plans such files as changed until a real run has
 * learned better.
 */
export class MtimeProbe {
  private readonly probes = new Map<ConnectionPool, Promise<void>>();

  async learn(pool: ConnectionPool, root: string, rel: string, entry: ListEntry): Promise<MtimeAbility> {
    let p = this.probes.get(pool);
    if (!p) {
      p = this.probe(pool, root, rel, entry).catch(() => undefined);
      this.probes.set(pool, p);
    }
    await p;
    return mtimeAbility(pool);
  }

  private async probe(pool: ConnectionPool, root: string, rel: string, entry: ListEntry): Promise<void> {
    const path = containedPath(root, rel);
    await pool.use(async (c) => {
      // A LIST time is approximate: setting it would change the file.
      const listed = entry.mtimeApproximate || entry.mtimePrecision > 1000 ? undefined : entry.mtime;
      const exact = (await c.mdtm(path).catch(() => undefined)) ?? listed;
      if (exact) await c.setMtime(path, exact);
    });
  }
}
