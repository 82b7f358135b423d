/**
 * Opening a control connection's socket: TCP with a connect timeout and an
 * abort signal, then the TLS handshake for implicit TLS (ftps://), and socket
 * errors in words a user can act on.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { formatMs, tlsHandshake } from './channel.js';
import { FtpConnectError, FtpTimeoutError } from './errors.js';
import type { ServerOptions } from './options.js';
import { asTlsError, verifyPeer } from './tls-policy.js';
import { eventWithin, guardErrors } from './wait.js';

export async function openSocket(server: ServerOptions, tlsOptions: tls.ConnectionOptions | undefined, signal?: AbortSignal): Promise<net.Socket> {
  const timeout = server.timeouts.connect;
  const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  const plain = guardErrors(net.connect({ host: server.host, port: server.port }));
  try {
    await eventWithin(plain, 'connect', {
      ms: timeout,
      timeout: () => new FtpTimeoutError(`${server.name}: connecting to ${where} timed out after ${formatMs(timeout)}`),
      error: (err) => new FtpConnectError(`${server.name}: cannot connect to ${where}: ${connectFailureReason(err)}`, { cause: err }),
      signal,
      aborted: () => new FtpConnectError(`${server.name}: connect aborted`),
    });
  } catch (err) {
    plain.destroy();
    throw err;
  }
  if (server.tls !== 'implicit') return plain;
  try {
    // Judged before a byte of the greeting is read (explicit TLS: right after AUTH TLS).
    const secure = await tlsHandshake({ ...tlsOptions!, socket: plain }, timeout, server.name);
    verifyPeer(secure, server);
    return secure;
  } catch (err) {
    plain.destroy();
    throw asTlsError(err, server);
  }
}

/** Pure: a socket error in words a user can act on. */
export function connectFailureReason(err: { code?: string; message: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running, is the port right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'unknown host';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset by the server';
    default:
      return err.message;
  }
}
