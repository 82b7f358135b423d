import net from 'node:net';
import tls from 'node:tls';
import { ControlChannel, formatMs, stripMapped, tlsHandshake, type WireLog } from './channel.js';
import type { FtpReply } from './reply.js';
import { parseFeatReply, emptyFeatures, type Features } from './feat.js';
import { parseMlsd, parseList } from './listing.js';
import type { ListEntry } from './entry.js';
import {
  encodeEprtArgument,
  encodePortArgument,
  parseEpsvReply,
  parsePasvReply,
  resolvePasvHost,
  type HostPort,
} from './address.js';
import {
  FtpConnectError,
  FtpLoginError,
  FtpProtocolError,
  FtpReplyError,
  FtpTimeoutError,
  assertSafeArgument,
} from './errors.js';
import { asTlsError, buildTlsOptions, verifyPeer } from './tls-policy.js';
import type { ServerOptions } from './options.js';
import { identifyServer, marksAfterAccept, wantsPret, type ServerKind } from './software.js';

/**
 * What we learn about a server once and share between all its connections:
 * which listing command works, how to set mtimes, whether PASV works. Plain
 * data so the pool, the FXP engine and probe can read it.
 */
export interface ServerState {
  listing?: 'MLSD' | 'LIST';
  mtime?: 'MFMT' | 'SITE UTIME2' | 'SITE UTIME5' | 'MDTM' | 'none';
  /** Set after a "can't set mtime" was reported once for this server. */
  mtimeWarned?: boolean;
  /** FXP: this server, when passive for STOR, sends its 1xx only after the data connection arrives. */
  marksAfterAccept?: boolean;
  /** TLS-FXP: whether SSCN ON was accepted (undefined: not tried yet). */
  sscnWorks?: boolean;
  /** Identification from the greeting, for probe's advice and known quirks. */
  kind?: ServerKind;
}

export interface ConnectContext {
  signal?: AbortSignal;
  wireLog?: WireLog;
  state?: ServerState;
  /** Called once the greeting has arrived (or connecting failed before it): the pool staggers session starts on it. */
  onGreeting?: () => void;
}

export type DataProtection = 'P' | 'C';

/** A data connection opened by the client itself (listings, relay). */
export interface DataStream {
  socket: net.Socket;
  /** Resolves with the final reply (226/250) once the data side is finished by the caller. */
  finish(): Promise<FtpReply>;
}

const MDTM_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?$/;

/** RFC 3659 §2.3 time-val: YYYYMMDDHHMMSS[.sss], always UTC. */
export function parseTimeVal(text: string): Date | undefined {
  const m = MDTM_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function formatTimeVal(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function isPositive(code: number): boolean {
  return code >= 100 && code < 400;
}

/**
 * One FTP control connection. Callers are serialised by a queue (never
 * rejected): every public operation runs inside `exclusive`, one at a time.
 * The FXP engine holds two connections' `exclusive` at once and speaks to them
 * through `send`/`reply`/`request`.
 */
export class FtpConnection {
  readonly server: ServerOptions;
  readonly state: ServerState;
  features: Features = emptyFeatures();
  greeting = '';
  /** SSCN state (TLS-FXP): when on, this server is the TLS client of its data connections. */
  sscn = false;
  private tail: Promise<unknown> = Promise.resolve();
  private currentType: string | undefined;
  /** RFC 4217 §9: data is clear until PROT P; handshake() sends PROT P on TLS connections. */
  private protection: DataProtection | undefined;
  private tlsOptions: tls.ConnectionOptions | undefined;
  private constructor(
    readonly channel: ControlChannel,
    server: ServerOptions,
    state: ServerState,
  ) {
    this.server = server;
    this.state = state;
  }

  get label(): string {
    return this.server.name;
  }

  get closed(): boolean {
    return this.channel.closed;
  }

  get dataProtection(): DataProtection | undefined {
    return this.protection;
  }

  get isTls(): boolean {
    return this.channel.isTls;
  }

  /** Connect, greet, optionally secure, log in, read FEAT. Throws typed errors only. */
  static async connect(server: ServerOptions, ctx: ConnectContext = {}): Promise<FtpConnection> {
    const state = ctx.state ?? {};
    const tlsOptions = server.tls === 'none' ? undefined : buildTlsOptions(server);
    let socket: net.Socket;
    try {
      socket = await openSocket(server, tlsOptions, ctx.signal);
    } catch (err) {
      ctx.onGreeting?.();
      throw err;
    }
    const channel = new ControlChannel(socket, server.name, ctx.wireLog);
    const conn = new FtpConnection(channel, server, state);
    conn.tlsOptions = tlsOptions;
    try {
      await conn.handshake(ctx.signal, ctx.onGreeting);
    } catch (err) {
      ctx.onGreeting?.();
      channel.close(err as Error);
      throw err;
    }
    return conn;
  }

  private async handshake(signal?: AbortSignal, onGreeting?: () => void): Promise<void> {
    const t = this.server.timeouts.connect;
    // RFC 959 §5.4: 120 means "ready in nnn minutes", then 220 follows.
    let greeting = await this.channel.nextReply(t, signal, 'greeting');
    if (greeting.code === 120) greeting = await this.channel.nextReply(t, signal, 'greeting');
    onGreeting?.();
    if (greeting.code !== 220) throw new FtpReplyError(greeting.code, 'greeting', greeting.lines);
    this.greeting = greeting.message;
    if (this.server.tls === 'explicit') {
      // RFC 4217 §4: AUTH TLS, then the handshake on the same socket.
      await this.request('AUTH TLS', undefined, { signal });
      try {
        const secure = await this.channel.upgradeToTls(this.tlsOptions!, t);
        verifyPeer(secure, this.server);
      } catch (err) {
        throw asTlsError(err, this.server);
      }
    }
    await this.login(signal);
    if (this.server.tls !== 'none') {
      // RFC 4217 §9: PBSZ 0 must precede PROT; P protects the data connections.
      await this.request('PBSZ 0', undefined, { signal });
      await this.setProtection('P');
    }
    const feat = await this.request('FEAT', undefined, { signal, accept: () => true });
    this.features = feat.code === 211 ? parseFeatReply(feat.lines) : emptyFeatures();
    // RFC 2640 §3.1: OPTS UTF8 ON where advertised, so names with UTF-8 travel as UTF-8.
    if (this.features.utf8) await this.request('OPTS UTF8 ON', undefined, { signal, accept: () => true });
  }

  private async login(signal?: AbortSignal): Promise<void> {
    let reply = await this.request('USER', this.server.user, { signal, accept: () => true });
    if (reply.code === 331) {
      this.channel.send(`PASS ${this.server.password}`, 'PASS ***');
      reply = await this.channel.nextReply(this.server.timeouts.command, signal, 'reply to PASS');
    }
    if (reply.code === 332) {
      if (!this.server.account) throw new FtpLoginError(`${this.label}: server asks for an account (ACCT) and none is configured`);
      this.channel.send(`ACCT ${this.server.account}`, 'ACCT ***');
      reply = await this.channel.nextReply(this.server.timeouts.command, signal, 'reply to ACCT');
    }
    if (reply.code !== 230 && reply.code !== 202) {
      if (reply.code === 530 || reply.code === 430 || reply.code === 331 || reply.code === 332) {
        throw new FtpLoginError(`${this.label}: login refused for user ${JSON.stringify(this.server.user)}: ${reply.code} ${reply.message}`);
      }
      throw new FtpReplyError(reply.code, 'login', reply.lines);
    }
    this.state.kind ??= identifyServer(this.greeting);
    this.state.marksAfterAccept ??= marksAfterAccept(this.state.kind);
  }

  /** Serialise callers: `fn` runs when every earlier caller is done. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Raw send (FXP engine, inside exclusive). Arguments are checked for CR/LF/NUL. */
  send(command: string, arg?: string): void {
    if (arg !== undefined) assertSafeArgument(arg, `${command} argument`);
    this.channel.send(arg === undefined ? command : `${command} ${arg}`);
  }

  /** Several raw commands in one write (FXP engine, inside exclusive); every argument is checked before anything is sent. */
  sendBatch(commands: [string, string?][]): void {
    for (const [c, a] of commands) if (a !== undefined) assertSafeArgument(a, `${c} argument`);
    this.channel.sendBatch(commands.map(([c, a]) => (a === undefined ? c : `${c} ${a}`)));
  }

  /** Raw read of the next reply (FXP engine, inside exclusive). */
  reply(timeoutMs = this.server.timeouts.command, signal?: AbortSignal, what?: string): Promise<FtpReply> {
    return this.channel.nextReply(timeoutMs, signal, what ?? 'reply');
  }

  /**
   * Send a command and return its final reply, reading past 1xx marks.
   * Anything not accepted (default: 1xx-3xx) throws FtpReplyError with every line.
   */
  async request(
    command: string,
    arg?: string,
    opts: { signal?: AbortSignal; timeoutMs?: number; accept?: (code: number) => boolean } = {},
  ): Promise<FtpReply> {
    this.send(command, arg);
    const shown = arg === undefined ? command : `${command} ${arg}`;
    let reply: FtpReply;
    do {
      reply = await this.reply(opts.timeoutMs ?? this.server.timeouts.command, opts.signal, `reply to ${command}`);
    } while (reply.code < 200);
    if (!(opts.accept ?? isPositive)(reply.code)) throw new FtpReplyError(reply.code, shown, reply.lines);
    return reply;
  }

  /**
   * Send several commands in one write, then read their final replies in
   * order. Replies come strictly in command order (RFC 959 §4.2), so this
   * saves a round trip per command; it is used only for short, independent
   * commands. A refused command does not stop the others: each result is the
   * reply or its FtpReplyError. Every argument is checked before anything is sent.
   *
   * Only for commands a server completes before reading the next one: a
   * command that starts asynchronous work may be answered late (pyftpdlib
   * answers PORT after its data connection is up, after a pipelined STOR).
   */
  async pipeline(commands: [string, string?][]): Promise<(FtpReply | FtpReplyError)[]> {
    for (const [c, a] of commands) if (a !== undefined) assertSafeArgument(a, `${c} argument`);
    const lines = commands.map(([c, a]) => (a === undefined ? c : `${c} ${a}`));
    this.channel.sendBatch(lines);
    const out: (FtpReply | FtpReplyError)[] = [];
    for (const line of lines) {
      let r: FtpReply;
      do r = await this.reply(this.server.timeouts.command, undefined, `reply to ${line.split(' ')[0]}`);
      while (r.code < 200);
      out.push(r.code < 400 ? r : new FtpReplyError(r.code, line, r.lines));
    }
    return out;
  }

  /**
   * The command that sets a file's mtime on this server, once setMtime has
   * learned which one works; undefined while unknown or unsupported.
   */
  mtimeCommand(path: string, mtime: Date): [string, string] | undefined {
    const t = formatTimeVal(mtime);
    switch (this.state.mtime) {
      case 'MFMT':
        return ['MFMT', `${t} ${path}`];
      case 'SITE UTIME2':
        return ['SITE', `UTIME ${t} ${path}`];
      case 'SITE UTIME5':
        return ['SITE', `UTIME ${path} ${t} ${t} ${t} UTC`];
      case 'MDTM':
        return ['MDTM', `${t} ${path}`];
      default:
        return undefined;
    }
  }

  // ---- simple commands (each one takes the queue) ----

  cmd(command: string, arg?: string, signal?: AbortSignal): Promise<FtpReply> {
    return this.exclusive(() => this.request(command, arg, { signal }));
  }

  /** TYPE is remembered, so a pool connection pays for it once, not once per file. */
  async ensureType(type: 'I' | 'A'): Promise<void> {
    if (this.currentType === type) return;
    await this.request('TYPE', type);
    this.currentType = type;
  }

  /** RFC 4217 §9: PROT P (private) or C (clear) for following data connections. */
  async setProtection(level: DataProtection): Promise<void> {
    if (this.protection === level) return;
    await this.request('PROT', level);
    this.protection = level;
  }

  async pwd(): Promise<string> {
    const r = await this.cmd('PWD');
    // RFC 959 §7: 257 "dir" — quotes inside are doubled.
    const m = /"((?:[^"]|"")*)"/.exec(r.message);
    if (!m) throw new FtpProtocolError(`${this.label}: cannot read PWD reply: ${r.message}`);
    return m[1].replace(/""/g, '"');
  }

  cwd(path: string): Promise<FtpReply> {
    return this.cmd('CWD', path);
  }

  async size(path: string): Promise<number> {
    return this.exclusive(async () => {
      await this.ensureType('I'); // RFC 3659 §4: SIZE in ASCII type may count CRLF conversions
      const r = await this.request('SIZE', path);
      const n = Number(r.message.trim());
      if (!Number.isSafeInteger(n) || n < 0) throw new FtpProtocolError(`${this.label}: bad SIZE reply: ${r.message}`);
      return n;
    });
  }

  /** SIZE, or undefined when the file does not exist (550). */
  async sizeIfExists(path: string): Promise<number | undefined> {
    try {
      return await this.size(path);
    } catch (err) {
      if (err instanceof FtpReplyError && err.replyCode >= 500) return undefined;
      throw err;
    }
  }

  async mdtm(path: string): Promise<Date | undefined> {
    const r = await this.cmd('MDTM', path);
    return parseTimeVal(r.message);
  }

  /**
   * Set a file's mtime. Servers disagree on how, so try in this order and
   * remember what worked for the server:
   * - MFMT (draft-somers-ftp-mfxx; proftpd mod_facts, pyftpdlib),
   * - SITE UTIME YYYYMMDDhhmmss path (proftpd mod_site_misc),
   * - SITE UTIME path atime mtime ctime UTC (pure-ftpd style, five arguments),
   * - MDTM YYYYMMDDhhmmss path (vsftpd with mdtm_write=YES).
   * Returns false when the server can do none of them.
   */
  async setMtime(path: string, mtime: Date): Promise<boolean> {
    const t = formatTimeVal(mtime);
    const attempts: [NonNullable<ServerState['mtime']>, string, string][] = [
      ['MFMT', 'MFMT', `${t} ${path}`],
      ['SITE UTIME2', 'SITE', `UTIME ${t} ${path}`],
      ['SITE UTIME5', 'SITE', `UTIME ${path} ${t} ${t} ${t} UTC`],
      ['MDTM', 'MDTM', `${t} ${path}`],
    ];
    if (this.state.mtime === 'none') return false;
    const known = this.state.mtime;
    const order = known ? attempts.filter((a) => a[0] === known) : attempts.filter((a) => a[0] !== 'MFMT' || this.features.mfmt);
    return this.exclusive(async () => {
      for (const [method, command, arg] of order) {
        try {
          const r = await this.request(command, arg);
          // vsftpd with mdtm_write=NO answers "213 <time>" to MDTM with two arguments without setting anything.
          if (method === 'MDTM' && r.code !== 213) continue;
          this.state.mtime = method;
          return true;
        } catch (err) {
          if (!(err instanceof FtpReplyError)) throw err;
          if (known) throw err; // it worked before: this is a real failure (missing file, permissions)
        }
      }
      this.state.mtime = 'none';
      return false;
    });
  }

  /** MKD; with `recursive`, create missing parents first (one MKD per missing level). */
  async mkdir(path: string, recursive = false): Promise<void> {
    try {
      await this.cmd('MKD', path);
    } catch (err) {
      if (!recursive || !(err instanceof FtpReplyError)) throw err;
      const parent = path.replace(/\/+[^/]*\/*$/, '');
      if (!parent || parent === path) throw err;
      if (!(await this.isDirectory(parent))) await this.mkdir(parent, true);
      try {
        await this.cmd('MKD', path);
      } catch (again) {
        if (await this.isDirectory(path)) return;
        throw again;
      }
    }
  }

  /** CWD probe; leaves the working directory changed, which no caller relies on (all paths are absolute). */
  async isDirectory(path: string): Promise<boolean> {
    try {
      await this.cwd(path);
      return true;
    } catch (err) {
      if (err instanceof FtpReplyError) return false;
      throw err;
    }
  }

  rmdir(path: string): Promise<FtpReply> {
    return this.cmd('RMD', path);
  }

  delete(path: string): Promise<FtpReply> {
    return this.cmd('DELE', path);
  }

  /** RFC 959 §4.1.3: RNFR must be answered 350 before RNTO. */
  rename(from: string, to: string): Promise<void> {
    return this.exclusive(async () => {
      await this.request('RNFR', from);
      await this.request('RNTO', to);
    });
  }

  noop(): Promise<FtpReply> {
    return this.cmd('NOOP');
  }

  stat(path?: string): Promise<FtpReply> {
    return this.cmd('STAT', path);
  }

  async system(): Promise<string> {
    try {
      const r = await this.cmd('SYST');
      return r.message;
    } catch (err) {
      if (err instanceof FtpReplyError) return '';
      throw err;
    }
  }

  /** Hash algorithms this server can compute, strongest first, in our own naming. */
  hashAlgorithms(): string[] {
    const f = this.features;
    const out: string[] = [];
    const fromHash = (f.hash?.algorithms ?? []).map((a) => a.toUpperCase());
    for (const algo of ['SHA-512', 'SHA-256', 'SHA-1', 'MD5', 'CRC32']) {
      if (fromHash.includes(algo)) out.push(algo);
      else if (algo === 'SHA-512' && f.checksums.xsha512) out.push(algo);
      else if (algo === 'SHA-256' && f.checksums.xsha256) out.push(algo);
      else if (algo === 'SHA-1' && f.checksums.xsha1) out.push(algo);
      else if (algo === 'MD5' && f.checksums.xmd5) out.push(algo);
      else if (algo === 'CRC32' && f.checksums.xcrc) out.push(algo);
    }
    return out;
  }

  /**
   * A file's checksum, lower-case hex. draft-bryan-ftpext-hash HASH (after
   * OPTS HASH selects the algorithm) where advertised, else the older
   * XSHA512/XSHA256/XSHA1/XMD5/XCRC commands.
   */
  async checksum(path: string, algorithm: string): Promise<string> {
    return this.exclusive(async () => {
      const f = this.features;
      const inHash = (f.hash?.algorithms ?? []).some((a) => a.toUpperCase() === algorithm);
      let r: FtpReply;
      if (inHash) {
        if (f.hash?.selected?.toUpperCase() !== algorithm) {
          await this.request('OPTS', `HASH ${algorithm}`);
          if (f.hash) f.hash.selected = algorithm;
        }
        r = await this.request('HASH', path, { timeoutMs: Math.max(this.server.timeouts.command, 120_000) });
        // "213 SHA-256 0-49 <hex> filename"
        const m = /\b([0-9a-fA-F]{8,128})\b/.exec(r.message.replace(/^\S+\s+\S+\s+/, ''));
        if (!m) throw new FtpProtocolError(`${this.label}: cannot read HASH reply: ${r.message}`);
        return m[1].toLowerCase();
      }
      const command = { 'SHA-512': 'XSHA512', 'SHA-256': 'XSHA256', 'SHA-1': 'XSHA1', MD5: 'XMD5', CRC32: 'XCRC' }[algorithm];
      if (!command) throw new FtpProtocolError(`${this.label}: unknown checksum algorithm ${algorithm}`);
      r = await this.request(command, path, { timeoutMs: Math.max(this.server.timeouts.command, 120_000) });
      const m = /\b([0-9a-fA-F]{8,128})\b/.exec(r.message);
      if (!m) throw new FtpProtocolError(`${this.label}: cannot read ${command} reply: ${r.message}`);
      return m[1].toLowerCase();
    });
  }

  // ---- data connections opened by the client itself ----

  /**
   * PASV (or EPSV) for a data connection we open ourselves. RFC 2428 §3:
   * the 229 reply has only a port, which pairs with the control peer's address.
   * A private address in a 227 is replaced by the control peer's (NAT case).
   */
  async passiveAddress(signal?: AbortSignal): Promise<HostPort> {
    const peer = this.channel.remoteAddress;
    if (net.isIPv6(peer)) {
      const r = await this.request('EPSV', undefined, { signal });
      return { host: peer, port: parseEpsvReply(r.message) };
    }
    try {
      const r = await this.request('PASV', undefined, { signal });
      const hp = parsePasvReply(r.message);
      return { host: resolvePasvHost(hp.host, peer, this.server.fixPasvAddress), port: hp.port };
    } catch (err) {
      if (!(err instanceof FtpReplyError)) throw err;
      const r = await this.request('EPSV', undefined, { signal });
      return { host: peer, port: parseEpsvReply(r.message) };
    }
  }

  /**
   * Run `command arg` with a data connection opened by the client. Passive:
   * connect first, then the command. Active (dataMode 'active'): listen, PORT
   * or EPRT, the command, then accept the server's connection. Under PROT P
   * the client is the TLS client either way (RFC 4217 §7), resuming the
   * control connection's TLS session (vsftpd requires reuse).
   * The caller reads or writes `socket`, then awaits `finish()` for the 226.
   * Must run inside `exclusive`.
   */
  async openData(command: string, arg: string | undefined, opts: { rest?: number; signal?: AbortSignal } = {}): Promise<DataStream> {
    await this.ensureType('I');
    if (wantsPret(this.state.kind, this.features.pret)) await this.request('PRET', arg === undefined ? command : `${command} ${arg}`);
    const shown = arg === undefined ? command : `${command} ${arg}`;
    let tcp: net.Socket | undefined;
    let listener: Awaited<ReturnType<typeof listenActive>> | undefined;
    if (this.server.dataMode === 'active') {
      listener = await listenActive(this, this.server.timeouts.data);
      try {
        await this.request(listener.command, listener.argument, { signal: opts.signal });
      } catch (err) {
        listener.close();
        throw err;
      }
    } else {
      tcp = await connectData(await this.passiveAddress(opts.signal), this.server.timeouts.data, this.label);
    }
    try {
      if (opts.rest) await this.request('REST', String(opts.rest));
      this.send(command, arg);
      const mark = await this.reply(this.server.timeouts.command, opts.signal, `reply to ${command}`);
      if (mark.code >= 300) throw new FtpReplyError(mark.code, shown, mark.lines);
      if (listener) {
        // A first reply of 2xx means the server sent nothing and will not connect.
        tcp = mark.code < 200 ? await listener.accept() : emptySocket();
      }
      let socket: net.Socket = tcp!;
      if (this.protection === 'P' && this.tlsOptions && mark.code < 200) {
        try {
          const secure = await tlsHandshake(
            { ...this.tlsOptions, socket: tcp, session: this.channel.tlsSession },
            this.server.timeouts.data,
            `${this.label} data`,
          );
          // A resumed session carries no certificate: it is bound to the
          // control connection's handshake, which was verified (or pinned).
          if (!secure.isSessionReused()) verifyPeer(secure, this.server);
          socket = secure;
        } catch (err) {
          throw asTlsError(err, this.server);
        }
      }
      const finish = async (): Promise<FtpReply> => {
        // 1xx mark then 226/250 on success. A 2xx as the *first* reply means no data (some servers, empty dirs).
        if (mark.code >= 200) return mark;
        const r = await this.reply(this.server.timeouts.data, opts.signal, `end of ${command}`);
        if (r.code >= 300) throw new FtpReplyError(r.code, shown, r.lines);
        return r;
      };
      return { socket, finish };
    } catch (err) {
      tcp?.destroy();
      listener?.close();
      throw err;
    }
  }

  /**
   * List a directory: MLSD (RFC 3659 §7, exact facts) when the server has it,
   * else LIST -a (approximate dates). The choice is remembered per server.
   * A listing that ends without its 226 is an error, never a short list.
   */
  async list(path: string, signal?: AbortSignal): Promise<ListEntry[]> {
    return this.exclusive(async () => {
      const useMlsd = this.state.listing ? this.state.listing === 'MLSD' : this.features.mlsd;
      if (useMlsd) {
        try {
          const { text } = await this.readData('MLSD', path, signal);
          this.state.listing = 'MLSD';
          return parseMlsd(text);
        } catch (err) {
          // 500/502: MLSD not understood after all. Any other refusal is about the path.
          if (!(err instanceof FtpReplyError) || (err.replyCode !== 500 && err.replyCode !== 502) || this.state.listing) throw err;
        }
      }
      this.state.listing = 'LIST';
      // LIST arguments are passed to ls-like globbing by several servers, so a
      // name with spaces or brackets breaks it: CWD there and list ".".
      await this.request('CWD', path, { signal });
      const { text, reply } = await this.readData('LIST', '-a', signal);
      // vsftpd answers an unreadable directory with an empty listing and
      // "226 Transfer done (but failed to open directory)." — that is a failure.
      if (/failed to open directory/i.test(reply.message)) {
        throw new FtpReplyError(550, `LIST ${path}`, reply.lines);
      }
      return parseList(text);
    });
  }

  private async readData(command: string, arg: string | undefined, signal?: AbortSignal): Promise<{ text: string; reply: FtpReply }> {
    const data = await this.openData(command, arg, { signal });
    const chunks: Buffer[] = [];
    await readAll(data.socket, chunks, this.server.timeouts.data, this.label);
    const reply = await data.finish();
    return { text: Buffer.concat(chunks).toString('utf8'), reply };
  }

  /** QUIT politely (bounded), then close. Never throws. */
  async close(): Promise<void> {
    if (this.channel.closed) return;
    try {
      await this.exclusive(async () => {
        this.channel.send('QUIT');
        await this.channel.nextReply(1000, undefined, 'reply to QUIT');
      });
    } catch {
      /* closing anyway */
    }
    this.channel.close();
  }

  /** Close at once with a cause (used when a transfer leaves the connection in an unknown state). */
  destroy(cause?: Error): void {
    this.channel.close(cause);
  }
}

function readAll(socket: net.Socket, chunks: Buffer[], idleMs: number, label: string): Promise<void> {
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
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('end', () => {
      socket.setTimeout(0);
      socket.destroy();
      resolve();
    });
  });
}

function connectData(hp: HostPort, timeoutMs: number, label: string): Promise<net.Socket> {
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

/**
 * Active mode for client-side data: listen on our control address, send
 * PORT/EPRT, accept one connection. Connections are captured from the moment
 * we listen: a server may connect before it sends its 150 mark.
 */
export async function listenActive(conn: FtpConnection, timeoutMs: number): Promise<{ argument: string; command: 'PORT' | 'EPRT'; accept(): Promise<net.Socket>; close(): void }> {
  const local = conn.channel.localAddress;
  const peer = conn.channel.remoteAddress;
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
  const v6 = net.isIPv6(local);
  return {
    argument: v6 ? encodeEprtArgument({ host: local, port }) : encodePortArgument({ host: local, port }),
    command: v6 ? 'EPRT' : 'PORT',
    accept: () =>
      new Promise((resolve, reject) => {
        if (arrived) return resolve(arrived);
        const timer = setTimeout(() => {
          server.close();
          reject(new FtpTimeoutError(`${conn.label}: server did not connect to our data port within ${formatMs(timeoutMs)}`));
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

async function openSocket(server: ServerOptions, tlsOptions: tls.ConnectionOptions | undefined, signal?: AbortSignal): Promise<net.Socket> {
  const timeout = server.timeouts.connect;
  const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  const plain = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FtpTimeoutError(`${server.name}: connecting to ${where} timed out after ${formatMs(timeout)}`));
    }, timeout);
    const onAbort = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new FtpConnectError(`${server.name}: connect aborted`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new FtpConnectError(`${server.name}: cannot connect to ${where}: ${connectFailureReason(err)}`, { cause: err }));
    };
    socket.once('error', onError);
  });
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

/** A data "socket" that has already ended: for a 2xx reply that comes with no data connection. */
function emptySocket(): net.Socket {
  const s = new net.Socket();
  s.push(null);
  return s;
}
