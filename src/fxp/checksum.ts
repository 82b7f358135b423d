import type { FtpConnection } from '../ftp/connection.js';
import { checksum, hashAlgorithms } from '../ftp/hash.js';

/**
 * Checksums both servers can compute: the one home of that choice, for the
 * engine's --verify checksum and the mirror's --compare checksum. Strongest
 * first (HASH_ALGORITHMS order), from HASH (draft-bryan-ftpext-hash) or the
 * older XSHA512/XSHA256/XSHA1/XMD5/XCRC commands.
 */
export function sharedHashAlgorithm(a: FtpConnection, b: FtpConnection): string | undefined {
  const theirs = hashAlgorithms(b);
  return hashAlgorithms(a).find((algo) => theirs.includes(algo));
}

/**
 * The same file's checksum on both servers, with the strongest algorithm
 * they share (both asked at once); undefined when they share none.
 */
export async function checksumsOf(
  src: FtpConnection,
  dst: FtpConnection,
  srcPath: string,
  dstPath: string,
): Promise<{ algorithm: string; source: string; destination: string } | undefined> {
  const algorithm = sharedHashAlgorithm(src, dst);
  if (!algorithm) return undefined;
  const [source, destination] = await Promise.all([checksum(src, srcPath, algorithm), checksum(dst, dstPath, algorithm)]);
  return { algorithm, source, destination };
}
