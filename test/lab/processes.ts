/**
 * Processes: running a helper program, reading /proc, finding a server's
 * whole process tree, and stopping it by pid. Nothing here signals a process
 * by name: only pids found from a server's own pid and instance directory.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const STOP_GRACE_MS = 1500;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run a helper program to completion; rejects with its stderr on a non-zero exit. */
export function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 20000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}${stderr ? `\n${stderr}` : ''}`));
      else resolve({ stdout, stderr });
    });
    // nft and openssl may exit before reading stdin: an EPIPE there is not an error.
    child.stdin?.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** The same, synchronously and ignoring failure: for process 'exit' hooks, which cannot wait. */
export function runSyncQuiet(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 5000 });
  } catch {
    /* best effort */
  }
}

export interface ProcInfo {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  start: number;
}

export function readProc(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]), start: Number(rest[19]) };
}

function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** Kernel start time of `pid` (clock ticks since boot), to tell a pid from a reused one. */
export function processStartTime(pid: number): number | null {
  return readProc(pid)?.start ?? null;
}

/** True while `pid` exists and is not a zombie (this container's init does not reap orphans). */
export function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== null && p.state !== 'Z' && p.state !== 'X';
}

/** True while `pid` is stopped by a signal (state T), e.g. by stopSessions(). */
export function isStopped(pid: number): boolean {
  return readProc(pid)?.state === 'T';
}

/** Programs the lab starts servers with (argv[0] basenames), for the marker match below. */
const SERVER_PROGRAMS = new Set(['vsftpd', 'proftpd', 'pure-ftpd', 'python3', 'setpriv', 'socat', 'ftpd', 'node']);

/** argv[0] is one of the lab's server programs and some argument mentions `marker` (the instance directory). */
function mentions(pid: number, marker: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return SERVER_PROGRAMS.has(path.basename(argv[0])) && argv.some((a) => a.includes(marker));
  } catch {
    return false;
  }
}

/**
 * Live processes belonging to a server started with pid `pid`: its process
 * group, its session, its descendants, and (given the instance directory as
 * `marker`) server processes whose command line names that directory.
 * The last two matter for vsftpd: its session processes call setsid(), so a
 * group or session kill misses them; they keep "vsftpd <conf>" as command
 * line, which still finds them after the listener died.
 */
export function labProcessTree(pid: number, marker?: string): number[] {
  const procs = allProcs();
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const found = new Set<number>();
  for (const p of procs) {
    if (p.pid === pid || p.pgid === pid || p.sid === pid) found.add(p.pid);
    else if (marker && mentions(p.pid, marker)) found.add(p.pid);
  }
  const queue = [...found];
  while (queue.length) {
    const cur = queue.pop() as number;
    for (const c of byParent.get(cur) ?? []) {
      if (!found.has(c.pid)) {
        found.add(c.pid);
        queue.push(c.pid);
      }
    }
  }
  return [...found].filter(isAlive).sort((a, b) => a - b);
}

export function killQuiet(pid: number, sig: NodeJS.Signals): void {
  // 0, 1 and -1 would mean "my group", init, "everything": never.
  if (!Number.isInteger(pid) || Math.abs(pid) <= 1) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Stop a server: SIGTERM the group and every member (SIGCONT too, so a
 * session stopped by a fault test can act on it), wait, then SIGKILL
 * whatever is left. With `hard`, SIGKILL at once: a crash, not a shutdown.
 */
export async function killTree(pid: number, marker: string, opts: { hard?: boolean } = {}): Promise<void> {
  const members = labProcessTree(pid, marker);
  const left = () => [...new Set([...members, ...labProcessTree(pid, marker)])].filter(isAlive);
  if (!opts.hard) {
    killQuiet(-pid, 'SIGTERM');
    for (const m of members) killQuiet(m, 'SIGTERM');
    for (const m of members) killQuiet(m, 'SIGCONT');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (left().length && Date.now() < deadline) await sleep(10);
  }
  if (left().length) {
    killQuiet(-pid, 'SIGKILL');
    for (const m of left()) killQuiet(m, 'SIGKILL');
    const hard = Date.now() + STOP_GRACE_MS;
    while (left().length && Date.now() < hard) await sleep(10);
  }
}
