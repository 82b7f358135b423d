/**
 * The login session of one control connection: greeting, AUTH TLS, USER/PASS/
 * ACCT, PBSZ/PROT, FEAT; the command queue (`exclusive`), the raw command and
 * reply primitives, and the per-connection protocol state the server keeps
 * for us (TYPE, PROT, SSCN). connection.ts builds the file and directory
 * commands and the client's data connections on top of it.
 */
import type { ArgOf } from './remote-path.js';
import type tls from 'node:tls';
import type { ControlChannel } from './channel.js';
import type { FtpReply } from './reply.js';
import { parseFeatReply, emptyFeatures, type Features } from './feat.js';
import { choosePasvAddress, parseEpsvReply, parsePasvReply, type HostPort } from './address.js';
import { isExtendedPassive, keepsDataConnection, sscnCommand, type PassiveVerb } from './commands.js';
import { FtpError, FtpLoginError, FtpProtocolError, FtpReplyError, assertSafeArgument } from './errors.js';
import type { ServerOptions } from './options.js';
import { identifyServer } from './software.js';
import { monotonicMs } from './wait.js';
import type { DataProtection, FtpNote, ServerState } from './server-state.js';

export type { ConnectContext, DataProtection, FtpNote, ServerState } from './server-state.js';
import { asTlsError, verifyPeer } from './tls-policy.js';

function isPositive(code: number): boolean {
  return code >= 100 && code < 400;
}

/**
 * One FTP control connection's session. Callers are serialised by a queue
 * (never rejected): every public operation runs inside `exclusive`, one at a
 * time. The FXP engine leases two connections from their pools and speaks to
 * them through the raw primitives below (send, reply, request, pipeline).
 */
export class FtpSession {
  readonly server: ServerOptions;
  readonly state: ServerState;
  features: Features = emptyFeatures();
  greeting = '';
  private tail: Promise<unknown> = Promise.resolve();
  /** Callers of `exclusive` whose turn has not ended (idle). */
  private queued = 0;
  private currentType: string | undefined;
  /** RFC 4217 §9: data is clear until PROT P; handshake() sends PROT P on TLS connections. */
  private protection: DataProtection | undefined;
  /** SSCN state (TLS-FXP): when on, this server is the TLS client of its data connections. */
  private sscn = false;
  /**
   * Commands sent so far that may set up, use or reset a data connection
   * (commands.ts, keepsDataConnection): a PASV asked ahead is good while
   * this stays the same (fxp/state.ts).
   */
  dataCommandsSent = 0;

  protected constructor(
    readonly channel: ControlChannel,
    server: ServerOptions,
    state: ServerState,
    /** The control connection's TLS options; data connections under PROT P use them too. */
    protected readonly tlsOptions: tls.ConnectionOptions | undefined,
    private readonly onNote?: (note: FtpNote) => void,
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

  /** Whether SSCN ON is in effect (this server is the TLS client of its data connections). */
  get sscnOn(): boolean {
    return this.sscn;
  }

  /** Greeting, TLS, login, PBSZ/PROT, FEAT. Throws typed errors only. */
  protected async handshake(signal?: AbortSignal, onGreeting?: () => void): Promise<void> {
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
    // TYPE I rides with FEAT: every transfer and listing is binary here
    // (ensureType), so it costs no round trip of its own.
    const [feat, type] = await this.pipeline([['FEAT'], ['TYPE', 'I']]);
    if (feat instanceof FtpError && !(feat instanceof FtpReplyError)) throw feat;
    if (type instanceof FtpError && !(type instanceof FtpReplyError)) throw type;
    if (!(type instanceof FtpError)) this.currentType = 'I';
    this.features = !(feat instanceof FtpError) && feat.code === 211 ? parseFeatReply(feat.lines) : emptyFeatures();
    // RFC 2640 §3.1: OPTS UTF8 ON where advertised, so names with UTF-8
    // travel as UTF-8. Not waited for: its reply takes its place in the
    // reply queue now (pipelineEach), so it is read, whatever it says, before
    // the reply to the connection's first command, which goes out behind it
    // in the same round trip. A 1xx mark to it would put the replies out of
    // step: that closes the connection (channel.ts).
    if (this.features.utf8) void this.pipelineEach([['OPTS UTF8 ON']]);
  }

  private async login(signal?: AbortSignal): Promise<void> {
    // USER and PASS go out together: one round trip, not two. Replies come
    // in order (RFC 959 §4.2); a server that needs no password (230 to USER)
    // or refuses the user answers PASS with 503 or the like, read and dropped.
    this.send('USER', this.server.user);
    this.channel.send(`PASS ${this.server.password}`, 'PASS ***');
    let reply = await this.finalReply(signal, 'reply to USER');
    // After a 331, PASS's reply is the login's answer; after anything else it
    // only keeps the conversation in step (a server that answered USER with
    // 421 or 530 may have closed the connection already).
    const pass = this.finalReply(signal, 'reply to PASS');
    if (reply.code === 331) reply = await pass;
    else await pass.catch(() => undefined);
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
  }

  // ---- the command primitives ----
  //
  // How they differ (the FXP engine and probe use the raw ones, inside
  // `exclusive`, because they drive two servers at once and read replies out
  // of step with what they sent):
  // - send / sendBatch: write command lines, read nothing;
  // - reply: read the next reply in arrival order, whatever command it answers;
  // - request: send one command and read its FINAL reply (past 1xx marks),
  //   throwing FtpReplyError for a refusal;
  // - pipeline: send several commands in one write, then read each final
  //   reply; a refusal or a lost connection is that command's result, never thrown;
  // - pipelineEach: the same, but it returns at once, one promise per reply,
  //   so the caller (or the next user of the connection) may send more
  //   before they arrive;
  // - FtpConnection.cmd: `request` inside `exclusive`, for callers that hold no queue.

  /** Serialise callers: `fn` runs when every earlier caller is done. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(fn, fn);
    this.tail = run.then(this.dequeued, this.dequeued);
    return run;
  }

  /** Nothing runs or waits in the queue now: a caller that sends without awaiting anything runs as if it had taken it. */
  get idle(): boolean {
    return this.queued === 0;
  }

  private readonly dequeued = (): void => {
    this.queued--;
  };

  /** Write one command, read nothing (inside exclusive). Arguments are checked for CR/LF/NUL. */
  send<C extends string>(command: C, arg?: ArgOf<C>): void {
    if (arg !== undefined) assertSafeArgument(arg, argumentOf, command);
    this.channel.send(arg === undefined ? command : `${command} ${arg}`);
    if (!keepsDataConnection(command)) this.dataCommandsSent++;
  }

  /** Write several commands in one write, read nothing (inside exclusive); every argument is checked before anything is sent. */
  sendBatch<const T extends readonly string[]>(commands: { [K in keyof T]: [T[K], ArgOf<T[K]>?] }): void {
    this.sendLines(commands);
  }

  /**
   * Read the next reply in arrival order (inside exclusive), 1xx marks
   * included. A deadline or an abort closes the connection: a late reply
   * would otherwise answer the next command.
   */
  reply(timeoutMs = this.server.timeouts.command, signal?: AbortSignal, what?: string): Promise<FtpReply> {
    return this.channel.nextReply(timeoutMs, signal, what ?? 'reply');
  }

  /**
   * Send a command and return its final reply, reading past 1xx marks.
   * Anything not accepted (default: 1xx-3xx) throws FtpReplyError with every line.
   */
  async request<C extends string>(
    command: C,
    arg?: ArgOf<C>,
    opts: { signal?: AbortSignal; timeoutMs?: number; accept?: (code: number) => boolean } = {},
  ): Promise<FtpReply> {
    const sent = monotonicMs();
    this.send(command, arg);
    const shown = arg === undefined ? command : `${command} ${arg}`;
    let reply = await this.reply(opts.timeoutMs ?? this.server.timeouts.command, opts.signal, `reply to ${command}`);
    this.noteRtt(sent);
    while (reply.code < 200) reply = await this.reply(opts.timeoutMs ?? this.server.timeouts.command, opts.signal, `reply to ${command}`);
    if (!(opts.accept ?? isPositive)(reply.code)) throw new FtpReplyError(reply.code, shown, reply.lines);
    return reply;
  }

  /**
   * Send several commands in one write, then read their final replies in
   * order. Replies come strictly in command order (RFC 959 §4.2), so this
   * saves a round trip per command; it is used only for short, independent
   * commands. Each result is the reply, its FtpReplyError, or the error that
   * ended the conversation (a reset, a timeout): a caller that needs only
   * the first replies keeps them when the connection dies before the last
   * (a PASV asked ahead after RNFR+RNTO). Every argument is checked before
   * anything is sent; that, and a closed connection, still throw.
   *
   * Only for commands a server completes before reading the next one: a
   * command that starts asynchronous work may be answered late (pyftpdlib
   * answers PORT after its data connection is up, after a pipelined STOR).
   */
  async pipeline<const T extends readonly string[]>(commands: { [K in keyof T]: [T[K], ArgOf<T[K]>?] }): Promise<(FtpReply | FtpError)[]> {
    const lines = this.sendLines(commands);
    const sent = monotonicMs();
    const out: (FtpReply | FtpError)[] = [];
    for (const line of lines) {
      try {
        let r: FtpReply;
        do r = await this.reply(this.server.timeouts.command, undefined, `reply to ${verbOfLine(line)}`);
        while (r.code < 200);
        if (out.length === 0) this.noteRtt(sent);
        out.push(r.code < 400 ? r : new FtpReplyError(r.code, line, r.lines));
      } catch (err) {
        if (!(err instanceof FtpError)) throw err;
        out.push(err);
      }
    }
    return out;
  }

  /**
   * pipeline() without waiting: the commands go out in one write, and one
   * promise per command comes back at once. Each takes its place in the
   * reply queue now, so replies to whatever is sent afterwards (by this
   * caller, or by the next user of the connection) are read after them:
   * RFC 959 §4.2 keeps replies in command order. The FXP engine sends a
   * file's rename this way and the next file's commands behind it
   * (fxp/publish.ts). Each promise resolves, never rejects, as pipeline()'s
   * results do.
   *
   * Only for commands answered by exactly one reply: a 1xx mark to one of
   * them would put every later reply out of step, so it closes the
   * connection (every pending reply then fails with that cause, checked
   * before any later reply is handed out: channel.ts).
   */
  pipelineEach<const T extends readonly string[]>(commands: { [K in keyof T]: [T[K], ArgOf<T[K]>?] }): Promise<FtpReply | FtpError>[] {
    const lines = this.sendLines(commands);
    const sent = monotonicMs();
    return lines.map((line, i) => {
      const verb = verbOfLine(line);
      return this.channel.settledReply(this.server.timeouts.command, `reply to ${verb}`, verb, (r): FtpReply | FtpError => {
        if (r instanceof Error) return r instanceof FtpError ? r : new FtpProtocolError(`${this.label}: ${String(r)}`, { cause: r });
        if (i === 0) this.noteRtt(sent);
        return r.code < 400 ? r : new FtpReplyError(r.code, line, r.lines);
      });
    });
  }

  /** The lines of `commands`, sent in one write once every argument passed the CR/LF/NUL check. */
  private sendLines(commands: readonly (readonly [string, string?])[]): string[] {
    // Indexed, without destructuring: see ControlChannel.onData.
    const lines: string[] = [];
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i][0];
      const a = commands[i][1];
      if (a !== undefined) assertSafeArgument(a, argumentOf, c);
      lines.push(a === undefined ? c : `${c} ${a}`);
    }
    this.channel.sendBatch(lines);
    for (let i = 0; i < commands.length; i++) if (!keepsDataConnection(commands[i][0])) this.dataCommandsSent++;
    return lines;
  }

  /** The next reply past 1xx marks, whatever its code (inside exclusive). */
  private async finalReply(signal: AbortSignal | undefined, what: string): Promise<FtpReply> {
    let reply: FtpReply;
    do reply = await this.reply(this.server.timeouts.command, signal, what);
    while (reply.code < 200);
    return reply;
  }

  /** A command sent at `sent` (monotonicMs()) got its first reply now: the round trip is at most that. */
  private noteRtt(sent: number): void {
    const ms = monotonicMs() - sent;
    if (this.state.rttMs === undefined || ms < this.state.rttMs) this.state.rttMs = ms;
  }

  /** TYPE is remembered, so a pool connection pays for it once, not once per file. */
  ensureType(type: 'I' | 'A'): Promise<void> {
    // Not an async function: asked for every file, and nearly always already set.
    if (this.currentType === type) return DONE;
    return this.request('TYPE', type).then(() => {
      this.currentType = type;
    });
  }

  /** RFC 4217 §9: PROT P (private) or C (clear) for following data connections. */
  async setProtection(level: DataProtection): Promise<void> {
    if (this.protection === level) return;
    await this.request('PROT', level);
    this.protection = level;
  }

  /** SSCN ON/OFF (TLS-FXP: who is the TLS client of the data connection), sent only when it changes. */
  async setSscn(on: boolean): Promise<void> {
    if (this.sscn === on) return;
    await this.request(...sscnCommand(on));
    this.sscn = on;
  }

  // ---- passive mode: the one place a PASV-family reply becomes an address ----

  /**
   * Send PASV, EPSV, CPSV or CEPR and return where the data connection goes
   * (for our own connection, or for the other server's PORT in FXP).
   */
  async passive(verb: PassiveVerb, signal?: AbortSignal): Promise<HostPort> {
    const r = await this.request(verb, undefined, { signal });
    return this.passiveTarget(verb, r);
  }

  /**
   * PASV, falling back to EPSV when PASV is refused (or EPSV alone with
   * `extended`, and always for an IPv6 peer, RFC 2428 §3). `extended` in the
   * result says which one answered: the active side's PORT or EPRT follows it.
   * When EPSV is refused too (or answers nonsense), PASV's refusal is thrown:
   * EPSV was only the fallback. A timeout or a closed connection is itself.
   */
  async passiveWithFallback(extended: boolean, signal?: AbortSignal): Promise<{ hp: HostPort; extended: boolean }> {
    if (extended || this.channel.remoteAddress.includes(':')) return { hp: await this.passive('EPSV', signal), extended: true };
    try {
      return { hp: await this.passive('PASV', signal), extended: false };
    } catch (err) {
      if (!(err instanceof FtpReplyError)) throw err;
      try {
        return { hp: await this.passive('EPSV', signal), extended: true };
      } catch (err2) {
        throw err2 instanceof FtpReplyError || err2 instanceof FtpProtocolError ? err : err2;
      }
    }
  }

  /**
   * The data address in a reply to `verb` (also for a PASV that was pipelined
   * with other commands). A 229 has only a port, which pairs with the control
   * peer (RFC 2428 §3). A 227's address is used only when it is the control
   * peer, or when the user trusts this server's PASV address; the first time a
   * server names another address, a note (or, when trusted, a warning) is given.
   */
  passiveTarget(verb: PassiveVerb, reply: FtpReply): HostPort {
    const peer = this.channel.remoteAddress;
    if (isExtendedPassive(verb)) return { host: peer, port: parseEpsvReply(reply.message) };
    const advertised = parsePasvReply(reply.message);
    const { hp, use } = choosePasvAddress(advertised, peer, this.server.trustPasvAddress);
    if (use !== 'same' && !this.state.pasvNoted) {
      this.state.pasvNoted = true;
      this.onNote?.(
        use === 'peer'
          ? { level: 'info', event: 'pasv-address', server: this.label, message: `${this.label} advertised ${advertised.host} in ${verb}; using its control address ${hp.host}` }
          : {
              level: 'warn',
              event: 'pasv-address',
              server: this.label,
              message: `${this.label} advertised ${advertised.host} in ${verb}, not its control address ${peer}; using it because this server's PASV address is trusted (trustPasvAddress)`,
            },
      );
    }
    return hp;
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

/** An already settled promise, for fast paths that have nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();

/** How a refused argument is named: "STOR argument" (never the argument itself). */
function argumentOf(command: string): string {
  return `${command} argument`;
}

/** A command line's verb, its first word. */
function verbOfLine(line: string): string {
  const space = line.indexOf(' ');
  return space === -1 ? line : line.slice(0, space);
}
