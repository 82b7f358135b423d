/**
 * TLS for the control and data connections (RFC 4217): the options a
 * connection is opened with (verification, extra CA, SNI, minimum version),
 * the pinned-fingerprint check, and TLS failures in words a user can act on.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { FtpError, FtpTlsError } from './errors.js';
import type { ServerOptions } from './options.js';

export function buildTlsOptions(server: ServerOptions): tls.ConnectionOptions {
  const o = server.tlsOptions;
  const opts: tls.ConnectionOptions = {
    host: server.host,
    // SNI must be a host name, never an IP literal (RFC 6066 §3).
    servername: net.isIP(server.host) ? undefined : server.host,
    // A pinned fingerprint replaces chain verification; it is checked after the handshake.
    rejectUnauthorized: o.verify && !o.fingerprint,
    // RFC 8996: TLS 1.0 and 1.1 are deprecated.
    minVersion: 'TLSv1.2',
  };
  if (o.ca) {
    try {
      opts.ca = [...tls.rootCertificates, readFileSync(o.ca, 'utf8')];
    } catch (err) {
      throw new FtpTlsError(`${server.name}: cannot read CA file ${o.ca}: ${(err as Error).message}`);
    }
  }
  return opts;
}

function normalizeFingerprint(fp: string): string {
  return fp.replace(/^sha256:/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
}

export function checkPin(socket: tls.TLSSocket, server: ServerOptions): void {
  const pin = server.tlsOptions.fingerprint;
  if (!pin) return;
  const cert = socket.getPeerCertificate();
  const got = normalizeFingerprint(cert?.fingerprint256 ?? '');
  // Several pins may be given (comma-separated): any one of them matches.
  if (!pin.split(/[,\s]+/).filter(Boolean).some((p) => normalizeFingerprint(p) === got)) {
    socket.destroy();
    throw new FtpTlsError(`${server.name}: certificate fingerprint ${cert?.fingerprint256 ?? '(none)'} does not match the pinned one`);
  }
}

export function asTlsError(err: unknown, server: ServerOptions): FtpError {
  if (err instanceof FtpError) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = /self[- ]signed|unable to verify|certificate/i.test(e.message)
    ? ' (trust it with a CA file or a pinned fingerprint, or turn verification off explicitly)'
    : '';
  return new FtpTlsError(`${server.name}: TLS failed: ${e.message}${hint}`, { cause: err });
}
