/**
 * FTP URLs (RFC 1738 §3.2, plus FileZilla's ftpes://), password redaction for
 * logs, and ~/.netrc parsing. Pure.
 */
import { isIPv6 } from 'node:net';
import { FtpUrlError } from './errors.js';

export interface FtpUrl {
  scheme: 'ftp' | 'ftps' | 'ftpes';
  tls: 'none' | 'implicit' | 'explicit';
  host: string;
  port: number;
  user?: string;
  password?: string;
  /** Percent-decoded, always starting with "/". */
  path: string;
}

const SCHEMES = {
  ftp: { tls: 'none', port: 21 },
  ftps: { tls: 'implicit', port: 990 }, // RFC 4217 §8 leaves implicit TLS on 990 as the de-facto convention
  ftpes: { tls: 'explicit', port: 21 }, // FileZilla's name for AUTH TLS on the normal port (RFC 4217)
} as const;

/**
 * Parse "ftp[s|es]://[user[:password]@]host[:port][/path]".
 *
 * - ftp:// -> no TLS, port 21; ftps:// -> implicit TLS, port 990;
 *   ftpes:// -> explicit TLS (AUTH TLS), port 21.
 * - user, password and path are percent-decoded (UTF-8). The path keeps its
 *   leading "/" and is "/" when empty; "?" and "#" are ordinary path characters
 *   (file names contain them; FTP URLs have no query or fragment).
 * - The userinfo ends at the LAST "@" before the first "/" after the host, so an
 *   unencoded "@" in a password still works.
 * - IPv6 literals go in brackets: ftp://[::1]:2121/ (host comes back without them).
 *
 * Errors are FtpUrlError with a one-line message that never quotes the input:
 * any fragment of a malformed URL might be part of the password.
 */
export function parseFtpUrl(input: string): FtpUrl {
  if (/[\r\n\0]/.test(input)) throw new FtpUrlError('FTP URL contains CR, LF or NUL');
  const trimmed = input.trim();
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  if (!sm) throw new FtpUrlError('not a URL: expected ftp://, ftps:// or ftpes://');
  const schemeText = sm[1].toLowerCase();
  if (!Object.hasOwn(SCHEMES, schemeText)) {
    throw new FtpUrlError(`unsupported URL scheme "${safeScheme(schemeText)}": expected ftp, ftps or ftpes`);
  }
  const scheme = schemeText as keyof typeof SCHEMES;
  const afterScheme = trimmed.slice(sm[0].length);

  // Authority: up to the first "/" that follows the userinfo's last "@" (if any).
  let slash = afterScheme.indexOf('/');
  const authorityGuess = slash === -1 ? afterScheme : afterScheme.slice(0, slash);
  const at = authorityGuess.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authorityGuess.slice(0, at);
  const hostStart = at + 1;
  slash = afterScheme.indexOf('/', hostStart);
  const hostport = slash === -1 ? afterScheme.slice(hostStart) : afterScheme.slice(hostStart, slash);
  const rawPath = slash === -1 ? '' : afterScheme.slice(slash);

  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close === -1) throw new FtpUrlError('FTP URL has an unclosed "[" in the host');
    host = hostport.slice(1, close);
    if (!isIPv6(host)) throw new FtpUrlError('FTP URL has an invalid IPv6 address in brackets');
    const after = hostport.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new FtpUrlError('FTP URL has junk after the IPv6 address');
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hostport.lastIndexOf(':');
    host = decode(colon === -1 ? hostport : hostport.slice(0, colon), 'host');
    portText = colon === -1 ? undefined : hostport.slice(colon + 1);
    if (host.includes(':')) throw new FtpUrlError('FTP URL has an IPv6 address without brackets');
  }
  if (host === '') throw new FtpUrlError('FTP URL has no host');
  if (/[\s/?#@[\]\\]/.test(host) || /[\x00-\x1f\x7f]/.test(host)) {
    throw new FtpUrlError('FTP URL has invalid characters in the host');
  }

  let port: number = SCHEMES[scheme].port;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new FtpUrlError('FTP URL has an invalid port (must be 1-65535)');
    }
    port = Number(portText);
  }

  const url: FtpUrl = { scheme, tls: SCHEMES[scheme].tls, host, port, path: '/' };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const user = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name');
    if (user !== '') url.user = user;
    if (colon !== -1) url.password = decode(userinfo.slice(colon + 1), 'password');
  }
  const path = decode(rawPath, 'path');
  url.path = path === '' ? '/' : path;
  return url;
}

function decode(text: string, what: string): string {
  let out: string;
  try {
    out = decodeURIComponent(text);
  } catch {
    throw new FtpUrlError(`FTP URL has malformed percent-encoding in the ${what}`);
  }
  // Decoded CR/LF/NUL would end up on the control connection (RFC 959 §4.1.3).
  if (/[\r\n\0]/.test(out)) throw new FtpUrlError(`FTP URL has CR, LF or NUL in the ${what}`);
  return out;
}

function safeScheme(s: string): string {
  return s.length > 16 ? `${s.slice(0, 16)}…` : s;
}

/**
 * Replace every password in URLs inside arbitrary text with "***", for log
 * lines and error messages. Any scheme is handled (a password in an http proxy
 * URL is as secret as one in an ftp URL).
 *
 * The authority ends at whitespace or "/". When it contains "@", the userinfo
 * is everything up to its LAST "@" (so unencoded "@" in a password is covered).
 * When it does not but an "@" follows before the next whitespace, the password
 * probably holds an unencoded "/": that is redacted too, unless what follows
 * the ":" looks like a port ("host:21/pub/a@b").
 */
export function redactUrls(text: string): string {
  return text.replace(/\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)(\S*)/g, (_whole, scheme: string, rest: string) => {
    const slash = rest.indexOf('/');
    const authority = slash === -1 ? rest : rest.slice(0, slash);
    let at = authority.lastIndexOf('@');
    if (at === -1) {
      at = rest.indexOf('@');
      if (at === -1) return scheme + rest;
      const colon = rest.indexOf(':');
      // The user:password colon comes before the first "/"; a later one is in the path.
      if (colon === -1 || colon > at || (slash !== -1 && colon > slash)) return scheme + rest;
      if (/^\d*\//.test(rest.slice(colon + 1))) return scheme + rest; // host:port/path
    }
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon === -1) return scheme + rest;
    return `${scheme}${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
  });
}

// ---------------------------------------------------------------- netrc

export interface NetrcEntry {
  /** null for the "default" entry. */
  machine: string | null;
  login?: string;
  password?: string;
  account?: string;
}

/**
 * ~/.netrc as ftp(1) and curl read it: whitespace-separated tokens, "machine
 * <name>" or "default" starts an entry, followed by login/password/account
 * <value>. "macdef <name>" starts a macro whose body runs to the next blank
 * line; it is skipped. Double-quoted tokens (with \" and \\ escapes) allow
 * spaces in passwords. A "#" at the start of a token where a keyword is
 * expected comments out the rest of the line (curl does the same). Unknown
 * keywords and tokens before the first machine are ignored.
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  let pos = 0;
  const n = text.length;

  const skipSpace = (): void => {
    while (pos < n && /\s/.test(text[pos])) pos++;
  };
  const readToken = (): string | undefined => {
    skipSpace();
    if (pos >= n) return undefined;
    if (text[pos] === '"') {
      pos++;
      let out = '';
      while (pos < n && text[pos] !== '"') {
        if (text[pos] === '\\' && pos + 1 < n) pos++;
        out += text[pos++];
      }
      pos++; // closing quote (or past the end)
      return out;
    }
    const start = pos;
    while (pos < n && !/\s/.test(text[pos])) pos++;
    return text.slice(start, pos);
  };
  const skipLine = (): void => {
    const nl = text.indexOf('\n', pos);
    pos = nl === -1 ? n : nl + 1;
  };

  for (;;) {
    skipSpace();
    if (pos >= n) break;
    if (text[pos] === '#') {
      skipLine();
      continue;
    }
    const keyword = readToken();
    if (keyword === undefined) break;
    switch (keyword) {
      case 'machine': {
        const name = readToken();
        if (name === undefined) return entries;
        current = { machine: name };
        entries.push(current);
        break;
      }
      case 'default':
        current = { machine: null };
        entries.push(current);
        break;
      case 'login':
      case 'password':
      case 'account': {
        const value = readToken();
        if (value === undefined) return entries;
        if (current) current[keyword] = value;
        break;
      }
      case 'macdef': {
        readToken(); // macro name
        skipLine();
        // The body ends at the first empty (or whitespace-only) line.
        while (pos < n) {
          const nl = text.indexOf('\n', pos);
          const line = text.slice(pos, nl === -1 ? n : nl);
          pos = nl === -1 ? n : nl + 1;
          if (line.trim() === '') break;
        }
        break;
      }
      default:
        break; // unknown token: ignore, as ftp(1) does
    }
  }
  return entries;
}

/**
 * The entry for `host`: the first "machine" entry with that name (case-
 * insensitive) whose login matches `user` when one is given, else the
 * "default" entry. An entry without a login matches any user. An entry whose
 * login differs from `user` never matches: its password belongs to someone else.
 */
export function findNetrc(entries: NetrcEntry[], host: string, user?: string): NetrcEntry | undefined {
  const loginOk = (e: NetrcEntry): boolean => user === undefined || e.login === undefined || e.login === user;
  const h = host.toLowerCase();
  return (
    entries.find((e) => e.machine !== null && e.machine.toLowerCase() === h && loginOk(e)) ??
    entries.find((e) => e.machine === null && loginOk(e))
  );
}
