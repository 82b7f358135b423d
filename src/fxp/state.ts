import type { FtpConnection, ServerState } from '../ftp/connection.js';
import type { FtpReply } from '../ftp/reply.js';
import type { HostPort } from '../ftp/address.js';
import { holdsCommandsDuringRetr, marksAfterAccept, wantsPret } from '../ftp/software.js';

/** What FXP learns about one server (shared by all connections to it). */
interface ServerFacts {
  /** Passive for STOR, this server sends its 1xx only after the data connection arrives. */
  marksAfterAccept?: boolean;
  /** TLS-FXP: whether SSCN ON was accepted (undefined: not tried yet). */
  sscnWorks?: boolean;
  /** A transfer that gave this passive destination only a head start before the data (transfer.ts) failed: no more of those. */
  headStartFailed?: boolean;
  /** A plain PASV was answered with a usable 227 (true) or refused (false) in a transfer; undefined: not tried yet. */
  pasvWorks?: boolean;
}

/** A PASV reply asked ahead on a connection, for its next transfer. */
interface Ahead {
  hp: HostPort;
  /** The connection's count of commands that touch data connections (session.ts, dataCommandsSent) when it was asked: one more spoils it. */
  sent: number;
  at: number;
}

/**
 * A transfer running on a connection (FxpState.transferring). Its promise
 * is made only for someone who waits for its end (a rename checked
 * meanwhile: finish-later.ts), not for every transfer of a mirror.
 */
class TransferMark {
  private done = false;
  private promise: Promise<void> | undefined;
  private resolve: (() => void) | undefined;

  ended(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.promise ??= new Promise<void>((r) => (this.resolve = r));
    return this.promise;
  }

  end(): void {
    this.done = true;
    this.resolve?.();
  }
}

/** Well inside the servers' own passive accept timeouts (proftpd and vsftpd: 60 s or more). */
const AHEAD_MAX_MS = 5_000;

/**
 * What the FXP layer learns and keeps between transfers, owned by whoever
 * runs them (an FxpEngine for copy and mirror, a probe run) and handed to
 * every fxpTransfer. The ftp layer knows none of it: a connection only keeps
 * the protocol state its own commands set (TYPE, PROT, SSCN).
 *
 * Per server, keyed by the ServerState a pool's connections share: whether a
 * passive destination marks STOR only after the data connection arrives, and
 * whether SSCN works.
 *
 * Per connection, "PASV ahead": the passive side's address for the next
 * transfer, asked for while the previous file is still moving or being
 * checked, so a file costs one round trip less: on a passive source that
 * holds commands during RETR (vsftpd), in RETR's own write, answered right
 * after its 226 (transfer.ts); on another passive source, beside the
 * destination's SIZE+MFMT (engine.ts); on a passive destination, in the
 * same write after them (engine.ts). It is used only if no command that may touch a data
 * connection went over that connection since (a listing's own PASV, a PORT;
 * an MDTM, SIZE or rename does not: commands.ts), within AHEAD_MAX_MS, and for
 * a plain PASV layout; otherwise the next transfer sends its own PASV, which
 * replaces the unused listener (all four lab servers close a pending passive
 * port when a new PASV arrives: a connect to it is refused).
 *
 * Per connection, the replies still owed to a rename that went out
 * pipelined (publish.ts): a transfer that must close the connection waits
 * for them first, so that the file before it is not lost with it.
 *
 * Per connection, whether a transfer runs on it (from its first command
 * to its final replies): a rename checked meanwhile (finish-later.ts)
 * waits for its end, since proftpd answers a command that arrives during
 * a transfer with 450, pure-ftpd with 500.
 */
export class FxpState {
  private servers = new WeakMap<ServerState, ServerFacts>();
  private ahead = new WeakMap<FtpConnection, Ahead>();
  private owedReplies = new WeakMap<FtpConnection, Promise<void>>();
  /** Owed promises that stand for pipelined replies only (oweReply). */
  private repliesOnly = new WeakSet<Promise<void>>();
  private transfers = new WeakMap<FtpConnection, TransferMark>();

  private facts(conn: FtpConnection): ServerFacts {
    let f = this.servers.get(conn.state);
    if (!f) {
      f = {};
      this.servers.set(conn.state, f);
    }
    return f;
  }

  /** Learned, else known from the server's software (software.ts), else undefined. */
  marksAfterAccept(conn: FtpConnection): boolean | undefined {
    return this.facts(conn).marksAfterAccept ?? (conn.state.kind ? marksAfterAccept(conn.state.kind) : undefined);
  }

  learnMarksAfterAccept(conn: FtpConnection, value: boolean): void {
    this.facts(conn).marksAfterAccept = value;
  }

  sscnWorks(conn: FtpConnection): boolean | undefined {
    return this.facts(conn).sscnWorks;
  }

  learnSscn(conn: FtpConnection, works: boolean): void {
    this.facts(conn).sscnWorks = works;
  }

  /** Whether a passive destination that marks STOR at once may be given only a head start before the data (transfer.ts). */
  headStartAllowed(conn: FtpConnection): boolean {
    return this.facts(conn).headStartFailed !== true;
  }

  learnHeadStartFailed(conn: FtpConnection): void {
    this.facts(conn).headStartFailed = true;
  }

  /** Whether this server answered a transfer's plain PASV (stor-with-pasv.ts sends STOR behind it only then). */
  pasvWorks(conn: FtpConnection): boolean | undefined {
    return this.facts(conn).pasvWorks;
  }

  learnPasv(conn: FtpConnection, works: boolean): void {
    this.facts(conn).pasvWorks = works;
  }

  /** Replies of `conn` that a pipelined rename still waits for (publish.ts), or anything that must come first (stor-with-pasv.ts). */
  owe(conn: FtpConnection, ...replies: Promise<unknown>[]): void {
    this.oweOn(conn, replies, false);
  }

  /**
   * The reply to the last of commands sent pipelined on `conn`, owed
   * (finish-later.ts, publish.ts). Replies come in the order of their
   * commands (RFC 959 §4.2), the channel hands them out in arrival order
   * and a closed channel fails its waiters in that order too: it settles
   * after every reply sent before it. So it alone is owed for its batch,
   * and it replaces what was owed on `conn` when that was such replies
   * only (no Promise.all per file).
   */
  oweReply(conn: FtpConnection, reply: Promise<unknown>): void {
    this.oweOn(conn, [reply], true);
  }

  private oweOn(conn: FtpConnection, replies: Promise<unknown>[], inOrder: boolean): void {
    const before = this.owedReplies.get(conn);
    // Forgotten once settled, if nothing was owed since: an owe after it
    // then needs no Promise.all for one reply.
    const settled = (): void => {
      if (this.owedReplies.get(conn) === owed) this.owedReplies.delete(conn);
    };
    const replace = before === undefined || (inOrder && this.repliesOnly.has(before));
    const all = replace ? replies : [before, ...replies];
    const owed: Promise<void> = (all.length === 1 ? all[0] : Promise.all(all)).then(settled, settled);
    if (inOrder && replace) this.repliesOnly.add(owed);
    this.owedReplies.set(conn, owed);
  }

  /**
   * Settles once every reply owed on `conn` came (or the connection closed).
   * Never rejects. Undefined when nothing is owed: the hot paths then skip
   * the await (`const o = fxp.owed(c); if (o) await o;`).
   */
  owed(conn: FtpConnection): Promise<void> | undefined {
    return this.owedReplies.get(conn);
  }

  /** Marks a transfer on `conn` until the returned function is called (once its final replies were read, or it failed). */
  transferring(conn: FtpConnection): () => void {
    const mark = new TransferMark();
    this.transfers.set(conn, mark);
    return () => {
      if (this.transfers.get(conn) === mark) this.transfers.delete(conn);
      mark.end();
    };
  }

  /** Whether a transfer runs on `conn` now. */
  inTransfer(conn: FtpConnection): boolean {
    return this.transfers.has(conn);
  }

  /**
   * Settles when the transfer running on `conn` now has ended; undefined
   * when none runs (not an async function: asked once per file, and
   * usually none does). Another transfer may have started by then: ask again.
   */
  transferEnded(conn: FtpConnection): Promise<void> | undefined {
    return this.transfers.get(conn)?.ended();
  }

  /**
   * Whether a PASV may be opened ahead on `conn` for a plain layout (no TLS
   * role, no EPSV) where it is the passive side: not on TLS, IPv6 or PRET servers.
   */
  canOpenAhead(conn: FtpConnection): boolean {
    return !conn.isTls && !conn.channel.remoteAddress.includes(':') && !wantsPret(conn.state.kind, conn.features.pret);
  }

  /**
   * Whether the next transfer's PASV may go out in the same write as RETR
   * on `conn`, a passive source: a server that answers it only after the
   * transfer (software.ts, holdsCommandsDuringRetr), in a plain layout.
   */
  canAskBehindRetr(conn: FtpConnection): boolean {
    return conn.state.kind !== undefined && holdsCommandsDuringRetr(conn.state.kind) && this.canOpenAhead(conn);
  }

  /**
   * The reply to a PASV sent behind RETR, read once RETR's own replies
   * are (whatever they were: the server answers it after the 226 or 426),
   * and kept for the next transfer. Never throws: on a closed connection
   * it died with it; a reply that never comes closes the connection
   * (channel.ts), so no late 227 answers a later command.
   */
  async readBehindRetr(conn: FtpConnection, timeoutMs: number): Promise<void> {
    if (conn.closed) return;
    try {
      this.rememberAhead(conn, await conn.channel.nextReply(timeoutMs, undefined, 'reply to PASV', 'PASV'));
    } catch {
      /* the connection is gone (or going): nothing is remembered */
    }
  }

  /** Whether `conn` holds a PASV asked ahead that is still good (see takeAhead). */
  hasAhead(conn: FtpConnection): boolean {
    const early = this.ahead.get(conn);
    return early !== undefined && early.sent === conn.dataCommandsSent && Date.now() - early.at < AHEAD_MAX_MS;
  }

  /** Keep the reply of a PASV sent ahead on `conn` (alone or pipelined) for its next transfer. */
  rememberAhead(conn: FtpConnection, reply: FtpReply): void {
    try {
      this.ahead.set(conn, { hp: conn.passiveTarget('PASV', reply), sent: conn.dataCommandsSent, at: Date.now() });
    } catch {
      /* not a usable 227: the next transfer sends its own PASV */
    }
  }

  /** PASV on `conn` now, for its next transfer. Never throws: a failure only means the next transfer asks again. */
  async openAhead(conn: FtpConnection): Promise<void> {
    try {
      this.rememberAhead(conn, await conn.request('PASV'));
    } catch {
      /* refused (kept in step), or timed out (the channel closed itself): either way nothing is remembered */
    }
  }

  /**
   * The address asked ahead on `conn`, if it is still good for the transfer
   * about to start (`plain`: a plain PASV layout, see canOpenAhead). Taken at most once.
   */
  takeAhead(conn: FtpConnection, plain: boolean): HostPort | undefined {
    const early = this.ahead.get(conn);
    const good = early !== undefined && plain && this.hasAhead(conn) && this.canOpenAhead(conn);
    this.ahead.delete(conn);
    return good ? early.hp : undefined;
  }
}
