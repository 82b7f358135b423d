/**
 * Credentials, in one place for every caller: the command line (a URL, the
 * FXPMIRROR_*_PASSWORD variables) and job files (their keys) both come here
 * to pick the user, password and account, to fall back to ~/.netrc, and to
 * refuse a value that would break the control connection.
 *
 * Rules (the same for both callers):
 * - The first password the caller offers wins; only without one is the
 *   netrc consulted (machine = host, login = user when there is a user).
 * - The netrc is read at most once per process, and only when a lookup needs
 *   it. $NETRC overrides ~/.netrc; a missing file is no netrc. A netrc that is
 *   a directory, unreadable, larger than 1 MiB or has an unclosed quote is an
 *   error (exit 2): logging in without the password it was meant to give
 *   would only fail later and less clearly. A netrc that group or others may
 *   read gets a warning, as ftp(1) gives.
 * - A user, password or account with CR, LF or NUL is refused where it was
 *   loaded (RFC 959 §4.1.3: CRLF ends a command). The message says where the
 *   value came from and why, never the value.
 * - With no user anywhere: anonymous, password "anonymous@" (RFC 1635).
 * - Every password and account resolved here is registered as a secret, so
 *   no output can print it.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialError, unsafeValueReason, type SourcePosition } from './errors.js';
import { fileProblem, readTextFileBounded } from './local-file.js';
import { findNetrc, parseNetrc, type NetrcEntry } from './netrc.js';
import { addSecret } from './secrets.js';

/** A netrc is a few lines; anything bigger is the wrong file. */
export const NETRC_MAX_BYTES = 1024 * 1024;

export interface NetrcFile {
  path: string;
  entries: NetrcEntry[];
}

/** The netrc, when a lookup needs it: undefined when there is none. Throws CredentialError. */
export type NetrcSource = () => NetrcFile | undefined;

/** A warning about credentials (a netrc others may read, a user without a password). */
export type CredentialWarning = (message: string, at?: SourcePosition) => void;

/**
 * $NETRC, else ~/.netrc, read on first use and remembered (errors too).
 * `warn` hears once that the file is readable by group or others.
 */
export function netrcFromEnv(env: Record<string, string | undefined>, warn: CredentialWarning = () => {}): NetrcSource {
  let result: { file?: NetrcFile; error?: CredentialError } | undefined;
  return () => {
    result ??= readNetrcFile(env, warn);
    if (result.error) throw result.error;
    return result.file;
  };
}

/** A netrc given as text (tests, callers that read it themselves); parsed on first use. */
export function netrcFromText(text: string, path = '~/.netrc'): NetrcSource {
  let file: NetrcFile | undefined;
  return () => (file ??= { path, entries: parseNetrc(text, path) });
}

/** No netrc at all. */
export const NO_NETRC: NetrcSource = () => undefined;

function readNetrcFile(env: Record<string, string | undefined>, warn: CredentialWarning): { file?: NetrcFile; error?: CredentialError } {
  const fromEnv = !!env.NETRC;
  const path = env.NETRC || join(homedir(), '.netrc');
  const named = fromEnv ? `netrc file ${path} (from $NETRC)` : `netrc file ${path}`;
  let text: string;
  try {
    text = readTextFileBounded(path, NETRC_MAX_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { error: new CredentialError(`cannot use the ${named}: ${fileProblem(err)}`) };
  }
  let entries: NetrcEntry[];
  try {
    entries = parseNetrc(text, path);
  } catch (err) {
    if (err instanceof CredentialError) return { error: err };
    throw err;
  }
  try {
    // ftp(1) refuses a netrc with passwords that others may read; a warning is enough
    // to make the point without breaking a cron job the day it is noticed.
    if (entries.some((e) => e.password !== undefined) && (statSync(path).mode & 0o077) !== 0) {
      warn(`readable by group or others, and it holds passwords (chmod 600 ${path})`, { file: path, line: 1, col: 1 });
    }
  } catch {
    /* it was just read: a stat failing now changes nothing */
  }
  return { file: { path, entries } };
}

/** A value offered by the caller, with where it came from (never the value) for messages. */
export interface ValueSource {
  value: string | undefined;
  /** "environment variable FXPMIRROR_PASSWORD", "the URL", "'password' (from environment variable 'PW')". */
  from: string;
  /** A job file key's position. */
  at?: SourcePosition;
}

export interface CredentialRequest {
  /** The server as messages name it: "server 'up'" or "ftp.example.org:21". */
  server: string;
  host: string;
  user?: ValueSource;
  /** Candidates in order of preference; the first with a value wins over the netrc. */
  passwords: ValueSource[];
  account?: ValueSource;
  netrc: NetrcSource;
  warn?: CredentialWarning;
}

export interface Credentials {
  user: string;
  password: string;
  account?: string;
}

function checked(source: ValueSource | undefined): string | undefined {
  if (source?.value === undefined) return undefined;
  const reason = unsafeValueReason(source.value);
  if (reason) throw new CredentialError(`${source.from}: ${reason}`, source.at);
  return source.value;
}

function fromNetrc(entry: NetrcEntry, key: 'login' | 'password' | 'account'): ValueSource {
  const what = key === 'login' ? 'login' : key;
  return { value: entry[key], from: `the ${what} for ${entry.machine === null ? 'the default entry' : `machine ${entry.machine}`}`, at: entry.at[key] };
}

/** Pick user, password and account (see the rules at the top). Throws CredentialError. */
export function resolveCredentials(req: CredentialRequest): Credentials {
  let user = checked(req.user);
  const offered = req.passwords.find((p) => p.value !== undefined);
  let password = checked(offered);
  let account = checked(req.account);

  let netrcName: string | undefined;
  if (password === undefined) {
    const netrc = req.netrc();
    netrcName = netrc?.path;
    const entry = netrc && findNetrc(netrc.entries, req.host, user);
    // Without a user, an entry must name its login: a bare password belongs to no one in particular.
    if (entry && (user !== undefined || entry.login !== undefined)) {
      user ??= checked(fromNetrc(entry, 'login'));
      password = checked(fromNetrc(entry, 'password'));
      account ??= checked(fromNetrc(entry, 'account'));
    }
  }

  if (user === undefined) {
    user = 'anonymous';
    password ??= 'anonymous@';
  } else if (password === undefined) {
    const places = [...req.passwords.map((p) => p.from), netrcName ?? '~/.netrc'];
    req.warn?.(`no password for user '${user}' on ${req.server} (not in ${places.slice(0, -1).join(', ')} or ${places[places.length - 1]}): logging in without one`);
    password = '';
  }
  // The anonymous convention is no secret; masking it would only garble output.
  if (password !== 'anonymous@') addSecret(password);
  if (account !== undefined) addSecret(account);
  return { user, password, ...(account !== undefined ? { account } : {}) };
}
