import type { FxpLayout } from './transfer.js';

/**
 * Every way a file can move, in reporting order: plain FXP first, relay (the
 * fallback through the client) last. The TransferMode type, the order of the
 * summary's "modes" line and the names the engine and probe give a layout all
 * come from this one list.
 *
 * A name describes the layout: "-reversed" means the destination was the
 * passive side, "-epsv" that EPSV/EPRT (RFC 2428) were used, "-tls-sscn" /
 * "-tls-cpsv" how the TLS client of the data connection was chosen, "-clear"
 * unprotected data (PROT C, RFC 4217 §9) between TLS servers.
 */
export const TRANSFER_MODES = [
  'fxp',
  'fxp-reversed',
  'fxp-epsv',
  'fxp-epsv-reversed',
  'fxp-tls-sscn',
  'fxp-tls-sscn-reversed',
  'fxp-tls-cpsv',
  'fxp-tls-cpsv-reversed',
  'fxp-clear',
  'fxp-clear-reversed',
  'relay',
] as const;

export type TransferMode = (typeof TRANSFER_MODES)[number];

/** The mode name of a layout (undefined: relay through the client). */
export function modeName(layout: FxpLayout | undefined): TransferMode {
  if (!layout) return 'relay';
  const base =
    layout.tls === 'none'
      ? layout.extended
        ? 'fxp-epsv'
        : 'fxp'
      : layout.tls === 'clear'
        ? 'fxp-clear'
        : layout.tls === 'cpsv'
          ? 'fxp-tls-cpsv'
          : 'fxp-tls-sscn';
  // Typed by TRANSFER_MODES: a base without its "-reversed" twin in the list does not compile.
  return layout.passive === 'destination' ? `${base}-reversed` : base;
}
