/**
 * Lab servers inside a network namespace (the bench's emulated WAN): how a
 * server process is started there, and how the lab sees that it is ready.
 *
 * The namespace is created and removed by the caller (test/bench/wan/net.ts);
 * the lab only runs the server in it, at an address of that namespace.
 */
import * as fs from 'node:fs';

export const NSENTER_BIN = '/usr/bin/nsenter';

/** Where `ip netns add NAME` puts a namespace. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/**
 * The command line that runs `command` inside namespace `netns` (undefined:
 * unchanged). nsenter joins the network namespace and execs the command in
 * the same process, so the pid the lab records is the server's own, and the
 * mount namespace stays the lab's (unlike `ip netns exec`).
 */
export function inNetns(netns: string | undefined, command: string, args: string[]): { command: string; args: string[] } {
  if (netns === undefined) return { command, args };
  return { command: NSENTER_BIN, args: [`--net=${netnsPath(netns)}`, '--', command, ...args] };
}

/**
 * True when process `pid` sees a TCP socket listening on address:port. A
 * process's /proc/<pid>/net/tcp lists the sockets of its own network
 * namespace, so this works from outside it, where the lab cannot connect
 * (the namespace's addresses are routed nowhere else).
 */
export function listeningIn(pid: number, address: string, port: number): boolean {
  let table: string;
  try {
    table = fs.readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return false;
  }
  // local_address is hex "AABBCCDD:PPPP", the address in host byte order (little-endian here); st 0A = LISTEN.
  const octets = address.split('.').map(Number);
  const hexAddr = octets
    .reverse()
    .map((o) => o.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
  const want = `${hexAddr}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === want && f[3] === '0A';
  });
}
