/**
 * "PASV behind RETR" against the real lab servers (fxp/transfer.ts,
 * ftp/software.ts holdsCommandsDuringRetr): a mirror from a passive vsftpd
 * source writes the next file's PASV in RETR's own write, and vsftpd answers
 * it after the 226; proftpd and pure-ftpd sources (which answer a command
 * that arrives mid-transfer at once: 450 and 500) get none. The sources are
 * throttled, so each big file's transfer lasts about a second while the
 * PASV waits behind it. Also a data connection reset mid-transfer with the
 * PASV queued behind RETR: the file is sent again, in the same mode, and
 * every file on the destination has the source's sha256, with no part file.
 *
 * Addresses 127.0.8.1 .. 127.0.8.5 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { resetConnections, stopAll, waitForSize, type LabServer } from '../lab/lab.js';
import { hashTree, requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { KiB, MiB, assertOneFxpMode, partsUnder, pattern, runTimed, show, summaryOf, type TimedLine } from './faults-setup.js';

const UNAVAILABLE = requireServers(['vsftpd', 'proftpd', 'pure-ftpd']);
const RATE = 2 * MiB;
const BIG = 2 * MiB + 123;
const MTIME = new Date('2022-06-06T06:06:06Z');

type Role = 'vsftpd' | 'proftpd' | 'pure' | 'toProftpd' | 'toVsftpd';
const S_KIND: Record<Role, string> = { vsftpd: 'vsftpd', proftpd: 'proftpd', pure: 'pure-ftpd', toProftpd: 'proftpd', toVsftpd: 'vsftpd' };

/** `dir` on `src`: two big files (about a second each at RATE) and four small ones. */
function seed(src: LabServer, dir: string): number {
  for (let i = 0; i < 2; i++) writeLabFile(path.join(src.root, dir, `big${i}.bin`), pattern(BIG + i, 11 * i + 3), MTIME);
  for (let i = 0; i < 4; i++) writeLabFile(path.join(src.root, dir, `small${i}.bin`), pattern(10 * KiB + i, 5 * i + 1), MTIME);
  return 6;
}

/** The -v lines a server was sent, in order ("> RETR /x", "> PASV", ...), and what it answered. */
function linesOf(lines: TimedLine[], server: LabServer): string[] {
  const prefix = `${server.host}:${server.port} `;
  return lines.filter((l) => l.line.startsWith(prefix)).map((l) => l.line.slice(prefix.length).trim());
}

/** RETRs directly followed by a PASV written with them (before any reply from that server). */
function pasvBehindRetr(sent: string[]): string[] {
  return sent.flatMap((l, i) => (/^> RETR /.test(l) && sent[i + 1] === '> PASV' ? [l.slice(2)] : []));
}

describe('PASV behind RETR against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;

  before(async () => {
    S = await startPlan({
      vsftpd: ['vsftpd', { address: '127.0.8.1', port: 4801, rateLimit: RATE }],
      proftpd: ['proftpd', { address: '127.0.8.2', port: 4802, rateLimit: RATE }],
      pure: ['pure-ftpd', { address: '127.0.8.3', port: 4803, rateLimit: RATE }],
      toProftpd: ['proftpd', { address: '127.0.8.4', port: 4804 }],
      toVsftpd: ['vsftpd', { address: '127.0.8.5', port: 4805 }],
    });
  });
  after(() => stopAll());

  // The destination is the active side in each (the default layout: source passive).
  for (const [from, to, behind] of [
    ['vsftpd', 'toProftpd', true],
    ['proftpd', 'toVsftpd', false],
    ['pure', 'toProftpd', false],
  ] as [Role, Role, boolean][]) {
    test(`${S_KIND[from]} source -> ${S_KIND[to]}: ${behind ? 'the next PASV rides behind each RETR' : 'no PASV behind RETR'}; every file arrives whole`, async () => {
      const src = S[from];
      const dst = S[to];
      const dir = `behind-${from}`;
      const n = seed(src, dir);
      const run = runTimed(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', '-v', '-P', '1']);
      const r = await run.done;
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.equal(s.files.transferred, n);
      assert.deepEqual(s.modes, { fxp: n }, 'source passive throughout');
      const sent = linesOf(run.lines, src);
      const riders = pasvBehindRetr(sent);
      if (behind) {
        // Every file but the last; each 227 read after its RETR's 226.
        assert.ok(riders.length >= n - 1, `PASV behind ${riders.length} of ${n} RETRs:\n${sent.join('\n')}`);
        for (const retr of riders) {
          const at = sent.indexOf(`> ${retr}`);
          const after = sent.slice(at + 2).filter((l) => l.startsWith('< '));
          assert.match(after[0] ?? '', /^< 150 /, `${retr}: ${after.join(' | ')}`);
          assert.match(after[1] ?? '', /^< 226 /, `${retr}: ${after.join(' | ')}`);
          assert.match(after[2] ?? '', /^< 227 /, `${retr}: ${after.join(' | ')}`);
        }
      } else {
        assert.deepEqual(riders, [], sent.join('\n'));
      }
      assert.deepEqual(partsUnder(path.join(dst.root, dir)), []);
      assert.deepEqual(hashTree(path.join(dst.root, dir)), hashTree(path.join(src.root, dir)));
    });
  }

  test('vsftpd -> proftpd: the data connection reset mid-transfer with the PASV queued behind RETR: retried in the same mode, every file whole, no part file', async () => {
    const src = S.vsftpd;
    const dst = S.toProftpd;
    const dir = 'behind-reset';
    const n = seed(src, dir);
    const run = runTimed(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', '-v', '-P', '1', '--timeout', '10']);
    // Half a second into the first big file: its RETR and the PASV behind it are out.
    await waitForSize(path.join(dst.root, dir), MiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 });
    const killed = await resetConnections(src, dst, { waitMs: 2000 });
    const r = await run.done;
    assert.ok(killed >= 1, 'a data connection between the servers was reset');
    assert.equal(r.code, EXIT.OK, show(r));
    const s = summaryOf(r);
    assert.deepEqual(s.failures, []);
    assert.equal(s.files.transferred, n);
    assertOneFxpMode(s, n);
    const sent = linesOf(run.lines, src);
    // The failed RETR had the PASV behind it, and its failure (vsftpd: "426 Failure writing network stream.") came before that 227.
    const failed = sent.findIndex((l) => /^< 426 /.test(l));
    assert.ok(failed > 0, `no 426 from the source:\n${sent.join('\n')}`);
    const retr = sent.slice(0, failed).map((l) => l.startsWith('> RETR ')).lastIndexOf(true);
    assert.equal(sent[retr + 1], '> PASV', sent.slice(retr, failed + 2).join('\n'));
    const name = sent[retr].slice('> RETR '.length);
    assert.ok(
      sent.slice(failed + 1).some((l) => l === `> RETR ${name}`),
      `${name} was not sent again:\n${sent.join('\n')}`,
    );
    assert.deepEqual(partsUnder(path.join(dst.root, dir)), []);
    assert.deepEqual(hashTree(path.join(dst.root, dir)), hashTree(path.join(src.root, dir)));
  });
});
