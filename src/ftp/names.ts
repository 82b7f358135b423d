/**
 * Which names from a server's listing fxpmirror may use. Pure. Every listing
 * (MLSD, Unix or DOS LIST; source or destination) passes through
 * screenListing() before anything is compared, transferred or deleted: a name
 * is one path segment or it is nothing.
 */
import type { ListEntry } from './entry.js';

/**
 * Why `name` cannot be used as a file name, or null when it can. A name is
 * joined to a directory path and sent on the control connection, so it must
 * be exactly one path segment and must not end a command line:
 * - empty, "." or "..": no segment, or this directory, or its parent;
 * - "/": a separator on every server (RFC 959 §3.2 paths are server-defined,
 *   but all servers fxpmirror talks to split on it);
 * - "\": a separator on Windows servers (IIS, FileZilla Server), so a
 *   destination there would take "..\x" as a path out of the directory;
 * - NUL, CR, LF: RFC 959 §4.1.3 ends a command at CRLF; the channel refuses
 *   them anyway, this says so earlier and per name.
 */
export function unusableName(name: string): string | null {
  if (name === '') return 'empty name';
  if (name === '.' || name === '..') return `"${name}" names a directory, not an entry in it`;
  if (name.includes('/')) return 'contains "/"';
  if (name.includes('\\')) return 'contains "\\" (a separator on Windows servers)';
  if (name.includes('\0')) return 'contains NUL';
  if (name.includes('\r')) return 'contains CR';
  if (name.includes('\n')) return 'contains LF';
  return null;
}

/** An entry of a listing that fxpmirror will neither transfer nor delete. */
export interface RejectedEntry {
  name: string;
  reason: string;
}

/** A directory listing: the entries fxpmirror may use, and the ones it may not (to be reported). */
export interface Listing {
  entries: ListEntry[];
  rejected: RejectedEntry[];
}

export const DUPLICATE_ENTRY = 'duplicate entry';

/**
 * Split a parsed listing into usable and rejected entries. "." and ".." are
 * the directory's own entries (LIST -a shows them, MLSD as cdir/pdir): they
 * are left out without a report. Every other unusable name is rejected with
 * its reason. A name listed twice (twice a file, or a file and a directory)
 * is ambiguous: no copy of it is usable, and it is rejected once as a
 * duplicate entry. Order of the usable entries is kept.
 */
export function screenListing(entries: ListEntry[]): Listing {
  const rejected: RejectedEntry[] = [];
  const seen = new Map<string, number>();
  for (const e of entries) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
  const usable: ListEntry[] = [];
  const reported = new Set<string>();
  for (const e of entries) {
    if (e.name === '.' || e.name === '..') continue;
    const why = unusableName(e.name) ?? (seen.get(e.name)! > 1 ? DUPLICATE_ENTRY : null);
    if (why === null) usable.push(e);
    else if (!reported.has(e.name)) {
      reported.add(e.name);
      rejected.push({ name: e.name, reason: why });
    }
  }
  return { entries: usable, rejected };
}
