/**
 * Stall a server without closing anything: SIGSTOP its session processes,
 * SIGCONT them later. Connections stay open and silent, which is what a
 * hung server or a stuck disk looks like from outside.
 */
import * as fs from 'node:fs';
import type { LabServer } from '../kinds.js';
import { isAlive, isStopped, killQuiet, sleep } from '../processes.js';
import { onExit } from '../registry.js';

/** pyftpdlib and ftp-srv serve every session from one process: stopping a session stops the server. */
const SINGLE_PROCESS = new Set(['pyftpdlib', 'ftp-srv']);

export interface StoppedSessions {
  /** The pids that were stopped. */
  pids: number[];
  /** SIGCONT them (idempotent). Call it in `finally`. */
  resume(): Promise<void>;
}

/** Remote IPv4 addresses of the TCP sockets `pid` holds (from /proc/<pid>/fd and /proc/net/tcp). */
export function peersOf(pid: number): string[] {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    }
  } catch {
    return [];
  }
  const peers: string[] = [];
  let table: string;
  try {
    table = fs.readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return [];
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[2] = remote "AABBCCDD:PORT" (little-endian hex address), f[9] = inode.
    if (f.length < 10 || !inodes.has(f[9])) continue;
    const hex = f[2].split(':')[0];
    peers.push([3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.'));
  }
  return peers;
}

/**
 * SIGSTOP the session processes of `server` that exist now (its process
 * tree minus the listener, so new logins are still accepted and served by
 * fresh processes); with `peer`, only those holding a TCP connection to that
 * address (e.g. the other server of an FXP transfer: the session moving the
 * data). pyftpdlib and ftp-srv are one process: the whole server stops,
 * new logins included. Throws when there is nothing to stop.
 */
export async function stopSessions(server: LabServer, opts: { peer?: string } = {}): Promise<StoppedSessions> {
  const tree = server.processes();
  let pids = SINGLE_PROCESS.has(server.kind) ? tree.filter((p) => p === server.pid) : tree.filter((p) => p !== server.pid);
  if (opts.peer && !SINGLE_PROCESS.has(server.kind)) pids = pids.filter((p) => peersOf(p).includes(opts.peer as string));
  if (!pids.length) {
    throw new Error(`stopSessions: ${server.kind} on ${server.host} has no session${opts.peer ? ` connected to ${opts.peer}` : ''} (tree ${tree.join(',')})`);
  }
  const cont = () => {
    for (const p of pids) if (isAlive(p)) killQuiet(p, 'SIGCONT');
  };
  const unregister = onExit(cont);
  for (const p of pids) killQuiet(p, 'SIGSTOP');
  // Signals are delivered asynchronously: return once every process is really stopped.
  await until(() => pids.every((p) => isStopped(p) || !isAlive(p)));
  let resumed = false;
  return {
    pids,
    async resume() {
      if (resumed) return;
      resumed = true;
      cont();
      unregister();
      await until(() => pids.every((p) => !isStopped(p)));
    },
  };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(5);
}
