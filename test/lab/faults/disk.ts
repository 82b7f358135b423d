/**
 * A destination whose disk fills up: a server started with
 * `tmpfsRoot: <bytes>` serves a directory on a tmpfs of that size
 * (start.ts); fillDisk() takes what is left, beside the root so that no
 * listing shows it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LabServer } from '../kinds.js';
import { mountsUnder } from '../mounts.js';

function diskOf(server: LabServer): string {
  const disk = path.dirname(server.root);
  if (path.basename(disk) !== 'disk' || !mountsUnder(disk).includes(disk)) {
    throw new Error(`${server.kind} on ${server.host} has no tmpfs root: start it with tmpfsRoot`);
  }
  return disk;
}

/** Bytes still free on a tmpfs root (what an unprivileged writer may use). */
export function diskFree(server: LabServer): number {
  const s = fs.statfsSync(diskOf(server));
  return s.bavail * s.bsize;
}

/**
 * Fill the tmpfs root of `server` until at most `leaveBytes` (default 0)
 * are free; release() deletes the filler again. tmpfs counts whole pages,
 * so what is left is `leaveBytes` rounded down to a page. A file deleted
 * while a session still holds it open keeps its space until the session
 * closes it: wait for diskFree() to rise before filling.
 */
export function fillDisk(server: LabServer, opts: { leaveBytes?: number } = {}): { filled: number; release(): void } {
  const file = path.join(diskOf(server), `filler-${process.pid}-${Date.now()}`);
  const leave = opts.leaveBytes ?? 0;
  const block = Buffer.alloc(64 * 1024);
  let filled = 0;
  const fd = fs.openSync(file, 'w');
  try {
    for (let free = diskFree(server); free > leave; free = diskFree(server)) {
      const n = Math.min(block.length, free - leave);
      try {
        filled += fs.writeSync(fd, block, 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { filled, release: () => fs.rmSync(file, { force: true }) };
}
