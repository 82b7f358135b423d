/**
 * Data-connection address codecs: PASV/PORT (RFC 959 §4.1.2), EPSV/EPRT
 * (RFC 2428), and the decision where a PASV reply's data connection goes.
 * Pure functions.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { FtpProtocolError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Six comma-separated numbers, spaces allowed around the commas. The
 * lookarounds keep "1234,..." from matching as "234,...".
 */
const SIX_NUMBERS = /(?<!\d)(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})(?!\d)/;

/**
 * Parse a 227 reply's text. RFC 959 never fixed the format around the numbers
 * and RFC 1123 §4.1.2.6 tells clients to scan the whole text for
 * "h1,h2,h3,h4,p1,p2": servers write "(h,h,h,h,p,p)", "=h,h,h,h,p,p", bare
 * numbers, or put words in between.
 */
export function parsePasvReply(text: string): HostPort {
  const m = SIX_NUMBERS.exec(text);
  if (!m) throw new FtpProtocolError(`PASV reply has no address: ${JSON.stringify(text)}`);
  // Indexed, no intermediate arrays: one PASV per file in a mirror.
  for (let i = 1; i <= 6; i++) {
    if (Number(m[i]) > 255) throw new FtpProtocolError(`PASV reply has a number out of range 0-255: ${JSON.stringify(text)}`);
  }
  const port = Number(m[5]) * 256 + Number(m[6]);
  // Nothing can listen on port 0; a server that says so is broken.
  if (port === 0) throw new FtpProtocolError(`PASV reply has port 0: ${JSON.stringify(text)}`);
  return { host: `${Number(m[1])}.${Number(m[2])}.${Number(m[3])}.${Number(m[4])}`, port };
}

/** The last host encodePortArgument() accepted and its "h1,h2,h3,h4": a mirror's PORTs name the same few hosts, file after file. */
let lastPortHost: { host: string; encoded: string } | undefined;

/** PORT argument "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2). PORT can only carry IPv4. */
export function encodePortArgument(hp: HostPort): string {
  const host = portHost(hp.host);
  checkPort(hp.port, 'PORT');
  return `${host},${Math.floor(hp.port / 256)},${hp.port % 256}`;
}

function portHost(ip: string): string {
  if (lastPortHost?.host === ip) return lastPortHost.encoded;
  const host = unmapIPv4(ip);
  if (!isIPv4(host)) {
    throw new FtpProtocolError(`PORT needs an IPv4 address, got ${JSON.stringify(ip)} (use EPRT)`);
  }
  const encoded = host.split('.').join(',');
  lastPortHost = { host: ip, encoded };
  return encoded;
}

/**
 * Parse a 229 reply's text (RFC 2428 §3): "(<d><d><d><port><d>)" where <d> is
 * one delimiter character in ASCII 33..126, usually "|". The network-protocol
 * and address fields are empty: the data connection goes to the control peer.
 * Parentheses are required; without them a delimiter could not be told apart
 * from the surrounding text.
 */
export function parseEpsvReply(text: string): number {
  const m = /\(([\x21-\x7e])\1\1(\d{1,5})\1\)/.exec(text);
  if (!m) throw new FtpProtocolError(`EPSV reply has no port: ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new FtpProtocolError(`EPSV reply has port out of range: ${JSON.stringify(text)}`);
  return port;
}

/**
 * EPRT argument (RFC 2428 §2): "|1|h|p|" for IPv4, "|2|h|p|" for IPv6.
 * IPv4-mapped IPv6 addresses (what a dual-stack socket reports for an IPv4 peer)
 * go out as family 1: the server sees an IPv4 connection. A zone index
 * ("fe80::1%eth0") is ours alone and means nothing to the server, so it is dropped.
 */
export function encodeEprtArgument(hp: HostPort): string {
  checkPort(hp.port, 'EPRT');
  const host = unmapIPv4(stripZone(hp.host));
  if (isIPv4(host)) return `|1|${host}|${hp.port}|`;
  if (isIPv6(host)) return `|2|${host}|${hp.port}|`;
  throw new FtpProtocolError(`EPRT needs an IP address, got ${JSON.stringify(hp.host)}`);
}

/**
 * Where a data connection to a passive server goes: the address in its 227
 * reply, or the control connection's peer.
 *
 * A 227 names any address the server likes. Used as given, it lets a hostile
 * or broken server point the data connection at a third host: fxpmirror's own
 * connection would go there, and in FXP the other server's PORT would name
 * it, so that server would send a file to, or store a file from, a host
 * nobody chose (the FTP bounce attack, RFC 2577 §3). The control peer is the
 * one address known to belong to the server, so by default only the reply's
 * port is used (curl does the same since 7.74.0, CVE-2020-8284; basic-ftp
 * too). That also covers a server behind NAT that names its private address.
 *
 * With `trust` (a per-server opt-in, for a server with a separate data
 * interface) the advertised address is used, unless it is 0.0.0.0, which
 * names no host at all. An IPv4-mapped control peer comes back as plain IPv4,
 * so it can feed PORT.
 *
 * `use` says what happened: 'same' (the reply named the control peer),
 * 'peer' (another address, replaced) or 'advertised' (another address, used).
 */
export function choosePasvAddress(
  advertised: HostPort,
  controlPeer: string,
  trust: boolean,
): { hp: HostPort; use: 'same' | 'peer' | 'advertised' } {
  const peer = unmapIPv4(controlPeer);
  const host = unmapIPv4(advertised.host);
  if (host === peer) return { hp: { host: peer, port: advertised.port }, use: 'same' };
  if (trust && !isUnspecified(host)) return { hp: { host, port: advertised.port }, use: 'advertised' };
  return { hp: { host: peer, port: advertised.port }, use: 'peer' };
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FtpProtocolError(`${what} port out of range 1-65535: ${port}`);
  }
}

function isUnspecified(ip: string): boolean {
  const v4 = ipv4Octets(unmapIPv4(ip));
  if (v4) return v4.every((x) => x === 0);
  const g = ipv6Groups(ip);
  return g !== null && g.every((x) => x === 0);
}

function stripZone(ip: string): string {
  const i = ip.indexOf('%');
  return i === -1 ? ip : ip.slice(0, i);
}

/** "::ffff:1.2.3.4" (any case, or the hex form "::ffff:102:304") -> "1.2.3.4"; anything else unchanged. */
function unmapIPv4(ip: string): string {
  if (!ip.includes(':')) return ip;
  const g = ipv6Groups(ip);
  if (!g) return ip;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff].join('.');
  }
  return ip;
}

function ipv4Octets(ip: string): number[] | null {
  if (!isIPv4(ip)) return null;
  return ip.split('.').map(Number);
}

/** The eight 16-bit groups of an IPv6 address, or null if it is not one. */
function ipv6Groups(input: string): number[] | null {
  const ip = stripZone(input);
  if (!isIPv6(ip)) return null;
  let text = ip;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const o = ipv4Octets(maybeV4);
    if (!o) return null;
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let groups: number[];
  const dbl = text.indexOf('::');
  if (dbl !== -1) {
    const head = parse(text.slice(0, dbl));
    const rest = parse(text.slice(dbl + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 0) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = parse(text);
  }
  return groups.length === 8 && groups.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff) ? groups : null;
}
