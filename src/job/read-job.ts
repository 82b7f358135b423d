/**
 * The `defaults:` and `jobs:` of a job file: mirror options, endpoints
 * ("server:/path", "server:path"), and each job with the file's defaults applied.
 */
import { posix } from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { DEFAULT_MIRROR_OPTIONS, type MirrorOptions } from '../tree/options.js';
import type { Job, JobEndpoint, JobServer } from './job.js';
import { DEFAULTS_KEYS, DEFAULT_REMOTE_LOCK_TTL_MS, JOB_KEYS, MIRROR_OPTION_KEYS } from './schema.js';
import { didYouMean } from './did-you-mean.js';
import { mappingEntries, nodeKind, type Entry, type JobFileReader } from './reader.js';
import { readRule, readString } from './read-value.js';
import type { ServerSlot } from './read-server.js';

/** Mirror options and lock settings of `defaults:` or of one job. */
export interface OptionValues {
  options: Partial<MirrorOptions>;
  remoteLock?: boolean;
  remoteLockTtlMs?: number;
}

const NOT_OPTIONS = new Set(['name', 'from', 'to']);

export function readOptions(r: JobFileReader, keys: Map<string, Entry>): OptionValues {
  const out: OptionValues = { options: {} };
  const opts = out.options as Record<string, unknown>;
  for (const [key, e] of keys) {
    if (NOT_OPTIONS.has(key)) continue;
    const rule = key === 'remoteLock' || key === 'remoteLockTtl' ? DEFAULTS_KEYS[key] : MIRROR_OPTION_KEYS[key as keyof MirrorOptions];
    const v = readRule(r, e, rule);
    if (v === undefined) continue;
    if (key === 'remoteLock') out.remoteLock = v as boolean;
    else if (key === 'remoteLockTtl') out.remoteLockTtlMs = v as number;
    else opts[key] = v;
  }
  const o = out.options;
  if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) {
    r.error(r.valueOffset(keys.get('minSize')!.pair), `'minSize' (${o.minSize}) is larger than 'maxSize' (${o.maxSize}): nothing would be copied`);
  }
  return out;
}

interface EndpointRef {
  serverName: string;
  path: string;
}

/**
 * "server:/path" is absolute, "server:path" (and "server:") relative to the
 * login directory, as in scp; src/cli resolves a relative one with PWD once
 * connected (login-paths.ts).
 */
const ENDPOINT_RE = /^([^:/\s]+):(.*)$/;
const ENDPOINT_FORM = 'server:/path or server:path';

/** "/a//b/" -> "/a/b", "./pub/" -> "pub", "." -> "" (the login directory). */
function normalizePath(p: string): string {
  if (p === '') return '';
  const n = posix.normalize(p);
  if (n === '.') return '';
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** "server:/path" or "server:path" from `from` or an item of `to`. */
function readEndpoint(r: JobFileReader, label: string, node: Node | null, offset: number): EndpointRef | undefined {
  if (!isScalar(node) || typeof node.value !== 'string') {
    r.error(offset, `'${label}' must be a string of the form ${ENDPOINT_FORM}, got ${nodeKind(node)}`);
    return undefined;
  }
  const text = r.interpolate(node.value, node, label);
  if (text === undefined) return undefined;
  const m = ENDPOINT_RE.exec(text.trim());
  if (!m) {
    r.error(offset, `'${label}' must be of the form ${ENDPOINT_FORM}, got '${text}'`);
    return undefined;
  }
  return { serverName: m[1], path: normalizePath(m[2]) };
}

export interface ParsedJob {
  job: Job;
  nameOffset: number;
}

function resolvePassive(from: JobServer, to: JobServer[]): MirrorOptions['passive'] {
  // The PASV side listens; a server that would rather (not) listen says so.
  if (from.passive === 'prefer' || to.some((s) => s.passive === 'avoid')) return 'source';
  if (to.some((s) => s.passive === 'prefer') || from.passive === 'avoid') return 'destination';
  return 'source';
}

/** The targets of `to`: one endpoint or a list; none may repeat another or be the source. */
function readTargets(r: JobFileReader, toEntry: Entry, from: JobEndpoint | undefined, endpoint: (n: Node | null, offset: number) => JobEndpoint | undefined): JobEndpoint[] {
  const items: [Node | null, number][] = [];
  if (isSeq(toEntry.value)) {
    if (toEntry.value.items.length === 0) r.error(r.valueOffset(toEntry.pair), `'to' must name at least one target`);
    for (const raw of toEntry.value.items) {
      const item = r.deref(raw);
      items.push([item, item?.range?.[0] ?? r.valueOffset(toEntry.pair)]);
    }
  } else {
    items.push([toEntry.value, r.valueOffset(toEntry.pair)]);
  }
  const to: JobEndpoint[] = [];
  const seen = new Set<string>();
  for (const [item, offset] of items) {
    const ep = endpoint(item, offset);
    if (!ep) continue;
    const key = `${ep.serverName}:${ep.path}`;
    if (from && from.serverName === ep.serverName && from.path === ep.path) {
      r.error(offset, `'to' is the same as 'from' (${key})`);
      continue;
    }
    if (seen.has(key)) {
      r.error(offset, `duplicate target '${key}'`);
      continue;
    }
    seen.add(key);
    to.push(ep);
  }
  return to;
}

/** One item of `jobs:`, with the file's defaults applied; undefined when it had errors. */
export function readJob(r: JobFileReader, node: Node | null, itemOffset: number, servers: Map<string, ServerSlot>, defaults: OptionValues): ParsedJob | undefined {
  if (!isMap(node)) {
    r.error(itemOffset, `each job must be a mapping with 'name', 'from' and 'to', got ${nodeKind(node)}`);
    return undefined;
  }
  const before = r.errorCount();
  const keys = mappingEntries(r, node, JOB_KEYS, 'a job');
  for (const req of ['name', 'from', 'to']) {
    if (!keys.has(req)) r.error(itemOffset, `job is missing required key '${req}'`);
  }

  const nameEntry = keys.get('name');
  const name = nameEntry ? readString(r, nameEntry, 'name')?.value.trim() : undefined;

  const endpoint = (label: string) => (n: Node | null, offset: number): JobEndpoint | undefined => {
    const ref = readEndpoint(r, label, n, offset);
    if (!ref) return undefined;
    const slot = servers.get(ref.serverName);
    if (!slot) {
      r.error(offset, `unknown server '${ref.serverName}' in '${label}'${didYouMean(ref.serverName, servers.keys())}`);
      return undefined;
    }
    return slot.server ? { serverName: ref.serverName, server: slot.server, path: ref.path } : undefined;
  };

  const fromEntry = keys.get('from');
  const from = fromEntry ? endpoint('from')(fromEntry.value, r.valueOffset(fromEntry.pair)) : undefined;
  const toEntry = keys.get('to');
  const to = toEntry ? readTargets(r, toEntry, from, endpoint('to')) : [];

  const own = readOptions(r, keys);
  if (r.errorCount() > before || !name || !from || to.length === 0) return undefined;

  const merged: MirrorOptions = { ...DEFAULT_MIRROR_OPTIONS, ...defaults.options, ...own.options };
  const explicitPassive = own.options.passive ?? defaults.options.passive;
  const options: MirrorOptions = {
    ...merged,
    include: [...merged.include],
    exclude: [...merged.exclude],
    passive: explicitPassive ?? resolvePassive(from.server, to.map((t) => t.server)),
  };
  if (options.minSize !== undefined && options.maxSize !== undefined && options.minSize > options.maxSize) {
    r.error(itemOffset, `'minSize' (${options.minSize}) is larger than 'maxSize' (${options.maxSize}) after applying defaults`);
    return undefined;
  }
  return {
    job: {
      name,
      file: r.file,
      from,
      to,
      options,
      remoteLock: own.remoteLock ?? defaults.remoteLock ?? false,
      remoteLockTtlMs: own.remoteLockTtlMs ?? defaults.remoteLockTtlMs ?? DEFAULT_REMOTE_LOCK_TTL_MS,
      passiveExplicit: explicitPassive !== undefined || [from.server, ...to.map((t) => t.server)].some((s) => s.passive !== undefined),
      parallelExplicit: (own.options.parallel ?? defaults.options.parallel) !== undefined,
    },
    nameOffset: r.valueOffset(nameEntry!.pair),
  };
}
