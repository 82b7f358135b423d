import { FtpError, FtpReplyError, replyText } from '../ftp/errors.js';
import type { RejectedEntry } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { DeleteItem } from './diff.js';
import { Gate } from './gate.js';
import type { MirrorSummary, PlanAction } from './plan.js';
import type { MirrorEndpoint, MirrorEvents } from './run-types.js';
import { errorRecord, emptySummary } from './summary.js';

/**
 * The destination said it has no room left: nothing more is sent there this
 * run. The files that were still to go fail with this error without being
 * tried; other targets carry on.
 */
export class DestinationFullError extends FtpError {
  constructor(display: string, why: string) {
    super('EFULL', `destination full: ${display}: ${why}: not sent`);
  }
}

/**
 * One target of a run and everything the stages learn about it: its summary,
 * its gate, the deletions the walk collected, the subtrees it must not touch,
 * and whether it is full. The walker, the executor and the delete phase all
 * report through here, so each report lands in the summary, the event stream
 * and the plan alike.
 */
export class Target {
  readonly summary: MirrorSummary;
  readonly gate: Gate;
  /** Extraneous entries found by the walk, deleted by the delete phase (if --max-delete allows). */
  readonly deletes: DeleteItem[] = [];
  /** Type conflicts: the replacement waits until the delete phase has removed the old entry. */
  readonly deferred: PlanAction[] = [];
  /** Destination entries seen (the base of --max-delete N%). */
  seen = 0;
  /** Subtrees where nothing may be deleted or cleaned (a listing failed under them). */
  readonly unsyncedRoots: string[] = [];
  private full: DestinationFullError | undefined;

  constructor(
    readonly index: number,
    readonly ep: MirrorEndpoint,
    source: string,
    dryRun: boolean,
    private readonly events: MirrorEvents,
  ) {
    this.summary = emptySummary(source, ep.display, dryRun);
    this.gate = new Gate(dryRun, (a) => events.action?.(index, a));
  }

  get pool(): ConnectionPool {
    return this.ep.pool;
  }

  /** A warning about this target: in the log (once) and in the summary's warnings. */
  warn(message: string): void {
    this.summary.warnings.push(message);
    this.events.warn?.(message, this.index);
  }

  /** Names a listing could not use: reported (log, summary, plan), never transferred nor deleted. */
  noteUnusable(dir: string, side: 'source' | 'destination', rejected: RejectedEntry[]): void {
    for (const r of rejected) {
      const a: PlanAction = { kind: 'unusable', path: dir, name: r.name, side, reason: r.reason };
      this.gate.note(a);
      this.summary.unusable.push({ dir, name: r.name, side, reason: r.reason });
      this.events.warn?.(`${side} ${dir === '' ? '/' : `${dir}/`}: unusable name ${JSON.stringify(r.name)} (${r.reason}): neither transferred nor deleted`, this.index);
    }
  }

  /** A subtree that could not be compared: reported, and nothing under it is deleted. */
  markUnsynced(rel: string, side: 'source' | 'destination', err: unknown): void {
    // The code the failure counts as, then every line of the reply (the cause is often on the NNN- lines).
    const reason = err instanceof FtpReplyError ? `${err.replyCode} ${replyText(err.lines.map((l) => l.replace(/^\d{3}[ -]?/, '')))}`.trim() : errorRecord(err).message;
    const a: PlanAction = { kind: 'unsynced', path: rel, side, reason };
    this.gate.note(a);
    this.summary.unsynced.push({ path: rel, side, reason });
    this.unsyncedRoots.push(rel);
  }

  /** Is `path` in (or is it) a subtree marked unsynced? */
  isUnsynced(path: string): boolean {
    return this.unsyncedRoots.some((r) => r === '' || path === r || path.startsWith(`${r}/`));
  }

  /** The destination said it is full (`err`): stop sending, say so once. */
  markFull(err: unknown): void {
    if (this.full) return;
    const why = errorRecord(err).message;
    this.full = new DestinationFullError(this.ep.display, why);
    this.warn(`destination full (${why}): nothing more is sent to ${this.ep.display}; its remaining files fail without being tried`);
  }

  /** Throws DestinationFullError once the destination is known to be full. */
  assertRoom(): void {
    if (this.full) throw this.full;
  }
}
