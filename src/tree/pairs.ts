/**
 * How many connection pairs transfer at once when -P was not given (a job
 * without `parallel`). The rule, kept simple enough to say in a sentence:
 *
 * Start with -P's default (4). Where the servers are far (the quickest reply
 * any command got, ServerState.rttMs, at least FAR_MS on both sides), a file's
 * time is mostly waiting for replies, and another pair adds throughput as
 * long as it leaves the time per file about flat. So after each window of
 * files (twice the pairs, at least MIN_WINDOW) finished at the current
 * number, one pair is added while the window's mean time per file stays
 * within FLAT of the previous window's; when it grew more, the last pair is
 * taken back and the number stays. Never more than the connections the
 * pools may open (--max-connections but one, lowered by any 421/530), and
 * growth stops for good once a server has refused a connection.
 *
 * Near servers (loopback, a LAN) are limited by their CPUs and disks, not
 * by waiting: there the number stays where it started.
 */
import type { ConnectionPool } from '../ftp/pool.js';
import { isFar } from '../ftp/server-state.js';

export { FAR_MS } from '../ftp/server-state.js';
/** "About flat": the mean time per file may grow by this share when a pair is added. */
export const FLAT = 0.1;
/** The smallest window of files a decision is taken on. */
export const MIN_WINDOW = 8;

export interface PairChange {
  pairs: number;
  /** Why, in words, for the log. */
  reason: string;
}

export class PairControl {
  private pairs: number;
  private growing = true;
  /** Mean time per file of the last window before the latest step up, ms. */
  private before: number | undefined;
  /** This window: files that started at the current number, and their times. */
  private epoch = 0;
  private times: number[] = [];

  constructor(
    start: number,
    private readonly pools: readonly ConnectionPool[],
    private readonly onChange: (c: PairChange) => void,
  ) {
    this.pairs = start;
  }

  get current(): number {
    return this.pairs;
  }

  /** A transfer is about to start: the token its done() must carry back. */
  started(): number {
    return this.epoch;
  }

  /** A transfer that started at `token` succeeded in `ms`. */
  done(token: number, ms: number): void {
    if (!this.growing || token !== this.epoch) return;
    const room = this.room();
    if (room < this.pairs) return this.stop(room, 'a server refused more connections');
    if (!this.far()) return this.stop(this.pairs, 'servers are near: their own speed, not waiting, sets the pace');
    this.times.push(ms);
    if (this.times.length < Math.max(MIN_WINDOW, 2 * this.pairs)) return;
    const mean = this.times.reduce((a, b) => a + b, 0) / this.times.length;
    const before = this.before;
    if (before !== undefined && mean > before * (1 + FLAT)) {
      return this.stop(this.pairs - 1, `time per file grew from ${Math.round(before)} to ${Math.round(mean)} ms with ${this.pairs} pairs`);
    }
    if (this.pairs >= room) return this.stop(this.pairs, `at the connection limit (${room})`);
    this.before = mean;
    this.set(this.pairs + 1, `time per file ${Math.round(mean)} ms, flat: one pair more`);
  }

  /** How many pairs the pools allow: the narrowest pool's limit. */
  private room(): number {
    return Math.min(...this.pools.map((p) => p.currentLimit));
  }

  private far(): boolean {
    return this.pools.every((p) => isFar(p.state));
  }

  private stop(pairs: number, reason: string): void {
    this.growing = false;
    if (pairs !== this.pairs) this.set(pairs, reason);
  }

  private set(pairs: number, reason: string): void {
    this.pairs = Math.max(1, pairs);
    this.epoch++;
    this.times = [];
    this.onChange({ pairs: this.pairs, reason });
  }
}
