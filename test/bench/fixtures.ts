/**
 * Bench data, written straight onto the servers' disks (much faster than
 * uploading it): small-file trees, big files, and the 200,000-entry tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface Owner {
  uid: number;
  gid: number;
}

/** One fixed time in the past, so the no-op scenario compares equal times on both sides. */
export const FIXTURE_MTIME = new Date('2024-03-04T05:06:07Z');

export function lookupOwner(user: string): Owner {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`user ${user} does not exist (run: bash test/lab/install.sh)`);
}

function mkdirOwned(dir: string, owner: Owner | null): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
}

/**
 * `dirs` directories d000.. with `perDir` files each, f0000.. numbered across
 * the whole tree (a file's name alone says which it is: the WAN set's wait
 * count matches commands to files by name, and lftp names files relative to
 * the directory it changed into), of `size` bytes each, all with
 * FIXTURE_MTIME. Contents differ per file (name-derived first bytes) so a
 * mix-up would show in a size-equal-but-wrong check done by hand.
 * `owner` null leaves everything root-owned (world-readable: enough for listing).
 */
export function makeTree(base: string, dirs: number, perDir: number, size: number, owner: Owner | null): number {
  mkdirOwned(base, owner);
  const body = Buffer.alloc(size, 0x61);
  let n = 0;
  for (let d = 0; d < dirs; d++) {
    const dir = path.join(base, `d${String(d).padStart(3, '0')}`);
    mkdirOwned(dir, owner);
    for (let f = 0; f < perDir; f++) {
      const file = path.join(dir, `f${String(n).padStart(4, '0')}.dat`);
      if (size > 0) body.writeUInt32BE(n, 0);
      const fd = fs.openSync(file, 'w', 0o644);
      try {
        if (size > 0) fs.writeSync(fd, body.subarray(0, size));
        if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
        fs.futimesSync(fd, FIXTURE_MTIME, FIXTURE_MTIME);
      } finally {
        fs.closeSync(fd);
      }
      n++;
    }
  }
  return n;
}

/** `count` files f0.bin.. of `bytes` each, pseudo-random content (no compression shortcut anywhere). */
export function makeBigFiles(base: string, count: number, bytes: number, owner: Owner): string[] {
  mkdirOwned(base, owner);
  const chunk = randomBytes(4 * 1024 * 1024);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `f${i}.bin`;
    const fd = fs.openSync(path.join(base, name), 'w', 0o644);
    try {
      for (let off = 0, k = 0; off < bytes; off += chunk.length, k++) {
        chunk.writeUInt32BE(i, 0);
        chunk.writeUInt32BE(k, 4);
        fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off));
      }
      fs.fchownSync(fd, owner.uid, owner.gid);
      fs.futimesSync(fd, FIXTURE_MTIME, FIXTURE_MTIME);
    } finally {
      fs.closeSync(fd);
    }
    names.push(name);
  }
  return names;
}

export interface TreeShape {
  files: number;
  bytes: number;
  /** Sum of mtimes (ms): changes when any file was rewritten or touched. */
  mtimeSum: number;
  /** Files whose size differs from `expectSize` (when given). */
  wrongSize: number;
}

/** Walk a directory on disk (the destination server's root). Missing directory = empty. */
export function shapeOf(base: string, expectSize?: number): TreeShape {
  const shape: TreeShape = { files: 0, bytes: 0, mtimeSum: 0, wrongSize: 0 };
  const walk = (dir: string) => {
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of names) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.statSync(p);
        shape.files++;
        shape.bytes += st.size;
        shape.mtimeSum += st.mtimeMs;
        if (expectSize !== undefined && st.size !== expectSize) shape.wrongSize++;
      }
    }
  };
  walk(base);
  return shape;
}

/** Lines in a server's transfer log (0 when it has none yet): a no-op run must not add any. */
export function logLines(file: string | undefined): number {
  if (!file) return 0;
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s === '' ? 0 : s.split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}
