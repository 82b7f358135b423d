/**
 * Data-connection address codecs: PASV/PORT (RFC 959 §4.1.2), EPSV/EPRT
 * (RFC 2428), and the NAT fix-up for PASV replies. Pure functions.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { FtpProtocolError } from './errors.js';
import type { FixPasvAddress } from './options.js';

export type { FixPasvAddress } from './options.js';

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
  const n = m.slice(1, 7).map(Number);
  if (n.some((x) => x > 255)) {
    throw new FtpProtocolError(`PASV reply has a number out of range 0-255: ${JSON.stringify(text)}`);
  }
  const port = n[4] * 256 + n[5];
  // Nothing can listen on port 0; a server that says so is broken.
  if (port === 0) throw new FtpProtocolError(`PASV reply has port 0: ${JSON.stringify(text)}`);
  return { host: n.slice(0, 4).join('.'), port };
}

/** PORT argument "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2). PORT can only carry IPv4. */
export function encodePortArgument(hp: HostPort): string {
  const host = unmapIPv4(hp.host);
  if (!isIPv4(host)) {
    throw new FtpProtocolError(`PORT needs an IPv4 address, got ${JSON.stringify(hp.host)} (use EPRT)`);
  }
  checkPort(hp.port, 'PORT');
  return `${host.split('.').join(',')},${Math.floor(hp.port / 256)},${hp.port % 256}`;
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
 * True for addresses that cannot be reached from across the Internet: RFC 1918,
 * loopback 127/8, link-local 169.254/16, CGNAT 100.64/10 (RFC 6598), 0.0.0.0/8
 * ("this network"); IPv6 ::1, ::, fc00::/7 (ULA), fe80::/10; IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is judged by its IPv4 part. Host names are not addresses: false.
 */
export function isPrivateAddress(ip: string): boolean {
  const v4 = ipv4Octets(unmapIPv4(stripZone(ip)));
  if (v4) {
    const [a, b] = v4;
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const g = ipv6Groups(ip);
  if (!g) return false;
  const allZeroButLast = g.slice(0, 7).every((x) => x === 0);
  if (allZeroButLast && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return true; // fe80::/10
  return false;
}

/**
 * Decide the address to open a PASV data connection to (or to hand to the other
 * server's PORT, in FXP).
 *
 * 'auto': vsftpd without pasv_address (and many others) behind NAT advertise
 * their internal address; when the PASV host is private and the control peer is
 * not, the peer is where the server really is. 0.0.0.0 (or ::) is never
 * connectable, so under 'auto' it is replaced whatever the peer is.
 * 'always' always uses the control peer; 'never' trusts the reply.
 * An IPv4-mapped control peer is returned as plain IPv4, so it can feed PORT.
 */
export function resolvePasvHost(pasvHost: string, controlPeer: string, mode: FixPasvAddress): string {
  const peer = unmapIPv4(controlPeer);
  if (mode === 'never') return pasvHost;
  if (mode === 'always') return peer;
  if (isUnspecified(pasvHost)) return peer;
  if (isPrivateAddress(pasvHost) && !isPrivateAddress(peer)) return peer;
  return pasvHost;
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
