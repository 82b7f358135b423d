import { FtpError } from '../ftp/errors.js';
import type { MirrorSummary } from './plan.js';

/** A target's summary before anything happened. */
export function emptySummary(src: string, dst: string, dryRun: boolean): MirrorSummary {
  return {
    source: src,
    destination: dst,
    dryRun,
    files: { transferred: 0, skipped: 0, excluded: 0, deleted: 0, failed: 0, unchanged: 0 },
    bytes: { transferred: 0 },
    dirs: { created: 0, deleted: 0 },
    touched: 0,
    modes: {},
    unsynced: [],
    skippedEntries: [],
    unusable: [],
    staleParts: [],
    failures: [],
    warnings: [],
    durationMs: 0,
  };
}

/** An error as the summary keeps it: its code (an FtpErrorCode, or EINTERNAL for a bug) and its one-line message. */
export function errorRecord(err: unknown): { code: string; message: string } {
  if (err instanceof FtpError) return { code: err.code, message: err.message };
  return { code: 'EINTERNAL', message: (err as Error)?.message ?? String(err) };
}
