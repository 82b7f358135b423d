/**
 * A passive destination's next PASV+STOR goes on its own 226, the source's
 * verdict awaited separately (fxp/finish.ts, Ends.early; stor-with-pasv.ts,
 * sourceFinishing), against the real lab servers: mirrors from an active
 * proftpd source to pyftpdlib and pure-ftpd. On the source's wire (-v,
 * -P 1): no PORT goes out before the final reply to the RETR before it, and
 * proftpd never answers 450 (a command during a transfer). On disk: every
 * file with the source's sha256 and mtime, no part file, no final name ever
 * with a wrong size, and a re-run transfers nothing. Also the data
 * connection between the servers reset (ss -K) mid-transfer from a
 * throttled source: every file arrives whole, the cut one is sent again.
 *
 * Addresses 127.0.19.1 .. 127.0.19.4 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll, type LabServer } from '../lab/lab.js';
import { requireServers, startPlan } from '../lab/helpers.js';
import { MiB } from './faults-setup.js';
import { checkedMirror, linesOf, mirrorResetMidway } from './wire-setup.js';

const UNAVAILABLE = requireServers(['proftpd', 'pyftpdlib', 'pure-ftpd']);
const RATE = 2 * MiB;
const MTIME = new Date('2022-05-06T07:08:09Z');

type Role = 'src' | 'slowSrc' | 'pyftpdlib' | 'pure-ftpd';

/** PORTs sent to the source while the RETR before still waited for its final reply (-P 1: one transfer connection). */
function portBeforeFinal(sent: string[]): string[] {
  const bad: string[] = [];
  const waiting: string[] = [];
  for (const l of sent) {
    if (l.startsWith('> ')) {
      const c = l.slice(2);
      if (c.startsWith('PORT ') && waiting.some((w) => w.startsWith('RETR '))) bad.push(`${c} while ${waiting.join(', ')} waited`);
      waiting.push(c);
    } else if (/^< [2-5]\d\d /.test(l)) waiting.shift();
  }
  return bad;
}

describe("a passive destination's next transfer on its own 226, against the lab servers", { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;

  before(async () => {
    S = await startPlan({
      src: ['proftpd', { address: '127.0.19.1', port: 4921 }],
      slowSrc: ['proftpd', { address: '127.0.19.2', port: 4922, rateLimit: RATE }],
      pyftpdlib: ['pyftpdlib', { address: '127.0.19.3', port: 4923 }],
      'pure-ftpd': ['pure-ftpd', { address: '127.0.19.4', port: 4924 }],
    });
  });
  after(() => stopAll());

  for (const to of ['pyftpdlib', 'pure-ftpd'] as const) {
    test(`proftpd -> ${to} (passive): no PORT before the source's 226, no 450; sha256 and mtimes match, no part file; a re-run transfers nothing`, async () => {
      const src = S.src;
      const { lines, sizes } = await checkedMirror(src, S[to], `early-${to}`, { mtime: MTIME, mode: 'fxp-reversed', args: ['--passive', 'destination'] });
      const toSrc = linesOf(lines, src);
      assert.equal(toSrc.filter((l) => l.startsWith('> RETR ')).length, sizes.size, 'each file retrieved once');
      assert.deepEqual(portBeforeFinal(toSrc), [], toSrc.join('\n'));
      assert.deepEqual(toSrc.filter((l) => l.startsWith('< 450')), [], 'proftpd never saw a command during a transfer');
    });

    test(`throttled proftpd -> ${to}: the data connection reset mid-transfer (ss -K): the cut file is sent again, every file whole, none renamed short`, async () => {
      const { s, sent } = await mirrorResetMidway(S.slowSrc, S[to], `early-reset-${to}`, MTIME);
      assert.deepEqual(s.modes, { 'fxp-reversed': 4 });
      assert.ok(sent.some((l) => l.startsWith('> STOR ')), sent.join('\n'));
    });
  }
});
