import type { ListEntry } from '../ftp/entry.js';
import type { TransferMode } from '../fxp/modes.js';

/**
 * The plan is plain data passed from the walker (which produces it directory by
 * directory) to the executor (which carries it out through one gate) and to the
 * renderers (dry-run text, JSON). Paths are relative to the mirror root, with
 * "/" separators and no leading slash ("" is the root itself).
 */

export type TransferReason = 'missing' | 'size' | 'time' | 'newer' | 'checksum' | 'type';

/** What a deletion removes: DELE for a file or link (a special file goes the same way), RMD for a directory. */
export type DeleteType = 'file' | 'dir' | 'link';

export type PlanAction =
  | {
      kind: 'mkdir';
      path: string;
      reason: 'missing';
      /**
       * Set on a type conflict under --delete: a non-directory destination entry
       * of this name that the executor removes before creating the directory
       * (a transfer marks the same case with reason 'type' and `dst`).
       */
      dst?: ListEntry;
    }
  | {
      kind: 'transfer';
      path: string;
      reason: TransferReason;
      src: ListEntry;
      dst?: ListEntry;
    }
  /** Same size, compare requested by checksum: the executor hashes both sides, then transfers or touches. */
  | { kind: 'verify'; path: string; src: ListEntry; dst: ListEntry }
  /** Content already equal (checksum compare): only the mtime is set. */
  | { kind: 'touch'; path: string; mtime: Date }
  /**
   * `reason` 'stale-part': a temporary file an earlier run left behind
   * (".<name>.fxpmirror-part"), removed whether or not --delete is given.
   */
  | { kind: 'delete'; path: string; type: DeleteType; reason?: 'stale-part' }
  /** Reported, not acted on: symlinks under `skip`, special files, type conflicts without --delete; under `follow`, links to an ancestor (loop) or out of the source root (outside). */
  | { kind: 'skip'; path: string; reason: 'symlink' | 'special' | 'conflict' | 'loop' | 'outside' }
  /**
   * A listed name fxpmirror may not use (names.ts: "..", "a/b", CR, a
   * duplicate, ...): never transferred nor deleted, on either side. `path` is
   * the directory whose listing had it.
   */
  | { kind: 'unusable'; path: string; name: string; side: 'source' | 'destination'; reason: string }
  /** A subtree we could not compare: its source (or destination) listing failed, was refused or cut short. Nothing under it is deleted. */
  | { kind: 'unsynced'; path: string; side: 'source' | 'destination'; reason: string };

export interface FailedItem {
  path: string;
  /** Error code (FtpErrorCode or fxpmirror code) and one-line message. */
  code: string;
  message: string;
}

/** The run summary: the JSON output is exactly this object; the text renderer draws from it. */
export interface MirrorSummary {
  source: string; // redacted URL or server:path
  destination: string;
  dryRun: boolean;
  /** `skipped` counts every entry left out, `excluded` those of them that a filter (include, exclude, size, time) left out. */
  files: { transferred: number; skipped: number; excluded: number; deleted: number; failed: number; unchanged: number };
  bytes: { transferred: number };
  dirs: { created: number; deleted: number };
  touched: number;
  modes: Partial<Record<TransferMode, number>>;
  unsynced: { path: string; side: 'source' | 'destination'; reason: string }[];
  skippedEntries: { path: string; reason: string }[];
  /** Listed names that could not be used (a partial run: the tree is not an exact copy). `dir` is the directory that listed them. */
  unusable: { dir: string; name: string; side: 'source' | 'destination'; reason: string }[];
  /** Temporary files of earlier runs removed from the directories walked (to be removed, in a dry run). */
  staleParts: string[];
  failures: FailedItem[];
  /**
   * Things about this target the user should know, each once a run: a
   * destination that cannot set mtimes, a full destination, a server that
   * was unreachable.
   */
  warnings: string[];
  /** Set when --max-delete stopped the deletions (nothing was deleted). */
  deleteLimit?: { planned: number; limit: string };
  /** Set when this target could not be synced at all (its root could not be read or created): the first error. */
  error?: { code: string; message: string };
  durationMs: number;
}
