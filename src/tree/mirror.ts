import { DeletePhase } from './delete-phase.js';
import { Executor } from './execute.js';
import type { MirrorSummary } from './plan.js';
import { RunState, walkWidth } from './run-state.js';
import type { MirrorRun } from './run-types.js';
import { readSourceRoot } from './source-root.js';
import { Walker } from './walk.js';

export type { MirrorEndpoint, MirrorEvents, MirrorRun } from './run-types.js';

/**
 * Mirror one source tree onto one or more targets (fan-out: the source is
 * listed once, each target compared with it).
 *
 * A run is three stages over one shared state (run-state.ts), started and
 * stopped here in order, as rclone's sync keeps its pipeline:
 * - the walker (walk.ts) lists and compares directory by directory and feeds
 *   the executor as it goes;
 * - the executor (execute.ts) carries out each action behind its target's
 *   gate, transfers from its `transfers` queue, with retries (retrier.ts);
 * - the delete phase (delete-phase.ts) runs per target once every transfer
 *   is done, if --max-delete allows.
 */
export async function mirror(run: MirrorRun): Promise<MirrorSummary[]> {
  return new Mirror(run).run();
}

class Mirror {
  private readonly state: RunState;
  private readonly executor: Executor;
  private readonly walker: Walker;
  private readonly deletes: DeletePhase;

  constructor(private readonly request: MirrorRun) {
    this.state = new RunState(request);
    this.executor = new Executor(this.state);
    this.walker = new Walker(this.state, this.executor);
    this.deletes = new DeletePhase(this.state, this.executor, this.walker);
  }

  async run(): Promise<MirrorSummary[]> {
    const started = Date.now();
    const { state } = this;
    const pools = [...new Set([state.src.pool, ...state.targets.map((t) => t.pool)])];
    // The connections the transfers will use, and on a distant server those
    // the walk may list on (walkWidth), log in now, in the background: the
    // walk fans out as soon as the roots are listed.
    for (const pool of pools) {
      pool.widen(walkWidth(pool, state.opts.parallel));
      pool.warm(walkWidth(pool, state.opts.parallel));
    }
    // The source root first: when it cannot be listed (missing, refused, server
    // gone) there is nothing to compare, and no target is touched at all. The
    // targets' roots are read meanwhile (reads only: see probeRoots).
    const probed = this.walker.probeRoots();
    const sourceListing = this.request.sourceListing ?? (await readSourceRoot(state.src, state.opts));
    const rootExists = await this.walker.prepareRoots(await probed);
    // Every server has answered a login by now, so its distance is known
    // (mirror() may have been handed pools that had not connected yet).
    for (const pool of pools) pool.widen(walkWidth(pool, state.opts.parallel));
    const reachable = state.targets.filter((_, i) => rootExists[i] !== undefined);
    await this.walker.walk('', rootExists.filter((e) => e !== undefined), reachable, sourceListing);
    state.events.walked?.();
    await this.executor.drain();
    for (const t of state.targets) {
      // An interrupted run deletes nothing: its walk may be incomplete.
      if (state.halted) break;
      if (!t.summary.error) await this.deletes.run(t);
    }
    const durationMs = Date.now() - started;
    for (const t of state.targets) t.summary.durationMs = durationMs;
    return state.targets.map((t) => t.summary);
  }
}
