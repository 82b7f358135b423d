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
import { stopAll, type LabServer } from '../lab/lab.js';
import { requireServers, startPlan } from '../lab/helpers.js';
import { MiB } from './faults-setup.js';
import { checkedMirror, groups, linesOf, mirrorResetMidway, rnfrDuringStor } from './wire-setup.js';

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
      const dst = S[to];
      const { lines, sizes } = await checkedMirror(S.src, dst, `storpasv-${to}`, { mtime: MTIME, mode: 'fxp-reversed', args: ['--passive', 'destination'] });
      const sent = linesOf(lines, dst);
      const stors = groups(sent).filter((g) => g.some((c) => c.startsWith('STOR ')));
      assert.equal(stors.length, sizes.size, sent.join('\n'));
      // Every STOR but the first (the first transfer learns that this server answers PASV) right behind its own PASV, in one write.
      for (const g of stors.slice(1)) assert.equal(g[g.findIndex((c) => c.startsWith('STOR ')) - 1], 'PASV', g.join(' | '));
      // The previous file's size check rode along (the first's too: its MFMT a guess); allow one per directory.
      const riding = stors.filter((g) => g.some((c) => c.startsWith('SIZE ')) && g.some((c) => c.startsWith('MFMT ')));
      assert.ok(riding.length >= sizes.size - 1 - 3, `${riding.length} of ${sizes.size} size checks rode with the next PASV+STOR:\n${sent.join('\n')}`);
      assert.deepEqual(rnfrDuringStor(sent), [], sent.join('\n'));
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
