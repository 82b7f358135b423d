/**
 * Reading the small local files a run depends on (netrc, job files) with a
 * size bound, and saying in words what is wrong with one. A path may name a
 * directory, a FIFO or /dev/zero: read at most the bound, never "the whole
 * file".
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A file we refused to read whole: code 'EFBIG'. */
export class FileTooLargeError extends Error {
  readonly code = 'EFBIG';
  constructor(
    readonly path: string,
    readonly maxBytes: number,
    /** The size when the file system knows it (a regular file), else undefined. */
    readonly size?: number,
  ) {
    super(`${path}: larger than ${formatLimit(maxBytes)}`);
  }
}

/**
 * The file's text (UTF-8), reading at most `maxBytes`; a bigger file throws
 * FileTooLargeError before anything is read when its size is known. A
 * directory throws an error with code EISDIR; other errors are fs errors
 * (ENOENT, EACCES, ...).
 */
export function readTextFileBounded(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`${path}: is a directory`), { code: 'EISDIR' });
    if (st.isFile() && st.size > maxBytes) throw new FileTooLargeError(path, maxBytes, st.size);
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.alloc(Math.min(maxBytes + 1, 64 * 1024));
    for (;;) {
      const got = readSync(fd, buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (got === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, got)));
      total += got;
      if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** What is wrong with a file, in words a user can act on (no stack, no errno jargon). */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'EFBIG':
      return `larger than ${formatLimit((err as FileTooLargeError).maxBytes)}`;
    default:
      return (err as Error)?.message ?? String(err);
  }
}

function formatLimit(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}
