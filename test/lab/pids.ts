/**
 * Pid files, so that `lab down` (and the next start on the same address)
 * can kill servers of a crashed run: each records the server's pid and
 * start time, and the pid and start time of the process that started it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labStateDir } from './env.js';
import type { LabKind } from './kinds.js';
import { unmountUnder } from './mounts.js';
import { killTree, labProcessTree, readProc } from './processes.js';
import { running } from './registry.js';

export interface PidRecord {
  pid: number;
  start: number;
  kind: LabKind;
  instance: string;
  owner: number;
  ownerStart: number;
}

function pidDir(): string {
  const d = path.join(labStateDir(), 'pids');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

export function pidFile(instance: string): string {
  return path.join(pidDir(), `${instance}.json`);
}

/** Directory of an instance: its configuration, logs and (unless tmpfs) root. */
export function instanceDir(instance: string): string {
  return path.join(labStateDir(), instance);
}

/** What the command lines of an instance's processes contain: its directory. */
export function instanceMarker(instance: string): string {
  return instanceDir(instance) + path.sep;
}

export function writePidRecord(kind: LabKind, instance: string, pid: number): void {
  const record: PidRecord = {
    pid,
    start: readProc(pid)?.start ?? 0,
    kind,
    instance,
    owner: process.pid,
    ownerStart: readProc(process.pid)?.start ?? 0,
  };
  fs.writeFileSync(pidFile(instance), JSON.stringify(record) + '\n');
}

export function readPidRecord(file: string): PidRecord | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return null;
  }
}

/** The record's process is still the one we started (guards against pid reuse). */
export function recordAlive(rec: PidRecord): boolean {
  const p = readProc(rec.pid);
  return p !== null && p.start === rec.start && p.state !== 'Z';
}

export function ownerAlive(rec: PidRecord): boolean {
  const p = readProc(rec.owner);
  return p !== null && p.start === rec.ownerStart && p.state !== 'Z';
}

/**
 * Kill every lab server recorded in a pid file whose owner process is gone
 * (or all, with `all`), and unmount the tmpfs roots they leave behind.
 */
export async function cleanLeftovers(all = false): Promise<string[]> {
  const killed: string[] = [];
  let files: string[];
  try {
    files = fs.readdirSync(pidDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return killed;
  }
  for (const f of files) {
    const file = path.join(pidDir(), f);
    const rec = readPidRecord(file);
    if (!rec) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (running.has(rec.instance) && rec.owner === process.pid) continue;
    if (!all && ownerAlive(rec) && rec.owner !== process.pid) continue;
    const marker = instanceMarker(rec.instance);
    // A dead listener may have left orphaned session processes (vsftpd).
    const mainAlive = recordAlive(rec);
    const orphans = labProcessTree(-1, marker);
    if (mainAlive || orphans.length) {
      // Without the main pid (possibly reused by now), signal only the marker matches.
      await killTree(mainAlive ? rec.pid : -1, marker);
      killed.push(`${rec.instance} (pid ${rec.pid}${mainAlive ? '' : `, orphans ${orphans.join(',')}`})`);
    }
    await unmountUnder(instanceDir(rec.instance));
    fs.rmSync(file, { force: true });
  }
  return killed;
}
