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
import type { FtpReply } from './reply.js';
import { FtpClosedError, FtpConnectError, FtpTimeoutError } from './errors.js';
import { eventWithin, guardErrors } from './wait.js';

/** A data connection opened by the client itself (listings, relay). */
export interface DataStream {
  socket: net.Socket;
  /**
   * Resolves with the final reply (226/250) once the data side is finished by
   * the caller. `timeoutMs` (default: the data timeout) bounds the wait for
   * it; Infinity while the caller still reads the data, which may take far
   * longer than any reply deadline (a big listing over a slow link).
   */
  finish(timeoutMs?: number): Promise<FtpReply>;
  /** The replies to DataOptions.then, once finish() has resolved. */
  then: FtpReply[];
}

export interface DataOptions {
  rest?: number;
  signal?: AbortSignal;
  /** Passive: a data connection already under way to an address asked earlier; undefined (or failing to connect) asks PASV now. */
  data?: Promise<net.Socket | undefined>;
  /** Commands written right behind the transfer command, in the same write; their replies are read after its final one. */
  then?: readonly Command[];
  /** Passive, clear data only: close our sending side as soon as it is connected, for a download the server need not wait for (software.ts: waitsForClientClose). */
  halfClose?: boolean;
}

/** A data connection's error as one line naming the server. */
export function dataError(label: string, err: Error): FtpClosedError {
  return new FtpClosedError(`${label}: data connection failed: ${err.message}`, { cause: err });
}

/**
 * Feed a data connection's chunks to `onChunk` until it ends; fails when it
 * stays idle for `idleMs`, when it is reset (also before we listened), and
 * when it closes without its end. A throw from `onChunk` closes it at once
 * and rejects.
 */
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
    // Reset while we waited for the mark: the guard heard the error, the stream kept it.
    if (socket.errored) {
      reject(dataError(label, socket.errored));
      return;
    }
    if (socket.destroyed) {
      reject(new FtpClosedError(`${label}: data connection closed before its end`));
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
    socket.once('error', (err) => reject(dataError(label, err)));
    // A close without 'end' (a reset) rejects; after 'end' the promise is settled already.
    socket.once('close', () => reject(new FtpClosedError(`${label}: data connection closed before its end`)));
    socket.once('end', () => {
      socket.setTimeout(0);
      socket.destroy();
      resolve();
    });
  });
}

/** Passive mode: connect to the address the connection chose (see choosePasvAddress in address.ts). */
export async function connectData(hp: HostPort, timeoutMs: number, label: string): Promise<net.Socket> {
  const socket = guardErrors(net.connect({ host: hp.host, port: hp.port }));
  socket.setNoDelay(true);
  try {
    await eventWithin(socket, 'connect', {
      ms: timeoutMs,
      timeout: () => new FtpTimeoutError(`${label}: data connection to ${hp.host}:${hp.port} timed out`),
      error: (err) => new FtpConnectError(`${label}: data connection to ${hp.host}:${hp.port} failed: ${err.message}`, { cause: err }),
    });
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
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
  const server = guardErrors(net.createServer());
  let arrived: net.Socket | undefined;
  server.on('connection', (s: net.Socket) => {
    guardErrors(s);
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
    server.emit('accepted', s);
  });
  server.listen(0, local);
  try {
    await eventWithin(server, 'listening', {
      ms: timeoutMs,
      timeout: () => new FtpTimeoutError(`${label}: could not listen on ${local}`),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  const port = (server.address() as net.AddressInfo).port;
  return {
    command: portCommand({ host: local, port }),
    accept: async () => {
      if (arrived) return arrived;
      try {
        return await eventWithin<net.Socket>(server, 'accepted', {
          ms: timeoutMs,
          timeout: () => new FtpTimeoutError(`${label}: server did not connect to our data port within ${formatMs(timeoutMs)}`),
        });
      } catch (err) {
        server.close();
        throw err;
      }
    },
    close: () => {
      server.close();
      arrived?.destroy();
    },
  };
}

/** A data "socket" that has already ended: for a 2xx reply that comes with no data connection. */
export function emptySocket(): net.Socket {
  const s = guardErrors(new net.Socket());
  s.push(null);
  return s;
}
