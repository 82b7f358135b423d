/**
 * A passive destination in a mirror gets STOR in its PASV's own write
 * (fxp/stor-with-pasv.ts), against the real lab servers: a mirror from an
 * active proftpd source to pyftpdlib, pure-ftpd and proftpd as passive
 * destinations. On the destination's wire (-v): every STOR goes in the
 * same write as its PASV, the previous file's SIZE+MFMT ride along, and
 * no RNFR is sent while a STOR waits for its 226. On disk: every file with
 * the source's sha256 and mtime, no part file, and a re-run transfers
 * nothing. Also a data connection reset (ss -K) while the previous file's
 * rename is queued, to pyftpdlib: every file arrives whole. Throughout, no
 * file under its final name ever has a size other than the source's.
 *
 * Addresses 127.0.18.1 .. 127.0.18.5 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { stopAll, type LabServer } from '../lab/lab.js';
import { hashTree, requireServers, startPlan, urlOf } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { MiB, partsUnder, runTimed, show, summaryOf } from './faults-setup.js';
import { groups, linesOf, mirrorResetMidway, mtimesOf, rnfrDuringStor, seed, watchFinalNames } from './wire-setup.js';

const UNAVAILABLE = requireServers(['proftpd', 'pyftpdlib', 'pure-ftpd']);
const RATE = 2 * MiB;
const MTIME = new Date('2021-04-05T06:07:08Z');

type Role = 'src' | 'slowSrc' | 'pyftpdlib' | 'pure-ftpd' | 'proftpd';

describe('STOR in the passive destination\'s PASV write, against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;

  before(async () => {
    S = await startPlan({
      src: ['proftpd', { address: '127.0.18.1', port: 4911 }],
      slowSrc: ['proftpd', { address: '127.0.18.2', port: 4912, rateLimit: RATE }],
      pyftpdlib: ['pyftpdlib', { address: '127.0.18.3', port: 4913 }],
      'pure-ftpd': ['pure-ftpd', { address: '127.0.18.4', port: 4914 }],
      proftpd: ['proftpd', { address: '127.0.18.5', port: 4915 }],
    });
  });
  after(() => stopAll());

  for (const to of ['pyftpdlib', 'pure-ftpd', 'proftpd'] as const) {
    test(`proftpd -> ${to} (passive): PASV+STOR in one write with the previous SIZE+MFMT, no RNFR during a STOR; sha256 and mtimes match; a re-run transfers nothing`, async () => {
      const src = S.src;
      const dst = S[to];
      const top = `storpasv-${to}`;
      const sizes = seed(src, top, 3, 12, MTIME);
      const watch = watchFinalNames(path.join(dst.root, top), sizes);
      const run = runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '-v', '-P', '1', '--passive', 'destination']);
      const r = await run.done;
      assert.deepEqual(watch.stop(), [], 'no final name with a wrong size');
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.equal(s.files.transferred, sizes.size);
      assert.deepEqual(s.modes, { 'fxp-reversed': sizes.size });
      const sent = linesOf(run.lines, dst);
      const stors = groups(sent).filter((g) => g.some((c) => c.startsWith('STOR ')));
      assert.equal(stors.length, sizes.size, sent.join('\n'));
      // Every STOR but the first (the first transfer learns that this server answers PASV) right behind its own PASV, in one write.
      for (const g of stors.slice(1)) assert.equal(g[g.findIndex((c) => c.startsWith('STOR ')) - 1], 'PASV', g.join(' | '));
      // The previous file's size check rode along: all but the first (its mtime method is learned then); allow one per directory.
      const riding = stors.filter((g) => g.some((c) => c.startsWith('SIZE ')) && g.some((c) => c.startsWith('MFMT ')));
      assert.ok(riding.length >= sizes.size - 1 - 3, `${riding.length} of ${sizes.size} size checks rode with the next PASV+STOR:\n${sent.join('\n')}`);
      assert.deepEqual(rnfrDuringStor(sent), [], sent.join('\n'));
      assert.deepEqual(partsUnder(path.join(dst.root, top)), []);
      assert.deepEqual(hashTree(path.join(dst.root, top)), hashTree(path.join(src.root, top)));
      assert.deepEqual(new Set(mtimesOf(path.join(dst.root, top))), new Set([MTIME.getTime()]), 'every mtime preserved');

      const again = await runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '--passive', 'destination']).done;
      assert.equal(again.code, EXIT.OK, show(again));
      assert.equal(summaryOf(again).files.transferred, 0);
    });
  }

  test('proftpd -> pyftpdlib: a data connection reset while the previous file\'s rename is queued: that file is published once, the reset one again; all whole', async () => {
    const src = S.slowSrc;
    const dst = S.pyftpdlib;
    const top = 'storpasv-reset';
    const { s, sent } = await mirrorResetMidway(src, dst, top, MTIME);
    assert.deepEqual(s.modes, { 'fxp-reversed': 4 });
    assert.ok(
      groups(sent).some((g) => g.join(' | ').includes(`SIZE /${top}/.big1.bin.fxpmirror-part`) && g.join(' | ').endsWith(`PASV | STOR /${top}/.big2.bin.fxpmirror-part`)),
      sent.join('\n'),
    );
  });
});
