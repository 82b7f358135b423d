/**
 * A TCP delay proxy for the control connections: the bench's stand-in for a
 * client far from two servers that are close to each other (the layout FXP is
 * for). `tc netem` is not available in the lab kernel ("Specified qdisc kind
 * is unknown"), so latency is added in user space, per connection:
 *
 *   client ──(RTT/2 each way, here)── proxy ── server
 *
 * Each direction is a delay line: every chunk read is stamped with the time
 * it may leave (arrival + about RTT/2) and queued; one timer per direction is
 * armed for the head of the queue, and when it fires every chunk that is due
 * goes out in order. No timer per chunk, no per-byte work: the proxy itself
 * adds about half a millisecond per round trip (measured with an echo
 * server). No backpressure handling: control connections carry a few KiB.
 *
 * The TCP handshake is emulated too: a real client's connect() completes one
 * RTT after it starts, and the greeting (sent once the server has accepted)
 * reaches the client after another RTT. Here the handshake with the proxy is
 * instant, so nothing from the server reaches the client before 2 × RTT after
 * the proxy accepted.
 *
 * Only control connections pass through it. PASV replies name the servers'
 * real addresses (the bench's proxy listens on the server's own address,
 * another port: see FAR_PORT_OFFSET in bench.ts), so FXP data goes server to
 * server directly, as in the real layout. The client's own data connections
 * (directory listings) are direct too, which makes a listing about one RTT
 * cheaper than on a real network, for both tools alike.
 *
 * Round trips are counted as the client sees them: a "turn" is the client
 * sending after it has been delivered server data since its previous send. A
 * pipelined batch of commands is one turn; the wait for the greeting is one.
 * Waits on two connections at once (RETR on one, STOR on the other) are two
 * turns, so the sum over connections is more than the critical path.
 */
import * as net from 'node:net';

export interface ProxyStats {
  /** Control connections accepted. */
  connections: number;
  /** Client turns summed over all connections (see the module comment). */
  turns: number;
  c2sBytes: number;
  s2cBytes: number;
}

/** `conn` numbers connections from 1; `dir` '>' client to server, '<' server to client; `ms` is performance.now() at delivery. */
export type ProxyTrace = (conn: number, dir: '>' | '<', ms: number, data: Buffer) => void;

export interface DelayProxy {
  host: string;
  port: number;
  /** Counters since the start or the last reset(). */
  stats(): ProxyStats;
  reset(): void;
  /** Record every delivered chunk (undefined stops recording). */
  setTrace(trace: ProxyTrace | undefined): void;
  /** Stop listening and drop every open connection. Idempotent. */
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  rttMs: number;
}

/** An ordered queue of chunks, each released at its own due time; `null` stands for end-of-stream. */
class DelayLine {
  private readonly queue: { due: number; data: Buffer | null }[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly delayMs: number,
    /** Nothing leaves before this time (the emulated handshake). */
    private readonly floor: number,
    private readonly deliver: (data: Buffer | null) => void,
  ) {}

  push(data: Buffer | null): void {
    // Both terms only grow, so due times are non-decreasing and order holds.
    this.queue.push({ due: Math.max(performance.now() + this.delayMs, this.floor), data });
    if (!this.timer) this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }

  private arm(): void {
    // Rounded up: a timer that fires early would only re-arm for the remainder.
    const wait = Math.max(0, Math.ceil(this.queue[this.head].due - performance.now()));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head].due <= now) {
      const { data } = this.queue[this.head++];
      this.deliver(data);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else {
      this.arm();
    }
  }
}

export function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  // Timers have millisecond resolution: split the RTT into two whole-ms halves
  // (5 ms = 2 + 3) rather than round 2.5 ms up twice, which made a 5 ms RTT 6.5 ms.
  const toServerMs = Math.floor(opts.rttMs / 2);
  const toClientMs = opts.rttMs - toServerMs;
  let stats: ProxyStats = { connections: 0, turns: 0, c2sBytes: 0, s2cBytes: 0 };
  let trace: ProxyTrace | undefined;
  let nextId = 1;
  const open = new Set<net.Socket>();

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const id = nextId++;
    stats.connections++;
    const accepted = performance.now();
    const upstream = net.connect({ host: opts.targetHost, port: opts.targetPort, allowHalfOpen: true });
    open.add(client);
    open.add(upstream);
    // Our own hops must not add Nagle / delayed-ACK stalls on top of the emulated latency.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    let delivered = false; // server data delivered to the client since its last send

    const toServer = new DelayLine(toServerMs, 0, (data) => {
      if (upstream.destroyed) return;
      if (data === null) upstream.end();
      else {
        trace?.(id, '>', performance.now(), data);
        upstream.write(data);
      }
    });
    const toClient = new DelayLine(toClientMs, accepted + 2 * opts.rttMs, (data) => {
      if (client.destroyed) return;
      if (data === null) client.end();
      else {
        delivered = true;
        trace?.(id, '<', performance.now(), data);
        client.write(data);
      }
    });

    client.on('data', (data: Buffer) => {
      if (delivered) stats.turns++;
      delivered = false;
      stats.c2sBytes += data.length;
      toServer.push(data);
    });
    upstream.on('data', (data: Buffer) => {
      stats.s2cBytes += data.length;
      toClient.push(data);
    });
    // A clean close travels in order behind the data; an error drops both sides at once.
    client.on('end', () => toServer.push(null));
    upstream.on('end', () => toClient.push(null));
    const drop = () => {
      toServer.stop();
      toClient.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort, opts.listenHost, () => {
      server.off('error', reject);
      let closing: Promise<void> | undefined;
      resolve({
        host: opts.listenHost,
        port: opts.listenPort,
        stats: () => ({ ...stats }),
        reset: () => {
          stats = { connections: 0, turns: 0, c2sBytes: 0, s2cBytes: 0 };
        },
        setTrace: (t) => {
          trace = t;
        },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            for (const s of open) s.destroy();
            open.clear();
          })),
      });
    });
  });
}
