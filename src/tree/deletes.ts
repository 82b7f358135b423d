import type { MirrorOptions } from './options.js';
import type { DeleteType } from './plan.js';

/**
 * Deletion policy, pure. The walker collects deletions (paths only) while it
 * walks and carries them out at the very end, after checking --max-delete
 * against the totals: a run that would delete too much deletes nothing, which
 * is what protects a mirror from an upstream that came back empty.
 */

/** How a limit reads in messages: "100" or "10%". */
export function formatMaxDelete(limit: { count: number } | { percent: number }): string {
  return 'count' in limit ? String(limit.count) : `${limit.percent}%`;
}

/**
 * Returns null when allowed, else a one-line reason. percent is relative to
 * the total number of destination entries seen. The limit is inclusive:
 * "--max-delete 10" allows exactly 10; "10%" of 15 entries allows 1 (1.5
 * rounded down by the comparison planned*100 <= percent*total, no float
 * division). With no destination entries, a percentage allows nothing but 0.
 */
export function checkDeleteLimit(planned: number, destinationTotal: number, limit: MirrorOptions['maxDelete']): string | null {
  if (limit === undefined || planned <= 0) return null;
  const noun = planned === 1 ? 'entry' : 'entries';
  if ('count' in limit) {
    if (planned <= limit.count) return null;
    return `refusing to delete ${planned} ${noun}: more than --max-delete ${limit.count}; nothing was deleted`;
  }
  if (planned * 100 <= limit.percent * destinationTotal) return null;
  const share = destinationTotal > 0 ? `${Math.round((planned * 1000) / destinationTotal) / 10}%` : 'all';
  return `refusing to delete ${planned} of ${destinationTotal} destination entries (${share}): more than --max-delete ${limit.percent}%; nothing was deleted`;
}

function depth(path: string): number {
  let n = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) n++;
  return n;
}

/**
 * Order deletions: files/links first (input order), then directories deepest
 * first (input order among equal depth). A directory can only be removed
 * (RMD, RFC 959 §4.1.3) once it is empty, so its files and subdirectories must
 * go before it. Pure, stable; the input is not modified.
 */
export function orderDeletes<T extends { path: string; type: DeleteType }>(items: T[]): T[] {
  const files = items.filter((i) => i.type !== 'dir');
  const dirs = items
    .map((item, index) => ({ item, index, depth: depth(item.path) }))
    .filter((x) => x.item.type === 'dir')
    .sort((a, b) => b.depth - a.depth || a.index - b.index)
    .map((x) => x.item);
  return [...files, ...dirs];
}
