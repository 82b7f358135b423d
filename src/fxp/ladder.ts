import type { FtpConnection } from '../ftp/connection.js';
import type { FxpPolicy, PassiveSide } from '../ftp/options.js';
import { unreliableActive } from '../ftp/software.js';
import { modeName, type TransferMode } from './modes.js';
import type { FxpLayout, FxpTimings, TlsRole } from './transfer.js';
import { FxpState } from './state.js';

export interface TransferPolicy {
  fxp: FxpPolicy;
  passive: PassiveSide;
  allowClearData: boolean;
  verify: 'size' | 'checksum' | 'none';
  continue: boolean;
  timings?: FxpTimings;
  /**
   * The user chose `passive` (flag or job key, or a server's passive
   * preference). Otherwise it is a default, and a server known to be
   * unreliable as the active side is made passive instead.
   */
  passiveExplicit?: boolean;
}

/** One rung of the fallback ladder. `layout` undefined means relay through the client. */
export interface Rung {
  mode: TransferMode;
  layout?: FxpLayout;
}

const swap = (p: PassiveSide): PassiveSide => (p === 'source' ? 'destination' : 'source');

/**
 * The fallback ladder (lftp's order, FileCopyFtp.cc): first the preferred
 * passive side, then the other; under TLS, every way of choosing the TLS
 * client (SSCN on either side, CPSV on the passive side); then clear data if
 * the user allowed it; then relay, unless --fxp force.
 *
 * Layouts that cannot work are left out instead of being tried: two TLS
 * servers of which neither offers SSCN or CPSV would each wait for the other's
 * ClientHello until a timeout.
 */
export function buildLadder(src: FtpConnection, dst: FtpConnection, policy: TransferPolicy, fxp: FxpState = new FxpState()): { rungs: Rung[]; notes: string[] } {
  const notes: string[] = [];
  const rungs: Rung[] = [];
  const rung = (layout?: FxpLayout): Rung => ({ mode: modeName(layout), layout });
  const relay = rung();
  if (policy.fxp === 'never') return { rungs: [relay], notes: ['--fxp never: relaying through the client'] };
  let first = policy.passive;
  if (!policy.passiveExplicit) {
    const activeOf = (p: PassiveSide) => (p === 'source' ? dst : src);
    const bad = (c: FtpConnection) => c.state?.kind !== undefined && unreliableActive(c.state.kind);
    if (bad(activeOf(first)) && !bad(activeOf(swap(first)))) first = swap(first);
  }
  const sides: PassiveSide[] = [first, swap(first)];
  const bothTls = src.isTls && dst.isTls;
  const oneTls = src.isTls !== dst.isTls;
  if (!src.isTls && !dst.isTls) {
    for (const p of sides) rungs.push(rung({ passive: p, tls: 'none' }));
  } else if (bothTls) {
    const sscn = (c: FtpConnection) => (c.features.sscn || fxp.sscnWorks(c) === true) && fxp.sscnWorks(c) !== false;
    const roles: [TlsRole, (p: PassiveSide) => boolean][] = [
      ['sscn-source', () => sscn(src)],
      ['sscn-destination', () => sscn(dst)],
      ['cpsv', (p) => (p === 'source' ? src : dst).features.cpsv],
    ];
    for (const p of sides) {
      for (const [tls, possible] of roles) {
        if (possible(p)) rungs.push(rung({ passive: p, tls }));
      }
    }
    if (rungs.length === 0) {
      notes.push(`protected FXP impossible: neither ${src.label} nor ${dst.label} offers SSCN or CPSV, so neither can act as TLS client of the data connection`);
    }
  }
  if ((bothTls || oneTls) && policy.allowClearData) {
    for (const p of sides) rungs.push(rung({ passive: p, tls: 'clear' }));
  } else if (oneTls) {
    notes.push(`FXP between ${src.isTls ? src.label : dst.label} (TLS) and ${src.isTls ? dst.label : src.label} (no TLS) needs clear data: allow it with --allow-clear-data`);
  } else if (bothTls) {
    notes.push('clear-data FXP not tried: it needs --allow-clear-data');
  }
  if (policy.fxp !== 'force') rungs.push(relay);
  return { rungs, notes };
}

/** A ladder built for a source connection, with everything it was built from that can change. */
interface Built {
  dst: FtpConnection;
  srcKind: FtpConnection['state']['kind'];
  dstKind: FtpConnection['state']['kind'];
  srcFeatures: FtpConnection['features'];
  dstFeatures: FtpConnection['features'];
  srcTls: boolean;
  dstTls: boolean;
  srcSscn: boolean | undefined;
  dstSscn: boolean | undefined;
  ladder: { rungs: Rung[]; notes: string[] };
}

/**
 * buildLadder once per pair of connections, not once per file: the ladder
 * of a mirror's pair stays the same from file to file. Rebuilt when any of
 * its inputs changed (another destination connection, a server identified
 * or its SSCN learned meanwhile, new FEAT features, TLS); the policy is
 * the engine's and fixed. The result is shared: callers never modify it.
 */
export class LadderCache {
  private built = new WeakMap<FtpConnection, Built>();

  constructor(
    private readonly policy: TransferPolicy,
    private readonly fxp: FxpState,
  ) {}

  ladder(src: FtpConnection, dst: FtpConnection): { rungs: Rung[]; notes: string[] } {
    const b = this.built.get(src);
    const srcSscn = this.fxp.sscnWorks(src);
    const dstSscn = this.fxp.sscnWorks(dst);
    if (
      b !== undefined &&
      b.dst === dst &&
      b.srcKind === src.state.kind &&
      b.dstKind === dst.state.kind &&
      b.srcFeatures === src.features &&
      b.dstFeatures === dst.features &&
      b.srcTls === src.isTls &&
      b.dstTls === dst.isTls &&
      b.srcSscn === srcSscn &&
      b.dstSscn === dstSscn
    ) {
      return b.ladder;
    }
    const ladder = buildLadder(src, dst, this.policy, this.fxp);
    this.built.set(src, {
      dst,
      srcKind: src.state.kind,
      dstKind: dst.state.kind,
      srcFeatures: src.features,
      dstFeatures: dst.features,
      srcTls: src.isTls,
      dstTls: dst.isTls,
      srcSscn,
      dstSscn,
      ladder,
    });
    return ladder;
  }
}
