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
  /** Could not connect or log in: refused, unknown host, timeout, TLS, wrong password, a server that breaks the protocol. */
  CONNECT: 3,
  /** FXP refused and --fxp force forbids relaying. */
  FXP_REFUSED: 4,
  /** Another run of this job holds its lock. */
  LOCKED: 5,
  /** The server refused the operation itself: no such file or directory, permission denied. */
  REMOTE: 6,
  /** A bug: please report it. */
  INTERNAL: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_TABLE: [ExitCode, string][] = [
  [EXIT.OK, 'success: everything is in sync'],
  [EXIT.PARTIAL, 'partial failure: some files failed, a subtree was unsynced, a listed name was unusable, or --max-delete stopped deletions'],
  [EXIT.USAGE, 'usage error: bad option, URL, credential or job file, or an unusable local path (found before connecting)'],
  [EXIT.CONNECT, 'connection or login failed (refused, unknown host, timeout, TLS, wrong password, garbage from the server)'],
  [EXIT.FXP_REFUSED, 'FXP refused by a server and --fxp force forbids relaying'],
  [EXIT.LOCKED, 'another run of the same job holds its lock'],
  [EXIT.REMOTE, 'the server refused the operation (no such file or directory, permission denied), or its listing went past a limit'],
  [EXIT.INTERNAL, 'internal error (a bug)'],
];

/** A usage error raised by the CLI itself (bad option values). */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
}

export function exitCodeFor(err: unknown): ExitCode {
  const code = (err as { code?: unknown })?.code;
  if (code === 'EUSAGE' || code === 'EURL' || code === 'ECREDENTIALS') return EXIT.USAGE;
  if (code === 'ELOCKED' || code === 'EREMOTELOCKED') return EXIT.LOCKED;
  if (err instanceof FtpError) {
    // EBADREPLY: the control connection broke the protocol (garbage, a reply
    // code outside 100-599, an endless reply): unusable, as if it had failed.
    switch (err.code) {
      case 'ECONNECT':
      case 'ELOGIN':
      case 'ETLS':
      case 'ETIMEOUT':
      case 'ECLOSED':
      case 'EBADREPLY':
        return EXIT.CONNECT;
      case 'EFXPREFUSED':
        return EXIT.FXP_REFUSED;
      case 'EUNSAFE':
      case 'EPATH':
        return EXIT.USAGE;
      case 'EFTPREPLY':
      case 'EPROTOCOL':
      case 'ELIMIT':
      case 'EFULL':
        return EXIT.REMOTE;
      default:
        return EXIT.PARTIAL;
    }
  }
  return EXIT.INTERNAL;
}
