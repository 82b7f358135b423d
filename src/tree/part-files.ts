import type { ListEntry } from '../ftp/entry.js';
import { PART_SUFFIX, isPartName } from '../fxp/part-name.js';
import { joinPath } from './diff.js';
import type { PathFilter } from './filter.js';
import type { PlanAction } from './plan.js';

/**
 * Pure: the temporary files an earlier run left in one destination directory
 * (it was killed, or lost its connection, between STOR and the rename), which
 * this run removes. Paths are relative to the mirror root.
 *
 * Left alone:
 * - the part file of a file this run transfers (or may, after a checksum):
 *   the transfer resumes it under --continue, or writes it again from the
 *   start and renames it; deleting it meanwhile would race that transfer;
 * - part names that are not files: the remote lock is a directory
 *   (".fxpmirror-lock.fxpmirror-part", job/remote-lock.ts), held by a live run;
 * - part files whose file a filter excludes: excluding a path means hands off
 *   (the size and time filters do not apply: a part file's size and time are
 *   not the file's).
 */
export function staleParts(dir: string, dst: ListEntry[], actions: PlanAction[], filter: PathFilter): string[] {
  const busy = new Set(actions.filter((a) => a.kind === 'transfer' || a.kind === 'verify').map((a) => a.path));
  const out: string[] = [];
  for (const e of dst) {
    if (e.type !== 'file' || !isPartName(e.name)) continue;
    const file = joinPath(dir, e.name.slice(1, -PART_SUFFIX.length));
    if (busy.has(file)) continue;
    if (!filter.wantFile(file, { ...e, name: file, size: undefined, mtime: undefined })) continue;
    out.push(joinPath(dir, e.name));
  }
  return out;
}
