import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFtpUrl, parseNetrc, findNetrc, type FtpUrl } from '../ftp/url.js';
import { DEFAULT_TIMEOUTS, listingLimitsOf, type ServerOptions } from '../ftp/options.js';
import { addSecret } from './log.js';

export interface ServerFlags {
  ca?: string;
  insecure?: boolean;
  fingerprint?: string[];
  timeout?: number;
  connectTimeout?: number;
  maxConnections?: number;
  /** Use this server's PASV address even when it is not its control address (--trust-pasv-address). */
  trustPasvAddress?: boolean;
  active?: boolean;
  maxListingEntries?: number;
  maxListingLine?: number;
}

function netrcEntries(env: NodeJS.ProcessEnv): ReturnType<typeof parseNetrc> {
  const file = env.NETRC ?? path.join(os.homedir(), '.netrc');
  try {
    return parseNetrc(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * A URL from the command line becomes ServerOptions. When the URL has no
 * password, it comes from the environment (FXPMIRROR_<ROLE>_PASSWORD, then
 * FXPMIRROR_PASSWORD), then ~/.netrc; with no user at all, anonymous.
 */
export function serverFromUrl(input: string, role: 'SRC' | 'DST' | 'A' | 'B' | '', flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): { server: ServerOptions; url: FtpUrl } {
  const url = parseFtpUrl(input);
  let user = url.user;
  let password = url.password;
  let account: string | undefined;
  if (password === undefined) {
    password = (role && env[`FXPMIRROR_${role}_PASSWORD`]) || env.FXPMIRROR_PASSWORD || undefined;
  }
  if (password === undefined) {
    const entry = findNetrc(netrcEntries(env), url.host, user);
    if (entry) {
      user ??= entry.login;
      password = entry.password;
      account = entry.account;
    }
  }
  if (user === undefined) {
    user = 'anonymous';
    password ??= 'anonymous@';
  }
  password ??= '';
  if (password) addSecret(password);
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const timeouts = { ...DEFAULT_TIMEOUTS };
  if (flags.timeout) timeouts.command = timeouts.data = flags.timeout * 1000;
  if (flags.connectTimeout) timeouts.connect = flags.connectTimeout * 1000;
  return {
    url,
    server: {
      name: `${host}:${url.port}`,
      host: url.host,
      port: url.port,
      user,
      password,
      account,
      tls: url.tls,
      tlsOptions: { verify: !flags.insecure, ca: flags.ca, fingerprint: flags.fingerprint?.join(',') },
      timeouts,
      trustPasvAddress: flags.trustPasvAddress ?? false,
      maxConnections: flags.maxConnections ?? 8,
      dataMode: flags.active ? 'active' : 'passive',
      listingLimits: listingLimitsOf(flags.maxListingEntries, flags.maxListingLine),
    },
  };
}
