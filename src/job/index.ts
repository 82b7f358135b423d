/** The job layer: job files for cron users, local locks, Prometheus textfile metrics. */
export { formatDiagnostic, loadJobFiles, loadJobText, PLAIN_PASSWORD_WARNING, suggest } from './load.js';
export type { Job, JobDiagnostic, JobEndpoint, LoadResult } from './load.js';
export { acquireLocalLock, defaultLockDir, LockHeldError, lockFileName } from './lock.js';
export { escapeLabelValue, parseMetrics, renderMetrics, writeMetricsFile } from './metrics.js';
export type { JobMetrics } from './metrics.js';
export { buildJsonSchema, parseDateOrAge, parseDuration, parseSize } from './schema.js';
