/**
 * `mirror --delete` under faults, on real lab servers: the destination holds
 * files that must be deleted (not on the source: in a directory both have, at
 * the root, and a whole directory) and files that must stay (the same as the
 * source's). The fault lands on the source's listing of the big directory,
 * the one whose failure, read as an empty or short listing, would delete
 * everything in it: its data connection reset (`ss -K`), the source killed and
 * restarted, the source cut off by a partition. Each run rides it out:
 * exactly the extra files are deleted, every kept file is untouched (sha256),
 * nothing is relayed, and an immediate re-run changes nothing. A partition
 * that outlasts the retry window leaves that listing failed: nothing is
 * deleted at all there, the run says so (exit 1), and the next run completes.
 *
 * The source is pyftpdlib, whose ThrottledDTPHandler slows its listings too
 * (proftpd's TransferRate, as the lab sets it, covers RETR, STOR and APPE
 * only): its listing of the big directory takes about two seconds, so the
 * fault lands in it.
 *
 * Addresses 127.0.14.21 .. 127.0.14.29 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { partition, resetConnections, restartServer, stopAll, type LabServer, type ServerKind, type StartOptions } from '../lab/lab.js';
import { hashTree, requireServers, runCli, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { KiB, assertNoStackTrace, assertNothingPartial, assertRerunClean, show, sleep, summaryOf } from './faults-setup.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd']);

type Role = 'src' | 'dst';
const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  // 24 KiB/s: the big directory's listing (about 65 KB) takes about two seconds (ThrottledDTPHandler
  // lets the first two seconds' worth through at once, then sleeps two seconds).
  src: ['pyftpdlib', { address: '127.0.14.21', port: 5421, rateLimit: 24 * KiB }],
  dst: ['proftpd', { address: '127.0.14.22', port: 5422 }],
};

const T0 = new Date('2022-06-06T06:06:06Z');
/** Long names make a long listing from few files. */
const KEPT = 240;
const keptName = (i: number) => `kept-${String(i).padStart(4, '0')}-${'k'.repeat(180)}.txt`;

/**
 * The source tree `dir` and the destination's: the same kept files on both
 * (same bytes, same mtimes: unchanged), one new file on the source, and on
 * the destination extra files in big/, at the root and a whole directory.
 * Returns the destination's extra files (path -> sha256).
 */
function seed(src: LabServer, dst: LabServer, dir: string): Map<string, string> {
  for (const server of [src, dst]) {
    for (let i = 0; i < KEPT; i++) writeLabFile(path.join(server.root, dir, 'big', keptName(i)), `kept ${i}\n`, T0);
    writeLabFile(path.join(server.root, dir, 'top.txt'), 'top\n', T0);
  }
  writeLabFile(path.join(src.root, dir, 'big', 'new.txt'), 'new on the source\n', T0);
  for (const rel of ['big/extra-1.txt', 'big/extra-2.txt', 'extra-root.txt', 'gone/a.txt', 'gone/deeper/b.txt']) writeLabFile(path.join(dst.root, dir, rel), `extra ${rel}\n`, T0);
  const onSource = hashTree(path.join(src.root, dir));
  return new Map([...hashTree(path.join(dst.root, dir))].filter(([rel]) => !onSource.has(rel)));
}

/** The client's data connections to `server` (its control connections go to the control port). */
function clientDataConnections(server: LabServer): string[] {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( src 127.0.0.1 and dst ${server.host} and not dport = :${server.port} )`]).toString();
  return out.split('\n').filter((l) => l.trim() !== '');
}

/** Resolves once a data connection from the client to `server` has been open for `ms`: a listing is under way. */
async function listingUnderWay(server: LabServer, ms = 300, timeoutMs = 20_000): Promise<void> {
  const seen = new Map<string, number>();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const c of clientDataConnections(server)) {
      const first = seen.get(c) ?? Date.now();
      seen.set(c, first);
      if (Date.now() - first >= ms) return;
    }
    await sleep(20);
  }
  throw new Error(`no data connection to ${server.host} lasted ${ms} ms`);
}

describe('mirror --delete under faults: a listing that fails never deletes', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;
  before(async () => {
    S = await startPlan(PLAN);
  });
  after(async () => {
    await stopAll();
  });

  /** Short timeouts: a listing cut off fails after 2 s, and so does the login that checks whether its server is down. */
  function mirror(dir: string, extra: string[] = []): Promise<CliRun> {
    return runCli(['mirror', urlOf(S.src, dir), urlOf(S.dst, dir), '--delete', '--json', '--timeout', '2', '--connect-timeout', '2', ...extra], { timeoutMs: 120_000 });
  }

  /** The run rode the fault out: exactly the extras deleted, kept files untouched, the new one sent by FXP. */
  function assertRiddenOut(r: CliRun, dir: string, extras: Map<string, string>): MirrorSummary {
    assert.equal(r.code, EXIT.OK, show(r));
    assertNoStackTrace(r);
    const s = summaryOf(r);
    assert.deepEqual(s.failures, []);
    assert.deepEqual(s.unsynced, []);
    assert.equal(s.files.deleted, extras.size, show(r));
    assert.equal(s.files.transferred, 1);
    assert.deepEqual(s.modes, { fxp: 1 }, 'sent by FXP, nothing relayed');
    assertNothingPartial(path.join(S.src.root, dir), path.join(S.dst.root, dir));
    assert.deepEqual([...hashTree(path.join(S.dst.root, dir)).keys()].sort(), [...hashTree(path.join(S.src.root, dir)).keys()].sort(), 'exactly the extra files were deleted');
    return s;
  }

  test('the source listing\'s data connection reset mid-listing: retried, exactly the extras deleted', async () => {
    const extras = seed(S.src, S.dst, 'reset');
    const run = mirror('reset');
    await listingUnderWay(S.src);
    assert.ok((await resetConnections('127.0.0.1', S.src)) > 0, 'a listing connection was reset');
    assertRiddenOut(await run, 'reset', extras);
    await assertRerunClean(S.src, S.dst, 'reset', ['--delete']);
  });

  test('the source killed mid-listing and restarted 2 s later: the listing waits for it, exactly the extras deleted', async () => {
    const extras = seed(S.src, S.dst, 'restart');
    const run = mirror('restart');
    await listingUnderWay(S.src);
    await restartServer(S.src, { downMs: 2000 });
    const r = await run;
    const s = assertRiddenOut(r, 'restart', extras);
    assert.ok(s.warnings.some((w) => /unreachable \(.*\); its work waits for it/.test(w)), show(r));
    await assertRerunClean(S.src, S.dst, 'restart', ['--delete']);
  });

  test('the source cut off by a partition for 4 s mid-listing: the listing waits for it, exactly the extras deleted', async () => {
    const extras = seed(S.src, S.dst, 'partition');
    const run = mirror('partition');
    await listingUnderWay(S.src);
    const cut = await partition(S.src, { forMs: 4000 });
    let r: CliRun;
    try {
      r = await run;
    } finally {
      await cut.heal();
    }
    assertRiddenOut(r, 'partition', extras);
    await assertRerunClean(S.src, S.dst, 'partition', ['--delete']);
  });

  test('a partition that outlasts the retry window: the failed listing deletes nothing under it; the next run completes', async () => {
    const extras = seed(S.src, S.dst, 'cut');
    const before = hashTree(path.join(S.dst.root, 'cut'));
    // --retries 1: a retry window of 1 s, well inside the partition.
    const run = mirror('cut', ['--retries', '1']);
    await listingUnderWay(S.src);
    const cut = await partition(S.src);
    let r: CliRun;
    try {
      r = await run;
    } finally {
      await cut.heal();
    }
    assert.equal(r.code, EXIT.PARTIAL, show(r));
    assertNoStackTrace(r);
    const s = summaryOf(r);
    assert.ok(s.unsynced.some((u) => u.side === 'source' && /^big\/?$/.test(u.path)), JSON.stringify(s.unsynced));
    const after = hashTree(path.join(S.dst.root, 'cut'));
    for (const [rel, hash] of before) {
      if (!rel.startsWith('big/')) continue;
      assert.equal(after.get(rel), hash, `${rel} under the failed listing was deleted or changed`);
    }
    assert.equal(s.modes.relay, undefined, JSON.stringify(s.modes));
    assertNothingPartial(path.join(S.src.root, 'cut'), path.join(S.dst.root, 'cut'), extras);
    // Once the source is back, a run deletes the extras and completes.
    const next = await mirror('cut');
    assert.equal(next.code, EXIT.OK, show(next));
    assert.deepEqual([...hashTree(path.join(S.dst.root, 'cut')).entries()].sort(), [...hashTree(path.join(S.src.root, 'cut')).entries()].sort());
    await assertRerunClean(S.src, S.dst, 'cut', ['--delete']);
  });
});
