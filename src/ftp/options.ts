/** How to reach and treat one FTP server. Built from a URL (cli) or a job file's `servers:` entry (job). */
export type TlsMode = 'none' | 'explicit' | 'implicit';
export type FxpPolicy = 'auto' | 'force' | 'never';
export type PassiveSide = 'source' | 'destination';
/** Replace a private PASV address with the control peer's: see shouldFixPasvAddress in address.ts. */
export type FixPasvAddress = 'auto' | 'always' | 'never';

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
  fixPasvAddress: FixPasvAddress;
  /** Most control connections we open to this server at once. */
  maxConnections: number;
  /**
   * How the client's own data connections (listings, relay) are opened:
   * passive (we connect to the server, the default) or active (PORT/EPRT: the
   * server connects to us, for servers whose passive ports are firewalled).
   * FXP transfers are not affected: there, one server is always passive.
   */
  dataMode?: 'passive' | 'active';
}
