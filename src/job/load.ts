/**
 * Job files: YAML in, typed `Job`s and positioned diagnostics out.
 *
 * The validator walks the YAML AST (not the plain JS value) so every message
 * points at the key or value it is about, and it keeps going after an error so
 * `fxpmirror validate` can list every problem in one pass. The rules
 * themselves (which keys exist, their types and enums) are data in schema.ts.
 *
 * loadJobText does no I/O of its own: the environment, the netrc (read only
 * if a server needs it), the clock and the CA file check are arguments. It
 * registers the passwords it resolves as secrets (src/ftp/secrets.ts), so no
 * output can print them. loadJobFiles does the I/O around it.
 */
import { promises as fs } from 'node:fs';
import { join, posix } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import { NO_NETRC, netrcFromEnv, resolveCredentials, type NetrcSource, type ValueSource } from '../ftp/credentials.js';
import { CredentialError, FtpUrlError } from '../ftp/errors.js';
import { fileProblem, readTextFileBounded } from '../ftp/local-file.js';
import { DEFAULT_TIMEOUTS, listingLimitsOf } from '../ftp/options.js';
import type { FxpPolicy, ServerOptions, Timeouts } from '../ftp/options.js';
import { caFileProblem, isSha256Fingerprint } from '../ftp/tls-policy.js';
import { parseFtpUrl } from '../ftp/url.js';
import type { FtpUrl } from '../ftp/url.js';
import { JOB_FILE_MAX_BYTES, JOB_FILE_MAX_DEPTH, excessiveNesting } from './limits.js';
import { parseMaxDelete } from '../tree/deletes.js';
import { DEFAULT_MIRROR_OPTIONS } from '../tree/options.js';
import type { MirrorOptions } from '../tree/options.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REMOTE_LOCK_TTL_MS,
  DEFAULTS_KEYS,
  JOB_FILE_VERSION,
  JOB_KEYS,
  MIRROR_OPTION_KEYS,
  REMOVED_KEYS,
  SERVER_KEYS,
  SERVER_NAME_RE,
  TIMEOUT_KEYS,
  TOP_LEVEL_KEYS,
  parseDateOrAge,
  parseDuration,
  parseSize,
} from './schema.js';
import type { KeyRule, RuleSet } from './schema.js';

export interface JobEndpoint {
  serverName: string;
  server: ServerOptions & { fxp?: FxpPolicy; passive?: 'prefer' | 'avoid' };
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
}

export interface JobDiagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

export interface LoadResult {
  jobs: Job[];
  diagnostics: JobDiagnostic[];
}

const PLAIN_PASSWORD_WARNING = 'password is stored in plain text; use ${ENV_VAR} or ~/.netrc';

/** "jobs/x.yaml:12:5: unknown key 'delet' (did you mean 'delete'?)"; warnings say so after the position. */
export function formatDiagnostic(d: JobDiagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

// ---------------------------------------------------------------------------
// did-you-mean

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** Closest candidate, comparing case- and separator-insensitively so "max_delete" finds "maxDelete". */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');
  const n = norm(input);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(n, norm(c));
    const limit = Math.max(1, Math.floor(Math.max(n.length, c.length) / 3));
    if (d <= limit && d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function didYouMean(input: string, candidates: Iterable<string>): string {
  const s = suggest(input, candidates);
  return s ? ` (did you mean '${s}'?)` : '';
}

// ---------------------------------------------------------------------------
// the walker's context

interface Position {
  line: number;
  col: number;
}

const WHOLE_VAR_RE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

class Ctx {
  readonly diagnostics: JobDiagnostic[] = [];
  private readonly lines = new LineCounter();
  doc!: Document.Parsed;

  constructor(
    readonly text: string,
    readonly file: string,
    readonly env: Record<string, string | undefined>,
    readonly netrc: NetrcSource,
    readonly now: Date,
    readonly checkCaFile?: (path: string) => string | undefined,
  ) {}

  parse(): Document.Parsed {
    this.doc = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    return this.doc;
  }

  at(offset: number): Position {
    if (this.doc) return this.lines.linePos(offset);
    // Before the parser ran (a file refused for its size or depth): count lines ourselves.
    const before = this.text.slice(0, offset);
    const nl = before.lastIndexOf('\n');
    return { line: before.split('\n').length, col: offset - nl };
  }

  report(severity: 'error' | 'warning', offset: number, message: string): void {
    const p = this.at(offset);
    this.diagnostics.push({ file: this.file, line: p.line, col: p.col, message, severity });
  }
  error(offset: number, message: string): void {
    this.report('error', offset, message);
  }
  warn(offset: number, message: string): void {
    this.report('warning', offset, message);
  }

  errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }

  /** Follow anchors (*ref) to the node they name. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }

  /**
   * Where a value starts. An empty value ("key:" and nothing) has no text of
   * its own, so the key's position is used.
   */
  valueOffset(pair: Pair): number {
    const v = this.deref(pair.value);
    const k = pair.key as Node | null;
    if (!v || !v.range || (isScalar(v) && v.value === null && v.range[0] === v.range[1])) return k?.range?.[0] ?? 0;
    return v.range[0];
  }

  /**
   * Replace ${VAR} with the environment's value. "$${" is a literal "${". A
   * missing variable is an error at the reference itself when it can be
   * found in the source text (plain and quoted scalars), else at the value.
   */
  interpolate(raw: string, node: Node, label: string): string | undefined {
    if (!raw.includes('${')) return raw;
    let ok = true;
    const start = node.range?.[0] ?? 0;
    const source = node.range ? this.text.slice(node.range[0], node.range[1]) : '';
    let searchFrom = 0;
    const out = raw.replace(/\$?\$\{([^}]*)\}?/g, (whole: string, name: string) => {
      if (whole.startsWith('$$')) return whole.slice(1);
      const idx = source.indexOf(whole, searchFrom);
      const offset = idx === -1 ? start : start + idx;
      if (idx !== -1) searchFrom = idx + whole.length;
      if (!whole.endsWith('}') || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        this.error(offset, `invalid variable reference in '${label}' (write \${NAME}, or $\${ for a literal \${)`);
        ok = false;
        return '';
      }
      const value = this.env[name];
      if (value === undefined) {
        this.error(offset, `environment variable '${name}' is not set (used by '${label}')`);
        ok = false;
        return '';
      }
      return value;
    });
    return ok ? out : undefined;
  }
}

function describe(node: Node | null): string {
  if (!node) return 'an empty value';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'an empty value';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
    if (typeof v === 'boolean') return 'a boolean';
  }
  return 'an unsupported value';
}

// ---------------------------------------------------------------------------
// mappings and scalars

interface Entry {
  key: string;
  keyOffset: number;
  pair: Pair;
  value: Node | null;
}

/** Where a key that is unknown here does belong, for a better hint than an edit distance. */
const KEY_HOMES: [RuleSet, string][] = [
  [TOP_LEVEL_KEYS, 'the top level'],
  [SERVER_KEYS, 'a server'],
  [JOB_KEYS, 'a job'],
];

/**
 * The entries of a mapping whose keys are in `rules`; unknown keys are
 * reported and left out.
 */
function entries(ctx: Ctx, map: YAMLMap, rules: RuleSet | null, where: string, depth = 0): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const merged: Map<string, Entry>[] = [];
  for (const pair of map.items) {
    const keyNode = ctx.deref(pair.key);
    const keyOffset = keyNode?.range?.[0] ?? map.range?.[0] ?? 0;
    if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
      ctx.error(keyOffset, 'keys must be plain names');
      continue;
    }
    const key = String(keyNode.value);
    if (key === '<<' && keyNode.type === 'PLAIN') {
      // YAML 1.1 merge key ("<<: *base"), still common in config files:
      // the mapping's own keys win, then earlier merged mappings.
      const v = ctx.deref(pair.value);
      const sources = isSeq(v) ? v.items.map((i) => ctx.deref(i)) : [v];
      for (const src of sources) {
        if (isMap(src) && depth < 10) merged.push(entries(ctx, src, rules, where, depth + 1));
        else ctx.error(ctx.valueOffset(pair), `'<<' must merge a mapping (or a list of mappings), got ${describe(src)}`);
      }
      continue;
    }
    if (rules && !Object.hasOwn(rules, key)) {
      if (Object.hasOwn(REMOVED_KEYS, key)) {
        ctx.error(keyOffset, REMOVED_KEYS[key]);
        continue;
      }
      const hint = didYouMean(key, Object.keys(rules));
      if (hint) {
        ctx.error(keyOffset, `unknown key '${key}'${hint}`);
      } else {
        const home = KEY_HOMES.find(([r, name]) => name !== where && Object.hasOwn(r, key));
        ctx.error(keyOffset, `unknown key '${key}'${home ? ` in ${where} (it belongs in ${home[1]})` : ''}`);
      }
      continue;
    }
    out.set(key, { key, keyOffset, pair, value: ctx.deref(pair.value) });
  }
  for (const m of merged) {
    for (const [k, e] of m) if (!out.has(k)) out.set(k, e);
  }
  return out;
}

function valueOffset(ctx: Ctx, e: Entry): number {
  return ctx.valueOffset(e.pair);
}

function typeError(ctx: Ctx, e: Entry, label: string, expected: string, hint = ''): undefined {
  ctx.error(valueOffset(ctx, e), `'${label}' must be ${expected}, got ${describe(e.value)}${hint}`);
  return undefined;
}

interface Str {
  value: string;
  /** The raw text was exactly one ${VAR}. */
  wholeVar: boolean;
  raw: string;
}

/** A string scalar, interpolated. undefined after reporting an error. */
function readString(ctx: Ctx, e: Entry, label: string, allowEmpty = false): Str | undefined {
  const node = e.value;
  if (!isScalar(node) || typeof node.value !== 'string') {
    return typeError(ctx, e, label, 'a string', isScalar(node) && typeof node.value === 'number' ? ' (put it in quotes)' : '');
  }
  const value = ctx.interpolate(node.value, node, label);
  if (value === undefined) return undefined;
  if (!allowEmpty && value.trim() === '') {
    ctx.error(valueOffset(ctx, e), `'${label}' must not be empty`);
    return undefined;
  }
  return { value, wholeVar: WHOLE_VAR_RE.test(node.value), raw: node.value };
}

/** A scalar as number/boolean/string; strings that came from ${VAR} may stand for numbers and booleans. */
function readScalar(ctx: Ctx, e: Entry, label: string): { value: unknown; interpolated: boolean } | undefined {
  const node = e.value;
  if (!isScalar(node)) return { value: node, interpolated: false };
  if (typeof node.value === 'string' && node.value.includes('${')) {
    const v = ctx.interpolate(node.value, node, label);
    return v === undefined ? undefined : { value: v, interpolated: true };
  }
  return { value: node.value, interpolated: false };
}

function readBoolean(ctx: Ctx, e: Entry, label: string): boolean | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value === 'boolean') return s.value;
  if (s.interpolated && /^(true|false)$/i.test(String(s.value).trim())) return String(s.value).trim().toLowerCase() === 'true';
  // YAML 1.1 read yes/no/on/off as booleans; YAML 1.2 (this parser) reads them as strings.
  const yaml11 = typeof s.value === 'string' && /^(yes|no|on|off|y|n)$/i.test(s.value.trim()) ? s.value : undefined;
  return typeError(ctx, e, label, 'true or false', yaml11 !== undefined ? ` ('${yaml11}': write true or false)` : '');
}

function readInteger(ctx: Ctx, e: Entry, label: string, min?: number): number | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  let n: number | undefined;
  if (typeof s.value === 'number') n = s.value;
  else if (s.interpolated && /^\s*-?\d+\s*$/.test(String(s.value))) n = Number(s.value);
  if (n === undefined || !Number.isInteger(n)) return typeError(ctx, e, label, 'an integer');
  if (min !== undefined && n < min) {
    ctx.error(valueOffset(ctx, e), `'${label}' must be at least ${min}, got ${n}`);
    return undefined;
  }
  return n;
}

function readEnum<T extends string>(ctx: Ctx, e: Entry, label: string, values: readonly T[]): T | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'string') return typeError(ctx, e, label, `one of ${values.join(', ')}`);
  if (!(values as readonly string[]).includes(s.value)) {
    ctx.error(valueOffset(ctx, e), `invalid value '${s.value}' for '${label}' (allowed: ${values.join(', ')})`);
    return undefined;
  }
  return s.value as T;
}

function readDuration(ctx: Ctx, e: Entry, label: string): number | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'number' && typeof s.value !== 'string') {
    return typeError(ctx, e, label, 'a duration (seconds, or "500ms", "10s", "2m")');
  }
  const r = parseDuration(s.value);
  if (!r.ok) {
    ctx.error(valueOffset(ctx, e), `'${label}' ${r.message}`);
    return undefined;
  }
  if (r.value === 0) {
    ctx.error(valueOffset(ctx, e), `'${label}' must be greater than 0`);
    return undefined;
  }
  return r.value;
}

function readSize(ctx: Ctx, e: Entry, label: string): number | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'number' && typeof s.value !== 'string') {
    return typeError(ctx, e, label, 'a size (bytes, or "10K", "10M", "1.5GiB")');
  }
  const r = parseSize(s.value);
  if (!r.ok) {
    ctx.error(valueOffset(ctx, e), `'${label}' ${r.message}`);
    return undefined;
  }
  return r.value;
}

function readDateOrAge(ctx: Ctx, e: Entry, label: string): Date | undefined {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'string') return typeError(ctx, e, label, 'an ISO date or an age like "7d"');
  const r = parseDateOrAge(s.value, ctx.now);
  if (!r.ok) {
    ctx.error(valueOffset(ctx, e), `'${label}' ${r.message}`);
    return undefined;
  }
  return r.value;
}

function readMaxDelete(ctx: Ctx, e: Entry, label: string): MirrorOptions['maxDelete'] {
  const s = readScalar(ctx, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'number' && typeof s.value !== 'string') {
    return typeError(ctx, e, label, 'a count like 100 or a percentage like "10%"');
  }
  try {
    return parseMaxDelete(String(s.value));
  } catch (err) {
    // parseMaxDelete speaks to the command line; drop its flag prefix.
    const msg = (err as Error).message.replace(/^--max-delete:\s*/, '');
    ctx.error(valueOffset(ctx, e), `invalid '${label}': ${msg}`);
    return undefined;
  }
}

function readStringList(ctx: Ctx, e: Entry, label: string): string[] | undefined {
  const node = e.value;
  if (isScalar(node) && typeof node.value === 'string') {
    const s = readString(ctx, e, label);
    return s ? [s.value] : undefined;
  }
  if (!isSeq(node)) return typeError(ctx, e, label, 'a list of strings');
  const out: string[] = [];
  let ok = true;
  for (const raw of node.items) {
    const item = ctx.deref(raw);
    if (!isScalar(item) || typeof item.value !== 'string') {
      ctx.error(item?.range?.[0] ?? node.range?.[0] ?? 0, `'${label}' items must be strings, got ${describe(item)}`);
      ok = false;
      continue;
    }
    const v = ctx.interpolate(item.value, item, label);
    if (v === undefined) ok = false;
    else out.push(v);
  }
  return ok ? out : undefined;
}

// ---------------------------------------------------------------------------
// servers

type JobServer = JobEndpoint['server'];

interface ServerSlot {
  /** undefined when the server had errors: jobs using it are dropped without piling on more messages. */
  server?: JobServer;
}

function readTimeouts(ctx: Ctx, e: Entry, serverName: string): Timeouts | undefined {
  if (!isMap(e.value)) return typeError(ctx, e, 'timeouts', 'a mapping of connect, command, data');
  const out: Timeouts = { ...DEFAULT_TIMEOUTS };
  let ok = true;
  for (const [key, te] of entries(ctx, e.value, TIMEOUT_KEYS, `timeouts of '${serverName}'`)) {
    const v = readDuration(ctx, te, `timeouts.${key}`);
    if (v === undefined) ok = false;
    else out[key as keyof Timeouts] = v;
  }
  return ok ? out : undefined;
}

function readServer(ctx: Ctx, name: string, nameOffset: number, node: Node | null, pair: Pair): ServerSlot {
  const before = ctx.errorCount();
  if (!isMap(node)) {
    typeError(ctx, { key: name, keyOffset: nameOffset, pair, value: node }, name, 'a mapping with at least \'url\'');
    return {};
  }
  const keys = entries(ctx, node, SERVER_KEYS, 'a server');
  const urlEntry = keys.get('url');
  if (!urlEntry) ctx.error(nameOffset, `server '${name}' is missing required key 'url'`);

  let url: FtpUrl | undefined;
  if (urlEntry) {
    const s = readString(ctx, urlEntry, 'url');
    if (s) {
      try {
        url = parseFtpUrl(s.value);
      } catch (err) {
        if (!(err instanceof FtpUrlError)) throw err;
        ctx.error(valueOffset(ctx, urlEntry), `invalid 'url': ${err.message}`);
      }
      if (url?.password !== undefined && url.password !== '' && !s.wholeVar) {
        ctx.warn(valueOffset(ctx, urlEntry), PLAIN_PASSWORD_WARNING);
      }
      if (url && url.path !== '/') {
        ctx.warn(valueOffset(ctx, urlEntry), `the path in a server URL is ignored; put it in the jobs' from/to ("${name}:${url.path}")`);
      }
    }
  }

  const str = (key: string): string | undefined => {
    const e = keys.get(key);
    return e ? readString(ctx, e, key)?.value : undefined;
  };
  /** A credential key as a ValueSource: its position and the variables it came from, for messages that never quote it. */
  const credential = (key: 'user' | 'password' | 'account'): ValueSource => {
    const e = keys.get(key);
    const from = `the '${key}' key`;
    const s = e ? readString(ctx, e, key, key === 'password') : undefined;
    if (!e || !s) return { value: undefined, from };
    if (key === 'password' && !s.wholeVar && s.raw !== '') ctx.warn(valueOffset(ctx, e), PLAIN_PASSWORD_WARNING);
    const vars = [...s.raw.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => `'${m[1]}'`);
    const via = vars.length ? ` (from environment variable${vars.length > 1 ? 's' : ''} ${vars.join(', ')})` : '';
    return { value: s.value, from: from + via, at: { file: ctx.file, ...ctx.at(valueOffset(ctx, e)) } };
  };
  const user = credential('user');
  const password = credential('password');
  const account = credential('account');
  const tls = keys.has('tls') ? readEnum(ctx, keys.get('tls')!, 'tls', SERVER_KEYS.tls.values as readonly ServerOptions['tls'][]) : undefined;
  const verify = keys.has('verify') ? readBoolean(ctx, keys.get('verify')!, 'verify') : undefined;
  const ca = str('ca');
  const caProblem = ca !== undefined ? ctx.checkCaFile?.(ca) : undefined;
  if (caProblem) ctx.error(valueOffset(ctx, keys.get('ca')!), `cannot use CA file '${ca}': ${caProblem}`);
  let fingerprint: string | undefined;
  const fpEntry = keys.get('fingerprint');
  if (fpEntry) {
    const s = readString(ctx, fpEntry, 'fingerprint');
    if (s && !isSha256Fingerprint(s.value)) {
      ctx.error(valueOffset(ctx, fpEntry), `'fingerprint' must be a SHA-256 fingerprint: 64 hex digits, colons allowed`);
    } else if (s) {
      fingerprint = s.value.trim();
    }
  }
  const passive = keys.has('passive') ? readEnum(ctx, keys.get('passive')!, 'passive', ['prefer', 'avoid'] as const) : undefined;
  const maxConnections = keys.has('maxConnections')
    ? readInteger(ctx, keys.get('maxConnections')!, 'maxConnections', SERVER_KEYS.maxConnections.min)
    : undefined;
  const fxp = keys.has('fxp') ? readEnum(ctx, keys.get('fxp')!, 'fxp', ['auto', 'force', 'never'] as const) : undefined;
  const trustPasvAddress = keys.has('trustPasvAddress') ? readBoolean(ctx, keys.get('trustPasvAddress')!, 'trustPasvAddress') : undefined;
  const timeouts = keys.has('timeouts') ? readTimeouts(ctx, keys.get('timeouts')!, name) : undefined;
  const dataMode = keys.has('dataMode') ? readEnum(ctx, keys.get('dataMode')!, 'dataMode', ['passive', 'active'] as const) : undefined;
  const maxListingEntries = keys.has('maxListingEntries') ? readInteger(ctx, keys.get('maxListingEntries')!, 'maxListingEntries', 1) : undefined;
  const maxListingLine = keys.has('maxListingLine') ? readSize(ctx, keys.get('maxListingLine')!, 'maxListingLine') : undefined;
  if (maxListingLine === 0) ctx.error(valueOffset(ctx, keys.get('maxListingLine')!), `'maxListingLine' must be greater than 0`);

  if (ctx.errorCount() > before || !url) return {};

  // Credentials: the job's keys, then the URL's, then ~/.netrc (one module
  // decides for the command line and job files alike: src/ftp/credentials.ts).
  const urlAt = urlEntry ? { file: ctx.file, ...ctx.at(valueOffset(ctx, urlEntry)) } : undefined;
  let credentials;
  try {
    credentials = resolveCredentials({
      server: `server '${name}'`,
      host: url.host,
      user: user.value !== undefined ? user : { value: url.user, from: "the 'url' key", at: urlAt },
      passwords: [password, { value: url.password, from: "the 'url' key", at: urlAt }],
      account,
      netrc: ctx.netrc,
      warn: (message, at) => (at ? ctx.diagnostics.push({ ...at, message, severity: 'warning' }) : ctx.warn(nameOffset, message)),
    });
  } catch (err) {
    if (!(err instanceof CredentialError)) throw err;
    // A bad value is reported where it was written (this file or the netrc); a netrc that cannot be read, at the server.
    if (err.at) ctx.diagnostics.push({ ...err.at, message: err.reason, severity: 'error' });
    else ctx.error(nameOffset, `server '${name}': ${err.reason}`);
    return {};
  }

  const server: JobServer = {
    name,
    host: url.host,
    port: url.port,
    user: credentials.user,
    password: credentials.password,
    tls: tls ?? url.tls,
    tlsOptions: { verify: verify ?? true, ...(ca !== undefined ? { ca } : {}), ...(fingerprint !== undefined ? { fingerprint } : {}) },
    timeouts: timeouts ?? { ...DEFAULT_TIMEOUTS },
    trustPasvAddress: trustPasvAddress ?? false,
    maxConnections: maxConnections ?? DEFAULT_MAX_CONNECTIONS,
  };
  if (credentials.account !== undefined) server.account = credentials.account;
  if (fxp !== undefined) server.fxp = fxp;
  if (passive !== undefined) server.passive = passive;
  if (dataMode !== undefined) server.dataMode = dataMode;
  const listingLimits = listingLimitsOf(maxListingEntries, maxListingLine);
  if (listingLimits) server.listingLimits = listingLimits;
  return { server };
}

// ---------------------------------------------------------------------------
// options (defaults and jobs)

interface OptionValues {
  options: Partial<MirrorOptions>;
  remoteLock?: boolean;
  remoteLockTtlMs?: number;
}

function readRule(ctx: Ctx, e: Entry, rule: KeyRule): unknown {
  const label = e.key;
  switch (rule.kind) {
    case 'boolean':
      return readBoolean(ctx, e, label);
    case 'integer':
      return readInteger(ctx, e, label, rule.min);
    case 'enum':
      return readEnum(ctx, e, label, rule.values ?? []);
    case 'string':
      return readString(ctx, e, label)?.value;
    case 'stringList':
      return readStringList(ctx, e, label);
    case 'size':
      return readSize(ctx, e, label);
    case 'dateOrAge':
      return readDateOrAge(ctx, e, label);
    case 'maxDelete':
      return readMaxDelete(ctx, e, label);
    case 'duration':
      return readDuration(ctx, e, label);
    default:
      throw new Error(`no reader for ${rule.kind}`);
  }
}

const NOT_OPTIONS = new Set(['name', 'from', 'to']);

function readOptions(ctx: Ctx, keys: Map<string, Entry>): OptionValues {
  const out: OptionValues = { options: {} };
  const opts = out.options as Record<string, unknown>;
  for (const [key, e] of keys) {
    if (NOT_OPTIONS.has(key)) continue;
    const rule = key === 'remoteLock' || key === 'remoteLockTtl' ? DEFAULTS_KEYS[key] : MIRROR_OPTION_KEYS[key as keyof MirrorOptions];
    const v = readRule(ctx, e, rule);
    if (v === undefined) continue;
    if (key === 'remoteLock') out.remoteLock = v as boolean;
    else if (key === 'remoteLockTtl') out.remoteLockTtlMs = v as number;
    else opts[key] = v;
  }
  const o = out.options;
  if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) {
    ctx.error(valueOffset(ctx, keys.get('minSize')!), `'minSize' (${o.minSize}) is larger than 'maxSize' (${o.maxSize}): nothing would be copied`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// jobs

interface EndpointRef {
  serverName: string;
  path: string;
  offset: number;
  text: string;
}

const ENDPOINT_RE = /^([^:/\s]+):(\/.*)$/;

function normalizePath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

function readEndpoint(ctx: Ctx, label: string, node: Node | null, offset: number): EndpointRef | undefined {
  if (!isScalar(node) || typeof node.value !== 'string') {
    ctx.error(offset, `'${label}' must be a string of the form server:/path, got ${describe(node)}`);
    return undefined;
  }
  const text = ctx.interpolate(node.value, node, label);
  if (text === undefined) return undefined;
  const m = ENDPOINT_RE.exec(text.trim());
  if (!m) {
    ctx.error(offset, `'${label}' must be of the form server:/path, got '${text}'`);
    return undefined;
  }
  return { serverName: m[1], path: normalizePath(m[2]), offset, text: `${m[1]}:${normalizePath(m[2])}` };
}

interface ParsedJob {
  job: Job;
  nameOffset: number;
}

function resolvePassive(from: JobServer, to: JobServer[]): MirrorOptions['passive'] {
  // The PASV side listens; a server that would rather (not) listen says so.
  if (from.passive === 'prefer' || to.some((s) => s.passive === 'avoid')) return 'source';
  if (to.some((s) => s.passive === 'prefer') || from.passive === 'avoid') return 'destination';
  return 'source';
}

function readJob(
  ctx: Ctx,
  node: Node | null,
  itemOffset: number,
  servers: Map<string, ServerSlot>,
  defaults: OptionValues,
): ParsedJob | undefined {
  if (!isMap(node)) {
    ctx.error(itemOffset, `each job must be a mapping with 'name', 'from' and 'to', got ${describe(node)}`);
    return undefined;
  }
  const before = ctx.errorCount();
  const keys = entries(ctx, node, JOB_KEYS, 'a job');
  for (const req of ['name', 'from', 'to']) {
    if (!keys.has(req)) ctx.error(itemOffset, `job is missing required key '${req}'`);
  }

  const nameEntry = keys.get('name');
  const name = nameEntry ? readString(ctx, nameEntry, 'name')?.value.trim() : undefined;

  const endpoint = (label: string, n: Node | null, offset: number): JobEndpoint | undefined => {
    const ref = readEndpoint(ctx, label, n, offset);
    if (!ref) return undefined;
    const slot = servers.get(ref.serverName);
    if (!slot) {
      ctx.error(offset, `unknown server '${ref.serverName}' in '${label}'${didYouMean(ref.serverName, servers.keys())}`);
      return undefined;
    }
    return slot.server ? { serverName: ref.serverName, server: slot.server, path: ref.path } : undefined;
  };

  let from: JobEndpoint | undefined;
  const fromEntry = keys.get('from');
  if (fromEntry) from = endpoint('from', fromEntry.value, valueOffset(ctx, fromEntry));

  const to: JobEndpoint[] = [];
  const toEntry = keys.get('to');
  if (toEntry) {
    const items: [Node | null, number][] = [];
    if (isSeq(toEntry.value)) {
      if (toEntry.value.items.length === 0) ctx.error(valueOffset(ctx, toEntry), `'to' must name at least one target`);
      for (const raw of toEntry.value.items) {
        const item = ctx.deref(raw);
        items.push([item, item?.range?.[0] ?? valueOffset(ctx, toEntry)]);
      }
    } else {
      items.push([toEntry.value, valueOffset(ctx, toEntry)]);
    }
    const seen = new Set<string>();
    for (const [item, offset] of items) {
      const ep = endpoint('to', item, offset);
      if (!ep) continue;
      const key = `${ep.serverName}:${ep.path}`;
      if (from && from.serverName === ep.serverName && from.path === ep.path) {
        ctx.error(offset, `'to' is the same as 'from' (${key})`);
        continue;
      }
      if (seen.has(key)) {
        ctx.error(offset, `duplicate target '${key}'`);
        continue;
      }
      seen.add(key);
      to.push(ep);
    }
  }

  const own = readOptions(ctx, keys);
  if (ctx.errorCount() > before || !name || !from || to.length === 0) return undefined;

  const merged: MirrorOptions = { ...DEFAULT_MIRROR_OPTIONS, ...defaults.options, ...own.options };
  const explicitPassive = own.options.passive ?? defaults.options.passive;
  const options: MirrorOptions = {
    ...merged,
    include: [...merged.include],
    exclude: [...merged.exclude],
    passive: explicitPassive ?? resolvePassive(from.server, to.map((t) => t.server)),
  };
  const o = options;
  if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) {
    ctx.error(itemOffset, `'minSize' (${o.minSize}) is larger than 'maxSize' (${o.maxSize}) after applying defaults`);
    return undefined;
  }
  return {
    job: {
      name,
      file: ctx.file,
      from,
      to,
      options,
      remoteLock: own.remoteLock ?? defaults.remoteLock ?? false,
      remoteLockTtlMs: own.remoteLockTtlMs ?? defaults.remoteLockTtlMs ?? DEFAULT_REMOTE_LOCK_TTL_MS,
      passiveExplicit: explicitPassive !== undefined || [from.server, ...to.map((t) => t.server)].some((s) => s.passive !== undefined),
    },
    nameOffset: valueOffset(ctx, nameEntry!),
  };
}

// ---------------------------------------------------------------------------
// files

interface LoadedJob {
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

function loadInternal(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
  opts: LoadOptions,
): { loaded: LoadedJob[]; diagnostics: JobDiagnostic[] } {
  const ctx = new Ctx(text, file, env, opts.netrc ?? NO_NETRC, opts.now ?? new Date(), opts.checkCaFile);
  // Bounds before the parser: it recurses per level and holds the whole tree (src/job/limits.ts).
  if (text.length > JOB_FILE_MAX_BYTES) {
    ctx.error(0, `the job file is larger than ${JOB_FILE_MAX_BYTES / (1024 * 1024)} MiB: is it the right file?`);
    return { loaded: [], diagnostics: ctx.diagnostics };
  }
  const tooDeep = excessiveNesting(text, JOB_FILE_MAX_DEPTH);
  if (tooDeep !== undefined) {
    ctx.error(tooDeep, `mappings and lists nested more than ${JOB_FILE_MAX_DEPTH} levels deep (a job file needs fewer than 10): is it the right file?`);
    return { loaded: [], diagnostics: ctx.diagnostics };
  }
  const doc = ctx.parse();
  for (const err of doc.errors) {
    // The library's advice here names its own API; say what it means for a job file.
    const message = err.code === 'MULTIPLE_DOCS' ? "a job file holds one YAML document (remove the second '---')" : err.message;
    ctx.error(err.pos[0], message);
  }
  for (const w of doc.warnings) ctx.warn(w.pos[0], w.message);
  // A broken document's tree is a guess; checking it would mostly add noise.
  if (doc.errors.length) return { loaded: [], diagnostics: ctx.diagnostics };

  const root = ctx.deref(doc.contents);
  if (!root || (isScalar(root) && root.value === null)) {
    ctx.error(0, `the job file is empty: expected 'version', 'servers' and 'jobs'`);
    return { loaded: [], diagnostics: ctx.diagnostics };
  }
  if (!isMap(root)) {
    ctx.error(root.range?.[0] ?? 0, `the top level must be a mapping with 'version', 'servers' and 'jobs', got ${describe(root)}`);
    return { loaded: [], diagnostics: ctx.diagnostics };
  }
  const rootOffset = root.range?.[0] ?? 0;
  const top = entries(ctx, root, TOP_LEVEL_KEYS, 'the top level');

  // version
  const version = top.get('version');
  if (!version) ctx.error(rootOffset, `missing required key 'version' (add 'version: ${JOB_FILE_VERSION}')`);
  else if (isScalar(version.value) && typeof version.value.value === 'number') {
    if (version.value.value !== JOB_FILE_VERSION) {
      ctx.error(valueOffset(ctx, version), `unsupported version ${version.value.value} (this fxpmirror reads version ${JOB_FILE_VERSION})`);
    }
  } else {
    typeError(ctx, version, 'version', String(JOB_FILE_VERSION));
  }

  // servers
  const servers = new Map<string, ServerSlot>();
  const serversEntry = top.get('servers');
  if (!serversEntry) ctx.error(rootOffset, `missing required key 'servers'`);
  else if (isMap(serversEntry.value)) {
    for (const [name, e] of entries(ctx, serversEntry.value, null, 'servers')) {
      if (!SERVER_NAME_RE.test(name)) {
        ctx.error(e.keyOffset, `invalid server name '${name}' (use letters, digits, '.', '_' and '-')`);
        servers.set(name, {});
        continue;
      }
      servers.set(name, readServer(ctx, name, e.keyOffset, e.value, e.pair));
    }
  } else if (!(isScalar(serversEntry.value) && serversEntry.value.value === null)) {
    typeError(ctx, serversEntry, 'servers', 'a mapping of server names to servers');
  }

  // defaults
  let defaults: OptionValues = { options: {} };
  const defaultsEntry = top.get('defaults');
  if (defaultsEntry) {
    if (isMap(defaultsEntry.value)) defaults = readOptions(ctx, entries(ctx, defaultsEntry.value, DEFAULTS_KEYS, 'defaults'));
    else if (!(isScalar(defaultsEntry.value) && defaultsEntry.value.value === null)) typeError(ctx, defaultsEntry, 'defaults', 'a mapping of mirror options');
  }

  // jobs
  const loaded: LoadedJob[] = [];
  const jobsEntry = top.get('jobs');
  if (!jobsEntry) ctx.error(rootOffset, `missing required key 'jobs'`);
  else if (isSeq(jobsEntry.value)) {
    if (jobsEntry.value.items.length === 0) ctx.error(valueOffset(ctx, jobsEntry), 'no jobs defined');
    const names = new Map<string, Position>();
    for (const raw of jobsEntry.value.items) {
      const item = ctx.deref(raw);
      const parsed = readJob(ctx, item, item?.range?.[0] ?? valueOffset(ctx, jobsEntry), servers, defaults);
      if (!parsed) continue;
      const pos = ctx.at(parsed.nameOffset);
      const first = names.get(parsed.job.name);
      if (first) {
        ctx.error(parsed.nameOffset, `duplicate job name '${parsed.job.name}' (first defined at ${file}:${first.line}:${first.col})`);
        continue;
      }
      names.set(parsed.job.name, pos);
      loaded.push({ job: parsed.job, pos });
    }
  } else if (isScalar(jobsEntry.value) && jobsEntry.value.value === null) {
    ctx.error(jobsEntry.keyOffset, 'no jobs defined');
  } else {
    typeError(ctx, jobsEntry, 'jobs', 'a list of jobs');
  }

  // Checks run key by key, not line by line; report in reading order.
  // A mapping merged with "<<" is checked where it is defined and again where
  // it is merged: report each problem once.
  const unique = new Map(ctx.diagnostics.map((d) => [`${d.file}:${d.line}:${d.col}:${d.severity}:${d.message}`, d]));
  const diagnostics = [...unique.values()].sort((x, y) => x.line - y.line || x.col - y.col);
  // A file with any error yields no jobs: half of a broken file must not run from cron.
  return { loaded: ctx.errorCount() > 0 ? [] : loaded, diagnostics };
}

/**
 * No fs, no process.env: everything comes in as arguments (the netrc and the
 * CA file check as functions, called only when needed). A file with any
 * error diagnostic yields no jobs (warnings do not matter). Passwords
 * resolved here are registered as secrets (src/ftp/secrets.ts).
 */
export function loadJobText(text: string, file: string, env: Record<string, string | undefined>, opts: LoadOptions = {}): LoadResult {
  const { loaded, diagnostics } = loadInternal(text, file, env, opts);
  return { jobs: loaded.map((l) => l.job), diagnostics };
}

async function expandPaths(paths: string[], diagnostics: JobDiagnostic[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await fs.stat(p)).isDirectory();
    } catch (err) {
      diagnostics.push({ file: p, line: 1, col: 1, severity: 'error', message: `cannot read job file: ${fileProblem(err)}` });
      continue;
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    const names = (await fs.readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
    if (names.length === 0) {
      diagnostics.push({ file: p, line: 1, col: 1, severity: 'error', message: 'no job files (*.yaml, *.yml) in this directory' });
    }
    for (const n of names) files.push(join(p, n));
  }
  return files;
}

/**
 * Reads files and directories (*.yaml, *.yml in a directory, sorted; each at
 * most 1 MiB), process.env and ~/.netrc (only when a server needs it; see
 * src/ftp/credentials.ts). Each file is self-contained (its jobs use its own servers); job names
 * must be unique across all of them because locks and metrics are keyed by name.
 */
export async function loadJobFiles(paths: string[]): Promise<LoadResult> {
  const diagnostics: JobDiagnostic[] = [];
  const files = await expandPaths(paths, diagnostics);
  const opts: LoadOptions = {
    now: new Date(),
    netrc: netrcFromEnv(process.env, (message, at) => diagnostics.push({ file: at?.file ?? '~/.netrc', line: at?.line ?? 1, col: at?.col ?? 1, message, severity: 'warning' })),
    checkCaFile: caFileProblem,
  };
  const jobs: Job[] = [];
  const seen = new Map<string, { file: string; pos: Position }>();
  for (const file of files) {
    let text: string;
    try {
      // Bounded: a 50 MB file (or /dev/zero) is refused after a stat, not parsed for minutes.
      text = readTextFileBounded(file, JOB_FILE_MAX_BYTES);
    } catch (err) {
      const message = (err as NodeJS.ErrnoException).code === 'EFBIG' ? `the job file is ${fileProblem(err)}: is it the right file?` : `cannot read job file: ${fileProblem(err)}`;
      diagnostics.push({ file, line: 1, col: 1, severity: 'error', message });
      continue;
    }
    const r = loadInternal(text, file, process.env, opts);
    diagnostics.push(...r.diagnostics);
    let clash = false;
    for (const { job, pos } of r.loaded) {
      const first = seen.get(job.name);
      if (first) {
        clash = true;
        diagnostics.push({
          file,
          line: pos.line,
          col: pos.col,
          severity: 'error',
          message: `duplicate job name '${job.name}' (first defined at ${first.file}:${first.pos.line}:${first.pos.col})`,
        });
      } else {
        seen.set(job.name, { file, pos });
      }
    }
    // Same rule as within a file: a file with an error contributes no jobs.
    if (!clash) jobs.push(...r.loaded.map((l) => l.job));
  }
  return { jobs, diagnostics };
}
