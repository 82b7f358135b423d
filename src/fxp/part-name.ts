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
