import { FtpConnection } from '../ftp/connection.js';
import type { ListEntry } from '../ftp/entry.js';
import type { RejectedEntry } from '../ftp/names.js';
import { serverFromUrl } from './servers.js';
import { resolveOn } from './login-paths.js';
import { flagsOf, wireLog, type CommonOpts } from './options.js';
import { EXIT } from './exit.js';
import { createLogger, streamSink } from './log.js';
import { displayText, entryToJson, quoteName } from './render.js';

/** `fxpmirror ls <url> [-R] [--json]`: one directory, or the whole tree below it. */

export interface LsFlags extends CommonOpts {
  recursive?: boolean;
  /** A flag here: ls has one server. */
  trustPasvAddress?: boolean;
  json?: boolean;
}

type PathEntry = ListEntry & { path: string };

function entryLine(e: ListEntry, name: string): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'special' ? 's' : '-';
  const size = e.size !== undefined ? String(e.size) : '-';
  const when = e.mtime ? (e.mtimeApproximate ? '~' : ' ') + e.mtime.toISOString().replace(/\.000Z$/, 'Z') : ' -';
  return `${t} ${size.padStart(12)} ${when.padEnd(22)} ${displayText(name)}${e.target ? ` -> ${displayText(e.target)}` : ''}${e.type === 'dir' ? '/' : ''}`;
}

/**
 * Every entry under `dir`, depth first, each with its path relative to `dir`;
 * with `recursive` false, only `dir` itself. Entries are handed to `visit` as
 * they are listed, so a text listing of a big tree starts at once. Names the
 * listing screened out (names.ts) go to `reject` with the directory that
 * listed them, and are neither shown nor descended into.
 */
export async function walkListing(
  conn: FtpConnection,
  dir: string,
  recursive: boolean,
  visit: (e: PathEntry) => void,
  reject: (dir: string, r: RejectedEntry) => void,
): Promise<void> {
  const walk = async (abs: string, rel: string): Promise<void> => {
    const { entries, rejected } = await conn.list(abs);
    for (const r of rejected) reject(abs, r);
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      visit({ ...e, path: p });
      if (recursive && e.type === 'dir') await walk(abs.replace(/\/$/, '') + '/' + e.name, p);
    }
  };
  await walk(dir, '');
}

export async function lsCommand(url: string, o: LsFlags): Promise<number> {
  const { server, url: u } = serverFromUrl(url, '', flagsOf(o));
  const log = createLogger({ sinks: [streamSink(process.stderr, 'text', 'info', !!process.stderr.isTTY)] });
  const conn = await FtpConnection.connect(server, { wireLog: wireLog(o.verbose, server.name), onNote: (n) => log.log(n) });
  try {
    const out: PathEntry[] = [];
    await walkListing(
      conn,
      await resolveOn(conn, u.path),
      !!o.recursive,
      (e) => {
        if (o.json) out.push(e);
        else process.stdout.write(entryLine(e, o.recursive ? e.path : e.name) + '\n');
      },
      (dir, r) => process.stderr.write(`fxpmirror: warning: ${displayText(dir)}: unusable name ${quoteName(r.name)} (${r.reason}), left out\n`),
    );
    if (o.json) process.stdout.write(JSON.stringify(out.map((e) => ({ path: e.path, ...entryToJson(e) })), null, 2) + '\n');
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}
