import { FtpReplyError, isDiskFull, isTransient } from '../ftp/errors.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { containedPath, type ContainedPath } from '../ftp/remote-path.js';
import { ConnectionLease } from '../ftp/pool.js';
import { monotonicMs } from '../ftp/wait.js';
import { checksumsOf } from '../fxp/checksum.js';
import { mtimeAbility } from './mtimes.js';
import type { PlanAction } from './plan.js';
import { WorkQueue, type Slot } from './queue.js';
import { ServerUnreachableError } from './reachability.js';
import type { RetryHooks } from './retrier.js';
import type { RunState } from './run-state.js';
import { needsExactTime } from './source-times.js';
import { PairControl } from './pairs.js';
import { DestinationFullError, type Target } from './target.js';

/** A settled promise: an action with nothing to do. */
const DONE: Promise<void> = Promise.resolve();

/** Above this many queued transfers the walker waits, so memory stays bounded on huge trees. */
const HIGH_WATER = 512;

type Transfer = Extract<PlanAction, { kind: 'transfer' }>;
type Mkdir = Extract<PlanAction, { kind: 'mkdir' }>;

/**
 * More new subdirectories than this in one directory go out in several
 * writes: every reply of one write must come within the command timeout,
 * counted from the write.
 */
const MKD_BATCH = 100;

/**
 * The executor stage: carries out the walker's actions behind each target's
 * gate. Transfers, checksum verifications and stale part-file removals wait
 * in the `transfers` queue (--parallel at once); directories are created at
 * once, because the walk descends into them next.
 *
 * A transfer is never tried into a destination known to be full (its
 * target's assertRoom), and a full disk is never retried: the first such
 * failure marks the target full (one warning) and the rest of its files fail
 * untried. Other targets carry on.
 */
export class Executor {
  readonly transfers: WorkQueue;
  /** Actions that got as far as an attempt: their failures are reported one by one. */
  private readonly tried = new WeakSet<PlanAction>();

  /** Without -P: how many transfers run at once (pairs.ts); undefined: -P fixes it. */
  private readonly pairs: PairControl | undefined;

  constructor(private readonly state: RunState) {
    this.transfers = new WorkQueue('transfers', Math.max(1, state.opts.parallel), HIGH_WATER);
    if (state.parallelAuto) {
      const pools = [...new Set([state.src.pool, ...state.targets.map((t) => t.pool)])];
      this.pairs = new PairControl(Math.max(1, state.opts.parallel), pools, (c) => {
        this.transfers.setLimit(c.pairs);
        state.events.pairs?.(c.pairs, c.reason);
      });
    }
  }

  /** Queue a transfer or a verify; a promise to await only when the queue is at high water (not an async function: it runs once per file). */
  enqueue(t: Target, a: Transfer | Extract<PlanAction, { kind: 'verify' }>): Promise<void> | undefined {
    if (!this.transfers.hasRoom) return this.transfers.room().then(() => this.enqueue(t, a));
    if (a.kind === 'transfer') this.state.events.queued?.(t.index, a);
    this.transfers.push((slot) => (a.kind === 'transfer' ? this.transfer(t, a, slot) : this.execute(t, a, slot)).catch((err) => this.fail(t, a, err)));
    return undefined;
  }

  /** Queue the removal of a part file an earlier run left behind (part-files.ts). */
  async enqueueStalePart(t: Target, path: string): Promise<void> {
    await this.transfers.room();
    this.transfers.push((slot) => this.removeStalePart(t, path, slot));
  }

  /** Resolves when every queued action has run, including those queued meanwhile. */
  drain(): Promise<void> {
    return this.transfers.drain();
  }

  /** Record a failure; quietly when the action was never tried (full destination, server given up: one warning said so). */
  fail(t: Target, a: PlanAction, err: unknown): void {
    const untried = !this.tried.has(a) && (err instanceof DestinationFullError || err instanceof ServerUnreachableError);
    this.state.fail(t, a, err, untried);
  }

  /** Carry out one action now. Throws when it fails for good (the caller records it). */
  async execute(t: Target, a: PlanAction, slot?: Slot): Promise<void> {
    switch (a.kind) {
      case 'transfer':
        return this.transfer(t, a, slot);
      case 'verify':
        return this.verify(t, a, slot);
      case 'mkdir':
        await t.gate.pass(a, () => this.makeDir(t, a, slot));
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
  }

  /** A transfer behind the gate (not an async function: a queued file runs this, not execute(), once per file). */
  private transfer(t: Target, a: Transfer, slot?: Slot): Promise<void> {
    if (this.state.halted) return DONE;
    const done = t.gate.pass(a, () => this.copy(t, a, slot));
    if (!this.state.opts.dryRun) return done;
    return done.then(() => {
      t.summary.files.transferred++;
      t.summary.bytes.transferred += a.src.size ?? 0;
    });
  }

  /**
   * A directory's new subdirectories: their MKDs go out together, one write
   * (per MKD_BATCH) on one connection, each action passing the gate on its
   * own. One promise per action, resolved once the directory was made,
   * rejected with why not (the walker then does not descend there): a
   * refusal is that directory's alone. An MKD answered with a 4xx, or whose
   * reply was lost with its connection, is tried again on its own with
   * retries, as execute() does.
   */
  makeDirs(t: Target, as: Mkdir[]): Promise<void>[] {
    const made = t.gate.passEach(as, () => {
      const out: Promise<void>[] = [];
      for (let i = 0; i < as.length; i += MKD_BATCH) out.push(...this.makeBatch(t, as.slice(i, i + MKD_BATCH)));
      return out;
    });
    return made.map((p) =>
      p.then(() => {
        t.summary.dirs.created++;
      }),
    );
  }

  private makeBatch(t: Target, as: Mkdir[]): Promise<void>[] {
    const paths: ContainedPath[] = [];
    // A path that would leave the root (PathEscapeError) fails alone, unsent.
    const bad = as.map((a): Error | undefined => {
      try {
        paths.push(containedPath(t.ep.root, a.path));
        return undefined;
      } catch (err) {
        return err as Error;
      }
    });
    const replies = paths.length ? t.pool.use((c) => c.mkdirEach(paths)) : Promise.resolve([]);
    let k = 0;
    return as.map((a, i) => {
      if (bad[i] !== undefined) return Promise.reject(bad[i]);
      const j = k++;
      return replies.then(
        (r) => {
          const reply = r[j];
          if (!(reply instanceof Error)) return;
          if (reply instanceof FtpReplyError && !isTransient(reply)) throw reply;
          return this.makeDir(t, a);
        },
        // No connection for the batch: each directory on its own, with retries.
        () => this.makeDir(t, a),
      );
    });
  }

  /** One MKD, with retries. */
  private makeDir(t: Target, a: Mkdir, slot?: Slot): Promise<void> {
    return this.state.retrier.run([t.pool], () => t.pool.use((c) => c.mkdir(containedPath(t.ep.root, a.path))), { slot });
  }

  /** One file, source to target, with retries (fxp/engine.ts does the transfer and its atomic publish). */
  private async copy(t: Target, a: Transfer, slot?: Slot): Promise<void> {
    const { events, retrier } = this.state;
    const srcPool = this.state.src.pool;
    const srcPath = this.state.abs(this.state.src.root, a.path);
    // Leases on pooled connections, replaced when a failure closed them; given back during waits.
    const src = new ConnectionLease(srcPool);
    const dst = new ConnectionLease(t.pool);
    const hooks: RetryHooks = {
      slot,
      idle: () => {
        src.release();
        dst.release();
      },
      before: () => {
        t.assertRoom();
        if (this.tried.has(a)) return;
        this.tried.add(a);
        events.started?.(t.index, a);
      },
      final: isDiskFull,
    };
    try {
      // A coarse listed time (source-times.ts) that the walker's batch of
      // MDTMs did not make exact: this file's own MDTM. The listed time stays
      // the fallback, which still keeps the next run's comparison within the
      // listing's precision.
      let mtime = a.src.mtime;
      const askMdtm = needsExactTime(a.src);
      if (askMdtm) {
        mtime = (await retrier.run([srcPool], async () => (await src.connection()).mdtm(srcPath), hooks).catch(() => undefined)) ?? mtime;
      }
      // The time of a file that went through in one try, for the choice of parallelism (pairs.ts).
      const token = this.pairs?.started();
      const began = monotonicMs();
      let tries = 0;
      const attempt = () =>
        retrier.run(
          [srcPool, t.pool],
          () => {
            tries++;
            return this.state.engineFor(t).copy(src, dst, {
              srcPath,
              dstRoot: t.ep.root,
              dstRel: a.path,
              size: a.src.size,
              mtime,
              // The next file's PASV may be opened ahead: an MDTM on the source
              // in between (LIST sources: see above) leaves it usable.
              more: true,
              // An interrupted run aborts the transfer at once (engine.ts).
              signal: this.state.signal,
              // The rename's replies (and where it pays, the size check's:
              // fxp/finish-later.ts) are read while the next file starts on
              // the same connections: its leases and its work slot go to that
              // file; this one is done when they come.
              publishLater: true,
            });
          },
          hooks,
        );
      let result = await attempt();
      // A pair is this file's until its slot goes to the next one.
      if (token !== undefined && tries === 1) this.pairs?.done(token, monotonicMs() - began);
      // A transient failure found after the copy returned (a short file whose
      // size check rode with the next transfer, a rename whose replies were
      // lost) is retried like one found before, within the same --retries.
      for (let late = 0; result.published; ) {
        src.release();
        dst.release();
        slot?.release();
        try {
          await result.published;
          break;
        } catch (err) {
          if (!isTransient(err) || isDiskFull(err) || this.state.halted || late++ >= retrier.policy.retries) throw err;
          await slot?.acquire();
          result = await attempt();
        }
      }
      t.summary.files.transferred++;
      t.summary.bytes.transferred += result.bytes;
      t.summary.modes[result.mode] = (t.summary.modes[result.mode] ?? 0) + 1;
      if (mtime && !result.mtimeSet && mtimeAbility(t.pool) === 'none') this.state.noteMtimeless(t.pool);
      events.done?.(t.index, a, result);
    } catch (err) {
      if (isDiskFull(err) && !(err instanceof DestinationFullError)) t.markFull(err);
      throw err;
    } finally {
      src.release();
      dst.release();
    }
  }

  /** --compare checksum with equal sizes: hash both sides (reads only), then transfer or touch. */
  private async verify(t: Target, a: Extract<PlanAction, { kind: 'verify' }>, slot?: Slot): Promise<void> {
    const { events, retrier } = this.state;
    const srcPool = this.state.src.pool;
    const same = await retrier.run([srcPool, t.pool], () => sameChecksum(srcPool, t.pool, this.state.abs(this.state.src.root, a.path), this.state.abs(t.ep.root, a.path)), { slot });
    if (same === false) {
      const transfer: Transfer = { kind: 'transfer', path: a.path, reason: 'checksum', src: a.src, dst: a.dst };
      events.queued?.(t.index, transfer);
      try {
        return await this.execute(t, transfer, slot);
      } catch (err) {
        this.fail(t, transfer, err);
        return;
      }
    }
    if (same === undefined) events.warn?.(`${a.path}: no checksum algorithm shared by both servers; compared by size and time instead`, t.index);
    if (a.src.mtime && a.dst.mtime && Math.abs(a.src.mtime.getTime() - a.dst.mtime.getTime()) >= 1000 && mtimeAbility(t.pool) !== 'none') {
      const mtime = a.src.mtime;
      const set = await t.gate.pass({ kind: 'touch', path: a.path, mtime }, () =>
        retrier.run([t.pool], () => t.pool.use((c) => c.setMtime(containedPath(t.ep.root, a.path), mtime)), { slot }),
      );
      if (set !== false) {
        t.summary.touched++;
        return;
      }
      this.state.noteMtimeless(t.pool);
    }
    t.summary.files.unchanged++;
  }

  private async removeStalePart(t: Target, path: string, slot: Slot): Promise<void> {
    if (this.state.halted) return;
    const a: PlanAction = { kind: 'delete', path, type: 'file', reason: 'stale-part' };
    try {
      await t.gate.pass(a, () => this.state.retrier.run([t.pool], () => t.pool.use((c) => c.delete(containedPath(t.ep.root, path))), { slot }));
      t.summary.staleParts.push(path);
      this.state.events.done?.(t.index, a);
    } catch (err) {
      // Not a file of the mirror: a warning, not a failed file.
      this.state.events.warn?.(`${path}: stale part file not removed: ${(err as Error).message}`, t.index);
    }
  }
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
