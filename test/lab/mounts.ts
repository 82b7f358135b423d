/**
 * Small tmpfs mounts for servers' roots (a disk that fills up: 452/552),
 * and finding and removing those left under an instance directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN } from './env.js';
import { run, runSyncQuiet } from './processes.js';

/** The mount points at or under `dir`, deepest first (so they unmount in order). */
export function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  const out: string[] = [];
  for (const line of info.split('\n')) {
    // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
    const point = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (point && (point === dir || point.startsWith(prefix))) out.push(point);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Mount a tmpfs of `bytes` on `dir` (created if missing), its top directory
 * owned by uid:gid with mode 0755. tmpfs rounds the size up to whole pages.
 */
export async function mountTmpfs(dir: string, bytes: number, owner: { uid: number; gid: number }): Promise<void> {
  if (!Number.isInteger(bytes) || bytes <= 0) throw new Error(`tmpfs size must be a positive whole number of bytes, got ${bytes}`);
  fs.mkdirSync(dir, { recursive: true });
  await run(BIN.mount, ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755,uid=${owner.uid},gid=${owner.gid}`, 'fxpmirror-lab', dir]);
}

/** Unmount everything at or under `dir` (lazily: a server that still holds a file there cannot block it). */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await run(BIN.umount, ['-l', point]).catch(() => undefined);
}

export function unmountUnderSync(dir: string): void {
  for (const point of mountsUnder(dir)) runSyncQuiet(BIN.umount, ['-l', point]);
}
