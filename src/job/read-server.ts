/**
 * The `servers:` of a job file: each becomes connection options, with its
 * credentials resolved (the job's keys, then the URL's, then ~/.netrc: one
 * module decides for the command line and job files alike,
 * src/ftp/credentials.ts).
 */
import { isMap, type Node, type Pair } from 'yaml';
import { resolveCredentials, type ValueSource } from '../ftp/credentials.js';
import { CredentialError, FtpUrlError } from '../ftp/errors.js';
import { DEFAULT_TIMEOUTS, listingLimitsOf, type Timeouts } from '../ftp/options.js';
import { isSha256Fingerprint } from '../ftp/tls-policy.js';
import { parseFtpUrl, type FtpUrl } from '../ftp/url.js';
import type { JobServer } from './job.js';
import { CHOICES, DEFAULT_MAX_CONNECTIONS, SERVER_KEYS, TIMEOUT_KEYS } from './schema.js';
import { mappingEntries, typeError, type Entry, type JobFileReader } from './reader.js';
import { readBoolean, readDuration, readEnum, readInteger, readSize, readString } from './read-value.js';

export const PLAIN_PASSWORD_WARNING = 'password is stored in plain text; use ${ENV_VAR} or ~/.netrc';

export interface ServerSlot {
  /** undefined when the server had errors: jobs using it are dropped without piling on more messages. */
  server?: JobServer;
}

function readTimeouts(r: JobFileReader, e: Entry, serverName: string): Timeouts | undefined {
  if (!isMap(e.value)) return typeError(r, e, 'timeouts', 'a mapping of connect, command, data');
  const out: Timeouts = { ...DEFAULT_TIMEOUTS };
  let ok = true;
  for (const [key, te] of mappingEntries(r, e.value, TIMEOUT_KEYS, `timeouts of '${serverName}'`)) {
    const v = readDuration(r, te, `timeouts.${key}`);
    if (v === undefined) ok = false;
    else out[key as keyof Timeouts] = v;
  }
  return ok ? out : undefined;
}

/** The server's URL; a path in it is ignored, with a warning that says where the path belongs. */
function readUrl(r: JobFileReader, name: string, urlEntry: Entry): FtpUrl | undefined {
  const s = readString(r, urlEntry, 'url');
  if (!s) return undefined;
  let url: FtpUrl | undefined;
  try {
    url = parseFtpUrl(s.value);
  } catch (err) {
    if (!(err instanceof FtpUrlError)) throw err;
    r.error(r.valueOffset(urlEntry.pair), `invalid 'url': ${err.message}`);
  }
  if (url?.password !== undefined && url.password !== '' && !s.wholeVar) {
    r.warn(r.valueOffset(urlEntry.pair), PLAIN_PASSWORD_WARNING);
  }
  if (url && url.path !== '') {
    r.warn(r.valueOffset(urlEntry.pair), `the path in a server URL is ignored; put it in the jobs' from/to ("${name}:${url.path}")`);
  }
  return url;
}

/** One entry of `servers:`; an empty slot when it had errors. */
export function readServer(r: JobFileReader, name: string, nameOffset: number, node: Node | null, pair: Pair): ServerSlot {
  const before = r.errorCount();
  if (!isMap(node)) {
    typeError(r, { key: name, keyOffset: nameOffset, pair, value: node }, name, 'a mapping with at least \'url\'');
    return {};
  }
  const keys = mappingEntries(r, node, SERVER_KEYS, 'a server');
  const urlEntry = keys.get('url');
  if (!urlEntry) r.error(nameOffset, `server '${name}' is missing required key 'url'`);
  const url = urlEntry ? readUrl(r, name, urlEntry) : undefined;

  const str = (key: string): string | undefined => {
    const e = keys.get(key);
    return e ? readString(r, e, key)?.value : undefined;
  };
  /** A credential key as a ValueSource: its position and the variables it came from, for messages that never quote it. */
  const credential = (key: 'user' | 'password' | 'account'): ValueSource => {
    const e = keys.get(key);
    const from = `the '${key}' key`;
    const s = e ? readString(r, e, key, key === 'password') : undefined;
    if (!e || !s) return { value: undefined, from };
    if (key === 'password' && !s.wholeVar && s.raw !== '') r.warn(r.valueOffset(e.pair), PLAIN_PASSWORD_WARNING);
    const vars = [...s.raw.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => `'${m[1]}'`);
    const via = vars.length ? ` (from environment variable${vars.length > 1 ? 's' : ''} ${vars.join(', ')})` : '';
    return { value: s.value, from: from + via, at: { file: r.file, ...r.at(r.valueOffset(e.pair)) } };
  };
  const opt = <T>(key: string, read: (e: Entry) => T | undefined): T | undefined => {
    const e = keys.get(key);
    return e ? read(e) : undefined;
  };
  const user = credential('user');
  const password = credential('password');
  const account = credential('account');
  const tls = opt('tls', (e) => readEnum(r, e, 'tls', CHOICES.tls));
  const verify = opt('verify', (e) => readBoolean(r, e, 'verify'));
  const ca = str('ca');
  const caProblem = ca !== undefined ? r.inputs.checkCaFile?.(ca) : undefined;
  if (caProblem) r.error(r.valueOffset(keys.get('ca')!.pair), `cannot use CA file '${ca}': ${caProblem}`);
  const fingerprint = opt('fingerprint', (e) => {
    const s = readString(r, e, 'fingerprint');
    if (s && !isSha256Fingerprint(s.value)) {
      r.error(r.valueOffset(e.pair), `'fingerprint' must be a SHA-256 fingerprint: 64 hex digits, colons allowed`);
      return undefined;
    }
    return s?.value.trim();
  });
  const passive = opt('passive', (e) => readEnum(r, e, 'passive', CHOICES.serverPassive));
  const maxConnections = opt('maxConnections', (e) => readInteger(r, e, 'maxConnections', SERVER_KEYS.maxConnections.min));
  const fxp = opt('fxp', (e) => readEnum(r, e, 'fxp', CHOICES.fxp));
  const trustPasvAddress = opt('trustPasvAddress', (e) => readBoolean(r, e, 'trustPasvAddress'));
  const timeouts = opt('timeouts', (e) => readTimeouts(r, e, name));
  const dataMode = opt('dataMode', (e) => readEnum(r, e, 'dataMode', CHOICES.dataMode));
  const maxListingEntries = opt('maxListingEntries', (e) => readInteger(r, e, 'maxListingEntries', 1));
  const maxListingLine = opt('maxListingLine', (e) => readSize(r, e, 'maxListingLine'));
  if (maxListingLine === 0) r.error(r.valueOffset(keys.get('maxListingLine')!.pair), `'maxListingLine' must be greater than 0`);

  if (r.errorCount() > before || !url) return {};

  const urlAt = urlEntry ? { file: r.file, ...r.at(r.valueOffset(urlEntry.pair)) } : undefined;
  let credentials;
  try {
    credentials = resolveCredentials({
      server: `server '${name}'`,
      host: url.host,
      user: user.value !== undefined ? user : { value: url.user, from: "the 'url' key", at: urlAt },
      passwords: [password, { value: url.password, from: "the 'url' key", at: urlAt }],
      account,
      netrc: r.inputs.netrc,
      warn: (message, at) => (at ? r.diagnostics.push({ ...at, message, severity: 'warning' }) : r.warn(nameOffset, message)),
    });
  } catch (err) {
    if (!(err instanceof CredentialError)) throw err;
    // A bad value is reported where it was written (this file or the netrc); a netrc that cannot be read, at the server.
    if (err.at) r.diagnostics.push({ ...err.at, message: err.reason, severity: 'error' });
    else r.error(nameOffset, `server '${name}': ${err.reason}`);
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
