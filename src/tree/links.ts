import path from 'node:path/posix';
import type { ListEntry } from '../ftp/entry.js';
import type { Listing } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';

/**
 * --symlinks follow: a link becomes what it points to, and never anything
 * outside the source root. The source is a server someone else controls, and
 * a link to /etc, to a sibling tree or to a private area would otherwise be
 * copied to the mirror like the files it was asked for.
 *
 * A link's target is resolved the way the server's file system would, one
 * path component at a time, using only listings of directories inside the
 * root (no CWD/PWD, whose answers differ between servers):
 * - the target text comes from the listing (MLSD "OS.unix=slink:t", LIST
 *   "name -> t"), else from a LIST of the same directory (proftpd's and
 *   pure-ftpd's MLSD name no target); a link whose target is unknown is not
 *   followed;
 * - it is resolved against the directory the link really is in, and must lie
 *   inside the root; then each of its components is looked up in its
 *   directory's listing, and a component that is itself a link is resolved
 *   the same way (at most MAX_HOPS links per target), so a link through
 *   another link cannot leave the root either;
 * - a target that is missing (dangling) or a special file is not followed.
 * A directory that is, by its resolved path, the one being walked or any
 * directory above it on the walked path (reached through other links or not)
 * would make the walk endless: it is a loop.
 */
export type LinkSkipReason = 'loop' | 'outside' | 'symlink';

export interface LinkResult {
  entries: ListEntry[];
  /** Links not followed, with why: 'symlink' when the target is unknown, missing or special. */
  skipped: { entry: ListEntry; reason: LinkSkipReason }[];
}

const MAX_HOPS = 8;

type Resolved = { path: string; entry: ListEntry | undefined } | LinkSkipReason;

/** One per mirror run: remembers, for each directory link it followed, the resolved path. */
export class LinkResolver {
  /** Walked directory (as the walker names it) -> its resolved path. Only followed links are stored. */
  private readonly resolved = new Map<string, string>();
  private readonly root: string;

  constructor(
    private readonly pool: ConnectionPool,
    root: string,
    /** The walker's source listing (limits, retries, screening). */
    private readonly listing: (dir: string) => Promise<Listing>,
  ) {
    this.root = path.resolve('/', root);
  }

  async resolve(walked: string, entries: ListEntry[]): Promise<LinkResult> {
    if (!entries.some((e) => e.type === 'link')) return { entries, skipped: [] };
    const absDir = path.resolve('/', walked);
    const here = this.realOf(absDir);
    // Per call: listings and LIST targets of the directories a target passes through.
    const listings = new Map<string, Promise<ListEntry[]>>([[here, Promise.resolve(entries)]]);
    const targets = new Map<string, Promise<Map<string, string>>>();
    const ctx: Lookup = {
      entries: (dir) => {
        let l = listings.get(dir);
        if (!l) listings.set(dir, (l = this.listing(dir).then((x) => x.entries)));
        return l;
      },
      target: async (dir, e) => {
        if (e.target) return e.target;
        let t = targets.get(dir);
        if (!t) targets.set(dir, (t = this.listTargets(dir)));
        return (await t).get(e.name);
      },
    };
    const out: ListEntry[] = [];
    const skipped: LinkResult['skipped'] = [];
    for (const e of entries) {
      if (e.type !== 'link') {
        out.push(e);
        continue;
      }
      const r = await this.follow(absDir, here, e, ctx).catch((): LinkSkipReason => 'symlink');
      if (typeof r === 'string') skipped.push({ entry: e, reason: r });
      else out.push(r);
    }
    return { entries: out, skipped };
  }

  private async follow(absDir: string, here: string, link: ListEntry, ctx: Lookup): Promise<ListEntry | LinkSkipReason> {
    const r = await this.resolveLink(here, link, ctx, { hops: 0 });
    if (typeof r === 'string') return r;
    const e = r.entry;
    if (e?.type === 'file') {
      return { ...link, type: 'file', size: e.size, mtime: e.mtime, mtimePrecision: e.mtimePrecision, mtimeApproximate: e.mtimeApproximate };
    }
    if (e !== undefined && e.type !== 'dir') return 'symlink';
    if (this.isLoop(absDir, r.path)) return 'loop';
    this.resolved.set(path.join(absDir, link.name), r.path);
    return { ...link, type: 'dir' };
  }

  /** The link `link` in the resolved directory `dir`: its target's resolved path and entry (undefined entry: the root). */
  private async resolveLink(dir: string, link: ListEntry, ctx: Lookup, budget: { hops: number }): Promise<Resolved> {
    if (++budget.hops > MAX_HOPS) return 'loop';
    const text = await ctx.target(dir, link);
    if (!text) return 'symlink';
    const target = path.resolve(dir, text);
    if (!this.inside(target)) return 'outside';
    // Every prefix of a resolved path is resolved: start below the deepest one the target shares with `dir`.
    let cur = commonPrefix(dir, target);
    if (!this.inside(cur)) cur = this.root;
    const rest = target === cur ? [] : target.slice(cur === '/' ? 1 : cur.length + 1).split('/');
    let entry: ListEntry | undefined;
    for (let i = 0; i < rest.length; i++) {
      const found = (await ctx.entries(cur)).find((x) => x.name === rest[i]);
      if (!found) return 'symlink';
      if (found.type === 'link') {
        const r = await this.resolveLink(cur, found, ctx, budget);
        if (typeof r === 'string') return r;
        cur = r.path;
        entry = r.entry;
      } else {
        cur = path.join(cur, rest[i]);
        entry = found;
      }
      if (i < rest.length - 1 && entry !== undefined && entry.type !== 'dir') return 'symlink';
    }
    return { path: cur, entry };
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root === '/' ? '/' : `${this.root}/`);
  }

  /**
   * A loop: the target's resolved path is the resolved path of the walked
   * directory or of any directory above it on the walked path, or above
   * one of those.
   */
  private isLoop(absDir: string, target: string): boolean {
    const above = (a: string, b: string) => a === b || a === '/' || b.startsWith(`${a}/`);
    for (let d = absDir; ; d = path.dirname(d)) {
      if (above(target, this.realOf(d))) return true;
      if (d === this.root || d === '/' || !this.inside(d)) return false;
    }
  }

  /** A walked directory's resolved path: from the nearest followed link above it (or itself as named). */
  private realOf(dir: string): string {
    for (let d = dir, rest = ''; ; ) {
      const r = this.resolved.get(d);
      if (r !== undefined) return rest ? path.join(r, rest) : r;
      if (d === '/' || d === this.root) return dir;
      rest = rest ? path.join(path.basename(d), rest) : path.basename(d);
      d = path.dirname(d);
    }
  }

  private async listTargets(dir: string): Promise<Map<string, string>> {
    const { entries } = await this.pool.use((c) => c.list(dir, { command: 'LIST' }));
    return new Map(entries.filter((e) => e.type === 'link' && e.target).map((e) => [e.name, e.target!]));
  }
}

interface Lookup {
  entries(dir: string): Promise<ListEntry[]>;
  target(dir: string, link: ListEntry): Promise<string | undefined>;
}

/** The longest common ancestor of two absolute, normalised paths. */
function commonPrefix(a: string, b: string): string {
  const x = a.split('/');
  const y = b.split('/');
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return x.slice(0, n).join('/') || '/';
}
