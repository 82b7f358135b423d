import type { FxpPolicy, ServerOptions } from '../ftp/options.js';
import type { MirrorOptions } from '../tree/options.js';

/**
 * What a job file yields: typed jobs, ready to run. Built by the loader
 * (load.ts and the read-*.ts modules it uses); run by src/cli/job-run.ts.
 */

/** A server of a job file: connection options plus its FXP and PASV preferences. */
export type JobServer = ServerOptions & { fxp?: FxpPolicy; passive?: 'prefer' | 'avoid' };

export interface JobEndpoint {
  serverName: string;
  server: JobServer;
  /**
   * The directory as written after "server:": absolute ("/pub", as in
   * "server:/pub") or relative to the login directory ("pub" or "" for
   * "server:pub" and "server:"). src/cli resolves a relative one with PWD
   * once connected; nothing is sent to a server before that.
   */
  path: string;
}

export interface Job {
  name: string;
  file: string;
  from: JobEndpoint;
  to: JobEndpoint[];
  options: MirrorOptions;
  remoteLock: boolean;
  remoteLockTtlMs: number;
  /** The passive side comes from the job (or defaults) or a server's passive preference, not from the built-in default. */
  passiveExplicit: boolean;
  /** `parallel` was set (job or defaults): the number of transfers at once is fixed, else it adapts (src/tree/pairs.ts). */
  parallelExplicit: boolean;
}
