/**
 * Fault injection for the lab servers. Each helper touches only the
 * addresses, processes and mounts of servers this process started, and each
 * is undone by a call meant for `finally` (resume, heal, release), with a
 * last-resort undo on process exit (registry.ts).
 */
export { resetConnections, resetFilter, type Endpoint } from './connections.js';
export { peersOf, stopSessions, type StoppedSessions } from './sessions.js';
export { crashServer, relaunchServer, restartServer } from './restart.js';
export { partition, type Partition } from './partition.js';
export { diskFree, fillDisk } from './disk.js';
export { waitForSize } from './wait.js';
