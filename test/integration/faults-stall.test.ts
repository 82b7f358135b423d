/**
 * Servers that stop answering in the middle of FXP transfers, on real lab
 * servers:
 * - a session stopped (SIGSTOP) for a while and then continued (SIGCONT),
 *   once as the destination and once as the source: the stall is seen from
 *   the part file that stops growing, ABOR goes out within about twice
 *   --timeout, the file is tried again in the same FXP mode on new sessions
 *   (no relay), the run completes;
 * - a destination cut off by a partition for 20 s (pure-ftpd -> pyftpdlib,
 *   the pair; it relayed 51 files before): the run waits for it and
 *   completes with every file by FXP, deleting only what --delete should.
 * Each leaves nothing partial, and an immediate re-run transfers nothing.
 *
 * Transfers are throttled by the source server's own setting (vsftpd
 * local_max_rate, proftpd TransferRate, pure-ftpd -T), so the fault lands
 * mid-transfer.
 *
 * Addresses 127.0.13.21 .. 127.0.13.29 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { partition, stopAll, stopSessions, waitForSize, type LabServer, type ServerKind, type StartOptions } from '../lab/lab.js';
import { hashTree, requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { KiB, assertNothingPartial, assertOneFxpMode, assertRerunClean, firstLine, pattern, runTimed, show, sleep, summaryOf } from './faults-setup.js';

const UNAVAILABLE = requireServers(['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib']);

type Role = 'vsftpd' | 'proftpd' | 'pure' | 'pureSrc' | 'pyftpdlib';
const RATE = 1024 * KiB;
const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.13.21', port: 5321, rateLimit: RATE }],
  proftpd: ['proftpd', { address: '127.0.13.22', port: 5322, rateLimit: RATE }],
  pure: ['pure-ftpd', { address: '127.0.13.23', port: 5323 }],
  pureSrc: ['pure-ftpd', { address: '127.0.13.25', port: 5325, rateLimit: RATE }],
  pyftpdlib: ['pyftpdlib', { address: '127.0.13.24', port: 5324 }],
};

/** --timeout, seconds: also the stall time. */
const TIMEOUT = 2;
/** How long the session stays stopped: well past the stall's detection, so the retry runs while it is still stopped. */
const STOPPED_MS = 7000;
/** The first retry waits 1 s, stretched by up to 25 % (src/tree/retry.ts). */
const FIRST_BACKOFF_MS = 1250;
/** One file of two seconds at RATE (the one stopped), two small ones. */
const FILES = 3;
const BIG = 2048 * KiB;

describe('servers that stop answering mid-transfer: stopped sessions, a partition', { skip: UNAVAILABLE ?? false, timeout: 180_000 }, () => {
  let S: Record<Role, LabServer>;
  before(async () => {
    S = await startPlan(PLAN);
  });
  after(async () => {
    await stopAll();
  });

  const cases: { stopped: 'destination' | 'source'; from: Role; to: Role }[] = [
    { stopped: 'destination', from: 'vsftpd', to: 'pure' },
    { stopped: 'source', from: 'proftpd', to: 'pure' },
  ];
  for (const { stopped, from, to } of cases) {
    test(`${PLAN[from][0]} -> ${PLAN[to][0]}, the ${stopped} stopped for ${STOPPED_MS / 1000} s: the stall ends within 2x --timeout, retried in the same mode, the run completes`, async () => {
      const src = S[from];
      const dst = S[to];
      const dir = `stop-${stopped}`;
      for (let i = 0; i < FILES; i++) writeLabFile(path.join(src.root, dir, `f${i}.bin`), pattern(i === 1 ? BIG : 64 * KiB + i, 31 * i + 7), new Date('2022-05-05T05:05:05Z'));
      const run = runTimed(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', '-v', '-P', '1', '--timeout', String(TIMEOUT)]);
      // Over a second into the big file: the part file has been read at least once.
      const { file } = await waitForSize(path.join(dst.root, dir), 1280 * KiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 });
      const name = path.basename(file);
      // The session moving the data: the one holding a connection to the other server.
      const session = await stopSessions(stopped === 'destination' ? dst : src, { peer: (stopped === 'destination' ? src : dst).host });
      const stoppedAt = Date.now();
      // SIGCONT after STOPPED_MS, whether or not the run is over by then.
      const resumed = sleep(STOPPED_MS).finally(() => session.resume());
      let r;
      try {
        r = await run.done;
      } finally {
        await resumed;
      }
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.deepEqual(s.failures, []);
      assert.equal(s.files.transferred, FILES);
      assertOneFxpMode(s, FILES);

      const abor = firstLine(run.lines, / > ABOR$/, stoppedAt);
      assert.ok(abor, `no ABOR after the stop:\n${r.stderr.slice(-3000)}`);
      assert.ok(abor.t - stoppedAt <= 2 * TIMEOUT * 1000, `ABOR ${abor.t - stoppedAt} ms after the stop (--timeout ${TIMEOUT})`);
      const retry = firstLine(run.lines, new RegExp(`^${dst.host}:${dst.port} > STOR .*/${name.replace(/\./g, '\\.')}$`), abor.t);
      assert.ok(retry, `the file was not tried again:\n${r.stderr.slice(-3000)}`);
      // After ABOR: the answers are waited for (half of --timeout at most), then the first backoff.
      assert.ok(retry.t - abor.t <= (TIMEOUT / 2) * 1000 + FIRST_BACKOFF_MS + 500, `retried ${retry.t - abor.t} ms after ABOR`);
      // The retry began while the session was still stopped: it did not wait for SIGCONT.
      assert.ok(retry.t - stoppedAt < STOPPED_MS, `retried ${retry.t - stoppedAt} ms after the stop, not before the SIGCONT`);

      // The stopped session, continued, may still write what its socket held: nothing partial may come of it.
      await sleep(500);
      assertNothingPartial(path.join(src.root, dir), path.join(dst.root, dir));
      await assertRerunClean(src, dst, dir);
    });
  }

  test('pure-ftpd -> pyftpdlib with --delete, the destination cut off by a partition for 20 s: no file relayed, the run completes', async () => {
    const src = S.pureSrc;
    const dst = S.pyftpdlib;
    const dir = 'partition';
    // 16 files of 512 KiB, two at a time at 1 MiB/s each: about 4 s of transfers.
    for (let i = 0; i < 16; i++) writeLabFile(path.join(src.root, dir, `f${String(i).padStart(2, '0')}.bin`), pattern(512 * KiB + i, 100 + i), new Date('2022-07-07T07:07:07Z'));
    // On the destination already: four files to keep (as on the source), two to delete.
    for (let i = 0; i < 4; i++) writeLabFile(path.join(src.root, dir, `kept${i}.txt`), `kept ${i}\n`, new Date('2022-07-07T07:07:07Z'));
    for (let i = 0; i < 4; i++) writeLabFile(path.join(dst.root, dir, `kept${i}.txt`), `kept ${i}\n`, new Date('2022-07-07T07:07:07Z'));
    for (let i = 0; i < 2; i++) writeLabFile(path.join(dst.root, dir, `extra${i}.txt`), `extra ${i}\n`);
    const kept = hashTree(path.join(dst.root, dir));
    // pyftpdlib is the passive side: as the active side it sometimes never reads a data connection (mirror-setup.ts).
    const run = runTimed(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', '--delete', '-P', '2', '--passive', 'destination', '--timeout', '5', '--connect-timeout', '5']);
    // If the run ends (or fails) before any part file grows, say how, with its output.
    const early = run.done.then((r) => {
      throw new Error(`the run ended before a part file reached 128 KiB:\n${show(r)}`);
    });
    await Promise.race([waitForSize(path.join(dst.root, dir), 128 * KiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 }), early]);
    early.catch(() => undefined);
    const cut = await partition(dst, { forMs: 20_000 });
    let r;
    try {
      r = await run.done;
    } finally {
      await cut.heal();
    }
    assert.equal(r.code, EXIT.OK, show(r));
    const s = summaryOf(r);
    assert.deepEqual(s.failures, []);
    assert.equal(s.files.transferred, 16);
    assert.equal(s.files.deleted, 2);
    assertOneFxpMode(s, 16);
    assert.doesNotMatch(r.stderr, /relay/, 'no relay warning');
    // The stalled transfers' own clean-up (a SIZE, a DELE of the part file) waits out connect
    // timeouts, so the partition may be over before any server is found unreachable.
    assert.deepEqual(s.warnings.filter((w) => !/unreachable|reachable again/.test(w)), [], show(r));
    for (let i = 0; i < 4; i++) assert.equal(hashTree(path.join(dst.root, dir)).get(`kept${i}.txt`), kept.get(`kept${i}.txt`));
    assertNothingPartial(path.join(src.root, dir), path.join(dst.root, dir));
    await assertRerunClean(src, dst, dir, ['--delete', '--passive', 'destination']);
  });
});
