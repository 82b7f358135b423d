/**
 * Reset TCP connections between two addresses, as a middlebox or a crashed
 * peer would: `ss -K` (SOCK_DESTROY) aborts the local socket, which sends an
 * RST to the other end, so both sides see the connection die at once.
 */
import * as net from 'node:net';
import { BIN } from '../env.js';
import type { LabServer } from '../kinds.js';
import { run, sleep } from '../processes.js';

/** A server (its address; its control port is spared) or a bare IPv4 address (every port). */
export type Endpoint = LabServer | string;

function address(e: Endpoint): string {
  const a = typeof e === 'string' ? e : e.host;
  if (!net.isIPv4(a)) throw new Error(`resetConnections: IPv4 address expected, got ${a}`);
  return a;
}

/**
 * The ss filter: connections between a and b in either direction, minus the
 * control connection of each LabServer given (by address *and* port: proftpd
 * sends active data from its control port - 1, which may be another lab
 * server's control port).
 */
export function resetFilter(a: Endpoint, b: Endpoint, opts: { includeControl?: boolean } = {}): string[] {
  const [x, y] = [address(a), address(b)];
  const f = ['(', '(', 'src', x, 'and', 'dst', y, ')', 'or', '(', 'src', y, 'and', 'dst', x, ')', ')'];
  if (!opts.includeControl) {
    for (const e of [a, b]) {
      if (typeof e === 'string') continue;
      const ep = `${e.host}:${e.port}`;
      f.push('and', 'not', 'src', ep, 'and', 'not', 'dst', ep);
    }
  }
  return f;
}

/**
 * Reset every TCP connection between `a` and `b` (both directions): between
 * two servers that is their FXP data connection; between the client
 * (127.0.0.1) and a server, its data connections (relay, listings) but not
 * its control connection, unless `includeControl`. Listening sockets are
 * never touched. With `waitMs`, keep trying until at least one connection
 * was reset or the time is up (the data connection may not be open yet).
 * Returns how many sockets were destroyed (each connection has two ends on
 * loopback; the first reset usually takes both down).
 */
export async function resetConnections(a: Endpoint, b: Endpoint, opts: { waitMs?: number; includeControl?: boolean } = {}): Promise<number> {
  const filter = resetFilter(a, b, opts);
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const { stdout } = await run(BIN.ss, ['-K', '-t', '-n', '-H', 'state', 'connected', ...filter]);
    const killed = stdout.split('\n').filter((l) => l.trim()).length;
    if (killed > 0 || Date.now() >= deadline) return killed;
    await sleep(20);
  }
}
