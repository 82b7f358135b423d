import type { ListEntry } from '../ftp/entry.js';
import type { Listing, RejectedEntry } from '../ftp/names.js';
import { containedPath } from '../ftp/remote-path.js';
import { diffDirectory, joinPath, type DirDiff } from './diff.js';
import type { Executor } from './execute.js';
import { LinkResolver } from './links.js';
import { hingesOnMtimes, mtimeAbility } from './mtimes.js';
import { staleParts } from './part-files.js';
import type { PlanAction } from './plan.js';
import type { RunState } from './run-state.js';
import { SourceTimes, needsExactTime } from './source-times.js';
import { errorRecord } from './summary.js';
import type { Target } from './target.js';

/**
 * The walk stage. Directory by directory: list the source and every target in
 * parallel, diff (pure, diff.ts), hand the actions to the executor (transfers
 * to its queue, directories created at once), collect the deletions for the
 * delete phase, queue the removal of stale part files, descend. Nothing is
 * done under a subtree whose listing failed: it is reported unsynced.
 */
export class Walker {
  private readonly links: LinkResolver | undefined;

  constructor(
    private readonly state: RunState,
    private readonly executor: Executor,
  ) {
    const { src, opts } = state;
    this.links = opts.symlinks === 'follow' ? new LinkResolver(src.pool, src.root, (dir) => state.listing(src.pool, dir)) : undefined;
  }

  /**
   * Whether each target root exists, read while the source root is being
   * listed: one attempt, nothing written, nothing reported (undefined when
   * it failed: prepareRoots() asks again in full). Where it exists, its
   * listing starts too (RunState.prefetch).
   */
  async probeRoots(): Promise<(boolean | undefined)[]> {
    return Promise.all(
      this.state.targets.map(async (t) => {
        const exists = await t.pool.use((c) => c.isDirectory(t.ep.root)).catch(() => undefined);
        if (exists) this.state.prefetch(t.pool, t.ep.root);
        return exists;
      }),
    );
  }

  /**
   * Every target root must exist before anything goes into it: read where
   * probeRoots() could not tell, created where missing. A target whose root
   * cannot be read or created (server down, refused) fails on its own: it is
   * not walked (undefined), the other targets go on.
   */
  async prepareRoots(probed: (boolean | undefined)[]): Promise<(boolean | undefined)[]> {
    return Promise.all(
      this.state.targets.map(async (t, i): Promise<boolean | undefined> => {
        const a: PlanAction = { kind: 'mkdir', path: '', reason: 'missing' };
        try {
          const exists = probed[i] ?? (await this.state.retrier.run([t.pool], () => t.pool.use((c) => c.isDirectory(t.ep.root))));
          if (exists) return true;
          await t.gate.pass(a, () => t.pool.use((c) => c.mkdir(containedPath(t.ep.root), true)));
          t.summary.dirs.created++;
          return false;
        } catch (err) {
          t.summary.error = errorRecord(err);
          this.state.fail(t, a, err);
          return undefined;
        }
      }),
    );
  }

  /**
   * Walk one directory pair; `exists[i]` says whether target `ts[i]` has this
   * directory. `listed`: the source directory's listing, when already read
   * (its links are resolved here all the same).
   */
  async walk(rel: string, exists: boolean[], ts: Target[], listed?: Listing): Promise<void> {
    const { state } = this;
    if (state.halted) return;
    let srcEntries: ListEntry[];
    let srcRejected: RejectedEntry[];
    // Names held back from the diff on both sides: unusable or ambiguous on either side, links not followed.
    const held = new Set<string>();
    const linkSkips: { path: string; entry: ListEntry; reason: 'loop' | 'outside' | 'symlink' }[] = [];
    const dstListings = exists.map((e, i) => (e ? state.listing(ts[i].pool, state.abs(ts[i].ep.root, rel)) : Promise.resolve(null)));
    for (const p of dstListings) p.catch(() => undefined);
    try {
      ({ entries: srcEntries, rejected: srcRejected } = listed ?? (await state.listing(state.src.pool, state.abs(state.src.root, rel))));
      if (this.links) {
        const r = await this.links.resolve(state.abs(state.src.root, rel), srcEntries);
        srcEntries = r.entries;
        for (const k of r.skipped) {
          held.add(k.entry.name);
          linkSkips.push({ path: joinPath(rel, k.entry.name), entry: k.entry, reason: k.reason });
        }
      }
    } catch (err) {
      // Never delete on the destination because a listing failed: the whole
      // subtree is reported unsynced and nothing under it is touched.
      for (const t of ts) t.markUnsynced(rel, 'source', err);
      return;
    }
    // A listing with coarse times (LIST): the exact times of the files to copy are asked together (source-times.ts).
    const times =
      !state.opts.dryRun && srcEntries.some((e) => e.type === 'file' && needsExactTime(e))
        ? new SourceTimes(state.src.pool, (p) => state.abs(state.src.root, p), state.signal)
        : undefined;
    // Per subdirectory, per target: true/false = walk it (destination exists or
    // not); undefined = this target does not descend there (conflict, mkdir failed).
    const next = new Map<string, (boolean | undefined)[]>();
    await Promise.all(
      ts.map(async (t, i) => {
        t.noteUnusable(rel, 'source', srcRejected);
        let dst: Listing | null;
        try {
          dst = await dstListings[i];
        } catch (err) {
          t.markUnsynced(rel, 'destination', err);
          return;
        }
        t.seen += dst?.entries.length ?? 0;
        t.noteUnusable(rel, 'destination', dst?.rejected ?? []);
        for (const k of linkSkips) {
          if (state.filter.wantFile(k.path, k.entry)) await this.executor.execute(t, { kind: 'skip', path: k.path, reason: k.reason });
        }
        const blocked = new Set([...held, ...srcRejected.map((r) => r.name), ...(dst?.rejected ?? []).map((r) => r.name)]);
        const diff = await this.diff(t, rel, srcEntries, dst, blocked);
        if (dst && !t.isUnsynced(rel)) for (const p of staleParts(rel, dst.entries, diff.actions, state.filter)) await this.executor.enqueueStalePart(t, p);
        const stop = await this.hand(t, diff, times);
        for (const d of diff.descend) {
          if (stop.has(d.path)) continue;
          const e = next.get(d.path) ?? ts.map(() => undefined);
          e[i] = d.dstExists;
          next.set(d.path, e);
        }
      }),
    );
    // Descend: subdirectories are walked concurrently; each listing waits for its pool.
    await Promise.all(
      [...next.entries()].map(([sub, e]) => {
        const keep = ts.filter((_, i) => e[i] !== undefined);
        return this.walk(sub, e.filter((x) => x !== undefined), keep);
      }),
    );
  }

  /**
   * diff.ts for one target. Where a file's fate hangs on whether the
   * destination can set mtimes and that is not known yet, it is learned first
   * (mtimes.ts); on a destination that cannot, the diff uses lftp's rule.
   */
  private async diff(t: Target, rel: string, src: ListEntry[], dst: Listing | null, blocked: Set<string>): Promise<DirDiff> {
    const { opts, filter } = this.state;
    let ability = mtimeAbility(t.pool);
    const diffWith = () => diffDirectory(rel, src, dst?.entries ?? null, opts, filter, blocked, ability === 'none' ? 'none' : 'settable');
    let diff = diffWith();
    if (ability === 'unknown' && !opts.dryRun) {
      const probe = diff.actions.find((a): a is Parameters<typeof hingesOnMtimes>[0] & { kind: 'transfer'; dst: ListEntry } => hingesOnMtimes(a, opts));
      if (probe) {
        ability = await this.state.mtimeProbe.learn(t.pool, t.ep.root, probe.path, probe.dst);
        if (ability === 'none') diff = diffWith();
      }
    }
    if (ability === 'none') this.state.noteMtimeless(t.pool);
    return diff;
  }

  /** Hand a directory's actions to the executor; returns the subdirectories this target must not descend into. */
  private async hand(t: Target, diff: DirDiff, times?: SourceTimes): Promise<Set<string>> {
    t.summary.files.unchanged += diff.unchanged;
    t.summary.files.skipped += diff.excluded;
    t.summary.files.excluded += diff.excluded;
    t.deletes.push(...diff.deletes);
    const conflicts = new Set(diff.deletes.filter((d) => d.conflict).map((d) => d.path));
    // The new subdirectories first, their MKDs in one write (one round trip
    // for all of them, not one each), before this directory's files: a
    // directory's actions name only its own entries, so no MKD here waits
    // for another's parent.
    const mkdirs = diff.actions.filter((a): a is Extract<PlanAction, { kind: 'mkdir' }> => a.kind === 'mkdir' && !conflicts.has(a.path));
    const made = this.executor.makeDirs(t, mkdirs);
    for (const p of made) p.catch(() => undefined); // judged after the files are handed
    const rest = mkdirs.length ? diff.actions.filter((a) => a.kind !== 'mkdir' || conflicts.has(a.path)) : diff.actions;
    const handOne = (a: PlanAction): Promise<void> | undefined => {
      if (conflicts.has(a.path)) {
        t.deferred.push(a);
        return undefined;
      }
      return a.kind === 'transfer' || a.kind === 'verify' ? this.executor.enqueue(t, a) : this.executor.execute(t, a);
    };
    // `for await` only where the times come later: over an array it costs promises per file.
    if (times) {
      for await (const a of times.withTimes(rest)) await handOne(a);
    } else {
      for (let i = 0; i < rest.length; i++) {
        const p = handOne(rest[i]);
        if (p) await p;
      }
    }
    for (let i = 0; i < mkdirs.length; i++) {
      try {
        await made[i];
      } catch (err) {
        this.executor.fail(t, mkdirs[i], err);
        conflicts.add(mkdirs[i].path); // do not descend into a directory we could not create
      }
    }
    return conflicts;
  }
}
