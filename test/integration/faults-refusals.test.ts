/**
 * Refusals in other words, end to end, on real servers that refuse foreign
 * data connections (ftp-srv from npm, GNU inetutils ftpd): for each pair,
 * `probe` says what `copy` and `mirror` then do.
 * - Where every FXP mode is refused (ftp-srv <-> proftpd, inetutils-ftpd <->
 *   a strict vsftpd), probe says "fxpmirror will relay"; `copy --fxp force`
 *   exits 4 (FXP refused) in both directions with one line naming the
 *   refusal; `mirror --fxp auto` relays every file, each logged as a warning.
 * - Where one layout works (inetutils-ftpd <-> proftpd: inetutils refuses
 *   PORT to a foreign address but accepts a foreign passive connection),
 *   probe says "FXP works" and names the layouts; `copy --fxp force`
 *   succeeds in both directions in those layouts and `mirror` relays nothing.
 *
 * Addresses 127.0.16.21 .. 127.0.16.29 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { stopAll, type LabKind, type LabServer, type StartOptions } from '../lab/lab.js';
import { hashTree, lines, oneErrorLine, requireServers, runCli, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { KiB, assertNoStackTrace, assertNothingPartial, assertRerunClean, partsUnder, pattern, show, summaryOf } from './faults-setup.js';

const UNAVAILABLE = requireServers(['ftp-srv', 'inetutils-ftpd', 'proftpd', 'vsftpd']);

type Role = 'ftpSrv' | 'inet' | 'proftpd' | 'vsftpdStrict';
const PLAN: Record<Role, [LabKind, StartOptions]> = {
  ftpSrv: ['ftp-srv', { address: '127.0.16.26', port: 5626 }],
  inet: ['inetutils-ftpd', { address: '127.0.16.25', port: 5625 }],
  proftpd: ['proftpd', { address: '127.0.16.22', port: 5622 }],
  vsftpdStrict: ['vsftpd', { address: '127.0.16.21', port: 5621, profile: 'strict' }],
};

const FILES = 3;
const T0 = new Date('2022-08-08T08:08:08Z');

describe('servers that refuse foreign data connections in words of their own: probe, copy and mirror agree', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;
  before(async () => {
    S = await startPlan(PLAN);
    for (const role of Object.keys(PLAN) as Role[]) {
      for (let i = 0; i < FILES; i++) writeLabFile(path.join(S[role].root, `from-${role}`, `f${i}.bin`), pattern(8 * KiB + i, 7 * i + role.length), T0);
    }
  });
  after(async () => {
    await stopAll();
  });

  /** probe A B: its last line, what copy and mirror will do ("FXP works: A->B fxp, …" names the layouts). */
  async function probe(a: LabServer, b: LabServer): Promise<{ verdict: string; worked: string[] }> {
    const r = await runCli(['probe', a.url, b.url], { timeoutMs: 120_000 });
    assert.equal(r.code, EXIT.OK, show(r));
    const verdict = lines(r.stdout).at(-1) ?? '';
    return { verdict, worked: verdict.startsWith('FXP works: ') ? verdict.slice('FXP works: '.length).split(', ') : [] };
  }

  const refusing: { a: Role; b: Role; says: RegExp }[] = [
    { a: 'ftpSrv', b: 'proftpd', says: /550 Remote addresses do not match|500 The given address is not yours/ },
    { a: 'inet', b: 'vsftpdStrict', says: /500 Illegal PORT Command|500 Illegal EPRT Command|425 Security: Bad IP connecting\.|500 Illegal PORT command\./ },
  ];
  for (const { a, b, says } of refusing) {
    test(`${PLAN[a][0]} <-> ${PLAN[b][0]}${b.endsWith('Strict') ? ' (strict)' : ''}: probe says relay; copy --fxp force exits 4 both ways; mirror --fxp auto relays, a warning per file`, async () => {
      const A = S[a];
      const B = S[b];
      const p = await probe(A, B);
      assert.deepEqual(p.worked, []);
      assert.equal(p.verdict, 'No FXP mode works between these servers: fxpmirror will relay (unless --fxp force).');

      for (const [from, to, fromRole] of [[A, B, a], [B, A, b]] as const) {
        const r = await runCli(['copy', urlOf(from, `from-${fromRole}/f0.bin`), urlOf(to, `forced-${fromRole}.bin`), '--fxp', 'force'], { timeoutMs: 120_000 });
        assert.equal(r.code, EXIT.FXP_REFUSED, show(r));
        assert.match(oneErrorLine(r), says);
        assertNoStackTrace(r);
        assert.deepEqual(partsUnder(to.root), [], 'no part file');
        assert.equal(hashTree(to.root).has(`forced-${fromRole}.bin`), false, 'nothing under the final name');
      }

      const dir = `from-${a}`;
      const r = await runCli(['mirror', urlOf(A, dir), urlOf(B, dir), '--json', '--fxp', 'auto'], { timeoutMs: 120_000 });
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.deepEqual(s.failures, []);
      assert.deepEqual(s.modes, { relay: FILES });
      const relayed = lines(r.stderr).filter((l) => / warn +warning f\d\.bin: relayed through the client \(\d+ bytes\): FXP (modes )?refused/.test(l));
      assert.equal(relayed.length, FILES, r.stderr);
      assertNothingPartial(path.join(A.root, dir), path.join(B.root, dir));
      await assertRerunClean(A, B, dir, ['--fxp', 'auto']);
    });
  }

  test('inetutils-ftpd <-> proftpd: probe says FXP works in the layouts where inetutils is passive; copy --fxp force succeeds both ways in them, mirror relays nothing', async () => {
    const A = S.inet;
    const B = S.proftpd;
    const p = await probe(A, B);
    assert.deepEqual(p.worked.sort(), ['A->B fxp', 'A->B fxp-epsv', 'B->A fxp-epsv-reversed', 'B->A fxp-reversed']);
    assert.match(p.verdict, /^FXP works: /);
    for (const [from, to, fromRole, modes] of [
      [A, B, 'inet', /^fxp(-epsv)?$/],
      [B, A, 'proftpd', /^fxp(-epsv)?-reversed$/],
    ] as const) {
      const r = await runCli(['copy', urlOf(from, `from-${fromRole}/f0.bin`), urlOf(to, `forced-${fromRole}.bin`), '--fxp', 'force', '--json'], { timeoutMs: 120_000 });
      assert.equal(r.code, EXIT.OK, show(r));
      assert.match((JSON.parse(r.stdout) as { mode: string }).mode, modes);
      assert.equal(hashTree(to.root).get(`forced-${fromRole}.bin`), hashTree(from.root).get(`from-${fromRole}/f0.bin`));
    }
    const r = await runCli(['mirror', urlOf(A, 'from-inet'), urlOf(B, 'from-inet'), '--json', '--fxp', 'auto'], { timeoutMs: 120_000 });
    assert.equal(r.code, EXIT.OK, show(r));
    const s = summaryOf(r);
    assert.equal(s.modes.relay, undefined, JSON.stringify(s.modes));
    assert.equal(Object.values(s.modes).reduce((x, y) => x + (y ?? 0), 0), FILES);
    assert.doesNotMatch(r.stderr, /relay/);
    assertNothingPartial(path.join(A.root, 'from-inet'), path.join(B.root, 'from-inet'));
  });
});
