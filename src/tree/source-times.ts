import type { ListEntry } from '../ftp/entry.js';
import { MDTM_BATCH, mdtmBatch } from '../ftp/mdtm-batch.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { PlanAction } from './plan.js';

type Transfer = Extract<PlanAction, { kind: 'transfer' }>;

/**
 * Whether a source file's listed time is too coarse to preserve: a LIST time
 * is the minute, or only the day for files older than six months, and the
 * server's local time; copying it would cut the destination's mtime down to
 * that. MDTM (RFC 3659 §3) has the exact second.
 */
export function needsExactTime(src: ListEntry): boolean {
  return src.mtime === undefined || src.mtimeApproximate || src.mtimePrecision > 1000;
}

/**
 * The exact times of one source directory's files that are to be copied,
 * asked for together: MDTM_BATCH files per write (mdtm-batch.ts), not one
 * round trip per file in the transfer. Shared by the directory's targets, so
 * a file copied to several is asked once.
 *
 * Best effort: when a batch fails (out of step, connection lost), its files
 * keep their listed time here and the transfer asks MDTM itself, one file at
 * a time, with retries, as it would without this. A server whose batch came
 * back out of step is not sent another.
 */
export class SourceTimes {
  private readonly asked = new Map<string, Promise<Date | undefined>>();

  constructor(
    private readonly pool: ConnectionPool,
    /** A relative path as the absolute path the source server knows. */
    private readonly absolute: (rel: string) => string,
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * `actions` in order, each transfer whose listed time is coarse given its
   * exact time where the server told it. Batches go out as the actions are
   * taken, so a huge directory's first transfers need not wait for its last
   * file's time.
   */
  async *withTimes(actions: PlanAction[]): AsyncGenerator<PlanAction> {
    const need = actions.filter((a): a is Transfer => a.kind === 'transfer' && needsExactTime(a.src));
    let next = 0;
    for (const a of actions) {
      if (a.kind !== 'transfer' || !needsExactTime(a.src)) {
        yield a;
        continue;
      }
      if (!this.asked.has(a.path)) {
        // From here on, the next MDTM_BATCH files not asked yet.
        while (need[next] !== a) next++;
        const chunk = need.slice(next).filter((x) => !this.asked.has(x.path)).slice(0, MDTM_BATCH);
        this.ask(chunk.map((x) => x.path));
      }
      const mtime = await this.asked.get(a.path);
      yield mtime ? { ...a, src: { ...a.src, mtime, mtimePrecision: 1000, mtimeApproximate: false } } : a;
    }
  }

  private ask(paths: string[]): void {
    const state = this.pool.state;
    const batch =
      state.mdtmBatch === false
        ? Promise.resolve(undefined)
        : this.pool.use((c) => mdtmBatch(c, paths.map(this.absolute), this.signal)).catch((err: unknown) => {
            // Out of step, or no answer at all: this server is not asked in batches again.
            const code = (err as { code?: string }).code;
            if (code === 'EPROTOCOL' || code === 'ETIMEOUT') state.mdtmBatch = false;
            return undefined;
          });
    for (const [i, p] of paths.entries()) this.asked.set(p, batch.then((times) => times?.[i]));
  }
}
