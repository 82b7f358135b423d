import { displayText, formatBytes, formatDuration } from './render.js';
import type { Logger } from './log.js';
import { STATUS_MARGIN, fitTail, type Screen } from './screen.js';

/** At most this many running transfers get a line of their own on the terminal. */
const MAX_RUNNING_LINES = 12;

/**
 * Progress for people. The model counts what the mirror events report (files
 * planned as the walk finds them, transfers started and finished) and what
 * the engine reports while a transfer runs (its bytes so far and rate: the
 * destination's part file polled during FXP, the client's own count during
 * relay); the figures are plain data; one renderer draws them for the
 * terminal's status block (redrawn in place, TTY only, so cron mail and pipes
 * stay clean) and for `--stats N` log lines.
 *
 * Totals are only what is known so far: while a walk is still running they
 * are marked "+", and percent and ETA are not shown, because a total that
 * keeps growing would make a half-done run look nearly done.
 *
 * Bytes are counted once: a running transfer's bytes are in the figures while
 * it runs, and its end adds only what the last reading had not seen. A retry
 * starts its count again (the engine reports each attempt's start), and a
 * failed transfer's bytes leave the "done" figure.
 */

export interface RunningTransfer {
  name: string;
  /** The target it goes to, where a job has several ("server:/path"). */
  target?: string;
  size?: number;
  startedAt: number;
  /** The file's bytes so far (a resumed file's offset included); undefined until the first reading. */
  bytes?: number;
  /** Bytes per second at the last reading; undefined until one was taken. */
  rate?: number;
  /** Where this attempt started (the REST offset): the bytes below it were there before the run. */
  from: number;
}

export interface ProgressFigures {
  files: { done: number; failed: number; total: number };
  /** `done`: bytes transferred, the running transfers' bytes so far included (`inFlight`). */
  bytes: { done: number; total: number; inFlight: number };
  /** Every walk has ended: the totals are final. */
  complete: boolean;
  /** Of the bytes (of the files when no sizes are known); only when complete. */
  percent?: number;
  /** Bytes per second over the last RATE_WINDOW_MS, running transfers' bytes included. */
  rate?: number;
  /** Only when complete and a rate is known. */
  etaMs?: number;
  elapsedMs: number;
  running: RunningTransfer[];
}

/** The rate is measured over this window, so it follows the current speed rather than the run's average. */
const RATE_WINDOW_MS = 10_000;

/** What this run moved of a running transfer so far. */
function movedBy(r: RunningTransfer): number {
  return r.bytes === undefined ? 0 : Math.max(0, r.bytes - r.from);
}

export class ProgressModel {
  private filesTotal = 0;
  private bytesTotal = 0;
  private filesDone = 0;
  private filesFailed = 0;
  /** What finished transfers reported (a resumed file's offset not included). */
  private bytesDone = 0;
  /** Sizes of finished transfers, failed ones included: what percent and ETA count as dealt with. */
  private bytesSettled = 0;
  /** Every byte seen moving, counted once; it only grows (a retry moves its bytes again): the rate is measured on it. */
  private moved = 0;
  private openWalks: number;
  private nextId = 1;
  private readonly running = new Map<number, RunningTransfer>();
  /** (time, moved) at each growth, kept for RATE_WINDOW_MS plus one older baseline. */
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

  start(name: string, size: number | undefined, target?: string): number {
    const id = this.nextId++;
    this.running.set(id, { name, target, size, startedAt: this.now(), from: 0 });
    return id;
  }

  /**
   * A reading of a running transfer: the file's bytes so far (`from`, the
   * REST offset, included) and its rate (undefined: an attempt starts).
   * Fewer bytes than before is a restart: the figures drop back with it.
   */
  advance(id: number, bytes: number, rate?: number, from = 0): void {
    const r = this.running.get(id);
    if (!r) return;
    const before = movedBy(r);
    r.bytes = bytes;
    r.rate = rate;
    r.from = from;
    this.count(movedBy(r) - before);
  }

  /** `bytes`: what the transfer reports it moved (0 when it failed). */
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
    this.count(bytes - movedBy(r));
  }

  private count(delta: number): void {
    if (delta <= 0) return;
    this.moved += delta;
    const t = this.now();
    this.samples.push({ t, bytes: this.moved });
    while (this.samples.length > 2 && this.samples[1].t <= t - RATE_WINDOW_MS) this.samples.shift();
  }

  figures(): ProgressFigures {
    const now = this.now();
    const complete = this.openWalks === 0;
    // The baseline: the newest sample at least RATE_WINDOW_MS old (else the oldest), so a
    // transfer that stopped moving brings the rate down to 0 within the window.
    let base = this.samples[0];
    for (const s of this.samples) if (s.t <= now - RATE_WINDOW_MS) base = s;
    const span = now - base.t;
    const rate = span >= 1000 && this.moved > 0 ? ((this.moved - base.bytes) * 1000) / span : undefined;
    const running = [...this.running.values()].map((r) => ({ ...r }));
    let inFlight = 0;
    let settled = this.bytesSettled;
    for (const r of running) {
      inFlight += movedBy(r);
      settled += Math.min(r.size ?? 0, r.bytes ?? 0);
    }
    let percent: number | undefined;
    let etaMs: number | undefined;
    if (complete) {
      const settledFiles = this.filesDone + this.filesFailed;
      percent = this.bytesTotal > 0 ? (100 * settled) / this.bytesTotal : this.filesTotal > 0 ? (100 * settledFiles) / this.filesTotal : 100;
      percent = Math.min(100, Math.floor(percent));
      const left = Math.max(0, this.bytesTotal - settled);
      if (rate && rate > 0) etaMs = (left * 1000) / rate;
    }
    return {
      files: { done: this.filesDone, failed: this.filesFailed, total: this.filesTotal },
      bytes: { done: this.bytesDone + inFlight, total: this.bytesTotal, inFlight },
      complete,
      percent,
      rate,
      etaMs,
      elapsedMs: now - this.startedAt,
      running,
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

/** A running transfer's figures: percent, bytes so far out of its size, rate (its age until the first reading). */
function transferFigures(r: RunningTransfer, now: number): { percent: string; bytes: string; rate: string } {
  // An attempt's start (no rate yet) says nothing worth showing unless it resumes past 0.
  const known = r.bytes !== undefined && (r.rate !== undefined || r.bytes > 0);
  return {
    percent: known && r.size ? `${Math.min(100, Math.floor((100 * r.bytes!) / r.size))}%` : '',
    bytes: known ? `${formatBytes(r.bytes!)}/${formatBytes(r.size ?? r.bytes!)}` : r.size !== undefined ? formatBytes(r.size) : '',
    rate: r.rate !== undefined ? `${formatBytes(r.rate)}/s` : age(now - r.startedAt),
  };
}

/**
 * The overall line:
 *   "12/40 files  4.1 MiB/9.0 MiB  45%  2.3 MiB/s  ETA 0:04"
 * While walking: "12/40+ files  4.1 MiB/9.0 MiB+  --%  2.3 MiB/s  ETA --".
 */
export function renderProgress(f: ProgressFigures): string {
  const more = f.complete ? '' : '+';
  const parts = [
    `${f.files.done}/${f.files.total}${more} files`,
    `${formatBytes(f.bytes.done)}/${formatBytes(f.bytes.total)}${more}`,
    f.percent !== undefined ? `${f.percent}%` : '--%',
    f.rate !== undefined ? `${formatBytes(f.rate)}/s` : '-- B/s',
    `ETA ${f.etaMs !== undefined ? clock(f.etaMs) : '--'}`,
  ];
  if (f.files.failed) parts.push(`${f.files.failed} failed`);
  return parts.join('  ');
}

/**
 * A --stats log line: the overall line and every running transfer, full path first:
 *   "... ETA 0:04  | pub/a.iso 48.0 MiB/1.0 GiB 4% 12.0 MiB/s, b.bin 2.0 MiB 3s"
 */
export function renderStats(f: ProgressFigures, now = Date.now()): string {
  const running = f.running.map((r) => {
    const t = transferFigures(r, now);
    return [displayText(r.name), t.bytes, t.percent, t.rate].filter((x) => x !== '').join(' ');
  });
  return running.length ? `${renderProgress(f)}  | ${running.join(', ')}` : renderProgress(f);
}

/** Columns of a transfer line before its name: "  " percent(4) "  " bytes(21) "  " rate(12) "  ". */
const FIGURE_COLUMNS = 45;

/**
 * The terminal's status block: the overall line, then one line per running
 * transfer (at most `maxRunning`, then "… and N more"), figures in aligned
 * columns and the path last, shortened from the left to fit `columns`:
 *   "12/40 files  4.1 MiB/9.0 MiB  45%  2.3 MiB/s  ETA 0:04"
 *   "   41%   420.0 MiB/1.0 GiB    10.2 MiB/s  iso/debian-12.iso"
 *   "               512.0 MiB            2s  iso/other.iso"
 */
export function renderStatus(f: ProgressFigures, columns: number, maxRunning: number, now = Date.now()): string[] {
  const lines = [renderProgress(f)];
  const shown = f.running.slice(0, Math.max(1, maxRunning));
  for (const r of shown) {
    const t = transferFigures(r, now);
    const figures = `  ${t.percent.padStart(4)}  ${t.bytes.padStart(21)}  ${t.rate.padStart(12)}  `;
    lines.push(figures + fitTail(displayText(r.name), Math.max(8, columns - FIGURE_COLUMNS)));
  }
  if (f.running.length > shown.length) lines.push(`  … and ${f.running.length - shown.length} more`);
  return lines;
}

/** The figures when a signal stops a run (logged with the "interrupted" event). */
export function renderInterrupted(f: ProgressFigures): string {
  const more = f.complete ? '' : '+';
  const failed = f.files.failed ? `, ${f.files.failed} failed` : '';
  return (
    `${f.files.done} of ${f.files.total}${more} files transferred (${formatBytes(f.bytes.done - f.bytes.inFlight)}) in ${formatDuration(f.elapsedMs, 1)}, ` +
    `${f.running.length} running${failed}`
  );
}

/**
 * Draws the figures: on the terminal's status block every 250 ms, and as a
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
    if (screen?.interactive) {
      // The block keeps two rows of the terminal free (the overall line and "… and N more" aside).
      this.every(250, () => screen.status(renderStatus(model.figures(), screen.columns - STATUS_MARGIN, Math.min(MAX_RUNNING_LINES, screen.rows - 4))));
    }
    if (stats) {
      this.every(stats.seconds * 1000, () => {
        const f = model.figures();
        stats.log.log({
          level: 'info',
          event: 'stats',
          message: renderStats(f),
          files: f.files,
          bytesDone: f.bytes.done,
          bytesTotal: f.bytes.total,
          complete: f.complete,
          percent: f.percent,
          rate: f.rate === undefined ? undefined : Math.round(f.rate),
          etaSeconds: f.etaMs === undefined ? undefined : Math.round(f.etaMs / 1000),
          running: f.running.map((r) => ({
            target: r.target,
            path: r.name,
            size: r.size,
            bytes: r.bytes,
            rate: r.rate === undefined ? undefined : Math.round(r.rate),
          })),
        });
      });
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Stop drawing and leave a clean screen. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.screen?.clearStatus();
  }
}
