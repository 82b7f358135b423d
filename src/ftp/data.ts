/**
 * Sockets for the data connections fxpmirror opens itself (listings, relay,
 * small uploads): connecting to a passive server, listening for an active
 * one, and reading a whole listing. FTP commands are the connection's job
 * (connection.ts); this module only moves bytes and enforces who may connect.
 */
import net from 'node:net';
import { formatMs, stripMapped } from './channel.js';
import { portCommand, type Command } from './commands.js';
import type { HostPort } from './address.js';
import { FtpConnectError, FtpTimeoutError } from './errors.js';

/** Read a data connection to its end; fails when it stays idle for `idleMs`. */
/** Feed a data connection's chunks to `onChunk` until it ends; a throw from `onChunk` closes it at once and rejects. */
export function readAll(socket: net.Socket, onChunk: (chunk: Buffer) => void, idleMs: number, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // An empty listing can be over before we listen: while we waited for the
    // 1xx mark, net.Socket read the server's EOF, emitted 'end' to nobody and
    // closed (pyftpdlib, empty directory). 'end' never fires again and a
    // destroyed socket's idle timer never runs, so waiting would hang forever.
    // No bytes are lost that way: a stream nobody reads keeps its data, and
    // 'end' only comes once the buffer is empty.
    if (socket.readableEnded) {
      resolve();
      return;
    }
    socket.setTimeout(idleMs, () => {
      socket.destroy();
      reject(new FtpTimeoutError(`${label}: data connection idle for ${formatMs(idleMs)}`));
    });
    socket.on('data', (c: Buffer) => {
      try {
        onChunk(c);
      } catch (err) {
        socket.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.once('error', reject);
    socket.once('end', () => {
      socket.setTimeout(0);
      socket.destroy();
      resolve();
    });
  });
}

/** Passive mode: connect to the address the connection chose (see choosePasvAddress in address.ts). */
export function connectData(hp: HostPort, timeoutMs: number, label: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hp.host, port: hp.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FtpTimeoutError(`${label}: data connection to ${hp.host}:${hp.port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new FtpConnectError(`${label}: data connection to ${hp.host}:${hp.port} failed: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
  });
}

export interface ActiveListener {
  /** PORT or EPRT naming the listener. */
  command: Command;
  accept(): Promise<net.Socket>;
  close(): void;
}

/**
 * Active mode for client-side data: listen on our control address, send
 * PORT/EPRT, accept one connection. Connections are captured from the moment
 * we listen: a server may connect before it sends its 150 mark.
 * `control` gives both ends of the control connection: we listen on its local
 * address and accept only its peer.
 */
export async function listenActive(control: { localAddress: string; remoteAddress: string }, label: string, timeoutMs: number): Promise<ActiveListener> {
  const local = control.localAddress;
  const peer = control.remoteAddress;
  const server = net.createServer();
  let arrived: net.Socket | undefined;
  let waiting: ((s: net.Socket) => void) | undefined;
  server.on('connection', (s: net.Socket) => {
    // Only the server we talk to may connect: anyone else reaching our port
    // first would otherwise receive (or supply) the file.
    if (arrived || stripMapped(s.remoteAddress ?? '') !== peer) {
      s.destroy();
      return;
    }
    // No 'data' listener yet, so the socket buffers what arrives until the caller reads.
    s.setNoDelay(true);
    arrived = s;
    server.close();
    waiting?.(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, local, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    command: portCommand({ host: local, port }),
    accept: () =>
      new Promise((resolve, reject) => {
        if (arrived) return resolve(arrived);
        const timer = setTimeout(() => {
          server.close();
          reject(new FtpTimeoutError(`${label}: server did not connect to our data port within ${formatMs(timeoutMs)}`));
        }, timeoutMs);
        waiting = (s) => {
          clearTimeout(timer);
          resolve(s);
        };
      }),
    close: () => {
      server.close();
      arrived?.destroy();
    },
  };
}

/** A data "socket" that has already ended: for a 2xx reply that comes with no data connection. */
export function emptySocket(): net.Socket {
  const s = new net.Socket();
  s.push(null);
  return s;
}
