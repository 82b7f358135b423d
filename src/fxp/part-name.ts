import { PathEscapeError, containedPath, type ContainedPath } from '../ftp/remote-path.js';

/**
 * The temporary name a transfer writes under, beside its target, until the
 * rename to the final name: a half-written file never carries its final name.
 * The tree layer leaves these names out on both sides (never transferred nor
 * deleted), and the remote lock file uses the same form so it is left out too.
 */
export const PART_SUFFIX = '.fxpmirror-part';

/** ".<name>.fxpmirror-part", in the same directory as `name`. */
export function partName(name: string): string {
  return `.${name}${PART_SUFFIX}`;
}

export function isPartName(name: string): boolean {
  return name.length > PART_SUFFIX.length + 1 && name.startsWith('.') && name.endsWith(PART_SUFFIX);
}

/** The temporary path a transfer to `relative` (a file below `root`) is written under: same directory, part name. */
export function containedPartPath(root: string, relative: string): ContainedPath {
  return containedPaths(root, relative).part;
}

/** A file's final path below `root` and the part path it is written under first (containedPartPath), each proven once. */
export function containedPaths(root: string, relative: string): { final: ContainedPath; part: ContainedPath } {
  if (relative === '') throw new PathEscapeError(root, relative, 'names no file');
  const final = containedPath(root, relative); // the file itself must be a contained path
  return { final, part: partPathBeside(root, relative) };
}

function partPathBeside(root: string, relative: string): ContainedPath {
  const slash = relative.lastIndexOf('/');
  const dir = slash === -1 ? '' : relative.slice(0, slash);
  return containedPath(root, dir, partName(relative.slice(slash + 1)));
}
