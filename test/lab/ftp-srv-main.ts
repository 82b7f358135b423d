/**
 * ftp-srv (npm) as a lab server: started by config/ftp-srv.ts as
 * `node dist/test/lab/ftp-srv-main.js --address … --port … --root …`.
 *
 * ftp-srv is a library, like pyftpdlib; this is the smallest standalone
 * server that mirrors the other lab servers: one user, a fixed root, a
 * passive port range, an optional throttle, and a log. It starts as root,
 * opens its log, then drops to the lab user so that the files it writes
 * belong to that user, as with the other servers.
 *
 * Its own rules, which the lab keeps (they are why it is here):
 * - a passive data connection from another address than the control
 *   connection's is refused with `550 Remote addresses do not match`, and
 *   ftp-srv then closes the control connection (src/connector/passive.js);
 * - PORT/EPRT to another address: `500 The given address is not yours`;
 * - no MLSD/MLST, MFMT or SITE UTIME (`502 Command not allowed: …`).
 * One default is wrong for a lab: PASV names the client's own address when
 * the client is 127.0.0.1 (src/commands/registration/pasv.js), so pasv_url
 * is a function naming the server's address.
 */
import * as fs from 'node:fs';
import { Transform, Writable, type Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { FileSystem, FtpSrv } from 'ftp-srv';

const { values: opt } = parseArgs({
  options: {
    address: { type: 'string' },
    port: { type: 'string' },
    root: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    uid: { type: 'string' },
    gid: { type: 'string' },
    'pasv-min': { type: 'string' },
    'pasv-max': { type: 'string' },
    log: { type: 'string' },
    rate: { type: 'string' },
  },
});
function need(name: keyof typeof opt): string {
  const v = opt[name];
  if (typeof v !== 'string' || v === '') throw new Error(`ftp-srv-main: --${name} is required`);
  return v;
}
const address = need('address');
const root = need('root');
const rate = opt.rate === undefined ? undefined : Number(opt.rate);

// ---------------------------------------------------------------------------
// Log: the bunyan-style interface ftp-srv calls, one line per call.

interface Log {
  child(fields: Record<string, unknown>): Log;
  trace(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  fatal(...args: unknown[]): void;
}

const logStream = fs.createWriteStream(need('log'), { flags: 'a' });

function show(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function makeLog(fields: Record<string, unknown>): Log {
  const line = (level: string) => (...args: unknown[]) => {
    // ftp-srv logs each raw command line before it masks PASS in the next entry.
    const text = [show(fields), ...args.map(show)].join(' ').replace(/PASS [^"\\,\]]*/g, 'PASS ********');
    logStream.write(`${new Date().toISOString()} ${level} ${text}\n`);
  };
  return {
    child: (more) => makeLog({ ...fields, ...more }),
    trace: line('TRACE'),
    debug: line('DEBUG'),
    info: line('INFO'),
    warn: line('WARN'),
    error: line('ERROR'),
    fatal: line('FATAL'),
  };
}
const log = makeLog({});

// ---------------------------------------------------------------------------
// Throttle: ftp-srv has none of its own; a FileSystem may return any stream.

/** Paces a byte count to `bytesPerSec`: how long to wait after each chunk. */
function pacer(bytesPerSec: number): (bytes: number) => number {
  const t0 = Date.now();
  let sent = 0;
  return (bytes) => {
    sent += bytes;
    return Math.max(0, (sent / bytesPerSec) * 1000 - (Date.now() - t0));
  };
}

const SLICE = 16 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function throttledReader(inner: Readable, bytesPerSec: number): Transform {
  const wait = pacer(bytesPerSec);
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      void (async () => {
        for (let i = 0; i < chunk.length; i += SLICE) {
          const part = chunk.subarray(i, i + SLICE);
          this.push(part);
          await sleep(wait(part.length));
        }
      })().then(() => cb(), cb);
    },
  });
  inner.on('error', (err) => t.destroy(err));
  t.on('close', () => inner.destroy());
  return inner.pipe(t);
}

function throttledWriter(inner: fs.WriteStream, bytesPerSec: number): Writable {
  const wait = pacer(bytesPerSec);
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      inner.write(chunk, (err) => (err ? cb(err) : setTimeout(cb, wait(chunk.length))));
    },
    final(cb) {
      inner.once('error', cb);
      inner.end(() => cb());
    },
    destroy(err, cb) {
      // Destroying the file stream with an error makes ftp-srv's own listener delete the file.
      inner.destroy(err ?? undefined);
      cb(err);
    },
  });
  // ftp-srv's STOR ends the stream by emitting 'close' on it when the data connection ends.
  w.once('close', () => w.end());
  return Object.assign(w, { path: inner.path });
}

class ThrottledFileSystem extends FileSystem {
  constructor(connection: ConstructorParameters<typeof FileSystem>[0], private readonly bytesPerSec: number) {
    super(connection, { root, cwd: '/' });
  }
  override write(fileName: string, options?: { append?: boolean; start?: unknown }): { stream: Writable; clientPath: string } {
    const r = super.write(fileName, options) as { stream: fs.WriteStream; clientPath: string };
    return { stream: throttledWriter(r.stream, this.bytesPerSec), clientPath: r.clientPath };
  }
  override async read(fileName: string, options?: { start?: unknown }): Promise<{ stream: Readable; clientPath: string }> {
    const r = (await super.read(fileName, options)) as { stream: Readable; clientPath: string };
    return { stream: throttledReader(r.stream, this.bytesPerSec), clientPath: r.clientPath };
  }
}

// ---------------------------------------------------------------------------
// The server

const server = new FtpSrv({
  url: `ftp://${address}:${need('port')}`,
  // A function: a string is replaced by the client's own address for 127.0.0.1 clients.
  pasv_url: ((() => address) as unknown) as string,
  pasv_min: Number(need('pasv-min')),
  pasv_max: Number(need('pasv-max')),
  anonymous: false,
  greeting: 'fxpmirror lab ftp-srv',
  log,
});

server.on('login', ({ connection, username, password }, resolve, reject) => {
  if (username === need('user') && password === need('password')) {
    resolve(rate ? { fs: new ThrottledFileSystem(connection, rate) } : { root, cwd: '/' });
  } else {
    reject(new Error('Login incorrect'));
  }
});

// A lab server must outlive the faults it is there for: log what would end the process and go on.
process.on('uncaughtException', (err) => log.error('uncaught', err));
process.on('unhandledRejection', (err) => log.error('unhandled rejection', err));

// Drop root before accepting anyone: files the server writes belong to the lab user.
if (!process.setgroups || !process.setgid || !process.setuid) throw new Error('ftp-srv-main: needs POSIX setuid/setgid');
process.setgroups([Number(need('gid'))]);
process.setgid(Number(need('gid')));
process.setuid(Number(need('uid')));

await server.listen();
