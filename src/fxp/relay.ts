import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { FtpConnection } from '../ftp/connection.js';
import { FtpClosedError, FtpError, FtpReplyError } from '../ftp/errors.js';
import { settledWithin } from '../ftp/wait.js';
import type { FxpFile } from './transfer.js';

/**
 * The last rung: the client opens both data connections itself and streams
 * RETR into STOR. pipeline() gives backpressure, so memory stays at a few
 * socket buffers whatever the file size, and nothing touches the disk.
 * Returns the number of bytes that passed through the client.
 */
export async function relayTransfer(
  src: FtpConnection,
  dst: FtpConnection,
  file: FxpFile,
  onProgress?: (bytes: number, bytesPerSecond: number) => void,
  progressMs = 1000,
): Promise<number> {
  const retr = await src.openData('RETR', file.srcPath, { rest: file.rest });
  let stor;
  try {
    stor = await dst.openData('STOR', file.dstPath, { rest: file.rest });
  } catch (err) {
    // The source is already sending: close its data connection and its
    // control connection (its 226/426 would otherwise answer a later command).
    retr.socket.destroy();
    src.destroy(err as Error);
    throw err;
  }
  let bytes = 0;
  // The file's bytes so far (REST offset included) and the rate, at most every
  // progressMs: what the part-file polling gives for FXP (watch.ts).
  let last = { bytes: 0, at: Date.now() };
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const at = Date.now();
      if (onProgress && at - last.at >= progressMs) {
        onProgress(file.rest + bytes, ((bytes - last.bytes) * 1000) / (at - last.at));
        last = { bytes, at };
      }
      cb(null, chunk);
    },
  });
  const idle = Math.max(src.server.timeouts.data, dst.server.timeouts.data);
  retr.socket.setTimeout(idle, () => retr.socket.destroy(new FtpError('ETIMEOUT', `${src.label}: relay data idle for ${idle} ms`)));
  try {
    await pipeline(retr.socket, count, stor.socket, { signal: file.signal });
  } catch (err) {
    retr.socket.destroy();
    stor.socket.destroy();
    // The destination's own reply says why better than a broken pipe (452
    // disk full, 426): wait a moment for it. Both connections close after,
    // their replies no longer pair with our commands.
    const verdict = file.signal?.aborted ? undefined : await settledWithin(stor.finish().then(() => undefined, (e: unknown) => e), VERDICT_MS);
    src.destroy(err as Error);
    dst.destroy(err as Error);
    if (verdict instanceof FtpReplyError) throw verdict;
    throw err instanceof FtpError ? err : new FtpClosedError(`relay ${src.label} -> ${dst.label} failed: ${(err as Error).message}`, { cause: err });
  }
  await Promise.all([retr.finish(), stor.finish()]);
  return bytes;
}

/** After a broken relay, how long the destination's reply is waited for. */
const VERDICT_MS = 2000;
