/**
 * A server that goes away and comes back on the same address, port and
 * root: killed (SIGKILL, every session with it, no goodbye on any
 * connection), down for a while, then started again from the same
 * configuration.
 */
import type { LabServer } from '../kinds.js';
import { sleep } from '../processes.js';
import { crashServer, relaunchServer } from '../start.js';

export { crashServer, relaunchServer };

/**
 * Crash `server`, keep it down for `downMs` (default 0), start it again, and
 * resolve once it greets. `server.pid` is the new listener afterwards; the
 * same LabServer object stays valid (stop() stops the new process).
 */
export async function restartServer(server: LabServer, opts: { downMs?: number } = {}): Promise<void> {
  await crashServer(server);
  if (opts.downMs) await sleep(opts.downMs);
  await relaunchServer(server);
}
