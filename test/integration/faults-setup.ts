/**
 * What the fault-injection suites (faults*.test.ts) share: test data, the
 * CLI run with its wire log timestamped line by line (when ABOR and each
 * STOR went out, seen from outside the client), and the checks every fault
 * run must pass:
 * - no partial file under a final name: every final file under the
 *   destination has the sha256 of the source's file of that name, and no
 *   part file is left;
 * - no relayed file after a transient fault: the JSON summary's modes hold
 *   FXP modes only;
 * - an immediate re-run completes, transfers nothing and leaves identical trees.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LabServer } from '../lab/lab.js';
import { hashTree, runCli, urlOf, type CliRun, type RunOptions } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import type { MirrorSummary } from '../../src/tree/plan.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes that differ at every offset and from seed to seed: a misplaced block changes the sha256. */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(Math.imul(i + seed, 2654435761) >>> 0, i);
  return b;
}

/** Part files anywhere under `root` (relative paths). */
export function partsUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => isPartName(path.basename(p)));
}

/**
 * No part file under `dst`, and every file there under a final name is whole:
 * its sha256 is that of the file of the same name under `src` (a file that
 * exists only on the destination must be listed in `extra`, with its hash).
 */
export function assertNothingPartial(src: string, dst: string, extra: Map<string, string> = new Map()): void {
  assert.deepEqual(partsUnder(dst), [], `part files left under ${dst}`);
  const want = hashTree(src);
  for (const [rel, hash] of hashTree(dst, { allowMissing: true })) {
    assert.equal(hash, want.get(rel) ?? extra.get(rel), `${rel} under its final name must be whole (the source's bytes)`);
  }
}

/** The one-line contract under faults: no stack trace, no unhandled 'error' event on stderr. */
export function assertNoStackTrace(r: Pick<CliRun, 'stderr'>): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$|node:internal|Unhandled 'error' event|Uncaught|\w*Error: .*\n\s+at /m, r.stderr);
}

/** `mirror --json`: the summary (the last pretty-printed object on stdout). */
export function summaryOf(r: CliRun): MirrorSummary {
  const at = r.stdout.lastIndexOf('\n{\n') >= 0 ? r.stdout.lastIndexOf('\n{\n') + 1 : r.stdout.indexOf('{');
  return JSON.parse(r.stdout.slice(at)) as MirrorSummary;
}

export function show(r: CliRun): string {
  return `exit ${r.code} signal ${r.signal}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-6000)}`;
}

/** Every file of the run went by FXP, all in one mode (the first that worked): nothing relayed, no rung given up. */
export function assertOneFxpMode(s: MirrorSummary, files: number): void {
  const modes = Object.entries(s.modes);
  assert.equal(modes.length, 1, `one mode: ${JSON.stringify(s.modes)}`);
  assert.notEqual(modes[0][0], 'relay', `nothing relayed: ${JSON.stringify(s.modes)}`);
  assert.equal(modes[0][1], files, JSON.stringify(s.modes));
}

/** A stderr line and when it arrived (ms since the epoch). */
export interface TimedLine {
  t: number;
  line: string;
}

/**
 * The CLI with its stderr lines timestamped as they arrive. With `-v` the
 * wire log is on stderr ("host:port > ABOR"), so a test sees when the client
 * gave up a transfer and when it tried again.
 */
export function runTimed(args: string[], opts: RunOptions = {}): { done: Promise<CliRun>; lines: TimedLine[] } {
  const lines: TimedLine[] = [];
  let rest = '';
  const done = runCli(args, {
    timeoutMs: 120_000,
    ...opts,
    onOutput: (chunk, stream) => {
      if (stream !== 'stderr') return;
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      const t = Date.now();
      for (const line of parts) lines.push({ t, line });
    },
  });
  return { done, lines };
}

/** The first line at or after `since` that matches `re` (undefined: none). */
export function firstLine(lines: TimedLine[], re: RegExp, since = 0): TimedLine | undefined {
  return lines.find((l) => l.t >= since && re.test(l.line));
}

/**
 * The immediate re-run: `mirror` again with the same arguments completes,
 * transfers nothing, deletes nothing, and the trees are identical.
 */
export async function assertRerunClean(src: LabServer, dst: LabServer, dir: string, args: string[] = []): Promise<MirrorSummary> {
  const r = await runCli(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', ...args], { timeoutMs: 60_000 });
  assert.equal(r.code, EXIT.OK, show(r));
  const s = summaryOf(r);
  assert.equal(s.files.transferred, 0, `the re-run transferred files: ${show(r)}`);
  assert.equal(s.files.deleted, 0, `the re-run deleted files: ${show(r)}`);
  assert.deepEqual([...hashTree(path.join(dst.root, dir)).entries()].sort(), [...hashTree(path.join(src.root, dir)).entries()].sort(), 'identical trees after the re-run');
  return s;
}
