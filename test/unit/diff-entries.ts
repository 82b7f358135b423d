/** Listing entries and options shared by diff-compare.test.ts and diff-directory.test.ts. */
import type { ListEntry } from '../../src/ftp/entry.js';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../../src/tree/options.js';
import { PathFilter } from '../../src/tree/filter.js';

export const T0 = Date.parse('2024-03-10T12:00:00.000Z');

export function file(name: string, size: number | undefined, mtimeMs: number | undefined, precision = 0): ListEntry {
  return {
    name,
    type: 'file',
    size,
    mtime: mtimeMs === undefined ? undefined : new Date(mtimeMs),
    mtimePrecision: precision,
    mtimeApproximate: precision >= 60_000,
  };
}
export const dir = (name: string): ListEntry => ({ name, type: 'dir', mtimePrecision: 0, mtimeApproximate: false });
export const link = (name: string): ListEntry => ({ name, type: 'link', target: 'elsewhere', mtimePrecision: 0, mtimeApproximate: false });
export const special = (name: string): ListEntry => ({ name, type: 'special', mtimePrecision: 0, mtimeApproximate: false });

export const opts = (o: Partial<MirrorOptions> = {}): MirrorOptions => ({ ...DEFAULT_MIRROR_OPTIONS, ...o });
export const noFilter = () => new PathFilter({ include: [], exclude: [] });
