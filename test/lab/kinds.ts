/**
 * What a lab server is: the kinds, their default addresses, the options a
 * test may start one with, and the handle it gets back. Types and constants
 * only; starting is start.ts's job, each kind's configuration is in config/.
 */

/** The four servers every FXP suite runs: each can be set to accept or refuse foreign addresses. */
export type ServerKind = 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib';
export const SERVER_KINDS: ServerKind[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'];

/**
 * Servers that always refuse FXP, each in words of its own (see
 * config/inetutils.ts and config/ftp-srv.ts): GNU inetutils ftpd (no way to
 * set mtimes either) and ftp-srv from npm. Not in SERVER_KINDS, so the
 * suites that run every FXP pair leave them out.
 */
export type ExtraKind = 'inetutils-ftpd' | 'ftp-srv';
export const EXTRA_KINDS: ExtraKind[] = ['inetutils-ftpd', 'ftp-srv'];

/** Every kind the lab can start. */
export type LabKind = ServerKind | ExtraKind;
export const LAB_KINDS: LabKind[] = [...SERVER_KINDS, ...EXTRA_KINDS];

export interface StartOptions {
  /**
   * fxp: accepts foreign addresses (FXP); strict: the servers' secure defaults, which refuse them.
   * Default 'fxp'; inetutils-ftpd and ftp-srv can only refuse, so for them the default is 'strict'.
   */
  profile?: 'fxp' | 'strict';
  /** Explicit TLS (AUTH TLS, RFC 4217) available, not required. Default false. Not for inetutils-ftpd or ftp-srv. */
  tls?: boolean;
  /** vsftpd only: implicit TLS (implicit_ssl=YES): TLS from the first byte, URL scheme ftps://. Implies tls. */
  implicitTls?: boolean;
  /** vsftpd only: set port_promiscuous / pasv_promiscuous independently (half-promiscuous tests). */
  vsftpdPromiscuous?: { port: boolean; pasv: boolean };
  /** Connection cap per client address. Default: unlimited (pure-ftpd: its own default). Not for inetutils-ftpd or ftp-srv. */
  maxPerIp?: number;
  /**
   * Throttle every data transfer of this server to about this many bytes
   * per second (each direction, each session), so that a fault lands
   * mid-transfer. vsftpd local_max_rate, proftpd TransferRate, pure-ftpd -T
   * (whole KiB/s, at least 1), pyftpdlib ThrottledDTPHandler (bursty: two
   * seconds' worth at once, then about two seconds' sleep after every two
   * seconds' worth; a transfer under twice the rate is not slowed; listings
   * are throttled too), ftp-srv
   * a throttled file system (test/lab/ftp-srv-main.ts). inetutils-ftpd has no
   * throttle: starting it with one throws; throttle its peer instead (an FXP
   * transfer runs at the slower side's rate).
   */
  rateLimit?: number;
  /**
   * The served root lives on a tmpfs of this many bytes, mounted before the
   * server starts and unmounted when it stops: a destination that fills up
   * (452/552). The root is then `<instance>/disk/root`, so that fillDisk()
   * can take space on the same tmpfs outside what the server lists.
   */
  tmpfsRoot?: number;
  /** Override the loopback address (for a second instance of a kind). */
  address?: string;
  /**
   * Override the control port. The passive range is derived from the last
   * address octet and port % 4: two instances on one address need ports that
   * differ modulo 4 to get disjoint passive ranges.
   */
  port?: number;
  /** TLS with this certificate instead of the lab's (expired, wrong name...: the pinning tests). Implies tls. */
  cert?: LabCert;
  /**
   * Run the server inside this network namespace (a name from `ip netns add`,
   * created and removed by the caller); `address` must be one of its addresses.
   * Readiness is then a listening socket, seen from outside (see netns.ts).
   */
  netns?: string;
}

export interface LabServer {
  kind: LabKind;
  host: string;
  port: number;
  user: string;
  password: string;
  /** ftp://ftptest:<pw>@127.0.0.21:2121/ (ftpes:// when tls). */
  url: string;
  /** Absolute path of the served directory (owned by the lab user); FTP "/" maps to it. */
  root: string;
  /** When tls: the PEM to trust (self-signed, IP SANs for all lab addresses). */
  caFile?: string;
  /** Command/protocol log (pure-ftpd, inetutils-ftpd: only their stdout/stderr, they log to syslog). */
  logFile: string;
  /** Transfer log, if the server writes one. */
  xferLog?: string;
  /** The listener's pid. A restart (faults/restart.ts) changes it. */
  readonly pid: number;
  /**
   * Live processes of this server, listener first: with the C servers and
   * inetutils-ftpd one or two per session besides; pyftpdlib and ftp-srv
   * are one process for everything.
   */
  processes(): number[];
  /** Kills the whole process tree (the C servers fork per session), waits for exit. Idempotent. */
  stop(): Promise<void>;
}

export const LAB_USER = 'ftptest';
/** Keep in sync with test/lab/install.sh. It is a lab password on loopback only. */
export const LAB_PASSWORD = 'fxp-lab-Secret1';

export const DEFAULT_ADDRESS: Record<LabKind, { address: string; port: number }> = {
  vsftpd: { address: '127.0.0.21', port: 2121 },
  proftpd: { address: '127.0.0.22', port: 2122 },
  'pure-ftpd': { address: '127.0.0.23', port: 2123 },
  pyftpdlib: { address: '127.0.0.24', port: 2124 },
  'inetutils-ftpd': { address: '127.0.0.25', port: 2125 },
  'ftp-srv': { address: '127.0.0.26', port: 2126 },
};

/** Addresses the lab uses for servers; the TLS certificate and the byte counter cover all of them. */
export const LAB_ADDRESS_FIRST = 21;
export const LAB_ADDRESS_LAST = 40;

/**
 * Loopback blocks the test files use (127.0.B.21-40 for B in 0..6), so
 * that each suite has addresses of its own and can run beside the others.
 * Block 5 belongs to the lab's own tests of the extra servers and the fault
 * helpers; block 6 is free for fault-injection suites.
 */
export const LAB_BLOCKS = [0, 1, 2, 3, 4, 5, 6];

/** A TLS certificate on disk (cert.ts makes the lab's own). */
export interface LabCert {
  cert: string;
  key: string;
  /** cert + key in one file (what pure-ftpd's default expects). */
  combined: string;
}
