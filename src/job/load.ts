/**
 * Job files: YAML in, typed `Job`s and positioned diagnostics out. This
 * module checks one file as a whole (its size and depth before the parser,
 * the YAML errors, the top-level keys, version, duplicate job names); the
 * parts are read by read-server.ts (servers and credentials) and
 * read-job.ts (defaults and jobs), which report through reader.ts. The rules
 * themselves (which keys exist, their types and enums) are data in schema.ts.
 *
 * loadJobText reads nothing itself: the environment, the netrc (consulted
 * only for a server without a password), the clock and the CA file check are
 * arguments. Its one effect beyond its result is deliberate: each password it
 * resolves is added to the process-wide secret list (src/ftp/secrets.ts, by
 * src/ftp/credentials.ts) the moment it is resolved, so no output can print
 * it, whatever the caller does next. That list only grows and masks; a
 * caller registering secrets afterwards could forget, or print first.
 * job-files.ts does the file I/O around it.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import { NO_NETRC, type NetrcSource } from '../ftp/credentials.js';
import type { Job } from './job.js';
import { JOB_FILE_MAX_BYTES, JOB_FILE_MAX_DEPTH, excessiveNesting } from './limits.js';
import { DEFAULTS_KEYS, JOB_FILE_VERSION, SERVER_NAME_RE, TOP_LEVEL_KEYS } from './schema.js';
import { JobFileReader, isEmptyValue, mappingEntries, nodeKind, typeError, type JobDiagnostic, type Position } from './reader.js';
import { readServer, type ServerSlot } from './read-server.js';
import { readJob, readOptions, type OptionValues } from './read-job.js';

export interface LoadResult {
  jobs: Job[];
  diagnostics: JobDiagnostic[];
}

/** A job and where its name is written (for "duplicate job name ... first defined at"). */
export interface LoadedJob {
  job: Job;
  pos: Position;
}

/** What loadJobText needs besides the text: all of it injectable, none of it read here. */
export interface LoadOptions {
  /** Anchors ages like newerThan: "7d". Default: now. */
  now?: Date;
  /** The netrc, consulted only for a server without a password. Default: none. */
  netrc?: NetrcSource;
  /** What is wrong with a server's 'ca' file, or undefined. Default: not checked. */
  checkCaFile?: (path: string) => string | undefined;
}

/** Bounds before the parser: it recurses per level and holds the whole tree (limits.ts). */
function tooBig(r: JobFileReader, text: string): boolean {
  if (text.length > JOB_FILE_MAX_BYTES) {
    r.error(0, `the job file is larger than ${JOB_FILE_MAX_BYTES / (1024 * 1024)} MiB: is it the right file?`);
    return true;
  }
  const tooDeep = excessiveNesting(text, JOB_FILE_MAX_DEPTH);
  if (tooDeep !== undefined) {
    r.error(tooDeep, `mappings and lists nested more than ${JOB_FILE_MAX_DEPTH} levels deep (a job file needs fewer than 10): is it the right file?`);
    return true;
  }
  return false;
}

/**
 * One file's text to its jobs (each with the position of its name) and
 * diagnostics. A file with any error yields no jobs: half of a broken file
 * must not run from cron.
 */
export function readJobFile(text: string, file: string, env: Record<string, string | undefined>, opts: LoadOptions): { loaded: LoadedJob[]; diagnostics: JobDiagnostic[] } {
  const r = new JobFileReader(text, file, { env, netrc: opts.netrc ?? NO_NETRC, now: opts.now ?? new Date(), checkCaFile: opts.checkCaFile });
  if (tooBig(r, text)) return { loaded: [], diagnostics: r.diagnostics };
  const doc = r.parse();
  for (const err of doc.errors) {
    // The library's advice here names its own API; say what it means for a job file.
    const message = err.code === 'MULTIPLE_DOCS' ? "a job file holds one YAML document (remove the second '---')" : err.message;
    r.error(err.pos[0], message);
  }
  for (const w of doc.warnings) r.warn(w.pos[0], w.message);
  // A broken document's tree is a guess; checking it would mostly add noise.
  if (doc.errors.length) return { loaded: [], diagnostics: r.diagnostics };

  const root = r.deref(doc.contents);
  if (!root || isEmptyValue(root)) {
    r.error(0, `the job file is empty: expected 'version', 'servers' and 'jobs'`);
    return { loaded: [], diagnostics: r.diagnostics };
  }
  if (!isMap(root)) {
    r.error(root.range?.[0] ?? 0, `the top level must be a mapping with 'version', 'servers' and 'jobs', got ${nodeKind(root)}`);
    return { loaded: [], diagnostics: r.diagnostics };
  }
  const rootOffset = root.range?.[0] ?? 0;
  const top = mappingEntries(r, root, TOP_LEVEL_KEYS, 'the top level');

  const version = top.get('version');
  if (!version) r.error(rootOffset, `missing required key 'version' (add 'version: ${JOB_FILE_VERSION}')`);
  else if (isScalar(version.value) && typeof version.value.value === 'number') {
    if (version.value.value !== JOB_FILE_VERSION) {
      r.error(r.valueOffset(version.pair), `unsupported version ${version.value.value} (this fxpmirror reads version ${JOB_FILE_VERSION})`);
    }
  } else {
    typeError(r, version, 'version', String(JOB_FILE_VERSION));
  }

  const servers = new Map<string, ServerSlot>();
  const serversEntry = top.get('servers');
  if (!serversEntry) r.error(rootOffset, `missing required key 'servers'`);
  else if (isMap(serversEntry.value)) {
    for (const [name, e] of mappingEntries(r, serversEntry.value, null, 'servers')) {
      if (!SERVER_NAME_RE.test(name)) {
        r.error(e.keyOffset, `invalid server name '${name}' (use letters, digits, '.', '_' and '-')`);
        servers.set(name, {});
        continue;
      }
      servers.set(name, readServer(r, name, e.keyOffset, e.value, e.pair));
    }
  } else if (!isEmptyValue(serversEntry.value)) {
    typeError(r, serversEntry, 'servers', 'a mapping of server names to servers');
  }

  let defaults: OptionValues = { options: {} };
  const defaultsEntry = top.get('defaults');
  if (defaultsEntry) {
    if (isMap(defaultsEntry.value)) defaults = readOptions(r, mappingEntries(r, defaultsEntry.value, DEFAULTS_KEYS, 'defaults'));
    else if (!isEmptyValue(defaultsEntry.value)) typeError(r, defaultsEntry, 'defaults', 'a mapping of mirror options');
  }

  const loaded: LoadedJob[] = [];
  const jobsEntry = top.get('jobs');
  if (!jobsEntry) r.error(rootOffset, `missing required key 'jobs'`);
  else if (isSeq(jobsEntry.value)) {
    if (jobsEntry.value.items.length === 0) r.error(r.valueOffset(jobsEntry.pair), 'no jobs defined');
    const names = new Map<string, Position>();
    for (const raw of jobsEntry.value.items) {
      const item = r.deref(raw);
      const parsed = readJob(r, item, item?.range?.[0] ?? r.valueOffset(jobsEntry.pair), servers, defaults);
      if (!parsed) continue;
      const pos = r.at(parsed.nameOffset);
      const first = names.get(parsed.job.name);
      if (first) {
        r.error(parsed.nameOffset, `duplicate job name '${parsed.job.name}' (first defined at ${file}:${first.line}:${first.col})`);
        continue;
      }
      names.set(parsed.job.name, pos);
      loaded.push({ job: parsed.job, pos });
    }
  } else if (isEmptyValue(jobsEntry.value)) {
    r.error(jobsEntry.keyOffset, 'no jobs defined');
  } else {
    typeError(r, jobsEntry, 'jobs', 'a list of jobs');
  }

  // Checks run key by key, not line by line; report in reading order.
  // A mapping merged with "<<" is checked where it is defined and again where
  // it is merged: report each problem once.
  const unique = new Map(r.diagnostics.map((d) => [`${d.file}:${d.line}:${d.col}:${d.severity}:${d.message}`, d]));
  const diagnostics = [...unique.values()].sort((x, y) => x.line - y.line || x.col - y.col);
  return { loaded: r.errorCount() > 0 ? [] : loaded, diagnostics };
}

/**
 * A job file's text to its jobs and diagnostics. No fs, no process.env:
 * everything comes in as arguments (the netrc and the CA file check as
 * functions, called only when needed). A file with any error diagnostic
 * yields no jobs (warnings do not matter). The passwords it resolves are
 * registered as secrets (see the top of this file).
 */
export function loadJobText(text: string, file: string, env: Record<string, string | undefined>, opts: LoadOptions = {}): LoadResult {
  const { loaded, diagnostics } = readJobFile(text, file, env, opts);
  return { jobs: loaded.map((l) => l.job), diagnostics };
}
