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

/**
 * Where a plain control socket's bytes go. Node.js hands them to
 * net.connect's `onread` callback, in one buffer reused for every read,
 * instead of through the socket's stream (a Buffer, a push and a 'data'
 * event per read, about six reads per file in a mirror). The receiver must
 * consume a chunk before it returns (the channel decodes it to text at
 * once). Bytes that come before a receiver is set are copied and kept.
 */
export class SocketInbox {
  private receiver: ((chunk: Buffer) => void) | undefined;
  private early: Buffer[] = [];
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);

  /** net.connect's `onread` option. */
  readonly onread = {
    buffer: this.buffer,
    // true: keep reading (false would stop the socket reading).
    callback: (n: number, buf: Buffer): boolean => {
      if (this.receiver) this.receiver(buf.subarray(0, n));
      else this.early.push(Buffer.from(buf.subarray(0, n)));
      return true;
    },
  };

  /** From now on every chunk goes to `receiver`, the ones kept first. */
  receive(receiver: (chunk: Buffer) => void): void {
    this.receiver = receiver;
    for (const chunk of this.early.splice(0)) receiver(chunk);
  }
}

/** The socket of the control connection and, when it is plain TCP, its inbox (its bytes come there, never as 'data' events). */
export interface ControlSocket {
  socket: net.Socket;
  inbox?: SocketInbox;
}

export async function openSocket(server: ServerOptions, tlsOptions: tls.ConnectionOptions | undefined, signal?: AbortSignal): Promise<ControlSocket> {
  const timeout = server.timeouts.connect;
  const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  // Only without TLS: a TLS socket reads through its own stream, and explicit TLS takes the plain socket over after AUTH TLS.
  const inbox = server.tls === 'none' ? new SocketInbox() : undefined;
  const plain = guardErrors(net.connect({ host: server.host, port: server.port, ...(inbox ? { onread: inbox.onread } : {}) }));
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
  if (server.tls !== 'implicit') return { socket: plain, inbox };
  try {
    // Judged before a byte of the greeting is read (explicit TLS: right after AUTH TLS).
    const secure = await tlsHandshake({ ...tlsOptions!, socket: plain }, timeout, server.name);
    verifyPeer(secure, server);
    return { socket: secure };
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
