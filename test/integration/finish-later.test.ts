/**
 * File n's size check and mtime riding with file n+1's transfer, its rename
 * one transfer later (fxp/finish-later.ts), against the real lab servers: a
 * mirror from a passive vsftpd source (the next PASV behind RETR) to
 * proftpd and to vsftpd. On the destination's wire (-v): SIZE+MFMT of one
 * file and PORT+STOR of the next go out together, and no RNFR is sent while
 * a STOR waits for its 226. On disk: every file with the source's sha256
 * and mtime, no part file, and a re-run transfers nothing. Also a data
 * connection reset (ss -K) while the previous file's rename is queued:
 * every file arrives whole. Throughout, the destination directory is
 * polled: no file under its final name ever has a size other than the
 * source's.
 *
 * Addresses 127.0.17.1 .. 127.0.17.4 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { stopAll, type LabServer } from '../lab/lab.js';
import { hashTree, requireServers, startPlan, urlOf } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import { MiB, assertOneFxpMode, partsUnder, runTimed, show, summaryOf } from './faults-setup.js';
import { groups, linesOf, mirrorResetMidway, mtimesOf, rnfrDuringStor, seed, watchFinalNames } from './wire-setup.js';

const UNAVAILABLE = requireServers(['vsftpd', 'proftpd']);
const RATE = 2 * MiB;
const MTIME = new Date('2021-04-05T06:07:08Z');

type Role = 'src' | 'slowSrc' | 'proftpd' | 'vsftpd';

/** [checked, stored]: a SIZE written together with PORT and the STOR of another file. */
function ridingChecks(sent: string[]): [string, string][] {
  return groups(sent).flatMap((g) => {
    const size = g.find((c) => c.startsWith('SIZE '));
    const stor = g.find((c) => c.startsWith('STOR '));
    return size && stor && g.includes('PORT') ? [[size.slice('SIZE '.length), stor.slice('STOR '.length)] as [string, string]] : [];
  });
}

describe('size check and rename one transfer later, against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;

  before(async () => {
    S = await startPlan({
      src: ['vsftpd', { address: '127.0.17.1', port: 4901 }],
      slowSrc: ['vsftpd', { address: '127.0.17.2', port: 4902, rateLimit: RATE }],
      proftpd: ['proftpd', { address: '127.0.17.3', port: 4903 }],
      vsftpd: ['vsftpd', { address: '127.0.17.4', port: 4904 }],
    });
  });
  after(() => stopAll());

  for (const to of ['proftpd', 'vsftpd'] as const) {
    test(`vsftpd -> ${to}: SIZE+MFMT of a file share a write with the next PORT+STOR, no RNFR during a STOR; sha256 and mtimes match; a re-run transfers nothing`, async () => {
      const src = S.src;
      const dst = S[to];
      const top = `later-${to}`;
      const sizes = seed(src, top, 3, 12, MTIME);
      const watch = watchFinalNames(path.join(dst.root, top), sizes);
      const run = runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '-v', '-P', '1']);
      const r = await run.done;
      assert.deepEqual(watch.stop(), [], 'no final name with a wrong size');
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.equal(s.files.transferred, sizes.size);
      assert.deepEqual(s.modes, { fxp: sizes.size });
      const sent = linesOf(run.lines, dst);
      const riding = ridingChecks(sent);
      // Every file but the last rides (the first too, its MFMT a guess); allow one per directory boundary, and one spare.
      assert.ok(riding.length >= sizes.size - 2 - 3, `${riding.length} of ${sizes.size} size checks rode with the next transfer:\n${sent.join('\n')}`);
      for (const [checked, stored] of riding) {
        assert.notEqual(checked, stored);
        assert.ok(isPartName(path.basename(checked)), checked);
      }
      assert.deepEqual(rnfrDuringStor(sent), [], sent.join('\n'));
      assert.deepEqual(partsUnder(path.join(dst.root, top)), []);
      assert.deepEqual(hashTree(path.join(dst.root, top)), hashTree(path.join(src.root, top)));
      assert.deepEqual(new Set(mtimesOf(path.join(dst.root, top))), new Set([MTIME.getTime()]), 'every mtime preserved');

      const again = await runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json']).done;
      assert.equal(again.code, EXIT.OK, show(again));
      assert.equal(summaryOf(again).files.transferred, 0);
    });
  }

  test('vsftpd -> proftpd: a data connection reset while the previous file\'s rename is queued: that file is published once, the reset one again; all whole', async () => {
    const src = S.slowSrc;
    const dst = S.proftpd;
    const top = 'later-reset';
    const { s, sent } = await mirrorResetMidway(src, dst, top, MTIME);
    assertOneFxpMode(s, 4);
    assert.ok(ridingChecks(sent).some(([checked, stored]) => checked === `/${top}/.big1.bin.fxpmirror-part` && stored === `/${top}/.big2.bin.fxpmirror-part`), sent.join('\n'));
    // proftpd answers the reset transfer with a 4xx, and big1's rename went out after it
    const reset = sent.findIndex((l) => /^< 4\d\d /.test(l));
    assert.ok(reset > 0 && sent.indexOf(`> RNTO /${top}/big1.bin`) > reset, sent.join('\n'));
  });
});
