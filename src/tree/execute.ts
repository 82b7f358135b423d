import path from 'node:path/posix';
import { FtpError, isTransient } from '../ftp/errors.js';
import type { Listing, RejectedEntry } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { checksumsOf } from '../fxp/checksum.js';
import { joinPath, type DeleteItem } from './diff.js';
import type { MirrorSummary, PlanAction } from './plan.js';

/**
 * The mirror executor's small parts: the gate, retries, error descriptions,
 * the empty summary, and the two multi-server reads of the delete and verify
 * steps. The walk itself is in mirror.ts.
 */

/**
 * The one gate every side effect passes through. Under dry-run it reports the
 * action and does nothing: dry-run is this switch, not a second code path.
 */
export class Gate {
  constructor(
    private readonly dryRun: boolean,
    private readonly report: (a: PlanAction) => void,
  ) {}
  async pass<T>(a: PlanAction, effect: () => Promise<T>): Promise<T | undefined> {
    this.report(a);
    if (this.dryRun) return undefined;
    return effect();
  }
  /** An action with no effect (skip, unsynced): reported in the same stream, nothing to run. */
  note(a: PlanAction): void {
    this.report(a);
  }
}

export function emptySummary(src: string, dst: string, dryRun: boolean): MirrorSummary {
  return {
    source: src,
    destination: dst,
    dryRun,
    files: { transferred: 0, skipped: 0, deleted: 0, failed: 0, unchanged: 0 },
    bytes: { transferred: 0 },
    dirs: { created: 0, deleted: 0 },
    touched: 0,
    modes: {},
    unsynced: [],
    skippedEntries: [],
    unusable: [],
    failures: [],
    durationMs: 0,
  };
}

export function describe(err: unknown): { code: string; message: string } {
  if (err instanceof FtpError) return { code: err.code, message: err.message };
  return { code: 'EINTERNAL', message: (err as Error)?.message ?? String(err) };
}

/** Retry transient failures (4xx, resets, timeouts) with exponential backoff: 0.25 s, 0.5 s, 1 s, … */
export async function withRetries<T>(retries: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retries || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 8000)));
    }
  }
}

/**
 * List everything under a destination directory that is to be deleted, into
 * `out`. Returns false, after reporting them, when a listing in it holds names
 * fxpmirror may not use: such a subtree cannot be emptied (those entries are
 * never deleted), so none of it is deleted rather than part of it.
 */
export async function collectSubtree(
  root: string,
  rel: string,
  out: DeleteItem[],
  listing: (dir: string) => Promise<Listing>,
  onRejected: (dir: string, rejected: RejectedEntry[]) => void,
): Promise<boolean> {
  const { entries, rejected } = await listing(path.join(root, rel));
  if (rejected.length) {
    onRejected(rel, rejected);
    return false;
  }
  for (const e of entries) {
    const p = joinPath(rel, e.name);
    if (e.type === 'dir') {
      out.push({ path: p, type: 'dir' });
      if (!(await collectSubtree(root, p, out, listing, onRejected))) return false;
    } else out.push({ path: p, type: e.type === 'link' ? 'link' : 'file' });
  }
  return true;
}

/** Compare checksums; undefined when the servers share no algorithm. */
export async function sameChecksum(srcPool: ConnectionPool, dstPool: ConnectionPool, srcPath: string, dstPath: string): Promise<boolean | undefined> {
  return srcPool.use((s) =>
    dstPool.use(async (d) => {
      const sums = await checksumsOf(s, d, srcPath, dstPath);
      return sums && sums.source === sums.destination;
    }),
  );
}
