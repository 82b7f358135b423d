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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resetConnections, stopAll, waitForSize, type LabServer } from '../lab/lab.js';
import { hashTree, requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import { KiB, MiB, assertOneFxpMode, partsUnder, pattern, runTimed, show, summaryOf, type TimedLine } from './faults-setup.js';

const UNAVAILABLE = requireServers(['vsftpd', 'proftpd']);
const RATE = 2 * MiB;
const MTIME = new Date('2021-04-05T06:07:08Z');

type Role = 'src' | 'slowSrc' | 'proftpd' | 'vsftpd';

/** `dirs` directories of `per` small files each on `src`; their sizes by relative path. */
function seed(src: LabServer, top: string, dirs: number, per: number): Map<string, number> {
  const sizes = new Map<string, number>();
  for (let d = 0; d < dirs; d++) {
    for (let i = 0; i < per; i++) {
      const rel = path.join(`d${d}`, `f${i}.bin`);
      const data = pattern(3 * KiB + 97 * i + d, 7 * i + d);
      writeLabFile(path.join(src.root, top, rel), data, MTIME);
      sizes.set(rel, data.length);
    }
  }
  return sizes;
}

/**
 * Polls `root` every few ms until stopped: every file under a final name
 * whose size differs from `sizes` (a size seen mid-write would show here).
 */
function watchFinalNames(root: string, sizes: Map<string, number>): { stop(): string[] } {
  const bad: string[] = [];
  const timer = setInterval(() => {
    for (const [rel, size] of sizes) {
      try {
        const got = fs.statSync(path.join(root, rel)).size;
        if (got !== size) bad.push(`${rel}: ${got} of ${size}`);
      } catch {
        /* not there yet */
      }
    }
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return bad;
    },
  };
}

/** The -v lines between the client and `server`, in order ("> SIZE /x", "< 213 ..."). */
function linesOf(lines: TimedLine[], server: LabServer): string[] {
  const prefix = `${server.host}:${server.port} `;
  return lines.filter((l) => l.line.startsWith(prefix)).map((l) => l.line.slice(prefix.length).trim());
}

/** Sent groups: commands written with no reply read between them. */
function groups(sent: string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  for (const l of sent) {
    if (l.startsWith('> ')) cur.push(l.slice(2).replace(/^PORT .*/, 'PORT'));
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

/** [checked, stored]: a SIZE written together with PORT and the STOR of another file. */
function ridingChecks(sent: string[]): [string, string][] {
  return groups(sent).flatMap((g) => {
    const size = g.find((c) => c.startsWith('SIZE '));
    const stor = g.find((c) => c.startsWith('STOR '));
    return size && stor && g.includes('PORT') ? [[size.slice('SIZE '.length), stor.slice('STOR '.length)] as [string, string]] : [];
  });
}

/**
 * RNFRs sent while a STOR on the same connection still waited for its
 * final reply (-P 1: one transfer connection). Replies pair with commands
 * in order (RFC 959 §4.2); a 1xx mark is not a final reply.
 */
function rnfrDuringStor(sent: string[]): string[] {
  const bad: string[] = [];
  const waiting: string[] = [];
  for (const l of sent) {
    if (l.startsWith('> ')) {
      const c = l.slice(2);
      if (c.startsWith('RNFR ') && waiting.some((w) => w.startsWith('STOR '))) bad.push(c);
      waiting.push(c);
    } else if (/^< [2-5]\d\d /.test(l)) waiting.shift();
  }
  return bad;
}

function mtimesOf(root: string): number[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(root, p)).isFile()).map((p) => fs.statSync(path.join(root, p)).mtime.getTime());
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
      const sizes = seed(src, top, 3, 12);
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
      // Every file but the first (its mtime method is learned then) and the last rides; allow one per directory boundary.
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
    const sizes = new Map<string, number>();
    // a0 first: it teaches the destination's mtime method, so big1 on ride with the next transfer.
    const names = ['a0.bin', 'big1.bin', 'big2.bin', 'big3.bin'];
    names.forEach((name, i) => {
      const data = pattern(i === 0 ? 10 * KiB : MiB + 777 * i, 13 * i + 5);
      writeLabFile(path.join(src.root, top, name), data, MTIME);
      sizes.set(name, data.length);
    });
    const watch = watchFinalNames(path.join(dst.root, top), sizes);
    const run = runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '-v', '-P', '1', '--timeout', '10']);
    // big2 half-way: big1's size check went out with big2's STOR, its rename waits for big2's end.
    await waitForSize(path.join(dst.root, top, '.big2.bin.fxpmirror-part'), MiB / 2, { timeoutMs: 30_000 });
    const killed = await resetConnections(src, dst, { waitMs: 2000 });
    const r = await run.done;
    assert.deepEqual(watch.stop(), [], 'no final name with a wrong size');
    assert.ok(killed >= 1, 'a data connection between the servers was reset');
    assert.equal(r.code, EXIT.OK, show(r));
    const s = summaryOf(r);
    assert.deepEqual(s.failures, []);
    assert.equal(s.files.transferred, sizes.size);
    assertOneFxpMode(s, sizes.size);
    const sent = linesOf(run.lines, dst);
    assert.ok(ridingChecks(sent).some(([checked, stored]) => checked === `/${top}/.big1.bin.fxpmirror-part` && stored === `/${top}/.big2.bin.fxpmirror-part`), sent.join('\n'));
    // big1's rename was queued behind big2's transfer when it was reset
    const reset = sent.findIndex((l) => /^< 4\d\d /.test(l));
    const renamedAt = sent.indexOf(`> RNTO /${top}/big1.bin`);
    assert.ok(reset > 0 && renamedAt > reset, sent.join('\n'));
    assert.equal(sent.filter((l) => l === `> RNTO /${top}/big1.bin`).length, 1, 'big1 renamed once');
    assert.equal(sent.filter((l) => l === `> STOR /${top}/.big2.bin.fxpmirror-part`).length, 2, 'big2 sent twice');
    assert.deepEqual(rnfrDuringStor(sent), [], sent.join('\n'));
    assert.deepEqual(partsUnder(path.join(dst.root, top)), []);
    assert.deepEqual(hashTree(path.join(dst.root, top)), hashTree(path.join(src.root, top)));
  });
});
