import { FtpError } from '../ftp/errors.js';

/**
 * Exit codes, in rclone's spirit: one documented table (README, --help), and
 * one pure function that maps an error to its code. Only src/cli sets
 * process.exitCode.
 */
export const EXIT = {
  OK: 0,
  /** Some files failed, a subtree was left unsynced, a listed name was unusable, or --max-delete stopped the deletions. */
  PARTIAL: 1,
  /** Bad command line, bad URL, invalid job file. */
  USAGE: 2,
  /** Could not connect or log in: refused, unknown host, timeout, TLS, wrong password. */
  CONNECT: 3,
  /** FXP refused and --fxp force forbids relaying. */
  FXP_REFUSED: 4,
  /** Another run holds the lock of the target (the same destination server and directory). */
  LOCKED: 5,
  /** The server refused the operation itself (no such file or directory, permission denied), or its listing went past a limit. */
  REMOTE: 6,
  /** A bug: please report it. */
  INTERNAL: 7,
  /** Interrupted: 128 + the signal's number (interrupt.ts). */
  SIGHUP: 129,
  SIGINT: 130,
  /** stdout or stderr closed by its reader (EPIPE): 128 + SIGPIPE's number, what SIGPIPE gives a C program. */
  SIGPIPE: 141,
  SIGTERM: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_TABLE: [ExitCode, string][] = [
  [EXIT.OK, 'success: everything is in sync'],
  [EXIT.PARTIAL, 'partial failure: some files failed, a subtree was unsynced, a listed name was unusable, or --max-delete stopped deletions'],
  [EXIT.USAGE, 'usage error, bad URL or invalid job file'],
  [EXIT.CONNECT, 'connection or login failed (refused, unknown host, timeout, TLS, wrong password)'],
  [EXIT.FXP_REFUSED, 'FXP refused by a server and --fxp force forbids relaying'],
  [EXIT.LOCKED, 'another run is writing the same target (local or remote lock)'],
  [EXIT.REMOTE, 'the server refused the operation (no such file or directory, permission denied), or its listing went past a limit'],
  [EXIT.INTERNAL, 'internal error (a bug)'],
  [EXIT.SIGHUP, 'interrupted by SIGHUP: stopped cleanly (locks released, part files deleted, summary marked "interrupted")'],
  [EXIT.SIGINT, 'interrupted by SIGINT (Ctrl-C), likewise'],
  [EXIT.SIGPIPE, 'stdout or stderr was closed by its reader (`| head`): stopped likewise, quietly'],
  [EXIT.SIGTERM, 'interrupted by SIGTERM (systemd stop, kill), likewise'],
];

/** A usage error raised by the CLI itself (bad option values). */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
}

/**
 * The exit code for an error code: typed errors carry stable codes (FtpError's,
 * the job layer's), and a summary that records a failure keeps only the code,
 * so both map through here. An error without a known code is a bug.
 */
export function exitCodeForCode(code: unknown): ExitCode {
  switch (code) {
    case 'EUSAGE':
    case 'EURL':
    case 'EUNSAFE':
    case 'EPATH':
    case 'ECREDENTIALS':
      return EXIT.USAGE;
    case 'ELOCKED':
    case 'EREMOTELOCKED':
      return EXIT.LOCKED;
    case 'ECONNECT':
    case 'ELOGIN':
    case 'ETLS':
    case 'ETIMEOUT':
    case 'ECLOSED':
    case 'EBADREPLY': // the control connection broke the protocol (garbage, a code outside 100-599): as if it had failed
      return EXIT.CONNECT;
    case 'EFXPREFUSED':
      return EXIT.FXP_REFUSED;
    case 'EFTPREPLY':
    case 'EPROTOCOL':
    case 'ELIMIT':
    case 'EFULL':
      return EXIT.REMOTE;
    case 'EABORTED':
      return EXIT.PARTIAL;
    default:
      return EXIT.INTERNAL;
  }
}

export function exitCodeFor(err: unknown): ExitCode {
  const code = (err as { code?: unknown })?.code;
  // An FtpError whose code this table does not know yet is still the server's doing, not a bug.
  if (err instanceof FtpError && exitCodeForCode(code) === EXIT.INTERNAL) return EXIT.PARTIAL;
  return exitCodeForCode(code);
}
