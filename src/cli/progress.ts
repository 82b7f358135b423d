import { displayText, formatBytes, formatDuration } from './render.js';
import type { Logger } from './log.js';
import type { Screen } from './screen.js';

/**
 * Progress for people. The model counts what the mirror events report (files
 * planned as the walk finds them, transfers started and finished); the
 * figures are plain data; one renderer draws them for the terminal's status
 * line (redrawn in place, TTY only, so cron mail and pipes stay clean) and
 * for `--stats N` log lines.
 *
 * Totals are only what is known so far: while a walk is still running they
 * are marked "+", and percent and ETA are not shown, because a total that
 * keeps growing would make a half-done run look nearly done.
 *
 * FXP moves the bytes between the servers, so the client learns a transfer's
 * byte count only when it ends. A running transfer shows its size and how long
 * it has been running; `bytes` and `rate` are filled in where a caller knows
 * them (size polling during a transfer, once the engine does it).
 */

export interface RunningTransfer {
  name: string;
  size?: number;
  startedAt: number;
  bytes?: number;
  rate?: number;
}

export interface ProgressFigures {
  files: { done: number; failed: number; total: number };
  bytes: { done: number; total: number };
  /** Every walk has ended: the totals are final. */
  complete: boolean;
  /** Of the bytes (of the files when no sizes are known); only when complete. */
  percent?: number;
  /** Bytes per second over the last RATE_WINDOW_MS. */
  rate?: number;
  /** Only when complete and a rate is known. */
  etaMs?: number;
  elapsedMs: number;
  running: RunningTransfer[];
}

/** The rate is measured over this window, so it follows the current speed rather than the run's average. */
const RATE_WINDOW_MS = 10_000;

export class ProgressModel {
  private filesTotal = 0;
  private bytesTotal = 0;
  private filesDone = 0;
  private filesFailed = 0;
  private bytesDone = 0;
  /** Sizes of finished transfers, failed ones included: what percent and ETA count as dealt with. */
  private bytesSettled = 0;
  private openWalks: number;
  private nextId = 1;
  private readonly running = new Map<number, RunningTransfer>();
  /** (time, bytesDone) at each finished transfer, kept for RATE_WINDOW_MS plus one older baseline. */
  private samples: { t: number; bytes: number }[] = [];
  readonly startedAt: number;

  /** `walks`: how many walks will report walkDone() (one per mirror run; one per job for `run`). */
  constructor(walks = 1, private readonly now: () => number = Date.now) {
    this.openWalks = walks;
    this.startedAt = now();
    this.samples.push({ t: this.startedAt, bytes: 0 });
  }

  planned(size: number | undefined): void {
    this.filesTotal++;
    this.bytesTotal += size ?? 0;
  }

  walkDone(): void {
    if (this.openWalks > 0) this.openWalks--;
  }

  start(name: string, size: number | undefined): number {
    const id = this.nextId++;
    this.running.set(id, { name, size, startedAt: this.now() });
    return id;
  }

  finish(id: number, bytes: number, ok: boolean): void {
    const r = this.running.get(id);
    if (!r) return;
    this.running.delete(id);
    this.bytesSettled += r.size ?? bytes;
    if (!ok) {
      this.filesFailed++;
      return;
    }
    this.filesDone++;
    this.bytesDone += bytes;
    const t = this.now();
    this.samples.push({ t, bytes: this.bytesDone });
    while (this.samples.length > 2 && this.samples[1].t < t - RATE_WINDOW_MS) this.samples.shift();
  }

  figures(): ProgressFigures {
    const now = this.now();
    const complete = this.openWalks === 0;
    const base = this.samples[0];
    const span = now - base.t;
    const rate = span >= 1000 && this.bytesDone > 0 ? ((this.bytesDone - base.bytes) * 1000) / span : undefined;
    let percent: number | undefined;
    let etaMs: number | undefined;
    if (complete) {
      const settledFiles = this.filesDone + this.filesFailed;
      percent = this.bytesTotal > 0 ? (100 * this.bytesSettled) / this.bytesTotal : this.filesTotal > 0 ? (100 * settledFiles) / this.filesTotal : 100;
      percent = Math.min(100, Math.floor(percent));
      const left = Math.max(0, this.bytesTotal - this.bytesSettled);
      if (rate && rate > 0) etaMs = (left * 1000) / rate;
    }
    return {
      files: { done: this.filesDone, failed: this.filesFailed, total: this.filesTotal },
      bytes: { done: this.bytesDone, total: this.bytesTotal },
      complete,
      percent,
      rate,
      etaMs,
      elapsedMs: now - this.startedAt,
      running: [...this.running.values()],
    };
  }
}

/** "0:04", "12:30", "1:02:03". */
function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "3s", "1m05s": how long a transfer has been running. */
function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function runningText(r: RunningTransfer, now: number): string {
  const name = displayText(r.name.slice(r.name.lastIndexOf('/') + 1));
  const parts: string[] = [];
  if (r.bytes !== undefined && r.size !== undefined) parts.push(`${formatBytes(r.bytes)}/${formatBytes(r.size)}`);
  else if (r.size !== undefined) parts.push(formatBytes(r.size));
  parts.push(r.rate !== undefined ? `${formatBytes(r.rate)}/s` : age(now - r.startedAt));
  return `${name} ${parts.join(' ')}`;
}

/**
 * One line of figures:
 *   "12/40 files  4.1 MiB/9.0 MiB  45%  2.3 MiB/s  ETA 0:04  | a.bin 2.0 MiB 3s, b.iso 1.0 GiB 12s"
 * While walking: "12/40+ files  4.1 MiB/9.0 MiB+  --%  2.3 MiB/s  ETA --  | ...".
 * `withRunning` false leaves the running transfers out (--stats log lines).
 */
export function renderProgress(f: ProgressFigures, withRunning = true, now = Date.now()): string {
  const more = f.complete ? '' : '+';
  const parts = [
    `${f.files.done}/${f.files.total}${more} files`,
    `${formatBytes(f.bytes.done)}/${formatBytes(f.bytes.total)}${more}`,
    f.percent !== undefined ? `${f.percent}%` : '--%',
    f.rate !== undefined ? `${formatBytes(f.rate)}/s` : '-- B/s',
    `ETA ${f.etaMs !== undefined ? clock(f.etaMs) : '--'}`,
  ];
  if (f.files.failed) parts.push(`${f.files.failed} failed`);
  let line = parts.join('  ');
  if (withRunning && f.running.length) line += `  | ${f.running.map((r) => runningText(r, now)).join(', ')}`;
  return line;
}

/** The figures when a signal stops a run (logged with the "interrupted" event). */
export function renderInterrupted(f: ProgressFigures): string {
  const more = f.complete ? '' : '+';
  const failed = f.files.failed ? `, ${f.files.failed} failed` : '';
  return (
    `${f.files.done} of ${f.files.total}${more} files transferred (${formatBytes(f.bytes.done)}) in ${formatDuration(f.elapsedMs, 1)}, ` +
    `${f.running.length} running${failed}`
  );
}

/**
 * Draws the figures: on the terminal's status line every 250 ms, and as a
 * log line every `statsSeconds` (--stats, with or without a terminal).
 */
export class ProgressDisplay {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    readonly model: ProgressModel,
    private readonly screen: Screen | undefined,
    stats?: { seconds: number; log: Logger },
  ) {
    if (screen?.interactive) this.every(250, () => screen.status(renderProgress(model.figures())));
    if (stats) {
      this.every(stats.seconds * 1000, () => {
        const f = model.figures();
        stats.log.log({
          level: 'info',
          event: 'stats',
          message: renderProgress(f, false),
          files: f.files,
          bytesDone: f.bytes.done,
          bytesTotal: f.bytes.total,
          complete: f.complete,
          percent: f.percent,
          rate: f.rate === undefined ? undefined : Math.round(f.rate),
          etaSeconds: f.etaMs === undefined ? undefined : Math.round(f.etaMs / 1000),
        });
      });
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Stop drawing and leave a clean line. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.screen?.clearStatus();
  }
}
