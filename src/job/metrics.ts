/**
 * Prometheus metrics for node_exporter's textfile collector: one gauge family
 * per figure, one sample per job, so an alert like
 *   time() - fxpmirror_last_success_timestamp_seconds > 86400 * 2
 * catches a nightly mirror that has silently stopped working.
 *
 * The file is shared by every job (one cron line per job, one .prom file), so
 * writes merge with what is there and are atomic: node_exporter must never
 * read a half-written file (it would drop every metric in it).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface JobMetrics {
  job: string;
  /** Unix time in seconds. */
  lastRunTimestamp: number;
  lastSuccessTimestamp?: number;
  files: number;
  bytes: number;
  failures: number;
  durationSeconds: number;
  success: boolean;
}

interface Family {
  name: string;
  help: string;
  value: (m: JobMetrics) => number | undefined;
}

const FAMILIES: Family[] = [
  { name: 'fxpmirror_last_run_timestamp_seconds', help: 'Unix time the job last finished a run.', value: (m) => m.lastRunTimestamp },
  {
    name: 'fxpmirror_last_success_timestamp_seconds',
    help: 'Unix time the job last finished a run without failures.',
    // A successful run is its own last success when the caller did not say otherwise.
    value: (m) => m.lastSuccessTimestamp ?? (m.success ? m.lastRunTimestamp : undefined),
  },
  { name: 'fxpmirror_files_transferred', help: 'Files transferred by the last run.', value: (m) => m.files },
  { name: 'fxpmirror_bytes_transferred', help: 'Bytes transferred by the last run.', value: (m) => m.bytes },
  { name: 'fxpmirror_failures', help: 'Files that failed in the last run.', value: (m) => m.failures },
  { name: 'fxpmirror_duration_seconds', help: 'Wall-clock duration of the last run in seconds.', value: (m) => m.durationSeconds },
  { name: 'fxpmirror_success', help: '1 if the last run succeeded, 0 if it failed.', value: (m) => (m.success ? 1 : 0) },
];

const FAMILY_NAMES = new Set(FAMILIES.map((f) => f.name));

/** Exposition format: label values escape backslash, double quote and line feed. */
function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function unescapeLabelValue(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** job -> family name -> value */
type Samples = Map<string, Map<string, number>>;

function toSamples(jobs: JobMetrics[]): Samples {
  const out: Samples = new Map();
  for (const m of jobs) {
    const values = new Map<string, number>();
    for (const f of FAMILIES) {
      const v = f.value(m);
      if (v !== undefined) values.set(f.name, v);
    }
    out.set(m.job, values);
  }
  return out;
}

function renderSamples(samples: Samples): string {
  const jobs = [...samples.keys()].sort();
  const lines: string[] = [];
  // All samples of a family must follow its HELP/TYPE lines contiguously.
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const job of jobs) {
      const v = samples.get(job)?.get(f.name);
      if (v !== undefined) lines.push(`${f.name}{job="${escapeLabelValue(job)}"} ${formatValue(v)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const SAMPLE_RE = /^(fxpmirror_[a-z_]+)\{job="((?:[^"\\]|\\.)*)"\}\s+(\S+)/;

/** Read back our own file; lines we did not write are ignored. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    const m = SAMPLE_RE.exec(line);
    if (!m || !FAMILY_NAMES.has(m[1])) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    const job = unescapeLabelValue(m[2]);
    let values = out.get(job);
    if (!values) out.set(job, (values = new Map<string, number>()));
    values.set(m[1], value);
  }
  return out;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/**
 * Two jobs finishing together would both read the old file and the second
 * rename would drop the first job's lines, so the read-merge-write runs under
 * a small lock file next to the metrics file. A lock older than 30 s is left
 * over from a crash and is broken.
 */
async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const fh = await fs.open(lock, 'wx');
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 30_000) {
        await fs.unlink(lock).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new Error(`metrics file ${path} is locked by ${lock}`, { cause: err });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.unlink(lock).catch(() => {});
  }
}

/**
 * Atomic merge-write: jobs of this run replace their old samples (keeping the
 * old last-success time when this run failed and did not give one), jobs not
 * in this run keep theirs. The temp file lives in the same directory (rename
 * is only atomic within a filesystem) and does not end in ".prom", so the
 * collector never reads it.
 */
export async function writeMetricsFile(path: string, jobs: JobMetrics[]): Promise<void> {
  const dir = dirname(path);
  await fs.mkdir(dir, { recursive: true });
  await withFileLock(path, async () => {
    const samples = parseMetrics(await readOrEmpty(path));
    for (const [job, values] of toSamples(jobs)) {
      const old = samples.get(job);
      const lastSuccess = 'fxpmirror_last_success_timestamp_seconds';
      if (!values.has(lastSuccess) && old?.has(lastSuccess)) values.set(lastSuccess, old.get(lastSuccess)!);
      samples.set(job, values);
    }
    const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.writeFile(tmp, renderSamples(samples), { mode: 0o644 });
      await fs.rename(tmp, path);
    } catch (err) {
      await fs.unlink(tmp).catch(() => {});
      throw err;
    }
  });
}
