/**
 * The fallback ladder (fxp layer), pure: it takes plain capability data, no
 * socket is involved. The ladder against scripted servers is fxp-ladder.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FtpConnection } from '../../src/ftp/connection.js';
import { emptyFeatures } from '../../src/ftp/feat.js';
import { LadderCache, buildLadder, type TransferPolicy } from '../../src/fxp/ladder.js';
import { FxpState } from '../../src/fxp/state.js';

function fakeConn(label: string, opts: { tls?: boolean; sscn?: boolean; cpsv?: boolean; kind?: string } = {}): FtpConnection {
  const features = emptyFeatures();
  features.sscn = !!opts.sscn;
  features.cpsv = !!opts.cpsv;
  return { label, isTls: !!opts.tls, features, state: { kind: opts.kind } } as unknown as FtpConnection;
}

const policy = (p: Partial<TransferPolicy> = {}): TransferPolicy => ({
  fxp: 'auto',
  passive: 'source',
  allowClearData: false,
  verify: 'size',
  continue: false,
  ...p,
});

test('ladder: plain servers try both passive sides, then relay', () => {
  const { rungs } = buildLadder(fakeConn('a'), fakeConn('b'), policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  assert.deepEqual(rungs.map((r) => r.layout?.passive), ['source', 'destination', undefined]);
  const d = buildLadder(fakeConn('a'), fakeConn('b'), policy({ passive: 'destination' }));
  assert.deepEqual(d.rungs.map((r) => r.layout?.passive), ['destination', 'source', undefined]);
});

test('ladder: a default passive side avoids making pyftpdlib the active side; an explicit one is kept', () => {
  const py = fakeConn('py', { kind: 'pyftpdlib' });
  const vs = fakeConn('vs', { kind: 'vsftpd' });
  // vsftpd -> pyftpdlib: by default the source would be passive and pyftpdlib active.
  assert.deepEqual(buildLadder(vs, py, policy()).rungs.map((r) => r.mode), ['fxp-reversed', 'fxp', 'relay']);
  assert.deepEqual(buildLadder(vs, py, policy({ passiveExplicit: true })).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  // pyftpdlib as source is passive by default already; two pyftpdlibs: nothing to gain, keep the default.
  assert.deepEqual(buildLadder(py, vs, policy()).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  assert.deepEqual(buildLadder(py, fakeConn('py2', { kind: 'pyftpdlib' }), policy()).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
});

test('ladder: force never relays, never only relays', () => {
  assert.deepEqual(buildLadder(fakeConn('a'), fakeConn('b'), policy({ fxp: 'force' })).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed']);
  assert.deepEqual(buildLadder(fakeConn('a'), fakeConn('b'), policy({ fxp: 'never' })).rungs.map((r) => r.mode), ['relay']);
});

test('ladder under TLS: SSCN on whichever side has it, CPSV on a passive side that has it, clear data only when allowed', () => {
  const src = fakeConn('proftpd', { tls: true, sscn: true });
  const dst = fakeConn('vsftpd', { tls: true });
  const { rungs } = buildLadder(src, dst, policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['fxp-tls-sscn', 'fxp-tls-sscn-reversed', 'relay']);
  assert.deepEqual(rungs.slice(0, 2).map((r) => r.layout?.tls), ['sscn-source', 'sscn-source']);
  const withClear = buildLadder(src, dst, policy({ allowClearData: true }));
  assert.deepEqual(withClear.rungs.map((r) => r.mode), ['fxp-tls-sscn', 'fxp-tls-sscn-reversed', 'fxp-clear', 'fxp-clear-reversed', 'relay']);
  const cpsv = buildLadder(fakeConn('a', { tls: true }), fakeConn('b', { tls: true, cpsv: true }), policy());
  assert.deepEqual(cpsv.rungs.map((r) => r.mode), ['fxp-tls-cpsv-reversed', 'relay']);
});

test('ladder: two TLS servers without SSCN or CPSV never attempt a layout that deadlocks', () => {
  const { rungs, notes } = buildLadder(fakeConn('vsftpd', { tls: true }), fakeConn('pyftpdlib', { tls: true }), policy({ fxp: 'force' }));
  assert.deepEqual(rungs, []);
  assert.match(notes.join(' '), /neither vsftpd nor pyftpdlib offers SSCN or CPSV/);
});

test('ladder: TLS on one side only needs clear data', () => {
  const { rungs, notes } = buildLadder(fakeConn('a', { tls: true }), fakeConn('b'), policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['relay']);
  assert.match(notes.join(' '), /--allow-clear-data/);
});

test('ladder cache: built once per pair of connections, again when an input changed', () => {
  const fxp = new FxpState();
  const cache = new LadderCache(policy(), fxp);
  const a = fakeConn('a', { tls: true, sscn: true });
  const b = fakeConn('b', { tls: true, sscn: true });
  const first = cache.ladder(a, b);
  assert.equal(cache.ladder(a, b), first, 'same pair, same inputs: the same ladder');
  assert.deepEqual(first.rungs.map((r) => r.layout?.tls), ['sscn-source', 'sscn-destination', 'sscn-source', 'sscn-destination', undefined]);
  // SSCN refused by the source (learned meanwhile): that rung is left out from now on.
  fxp.learnSscn(a, false);
  const learned = cache.ladder(a, b);
  assert.notEqual(learned, first);
  assert.deepEqual(learned.rungs.map((r) => r.layout?.tls), ['sscn-destination', 'sscn-destination', undefined]);
  assert.deepEqual(learned, buildLadder(a, b, policy(), fxp));
  // Another destination connection, a server identified, new features: rebuilt, as buildLadder gives it.
  const c = fakeConn('c');
  assert.deepEqual(cache.ladder(a, c), buildLadder(a, c, policy(), fxp));
  const p = fakeConn('p');
  const q = fakeConn('q');
  assert.deepEqual(cache.ladder(p, q).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  (q.state as { kind?: string }).kind = 'pyftpdlib';
  assert.deepEqual(cache.ladder(p, q).rungs.map((r) => r.mode), ['fxp-reversed', 'fxp', 'relay']);
  const t = fakeConn('t', { tls: true });
  const u = fakeConn('u', { tls: true });
  assert.deepEqual(cache.ladder(t, u).rungs.map((r) => r.mode), ['relay']);
  (u as { features: FtpConnection['features'] }).features = { ...u.features, cpsv: true };
  assert.deepEqual(cache.ladder(t, u), buildLadder(t, u, policy(), fxp));
  assert.ok(cache.ladder(t, u).rungs.length > 1, 'CPSV on the destination makes a rung');
});
