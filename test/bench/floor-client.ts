/**
 * The floor client (bench instrument, issue 12; loopback rows 1e-1f): the
 * barest Node.js FXP mirror of a fresh tree, to measure what Node itself
 * costs for scenario 1's work. node:net only, nothing from src/, so it
 * measures Node, not fxpmirror.
 *
 *   node dist/test/bench/floor-client.js A|B <src-url> <dst-url> <parallel>
 *
 * Source active, destination passive, as fxpmirror does on proftpd ->
 * pure-ftpd (README "Why STOR first"). A: lftp's work per file: PASV+STOR
 * (final name) in one write to the destination; on its 227, PORT+RETR in one
 * write to the source; both 226s, next file. B: fxpmirror's work per file,
 * in the groups of its -v trace: temporary name; after the destination's 226
 * of file n one write of RNFR+RNTO(n-1), SIZE+MFMT(n), PASV+STOR(n+1); PORT
 * only after the source's 226 of the file before; a connection's first PASV
 * alone. Any reply other than the expected code exits 1 (the bench shows
 * FAIL). No QUIT: exiting closes the sockets, and nothing is left to say.
 */
import * as net from 'node:net';

const [variant, srcArg, dstArg, parArg] = process.argv.slice(2);
const B = variant === 'B';
const P = Number(parArg);
if ((variant !== 'A' && !B) || !(P >= 1 && P <= 16)) fail('usage: floor-client A|B <src-url> <dst-url> <parallel>');

function fail(why: string): never {
  process.stderr.write(`floor: ${why}\n`);
  process.exit(1);
}

/** "/%2Fs1/" -> "/s1" (the bench's URLs say %2F for an absolute path, RFC 1738 §3.2.2). */
const root = (u: URL) => '/' + decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
const srcU = new URL(srcArg);
const dstU = new URL(dstArg);
const srcRoot = root(srcU);
const dstRoot = root(dstU);

// Tags: what a reply means to the client once its code has been checked.
const NONE = 0, LOGGED = 1, LIST_PASV = 2, LIST_END = 3, MKD_END = 4, D227 = 5, D226 = 6, S226 = 7, SIZE = 8, CHECKED = 9, RENAMED = 10;

/**
 * Each command group's expected codes and tags, built once: a file costs no
 * array. B's group after a destination 226: [rename of the file before],
 * SIZE + MFMT of this one, [PASV + STOR of the next].
 */
const G = {
  login: [[220, 331, 230, 200], [NONE, NONE, NONE, LOGGED]],
  mkd: [[257], [MKD_END]],
  list: [[227, 150, 226], [LIST_PASV, NONE, LIST_END]],
  pasvStor: [[227, 150, 226], [D227, NONE, D226]],
  pasv: [[227], [D227]],
  stor: [[150, 226], [NONE, D226]],
  retr: [[200, 150, 226], [NONE, NONE, S226]],
  renNext: [[350, 250, 213, 213, 227, 150, 226], [NONE, NONE, SIZE, NONE, D227, NONE, D226]],
  next: [[213, 213, 227, 150, 226], [SIZE, NONE, D227, NONE, D226]],
  renLast: [[350, 250, 213, 213], [NONE, NONE, SIZE, CHECKED]],
  last: [[213, 213], [SIZE, CHECKED]],
  rename: [[350, 250], [NONE, RENAMED]],
} satisfies Record<string, [number[], number[]]>;
type Group = [number[], number[]];

/** One reused read buffer for every control connection: onread hands it over synchronously, so no chunk is ever allocated. */
const readBuf = Buffer.allocUnsafe(65536);

/** One control connection: the codes it expects in order, and a byte-at-a-time reply parser (code, 227 address, 213 number). */
class Conn {
  readonly sock: net.Socket;
  exp: number[] = [];
  tags: number[] = [];
  head = 0;
  col = 0; // column in the current line
  code = 0;
  fin = false; // a "ddd " line: the end of a reply (RFC 959 §4.2)
  paren = false;
  ni = 0;
  readonly n = [0, 0, 0, 0, 0, 0]; // 227 h1,h2,h3,h4,p1,p2
  num = 0; // 213's number
  numOn = false;
  pair: Pair | undefined;
  dirs: string[] = []; // source: directories this connection has still to list
  dir: string | undefined; // source: the one being listed
  listed = 0; // its 226 and its data's end: two means done
  chunks: Buffer[] = [];
  constructor(readonly u: URL) {
    this.sock = net.connect({ host: u.hostname, port: Number(u.port), onread: { buffer: readBuf, callback: (n) => this.feed(n) } });
    this.sock.on('error', (e) => fail(`${u.host}: ${e.message}`));
    this.sock.on('close', () => fail(`${u.host}: connection closed`));
    // USER, PASS and TYPE I in one write, before the greeting: both servers read them in order.
    this.send(`USER ${decodeURIComponent(u.username)}\r\nPASS ${decodeURIComponent(u.password)}\r\nTYPE I\r\n`, G.login);
  }
  /** One write per command group. */
  send(text: string, [codes, tags]: Group): void {
    for (let i = 0; i < codes.length; i++) {
      this.exp.push(codes[i]);
      this.tags.push(tags[i]);
    }
    this.sock.write(text);
  }
  /** onread's callback: true keeps the socket reading. */
  feed(len: number): boolean {
    const b = readBuf;
    for (let i = 0; i < len; i++) {
      const ch = b[i];
      if (ch === 10) {
        if (this.fin) this.reply();
        this.col = this.code = 0;
        this.fin = this.paren = false;
        continue;
      }
      const col = this.col++;
      if (col < 3) this.code = ch >= 48 && ch <= 57 ? this.code * 10 + ch - 48 : -1000;
      else if (col === 3) {
        this.fin = ch === 32 && this.code >= 100;
        this.num = 0;
        this.numOn = true;
      } else if (!this.fin) continue;
      else if (this.code === 213 && this.numOn) {
        if (ch >= 48 && ch <= 57) this.num = this.num * 10 + ch - 48;
        else this.numOn = false;
      } else if (this.code === 227) {
        if (ch === 40) {
          this.paren = true;
          this.ni = this.n[0] = 0;
        } else if (!this.paren) continue;
        else if (ch >= 48 && ch <= 57) this.n[this.ni] = this.n[this.ni] * 10 + ch - 48;
        else if (ch === 44 && this.ni < 5) this.n[++this.ni] = 0;
        else this.paren = false;
      }
    }
    return true;
  }
  reply(): void {
    if (this.head === this.exp.length) fail(`${this.u.host}: unexpected reply ${this.code}`);
    const want = this.exp[this.head];
    const tag = this.tags[this.head++];
    if (this.head === this.exp.length) this.exp.length = this.tags.length = this.head = 0;
    if (this.code !== want) fail(`${this.u.host}: expected ${want}, got ${this.code}`);
    on(this, tag);
  }
  /** The 227's port, once its address is shown to be this server's own (never hand a third party's address to the other server). */
  port(): number {
    const n = this.n;
    if (this.ni !== 5 || n[4] > 255 || n[5] > 255 || `${n[0]}.${n[1]}.${n[2]}.${n[3]}` !== this.u.hostname) fail(`${this.u.host}: bad 227`);
    return n[4] * 256 + n[5];
  }
}

interface File {
  src: string;
  tmp: string;
  dst: string;
  size: number;
  mtime: string;
}
const files: File[] = [];
let nextFile = 0;
let pending = 2; // listings and MKD groups still owed: the root's listing and its MKD
let logged = 0;
let pairsDone = 0;
const dstCommas = dstU.hostname.replace(/\./g, ',');

/** One connection pair's transfers; `cur` is on the wire, `prev` waits for its rename (B). */
class Pair {
  cur: File | undefined;
  prev: File | undefined;
  dEnd = false; // A: the destination's 226 came; B: the last file's SIZE and MFMT were answered
  sBusy = false; // the source owes a 226
  port = -1; // a destination 227 not yet handed to the source
  storOwed = false; // B: a connection's first PASV went alone
  constructor(
    readonly s: Conn,
    readonly d: Conn,
  ) {
    s.pair = d.pair = this;
  }
  start(): void {
    const f = (this.cur = files[nextFile++]);
    if (!f) return this.done();
    if (!B) this.d.send(`PASV\r\nSTOR ${f.dst}\r\n`, G.pasvStor);
    else {
      // fxpmirror sends STOR only behind a PASV this server has answered.
      this.storOwed = true;
      this.d.send('PASV\r\n', G.pasv);
    }
  }
  on227(): void {
    this.port = this.d.port();
    if (this.storOwed) {
      this.storOwed = false;
      this.d.send(`STOR ${this.cur!.tmp}\r\n`, G.stor);
    }
    this.retr();
  }
  /** PORT + RETR in one write, once the destination's 227 is here and the source's 226 of the file before. */
  retr(): void {
    if (this.port < 0 || this.sBusy) return;
    const p = this.port;
    this.port = -1;
    this.sBusy = true;
    this.s.send(`PORT ${dstCommas},${p >> 8},${p & 255}\r\nRETR ${this.cur!.src}\r\n`, G.retr);
  }
  /** A: wait for the source's 226 too. B: the destination's 226 sends its next group at once (fxpmirror's early end). */
  dst226(): void {
    if (!B) {
      this.dEnd = true;
      return this.nextA();
    }
    const f = this.cur!;
    const p = this.prev;
    const next = (this.cur = files[nextFile++]);
    this.prev = f;
    const check = `${p ? `RNFR ${p.tmp}\r\nRNTO ${p.dst}\r\n` : ''}SIZE ${f.tmp}\r\nMFMT ${f.mtime} ${f.tmp}\r\n`;
    if (next) this.d.send(`${check}PASV\r\nSTOR ${next.tmp}\r\n`, p ? G.renNext : G.next);
    else this.d.send(check, p ? G.renLast : G.last);
  }
  src226(): void {
    this.sBusy = false;
    if (!B) return this.nextA();
    if (this.cur) this.retr();
    else this.renameLast();
  }
  nextA(): void {
    if (!this.dEnd || this.sBusy) return;
    this.dEnd = false;
    this.start();
  }
  /** B: the last file is renamed once its size is checked and the source's 226 came. */
  renameLast(): void {
    const f = this.prev;
    if (!this.dEnd || this.sBusy || !f) return;
    this.prev = undefined;
    this.d.send(`RNFR ${f.tmp}\r\nRNTO ${f.dst}\r\n`, G.rename);
  }
  done(): void {
    if (++pairsDone === P) process.exit(0);
  }
}

const srcConns: Conn[] = [];
const dstConns: Conn[] = [];
const pairs: Pair[] = [];

/** MLSD (RFC 3659 §7) of the connection's next directory, PASV in the same write; its 226 and its data's end both close it. */
function listNext(c: Conn): void {
  c.dir = c.dirs.pop();
  c.listed = 0;
  c.chunks = [];
  if (c.dir !== undefined) c.send(`PASV\r\nMLSD ${c.dir}\r\n`, G.list);
}

function listed(c: Conn): void {
  if (++c.listed < 2) return;
  const dir = c.dir!;
  const text = Buffer.concat(c.chunks).toString('utf8');
  listNext(c);
  const rel = dstRoot + dir.slice(srcRoot.length);
  const sub: string[] = [];
  for (const line of text.split('\r\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const name = line.slice(sp + 1);
    if (!name || /[/\0]/.test(name)) fail(`listing of ${dir}: bad name`);
    const facts = new Map(line.slice(0, sp).toLowerCase().split(';').map((f) => f.split('=') as [string, string]));
    const type = facts.get('type');
    if (type === 'dir') sub.push(name);
    if (type !== 'file') continue;
    const size = Number(facts.get('size'));
    const mtime = (facts.get('modify') ?? '').slice(0, 14);
    if (!Number.isSafeInteger(size) || size < 0 || !/^\d{14}$/.test(mtime)) fail(`listing of ${dir}: bad facts`);
    files.push({ src: `${dir}/${name}`, tmp: `${rel}/.${name}.fxpmirror-part`, dst: `${rel}/${name}`, size, mtime });
  }
  if (sub.length) {
    // A directory's MKDs in one write; its subdirectories go round the source connections to be listed.
    pending += 1 + sub.length;
    const codes = sub.map(() => 257);
    dstConns[0].send(sub.map((s) => `MKD ${rel}/${s}\r\n`).join(''), [codes, codes.map((_, i) => (i === codes.length - 1 ? MKD_END : NONE))]);
    sub.forEach((s, i) => {
      const to = srcConns[i % P];
      to.dirs.push(`${dir}/${s}`);
      if (to.dir === undefined) listNext(to);
    });
  }
  owed();
}

/** Transfers start once the whole tree is listed and every directory made. */
function owed(): void {
  if (--pending === 0) for (const p of pairs) p.start();
}

function on(c: Conn, tag: number): void {
  switch (tag) {
    case LOGGED:
      if (++logged === 2 * P) listNext(srcConns[0]);
      return;
    case LIST_PASV:
      net
        .connect({ host: c.u.hostname, port: c.port() })
        .on('data', (d: Buffer) => c.chunks.push(d))
        .on('end', () => listed(c))
        .on('error', (e) => fail(`listing data: ${e.message}`));
      return;
    case LIST_END:
      return listed(c);
    case MKD_END:
      return owed();
    case D227:
      return c.pair!.on227();
    case D226:
      return c.pair!.dst226();
    case S226:
      return c.pair!.src226();
    case SIZE: {
      const f = c.pair!.prev!;
      if (c.num !== f.size) fail(`${f.tmp}: size ${c.num}, expected ${f.size}`);
      return;
    }
    case CHECKED:
      c.pair!.dEnd = true;
      return c.pair!.renameLast();
    case RENAMED:
      return c.pair!.done();
  }
}

for (let i = 0; i < P; i++) {
  srcConns.push(new Conn(srcU));
  dstConns.push(new Conn(dstU));
  pairs.push(new Pair(srcConns[i], dstConns[i]));
}
// The destination root in the same write as the login (the bench gives each run a fresh one).
dstConns[0].send(`MKD ${dstRoot}\r\n`, G.mkd);
srcConns[0].dirs.push(srcRoot);
