/** One parsed directory entry, from MLSD (exact) or LIST (approximate). Plain data. */
export type EntryType = 'file' | 'dir' | 'link' | 'special';

export interface ListEntry {
  name: string;
  type: EntryType;
  /** Bytes; undefined when the listing did not say. */
  size?: number;
  /** Modification time as UTC; undefined when unknown. */
  mtime?: Date;
  /**
   * How far `mtime` can be off, in milliseconds: 0 for MLSD with fractions,
   * 1000 for MLSD/MDTM whole seconds, 60_000 for LIST "Mon dd hh:mm",
   * 86_400_000 for LIST "Mon dd yyyy" (and time zones make LIST worse:
   * a LIST time is the server's local time, never passed off as exact).
   */
  mtimePrecision: number;
  /** True when the time came from LIST text and is approximate. */
  mtimeApproximate: boolean;
  /** Symlink target, when the listing gave one (LIST "a -> b", MLSD OS.unix=slink:b). */
  target?: string;
  /** Permission bits, parsed defensively (pyftpdlib writes "0o644"). */
  mode?: number;
  /** RFC 3659 §7.5.5 perm fact, verbatim. */
  perm?: string;
  /** RFC 3659 §7.5.2 unique fact: lets `follow` detect symlink loops. */
  unique?: string;
  /** MLSD type=cdir/pdir are dropped by the parser; "." and ".." too. */
}
