import { netrcFromEnv, resolveCredentials, type NetrcSource } from '../ftp/credentials.js';
import type { SourcePosition } from '../ftp/errors.js';
import { parseFtpUrl, type FtpUrl } from '../ftp/url.js';
import { DEFAULT_TIMEOUTS, listingLimitsOf, type ServerOptions } from '../ftp/options.js';

export interface ServerFlags {
  ca?: string;
  insecure?: boolean;
  fingerprint?: string[];
  /** Milliseconds. */
  timeout?: number;
  /** Milliseconds. */
  connectTimeout?: number;
  maxConnections?: number;
  /** Use this server's PASV address even when it is not its control address (--trust-pasv-address). */
  trustPasvAddress?: boolean;
  active?: boolean;
  maxListingEntries?: number;
  maxListingLine?: number;
}

/** One netrc per process environment: read once, its warning printed once, however many URLs ask. */
const netrcByEnv = new WeakMap<NodeJS.ProcessEnv, NetrcSource>();

function warnLine(message: string, at?: SourcePosition): void {
  process.stderr.write(`fxpmirror: warning: ${at ? `${at.file}: ` : ''}${message}\n`);
}

function netrcOf(env: NodeJS.ProcessEnv): NetrcSource {
  let source = netrcByEnv.get(env);
  if (!source) netrcByEnv.set(env, (source = netrcFromEnv(env, warnLine)));
  return source;
}

/**
 * A URL from the command line becomes ServerOptions. When the URL has no
 * password, it comes from the environment (FXPMIRROR_<ROLE>_PASSWORD, then
 * FXPMIRROR_PASSWORD), then ~/.netrc; with no user at all, anonymous.
 */
export function serverFromUrl(input: string, role: 'SRC' | 'DST' | 'A' | 'B' | '', flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): { server: ServerOptions; url: FtpUrl } {
  const url = parseFtpUrl(input);
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const envPassword = (name: string) => ({ value: env[name] || undefined, from: `environment variable ${name}` });
  const { user, password, account } = resolveCredentials({
    server: `${host}:${url.port}`,
    host: url.host,
    user: { value: url.user, from: 'the URL' },
    passwords: [{ value: url.password, from: 'the URL' }, ...(role ? [envPassword(`FXPMIRROR_${role}_PASSWORD`)] : []), envPassword('FXPMIRROR_PASSWORD')],
    netrc: netrcOf(env),
    warn: warnLine,
  });
  const timeouts = { ...DEFAULT_TIMEOUTS };
  if (flags.timeout) timeouts.command = timeouts.data = flags.timeout;
  if (flags.connectTimeout) timeouts.connect = flags.connectTimeout;
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
