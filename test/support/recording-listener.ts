/**
 * The "third party" of bounce tests: a TCP listener on its own 127.x address
 * that records who connected and every byte that arrived. A test asserts
 * that nobody came (no bounce), or what a server was tricked into sending.
 */
import net from 'node:net';
import { stripMapped } from './ftp-data.js';

export interface RecordedConnection {
  remoteAddress: string;
  remotePort: number;
  /** Everything received so far on this connection. */
  bytes: Buffer;
  /** True once the other side closed. */
  ended: boolean;
}

export interface RecordingListener {
  host: string;
  port: number;
  connections: RecordedConnection[];
  /** Total bytes received over all connections. */
  readonly received: number;
  close(): Promise<void>;
}

/** Listen on host:0 (or `port`); `greeting` is written to each connection first (to play an FTP server). */
export async function startRecordingListener(host: string, opts: { port?: number; greeting?: string } = {}): Promise<RecordingListener> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    const rec: RecordedConnection = { remoteAddress: stripMapped(s.remoteAddress), remotePort: s.remotePort ?? 0, bytes: Buffer.alloc(0), ended: false };
    connections.push(rec);
    sockets.add(s);
    s.on('data', (c: Buffer) => (rec.bytes = Buffer.concat([rec.bytes, c])));
    s.on('error', () => undefined);
    s.on('close', () => {
      rec.ended = true;
      sockets.delete(s);
    });
    if (opts.greeting) s.write(opts.greeting);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    connections,
    get received() {
      return connections.reduce((n, c) => n + c.bytes.length, 0);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
