/**
 * A directory listing on one connection: MLSD (RFC 3659 §7) where the
 * server has it, else LIST -a, parsed as it arrives within the listing
 * limits (listing-reader.ts), screened (names.ts).
 *
 * "PASV ahead": when more listings are coming (the caller says so), a PASV
 * goes out in the same write as the listing command. Servers that read their
 * control connection only between transfers (software.ts) answer it right
 * after the listing's 226, so the next listing on this connection finds its
 * data address waiting and costs one round trip less. It is used only if no
 * command that may touch a data connection went over the connection since
 * (commands.ts, keepsDataConnection), within AHEAD_MAX_MS; a transfer sends
 * its own PASV, which closes the unused listener (all four lab servers do).
 */
import type net from 'node:net';
import type { ControlChannel } from './channel.js';
import type { Features } from './feat.js';
import type { ArgOf } from './remote-path.js';
import type { PassiveVerb } from './commands.js';
import type { ServerOptions } from './options.js';
import type { ServerState } from './session.js';
import type { HostPort } from './address.js';
import type { ListEntry } from './entry.js';
import type { Command } from './commands.js';
import type { FtpReply } from './reply.js';
import { FtpReplyError, FtpTimeoutError } from './errors.js';
import { formatMs } from './channel.js';
import { settledWithin } from './wait.js';
import { ListingReader } from './listing-reader.js';
import type { ListingFormat } from './listing.js';
import { screenListing, type Listing } from './names.js';
import { DEFAULT_LISTING_LIMITS } from './options.js';
import { connectData, readAll, type DataOptions, type DataStream } from './data.js';
import { queuesCommandsDuringTransfer, waitsForClientClose, wantsPret } from './software.js';

/** What a listing needs of a connection: ListingConnection (connection.ts) has it; said here so the two modules need not import each other. */
export interface ListingConnection {
  readonly state: ServerState;
  readonly features: Features;
  readonly server: ServerOptions;
  readonly channel: ControlChannel;
  readonly label: string;
  readonly dataCommandsSent: number;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  request<C extends string>(command: C, arg?: ArgOf<C>, opts?: { signal?: AbortSignal }): Promise<FtpReply>;
  passiveTarget(verb: PassiveVerb, reply: FtpReply): HostPort;
  openData<C extends string>(command: C, arg: ArgOf<C> | undefined, opts?: DataOptions): Promise<DataStream>;
}

export interface ListOptions {
  signal?: AbortSignal;
  /** 'LIST' asks for LIST this once (symlink targets, which MLSD often leaves out). */
  command?: 'LIST';
  /** More listings follow on this server: ask the next one's PASV ahead (above). */
  more?: boolean;
}

/** Well inside the servers' own passive accept timeouts (vsftpd and proftpd: 60 s or more). */
const AHEAD_MAX_MS = 5_000;

interface Ahead {
  /** The data connection to the address the PASV gave, opened as soon as it came. */
  socket: Promise<net.Socket | undefined>;
  /** The connection's count of data commands when it was answered: one sent since (session.ts, dataCommandsSent) spoils it. */
  sent: number;
  at: number;
}

const aheads = new WeakMap<ListingConnection, Ahead>();

/** Whether this connection may ask a PASV ahead: passive, IPv4 (PASV, not EPSV), no PRET, a server known to hold commands during a transfer. */
function canAskAhead(conn: ListingConnection): boolean {
  const kind = conn.state.kind;
  return (
    conn.server.dataMode !== 'active' &&
    kind !== undefined &&
    queuesCommandsDuringTransfer(kind) &&
    !conn.channel.remoteAddress.includes(':') &&
    !wantsPret(kind, conn.features.pret)
  );
}

/**
 * Connect to the PASV asked ahead at once, while the listing's last data
 * still comes in. Not ref'd until used: an ahead nobody takes (the run
 * ends, a transfer takes the connection) keeps nothing alive.
 */
function openAhead(conn: ListingConnection, pasv: FtpReply): Ahead | undefined {
  let hp: HostPort;
  try {
    hp = conn.passiveTarget('PASV', pasv);
  } catch {
    return undefined; // an address we cannot read or must not use: the next listing asks its own PASV
  }
  const socket = connectData(hp, conn.server.timeouts.data, conn.label).then(
    (s) => s.unref(),
    () => undefined, // refused (a listener closed meanwhile): a fresh PASV it is
  );
  return { socket, sent: conn.dataCommandsSent, at: Date.now() };
}

/** The data connection to the PASV asked ahead, if it is still good; undefined asks PASV anew. */
function takeAhead(conn: ListingConnection): Promise<net.Socket | undefined> | undefined {
  const a = aheads.get(conn);
  aheads.delete(conn);
  if (!a) return undefined;
  if (a.sent !== conn.dataCommandsSent || Date.now() - a.at > AHEAD_MAX_MS) {
    void a.socket.then((s) => s?.destroy());
    return undefined;
  }
  return a.socket.then((s) => s?.ref());
}

/**
 * List a directory: MLSD when the server has it, else LIST -a (approximate
 * dates). The choice is remembered per server. A listing that ends without
 * its 226, or that goes past the server's listing limits, is an error, never
 * a short list. Entries whose names fxpmirror may not use come back apart,
 * in `rejected`. Takes the connection's queue.
 */
export function listDirectory(conn: ListingConnection, path: string, opts: ListOptions = {}): Promise<Listing> {
  const { signal } = opts;
  return conn.exclusive(async () => {
    const state = conn.state;
    const useMlsd = opts.command === undefined && (state.listing ? state.listing === 'MLSD' : conn.features.mlsd);
    if (useMlsd) {
      try {
        const { entries } = await readListing(conn, 'MLSD', path, 'MLSD', path, opts, takeAhead(conn));
        state.listing = 'MLSD';
        return screenListing(entries);
      } catch (err) {
        // 500/502: MLSD not understood after all. Any other refusal is about the path.
        if (!(err instanceof FtpReplyError) || (err.replyCode !== 500 && err.replyCode !== 502) || state.listing) throw err;
      }
    }
    if (opts.command === undefined) state.listing = 'LIST';
    // LIST arguments are passed to ls-like globbing by several servers, so a
    // name with spaces or brackets breaks it: CWD there and list ".". The
    // data connection to a PASV asked ahead opens meanwhile.
    const data = takeAhead(conn);
    try {
      await conn.request('CWD', path, { signal });
    } catch (err) {
      void data?.then((s) => s?.destroy());
      throw err;
    }
    const { entries, reply } = await readListing(conn, 'LIST', '-a', 'LIST', path, opts, data);
    // vsftpd answers an unreadable directory with an empty listing and
    // "226 Transfer done (but failed to open directory)." — that is a failure.
    if (/failed to open directory/i.test(reply.message)) {
      throw new FtpReplyError(550, `LIST ${path}`, reply.lines);
    }
    return screenListing(entries);
  });
}

/** A listing's data connection, parsed as it arrives within the server's listing limits; with `opts.more`, a PASV asked ahead. */
async function readListing(
  conn: ListingConnection,
  command: string,
  arg: string,
  format: ListingFormat,
  path: string,
  opts: ListOptions,
  data: Promise<net.Socket | undefined> | undefined,
): Promise<{ entries: ListEntry[]; reply: FtpReply }> {
  const ahead = opts.more === true && canAskAhead(conn);
  const then: Command[] = ahead ? [['PASV']] : [];
  const kind = conn.state.kind;
  const stream = await conn.openData(command, arg, { signal: opts.signal, data, then, halfClose: kind !== undefined && waitsForClientClose(kind) });
  const reader = new ListingReader(format, conn.server.listingLimits ?? DEFAULT_LISTING_LIMITS, `${conn.label}: the listing of ${path}`);
  // The final reply (and the PASV ahead after it) may come before the last
  // data (proftpd, half-closed): read them meanwhile, so the next listing's
  // data connection opens while this one's data still arrives. No deadline
  // while the data flows (readAll watches it for idleness); once it has
  // ended, the reply gets the usual one, below.
  const finished = stream.finish(Infinity).then((reply) => {
    const pasv = stream.then[0];
    if (ahead && pasv?.code === 227) {
      const a = openAhead(conn, pasv);
      if (a) aheads.set(conn, a);
    }
    return reply;
  });
  finished.catch(() => undefined);
  try {
    await readAll(stream.socket, (chunk) => reader.push(chunk), conn.server.timeouts.data, conn.label);
  } catch (err) {
    // Past a limit, or reset: the data connection is gone, and the
    // server's 426 or 226 would come whenever it notices and then answer a
    // later command: the control connection goes too (the pool replaces it).
    stream.socket.destroy();
    conn.channel.close(err as Error);
    throw err;
  }
  const timeoutMs = conn.server.timeouts.data;
  const reply = await settledWithin(finished, timeoutMs);
  if (reply === undefined) {
    // Its late reply would answer a later command: the connection goes (the pool replaces it).
    const err = new FtpTimeoutError(`${conn.label}: no end of ${command} within ${formatMs(timeoutMs)} after its data`);
    conn.channel.close(err);
    throw err;
  }
  return { entries: reader.end(), reply };
}
