import path from 'node:path/posix';
import type { Listing, RejectedEntry } from '../ftp/names.js';
import { containedPath } from '../ftp/remote-path.js';
import { checkDeleteLimit, formatMaxDelete, orderDeletes } from './deletes.js';
import { joinPath, type DeleteItem } from './diff.js';
import type { Executor } from './execute.js';
import type { PlanAction } from './plan.js';
import type { RunState } from './run-state.js';
import type { Target } from './target.js';
import type { Walker } from './walk.js';

/**
 * The delete phase, per target, once the walk and every transfer are done.
 * The walk only collected the extraneous entries; here, unless a listing
 * failed above them (unsynced), directories are expanded into their contents,
 * --max-delete is checked against the totals (a run that would delete too
 * much deletes nothing: that protects a mirror from an upstream that came
 * back empty), and the deletions go out in order: files first, then
 * directories deepest first. Last come the replacements of type conflicts,
 * whose old entries are now gone.
 */
export class DeletePhase {
  constructor(
    private readonly state: RunState,
    private readonly executor: Executor,
    private readonly walker: Walker,
  ) {}

  async run(t: Target): Promise<void> {
    const { events, opts } = this.state;
    const candidates = t.deletes.filter((d) => !t.isUnsynced(d.path));
    const expanded = await this.expand(t, candidates);
    if (expanded.length) {
      const why = checkDeleteLimit(expanded.length, t.seen + expanded.length - candidates.length, opts.maxDelete);
      if (why) {
        t.summary.deleteLimit = { planned: expanded.length, limit: formatMaxDelete(opts.maxDelete!) };
        events.warn?.(why, t.index);
        for (const a of t.deferred) {
          t.summary.files.skipped++;
          t.summary.skippedEntries.push({ path: a.path, reason: 'conflict' });
        }
        return;
      }
    }
    for (const d of orderDeletes(expanded)) {
      const a: PlanAction = { kind: 'delete', path: d.path, type: d.type };
      try {
        await t.gate.pass(a, () =>
          this.state.retrier.run([t.pool], () =>
            t.pool.use((c) => (d.type === 'dir' ? c.rmdir(containedPath(t.ep.root, d.path)) : c.delete(containedPath(t.ep.root, d.path)))),
          ),
        );
        if (d.type === 'dir') t.summary.dirs.deleted++;
        else t.summary.files.deleted++;
        events.done?.(t.index, a);
      } catch (err) {
        this.executor.fail(t, a, err);
      }
    }
    // Replacements for type conflicts, now that the old entries are gone.
    for (const a of t.deferred) {
      try {
        if (a.kind === 'transfer') events.queued?.(t.index, a);
        await this.executor.execute(t, a);
        if (a.kind === 'mkdir') await this.walker.walk(a.path, [false], [t]);
      } catch (err) {
        this.executor.fail(t, a, err);
      }
    }
    await this.executor.drain();
  }

  /** Directory deletions expanded into their contents; a directory that cannot be seen into is not deleted at all. */
  private async expand(t: Target, candidates: DeleteItem[]): Promise<DeleteItem[]> {
    const expanded: DeleteItem[] = [];
    for (const d of candidates) {
      const start = expanded.length;
      expanded.push(d);
      if (d.type !== 'dir') continue;
      try {
        const clean = await collectSubtree(
          t.ep.root,
          d.path,
          expanded,
          (dir) => this.state.listing(t.pool, dir),
          (dir, rejected) => t.noteUnusable(dir, 'destination', rejected),
        );
        if (!clean) expanded.length = start;
      } catch (err) {
        // Cannot see inside: do not delete it at all (nor what was collected under it).
        expanded.length = start;
        t.markUnsynced(d.path, 'destination', err);
      }
    }
    return expanded;
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
