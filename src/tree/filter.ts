import { createRequire } from 'node:module';
import type { Minimatch as MinimatchClass } from 'minimatch';
import type { ListEntry } from '../ftp/entry.js';
import { isPartName } from '../fxp/part-name.js';
import type { MirrorOptions } from './options.js';

/**
 * Which paths take part in a mirror run.
 *
 * Pattern semantics (minimatch, decided here so the CLI and job files agree):
 * - Patterns are matched against the path relative to the mirror root, with "/"
 *   separators and no leading slash ("docs/a.txt").
 * - `dot: true`: "*" matches dot files too. Mirrors carry ".htaccess",
 *   ".message" and friends, and a filter that silently skipped them would
 *   leave them out of the copy.
 * - A pattern without a "/" (after removing a trailing "/") matches the
 *   basename at any depth: "*.iso" excludes every ISO, "CVS" every CVS folder
 *   (the rsync/gitignore habit users bring).
 * - A pattern with a "/" is anchored at the root: "pub/*.iso" matches only
 *   directly under pub. A leading "/" or "./" is accepted and only forces
 *   anchoring: "/README" matches the root README, not "docs/README".
 * - A pattern ending with "/" applies to directories only: "tmp/" prunes
 *   directories named tmp but keeps a file named tmp.
 * - "dir/**" also matches "dir" itself (minimatch alone would not), so
 *   `--exclude 'logs/**'` prunes the logs directory instead of leaving an empty
 *   copy of it behind.
 * - Negation ("!x") and "#" comments are disabled in patterns: they are taken
 *   literally, because file names on mirrors do start with "!" and "#". Only
 *   the exclude-from file knows comments (lines starting with "#").
 * - Excluding a directory excludes everything under it. Including a directory
 *   (a pattern that matches one of a file's ancestor directories) includes the
 *   whole subtree: `--include docs` or `--include 'docs/'` takes all of docs.
 */

export interface FilterSpec {
  include: string[];
  exclude: string[];
  minSize?: number;
  maxSize?: number;
  newerThan?: Date;
  olderThan?: Date;
}

interface CompiledPattern {
  source: string;
  matcher: MinimatchClass;
  /** Match the basename only (pattern had no "/"). */
  base: boolean;
  /** Pattern ended with "/": directories only. */
  dirOnly: boolean;
}

const MM_OPTIONS = { dot: true, nonegate: true, nocomment: true } as const;

/**
 * minimatch is loaded on the first pattern, not at start-up: most runs have
 * none, and loading it costs about 8 ms of every run's start (measured with
 * performance.now() around the import). Its CommonJS build is the same code
 * and loads synchronously, so PathFilter stays synchronous.
 */
let minimatchModule: typeof import('minimatch') | undefined;
function matcher(pattern: string): MinimatchClass {
  minimatchModule ??= createRequire(import.meta.url)('minimatch') as typeof import('minimatch');
  return new minimatchModule.Minimatch(pattern, MM_OPTIONS);
}

function compile(raw: string): CompiledPattern[] {
  let p = raw;
  let dirOnly = false;
  while (p.length > 1 && p.endsWith('/')) {
    p = p.slice(0, -1);
    dirOnly = true;
  }
  let anchored = false;
  if (p.startsWith('./')) {
    p = p.slice(2);
    anchored = true;
  }
  while (p.startsWith('/')) {
    p = p.slice(1);
    anchored = true;
  }
  if (p === '') return [];
  const base = !anchored && !p.includes('/');
  const out: CompiledPattern[] = [{ source: raw, matcher: matcher(p), base, dirOnly }];
  // "x/**" should also name the directory x itself (see the header comment).
  if (p.endsWith('/**') && p.length > 3) {
    const prefix = p.slice(0, -3);
    out.push({
      source: raw,
      matcher: matcher(prefix),
      // The original pattern had a "/", so the prefix stays anchored too.
      base: false,
      dirOnly: true,
    });
  }
  return out;
}

function basename(relPath: string): string {
  const i = relPath.lastIndexOf('/');
  return i < 0 ? relPath : relPath.slice(i + 1);
}

function parentOf(relPath: string): string {
  const i = relPath.lastIndexOf('/');
  return i < 0 ? '' : relPath.slice(0, i);
}

function matchesAny(patterns: CompiledPattern[], relPath: string, isDir: boolean): boolean {
  const name = basename(relPath);
  for (const p of patterns) {
    if (p.dirOnly && !isDir) continue;
    if (p.matcher.match(p.base ? name : relPath)) return true;
  }
  return false;
}

/** Parse an exclude-from file: one glob per line; blank lines and lines starting with "#" are ignored; CRLF tolerated. */
export function parsePatternList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    out.push(t);
  }
  return out;
}

/**
 * Directory verdicts are cached: every file asks about its ancestors, and a
 * 200,000-entry tree would otherwise run each pattern once per ancestor per
 * file. The cache is cleared when it grows past this many directories so memory
 * stays bounded on huge trees (a miss only costs recomputation).
 */
const DIR_CACHE_LIMIT = 50_000;

export class PathFilter {
  private readonly include: CompiledPattern[];
  private readonly exclude: CompiledPattern[];
  private readonly spec: FilterSpec;
  private readonly dirWanted = new Map<string, boolean>();
  private readonly dirIncluded = new Map<string, boolean>();

  constructor(spec: FilterSpec) {
    this.spec = spec;
    this.include = spec.include.flatMap(compile);
    this.exclude = spec.exclude.flatMap(compile);
  }

  static fromOptions(opts: MirrorOptions, excludeFromText?: string): PathFilter {
    const exclude = [...opts.exclude];
    if (excludeFromText !== undefined) exclude.push(...parsePatternList(excludeFromText));
    return new PathFilter({
      include: [...opts.include],
      exclude,
      minSize: opts.minSize,
      maxSize: opts.maxSize,
      newerThan: opts.newerThan,
      olderThan: opts.olderThan,
    });
  }

  /** True when include patterns are in force (a file must match one). */
  get hasIncludes(): boolean {
    return this.include.length > 0;
  }

  /**
   * Directories: false when an exclude pattern matches it or one of its
   * ancestors (the subtree is pruned, never walked). Include patterns never
   * prune directories: a deeper file may match. The root ("") is always wanted.
   */
  wantDir(relPath: string): boolean {
    if (relPath === '') return true;
    const cached = this.dirWanted.get(relPath);
    if (cached !== undefined) return cached;
    const own = !isPartName(basename(relPath)) && !matchesAny(this.exclude, relPath, true);
    const result = own && this.wantDir(parentOf(relPath));
    if (this.dirWanted.size >= DIR_CACHE_LIMIT) this.dirWanted.clear();
    this.dirWanted.set(relPath, result);
    return result;
  }

  /**
   * Files/links (and special files): exclude wins (on the file or an ancestor
   * directory); then if include is non-empty, an include must match the file
   * or one of its ancestor directories; then size bounds (only when the size is
   * known) and time bounds (only when the mtime is known). Bounds are
   * inclusive for sizes; `newerThan`/`olderThan` are strict.
   */
  wantFile(relPath: string, entry: ListEntry): boolean {
    const name = basename(relPath);
    if (isPartName(name)) return false;
    const parent = parentOf(relPath);
    if (!this.wantDir(parent)) return false;
    if (matchesAny(this.exclude, relPath, false)) return false;
    if (this.include.length > 0 && !matchesAny(this.include, relPath, false) && !this.isDirIncluded(parent)) {
      return false;
    }
    const { minSize, maxSize, newerThan, olderThan } = this.spec;
    if (entry.size !== undefined) {
      if (minSize !== undefined && entry.size < minSize) return false;
      if (maxSize !== undefined && entry.size > maxSize) return false;
    }
    if (entry.mtime !== undefined) {
      const t = entry.mtime.getTime();
      if (newerThan !== undefined && !(t > newerThan.getTime())) return false;
      if (olderThan !== undefined && !(t < olderThan.getTime())) return false;
    }
    return true;
  }

  /** Does an include pattern match this directory or one of its ancestors? */
  private isDirIncluded(relPath: string): boolean {
    if (relPath === '') return false;
    const cached = this.dirIncluded.get(relPath);
    if (cached !== undefined) return cached;
    const result = matchesAny(this.include, relPath, true) || this.isDirIncluded(parentOf(relPath));
    if (this.dirIncluded.size >= DIR_CACHE_LIMIT) this.dirIncluded.clear();
    this.dirIncluded.set(relPath, result);
    return result;
  }
}
