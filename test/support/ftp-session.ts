/**
 * What a scripted session and its command handlers see: the reply and handler
 * types, the server's options, and one control connection (Session). Kept apart
 * from ftp-server.ts so the default commands (ftp-commands.ts) need not import
 * the server that installs them.
 */
import type net from 'node:net';
import { MemoryTree, type TreeSeed } from './memory-tree.js';
import { DataChannel, stripMapped, type DataBody, type DataRecord } from './ftp-data.js';

/** The part of the server a handler may use. */
export interface ServerView {
  readonly options: ScriptedServerOptions;
  readonly tree: MemoryTree;
}

/** A reply: one line ("226 Done"), or the lines of a multi-line reply; each gets its CRLF. */
export type ReplyText = string | string[];

export interface CommandContext {
  server: ServerView;
  session: Session;
  /** Upper-cased command word. */
  verb: string;
  /** Everything after the first space, '' when none. */
  arg: string;
  /** The whole line as received, CR stripped. */
  line: string;
  reply(text: ReplyText): void;
  /** Raw bytes on the control connection (split replies, garbage). */
  write(raw: string | Buffer): void;
  /** Run the default behaviour of this command. */
  fallback(): Promise<void>;
  /** Drop the control connection. */
  close(): void;
}

/**
 * How a command is answered instead of the default: a reply; an object with a
 * delay before the reply (or before the default, when it has no reply), and
 * whether to close afterwards; or a function of the session.
 */
export type Handler =
  | ReplyText
  | { reply?: ReplyText; delayMs?: number; close?: boolean }
  | ((ctx: CommandContext) => void | ReplyText | Promise<void | ReplyText>);

export interface ScriptedServerOptions {
  /** RETR and listings send at most this many bytes per second (a throttled server: a fault lands mid-transfer). */
  dataRate?: number;
  /** Control address (any 127.x.y.z). Default 127.0.0.1. Port is always ephemeral. */
  host?: string;
  /** Sent on connect: a reply (default "220 scripted FTP server ready"), or raw bytes (garbage, 999 codes). */
  greeting?: ReplyText | Buffer;
  user?: string;
  password?: string;
  /** FEAT lines (without the leading space). */
  features?: string[];
  files?: TreeSeed;
  /** Where passive data listeners listen. Default: the control address. */
  dataHost?: string;
  /** The address a 227 reply advertises, whatever dataHost is. Default: dataHost. */
  pasvAddress?: string;
  /**
   * A listing's text instead of the tree's: return a body (text, or chunks
   * from a possibly endless generator) for MLSD/LIST/NLST of `dir`, or
   * undefined for the default.
   */
  listing?: (verb: 'MLSD' | 'LIST' | 'NLST', dir: string, session: Session) => DataBody | undefined;
  handlers?: Record<string, Handler>;
  /**
   * Every reply (and the greeting) reaches the client this many ms after
   * the server wrote it, in order: an emulated round trip, for what the
   * client paces by it (the FXP engine's head start).
   */
  latencyMs?: number;
}

/** One control connection. */
export class Session {
  cwd = '/';
  user: string | undefined;
  loggedIn = false;
  /** REST offset for the next transfer. */
  rest = 0;
  /** RNFR source waiting for its RNTO. */
  renameFrom: string | undefined;
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  /** When each command line arrived (Date.now()), in order: before the commands queued ahead of it ran. */
  readonly arrivals: { line: string; at: number }[] = [];
  /** The command lines grouped by the read they arrived in: lines a client wrote at once (pipelined) share a group. */
  readonly reads: string[][] = [];
  readonly data: DataChannel;
  /**
   * Frozen (freeze()): the session acts like a server process under SIGSTOP:
   * no command is read or answered any more, its data sockets are no longer
   * read (the sender's window fills), and it writes nothing.
   */
  frozen = false;
  /** Set by ABOR while a transfer runs: that transfer answers 426. */
  aborted = false;
  /** Settles when the command being run (and those queued before it) are done. */
  busy: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    record: (r: DataRecord) => void,
  ) {
    this.localAddress = stripMapped(socket.localAddress);
    this.remoteAddress = stripMapped(socket.remoteAddress);
    this.data = new DataChannel(id, record, () => this.localAddress);
  }

  /** Both ends of the control connection, kept after it closes. */
  readonly localAddress: string;
  readonly remoteAddress: string;

  /** Stop like a process under SIGSTOP (see `frozen`). */
  freeze(): void {
    this.frozen = true;
    this.data.pause();
  }

  /** A path argument resolved against the working directory. */
  resolve(arg: string): string {
    return MemoryTree.resolve(this.cwd, arg);
  }
}

export function formatReply(text: ReplyText): string {
  return (Array.isArray(text) ? text : [text]).map((l) => `${l}\r\n`).join('');
}

