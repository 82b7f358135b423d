/**
 * File checksums computed by the server (draft-bryan-ftpext-hash HASH, or
 * the older XSHA512/XSHA256/XSHA1/XMD5/XCRC commands): which algorithms a
 * server offers, and one file's checksum. The FXP layer compares them
 * across two servers (fxp/checksum.ts).
 */
import type { FtpConnection } from './connection.js';
import { HASH_ALGORITHMS, X_CHECKSUM, checksumCommand, isHashAlgorithm, selectHashCommand } from './commands.js';
import { FtpProtocolError } from './errors.js';

/** Checksums can take a while on large files: at least this long for the reply. */
const CHECKSUM_TIMEOUT_MS = 120_000;

/** Hash algorithms `conn`'s server can compute, strongest first (HASH_ALGORITHMS naming). */
export function hashAlgorithms(conn: FtpConnection): string[] {
  const f = conn.features;
  const fromHash = (f.hash?.algorithms ?? []).map((a) => a.toUpperCase());
  return HASH_ALGORITHMS.filter((algo) => fromHash.includes(algo) || f.checksums[X_CHECKSUM[algo].feature]);
}

/**
 * A file's checksum, lower-case hex: HASH (after OPTS HASH selects the
 * algorithm) where advertised, else the X command. Takes the connection's queue.
 */
export async function checksum(conn: FtpConnection, path: string, algorithm: string): Promise<string> {
  return conn.exclusive(async () => {
    if (!isHashAlgorithm(algorithm)) throw new FtpProtocolError(`${conn.label}: unknown checksum algorithm ${algorithm}`);
    const f = conn.features;
    const viaHash = (f.hash?.algorithms ?? []).some((a) => a.toUpperCase() === algorithm);
    if (viaHash && f.hash?.selected?.toUpperCase() !== algorithm) {
      await conn.request(...selectHashCommand(algorithm));
      if (f.hash) f.hash.selected = algorithm;
    }
    const [verb, arg] = checksumCommand(algorithm, path, viaHash);
    const r = await conn.request(verb, arg, { timeoutMs: Math.max(conn.server.timeouts.command, CHECKSUM_TIMEOUT_MS) });
    // HASH: "213 SHA-256 0-49 <hex> filename"; the X commands: "213 <hex>".
    const text = viaHash ? r.message.replace(/^\S+\s+\S+\s+/, '') : r.message;
    const m = /\b([0-9a-fA-F]{8,128})\b/.exec(text);
    if (!m) throw new FtpProtocolError(`${conn.label}: cannot read ${verb} reply: ${r.message}`);
    return m[1].toLowerCase();
  });
}
