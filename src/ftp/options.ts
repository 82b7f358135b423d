/** How to reach and treat one FTP server. Built from a URL (cli) or a job file's `servers:` entry (job). */
export type TlsMode = 'none' | 'explicit' | 'implicit';
export type FxpPolicy = 'auto' | 'force' | 'never';
export type PassiveSide = 'source' | 'destination';

export interface TlsOptions {
  /** Verify the server certificate (default true). Off only when the user opts out. */
  verify: boolean;
  /** PEM file with extra trusted CA certificates. */
  ca?: string;
  /** Pinned SHA-256 fingerprint of the server certificate, hex with or without colons. */
  fingerprint?: string;
}

export interface Timeouts {
  /** TCP connect plus greeting, ms. */
  connect: number;
  /** One command's reply, ms. */
  command: number;
  /** A data connection to open, or a silent transfer to show progress, ms. */
  data: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connect: 10_000, command: 30_000, data: 30_000 };

/** Bounds on one directory listing: past either, the directory counts as not listed. */
export interface ListingLimits {
  /** Lines (entries, and lines that are no entry) in one directory's listing. */
  maxEntries: number;
  /** Bytes in one line of a listing. */
  maxLineBytes: number;
}

/**
 * Large enough for the largest real directories and names: ext4 and XFS
 * directories past a million entries are rare even on archive mirrors, and a
 * LIST line is at most a few hundred bytes of columns, a name (NAME_MAX 255
 * bytes) and a symlink target (PATH_MAX 4096 bytes), under 8 KiB. Memory
 * stays near what the entries themselves take (about 0.5 KB each).
 */
export const DEFAULT_LISTING_LIMITS: ListingLimits = { maxEntries: 1_000_000, maxLineBytes: 8192 };

/** Limits from the optional settings (CLI flags, job server keys); undefined when neither is set. */
export function listingLimitsOf(maxEntries?: number, maxLineBytes?: number): ListingLimits | undefined {
  if (maxEntries === undefined && maxLineBytes === undefined) return undefined;
  return { maxEntries: maxEntries ?? DEFAULT_LISTING_LIMITS.maxEntries, maxLineBytes: maxLineBytes ?? DEFAULT_LISTING_LIMITS.maxLineBytes };
}
/**
 * The longest timeout or duration accepted: setTimeout takes a signed 32-bit
 * count of milliseconds (about 24.8 days); a larger value fires at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ServerOptions {
  /** Display name: the job file's server name, or host:port. Never contains the password. */
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** RFC 959 ACCT, sent only when the server asks with 332. */
  account?: string;
  tls: TlsMode;
  tlsOptions: TlsOptions;
  timeouts: Timeouts;
  /**
   * Use the address a PASV reply names even when it is not the control
   * connection's peer (a server with a separate data interface). Off by
   * default: only the reply's port is used (see choosePasvAddress in address.ts).
   */
  trustPasvAddress: boolean;
  /** Most control connections we open to this server at once. */
  maxConnections: number;
  /**
   * How the client's own data connections (listings, relay) are opened:
   * passive (we connect to the server, the default) or active (PORT/EPRT: the
   * server connects to us, for servers whose passive ports are firewalled).
   * FXP transfers are not affected: there, one server is always passive.
   */
  dataMode?: 'passive' | 'active';
  /** Listing bounds; DEFAULT_LISTING_LIMITS when absent. */
  listingLimits?: ListingLimits;
}
