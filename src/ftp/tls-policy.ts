/**
 * How a server's certificate is judged, for ftps:// and ftpes:// alike, on
 * the control connection and on every data connection that presents one.
 *
 * | settings                     | CA chain | host name | dates | pin |
 * |------------------------------|----------|-----------|-------|-----|
 * | default (verify)             | yes      | yes       | yes   | -   |
 * | --fingerprint (verify + pin) | no       | yes       | yes   | yes |
 * | --insecure --fingerprint     | no       | no        | no    | yes |
 * | --insecure                   | no       | no        | no    | -   |
 *
 * A pin replaces the CA chain: it names the one certificate to trust, which is
 * how a self-signed server certificate is trusted. It does not make an expired
 * certificate or one issued for another name acceptable; only --insecure (the
 * explicit opt-out) does that.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type tls from 'node:tls';
import { FtpError, FtpTlsError } from './errors.js';
import { fileProblem, readTextFileBounded } from './local-file.js';
import type { ServerOptions } from './options.js';

/** A CA bundle far bigger than any real one (Mozilla's is about 220 KB) is the wrong file. */
const CA_FILE_MAX_BYTES = 16 * 1024 * 1024;

/** A SHA-256 fingerprint as users write it: 64 hex digits, with or without colons between the pairs. */
export const FINGERPRINT_RE = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$/;

export function isSha256Fingerprint(value: string): boolean {
  return FINGERPRINT_RE.test(value.trim());
}

function normalizeFingerprint(fp: string): string {
  return fp.replace(/^sha256:/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
}

function readCaFile(path: string): string {
  const text = readTextFileBounded(path, CA_FILE_MAX_BYTES);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw Object.assign(new Error('no PEM certificate ("-----BEGIN CERTIFICATE-----") in it'), { code: 'ENOPEM' });
  }
  return text;
}

/** What is wrong with a CA file, or undefined: checked before any connection (a usage error, exit 2). */
export function caFileProblem(path: string): string | undefined {
  try {
    readCaFile(path);
    return undefined;
  } catch (err) {
    return fileProblem(err);
  }
}

let tlsLoaded: typeof tls | undefined;

/**
 * Node's tls module, loaded on first use: only ftps:// and ftpes:// servers
 * need it, and loading it (with crypto) as an ES module import costs a plain
 * ftp:// run about 2.6 ms of start-up CPU, most of it parsing Node's root
 * certificates (an ES import of a built-in module reads every export,
 * tls.rootCertificates included; require() does not).
 */
export function tlsModule(): typeof tls {
  return (tlsLoaded ??= createRequire(import.meta.url)('node:tls') as typeof tls);
}

/** A TLS socket, not a plain one (without loading tls: a TLSSocket is `encrypted`). */
export function isTlsSocket(socket: net.Socket): socket is tls.TLSSocket {
  return (socket as Partial<tls.TLSSocket>).encrypted === true;
}

export function buildTlsOptions(server: ServerOptions): tls.ConnectionOptions {
  const o = server.tlsOptions;
  const opts: tls.ConnectionOptions = {
    host: server.host,
    // SNI must be a host name, never an IP literal (RFC 6066 §3).
    servername: net.isIP(server.host) ? undefined : server.host,
    // With a pin, Node's verdict (chain, then name) is replaced by verifyPeer's.
    rejectUnauthorized: o.verify && !o.fingerprint,
    // RFC 8996: TLS 1.0 and 1.1 are deprecated.
    minVersion: 'TLSv1.2',
  };
  if (o.ca) {
    try {
      opts.ca = [...tlsModule().rootCertificates, readCaFile(o.ca)];
    } catch (err) {
      throw new FtpTlsError(`${server.name}: cannot use CA file ${o.ca}: ${fileProblem(err)}`);
    }
  }
  return opts;
}

/**
 * The checks Node does not do once a pin has turned its chain check off:
 * the pin itself, and (unless verification is off) the dates and the name.
 * Call after every handshake that presented a certificate. Throws FtpTlsError
 * and destroys the socket.
 */
export function verifyPeer(socket: tls.TLSSocket, server: ServerOptions): void {
  const { fingerprint: pin, verify } = server.tlsOptions;
  if (!pin) return;
  const cert = socket.getPeerCertificate();
  const fail = (message: string): never => {
    socket.destroy();
    throw new FtpTlsError(`${server.name}: ${message}`);
  };
  const got = normalizeFingerprint(cert?.fingerprint256 ?? '');
  // Several pins may be given (comma-separated): any one of them matches.
  if (!got || !pin.split(/[,\s]+/).filter(Boolean).some((p) => normalizeFingerprint(p) === got)) {
    fail(`certificate fingerprint ${cert?.fingerprint256 ?? '(none)'} does not match the pinned one`);
  }
  if (!verify) return;
  const now = Date.now();
  const notBefore = Date.parse(cert.valid_from);
  const notAfter = Date.parse(cert.valid_to);
  const pinNote = '(a pinned fingerprint replaces the CA check only; --insecure turns the other checks off)';
  if (!(notAfter >= now)) fail(`certificate has expired (valid until ${cert.valid_to}) ${pinNote}`);
  if (!(notBefore <= now)) fail(`certificate is not yet valid (valid from ${cert.valid_from}) ${pinNote}`);
  const nameError = tlsModule().checkServerIdentity(server.host, cert);
  if (nameError) fail(`${nameError.message} ${pinNote}`);
}

export function asTlsError(err: unknown, server: ServerOptions): FtpError {
  if (err instanceof FtpError) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = /self[- ]signed|unable to verify|certificate/i.test(e.message)
    ? ' (trust it with a CA file or a pinned fingerprint, or turn verification off explicitly)'
    : '';
  return new FtpTlsError(`${server.name}: TLS failed: ${e.message}${hint}`, { cause: err });
}
