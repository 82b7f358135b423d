import type { FtpConnection } from '../ftp/connection.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { absolutePath, loginDirectory } from '../ftp/url.js';

/**
 * Paths are relative to the login directory unless they start with "/": a
 * URL's path as RFC 1738 §3.2.2 reads it (ftp://host/pub; %2F makes it
 * absolute), and a job endpoint as scp reads it (server:pub; server:/pub is
 * absolute). The login directory is asked once per server (PWD on its first
 * connection, before anything could CWD), and every path is made absolute
 * before it is used, so the containment checks (src/ftp/remote-path.ts) and
 * the lock keys always see absolute paths.
 */

/** An endpoint path as the absolute path it means on one server. */
export type PathResolver = (path: string) => string;

const isRelative = (p: string) => !p.startsWith('/');

/** The login directory of a connection nothing has moved yet (fresh from login). */
async function loginDirOf(conn: FtpConnection): Promise<string> {
  return loginDirectory(await conn.pwd(), conn.label);
}

function resolver(loginDir: string | undefined): PathResolver {
  return (p) => {
    if (!isRelative(p)) return p;
    if (loginDir === undefined) throw new Error(`relative path ${JSON.stringify(p)} resolved without a login directory`);
    return absolutePath(p, loginDir);
  };
}

/**
 * Connect `pool` once (a wrong password or a dead host is one clear error
 * before anything is done) and learn what `paths` mean there; PWD is sent
 * only when one of them is relative. The pool must be new: its first
 * connection is the one asked.
 */
export async function connectAndResolve(pool: ConnectionPool, paths: string[]): Promise<PathResolver> {
  const relative = paths.some(isRelative);
  return resolver(await pool.use(async (c) => (relative ? loginDirOf(c) : undefined)));
}

/** `path` made absolute on a connection fresh from login. */
export async function resolveOn(conn: FtpConnection, path: string): Promise<string> {
  return isRelative(path) ? absolutePath(path, await loginDirOf(conn)) : path;
}
