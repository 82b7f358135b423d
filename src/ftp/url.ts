/**
 * FTP URLs (RFC 1738 §3.2, plus FileZilla's ftpes://), where their paths
 * lead (relative to the login directory unless "%2F" makes them absolute),
 * and password redaction for logs. Pure.
 */
import path from 'node:path/posix';
import { isIPv6 } from 'node:net';
import { FtpProtocolError, FtpUrlError, unsafeValueReason } from './errors.js';

export interface FtpUrl {
  scheme: 'ftp' | 'ftps' | 'ftpes';
  tls: 'none' | 'implicit' | 'explicit';
  host: string;
  port: number;
  user?: string;
  password?: string;
  /**
   * The path as RFC 1738 §3.2.2 reads it, percent-decoded: relative to the
   * login directory ("pub" for ftp://host/pub, "" for ftp://host/ itself),
   * absolute when it starts with "/" (ftp://host/%2Fpub, or ftp://host//pub).
   * absolutePath() turns it into the absolute path fxpmirror sends.
   */
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
 * - user, password and path are percent-decoded (UTF-8). The "/" after the
 *   host only separates the path (RFC 1738 §3.2.2: the path's segments are
 *   CWD arguments from the login directory), so "ftp://h/pub" has the
 *   relative path "pub" and "ftp://h/%2Fpub" the absolute "/pub", as curl,
 *   wget and lftp read them; "?" and "#" are ordinary path characters (file
 *   names contain them; FTP URLs have no query or fragment).
 * - The userinfo ends at the LAST "@" before the first "/" after the host, so an
 *   unencoded "@" in a password still works.
 * - IPv6 literals go in brackets: ftp://[::1]:2121/ (host comes back without them).
 *
 * Errors are FtpUrlError with a one-line message that never quotes the input:
 * any fragment of a malformed URL might be part of the password.
 */
export function parseFtpUrl(input: string): FtpUrl {
  const unsafe = unsafeValueReason(input);
  if (unsafe) throw new FtpUrlError(`FTP URL contains CR, LF or NUL (${unsafe})`);
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
      // "ftp://user:pa/ss@host/": the authority ended at the password's "/",
      // so "user" looked like the host and "pa" like the port.
      const slashInPassword = at === -1 && slash !== -1 && afterScheme.indexOf('@', slash) !== -1;
      const hint = slashInPassword ? ' (if the password contains "/", write it percent-encoded as %2F)' : '';
      throw new FtpUrlError(`FTP URL has an invalid port (must be 1-65535)${hint}`);
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
  // Drop the separating "/" only; a decoded "%2F" right after it stays, and makes the path absolute.
  url.path = decode(rawPath.slice(1), 'path');
  return url;
}

/**
 * `urlPath` (an FtpUrl's path, or a job endpoint's) as an absolute path:
 * itself when it starts with "/", else joined to `loginDir`, the directory
 * PWD named right after login ("" is the login directory itself). A
 * trailing "/" is kept (copy reads it as "a directory"). Every path
 * fxpmirror sends is absolute, so a CWD (LIST) never changes what it means,
 * and the containment checks (remote-path.ts) have an absolute root.
 */
export function absolutePath(urlPath: string, loginDir: string): string {
  if (urlPath.startsWith('/')) return urlPath;
  if (urlPath === '') return loginDir;
  return path.join(loginDir, urlPath);
}

/**
 * The login directory from a PWD reply's path (connection.ts reads the
 * quotes): it must be absolute to anchor relative paths. A server that
 * answers otherwise (a VMS or Windows style path) gets one clear error: name
 * the path absolute instead.
 */
export function loginDirectory(pwd: string, server: string): string {
  if (!pwd.startsWith('/') || unsafeValueReason(pwd)) {
    throw new FtpProtocolError(
      `${server}: PWD named ${JSON.stringify(pwd.slice(0, 100))}, not an absolute path, so a path relative to the login directory cannot be used there: write it absolute (ftp://host/%2Fpath, or server:/path in a job file)`,
    );
  }
  return path.normalize(pwd);
}

function decode(text: string, what: string): string {
  let out: string;
  try {
    out = decodeURIComponent(text);
  } catch {
    throw new FtpUrlError(`FTP URL has malformed percent-encoding in the ${what}`);
  }
  // Decoded CR/LF/NUL would end up on the control connection (RFC 959 §4.1.3).
  const unsafe = unsafeValueReason(out);
  if (unsafe) throw new FtpUrlError(`FTP URL has CR, LF or NUL in the ${what} (${unsafe})`);
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
