/**
 * The real-server test lab, one import for the tests: vsftpd, proftpd,
 * pure-ftpd and pyftpdlib (the FXP servers), GNU inetutils ftpd and ftp-srv
 * (servers that always refuse FXP, in words of their own), each started
 * standalone in the foreground on its own loopback address, from
 * configuration generated into the lab state directory (`<repo>/.lab`).
 *
 * Why one address per server: the servers' foreign-address checks (the thing
 * that makes FXP fail on a default install) compare the data connection's
 * peer with the control connection's peer. On one shared address they can
 * never fire.
 *
 * Where things are:
 *   kinds.ts       the kinds, StartOptions, LabServer, addresses
 *   env.ts         paths, the lab user, whether a kind can run here
 *   start.ts       start, stop, crash, relaunch; readiness
 *   config/*.ts    one configuration generator per kind
 *   processes.ts   /proc, process trees, stopping by pid
 *   pids.ts        pid files and `lab down` after a crash
 *   registry.ts    what this process runs; cleanup on exit
 *   cert.ts        the TLS certificate
 *   mounts.ts      tmpfs roots
 *   nft.ts         the lab's nftables tables
 *   counter.ts     the byte counter
 *   lftp.ts        the reference client
 *   faults/*.ts    fault injection (resets, stalls, restarts, full disks, partitions)
 *
 * Preparing the machine (packages, unpacked servers, the ftptest user) is
 * test/lab/install.sh's job; labAvailable() says what is missing.
 */
export * from './kinds.js';
export { REPO_ROOT, labAvailable, labStateDir, labUserIds, requireServer, type LabUser } from './env.js';
export { startServer } from './start.js';
export { runningServers, stopAll } from './registry.js';
export { cleanLeftovers } from './pids.js';
export { isAlive, isStopped, labProcessTree, processStartTime } from './processes.js';
export { ensureLabCert, type LabCert } from './cert.js';
export { NFT_TABLE_PREFIX, deleteCounterTables, deleteLabTables } from './nft.js';
export { startByteCounter, type ByteCounter, type ByteCounts } from './counter.js';
export { runLftp, type LftpResult } from './lftp.js';
export * from './faults/index.js';
