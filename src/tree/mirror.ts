import path from 'node:path/posix';
import pLimit from 'p-limit';
import type { ListEntry } from '../ftp/entry.js';
import type { Listing, RejectedEntry } from '../ftp/names.js';
import { ConnectionLease, type ConnectionPool } from '../ftp/pool.js';
import { FtpReplyError, replyText } from '../ftp/errors.js';
import { containedPath } from '../ftp/remote-path.js';
import { FxpEngine, type CopyResult } from '../fxp/engine.js';
import type { MirrorOptions } from './options.js';
import type { MirrorSummary, PlanAction } from './plan.js';
import { diffDirectory, joinPath, type DeleteItem } from './diff.js';
import { PathFilter } from './filter.js';
import { checkDeleteLimit, formatMaxDelete, orderDeletes } from './deletes.js';
import { Gate, collectSubtree, describe, emptySummary, sameChecksum, withRetries } from './execute.js';
import { LinkResolver } from './links.js';

export interface MirrorEndpoint {
  pool: ConnectionPool;
  /** Absolute directory on the server. */
  root: string;
  /** For summaries: "server:/path" or a redacted URL. */
  display: string;
}

export interface MirrorEvents {
  /** Every action as it passes the gate (the dry-run plan is exactly this stream). */
  action?(target: number, a: PlanAction): void;
  /** A side effect completed. */
  done?(target: number, a: PlanAction, result?: CopyResult): void;
  /** A side effect failed for good (after retries). */
  failed?(target: number, a: PlanAction | { kind: 'list'; path: string }, err: Error): void;
  warn?(message: string): void;
  /** A transfer started (progress display). */
  started?(target: number, a: PlanAction): void;
}

export interface MirrorRun {
  src: MirrorEndpoint;
  targets: MirrorEndpoint[];
  options: MirrorOptions;
  engine: FxpEngine;
  excludeFromText?: string;
  events?: MirrorEvents;
  signal?: AbortSignal;
}

/** Above this many queued transfers the walker waits, so memory stays bounded on huge trees. */
const HIGH_WATER = 512;

interface TargetState {
  index: number;
  ep: MirrorEndpoint;
  summary: MirrorSummary;
  gate: Gate;
  deletes: DeleteItem[];
  /** Type conflicts: the replacement waits until the delete phase has removed the old entry. */
  deferred: PlanAction[];
  /** Destination entries seen (the base of --max-delete N%). */
  seen: number;
  /** Subtrees where nothing may be deleted (a listing failed under them). */
  unsyncedRoots: string[];
}

/**
 * Mirror one source tree onto one or more targets (fan-out: the source is
 * listed once, each target compared with it).
 *
 * Directory by directory: list the source and every target in parallel, diff
 * (pure), stream the transfers to a bounded queue, descend. Deletions are only
 * collected during the walk; at the end, if --max-delete allows, files go
 * first, then directories deepest first. Nothing is deleted under a subtree
 * whose listing failed.
 */
export async function mirror(run: MirrorRun): Promise<MirrorSummary[]> {
  const started = Date.now();
  const opts = run.options;
  const filter = PathFilter.fromOptions(opts, run.excludeFromText);
  const events = run.events ?? {};
  const targets: TargetState[] = run.targets.map((ep, index) => {
    const summary = emptySummary(run.src.display, ep.display, opts.dryRun);
    return {
      index,
      ep,
      summary,
      gate: new Gate(opts.dryRun, (a) => events.action?.(index, a)),
      deletes: [],
      deferred: [],
      seen: 0,
      unsyncedRoots: [],
    };
  });
  // Each server lists with its own concurrency: a shared limit would let the
  // source's listings starve the destination's, and the other way round.
  const listLimits = new Map<ConnectionPool, ReturnType<typeof pLimit>>();
  const listLimitFor = (pool: ConnectionPool) => {
    let l = listLimits.get(pool);
    if (!l) listLimits.set(pool, (l = pLimit(Math.max(1, opts.parallel))));
    return l;
  };
  const workLimit = pLimit(Math.max(1, opts.parallel));
  let failedTotal = 0;
  let stopped = false;
  const work = new Set<Promise<void>>();

  // Reads (listings, RETR, SIZE, MDTM) join plainly; every write goes through containedPath().
  const abs = (root: string, rel: string) => (rel === '' ? root : path.join(root, rel));

  const fail = (t: TargetState, a: PlanAction | { kind: 'list'; path: string }, err: unknown) => {
    const { code, message } = describe(err);
    t.summary.failures.push({ path: a.path, code, message });
    if (a.kind === 'transfer' || a.kind === 'verify') t.summary.files.failed++;
    failedTotal++;
    if (opts.maxErrors !== undefined && failedTotal >= opts.maxErrors && !stopped) {
      stopped = true;
      events.warn?.(`stopping: ${failedTotal} errors reached --max-errors ${opts.maxErrors}`);
    }
    events.failed?.(t.index, a, err as Error);
  };

  // Walkers blocked at HIGH_WATER wait here; each finished item wakes one.
  // (Promise.race(work) instead would attach a reaction to every queued
  // promise on every wait: O(n²) reactions kept alive on big trees.)
  const slotWaiters: (() => void)[] = [];
  const schedule = (fn: () => Promise<void>) => {
    const p = workLimit(fn).finally(() => {
      work.delete(p);
      slotWaiters.shift()?.();
    });
    work.add(p);
  };

  const copyOne = async (t: TargetState, a: Extract<PlanAction, { kind: 'transfer' }>) => {
    const src = new ConnectionLease(run.src.pool);
    const dst = new ConnectionLease(t.ep.pool);
    try {
      events.started?.(t.index, a);
      // A LIST time is approximate (the minute; only the day for files older
      // than six months): preserving it would cut the destination's mtime
      // down to that. MDTM (RFC 3659 §3) has the exact second; the listed
      // time stays the fallback, which still keeps the next run's comparison
      // within the listing's precision.
      let mtime = a.src.mtime;
      const askMdtm = mtime === undefined || a.src.mtimeApproximate || a.src.mtimePrecision > 1000;
      if (askMdtm) {
        const srcPath = abs(run.src.root, a.path);
        mtime = (await withRetries(opts.retries, async () => (await src.connection()).mdtm(srcPath)).catch(() => undefined)) ?? mtime;
      }
      const result = await withRetries(opts.retries, () =>
        run.engine.copy(src, dst, {
          srcPath: abs(run.src.root, a.path),
          dstRoot: t.ep.root,
          dstRel: a.path,
          size: a.src.size,
          mtime,
          // The next file's PASV may be opened ahead, unless an MDTM on the
          // source would come first anyway (LIST sources: see above).
          more: !askMdtm,
        }),
      );
      t.summary.files.transferred++;
      t.summary.bytes.transferred += result.bytes;
      t.summary.modes[result.mode] = (t.summary.modes[result.mode] ?? 0) + 1;
      events.done?.(t.index, a, result);
    } finally {
      src.release();
      dst.release();
    }
  };

  const execute = async (t: TargetState, a: PlanAction): Promise<void> => {
    switch (a.kind) {
      case 'transfer':
        if (stopped) return;
        await t.gate.pass(a, () => copyOne(t, a));
        if (opts.dryRun) {
          t.summary.files.transferred++;
          t.summary.bytes.transferred += a.src.size ?? 0;
        }
        return;
      case 'verify': {
        // --compare checksum with equal sizes: hash both sides (reads only), then transfer or touch.
        const same = await sameChecksum(run.src.pool, t.ep.pool, abs(run.src.root, a.path), abs(t.ep.root, a.path));
        if (same === false) return execute(t, { kind: 'transfer', path: a.path, reason: 'checksum', src: a.src, dst: a.dst });
        if (same === undefined) events.warn?.(`${a.path}: no checksum algorithm shared by both servers; compared by size and time instead`);
        if (a.src.mtime && a.dst.mtime && Math.abs(a.src.mtime.getTime() - a.dst.mtime.getTime()) >= 1000) {
          const mtime = a.src.mtime;
          await t.gate.pass({ kind: 'touch', path: a.path, mtime }, () =>
            t.ep.pool.use((c) => c.setMtime(containedPath(t.ep.root, a.path), mtime)),
          );
          t.summary.touched++;
        } else t.summary.files.unchanged++;
        return;
      }
      case 'mkdir':
        await t.gate.pass(a, () => withRetries(opts.retries, () => t.ep.pool.use((c) => c.mkdir(containedPath(t.ep.root, a.path)))));
        t.summary.dirs.created++;
        return;
      case 'skip':
        t.gate.note(a);
        t.summary.files.skipped++;
        t.summary.skippedEntries.push({ path: a.path, reason: a.reason });
        return;
      default:
        return;
    }
  };

  const listing = async (pool: ConnectionPool, dir: string): Promise<Listing> =>
    listLimitFor(pool)(() => withRetries(opts.retries, () => pool.use((c) => c.list(dir))));
  const links = opts.symlinks === 'follow' ? new LinkResolver(run.src.pool, run.src.root, (dir) => listing(run.src.pool, dir)) : undefined;

  /** Names a listing could not use: reported (log, summary, plan), never transferred nor deleted. */
  const reportUnusable = (t: TargetState, dir: string, side: 'source' | 'destination', rejected: RejectedEntry[]) => {
    for (const r of rejected) {
      const a: PlanAction = { kind: 'unusable', path: dir, name: r.name, side, reason: r.reason };
      t.gate.note(a);
      t.summary.unusable.push({ dir, name: r.name, side, reason: r.reason });
      events.warn?.(`${side} ${dir === '' ? '/' : `${dir}/`}: unusable name ${JSON.stringify(r.name)} (${r.reason}): neither transferred nor deleted`);
    }
  };

  const markUnsynced = (t: TargetState, rel: string, side: 'source' | 'destination', err: unknown) => {
    const reason = err instanceof FtpReplyError ? replyText(err.lines) : describe(err).message;
    const a: PlanAction = { kind: 'unsynced', path: rel, side, reason };
    t.gate.note(a);
    t.summary.unsynced.push({ path: rel, side, reason });
    t.unsyncedRoots.push(rel);
  };

  /** Walk one directory pair; `exists[i]` says whether target `ts[i]` has this directory. */
  const walk = async (rel: string, exists: boolean[], ts: TargetState[] = targets): Promise<void> => {
    if (stopped) return;
    let srcEntries: ListEntry[];
    let srcRejected: RejectedEntry[];
    // Names held back from the diff on both sides: unusable or ambiguous on either side, links not followed.
    const held = new Set<string>();
    const linkSkips: { path: string; entry: ListEntry; reason: 'loop' | 'outside' | 'symlink' }[] = [];
    const dstListings = exists.map((e, i) => (e ? listing(ts[i].ep.pool, abs(ts[i].ep.root, rel)) : Promise.resolve(null)));
    for (const p of dstListings) p.catch(() => undefined);
    try {
      ({ entries: srcEntries, rejected: srcRejected } = await listing(run.src.pool, abs(run.src.root, rel)));
      if (links) {
        const r = await links.resolve(abs(run.src.root, rel), srcEntries);
        srcEntries = r.entries;
        for (const k of r.skipped) {
          held.add(k.entry.name);
          linkSkips.push({ path: joinPath(rel, k.entry.name), entry: k.entry, reason: k.reason });
        }
      }
    } catch (err) {
      // Never delete on the destination because a listing failed: the whole
      // subtree is reported unsynced and nothing under it is touched.
      for (const t of ts) markUnsynced(t, rel, 'source', err);
      return;
    }
    // Per subdirectory, per target: true/false = walk it (destination exists or
    // not); undefined = this target does not descend there (conflict, mkdir failed).
    const next = new Map<string, (boolean | undefined)[]>();
    await Promise.all(
      ts.map(async (t, i) => {
        reportUnusable(t, rel, 'source', srcRejected);
        let dst: Listing | null;
        try {
          dst = await dstListings[i];
        } catch (err) {
          markUnsynced(t, rel, 'destination', err);
          return;
        }
        t.seen += dst?.entries.length ?? 0;
        reportUnusable(t, rel, 'destination', dst?.rejected ?? []);
        for (const k of linkSkips) {
          if (filter.wantFile(k.path, k.entry)) await execute(t, { kind: 'skip', path: k.path, reason: k.reason });
        }
        const blocked = new Set([...held, ...srcRejected.map((r) => r.name), ...(dst?.rejected ?? []).map((r) => r.name)]);
        const diff = diffDirectory(rel, srcEntries, dst?.entries ?? null, opts, filter, blocked);
        t.summary.files.unchanged += diff.unchanged;
        t.deletes.push(...diff.deletes);
        const conflicts = new Set(diff.deletes.filter((d) => d.conflict).map((d) => d.path));
        for (const a of diff.actions) {
          if (conflicts.has(a.path)) {
            t.deferred.push(a);
            continue;
          }
          if (a.kind === 'mkdir') {
            try {
              await execute(t, a);
            } catch (err) {
              fail(t, a, err);
              conflicts.add(a.path); // do not descend into a directory we could not create
            }
          } else if (a.kind === 'transfer' || a.kind === 'verify') {
            while (work.size >= HIGH_WATER) await new Promise<void>((r) => slotWaiters.push(r));
            schedule(() => execute(t, a).catch((err) => fail(t, a, err)));
          } else {
            await execute(t, a);
          }
        }
        for (const d of diff.descend) {
          if (conflicts.has(d.path)) continue;
          const e = next.get(d.path) ?? ts.map(() => undefined);
          e[i] = d.dstExists;
          next.set(d.path, e);
        }
      }),
    );
    // Descend: subdirectories are walked concurrently; each listing waits for its pool.
    const wanted = [...next.entries()];
    await Promise.all(
      wanted.map(([sub, e]) => {
        const keep = ts.filter((_, i) => e[i] !== undefined);
        return walk(sub, e.filter((x) => x !== undefined), keep);
      }),
    );
  };

  // Every target root must exist before anything goes into it. A target whose
  // root cannot be created is not walked at all (undefined below).
  const rootExists = await Promise.all(
    targets.map(async (t): Promise<boolean | undefined> => {
      const exists = await t.ep.pool.use((c) => c.isDirectory(t.ep.root));
      if (exists) return true;
      const a: PlanAction = { kind: 'mkdir', path: '', reason: 'missing' };
      try {
        await t.gate.pass(a, () => t.ep.pool.use((c) => c.mkdir(containedPath(t.ep.root), true)));
        t.summary.dirs.created++;
        return false;
      } catch (err) {
        fail(t, a, err);
        return undefined;
      }
    }),
  );
  const reachable = targets.filter((_, i) => rootExists[i] !== undefined);
  await walk('', rootExists.filter((e) => e !== undefined), reachable);
  await Promise.all(work);

  // Delete phase, per target.
  for (const t of targets) {
    if (stopped) break;
    await deletePhase(t);
  }
  const durationMs = Date.now() - started;
  for (const t of targets) t.summary.durationMs = durationMs;
  return targets.map((t) => t.summary);

  async function deletePhase(t: TargetState): Promise<void> {
    const blocked = (p: string) => t.unsyncedRoots.some((r) => r === '' || p === r || p.startsWith(`${r}/`));
    const candidates = t.deletes.filter((d) => !blocked(d.path));
    // Expand directory deletions into their contents: files first, then directories deepest first.
    const expanded: DeleteItem[] = [];
    for (const d of candidates) {
      const start = expanded.length;
      expanded.push(d);
      if (d.type === 'dir') {
        try {
          const clean = await collectSubtree(t.ep.root, d.path, expanded, (dir) => listing(t.ep.pool, dir), (dir, rejected) =>
            reportUnusable(t, dir, 'destination', rejected),
          );
          if (!clean) expanded.length = start;
        } catch (err) {
          // Cannot see inside: do not delete it at all (nor what was collected under it).
          expanded.length = start;
          markUnsynced(t, d.path, 'destination', err);
        }
      }
    }
    if (expanded.length) {
      const why = checkDeleteLimit(expanded.length, t.seen + expanded.length - candidates.length, opts.maxDelete);
      if (why) {
        t.summary.deleteLimit = { planned: expanded.length, limit: formatMaxDelete(opts.maxDelete!) };
        events.warn?.(why);
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
          withRetries(opts.retries, () =>
            t.ep.pool.use((c) => (d.type === 'dir' ? c.rmdir(containedPath(t.ep.root, d.path)) : c.delete(containedPath(t.ep.root, d.path)))),
          ),
        );
        if (d.type === 'dir') t.summary.dirs.deleted++;
        else t.summary.files.deleted++;
        events.done?.(t.index, a);
      } catch (err) {
        fail(t, a, err);
      }
    }
    // Replacements for type conflicts, now that the old entries are gone.
    for (const a of t.deferred) {
      try {
        await execute(t, a);
        if (a.kind === 'mkdir') await walk(a.path, [false], [t]);
      } catch (err) {
        fail(t, a, err);
      }
    }
    await Promise.all(work);
  }
}
