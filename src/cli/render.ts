import type { ListEntry } from '../ftp/entry.js';
import type { MirrorSummary, PlanAction } from '../tree/plan.js';
import { TRANSFER_MODES } from '../fxp/modes.js';
import { EXIT } from './exit.js';
import { oneLine, summaryStatus, type TargetOutcome } from './outcome.js';
import type { StopSignal } from './interrupt.js';

/**
 * Renderers draw from plain data only (plan actions, the run summary): no
 * sockets, no clocks, no terminal detection. Whatever came from a server (file
 * names, reply text) is escaped before it reaches a terminal or a cron mail.
 */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Binary units, one decimal above 1 KiB: "512 B", "4.0 KiB", "4.1 MiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (Math.round(v) < 1024) return `${sign}${Math.round(v)} B`;
  v /= 1024;
  let unit = 0;
  // Move up a unit when the one-decimal rounding would print "1024.0".
  while (unit < UNITS.length - 1 && Number(v.toFixed(1)) >= 1024) {
    v /= 1024;
    unit++;
  }
  return `${sign}${v.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Characters that must not reach a terminal raw: C0 controls, DEL, C1 controls
 * (0x9b is a one-byte CSI on some terminals), the Unicode line/paragraph
 * separators and the bidi overrides/isolates that can make a name display as
 * another ("Trojan Source").
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_G = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text as-is when it is safe to print, else as a JSON string literal (quoted,
 * with \n, \u001b ... escapes) so the line stays one line and the name stays
 * recoverable. JSON.stringify leaves DEL, C1 and bidi characters raw, so they
 * are escaped on top; the result is still valid JSON.
 */
export function displayText(s: string): string {
  if (!UNSAFE.test(s)) return s;
  return JSON.stringify(s).replace(UNSAFE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A name a server sent, always quoted (JSON string syntax, unsafe characters escaped): it may hold "/", quotes or controls. */
export function quoteName(name: string): string {
  return JSON.stringify(name).replace(UNSAFE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function dirPath(path: string): string {
  return path === '' ? './' : `${path}/`;
}

/** A path for display; directories get a trailing "/" (inside the quotes when escaped). */
function showPath(path: string, isDir: boolean): string {
  const p = isDir ? dirPath(path) : path === '' ? '.' : path;
  return displayText(p);
}

const KIND_WIDTH = 10;

function line(kind: string, path: string, detail?: string): string {
  return `${kind.padEnd(KIND_WIDTH)}${path}${detail ? `  (${detail})` : ''}`;
}

function sizeOf(e: ListEntry | undefined): string | undefined {
  return e?.size !== undefined ? formatBytes(e.size) : undefined;
}

function isoOrNull(d: Date | undefined): string | null | undefined {
  if (d === undefined) return undefined;
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/**
 * One line per action:
 *   transfer  docs/a b.txt  (missing, 4.0 KiB)
 *   delete    old/x.bin
 *   mkdir     docs/
 *   skip      lnk  (symlink)
 *   unsynced  secret/  (source listing failed: 550 Permission denied)
 * A type-conflict replacement reads "(type: replaces dir, 4.0 KiB)".
 * For unsynced, `reason` is the cause (server reply or error message).
 */
export function renderAction(a: PlanAction): string {
  switch (a.kind) {
    case 'transfer': {
      const why = a.reason === 'type' && a.dst ? `type: replaces ${a.dst.type}` : a.reason;
      const size = sizeOf(a.src);
      return line('transfer', showPath(a.path, false), size ? `${why}, ${size}` : why);
    }
    case 'mkdir':
      return line('mkdir', showPath(a.path, true), a.dst ? `type: replaces ${a.dst.type}` : undefined);
    case 'verify': {
      const size = sizeOf(a.src);
      return line('verify', showPath(a.path, false), size ? `checksum, ${size}` : 'checksum');
    }
    case 'touch':
      return line('touch', showPath(a.path, false), `mtime ${isoOrNull(a.mtime) ?? 'invalid'}`);
    case 'delete':
      return line('delete', showPath(a.path, a.type === 'dir'), a.reason === 'stale-part' ? 'stale part file' : undefined);
    case 'skip':
      return line('skip', showPath(a.path, false), a.reason);
    case 'unsynced':
      return line('unsynced', showPath(a.path, true), `${a.side} listing failed: ${displayText(a.reason)}`);
    case 'unusable':
      return line('unusable', `${quoteName(a.name)} in ${showPath(a.path, true)}`, `${a.side}: ${displayText(a.reason)}`);
  }
}

/**
 * A listing entry as JSON, the one form for `ls --json` and the dry-run plan
 * lines (`src`, `dst`). Fixed key order; absent facts are left out; `mtime`
 * is an ISO string (null for a time the listing gave but that is no date);
 * `mode` is the permission bits as the octal text people write for chmod
 * and MLSD's UNIX.mode fact carries ("0644"), not a decimal number (420).
 */
export function entryToJson(e: ListEntry): Record<string, unknown> {
  const out = {
    name: e.name,
    type: e.type,
    size: e.size,
    mtime: isoOrNull(e.mtime),
    mtimePrecision: e.mtimePrecision,
    mtimeApproximate: e.mtimeApproximate,
    target: e.target,
    mode: e.mode !== undefined ? e.mode.toString(8).padStart(4, '0') : undefined,
    perm: e.perm,
    unique: e.unique,
  };
  // No undefined values: the text is the same with or without JSON.stringify's dropping.
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** Stable JSON (fixed key order per kind, dates as ISO strings, no undefined values). */
export function actionToJson(a: PlanAction): object {
  const out: Record<string, unknown> = (() => {
    switch (a.kind) {
      case 'transfer':
        return {
          kind: a.kind,
          path: a.path,
          reason: a.reason,
          src: entryToJson(a.src),
          dst: a.dst ? entryToJson(a.dst) : undefined,
        };
      case 'mkdir':
        return { kind: a.kind, path: a.path, reason: a.reason, dst: a.dst ? entryToJson(a.dst) : undefined };
      case 'verify':
        return { kind: a.kind, path: a.path, src: entryToJson(a.src), dst: entryToJson(a.dst) };
      case 'touch':
        return { kind: a.kind, path: a.path, mtime: isoOrNull(a.mtime) };
      case 'delete':
        return { kind: a.kind, path: a.path, type: a.type, reason: a.reason };
      case 'skip':
        return { kind: a.kind, path: a.path, reason: a.reason };
      case 'unsynced':
        return { kind: a.kind, path: a.path, side: a.side, reason: a.reason };
      case 'unusable':
        return { kind: a.kind, path: a.path, name: a.name, side: a.side, reason: a.reason };
    }
  })();
  // Round-trip so the result holds no undefined keys and no Date objects.
  return JSON.parse(JSON.stringify(out)) as object;
}

/** "0.42 s", "1.23 s", "2 min 05 s", "1 h 02 min". `digits` applies under a minute. */
export function formatDuration(ms: number, digits = 2): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 60_000) return `${(ms / 1000).toFixed(digits)} s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} min ${String(totalS % 60).padStart(2, '0')} s`;
  const totalMin = Math.floor(totalS / 60);
  return `${Math.floor(totalMin / 60)} h ${String(totalMin % 60).padStart(2, '0')} min`;
}

/** "fxp 12, relay 1" (in TRANSFER_MODES order); "" when no file was transferred. */
export function formatModes(modes: MirrorSummary['modes']): string {
  return TRANSFER_MODES.filter((m) => (modes[m] ?? 0) > 0)
    .map((m) => `${m} ${modes[m]}`)
    .join(', ');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Long lists are cut in the text summary; the JSON summary has them all. */
const LIST_LIMIT = 50;

function listLines<T>(items: T[], render: (t: T) => string): string[] {
  const out = items.slice(0, LIST_LIMIT).map((t) => `  ${render(t)}`);
  if (items.length > LIST_LIMIT) out.push(`  ... and ${items.length - LIST_LIMIT} more (see --json)`);
  return out;
}

function label(name: string, value: string): string {
  return `${`${name}:`.padEnd(14)}${value}`;
}

/**
 * Multi-line human summary. In a dry run the counts are what a real run would
 * do, and the first line says so.
 */
export function renderSummary(s: MirrorSummary, interrupted?: StopSignal): string {
  const out: string[] = [];
  if (interrupted) out.push(`interrupted by ${interrupted}: stopped early, nothing deleted; a new run completes it`);
  if (s.dryRun) out.push('dry run: nothing changed');
  out.push(label('source', displayText(s.source)));
  out.push(label('destination', displayText(s.destination)));
  const verb = s.dryRun ? 'to transfer' : 'transferred';
  out.push(label(verb, `${plural(s.files.transferred, 'file')}, ${formatBytes(s.bytes.transferred)}`));
  out.push(label('unchanged', plural(s.files.unchanged, 'file')));
  if (s.touched > 0) out.push(label(s.dryRun ? 'to touch' : 'touched', plural(s.touched, 'file')));
  out.push(label('skipped', `${plural(s.files.skipped, 'entry', 'entries')}${s.files.excluded ? ` (${s.files.excluded} excluded)` : ''}`));
  out.push(
    label(
      s.dryRun ? 'to delete' : 'deleted',
      `${plural(s.files.deleted, 'file')}, ${plural(s.dirs.deleted, 'directory', 'directories')}`,
    ),
  );
  if (s.dirs.created > 0) out.push(label(s.dryRun ? 'to create' : 'created', plural(s.dirs.created, 'directory', 'directories')));
  if (s.staleParts.length > 0) out.push(label('part files', `${plural(s.staleParts.length, 'stale part file')} ${s.dryRun ? 'to remove' : 'removed'}`));
  out.push(label('failed', plural(s.files.failed, 'file')));
  const modes = formatModes(s.modes);
  if (modes) out.push(label('modes', modes));
  if (s.deleteLimit) {
    out.push(
      label('delete limit', `${s.deleteLimit.planned} planned, over --max-delete ${s.deleteLimit.limit}: nothing was deleted`),
    );
  }
  if (s.unsynced.length > 0) {
    out.push(`unsynced subtrees (${s.unsynced.length}, nothing under them was deleted):`);
    out.push(...listLines(s.unsynced, (u) => `${showPath(u.path, true)}  (${u.side} listing failed: ${displayText(u.reason)})`));
  }
  if (s.skippedEntries.length > 0) {
    out.push(`skipped (${s.skippedEntries.length}):`);
    out.push(...listLines(s.skippedEntries, (k) => `${showPath(k.path, false)}  (${displayText(k.reason)})`));
  }
  if (s.unusable.length > 0) {
    out.push(`unusable names (${s.unusable.length}, neither transferred nor deleted):`);
    out.push(...listLines(s.unusable, (u) => `${quoteName(u.name)} in ${showPath(u.dir, true)}  (${u.side}: ${displayText(u.reason)})`));
  }
  if (s.warnings.length > 0) {
    out.push(`warnings (${s.warnings.length}):`);
    out.push(...listLines(s.warnings, (w) => displayText(w)));
  }
  if (s.failures.length > 0) {
    out.push(`failures (${s.failures.length}):`);
    out.push(...listLines(s.failures, (f) => `${showPath(f.path, false)}: ${displayText(f.message)} [${displayText(f.code)}]`));
  }
  out.push(label('duration', formatDuration(s.durationMs)));
  if (!s.dryRun && s.durationMs > 0 && s.bytes.transferred > 0) {
    out.push(label('throughput', `${formatBytes((s.bytes.transferred * 1000) / s.durationMs)}/s`));
  }
  return out.join('\n');
}

/**
 * ONE line for -q / cron mail:
 *   "ok: 12 transferred (4.1 MiB), 0 deleted, 0 failed in 1.2 s"
 *   "partial: 3 transferred (1.0 KiB), 0 deleted, 2 failed, 1 unsynced in 0.5 s"
 * Deleted counts files and directories. A dry run reads "ok (dry run): 12 to
 * transfer (...), 3 to delete, ...". A run stopped by a signal reads
 *   "interrupted by SIGTERM: 3 transferred (1.0 KiB), 0 deleted, 0 failed in 0.4 s".
 */
export function renderSummaryLine(s: MirrorSummary, interrupted?: StopSignal): string {
  const status = (interrupted ? `interrupted by ${interrupted}` : summaryStatus(s)) + (s.dryRun ? ' (dry run)' : '');
  const deleted = s.files.deleted + s.dirs.deleted;
  const parts = [
    s.dryRun
      ? `${s.files.transferred} to transfer (${formatBytes(s.bytes.transferred)})`
      : `${s.files.transferred} transferred (${formatBytes(s.bytes.transferred)})`,
    s.dryRun ? `${deleted} to delete` : `${deleted} deleted`,
    `${s.files.failed} failed`,
  ];
  if (s.unsynced.length > 0) parts.push(`${s.unsynced.length} unsynced`);
  if (s.unusable.length > 0) parts.push(`${s.unusable.length} unusable`);
  if (s.deleteLimit) parts.push(`deletions stopped by --max-delete ${displayText(s.deleteLimit.limit)} (${s.deleteLimit.planned} planned)`);
  return `${status}: ${parts.join(', ')} in ${formatDuration(s.durationMs, 1)}`;
}

/** The first thing that went wrong in a partial summary, for the one-line report. */
function firstProblem(s: MirrorSummary): string | undefined {
  const f = s.failures[0];
  if (f) return `${displayText(f.path || '.')}: ${displayText(oneLine(f.message))}`;
  const u = s.unsynced[0];
  if (u) return `${displayText(u.path ? `${u.path}/` : './')}: ${u.side} listing failed: ${displayText(oneLine(u.reason))}`;
  const n = s.unusable[0];
  if (n) return `${displayText(n.dir ? `${n.dir}/` : './')}: ${n.side} name ${quoteName(n.name)} is unusable: ${displayText(oneLine(n.reason))}`;
  return undefined;
}

/**
 * The one line a failed target gets under -q (cron mail), or undefined when
 * it is in sync:
 *   "nightly: eu:/pub: failed: 127.0.0.1:2121: connect ECONNREFUSED"
 *   "nightly: eu:/pub: locked: eu:/pub is locked by job 'other' (eu:/pub), pid 42, ..."
 *   "nightly: eu:/pub: partial: 3 transferred (1.0 KiB), 0 deleted, 1 failed in 0.5 s; a/b.iso: STOR ...: 552 ..."
 */
export function failureLine(o: TargetOutcome, job?: string): string | undefined {
  if (o.code === EXIT.OK) return undefined;
  const where = `${job !== undefined ? `${displayText(job)}: ` : ''}${displayText(o.target)}`;
  if (o.error !== undefined || !o.summary) {
    const what = o.interrupted ? `interrupted by ${o.interrupted}` : o.code === EXIT.LOCKED ? 'locked' : 'failed';
    const error = o.error ?? 'unknown error';
    // The signal's own error says it already: "interrupted by SIGTERM", not twice.
    return error === what ? `${where}: ${what}` : `${where}: ${what}: ${displayText(error)}`;
  }
  const s = o.summary;
  const first = firstProblem(s);
  return `${where}: ${renderSummaryLine(s, o.interrupted)}${first ? `; ${first}` : ''}`;
}
