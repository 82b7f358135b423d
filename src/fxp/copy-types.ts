/**
 * What the FXP engine (engine.ts) is asked and answers: a copy's request and
 * result, the events it reports, and its own errors. Kept apart so the
 * engine's file holds only how a copy is done.
 */
import type { FxpRefusedError } from '../ftp/errors.js';
import { FtpError } from '../ftp/errors.js';
import type { TransferMode } from './modes.js';

/** A checksum that differs after equal sizes. Not retried: the servers disagree about the bytes. */
export class FxpVerifyError extends FtpError {
  constructor(message: string) {
    super('EPROTOCOL', message);
    this.name = 'FxpVerifyError';
  }
}

/** Raised under --fxp force (or when every rung failed): names the server and its refusal. */
export class FxpForceError extends FtpError {
  constructor(readonly refusals: FxpRefusedError[], message: string) {
    super('EFXPREFUSED', message);
  }
}

export interface CopyRequest {
  srcPath: string;
  /** The destination's root: nothing is written outside it (remote-path.ts). */
  dstRoot: string;
  /** The file's path below dstRoot. The data goes to a temporary name beside it first. */
  dstRel: string;
  /** Source size when the listing gave it; otherwise SIZE asks. */
  size?: number;
  /** Source mtime to preserve. */
  mtime?: Date;
  /** More files will follow on these connections (mirror): open the next transfer's PASV ahead (see transfer.ts). */
  more?: boolean;
  /**
   * Send the rename and return without waiting for its replies (mirror):
   * the next file's commands follow it on the same connection in the same
   * round trip. CopyResult.published then settles when the replies have
   * come (publish.ts).
   */
  publishLater?: boolean;
  /**
   * Aborted (an interrupted run): the transfer stops at once, its connections
   * are closed (the pool replaces them), the temporary file is deleted (kept
   * with --continue), and copy() rejects with an EABORTED error.
   */
  signal?: AbortSignal;
}

export interface CopyResult {
  mode: TransferMode;
  bytes: number;
  resumedFrom: number;
  /** Bytes that went through the client (relay only). */
  relayedBytes: number;
  mtimeSet: boolean;
  verified: 'size' | 'checksum' | 'none';
  checksum?: { algorithm: string; value: string };
  /**
   * With publishLater: resolves once the file has its final name; rejects
   * with the reason it has not (the file failed; its temporary file is
   * deleted, kept with --continue). Until then the file is not done.
   */
  published?: Promise<void>;
}

export interface EngineEvents {
  /** Something the user should know, once: a server cannot set mtimes, a note on why data went through the client. */
  warn?(message: string): void;
  /** A rung was refused and the ladder moves on. */
  fallback?(from: TransferMode, err: FxpRefusedError): void;
  /**
   * A file went through the client because every FXP mode was refused (not
   * under --fxp never, which asks for it): it cost the client's bandwidth.
   * Without this handler it is reported through warn().
   */
  relayed?(e: { path: string; bytes: number; reason: string }): void;
  /**
   * A transfer's bytes so far (REST offset included): the destination's part
   * file polled about once a second during FXP (watch.ts), the client's own
   * count during relay, and `bytes` = `resumedFrom` without a rate when an
   * attempt starts (a retry or the next rung starts again from there). The
   * rate is over the time since the last reading. For the progress display
   * and --stats.
   */
  progress?(e: TransferProgress): void;
}

export interface TransferProgress {
  /** dstRel: the file's path below the destination root. */
  path: string;
  bytes: number;
  total: number;
  /** Undefined when an attempt starts. */
  bytesPerSecond?: number;
  /** Where this attempt started (the REST offset): the bytes below it were there before. */
  resumedFrom: number;
}

/** How a file went: the mode, the bytes through the client, and the refusals on the way. */
export interface Outcome {
  mode: TransferMode;
  relayedBytes: number;
  refusals: FxpRefusedError[];
  /** Why relay was needed when this file met no refusal itself; empty when the mode is not relay. */
  why: string;
  /** The source's verdict, when the transfer returned on the destination's final reply (fxp/finish.ts, SourceEnd). */
  sourceEnd?: Promise<void>;
}
