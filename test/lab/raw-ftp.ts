/**
 * A raw FTP control connection for lab tests that check a server's exact
 * replies (RFC 959 §4.2 multi-line replies), and a passive data connection
 * opened from any local address (a "foreign" host for the servers' checks).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';

/**
 * Minimal FTP control connection: enough to check greeting, login, FEAT and
 * single replies by hand. `next()` and `cmd()` resolve with the reply's
 * lines joined by "\n", or "[closed] …" once the server closed the
 * connection (with whatever it sent last).
 */
export class RawFtp {
  private buf = '';
  private waiters: Array<(reply: string) => void> = [];
  private closed = false;
  constructor(public sock: net.Socket | tls.TLSSocket) {
    this.attach(sock);
  }
  private attach(sock: net.Socket | tls.TLSSocket): void {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.drain();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(`[closed] ${this.buf}`);
    });
  }
  /** RFC 959 §4.2: a reply ends at a line "ddd " (multi-line replies start "ddd-"). */
  private drain(): void {
    for (;;) {
      const lines = this.buf.split('\r\n');
      const end = lines.slice(0, -1).findIndex((l) => /^\d{3} /.test(l));
      if (end < 0 || !this.waiters.length) return;
      const reply = lines.slice(0, end + 1).join('\n');
      this.buf = lines.slice(end + 1).join('\r\n');
      (this.waiters.shift() as (r: string) => void)(reply);
    }
  }
  /** The next reply; rejects after `timeoutMs` (and then no longer waits for it). */
  next(timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve(`[closed] ${this.buf}`);
      const waiter = (r: string) => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${timeoutMs} ms (buffer ${JSON.stringify(this.buf)})`));
      }, timeoutMs);
      this.waiters.push(waiter);
      this.drain();
    });
  }
  /** The next reply, or null when none comes within `timeoutMs` (a stalled server). */
  nextOrNull(timeoutMs: number): Promise<string | null> {
    return this.next(timeoutMs).catch(() => null);
  }
  send(line: string): void {
    this.sock.write(`${line}\r\n`);
  }
  cmd(line: string, timeoutMs = 5000): Promise<string> {
    this.send(line);
    return this.next(timeoutMs);
  }
  static connect(host: string, port: number, localAddress?: string): Promise<RawFtp> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port, localAddress }, () => resolve(new RawFtp(sock)));
      sock.once('error', reject);
    });
  }
  /** AUTH TLS then upgrade the same socket, verifying the lab certificate (IP SAN). */
  async startTls(host: string, ca: string): Promise<void> {
    const reply = await this.cmd('AUTH TLS');
    assert.match(reply, /^234/, `AUTH TLS: ${reply}`);
    const plain = this.sock;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, host, ca: fs.readFileSync(ca) }, () => resolve(s));
      s.once('error', reject);
    });
    this.sock = secure;
    this.attach(secure);
  }
  close(): void {
    this.sock.destroy();
  }
}

/** The port of a 227 (PASV, RFC 959 §4.1.2) or 229 (EPSV, RFC 2428 §3) reply. */
export function passivePort(reply: string): number {
  const pasv = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply);
  if (pasv) return Number(pasv[5]) * 256 + Number(pasv[6]);
  const epsv = /\(\|\|\|(\d+)\|\)/.exec(reply);
  if (epsv) return Number(epsv[1]);
  throw new Error(`no passive port in ${JSON.stringify(reply)}`);
}

/** Connect to a server's passive port from `localAddress`; resolves once connected. Data is read and dropped. */
export function connectData(host: string, port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress }, () => resolve(sock));
    sock.once('error', reject);
    sock.on('error', () => undefined);
    sock.resume();
  });
}

/** Log in with the lab user; asserts the 230. */
export async function login(ftp: RawFtp, user: string, password: string): Promise<void> {
  assert.match(await ftp.next(), /^220[ -]/m);
  assert.match(await ftp.cmd(`USER ${user}`), /^331/m);
  assert.match(await ftp.cmd(`PASS ${password}`), /^230 /m);
}
