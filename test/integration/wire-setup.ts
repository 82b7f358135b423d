/**
 * What the pipelining suites (finish-later, stor-with-pasv) share: a seeded
 * tree of small files, a poll of the destination that catches any file
 * under its final name with a size other than the source's, and readers of
 * the client's wire log (-v): the lines to one server, the commands written
 * together (no reply read between them), and RNFRs sent during a STOR;
 * and a mirror whose data connections are reset while a rename is queued.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { resetConnections, waitForSize, type LabServer } from '../lab/lab.js';
import { hashTree, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { KiB, MiB, partsUnder, pattern, runTimed, show, summaryOf, type TimedLine } from './faults-setup.js';

/** `dirs` directories of `per` small files each on `src`; their sizes by relative path. */
export function seed(src: LabServer, top: string, dirs: number, per: number, mtime: Date): Map<string, number> {
  const sizes = new Map<string, number>();
  for (let d = 0; d < dirs; d++) {
    for (let i = 0; i < per; i++) {
      const rel = path.join(`d${d}`, `f${i}.bin`);
      const data = pattern(3 * KiB + 97 * i + d, 7 * i + d);
      writeLabFile(path.join(src.root, top, rel), data, mtime);
      sizes.set(rel, data.length);
    }
  }
  return sizes;
}

/**
 * Polls `root` every few ms until stopped: every file under a final name
 * whose size differs from `sizes` (a size seen mid-write would show here).
 */
export function watchFinalNames(root: string, sizes: Map<string, number>): { stop(): string[] } {
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
export function linesOf(lines: TimedLine[], server: LabServer): string[] {
  const prefix = `${server.host}:${server.port} `;
  return lines.filter((l) => l.line.startsWith(prefix)).map((l) => l.line.slice(prefix.length).trim());
}

/** Sent groups: commands written with no reply read between them. */
export function groups(sent: string[]): string[][] {
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

/**
 * RNFRs sent while a STOR on the same connection still waited for its
 * final reply (-P 1: one transfer connection). Replies pair with commands
 * in order (RFC 959 §4.2); a 1xx mark is not a final reply.
 */
export function rnfrDuringStor(sent: string[]): string[] {
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

export function mtimesOf(root: string): number[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(root, p)).isFile()).map((p) => fs.statSync(path.join(root, p)).mtime.getTime());
}

/**
 * A mirror (-P 1, -v, plus `args`) of `dirs` × `per` seeded files from `src`
 * to `dst`, checked: no final name ever with a wrong size, exit OK, every
 * file transferred in `mode`, no part file, the trees' sha256 and every
 * mtime as on the source, and a re-run that transfers nothing. Returns the
 * client's -v lines for the caller's wire checks, and the seeded sizes.
 */
export async function checkedMirror(
  src: LabServer,
  dst: LabServer,
  top: string,
  o: { mtime: Date; mode: string; args?: string[]; dirs?: number; per?: number },
): Promise<{ lines: TimedLine[]; sizes: Map<string, number> }> {
  const sizes = seed(src, top, o.dirs ?? 3, o.per ?? 12, o.mtime);
  const watch = watchFinalNames(path.join(dst.root, top), sizes);
  const run = runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '-v', '-P', '1', ...(o.args ?? [])]);
  const r = await run.done;
  assert.deepEqual(watch.stop(), [], 'no final name with a wrong size');
  assert.equal(r.code, EXIT.OK, show(r));
  const s = summaryOf(r);
  assert.deepEqual(s.failures, []);
  assert.equal(s.files.transferred, sizes.size);
  assert.deepEqual(s.modes, { [o.mode]: sizes.size });
  assert.deepEqual(partsUnder(path.join(dst.root, top)), []);
  assert.deepEqual(hashTree(path.join(dst.root, top)), hashTree(path.join(src.root, top)));
  assert.deepEqual(new Set(mtimesOf(path.join(dst.root, top))), new Set([o.mtime.getTime()]), 'every mtime preserved');
  const again = await runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', ...(o.args ?? [])]).done;
  assert.equal(again.code, EXIT.OK, show(again));
  assert.equal(summaryOf(again).files.transferred, 0);
  return { lines: run.lines, sizes };
}

/**
 * A mirror (-P 1, -v) from `src` (rate-limited) to `dst` of a0 (10 KiB: it
 * teaches the destination's mtime method, so the files after it finish one
 * transfer later) and big1..big3 (1 MiB each), with every data connection
 * between the servers reset (ss -K) once big2 is half-way: big1's size check
 * went out with big2's transfer, and its rename waits for big2's end.
 * Checked here: a connection was reset; the run ends OK with every file;
 * no final name ever had a wrong size; big1 renamed once, after big2's
 * transfer ended (a 226 too: pyftpdlib may say 226 for the cut transfer,
 * the size check then finds it short), big2 sent twice; no RNFR during a
 * STOR; no part file; the trees' sha256 match. Returns the summary and the
 * destination's wire lines for the caller's own checks.
 */
export async function mirrorResetMidway(src: LabServer, dst: LabServer, top: string, mtime: Date): Promise<{ s: MirrorSummary; sent: string[] }> {
  const sizes = new Map<string, number>();
  ['a0.bin', 'big1.bin', 'big2.bin', 'big3.bin'].forEach((name, i) => {
    const data = pattern(i === 0 ? 10 * KiB : MiB + 777 * i, 13 * i + 5);
    writeLabFile(path.join(src.root, top, name), data, mtime);
    sizes.set(name, data.length);
  });
  const watch = watchFinalNames(path.join(dst.root, top), sizes);
  const run = runTimed(['mirror', urlOf(src, top), urlOf(dst, top), '--json', '-v', '-P', '1', '--timeout', '10']);
  await waitForSize(path.join(dst.root, top, '.big2.bin.fxpmirror-part'), MiB / 2, { timeoutMs: 30_000 });
  const killed = await resetConnections(src, dst, { waitMs: 2000 });
  const r = await run.done;
  assert.deepEqual(watch.stop(), [], 'no final name with a wrong size');
  assert.ok(killed >= 1, 'a data connection between the servers was reset');
  assert.equal(r.code, EXIT.OK, show(r));
  const s = summaryOf(r);
  assert.deepEqual(s.failures, []);
  assert.equal(s.files.transferred, sizes.size);
  const sent = linesOf(run.lines, dst);
  const storedAt = sent.indexOf(`> STOR /${top}/.big2.bin.fxpmirror-part`);
  const ended = sent.findIndex((l, i) => i > storedAt && /^< (226|4\d\d) /.test(l));
  const renamedAt = sent.indexOf(`> RNTO /${top}/big1.bin`);
  assert.ok(storedAt > 0 && ended > storedAt && renamedAt > ended, sent.join('\n'));
  assert.equal(sent.filter((l) => l === `> RNTO /${top}/big1.bin`).length, 1, 'big1 renamed once');
  assert.equal(sent.filter((l) => l === `> STOR /${top}/.big2.bin.fxpmirror-part`).length, 2, 'big2 sent twice');
  assert.deepEqual(rnfrDuringStor(sent), [], sent.join('\n'));
  assert.deepEqual(partsUnder(path.join(dst.root, top)), []);
  assert.deepEqual(hashTree(path.join(dst.root, top)), hashTree(path.join(src.root, top)));
  return { s, sent };
}
