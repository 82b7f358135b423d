import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { FtpConnection } from '../ftp/connection.js';
import { FtpError } from '../ftp/errors.js';
import type { FxpFile } from './transfer.js';

/**
 * The last rung: the client opens both data connections itself and streams
 * RETR into STOR. pipeline() gives backpressure, so memory stays at a few
 * socket buffers whatever the file size, and nothing touches the disk.
 * Returns the number of bytes that passed through the client.
 */
export async function relayTransfer(src: FtpConnection, dst: FtpConnection, file: FxpFile): Promise<number> {
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
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
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
    src.destroy(err as Error);
    dst.destroy(err as Error);
    throw err instanceof FtpError ? err : new FtpError('ECLOSED', `relay failed: ${(err as Error).message}`, { cause: err });
  }
  await Promise.all([retr.finish(), stor.finish()]);
  return bytes;
}
