/**
 * The scripted FTP server's file system: a map of absolute posix paths to
 * files and directories, held in memory. Tests seed it, the server reads and
 * writes it (STOR, DELE, MKD, RNTO, ...) and tests check it afterwards.
 *
 * Paths are resolved the way a chrooted server does: "/.." is "/". A name
 * with a "/" in it cannot exist here; a test that wants a hostile listing
 * gives the listing text itself (see ScriptedServerOptions.listing).
 */
import path from 'node:path/posix';

export interface MemoryFile {
  type: 'file';
  data: Buffer;
  mtime: Date;
}

export interface MemoryDir {
  type: 'dir';
  mtime: Date;
}

export type MemoryNode = MemoryFile | MemoryDir;

/** What a test seeds: "path" -> contents (a string, bytes, or bytes with a time); a path ending in "/" is a directory. */
export type TreeSeed = Record<string, string | Buffer | { data: string | Buffer; mtime: Date }>;

const T0 = new Date(Date.UTC(2023, 0, 1));

export class MemoryTree {
  readonly nodes = new Map<string, MemoryNode>([['/', { type: 'dir', mtime: T0 }]]);

  constructor(seed: TreeSeed = {}) {
    for (const [p, v] of Object.entries(seed)) {
      if (p.endsWith('/')) this.mkdirs(p);
      else if (typeof v === 'string' || Buffer.isBuffer(v)) this.put(p, v);
      else this.put(p, v.data, v.mtime);
    }
  }

  /** Absolute, normalised; ".." never climbs above "/" (like a chroot). */
  static resolve(cwd: string, arg: string): string {
    return path.resolve('/', cwd, arg);
  }

  get(p: string): MemoryNode | undefined {
    return this.nodes.get(MemoryTree.resolve('/', p));
  }

  /** A file's bytes, or undefined. */
  read(p: string): Buffer | undefined {
    const n = this.get(p);
    return n?.type === 'file' ? n.data : undefined;
  }

  isDir(p: string): boolean {
    return this.get(p)?.type === 'dir';
  }

  /** mkdir -p. */
  mkdirs(p: string, mtime = T0): void {
    const abs = MemoryTree.resolve('/', p);
    if (abs === '/') return;
    this.mkdirs(path.dirname(abs), mtime);
    if (!this.nodes.has(abs)) this.nodes.set(abs, { type: 'dir', mtime });
  }

  /** Write a file, creating missing parents. */
  put(p: string, data: string | Buffer, mtime = T0): void {
    const abs = MemoryTree.resolve('/', p);
    this.mkdirs(path.dirname(abs));
    this.nodes.set(abs, { type: 'file', data: Buffer.from(data), mtime });
  }

  /** Direct children of a directory, sorted by name. */
  children(dir: string): [string, MemoryNode][] {
    const abs = MemoryTree.resolve('/', dir);
    const prefix = abs === '/' ? '/' : `${abs}/`;
    const out: [string, MemoryNode][] = [];
    for (const [p, n] of this.nodes) {
      if (p !== '/' && p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) out.push([p.slice(prefix.length), n]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Move a file or a whole directory subtree. */
  rename(from: string, to: string): void {
    const a = MemoryTree.resolve('/', from);
    const b = MemoryTree.resolve('/', to);
    for (const [p, n] of [...this.nodes]) {
      if (p === a || p.startsWith(`${a}/`)) {
        this.nodes.delete(p);
        this.nodes.set(b + p.slice(a.length), n);
      }
    }
  }

  delete(p: string): void {
    this.nodes.delete(MemoryTree.resolve('/', p));
  }

  /** Every path below "/", sorted: a test's snapshot of the whole tree. */
  paths(): string[] {
    return [...this.nodes.keys()].filter((p) => p !== '/').sort();
  }
}

// ---------------------------------------------------------------- listings

function timeVal(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3659 §7 MLSD text for a directory's children. */
export function mlsdText(entries: [string, MemoryNode][]): string {
  return entries
    .map(([name, n]) =>
      n.type === 'dir'
        ? `type=dir;modify=${timeVal(n.mtime)}; ${name}\r\n`
        : `type=file;size=${n.data.length};modify=${timeVal(n.mtime)}; ${name}\r\n`,
    )
    .join('');
}

/** `ls -l` style LIST text (dates with a year: no guessing on the client). */
export function listText(entries: [string, MemoryNode][]): string {
  return entries
    .map(([name, n]) => {
      const d = n.mtime;
      const date = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)}  ${d.getUTCFullYear()}`;
      const size = n.type === 'file' ? n.data.length : 4096;
      return `${n.type === 'dir' ? 'drwxr-xr-x' : '-rw-r--r--'}    1 ftp      ftp      ${String(size).padStart(8)} ${date} ${name}\r\n`;
    })
    .join('');
}

/** "20230102030405" (RFC 3659 §2.3) -> Date, or undefined. */
export function parseTimeVal(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(text);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}

export { timeVal };
