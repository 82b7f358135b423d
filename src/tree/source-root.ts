import type { Listing } from '../ftp/names.js';
import type { ConnectionPool } from '../ftp/pool.js';
import type { MirrorOptions } from './options.js';
import { retryPolicy, withRetries } from './retry.js';
import { errorRecord } from './summary.js';

/**
 * The source root could not be listed: it does not exist, is not readable, or
 * the server failed. Nothing can be compared, so nothing is done on any
 * target (not even creating its root). Keeps the cause's code, so a 550 is
 * still a refusal and a dropped connection still a connection failure.
 */
export class SourceRootError extends Error {
  readonly code: string;
  constructor(display: string, address: string, err: unknown) {
    const { code, message } = errorRecord(err);
    super(`source directory ${display}${display.includes(address) ? '' : ` (${address})`} cannot be listed: ${message}`, { cause: err });
    this.name = 'SourceRootError';
    this.code = code;
  }
}

/**
 * List the source root (screened: names.ts), or throw SourceRootError.
 * Callers that must not touch a target before they know the source is there
 * (a remote lock creates the target root) call it first and pass the listing
 * to mirror() as `sourceListing`. Links are resolved by the walk, as in every
 * other directory.
 */
export async function readSourceRoot(src: { pool: ConnectionPool; root: string; display: string }, opts: Pick<MirrorOptions, 'retries'>): Promise<Listing> {
  try {
    // Subdirectories most likely follow: the next listing's PASV is asked ahead (list-command.ts).
    return await withRetries(retryPolicy(opts.retries), () => src.pool.use((c) => c.list(src.root, { more: true })));
  } catch (err) {
    const { host, port } = src.pool.server;
    throw new SourceRootError(src.display, `${host.includes(':') ? `[${host}]` : host}:${port}`, err);
  }
}
