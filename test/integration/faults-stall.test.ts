/**
 * A session stopped (SIGSTOP) for a while and then continued (SIGCONT), in
 * the middle of an FXP transfer, on real lab servers, once as the
 * destination and once as the source: the stall is seen from the part file
 * that stops growing, ABOR goes out within about twice --timeout, the file
 * is tried again in the same FXP mode on new sessions (no relay), the run
 * completes, and an immediate re-run transfers nothing.
 *
 * Transfers are throttled by the source server's own setting (vsftpd
 * local_max_rate, proftpd TransferRate), so the stop lands mid-transfer.
 *
 * Addresses 127.0.13.21 .. 127.0.13.29 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { stopAll, stopSessions, waitForSize, type LabServer, type ServerKind, type StartOptions } from '../lab/lab.js';
import { requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { KiB, assertNothingPartial, assertOneFxpMode, assertRerunClean, firstLine, pattern, runTimed, show, sleep, summaryOf } from './faults-setup.js';

const UNAVAILABLE = requireServers(['vsftpd', 'proftpd', 'pure-ftpd']);

type Role = 'vsftpd' | 'proftpd' | 'pure';
const RATE = 1024 * KiB;
const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.13.21', port: 5321, rateLimit: RATE }],
  proftpd: ['proftpd', { address: '127.0.13.22', port: 5322, rateLimit: RATE }],
  pure: ['pure-ftpd', { address: '127.0.13.23', port: 5323 }],
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

describe('a session stopped for a while mid-transfer, then continued', { skip: UNAVAILABLE ?? false, timeout: 180_000 }, () => {
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
});
