import { randomBytes } from 'node:crypto';
import { ConnectionPool } from '../ftp/pool.js';
import type { FtpConnection, FtpNote } from '../ftp/connection.js';
import type { ServerOptions } from '../ftp/options.js';
import { FtpError, FxpRefusedError } from '../ftp/errors.js';
import { fxpTransfer, type FxpLayout } from './transfer.js';
import { FxpState } from './state.js';
import { relayTransfer } from './relay.js';
import { modeName, type TransferMode } from './modes.js';
import { Side, resetForClientData } from './engine.js';
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
  /** 2 when a data-level failure was retried before being reported. */
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

async function upload(conn: FtpConnection, file: ContainedPath, data: Buffer): Promise<void> {
  await conn.exclusive(async () => {
    const stor = await conn.openData('STOR', file);
    await new Promise<void>((resolve, reject) => {
      stor.socket.once('error', reject);
      stor.socket.end(data, () => resolve());
    });
    await stor.finish();
  });
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
  const sides = { A: new Side(pools.A), B: new Side(pools.B) };
  const tag = randomBytes(4).toString('hex');
  const name = `.fxpmirror-probe-${tag}`;
  const files = { A: containedPath(dirA, name), B: containedPath(dirB, name) };
  const copies = { A: containedPath(dirA, `${name}-copy`), B: containedPath(dirB, `${name}-copy`) };
  const servers: ProbeServer[] = [];
  const results: ProbeResult[] = [];
  const created: ('A' | 'B')[] = [];
  try {
    for (const label of ['A', 'B'] as const) {
      const c = await sides[label].live();
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
      await upload(await sides[label].live(), files[label], data);
      created.push(label);
    }
    const bothTls = servers[0].tls && servers[1].tls;
    const anyTls = servers[0].tls || servers[1].tls;
    for (const [s, d] of [['A', 'B'], ['B', 'A']] as const) {
      const layouts: FxpLayout[] = [];
      for (const passive of ['source', 'destination'] as const) {
        if (bothTls) {
          layouts.push({ passive, tls: 'sscn-source' }, { passive, tls: 'sscn-destination' });
          const passiveConn = await sides[passive === 'source' ? s : d].live();
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
        await (await sides[label].live()).delete(files[label]);
      } catch {
        /* best effort */
      }
    }
    sides.A.release();
    sides.B.release();
    await Promise.all([pools.A.close(), pools.B.close()]);
  }
}

/** Commands a server refuses deterministically: no point asking twice. */
const COMMAND_STEPS = new Set(['PORT', 'EPRT', 'PASV', 'EPSV', 'CPSV', 'CEPR', 'SSCN', 'PRET', 'PROT C']);

/**
 * One mode, tried again once when it failed on the data connection (425,
 * 426, silence): a refusal is only reported when it repeats, so a passing
 * glitch is not blamed on a server setting. Refused commands are final.
 */
async function tryMode(...args: Parameters<typeof tryOnce>): Promise<ProbeResult> {
  const first = await tryOnce(...args);
  if (first.ok || (first.step !== undefined && COMMAND_STEPS.has(first.step))) return first;
  const second = await tryOnce(...args);
  return { ...second, attempts: 2 };
}

async function tryOnce(
  sides: Record<'A' | 'B', Side>,
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
    const src = await sides[s].live();
    const dst = await sides[d].live();
    const file = { srcPath, dstPath, rest: 0, remaining: PROBE_BYTES };
    if (layout) await fxpTransfer(src, dst, layout, file, fxp, { copyCheckMs: 4000, markGraceMs: 1000 });
    else {
      await resetForClientData(src);
      await resetForClientData(dst);
      await relayTransfer(src, dst, file);
    }
    const got = await (await sides[d].live()).size(dstPath);
    if (got !== PROBE_BYTES) throw new FxpRefusedError(servers.find((x) => x.label === d)!.name, 'size', `${got} bytes arrived of ${PROBE_BYTES} (both sides may have said 226)`);
    return { ...base, ok: true, ms: Date.now() - started };
  } catch (err) {
    const e = err as FtpError;
    const by = err instanceof FxpRefusedError ? servers.find((x) => x.name === err.server) : undefined;
    const label = by?.label;
    const step = err instanceof FxpRefusedError ? err.step : undefined;
    const reply = err instanceof FxpRefusedError ? err.reply : e.message;
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
    };
  } finally {
    try {
      await (await sides[d].live()).delete(dstPath);
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
  const okModes = r.results.filter((x) => x.ok && x.mode !== 'relay');
  lines.push('', okModes.length ? `FXP works: ${[...new Set(okModes.map((x) => `${x.direction} ${x.mode}`))].join(', ')}` : 'No FXP mode works between these servers: fxpmirror will relay (unless --fxp force).');
  return lines.join('\n') + '\n';
}
