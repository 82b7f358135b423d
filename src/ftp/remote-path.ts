/**
 * Every path fxpmirror sends to a server to write, rename, create or delete
 * (STOR, RNFR/RNTO, MKD, RMD, DELE, MFMT/SITE UTIME, part names, the remote
 * lock) is built by containedPath(), which proves that it stays inside
 * the job's root. The result has its own type, ContainedPath, and the
 * functions that send such commands take only that type, so a path built any
 * other way does not compile. Names are screened when listings are read
 * (names.ts); this is the second, independent line: a later bug elsewhere
 * still cannot write outside the target.
 */
import path from 'node:path/posix';
import { FtpError, unsafeValueReason } from './errors.js';

declare const contained: unique symbol;
/** A server path proven to lie inside a job's root (or to be the root). Built only by containedPath(). */
export type ContainedPath = string & { readonly [contained]: true };

/**
 * Commands whose argument is a path they write, rename, create or delete.
 * FtpConnection's raw senders take only a ContainedPath for these, so that
 * `request('DELE', somePath)` with an unchecked string does not compile.
 * (MFMT and SITE UTIME carry a time beside the path: mtimeCommand() and
 * setMtime() take the ContainedPath instead.)
 */
export type PathWriteVerb = 'STOR' | 'APPE' | 'RNFR' | 'RNTO' | 'MKD' | 'XMKD' | 'RMD' | 'XRMD' | 'DELE';

/** The argument type of command `C`: ContainedPath for a write verb, any string otherwise. */
export type ArgOf<C extends string> = C extends PathWriteVerb ? ContainedPath : string;

/** A write path would have left the job's root. */
export class PathEscapeError extends FtpError {
  constructor(
    readonly root: string,
    readonly relative: string,
    readonly reason: string,
  ) {
    super('EPATH', `refusing a path outside the target ${JSON.stringify(root)}: ${JSON.stringify(relative)} ${reason}`);
  }
}

/** "\\", CR, LF or NUL. Module-level: a regex literal is a new object per call. No g flag: test() keeps no state. */
const ODD_CHAR = /[\\\r\n\0]/;

/**
 * The last root normalRoot() accepted and its normal form: a mirror asks
 * for the same root three times per file (final name, part name, its
 * check). A root that fails is never remembered, so it fails every time.
 */
let lastRoot: { root: string; base: string } | undefined;

/** The root as a prefix: normalised (RFC 959 paths here are posix), without a trailing "/" except for "/" itself. */
function normalRoot(root: string): string {
  if (lastRoot?.root === root) return lastRoot.base;
  const base = normalRootOnce(root);
  lastRoot = { root, base };
  return base;
}

function normalRootOnce(root: string): string {
  if (unsafeValueReason(root) !== undefined) throw new PathEscapeError(root, '', 'the root contains CR, LF or NUL');
  if (root === '') throw new PathEscapeError(root, '', 'the root is empty');
  const n = path.normalize(root);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * `root` joined with `relative` paths ("a/b", "name"; "" is the root itself),
 * or PathEscapeError. Each relative path must be "/"-separated segments that
 * are each one usable name: no absolute path, no empty segment ("a//b",
 * "a/"), no "." or "..", no "\" (a Windows separator), no CR, LF or NUL.
 * Then, after posix normalisation, the result must be the root or below it:
 * the proof does not rely on the segment rules above.
 */
export function containedPath(root: string, ...relative: string[]): ContainedPath {
  const base = normalRoot(root);
  const parts: string[] = [];
  // Indexed loops: this runs about three times per file (see ControlChannel.onData).
  for (let r = 0; r < relative.length; r++) {
    const rel = relative[r];
    if (rel === '') continue;
    if (rel.startsWith('/')) throw new PathEscapeError(root, rel, 'is absolute');
    const segs = rel.split('/');
    // One test of the whole argument: nearly always none of "\\", CR, LF, NUL, and then no segment needs its own.
    const oddChars = ODD_CHAR.test(rel);
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      const why =
        seg === '' ? 'has an empty segment'
        : seg === '.' || seg === '..' ? `has a "${seg}" segment`
        : !oddChars ? null
        : seg.includes('\\') ? 'contains "\\"'
        : unsafeValueReason(seg) !== undefined ? 'contains CR, LF or NUL'
        : null;
      if (why) throw new PathEscapeError(root, rel, why);
      parts.push(seg);
    }
  }
  const joined = parts.length === 0 ? base : base === '/' ? `/${parts.join('/')}` : `${base}/${parts.join('/')}`;
  const prefix = base === '/' ? '/' : `${base}/`;
  const norm = path.normalize(joined);
  if (norm !== joined || (norm !== base && !norm.startsWith(prefix))) {
    throw new PathEscapeError(root, relative.join('/'), 'leaves the root after normalisation');
  }
  return joined as ContainedPath;
}
