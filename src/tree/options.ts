import type { FxpPolicy, PassiveSide } from '../ftp/options.js';

/**
 * Every knob of a mirror run, as one typed object. The CLI's flags and the job
 * file's camelCase keys both produce exactly this shape.
 */
export interface MirrorOptions {
  // walking
  symlinks: 'skip' | 'follow';
  // comparing
  ignoreTime: boolean;
  ignoreSize: boolean;
  onlyNewer: boolean;
  onlyMissing: boolean;
  compare: 'default' | 'checksum';
  // filters (globs are minimatch patterns relative to the mirror root)
  include: string[];
  exclude: string[];
  excludeFrom?: string;
  minSize?: number;
  maxSize?: number;
  newerThan?: Date;
  olderThan?: Date;
  // actions
  delete: boolean;
  /** Stop before deleting more than this many entries, or this percentage of destination entries. */
  maxDelete?: { count: number } | { percent: number };
  // execution
  /** Transfers at once (connection pairs); with MirrorRun.parallelAuto, where the count starts. */
  parallel: number;
  retries: number;
  /** Stop the run after this many failed files (undefined: never stop early). */
  maxErrors?: number;
  dryRun: boolean;
  // transfer (FXP engine)
  fxp: FxpPolicy;
  passive: PassiveSide;
  verify: 'size' | 'checksum' | 'none';
  continue: boolean;
  allowClearData: boolean;
}

export const DEFAULT_MIRROR_OPTIONS: MirrorOptions = {
  symlinks: 'skip',
  ignoreTime: false,
  ignoreSize: false,
  onlyNewer: false,
  onlyMissing: false,
  compare: 'default',
  include: [],
  exclude: [],
  delete: false,
  parallel: 4,
  retries: 5,
  dryRun: false,
  fxp: 'auto',
  passive: 'source',
  verify: 'size',
  continue: false,
  allowClearData: false,
};
