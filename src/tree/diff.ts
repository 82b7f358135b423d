import type { ListEntry } from '../ftp/entry.js';
import type { MirrorOptions } from './options.js';
import type { DeleteType, PlanAction, TransferReason } from './plan.js';
import { isPartName } from '../fxp/part-name.js';
import type { PathFilter } from './filter.js';
import { unusableName } from '../ftp/names.js';

/**
 * The pure half of the mirror walk: compare one source directory listing with
 * the matching destination listing and say what to do. The walker (I/O) calls
 * this once per directory pair and streams the actions to the executor.
 */

export interface DeleteItem {
  path: string;
  type: DeleteType;
  /**
   * True for a type conflict under --delete (source file vs destination
   * directory, or the reverse). The same path also has a mkdir (with `dst`) or
   * a transfer (reason 'type') in `actions`: the executor removes the entry
   * before creating its replacement. It is listed here so it counts toward
   * --max-delete; the end-of-run deletion pass must not delete it again.
   */
  conflict?: boolean;
}

export interface DirDiff {
  /** mkdir/transfer/verify/skip for this directory's entries (NOT deletes). */
  actions: PlanAction[];
  /** Extraneous destination entries of this directory (only when opts.delete). A dir means its whole subtree. */
  deletes: DeleteItem[];
  /** Subdirectories to walk next. dstExists false: everything under it is new, the destination need not be listed. */
  descend: { path: string; dstExists: boolean }[];
  /** Files present on both sides and equal. */
  unchanged: number;
  /** Source entries a filter left out (an excluded directory counts once): reported as skipped. */
  excluded: number;
}

/**
 * Code point order. JS's default string order compares UTF-16 code units,
 * which puts astral characters (surrogate pairs, e.g. emoji) before
 * U+E000..U+FFFF; code point order is what byte-wise UTF-8 sorting gives, so
 * plans sort the same as `LC_ALL=C sort` and the servers' own listings.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs && !ys && y >= 0xe000) return 1;
    if (ys && !xs && x >= 0xe000) return -1;
    return x - y;
  }
  return a.length - b.length;
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function validTime(d: Date | undefined): number | undefined {
  if (d === undefined) return undefined;
  const t = d.getTime();
  return Number.isFinite(t) ? t : undefined;
}

function validPrecision(p: number): number {
  return Number.isFinite(p) && p > 0 ? p : 0;
}

/**
 * Pure: is this file changed? Returns the reason, or null when equal.
 *
 * Times are equal when they differ by less than the precision of the coarser
 * side (at least 1 ms): an MLSD time with fractions vs a whole-second MDTM/MLSD
 * time is equal within the second; a LIST "hh:mm" time within the minute; a
 * LIST "yyyy" date within the day. Unknown times (either side) are not
 * compared. Same size with a different time IS a change ('time'): content can
 * change without changing size (lftp's default misses that).
 *
 * Option precedence: onlyMissing (never changed once present) > onlyNewer
 * (only a source newer beyond precision: 'newer'; unknown times: not newer) >
 * compare 'checksum' (different known sizes: 'size', else 'verify' so the
 * executor hashes both; ignoreSize/ignoreTime do not apply: content decides) >
 * the default size+time rule with ignoreSize/ignoreTime.
 *
 * `dstMtimes` 'none': the destination cannot set modification times (GNU
 * inetutils ftpd: no MFMT, SITE UTIME or MDTM with a time), so every copy
 * there carries the time it arrived. The default rule would then transfer
 * every file again on every run; instead a file of the same size that is not
 * older there than on the source is unchanged (lftp's rule for such servers).
 */
export type DestinationMtimes = 'settable' | 'none';

export function compareFile(src: ListEntry, dst: ListEntry, opts: MirrorOptions, dstMtimes: DestinationMtimes = 'settable'): TransferReason | 'verify' | null {
  if (opts.onlyMissing) return null;
  const ts = validTime(src.mtime);
  const td = validTime(dst.mtime);
  const precision = Math.max(validPrecision(src.mtimePrecision), validPrecision(dst.mtimePrecision), 1);
  const delta = ts !== undefined && td !== undefined ? ts - td : undefined;
  if (opts.onlyNewer) return delta !== undefined && delta >= precision ? 'newer' : null;
  const sizesKnown = src.size !== undefined && dst.size !== undefined;
  if (opts.compare === 'checksum') return sizesKnown && src.size !== dst.size ? 'size' : 'verify';
  if (!opts.ignoreSize && sizesKnown && src.size !== dst.size) return 'size';
  if (dstMtimes === 'none' && delta !== undefined && delta < precision) return null;
  if (!opts.ignoreTime && delta !== undefined && Math.abs(delta) >= precision) return 'time';
  return null;
}

function deleteType(e: ListEntry): DeleteType {
  // A special destination file (fifo, socket) goes away with DELE like a file.
  return e.type === 'dir' ? 'dir' : e.type === 'link' ? 'link' : 'file';
}

/**
 * Entries by name. The walker hands over screened listings (names.ts), so
 * this is the second line: a name that is unusable, or listed twice, goes into
 * `held` and is left alone on both sides rather than guessed at.
 */
function byName(entries: ListEntry[], held: Set<string>): Map<string, ListEntry> {
  const m = new Map<string, ListEntry>();
  for (const e of entries) {
    if (m.has(e.name) || unusableName(e.name) !== null) held.add(e.name);
    else m.set(e.name, e);
  }
  return m;
}

/**
 * Pure. `src` = the source directory's entries; `dst` = the destination's, or
 * null when the destination directory does not exist. `dir` = relative path of
 * this directory ("" = root).
 *
 * Filtering: an entry is judged by the filter on the source entry when the
 * name exists on the source, else on the destination entry. Anything filtered
 * out is ignored on both sides: not transferred, and an excluded destination
 * entry is never deleted (excluding a path means "hands off", like rsync
 * without --delete-excluded; a source file excluded only by size or time also
 * protects its destination namesake). The tool's part files are ignored on
 * both sides. Conflicting destination entries that are themselves excluded are
 * never removed: the conflict is reported as a skip instead.
 *
 * `blocked`: names to leave alone on both sides, neither transferred nor
 * deleted (the walker reports them): names unusable or duplicated in either
 * listing, and source links that are not followed.
 *
 * `dstMtimes`: whether the destination can set modification times (compareFile).
 */
export function diffDirectory(
  dir: string,
  src: ListEntry[],
  dst: ListEntry[] | null,
  opts: MirrorOptions,
  filter: PathFilter,
  blocked: ReadonlySet<string> = new Set(),
  dstMtimes: DestinationMtimes = 'settable',
): DirDiff {
  const actions: PlanAction[] = [];
  const deletes: DeleteItem[] = [];
  const descend: { path: string; dstExists: boolean }[] = [];
  let unchanged = 0;
  let excluded = 0;

  const held = new Set(blocked);
  const srcByName = byName(src, held);
  const dstByName = dst === null ? null : byName(dst, held);

  for (const name of [...srcByName.keys()].sort(compareNames)) {
    if (isPartName(name) || held.has(name)) continue;
    const s = srcByName.get(name)!;
    const path = joinPath(dir, name);
    const d = dstByName?.get(name);

    if (s.type === 'dir') {
      if (!filter.wantDir(path)) {
        excluded++;
        continue;
      }
      if (d === undefined) {
        actions.push({ kind: 'mkdir', path, reason: 'missing' });
        descend.push({ path, dstExists: false });
      } else if (d.type === 'dir') {
        descend.push({ path, dstExists: true });
      } else if (opts.delete && filter.wantFile(path, d)) {
        deletes.push({ path, type: deleteType(d), conflict: true });
        actions.push({ kind: 'mkdir', path, reason: 'missing', dst: d });
        descend.push({ path, dstExists: false });
      } else {
        actions.push({ kind: 'skip', path, reason: 'conflict' });
      }
      continue;
    }

    if (!filter.wantFile(path, s)) {
      excluded++;
      continue;
    }

    if (s.type === 'link') {
      // Under 'skip' links are reported, not copied; under 'follow' the walker
      // resolves links first, so one still here is dangling or a loop.
      actions.push({ kind: 'skip', path, reason: 'symlink' });
      continue;
    }
    if (s.type === 'special') {
      actions.push({ kind: 'skip', path, reason: 'special' });
      continue;
    }

    // s.type === 'file'
    if (d === undefined) {
      actions.push({ kind: 'transfer', path, reason: 'missing', src: s });
    } else if (d.type === 'file') {
      const r = compareFile(s, d, opts, dstMtimes);
      if (r === null) unchanged++;
      else if (r === 'verify') actions.push({ kind: 'verify', path, src: s, dst: d });
      else actions.push({ kind: 'transfer', path, reason: r, src: s, dst: d });
    } else {
      // Destination is a dir, link or special file. A link counts as a conflict
      // too: STOR through a symlink would write to wherever it points.
      const removable = d.type === 'dir' ? filter.wantDir(path) : filter.wantFile(path, d);
      if (opts.delete && removable) {
        deletes.push({ path, type: deleteType(d), conflict: true });
        actions.push({ kind: 'transfer', path, reason: 'type', src: s, dst: d });
      } else {
        actions.push({ kind: 'skip', path, reason: 'conflict' });
      }
    }
  }

  if (opts.delete && dstByName !== null) {
    for (const [name, d] of dstByName) {
      if (srcByName.has(name) || isPartName(name) || held.has(name)) continue;
      const path = joinPath(dir, name);
      const wanted = d.type === 'dir' ? filter.wantDir(path) : filter.wantFile(path, d);
      if (wanted) deletes.push({ path, type: deleteType(d) });
    }
  }
  deletes.sort((a, b) => compareNames(a.path, b.path));

  return { actions, deletes, descend, unchanged, excluded };
}
