/**
 * One server instance as the configuration generators see it, and what a
 * generator returns: the command line to start it and where it logs.
 */
import type { LabCert } from '../cert.js';
import type { LabUser } from '../env.js';
import type { LabKind } from '../kinds.js';

export interface Instance {
  kind: LabKind;
  /** `<kind>-<address>-<port>`: pid file, directory and process marker. */
  name: string;
  /** Instance directory: configuration, logs, pid files of the server. */
  dir: string;
  /** Served root, owned by the lab user. */
  root: string;
  address: string;
  port: number;
  pasvMin: number;
  pasvMax: number;
  profile: 'fxp' | 'strict';
  tls: LabCert | null;
  maxPerIp: number | undefined;
  vsftpdPromiscuous: { port: boolean; pasv: boolean } | undefined;
  implicitTls: boolean;
  /** Bytes per second for each data transfer; undefined = unthrottled. */
  rateLimit: number | undefined;
  user: LabUser;
}

export interface Generated {
  command: string;
  args: string[];
  logFile: string;
  xferLog?: string;
  extraLogs: string[];
}

/**
 * A passive port range per instance, derived from address and port so that
 * instances never share one (and two lab processes agree). Below Linux's
 * ephemeral range (32768+), where outgoing connections would compete.
 * Last octets 21..40 map to distinct slots; 100 ports each.
 */
export function passiveRange(address: string, port: number): [number, number] {
  const octet = Number(address.split('.')[3] ?? 0);
  const base = 20000 + (octet % 30) * 400 + (port % 4) * 100;
  return [base, base + 99];
}

/** A byte rate in KiB/s for servers configured in KiB (proftpd takes fractions). */
export function kibPerSec(bytesPerSec: number): number {
  return Math.round((bytesPerSec / 1024) * 1000) / 1000;
}

/** One line saying which options a kind cannot honour, or null. */
export function unsupported(inst: Instance, what: Partial<Record<'tls' | 'maxPerIp' | 'rateLimit' | 'fxp', boolean>>): string | null {
  const bad: string[] = [];
  if (what.tls && inst.tls) bad.push('tls');
  if (what.maxPerIp && inst.maxPerIp !== undefined) bad.push('maxPerIp');
  if (what.rateLimit && inst.rateLimit !== undefined) bad.push('rateLimit');
  if (what.fxp && inst.profile === 'fxp') bad.push("profile 'fxp' (it always refuses foreign addresses)");
  return bad.length ? `lab: ${inst.kind} does not support ${bad.join(', ')}` : null;
}
