/**
 * Data connections of the scripted FTP server: a real passive listener (PASV,
 * EPSV) or a real connect to the address a PORT/EPRT named, and the bodies
 * that travel over them (files, listings, endless listings), written with
 * backpressure so that an endless listing costs the server no memory.
 */
import net from 'node:net';

/** What the server sends over a data connection: text, bytes, or chunks from a (possibly endless) generator. */
export type DataBody = string | Buffer | Iterable<string | Buffer> | AsyncIterable<string | Buffer>;

/** One data connection the server accepted (passive) or opened (active). */
export interface DataRecord {
  session: number;
  mode: 'passive' | 'active';
  /** The other end: who connected to our passive port, or whom we connected to. */
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The transfer command that used it (RETR path, STOR path, MLSD, ...), once one did. */
  command?: string;
}

/** How long a transfer command waits for the data connection before answering 425. */
export const DATA_WAIT_MS = 10_000;

export function stripMapped(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/, '');
}

/**
 * A pending data connection of one session. PASV/EPSV: a listener that takes
 * the first connection. PORT/EPRT: a target we connect to when the transfer
 * command arrives (as vsftpd, proftpd and pure-ftpd do).
 */
export class DataChannel {
  private listener: net.Server | undefined;
  private accepted: Promise<net.Socket> | undefined;
  private target: { host: string; port: number } | undefined;
  private sockets = new Set<net.Socket>();
  private paused = false;
  /** Ends a transfer command's wait for its passive data connection. */
  private stopWaiting: (() => void) | undefined;

  constructor(
    private readonly session: number,
    private readonly record: (r: DataRecord) => void,
    /** Active connections leave from this address (the control connection's own), as a real server's do. */
    private readonly localAddress: () => string,
  ) {}

  /** Listen on host:0; resolves with the port. Replaces any earlier pending channel. */
  async listen(host: string): Promise<{ host: string; port: number }> {
    this.reset();
    // Half-open allowed, as a C server's socket is: a client that closes its
    // sending side at once (it never writes on a download) still gets all the data.
    const server = net.createServer({ allowHalfOpen: true });
    this.listener = server;
    this.accepted = new Promise((resolve) => {
      server.once('connection', (s) => {
        server.close();
        this.track(s, 'passive');
        resolve(s);
      });
    });
    this.accepted.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return { host, port: (server.address() as net.AddressInfo).port };
  }

  /** PORT/EPRT: remember where to connect. */
  connectTo(host: string, port: number): void {
    this.reset();
    this.target = { host, port };
  }

  /**
   * PORT/EPRT the pyftpdlib way: connect at once, before any transfer
   * command (pyftpdlib answers PORT only once this connection is up).
   */
  async connectNow(host: string, port: number): Promise<void> {
    this.reset();
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect({ host, port, localAddress: this.localAddress() });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    this.track(s, 'active');
    this.accepted = Promise.resolve(s);
  }

  /** Whether a data connection is open (a transfer runs, or is about to). */
  get active(): boolean {
    return this.sockets.size > 0;
  }

  /** Stop reading and writing every data socket, now and later (a frozen session). */
  pause(): void {
    this.paused = true;
    for (const s of this.sockets) halt(s);
  }

  /** Reset (RST) every open data socket: a connection killed mid-transfer, as `ss -K` does. */
  resetSockets(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  private reset(): void {
    this.listener?.close();
    this.listener = undefined;
    this.accepted = undefined;
    this.target = undefined;
  }

  get pending(): boolean {
    return this.accepted !== undefined || this.target !== undefined;
  }

  /** The data socket for a transfer command; throws when none comes within DATA_WAIT_MS. */
  async open(command: string): Promise<net.Socket> {
    const accepted = this.accepted;
    const target = this.target;
    this.accepted = undefined;
    this.target = undefined;
    let socket: net.Socket;
    if (target) {
      socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ ...target, localAddress: this.localAddress() });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      this.track(socket, 'active');
    } else if (accepted) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no data connection')), DATA_WAIT_MS);
        // A session that ends (its server closed) stops waiting at once: no timer keeps the test process alive.
        this.stopWaiting = () => reject(new Error('session closed'));
      });
      try {
        socket = await Promise.race([accepted, timeout]);
      } finally {
        clearTimeout(timer);
        this.stopWaiting = undefined;
        this.listener?.close();
        this.listener = undefined;
      }
    } else throw new Error('no PORT or PASV');
    const rec = (socket as net.Socket & { record?: DataRecord }).record;
    if (rec) rec.command = command;
    return socket;
  }

  private track(s: net.Socket, mode: 'passive' | 'active'): void {
    const rec: DataRecord = {
      session: this.session,
      mode,
      remoteAddress: stripMapped(s.remoteAddress),
      remotePort: s.remotePort ?? 0,
      localAddress: stripMapped(s.localAddress),
      localPort: s.localPort ?? 0,
    };
    (s as net.Socket & { record?: DataRecord }).record = rec;
    this.record(rec);
    this.sockets.add(s);
    if (this.paused) halt(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }


  /** Close the listener and every data socket at once. */
  destroy(): void {
    this.stopWaiting?.();
    this.reset();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Data sockets of frozen sessions: nothing is read from them or written to them any more. */
const halted = new WeakSet<net.Socket>();

function halt(s: net.Socket): void {
  halted.add(s);
  s.pause();
}

/**
 * Write a body to a data socket with backpressure, then end it. Resolves
 * true when everything was sent, false when the client closed first (an
 * endless listing ends that way).
 */
export async function sendBody(socket: net.Socket, body: DataBody, rate?: number): Promise<boolean> {
  const closed = new Promise<false>((resolve) => socket.once('close', () => resolve(false)));
  const write = async (chunk: string | Buffer): Promise<boolean> => {
    if (halted.has(socket)) return closed;
    if (socket.destroyed) return false;
    if (socket.write(chunk)) return true;
    return Promise.race([new Promise<true>((r) => socket.once('drain', () => r(true))), closed]);
  };
  if (rate && (typeof body === 'string' || Buffer.isBuffer(body))) {
    for await (const slice of paced(Buffer.from(body), rate)) if (!(await write(slice))) return false;
  } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
    if (!(await write(body))) return false;
  } else {
    // Small chunks are gathered into ~64 KiB writes: an endless listing of
    // short lines would otherwise cost a write() per line.
    let pending: Buffer[] = [];
    let size = 0;
    for await (const c of body as AsyncIterable<string | Buffer>) {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      pending.push(b);
      size += b.length;
      if (size >= 65536) {
        if (!(await write(Buffer.concat(pending)))) return false;
        pending = [];
        size = 0;
      }
    }
    if (size && !(await write(Buffer.concat(pending)))) return false;
  }
  if (socket.destroyed) return false;
  await new Promise<void>((resolve) => socket.end(resolve));
  return true;
}

/** `data` in slices of a tenth of `rate`, ten per second. */
async function* paced(data: Buffer, rate: number): AsyncGenerator<Buffer> {
  const slice = Math.max(1, Math.floor(rate / 10));
  for (let i = 0; i < data.length; i += slice) {
    yield data.subarray(i, i + slice);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Read a data socket to its end (STOR), handing each chunk to `onChunk`.
 * Resolves true when it ended cleanly, false when it broke (a reset).
 */
export function receiveBody(socket: net.Socket, onChunk: (chunk: Buffer) => void): Promise<boolean> {
  return new Promise((resolve) => {
    socket.on('data', onChunk);
    socket.once('end', () => resolve(true));
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(true));
  });
}

/**
 * MLSD lines without end ("type=file;size=1;modify=...; f000000001"), for the
 * listing-bound tests; `line` builds line `i` when a test wants other text
 * (longer names, a line that never ends).
 */
export function* endlessListing(line: (i: number) => string = (i) => `type=file;size=1;modify=20230101000000; f${String(i).padStart(9, '0')}\r\n`): Generator<string> {
  for (let i = 0; ; i++) yield line(i);
}
