import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Who this process is, in a form another run can check: the host (its name
 * and its boot id, which differs between machines that share a name and
 * after every reboot) and the process (its pid and its start time, which
 * differs when a pid is reused). Linux /proc; elsewhere the boot id and
 * start time are unknown, and a lock that needs them is judged by its age.
 */

/** /proc/sys/kernel/random/boot_id: a random UUID per boot. */
export function bootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return /^[0-9a-f-]{16,64}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A process's start time in clock ticks since boot (proc(5), /proc/<pid>/stat
 * field 22), or undefined when there is no such process. The command name
 * (field 2) may hold spaces and parentheses, so fields are counted after its
 * closing parenthesis.
 */
export function processStartTicks(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 22 is fields[19].
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

export interface ProcessIdentity {
  host: string;
  bootId?: string;
  pid: number;
  /** processStartTicks(pid) */
  start?: number;
}

export function thisProcess(): ProcessIdentity {
  return { host: os.hostname(), bootId: bootId(), pid: process.pid, start: processStartTicks(process.pid) };
}

/**
 * True when `holder` ran on this very host since its last boot and is gone:
 * its pid is dead, or now belongs to a process started at another time. A
 * holder on another host, from before a reboot, or with an identity it did
 * not record, is not known to be dead (it is judged by its lock's age).
 */
export function deadOnThisHost(holder: ProcessIdentity, here: ProcessIdentity, startOf: (pid: number) => number | undefined = processStartTicks): boolean {
  if (holder.host !== here.host || holder.bootId === undefined || holder.bootId !== here.bootId || holder.start === undefined) return false;
  return startOf(holder.pid) !== holder.start;
}
