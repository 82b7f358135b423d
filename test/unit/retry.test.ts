/**
 * The retry schedule (src/tree/retry.ts) and the retry loop with server
 * watches (retrier.ts, reachability.ts), on an injected clock: sleeps advance
 * a fake clock at once, so a 31 s window takes no time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtpConnectError, FtpReplyError, FtpLoginError } from '../../src/ftp/errors.js';
import type { ConnectionPool } from '../../src/ftp/pool.js';
import { backoffMs, jitteredBackoffMs, retryPolicy, retryWindowMs, withRetries, type RetryPolicy } from '../../src/tree/retry.js';
import { Retrier } from '../../src/tree/retrier.js';
import { ServerUnreachableError, ServerWatch } from '../../src/tree/reachability.js';

/** A policy on a fake clock; `sleeps` records every wait. */
function fakeClock(retries: number, random = 0): { policy: RetryPolicy; sleeps: number[]; clock: { t: number } } {
  const clock = { t: 0 };
  const sleeps: number[] = [];
  const policy = retryPolicy(retries, {
    now: () => clock.t,
    random: () => random,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
      await Promise.resolve();
    },
  });
  return { policy, sleeps, clock };
}

const refused = () => new FtpConnectError('srv: cannot connect to 127.0.0.1:21: connection refused');

test('the default schedule: 1, 2, 4, 8, 16 s; capped at 16 s; 5 retries cover at least 31 s', () => {
  const p = retryPolicy(5);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, p)), [1000, 2000, 4000, 8000, 16000, 16000, 16000]);
  assert.equal(retryWindowMs(p), 31_000);
  assert.ok(retryWindowMs(p) >= 30_000);
  assert.equal(retryWindowMs(retryPolicy(0)), 0);
  assert.equal(retryWindowMs(retryPolicy(7)), 63_000);
});

test('jitter stretches each wait by 0 to 25 %, never shortens it', () => {
  const low = fakeClock(5, 0).policy;
  const high = fakeClock(5, 0.999).policy;
  for (let n = 0; n < 6; n++) {
    assert.equal(jitteredBackoffMs(n, low), backoffMs(n, low));
    const hi = jitteredBackoffMs(n, high);
    assert.ok(hi > backoffMs(n, high) && hi <= backoffMs(n, high) * 1.25, `${n}: ${hi}`);
  }
});

test('withRetries: transient failures wait on the schedule; a 5xx is not retried', async () => {
  const { policy, sleeps } = fakeClock(5);
  let calls = 0;
  const r = await withRetries(policy, async () => {
    if (++calls < 4) throw new FtpReplyError(421, 'LIST', ['421 busy']);
    return 'ok';
  });
  assert.equal(r, 'ok');
  assert.deepEqual(sleeps, [1000, 2000, 4000]);
  let fives = 0;
  await assert.rejects(
    withRetries(policy, async () => {
      fives++;
      throw new FtpReplyError(550, 'RETR x', ['550 No such file']);
    }),
    /550/,
  );
  assert.equal(fives, 1);
});

test('withRetries gives up after --retries retries with the last error', async () => {
  const { policy, sleeps } = fakeClock(2);
  let calls = 0;
  await assert.rejects(
    withRetries(policy, async () => {
      calls++;
      throw refused();
    }),
    /connection refused/,
  );
  assert.equal(calls, 3);
  assert.deepEqual(sleeps, [1000, 2000]);
});

/** One fake server: unreachable while `down(now)` says so. */
function rig(retries: number, down: (t: number) => boolean) {
  const { policy, sleeps, clock } = fakeClock(retries);
  const reports: string[] = [];
  let probes = 0;
  const watch = new ServerWatch(
    'srv',
    async () => {
      probes++;
      if (down(clock.t)) throw refused();
    },
    policy,
    (m) => reports.push(m),
  );
  const pool = {} as ConnectionPool;
  const retrier = new Retrier(policy, (p) => (p === pool ? watch : undefined));
  let calls = 0;
  const op = () =>
    retrier.run([pool], async () => {
      calls++;
      if (down(clock.t)) throw refused();
      return clock.t;
    });
  return { policy, sleeps, clock, reports, op, watch, calls: () => calls, probes: () => probes };
}

test('a server down for 3 s: the operations wait for it without spending retries, one probe loop for all', async () => {
  const r = rig(5, (t) => t < 3000);
  const results = await Promise.all(Array.from({ length: 10 }, () => r.op()));
  // Each operation: one failed attempt, then one after the server is back.
  assert.equal(r.calls(), 20);
  for (const t of results) assert.ok(t >= 3000);
  // One shared check, then the loop: 1 s (still down at t=1000), 2 s (back at t=3000).
  assert.deepEqual(r.sleeps, [1000, 2000]);
  assert.equal(r.probes(), 3);
  assert.equal(r.reports.length, 2);
  assert.match(r.reports[0], /^srv: unreachable \(cannot connect to 127\.0\.0\.1:21: connection refused\); its work waits for it, up to 31 s$/);
  assert.match(r.reports[1], /^srv: reachable again after 3 s; its work resumes$/);
  assert.equal(r.watch.down, false);
});

test('a server that stays down: given up after the retry window; later work fails at once, untried', async () => {
  const r = rig(5, () => true);
  const first = await Promise.allSettled(Array.from({ length: 4 }, () => r.op()));
  for (const s of first) {
    assert.ok(s.status === 'rejected' && s.reason instanceof ServerUnreachableError && s.reason.code === 'ECONNECT', String(s.status));
  }
  assert.equal(r.calls(), 4, 'one attempt each, no retries burnt');
  // Probes at 1, 3, 7, 15, 31 s: given up once 31 s have passed.
  assert.deepEqual(r.sleeps, [1000, 2000, 4000, 8000, 16000]);
  assert.equal(r.clock.t, 31_000);
  assert.equal(r.reports.length, 2);
  assert.match(r.reports[1], /^srv: still unreachable after 31 s \(.*connection refused.*\): its remaining work fails without being tried$/);
  await assert.rejects(r.op(), (e: unknown) => e instanceof ServerUnreachableError && /unreachable for 31 s/.test((e as Error).message));
  assert.equal(r.calls(), 4, 'nothing tried once given up');
});

test('a server that answers the probe (even a refused login) is reachable: the file retries on its own schedule', async () => {
  const { policy, sleeps } = fakeClock(3);
  const watch = new ServerWatch(
    'srv',
    async () => {
      throw new FtpLoginError('srv: 530 Login incorrect');
    },
    policy,
    () => assert.fail('no report'),
  );
  const pool = {} as ConnectionPool;
  const retrier = new Retrier(policy, () => watch);
  let calls = 0;
  await assert.rejects(
    retrier.run([pool], async () => {
      calls++;
      throw refused();
    }),
    /connection refused/,
  );
  assert.equal(calls, 4);
  assert.deepEqual(sleeps, [1000, 2000, 4000]);
});

test('hooks: before() can fail an operation untried; final() stops retrying a transient error', async () => {
  const { policy, sleeps } = fakeClock(5);
  const retrier = new Retrier(policy, () => undefined);
  let calls = 0;
  await assert.rejects(
    retrier.run([], async () => calls++, {
      before: () => {
        throw new Error('full');
      },
    }),
    /full/,
  );
  assert.equal(calls, 0);
  await assert.rejects(
    retrier.run(
      [],
      async () => {
        calls++;
        throw new FtpReplyError(452, 'STOR x', ['452 Insufficient storage space']);
      },
      { final: () => true },
    ),
    /452/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(sleeps, []);
});

test('a paused operation hands its work slot back while it waits, and takes it again before its next attempt', async () => {
  const r = rig(5, (t) => t < 1000);
  const events: string[] = [];
  const retrier = new Retrier(r.policy, () => r.watch);
  let n = 0;
  await retrier.run(
    [{} as ConnectionPool],
    async () => {
      events.push(`attempt ${++n}`);
      if (r.clock.t < 1000) throw refused();
    },
    { slot: { release: () => events.push('release'), acquire: async () => void events.push('acquire') }, idle: () => events.push('idle') },
  );
  // idle after the failure (connections back to the pool), idle + release while the server is down.
  assert.deepEqual(events, ['attempt 1', 'idle', 'idle', 'release', 'acquire', 'attempt 2']);
  assert.equal(r.clock.t, 1000);
});
