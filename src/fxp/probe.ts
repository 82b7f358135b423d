import { randomBytes } from 'node:crypto';
import { ConnectionPool } from '../ftp/pool.js';
import type { FtpNote } from '../ftp/connection.js';
import type { ServerOptions } from '../ftp/options.js';
import { ConnectionLease } from '../ftp/pool.js';
import { FxpRefusedError, isDiskFull, isTransient } from '../ftp/errors.js';
import { DEFAULT_TIMINGS, fxpTransfer, type FxpLayout, type TransferAids } from './transfer.js';
import { FxpState } from './state.js';
import { relayTransfer } from './relay.js';
import { modeName, type TransferMode } from './modes.js';
import { resetForClientData } from './engine.js';
import { FxpShortFileError, type FaultClass } from './faults.js';
import { identifyServer, type ServerKind } from '../ftp/software.js';
import { containedPath, type ContainedPath } from '../ftp/remote-path.js';

export interface ProbeServer {
  label: 'A' | 'B';
  name: string;
  kind: ServerKind;
  software: string;
  tls: boolean;
  features: string[];
}

export interface ProbeResult {
  direction: 'A->B' | 'B->A';
  mode: TransferMode;
  /** Which server got PASV, which PORT, and who is TLS client. */
  layout: string;
  ok: boolean;
  ms: number;
  /** Which server refused ('A' or 'B'), the step and its reply. */
  refusedBy?: 'A' | 'B';
  step?: string;
  reply?: string;
  /** The server setting that makes this mode work, for known servers. */
  fix?: string;
  /**
   * The verdict on a failure, the same one copy and mirror act on
   * (faults.ts): 'refusal' moves them down the ladder, 'transient' is retried
   * in the same mode, 'full' and 'permanent' fail the file.
   */
  fault?: FaultClass;
  /** 2 when a transient failure was tried again before being reported. */
  attempts?: number;
}

export interface ProbeReport {
  servers: ProbeServer[];
  results: ProbeResult[];
}

/**
 * The setting that lets a known server take part in FXP. `role` is what the
 * refusing server was doing: 'active' (it was told PORT to a foreign address)
 * or 'passive' (a foreign address connected to its PASV port).
 */
export function advise(kind: ServerKind, role: 'active' | 'passive', step: string, reply: string): string | undefined {
  if (/session reuse|ssl.*reuse/i.test(reply) && kind === 'vsftpd') return 'vsftpd: require_ssl_reuse=NO (the peer server cannot resume this server\'s TLS session)';
  if (step === 'SSCN' || step === 'CPSV') return `${kind === 'unknown' ? 'this server' : kind} cannot act as TLS client of the data connection: use a server with SSCN (proftpd) on one side, or --allow-clear-data`;
  switch (kind) {
    case 'vsftpd':
      return role === 'active' ? 'vsftpd: port_promiscuous=YES' : 'vsftpd: pasv_promiscuous=YES';
    case 'proftpd':
      return 'proftpd: AllowForeignAddress on';
    case 'pure-ftpd':
      return 'pure-ftpd: start with -w (FXP for authenticated users) or -W (FXP for everyone)';
    case 'pyftpdlib':
      return 'pyftpdlib: handler.permit_foreign_addresses = True';
    default:
      return undefined;
  }
}

const PROBE_BYTES = 65536;

function layoutText(l: FxpLayout | undefined, src: 'A' | 'B', dst: 'A' | 'B'): string {
  if (!l) return 'client relays: RETR from ' + src + ', STOR to ' + dst;
  const passive = l.passive === 'source' ? src : dst;
  const active = passive === src ? dst : src;
  const [pc, ac] = l.extended ? ['EPSV', 'EPRT'] : l.tls === 'cpsv' ? ['CPSV', 'PORT'] : ['PASV', 'PORT'];
  const tls =
    l.tls === 'sscn-source' ? `, SSCN on ${src}`
    : l.tls === 'sscn-destination' ? `, SSCN on ${dst}`
    : l.tls === 'clear' ? ', PROT C'
    : '';
  return `${pc} ${passive}, ${ac} ${active}${tls}`;
}

/**
 * Try every mode in both directions with a small temporary file on each
 * server, and report what worked and, for each refusal, who refused, what it
 * said, and which setting on that server fixes it.
 */
export async function runProbe(a: ServerOptions, b: ServerOptions, dirA: string, dirB: string, onNote?: (note: FtpNote) => void): Promise<ProbeReport> {
  const pools = { A: new ConnectionPool(a, 1), B: new ConnectionPool(b, 1) };
  for (const p of [pools.A, pools.B]) p.onNote = onNote;
  const fxp = new FxpState();
  const sides = { A: new ConnectionLease(pools.A), B: new ConnectionLease(pools.B) };
  const tag = randomBytes(4).toString('hex');
  const name = `.fxpmirror-probe-${tag}`;
  const files = { A: containedPath(dirA, name), B: containedPath(dirB, name) };
  const copies = { A: containedPath(dirA, `${name}-copy`), B: containedPath(dirB, `${name}-copy`) };
  const servers: ProbeServer[] = [];
  const results: ProbeResult[] = [];
  const created: ('A' | 'B')[] = [];
  try {
    for (const label of ['A', 'B'] as const) {
      const c = await sides[label].connection();
      const syst = await c.system();
      const f = c.features;
      servers.push({
        label,
        name: c.label,
        kind: identifyServer(c.greeting, syst),
        software: c.greeting.split('\n')[0].trim(),
        tls: c.isTls,
        features: [...f.raw.keys()].sort(),
      });
    }
    const data = randomBytes(PROBE_BYTES);
    for (const label of ['A', 'B'] as const) {
      await (await sides[label].connection()).upload(files[label], data);
      created.push(label);
    }
    const bothTls = servers[0].tls && servers[1].tls;
    const anyTls = servers[0].tls || servers[1].tls;
    for (const [s, d] of [['A', 'B'], ['B', 'A']] as const) {
      const layouts: FxpLayout[] = [];
      for (const passive of ['source', 'destination'] as const) {
        if (bothTls) {
          layouts.push({ passive, tls: 'sscn-source' }, { passive, tls: 'sscn-destination' });
          const passiveConn = await sides[passive === 'source' ? s : d].connection();
          if (passiveConn.features.cpsv) layouts.push({ passive, tls: 'cpsv' });
        }
        if (anyTls) layouts.push({ passive, tls: 'clear' });
        else layouts.push({ passive, tls: 'none' }, { passive, tls: 'none', extended: true });
      }
      for (const layout of [...layouts, undefined]) {
        results.push(await tryMode(sides, servers, fxp, s, d, layout, files[s], copies[d]));
      }
    }
    return { servers, results };
  } finally {
    for (const label of created) {
      try {
        await (await sides[label].connection()).delete(files[label]);
      } catch {
        /* best effort */
      }
    }
    sides.A.release();
    sides.B.release();
    await Promise.all([pools.A.close(), pools.B.close()]);
  }
}

/**
 * One mode, judged as copy and mirror judge it (faults.ts): a refusal is
 * final at once, as it moves them down the ladder at once; a transient
 * failure (a reset, a timeout, a short file) is tried once more, as their
 * retry loop would, so a passing glitch is not reported as the mode's verdict.
 */
async function tryMode(...args: Parameters<typeof tryOnce>): Promise<ProbeResult> {
  const first = await tryOnce(...args);
  if (first.ok || first.fault !== 'transient') return first;
  const second = await tryOnce(...args);
  return { ...second, attempts: 2 };
}

/** The class of an error a transfer threw, already judged there (faults.ts). */
function faultOf(err: unknown): FaultClass {
  if (err instanceof FxpRefusedError) return 'refusal';
  if (isDiskFull(err)) return 'full';
  return isTransient(err) ? 'transient' : 'permanent';
}

async function tryOnce(
  sides: Record<'A' | 'B', ConnectionLease>,
  servers: ProbeServer[],
  fxp: FxpState,
  s: 'A' | 'B',
  d: 'A' | 'B',
  layout: FxpLayout | undefined,
  srcPath: string,
  dstPath: ContainedPath,
): Promise<ProbeResult> {
  const started = Date.now();
  const base = { direction: `${s}->${d}` as ProbeResult["direction"], mode: modeName(layout), layout: layoutText(layout, s, d) };
  try {
    const src = await sides[s].connection();
    const dst = await sides[d].connection();
    const file = { srcPath, dstPath, rest: 0, remaining: PROBE_BYTES };
    // As the engine: the part file's size judges whether data moved (faults.ts).
    const aids: TransferAids = { measure: async () => (await sides[d].connection()).sizeIfExists(dstPath) };
    if (layout) await fxpTransfer(src, dst, layout, file, fxp, { ...DEFAULT_TIMINGS, copyCheckMs: 4000, markGraceMs: 1000 }, aids);
    else {
      await resetForClientData(src);
      await resetForClientData(dst);
      await relayTransfer(src, dst, file);
    }
    const got = await (await sides[d].connection()).size(dstPath);
    if (got !== PROBE_BYTES) throw new FxpShortFileError(`${servers.find((x) => x.label === d)!.name}: ${got} bytes arrived of ${PROBE_BYTES} (both sides said 226)`);
    return { ...base, ok: true, ms: Date.now() - started };
  } catch (err) {
    const by = err instanceof FxpRefusedError ? servers.find((x) => x.name === err.server) : undefined;
    const label = by?.label;
    const step = err instanceof FxpRefusedError ? err.step : undefined;
    const reply = err instanceof FxpRefusedError ? err.reply : err instanceof Error ? err.message : String(err);
    let role: 'active' | 'passive' = 'passive';
    if (layout && label) {
      const passiveLabel = layout.passive === 'source' ? s : d;
      role = label === passiveLabel ? 'passive' : 'active';
      if (step === 'PORT' || step === 'EPRT') role = 'active';
    }
    return {
      ...base,
      ok: false,
      ms: Date.now() - started,
      refusedBy: label,
      step,
      reply,
      fix: by && step ? advise(by.kind, role, step, reply ?? '') : undefined,
      fault: faultOf(err),
    };
  } finally {
    try {
      await (await sides[d].connection()).delete(dstPath);
    } catch {
      /* not created */
    }
  }
}

export function renderProbe(r: ProbeReport): string {
  const lines: string[] = [];
  for (const s of r.servers) {
    lines.push(`${s.label} = ${s.name}  ${s.kind !== 'unknown' ? s.kind : 'unknown server'}${s.tls ? ', TLS' : ''}  "${s.software}"`);
  }
  lines.push('');
  const rows = r.results.map((x) => [x.direction, x.mode, x.ok ? 'ok' : 'FAILED', x.layout, x.ok ? `${x.ms} ms` : `${x.refusedBy ?? '?'} ${x.step ?? ''}: ${x.reply ?? ''}`]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), ['direction', 'mode', 'result', 'layout'][i].length));
  const fmt = (row: string[]) => row.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ');
  lines.push(fmt(['direction', 'mode', 'result', 'layout', 'reply']));
  for (const row of rows) lines.push(fmt(row));
  const fixes = [...new Set(r.results.filter((x) => !x.ok && x.fix).map((x) => `${x.refusedBy}: ${x.fix}`))];
  if (fixes.length) {
    lines.push('', 'To allow the refused modes:');
    for (const f of fixes) lines.push(`  ${f}`);
  }
  lines.push('', verdict(r.results));
  return lines.join('\n') + '\n';
}

/**
 * What copy and mirror will do, from the same verdicts they act on: relay
 * only when every FXP mode was refused; a mode that failed transiently is
 * retried in that mode, never a reason to relay.
 */
export function verdict(results: ProbeResult[]): string {
  const fxp = results.filter((x) => x.mode !== 'relay');
  const ok = fxp.filter((x) => x.ok);
  if (ok.length) return `FXP works: ${[...new Set(ok.map((x) => `${x.direction} ${x.mode}`))].join(', ')}`;
  const transient = fxp.filter((x) => x.fault !== 'refusal');
  if (transient.length) {
    return `No FXP mode worked, but ${transient.length} did not fail by refusal (${transient.map((x) => `${x.direction} ${x.mode}: ${x.fault ?? 'error'}`).join(', ')}): copy and mirror retry such failures in the same mode and do not relay because of them; run probe again.`;
  }
  return 'No FXP mode works between these servers: fxpmirror will relay (unless --fxp force).';
}
