/**
 * Command builders: every command line fxpmirror sends that carries more than
 * a path is built here, beside the reply parsers (reply.ts, address.ts,
 * feat.ts, timeval.ts), as pg-protocol's serializer sits beside its parser.
 * Pure: a builder returns [verb, argument]; the connection checks the argument
 * for CR, LF and NUL when it sends it (errors.ts, assertSafeArgument).
 */
import { isIPv6 } from 'node:net';
import { encodeEprtArgument, encodePortArgument, type HostPort } from './address.js';
import { FtpProtocolError } from './errors.js';
import { formatTimeVal } from './timeval.js';

/** One command: verb and optional argument, as FtpConnection.send/sendBatch/pipeline take it. */
export type Command = [verb: string, arg?: string];

/** The written form of a command (for PRET and error messages). */
export function commandLine([verb, arg]: Command): string {
  return arg === undefined ? verb : `${verb} ${arg}`;
}

// ---------------------------------------------------------------- data ports

/**
 * The active side's command: "PORT h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2), or
 * "EPRT |1|h|p|" / "EPRT |2|h|p|" (RFC 2428 §2) when asked for (the passive
 * side answered EPSV) or when the host is IPv6, which PORT cannot carry.
 */
export function portCommand(hp: HostPort, extended = false): Command {
  // Every IPv6 address has a colon: the costly isIPv6 pattern runs only for those.
  return extended || (hp.host.includes(':') && isIPv6(hp.host)) ? ['EPRT', encodeEprtArgument(hp)] : ['PORT', encodePortArgument(hp)];
}

export type PassiveVerb = 'PASV' | 'EPSV' | 'CPSV' | 'CEPR';

/**
 * The passive side's command. CPSV/CEPR are PASV/EPSV that also make the
 * passive server the TLS client of the data connection (a de-facto extension
 * for TLS-FXP; RFC 4217 has no word on server-to-server TLS). EPSV/CEPR answer
 * 229 with a port only (RFC 2428 §3), PASV/CPSV 227 with an address.
 */
export function passiveVerb(opts: { extended: boolean; tlsClient?: boolean }): PassiveVerb {
  if (opts.tlsClient) return opts.extended ? 'CEPR' : 'CPSV';
  return opts.extended ? 'EPSV' : 'PASV';
}

/** Whether a passive verb's reply is a 229 (port only) rather than a 227 (address and port). */
export function isExtendedPassive(verb: PassiveVerb): boolean {
  return verb === 'EPSV' || verb === 'CEPR';
}

/**
 * Commands that leave a pending data connection alone (a listener opened by
 * PASV stays open across them on every lab server): file facts, mtimes,
 * renames, deletes. Every other command sets one up (PASV, PORT), uses it
 * (RETR, STOR, LIST), may reset it (REIN, USER, ABOR), or is not known here.
 */
const KEEPS_DATA_CONNECTION = new Set(['SIZE', 'MDTM', 'MFMT', 'SITE', 'RNFR', 'RNTO', 'DELE', 'NOOP']);

/** Whether `verb` leaves a pending data connection alone (see KEEPS_DATA_CONNECTION). */
export function keepsDataConnection(verb: string): boolean {
  return KEEPS_DATA_CONNECTION.has(verb.toUpperCase());
}

/** drftpd's "PRET <command line>": announces the transfer so it can pick the slave that serves the data. */
export function pretCommand(transfer: Command): Command {
  return ['PRET', commandLine(transfer)];
}

/** RFC 3659 §5: REST STREAM restart marker, a byte offset. */
export function restCommand(offset: number): Command {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FtpProtocolError(`REST offset must be a whole number >= 0, got ${offset}`);
  return ['REST', String(offset)];
}

/** SSCN ON makes this server the TLS client of its next data connections (TLS-FXP); OFF the server again. */
export function sscnCommand(on: boolean): Command {
  return ['SSCN', on ? 'ON' : 'OFF'];
}

// ---------------------------------------------------------------- modification times

/**
 * The ways servers set a file's mtime, in the order fxpmirror tries them:
 * - MFMT time path (draft-somers-ftp-mfxx; proftpd mod_facts, pure-ftpd, pyftpdlib),
 * - SITE UTIME time path (proftpd mod_site_misc),
 * - SITE UTIME path atime mtime ctime UTC (the five-argument form),
 * - MDTM time path (vsftpd with mdtm_write=YES; an MDTM with two arguments).
 */
export const MTIME_METHODS = ['MFMT', 'SITE UTIME2', 'SITE UTIME5', 'MDTM'] as const;
export type MtimeMethod = (typeof MTIME_METHODS)[number];

/** The command that sets `path`'s mtime with `method`; the time is whole seconds, UTC (RFC 3659 §2.3). */
export function mtimeCommand(method: MtimeMethod, path: string, mtime: Date): Command {
  const t = formatTimeVal(mtime);
  switch (method) {
    case 'MFMT':
      return ['MFMT', `${t} ${path}`];
    case 'SITE UTIME2':
      return ['SITE', `UTIME ${t} ${path}`];
    case 'SITE UTIME5':
      return ['SITE', `UTIME ${path} ${t} ${t} ${t} UTC`];
    case 'MDTM':
      return ['MDTM', `${t} ${path}`];
  }
}

// ---------------------------------------------------------------- checksums

/** Checksum algorithms in fxpmirror's naming (draft-bryan-ftpext-hash names), strongest first. */
export const HASH_ALGORITHMS = ['SHA-512', 'SHA-256', 'SHA-1', 'MD5', 'CRC32'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** The older one-command-per-algorithm extensions, and the feat.ts flag that advertises each. */
export const X_CHECKSUM: Record<HashAlgorithm, { verb: string; feature: 'xsha512' | 'xsha256' | 'xsha1' | 'xmd5' | 'xcrc' }> = {
  'SHA-512': { verb: 'XSHA512', feature: 'xsha512' },
  'SHA-256': { verb: 'XSHA256', feature: 'xsha256' },
  'SHA-1': { verb: 'XSHA1', feature: 'xsha1' },
  MD5: { verb: 'XMD5', feature: 'xmd5' },
  CRC32: { verb: 'XCRC', feature: 'xcrc' },
};

export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

/** draft-bryan-ftpext-hash §4: OPTS HASH selects the algorithm the next HASH commands use. */
export function selectHashCommand(algorithm: HashAlgorithm): Command {
  return ['OPTS', `HASH ${algorithm}`];
}

/** The command that asks for `path`'s checksum: HASH (draft-bryan-ftpext-hash) or the algorithm's X command. */
export function checksumCommand(algorithm: HashAlgorithm, path: string, viaHash: boolean): Command {
  return [viaHash ? 'HASH' : X_CHECKSUM[algorithm].verb, path];
}
