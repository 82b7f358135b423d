import type net from 'node:net';
import { ControlChannel, tlsHandshake } from './channel.js';
import type { FtpReply } from './reply.js';
import type { Listing } from './names.js';
import { listDirectory, type ListOptions } from './list-command.js';
import type { ArgOf, ContainedPath } from './remote-path.js';
import type { HostPort } from './address.js';
import {
  MTIME_METHODS,
  mtimeCommand,
  pretCommand,
  restCommand,
  type Command,
  type MtimeMethod,
} from './commands.js';
import { parseTimeVal } from './timeval.js';
import { FtpProtocolError, FtpReplyError, type FtpError } from './errors.js';
import type { ServerOptions } from './options.js';
import { wantsPret } from './software.js';
import { asTlsError, buildTlsOptions, verifyPeer } from './tls-policy.js';
import { openSocket, type ControlSocket } from './socket.js';
import { connectData, dataError, emptySocket, listenActive, type ActiveListener, type DataOptions, type DataStream } from './data.js';
import { finished } from 'node:stream/promises';
import { FtpSession, type ConnectContext } from './session.js';

export type { ConnectContext, DataProtection, FtpNote, ServerState } from './session.js';
export type { DataOptions, DataStream } from './data.js';

/**
 * One FTP control connection: the login session (session.ts) plus the file
 * and directory commands and the data connections the client opens itself.
 */
export class FtpConnection extends FtpSession {
  /** Connect, greet, optionally secure, log in, read FEAT. Throws typed errors only. */
  static async connect(server: ServerOptions, ctx: ConnectContext = {}): Promise<FtpConnection> {
    const state = ctx.state ?? {};
    const tlsOptions = server.tls === 'none' ? undefined : buildTlsOptions(server);
    let socket: ControlSocket;
    try {
      socket = await openSocket(server, tlsOptions, ctx.signal);
    } catch (err) {
      ctx.onGreeting?.();
      throw err;
    }
    const channel = new ControlChannel(socket.socket, server.name, ctx.wireLog, socket.inbox);
    const conn = new FtpConnection(channel, server, state, tlsOptions, ctx.onNote);
    try {
      await conn.handshake(ctx.signal, ctx.onGreeting);
    } catch (err) {
      ctx.onGreeting?.();
      channel.close(err as Error);
      throw err;
    }
    return conn;
  }

  /**
   * The command that sets a file's mtime on this server, once setMtime has
   * learned which one works; undefined while unknown or unsupported.
   */
  mtimeCommand(path: ContainedPath, mtime: Date): Command | undefined {
    const m = this.state.mtime;
    return m === undefined || m === 'none' ? undefined : mtimeCommand(m, path, mtime);
  }

  /**
   * Before anything is learned: MFMT where advertised, to try in a batch
   * with other commands. When it works, mtimeWorked('MFMT') records it;
   * when not, setMtime() learns the method the slow way.
   */
  mtimeGuess(path: ContainedPath, mtime: Date): Command | undefined {
    return this.state.mtime === undefined && this.features.mfmt ? mtimeCommand('MFMT', path, mtime) : undefined;
  }

  mtimeWorked(method: MtimeMethod): void {
    this.state.mtime = method;
  }

  // ---- simple commands (each one takes the queue) ----

  /** `request` inside `exclusive`: one command and its final reply, for callers that hold no queue (see session.ts). */
  cmd<C extends string>(command: C, arg?: ArgOf<C>, signal?: AbortSignal): Promise<FtpReply> {
    return this.exclusive(() => this.request(command, arg, { signal }));
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
    return parseTimeVal(r.message)?.date;
  }

  /**
   * Set a file's mtime. Servers disagree on how, so try the methods of
   * MTIME_METHODS in order (MFMT only where advertised) and remember what
   * worked for the server. Returns false when the server can do none of them.
   */
  async setMtime(path: ContainedPath, mtime: Date): Promise<boolean> {
    if (this.state.mtime === 'none') return false;
    const known = this.state.mtime;
    const order = known ? [known] : MTIME_METHODS.filter((m) => m !== 'MFMT' || this.features.mfmt);
    return this.exclusive(async () => {
      for (const method of order) {
        try {
          const r = await this.request(...mtimeCommand(method, path, mtime));
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

  /**
   * MKD; with `recursive`, create missing parents first (one MKD per missing
   * level). The parents are prefixes of `path`: only the way to a contained
   * path is created (a target root's missing ancestors), never a sibling.
   */
  mkdir(path: ContainedPath, recursive = false): Promise<void> {
    return this.mkdirs(path, recursive);
  }

  /**
   * One MKD per path, all in one write (a directory's new subdirectories,
   * tree/execute.ts), each reply judged on its own: one result per path,
   * its reply or its error, never thrown. MKD is answered by exactly one
   * reply (RFC 959 §4.2, 257 or a refusal), as pipelineEach requires. No
   * parents are made: the caller's paths share an existing parent.
   */
  mkdirEach(paths: readonly ContainedPath[]): Promise<(FtpReply | FtpError)[]> {
    return this.exclusive(() => Promise.all(this.pipelineEach(paths.map((p): Command => ['MKD', p]))));
  }

  private async mkdirs(path: ContainedPath, recursive: boolean): Promise<void> {
    try {
      await this.cmd('MKD', path);
    } catch (err) {
      if (!recursive || !(err instanceof FtpReplyError)) throw err;
      // A prefix of a contained path: the way to it, not a place beside it.
      const parent = path.replace(/\/+[^/]*\/*$/, '') as ContainedPath;
      if (!parent || parent === path) throw err;
      if (!(await this.isDirectory(parent))) await this.mkdirs(parent, true);
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

  rmdir(path: ContainedPath): Promise<FtpReply> {
    return this.cmd('RMD', path);
  }

  delete(path: ContainedPath): Promise<FtpReply> {
    return this.cmd('DELE', path);
  }

  /** RFC 959 §4.1.3: RNFR must be answered 350 before RNTO. */
  rename(from: ContainedPath, to: ContainedPath): Promise<void> {
    return this.exclusive(async () => {
      await this.request('RNFR', from);
      await this.request('RNTO', to);
    });
  }

  noop(): Promise<FtpReply> {
    return this.cmd('NOOP');
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

  // ---- data connections opened by the client itself ----

  /** PASV (else EPSV) for a data connection we open ourselves; see passiveTarget in session.ts for the address. */
  async passiveAddress(signal?: AbortSignal): Promise<HostPort> {
    return (await this.passiveWithFallback(false, signal)).hp;
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
  async openData<C extends string>(
    command: C,
    // What STOR and APPE write to must have been built by containedPath().
    arg: ArgOf<C> | undefined,
    opts: DataOptions = {},
  ): Promise<DataStream> {
    await this.ensureType('I');
    if (wantsPret(this.state.kind, this.features.pret)) await this.request(...pretCommand([command, arg]));
    const shown = arg === undefined ? command : `${command} ${arg}`;
    const then = opts.then ?? [];
    let tcp: net.Socket | undefined;
    let listener: ActiveListener | undefined;
    if (this.server.dataMode === 'active') {
      listener = await listenActive(this.channel, this.label, this.server.timeouts.data);
      try {
        const [verb, portArg] = listener.command;
        await this.request(verb, portArg, { signal: opts.signal });
      } catch (err) {
        listener.close();
        throw err;
      }
    } else {
      tcp = (await opts.data) ?? (await connectData(await this.passiveAddress(opts.signal), this.server.timeouts.data, this.label));
      // We never write on it: our FIN now tells a server that waits for the client's close before its 226 (proftpd) that it may go on.
      if (opts.halfClose && this.dataProtection !== 'P') tcp.end();
    }
    const thenReplies: FtpReply[] = [];
    // The replies to `then`, which come after the command's final one (RFC 959 §4.2: in order).
    const readThen = async () => {
      for (const [verb] of then) {
        let r: FtpReply;
        do r = await this.reply(this.server.timeouts.command, opts.signal, `reply to ${verb}`);
        while (r.code < 200);
        thenReplies.push(r);
      }
    };
    // A 1xx mark came: the final reply (226, 426) is still to come.
    let marked = false;
    try {
      if (opts.rest) await this.request(...restCommand(opts.rest));
      if (then.length) this.sendBatch([[command, arg], ...then]);
      else this.send(command, arg);
      const mark = await this.reply(this.server.timeouts.command, opts.signal, `reply to ${command}`);
      if (mark.code >= 300) {
        await readThen().catch(() => undefined);
        throw new FtpReplyError(mark.code, shown, mark.lines);
      }
      marked = mark.code < 200;
      if (listener) {
        // A first reply of 2xx: the server sent nothing and will not connect; stop listening.
        if (!marked) listener.close();
        tcp = marked ? await listener.accept() : emptySocket();
      }
      let socket: net.Socket = tcp!;
      if (this.dataProtection === 'P' && this.tlsOptions && mark.code < 200) {
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
      const finish = async (timeoutMs = this.server.timeouts.data): Promise<FtpReply> => {
        // 1xx mark then 226/250 on success. A 2xx as the *first* reply means no data (some servers, empty dirs).
        const r = mark.code >= 200 ? mark : await this.reply(timeoutMs, opts.signal, `end of ${command}`);
        await readThen();
        if (r.code >= 300) throw new FtpReplyError(r.code, shown, r.lines);
        return r;
      };
      return { socket, finish, then: thenReplies };
    } catch (err) {
      tcp?.destroy();
      listener?.close();
      // Its final reply would answer our next command (ftp-srv's 226 after we refused its data connection).
      if (marked) this.destroy(err instanceof Error ? err : undefined);
      throw err;
    }
  }

  /**
   * Store a small file (probe's test file, the remote lock's owner file)
   * over a data connection of our own: STOR, the bytes, the 226. `path` must
   * have been built by containedPath(). Takes the queue.
   */
  upload(path: ContainedPath, data: Buffer | string): Promise<void> {
    return this.exclusive(async () => {
      const stor = await this.openData('STOR', path);
      try {
        // finished() also sees a reset that came before we wrote (the socket keeps its error).
        stor.socket.end(data);
        await finished(stor.socket, { readable: false });
      } catch (err) {
        stor.socket.destroy();
        // The server's reply says more than our socket error (426, 452 disk full...): it wins.
        await stor.finish();
        throw dataError(this.label, err as Error);
      }
      await stor.finish();
    });
  }

  /** List a directory (list-command.ts). */
  list(path: string, opts: ListOptions = {}): Promise<Listing> {
    return listDirectory(this, path, opts);
  }
}
