import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSFER_MODES, modeName } from '../../src/fxp/modes.js';
import type { FxpLayout, TlsRole } from '../../src/fxp/transfer.js';
import { formatModes } from '../../src/cli/render.js';

const TLS_ROLES: TlsRole[] = ['none', 'sscn-source', 'sscn-destination', 'cpsv', 'clear'];

test('modeName: every layout has a name from TRANSFER_MODES, and every name but none is reached', () => {
  const layouts: (FxpLayout | undefined)[] = [undefined];
  for (const passive of ['source', 'destination'] as const) {
    for (const tls of TLS_ROLES) {
      layouts.push({ passive, tls });
      if (tls === 'none') layouts.push({ passive, tls, extended: true });
    }
  }
  const names = layouts.map(modeName);
  for (const n of names) assert.ok(TRANSFER_MODES.includes(n), n);
  assert.deepEqual([...new Set(names)].sort(), [...TRANSFER_MODES].sort(), 'no mode name is left without a layout');
});

test('modeName: "-reversed" means the destination was passive; SSCN on either side is one name', () => {
  assert.equal(modeName(undefined), 'relay');
  assert.equal(modeName({ passive: 'source', tls: 'none' }), 'fxp');
  assert.equal(modeName({ passive: 'destination', tls: 'none' }), 'fxp-reversed');
  assert.equal(modeName({ passive: 'destination', tls: 'none', extended: true }), 'fxp-epsv-reversed');
  assert.equal(modeName({ passive: 'source', tls: 'sscn-destination' }), 'fxp-tls-sscn');
  assert.equal(modeName({ passive: 'destination', tls: 'sscn-source' }), 'fxp-tls-sscn-reversed');
  assert.equal(modeName({ passive: 'source', tls: 'cpsv' }), 'fxp-tls-cpsv');
  assert.equal(modeName({ passive: 'destination', tls: 'clear' }), 'fxp-clear-reversed');
});

test('the summary lists modes in TRANSFER_MODES order: plain FXP first, relay last', () => {
  assert.equal(TRANSFER_MODES[0], 'fxp');
  assert.equal(TRANSFER_MODES.at(-1), 'relay');
  const all = Object.fromEntries([...TRANSFER_MODES].reverse().map((m) => [m, 1]));
  assert.equal(formatModes(all), TRANSFER_MODES.map((m) => `${m} 1`).join(', '));
});
