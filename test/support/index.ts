/**
 * Test support that needs no lab: the scripted FTP server (hostile replies,
 * fault orderings, FtpConnection/FXP/mirror unit tests) and the recording
 * listener (the third party of bounce tests). Everything listens on port 0
 * of a 127.x address, so parallel worktrees never collide.
 */
export { ScriptedFtpServer, Session, formatReply, DEFAULT_FEATURES } from './ftp-server.js';
export type { CommandContext, Handler, ReplyText, ScriptedServerOptions } from './ftp-server.js';
export { MemoryTree, mlsdText, listText } from './memory-tree.js';
export type { MemoryNode, TreeSeed } from './memory-tree.js';
export { endlessListing, DATA_WAIT_MS } from './ftp-data.js';
export type { DataBody, DataRecord } from './ftp-data.js';
export { startRecordingListener } from './recording-listener.js';
export type { RecordedConnection, RecordingListener } from './recording-listener.js';
export { startCli } from './cli-process.js';
export type { CliEnd, RunningCli } from './cli-process.js';
export { FxpPair, withPair } from './fxp-pair.js';
export type { PairOptions, RecordedEvent } from './fxp-pair.js';
