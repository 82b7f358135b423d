/**
 * A scripted FTP server, in-process, for unit tests: by default a small sane
 * server over an in-memory tree (ftp-commands.ts), and every command can be
 * made to answer anything, late, in pieces, or to close the connection. It
 * records every command per session and every data connection, so tests
 * assert on what fxpmirror really sent.
 *
 *   const srv = await ScriptedFtpServer.start({ host: '127.0.9.1', files: { '/src/a.txt': 'hi' } });
 *   srv.on('RETR', '425 no data today');                  // one reply
 *   srv.on('PASV', { delayMs: 200 });                      // the default, late
 *   srv.on('USER', (ctx) => { ctx.write('33'); ... });      // anything
 *   ...
 *   await srv.close();
 *
 * It listens on port 0 (parallel worktrees run tests at once) on any 127.x
 * address; close() ends every session, listener and data socket.
 */
import net from 'node:net';
import { MemoryTree } from './memory-tree.js';
import type { DataRecord } from './ftp-data.js';
import { DEFAULT_COMMANDS, DEFAULT_FEATURES } from './ftp-commands.js';
import { Session, formatReply, type CommandContext, type Handler, type ReplyText, type ScriptedServerOptions } from './ftp-session.js';
import { DEFAULT_TIMEOUTS, type ServerOptions } from '../../src/ftp/options.js';

export { DEFAULT_FEATURES, Session, formatReply };
export type { CommandContext, Handler, ReplyText, ScriptedServerOptions };

export class ScriptedFtpServer {
  readonly tree: MemoryTree;
  readonly sessions: Session[] = [];
  /** Every data connection of every session, in the order they were made. */
  readonly dataConnections: DataRecord[] = [];
  readonly options: ScriptedServerOptions;
  private handlers = new Map<string, Handler>();
  private server: net.Server;
  private port = 0;

  private constructor(options: ScriptedServerOptions) {
    this.options = options;
    this.tree = new MemoryTree(options.files);
    for (const [verb, h] of Object.entries(options.handlers ?? {})) this.on(verb, h);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(options: ScriptedServerOptions = {}): Promise<ScriptedFtpServer> {
    const srv = new ScriptedFtpServer(options);
    await new Promise<void>((resolve, reject) => {
      srv.server.once('error', reject);
      srv.server.listen(0, srv.host, () => resolve());
    });
    srv.port = (srv.server.address() as net.AddressInfo).port;
    return srv;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** ftp://user:password@host:port/path (percent-encoded user and password). */
  url(path = '/'): string {
    const u = encodeURIComponent(this.options.user ?? 'user');
    const p = encodeURIComponent(this.options.password ?? 'pass');
    return `ftp://${u}:${p}@${this.host}:${this.port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** ServerOptions for src/ftp's FtpConnection.connect / ConnectionPool, with short timeouts. */
  clientOptions(overrides: Partial<ServerOptions> = {}): ServerOptions {
    return {
      name: `${this.host}:${this.port}`,
      host: this.host,
      port: this.port,
      user: this.options.user ?? 'user',
      password: this.options.password ?? 'pass',
      tls: 'none',
      tlsOptions: { verify: true },
      timeouts: { ...DEFAULT_TIMEOUTS, connect: 3000, command: 3000, data: 3000 },
      trustPasvAddress: false,
      maxConnections: 4,
      ...overrides,
    };
  }

  /** Answer `verb` with `handler` from now on; undefined restores the default. */
  on(verb: string, handler: Handler | undefined): this {
    if (handler === undefined) this.handlers.delete(verb.toUpperCase());
    else this.handlers.set(verb.toUpperCase(), handler);
    return this;
  }

  /** Every command of every session, "<session> <line>". */
  get commands(): string[] {
    return this.sessions.flatMap((s) => s.commands.map((c) => `${s.id} ${c}`));
  }

  /** Command lines (all sessions) whose verb is one of `verbs`. */
  sent(...verbs: string[]): string[] {
    const want = verbs.map((v) => v.toUpperCase());
    return this.sessions.flatMap((s) => s.commands.filter((c) => want.includes(c.split(' ')[0].toUpperCase())));
  }

  /** Ends every session, listener and data connection. */
  async close(): Promise<void> {
    for (const s of this.sessions) {
      s.data.destroy();
      s.socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const session = new Session(this.sessions.length + 1, socket, (r) => this.dataConnections.push(r));
    this.sessions.push(session);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => session.data.destroy());
    const g = this.options.greeting ?? '220 scripted FTP server ready';
    this.write(session, Buffer.isBuffer(g) ? g : formatReply(g));
    // Commands run one at a time, in order, even when the client pipelines
    // them; ABOR alone is taken at once, as a server watching its control
    // connection during a transfer does (RFC 959 §4.1.3).
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      if (session.frozen) return;
      buffer += chunk.toString('utf8');
      const arrived: string[] = [];
      if (buffer.includes('\n')) session.reads.push(arrived);
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        arrived.push(line);
        session.arrivals.push({ line, at: Date.now() });
        if (/^ABOR\b/i.test(line) && !this.handlers.has('ABOR')) {
          void this.abort(session, line);
          continue;
        }
        session.busy = session.busy.then(() => this.dispatch(session, line)).catch(() => {
          socket.destroy();
        });
      }
    });
  }

  /**
   * ABOR (RFC 959 §4.1.3): the running transfer's data connection is
   * closed, that transfer answers 426, then ABOR itself 226 (225 when none ran).
   */
  private async abort(session: Session, line: string): Promise<void> {
    session.commands.push(line);
    const running = session.data.active;
    if (running) {
      session.aborted = true;
      session.data.destroy();
    }
    await session.busy;
    session.aborted = false;
    if (!session.frozen && !session.socket.destroyed) this.write(session, formatReply(running ? '226 ABOR command successful.' : '225 No transfer to ABOR.'));
  }

  /** Write to the client, `latencyMs` later when set (the same delay for every write keeps them in order). */
  private write(session: Session, raw: string | Buffer): void {
    const ms = this.options.latencyMs ?? 0;
    if (ms <= 0) {
      session.socket.write(raw);
      return;
    }
    setTimeout(() => {
      if (!session.socket.destroyed) session.socket.write(raw);
    }, ms);
  }

  private async dispatch(session: Session, line: string): Promise<void> {
    if (session.socket.destroyed || session.frozen) return;
    session.commands.push(line);
    const space = line.indexOf(' ');
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const arg = space === -1 ? '' : line.slice(space + 1);
    const ctx: CommandContext = {
      server: this,
      session,
      verb,
      arg,
      line,
      reply: (text) => {
        if (!session.socket.destroyed && !session.frozen) this.write(session, formatReply(text));
      },
      write: (raw) => {
        if (!session.socket.destroyed && !session.frozen) this.write(session, raw);
      },
      fallback: () => this.runDefault(ctx),
      close: () => {
        session.data.destroy();
        session.socket.destroy();
      },
    };
    const h = this.handlers.get(verb);
    if (h === undefined) return this.runDefault(ctx);
    if (typeof h === 'string' || Array.isArray(h)) return ctx.reply(h);
    if (typeof h === 'function') {
      const r = await h(ctx);
      if (r !== undefined) ctx.reply(r);
      return;
    }
    if (h.delayMs) await new Promise((r) => setTimeout(r, h.delayMs));
    if (h.reply !== undefined) ctx.reply(h.reply);
    else await this.runDefault(ctx);
    if (h.close) ctx.close();
  }

  private async runDefault(ctx: CommandContext): Promise<void> {
    const open = ['USER', 'PASS', 'QUIT', 'FEAT', 'SYST', 'NOOP', 'OPTS'];
    if (!ctx.session.loggedIn && !open.includes(ctx.verb)) return ctx.reply('530 Please login with USER and PASS.');
    const fn = DEFAULT_COMMANDS[ctx.verb];
    if (!fn) return ctx.reply(`500 ${ctx.verb} not understood.`);
    await fn(ctx);
  }
}
