/**
 * Running mirror() against scripted servers in unit tests: pools on the
 * scripted servers, a run whose events are recorded, and a doorway (a TCP
 * forwarder on the server's own address) that can be shut and opened again
 * on the same port, so a server seems to restart: connects are refused and
 * open connections cut, while its data ports and its tree stay.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConnectionPool } from '../../src/ftp/pool.js';
import type { ServerOptions } from '../../src/ftp/options.js';
import { mirror, type MirrorRun } from '../../src/tree/mirror.js';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../../src/tree/options.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import type { ScriptedFtpServer } from './ftp-server.js';
import { isPartName } from '../../src/fxp/part-name.js';

export class Doorway {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Connections accepted while open. */
  accepted = 0;

  private constructor(
    readonly host: string,
    private readonly target: { host: string; port: number },
  ) {}

  /** A doorway on `srv`'s own address (so its PASV ports stay reachable directly). */
  static async before(srv: ScriptedFtpServer): Promise<Doorway> {
    const d = new Doorway(srv.host, srv.address);
    await d.up();
    return d;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Refuse new connections and cut the open ones. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A pool on a scripted server (through a doorway when given). */
export function poolOf(srv: ScriptedFtpServer, opts: { door?: Doorway; limit?: number; server?: Partial<ServerOptions> } = {}): ConnectionPool {
  const overrides: Partial<ServerOptions> = { ...opts.server };
  if (opts.door) Object.assign(overrides, { port: opts.door.port, name: `${srv.host}:${opts.door.port}` });
  return new ConnectionPool(srv.clientOptions(overrides), opts.limit ?? 4);
}

export interface MirrorRecord {
  summaries: MirrorSummary[];
  /** "<target or -> <message>" */
  warnings: string[];
  /** "<target> <path> <code>" for every failed event. */
  failed: string[];
  /** "<target> <kind> <path>" for every action that passed a gate. */
  actions: string[];
  /** Each change of the number of transfers at once (parallelAuto). */
  pairs: number[];
  ms: number;
}

export interface RigRun extends Omit<MirrorRun, 'options' | 'events'> {
  options?: Partial<MirrorOptions>;
}

/** Run mirror() and record what it reported. Short retry waits unless the test says otherwise. */
export async function runMirror(r: RigRun): Promise<MirrorRecord> {
  const rec: MirrorRecord = { summaries: [], warnings: [], failed: [], actions: [], pairs: [], ms: 0 };
  const started = Date.now();
  rec.summaries = await mirror({
    ...r,
    options: { ...DEFAULT_MIRROR_OPTIONS, ...r.options },
    retry: { baseMs: 20, capMs: 200, ...r.retry },
    events: {
      warn: (m, t) => rec.warnings.push(`${t ?? '-'} ${m}`),
      failed: (t, a, err) => rec.failed.push(`${t} ${a.path} ${(err as { code?: string }).code}`),
      action: (t, a) => rec.actions.push(`${t} ${a.kind} ${a.path}`),
      pairs: (n) => rec.pairs.push(n),
    },
  });
  rec.ms = Date.now() - started;
  return rec;
}

/** Close pools and servers (and doorways), ignoring what is already gone. */
export async function closeAll(...things: ({ close(): Promise<void> } | { down(): Promise<void> } | undefined)[]): Promise<void> {
  for (const t of things) {
    if (!t) continue;
    if ('down' in t) await t.down();
    else await t.close().catch(() => undefined);
  }
}

/** A scripted destination's files below /dst: relative path -> content; fails on a part file (none may be left behind). */
export function dstFiles(srv: ScriptedFtpServer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of srv.tree.paths()) {
    const n = srv.tree.get(p)!;
    if (n.type !== 'file' || !p.startsWith('/dst/')) continue;
    assert.ok(!isPartName(p.slice(p.lastIndexOf('/') + 1)), `part file left behind: ${p}`);
    out[p.slice(5)] = n.data.toString();
  }
  return out;
}
