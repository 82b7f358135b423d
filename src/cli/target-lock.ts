import { acquireLocalLock, defaultLockDir, targetLockKey, type LockOwner } from '../job/lock.js';
import type { ServerOptions } from '../ftp/options.js';
import type { Logger } from './log.js';
import { onForcedExit } from './interrupt.js';

/**
 * Take the local lock of one target (server host:port and directory), for
 * `mirror` and for each target of a job: two runs that would write the same
 * target exclude each other (LockHeldError, exit 5), whatever their names. A
 * stale lock (dead pid) is taken over and logged. An interrupted run releases
 * it as it winds down, or, when the wind-down takes too long, just before it exits.
 */
export async function lockTarget(lockDir: string | undefined, server: ServerOptions, path: string, owner: LockOwner, log: Logger): Promise<() => Promise<void>> {
  const release = await acquireLocalLock(lockDir ?? defaultLockDir(), targetLockKey(server.host, server.port, path), owner, (info) =>
    log.log({
      level: 'warn',
      event: 'stale-lock',
      message: `took over a stale lock of pid ${info.pid}${info.job !== undefined ? ` (job '${info.job}')` : ''} (started ${info.startedAt})`,
    }),
  );
  const unregister = onForcedExit(release);
  return async () => {
    unregister();
    await release();
  };
}
