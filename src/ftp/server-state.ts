/**
 * What a session shares with the pool and the layers above: the facts
 * learned about a server (one object per server, shared by its
 * connections), the notes it reports, and how a connection is opened.
 * Plain data, no behaviour.
 */
import type { WireLog } from './channel.js';
import type { MtimeMethod } from './commands.js';
import type { ServerKind } from './software.js';

/**
 * What we learn about a server once and share between all its connections:
 * which listing command works, how to set mtimes, what software it is. Plain
 * data so the pool, the FXP engine and probe can read it.
 */
export interface ServerState {
  listing?: 'MLSD' | 'LIST';
  mtime?: MtimeMethod | 'none';
  /** Set after a "can't set mtime" was reported once for this server. */
  mtimeWarned?: boolean;
  /** Set once the PASV address note (or warning) was given for this server. */
  pasvNoted?: boolean;
  /** Identification from the greeting, for probe's advice and known quirks. */
  kind?: ServerKind;
  /** False once a batch of MDTMs came back out of step or unanswered (mdtm-batch.ts): one MDTM per file from then on. */
  mdtmBatch?: false;
  /**
   * The shortest time, in ms, any command took to get its first reply: at
   * most the round trip to the server. The FXP engine paces a pipelined
   * transfer by it (fxp/transfer.ts, headStartMs).
   */
  rttMs?: number;
}

/** A round trip at least this long (ms) makes a server "far": waiting for its replies, not its work, sets the pace. */
export const FAR_MS = 5;

/** Whether even the quickest reply this server gave took FAR_MS: a distant server (a WAN, not a LAN or loopback). */
export function isFar(state: ServerState): boolean {
  return (state.rttMs ?? 0) >= FAR_MS;
}

/** Something the user should know about a server, reported once (the CLI logs it as it is). */
export type FtpNote = {
  level: 'info' | 'warn';
  event: 'pasv-address';
  server: string;
  message: string;
};

export interface ConnectContext {
  signal?: AbortSignal;
  wireLog?: WireLog;
  state?: ServerState;
  /** Called once the greeting has arrived (or connecting failed before it): the pool staggers session starts on it. */
  onGreeting?: () => void;
  /** Receives notes about the server (once per ServerState). */
  onNote?: (note: FtpNote) => void;
}

export type DataProtection = 'P' | 'C';
