/**
 * Stall detection from the bytes that move (src/fxp/watch.ts): the
 * destination's part file is polled over a spare connection; no growth for
 * --timeout ends the transfer (both sides get ABOR and are closed), the side
 * that stopped is blamed, and the fault is transient. A stopped session is a
 * scripted session frozen as under SIGSTOP: it reads and answers nothing.
 * Without a spare connection the transfer falls back to its deadline; a
 * server that does not answer SIZE for a growing file is read with STAT.
 * The polled sizes are the engine's progress events (and relay's own count).
 * Addresses 127.0.83.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTransient } from '../../src/ftp/errors.js';
import type { ConnectionPool } from '../../src/ftp/pool.js';
import type { ContainedPath } from '../../src/ftp/remote-path.js';
import { FxpStallError } from '../../src/fxp/faults.js';
import { PartWatcher } from '../../src/fxp/watch.js';
import { listText } from '../support/memory-tree.js';
import { withPair, type Handler, type PairOptions } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.83.1', '127.0.83.2'];
const DATA = Buffer.alloc(600_000, 9);
/** --timeout: the part file may stand still this long. */
const STALL_MS = 1000;
const base = (o: PairOptions = {}): PairOptions => ({
  ...o,
  src: { files: { '/out/a.bin': DATA }, dataRate: 150_000, ...o.src },
  client: { timeouts: { connect: 3000, command: 3000, data: STALL_MS }, ...o.client },
});

/** The session that runs STOR (or RETR) stops 400 ms into the transfer, as under SIGSTOP. */
const stopsMidway: Handler = (ctx) => {
  setTimeout(() => ctx.session.freeze(), 400);
  return ctx.fallback();
};

async function failure(p: { copy(n: string): Promise<unknown> }): Promise<{ err: unknown; ms: number }> {
  const t0 = Date.now();
  const err = await p.copy('a.bin').then(
    () => new Error('the copy succeeded'),
    (e: unknown) => e,
  );
  return { err, ms: Date.now() - t0 };
}

test('a stopped destination: aborted within about twice --timeout, blamed, transient; the part file is removed', async () => {
  await withPair(HOSTS, base({ dst: { handlers: { STOR: stopsMidway } } }), async (p) => {
    const { err, ms } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.equal(err.blamed, 'destination');
    assert.ok(isTransient(err));
    assert.match(err.message, new RegExp(`^${p.dst.clientOptions().name}: the destination stopped: the part file /in/.a.bin.fxpmirror-part stayed at \\d+ bytes for 1(\\.\\d)? s; ${p.src.clientOptions().name} answered ABOR, ${p.dst.clientOptions().name} did not$`));
    assert.ok(err.bytes > 0 && err.bytes < DATA.length, String(err.bytes));
    assert.ok(ms < 2 * STALL_MS + 400 + 1000, `took ${ms} ms`);
    // Progress came from the polls while it still moved.
    const progress = p.of('progress');
    assert.ok(progress.length >= 2, `${progress.length} progress events`);
    assert.ok(progress.every((e, i) => i === 0 || e.bytes! >= progress[i - 1].bytes!));
    assert.ok(progress.some((e) => e.bytesPerSecond! > 0));
    assert.deepEqual(p.landed, []);
    assert.deepEqual(p.of('fallback'), []);
    // Polled on a connection of its own, not the transfer's.
    const storSession = p.dst.sessions.find((s) => s.commands.some((c) => c.startsWith('STOR')))!;
    const pollSession = p.dst.sessions.find((s) => s.commands.filter((c) => c.startsWith('SIZE')).length >= 2)!;
    assert.notEqual(pollSession.id, storSession.id);
  });
});

test('a stopped source: the destination answers ABOR, the source is blamed', async () => {
  await withPair(HOSTS, base({ src: { handlers: { RETR: stopsMidway } } }), async (p) => {
    const { err } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.equal(err.blamed, 'source');
    assert.match(err.message, /the source stopped sending: .*answered ABOR, .* did not$/);
  });
});

test('neither side answers ABOR: the destination is blamed, and says so', async () => {
  const noAbor: Handler = () => new Promise(() => undefined);
  await withPair(HOSTS, base({ src: { handlers: { RETR: stopsMidway } }, dst: { handlers: { ABOR: noAbor } } }), async (p) => {
    const { err } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.equal(err.blamed, 'destination');
    assert.match(err.message, /neither server answered ABOR$/);
  });
});

test('no spare connection within the cap: no polling, the deadline ends the stalled transfer', async () => {
  await withPair(HOSTS, base({ dst: { handlers: { STOR: stopsMidway } }, client: { maxConnections: 1, timeouts: { connect: 3000, command: 3000, data: STALL_MS } } }), async (p) => {
    const { err, ms } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.match(err.message, /no end of transfer within 2\.\d s \(the size of \/in\/.a.bin.fxpmirror-part could not be read\)/);
    // deadline: 600,000 bytes at 256 B/ms = 2.3 s, more than --timeout.
    assert.ok(ms >= 2300, `took ${ms} ms`);
    // Only the attempt's start (bytes 0, no rate): no reading was ever taken.
    assert.deepEqual(p.of('progress').map((e) => [e.bytes, e.bytesPerSecond]), [[0, undefined]]);
    assert.equal(p.dst.sessions.filter((s) => s.commands.some((c) => c.startsWith('STOR'))).length, 1);
  });
});

test('SIZE not answered for a file being written: MLST, then STAT is used, and the stall is still seen', async () => {
  const stat: Handler = (ctx) => {
    const p = ctx.session.resolve(ctx.arg);
    const node = ctx.server.tree.get(p);
    if (!node) return '450 No such file.';
    return ['213-Status follows:', listText([[p.split('/').pop()!, node]]).trimEnd(), '213 End of status'];
  };
  // SIZE refused with 500 (a 550 would only mean "not there yet"): the next command is used.
  let writing = false;
  const stor: Handler = (ctx) => {
    writing = true;
    setTimeout(() => ctx.session.freeze(), 400);
    return ctx.fallback();
  };
  const size: Handler = (ctx) => (writing ? '500 SIZE not allowed on files being written.' : ctx.fallback());
  await withPair(HOSTS, base({ dst: { handlers: { STOR: stor, SIZE: size, STAT: stat } } }), async (p) => {
    const { err } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.match(err.message, /stayed at \d+ bytes/);
    assert.ok(p.dst.sent('MLST').length >= 1, 'MLST was tried');
    assert.ok(p.dst.sent('STAT').length >= 2, 'STAT read the size');
    assert.ok(p.of('progress').length >= 1);
  });
});

test('a healthy slow transfer is never taken for a stall: progress events up to the whole file', async () => {
  await withPair(HOSTS, base({ src: { dataRate: 400_000 } }), async (p) => {
    const r = await p.copy('a.bin');
    assert.equal(r.mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    const bytes = p.of('progress').map((e) => e.bytes!);
    assert.ok(bytes.length >= 3, String(bytes));
    assert.ok(bytes.every((b) => b <= DATA.length));
    assert.deepEqual(p.of('progress').map((e) => e.path).filter((x) => x !== 'a.bin'), []);
  });
});

test('relay reports its own count as progress; every rung starts the count again from the REST offset', async () => {
  // Both servers refuse PORT, so both FXP layouts are refused and the ladder goes to relay (PASV on both).
  const refused = { PORT: '500 Illegal PORT Command' };
  await withPair(HOSTS, base({ src: { dataRate: 400_000, handlers: refused }, dst: { handlers: refused } }), async (p) => {
    const r = await p.copy('a.bin');
    assert.equal(r.mode, 'relay');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    const progress = p.of('progress');
    // A start (bytes 0, no rate) for each rung tried: fxp, fxp-reversed (both refused), relay.
    assert.equal(progress.filter((e) => e.bytesPerSecond === undefined).length, 3, JSON.stringify(progress));
    const relayStart = progress.map((e) => e.bytesPerSecond === undefined).lastIndexOf(true);
    const counted = progress.slice(relayStart + 1);
    assert.ok(counted.length >= 3, `${counted.length} relay readings`);
    assert.ok(counted.every((e, i) => e.bytes! > 0 && e.bytes! <= DATA.length && (i === 0 || e.bytes! >= counted[i - 1].bytes!)));
    assert.ok(counted.every((e) => e.bytesPerSecond! > 0));
  });
});

/**
 * A fake destination pool for the watcher's own timing: its spare connection
 * answers every file of a poll with the size `size(files)` returns; `taken.spares`
 * counts the spare connections handed out.
 */
function fakePool(size: (files: string[]) => number): { pool: ConnectionPool; taken: { spares: number } } {
  const taken = { spares: 0 };
  const conn = {
    closed: false,
    features: {},
    exclusive: <T>(fn: () => Promise<T>) => fn(),
    ensureType: async () => undefined,
    pipeline: async (cmds: [string, string][]) => {
      const n = size(cmds.map((c) => c[1]));
      return cmds.map(() => ({ code: 213, lines: [`213 ${n}`], message: String(n) }));
    },
  };
  const pool = { spare: async () => (taken.spares++, conn), releaseSpare: () => undefined } as unknown as ConnectionPool;
  return { pool, taken };
}

test('the stall is judged on the reading that shows it, not one poll interval later', async () => {
  // A part file that grows for three readings, then stands still. Fake pool and
  // connection: what is measured is the watcher's own timing. The stall time is
  // not a whole number of poll intervals: at 450 (three intervals) a reading
  // taken at 449 ms by Date.now()'s whole milliseconds fell short, and the
  // stall was judged on the next one, at 600 (seen twice in full runs).
  const POLL_MS = 150;
  const STALL = 400;
  let readings = 0;
  let lastReplyAt = 0;
  const { pool } = fakePool(() => {
    lastReplyAt = Date.now();
    return 1000 * Math.min(++readings, 3);
  });
  // The watcher's timer is unref'd (it must not keep a run alive): this one keeps the test's.
  const alive = setInterval(() => undefined, 1000);
  const watch = new PartWatcher(pool, POLL_MS).watch('/in/.a.fxpmirror-part' as ContainedPath, { rest: 0, total: 10_000, stallMs: STALL, deadlineMs: 60_000 });
  try {
    const s = await watch.stalled;
    const late = Date.now() - lastReplyAt;
    assert.equal(s.kind, 'stall');
    assert.equal(s.bytes, 3000);
    assert.ok(s.forMs >= STALL && s.forMs < STALL + POLL_MS, `stood still ${s.forMs} ms`);
    assert.ok(late < POLL_MS / 2, `judged ${late} ms after the reading that showed it`);
  } finally {
    watch.stop();
    clearInterval(alive);
  }
});

test('a part file a stalled attempt could not delete is deleted before the next attempt writes it again', async () => {
  // The stalled session may still hold the part file open and write to it late: the retry
  // must write a new file, not truncate that one (STOR reuses an existing file).
  const log: string[] = [];
  let stors = 0;
  let deles = 0;
  const stor: Handler = (ctx) => {
    log.push('STOR');
    if (++stors === 1) setTimeout(() => ctx.session.freeze(), 400);
    return ctx.fallback();
  };
  // The first DELE (the failed attempt's clean-up) is not answered usefully: the server is "gone".
  const dele: Handler = (ctx) => {
    log.push('DELE');
    return ++deles === 1 ? '421 Service not available, closing control connection.' : ctx.fallback();
  };
  await withPair(HOSTS, base({ dst: { handlers: { STOR: stor, DELE: dele } } }), async (p) => {
    const { err } = await failure(p);
    assert.ok(err instanceof FxpStallError, String(err));
    assert.deepEqual(log, ['STOR', 'DELE']);
    assert.deepEqual(p.landed, ['/in/.a.bin.fxpmirror-part'], 'the part file is still there');
    // The next attempts need no throttle: nothing stops them.
    p.src.options.dataRate = undefined;
    const r = await p.copy('a.bin');
    assert.equal(r.mode, 'fxp');
    assert.deepEqual(log, ['STOR', 'DELE', 'DELE', 'STOR'], 'deleted before it was written again');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    // Once deleted, later attempts go straight to STOR.
    await p.copy('a.bin');
    assert.deepEqual(log.slice(4), ['STOR']);
  });
});

test('transfers younger than half a poll interval are not polled: no spare connection for files that end before their first poll', async () => {
  const POLL_MS = 300;
  const polled: string[][] = [];
  const { pool, taken } = fakePool((files) => (polled.push(files), 5));
  const watcher = new PartWatcher(pool, POLL_MS);
  const opts = { rest: 0, total: 10, stallMs: 10_000, deadlineMs: 60_000 };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // A long transfer keeps the poll timer running; short ones come and go between its ticks.
  const long = watcher.watch('/in/.long.fxpmirror-part' as ContainedPath, opts);
  try {
    // Short transfers back to back (10 ms each), so that one runs at nearly every tick, for three polls.
    const t0 = Date.now();
    for (let i = 0; polled.length < 3 && Date.now() - t0 < 10 * POLL_MS; i++) {
      const short = watcher.watch(`/in/.s${i}.fxpmirror-part` as ContainedPath, opts);
      await sleep(10);
      short.stop();
    }
    assert.ok(polled.length >= 3, 'the long transfer was polled');
    assert.ok(polled.every((files) => files.length === 1 && files[0] === '/in/.long.fxpmirror-part'), JSON.stringify(polled));
    assert.equal(taken.spares, 1);
    assert.equal(long.maxBytes, 5);
  } finally {
    long.stop();
  }
  // Short transfers alone never take a spare connection.
  polled.length = 0;
  taken.spares = 0;
  for (let i = 0; i < 4; i++) {
    const short = watcher.watch(`/in/.t${i}.fxpmirror-part` as ContainedPath, opts);
    await sleep(10);
    short.stop();
  }
  assert.deepEqual(polled, []);
  assert.equal(taken.spares, 0);
});

test('a watch reports a stall to every listener, also one added after it', async () => {
  const { pool } = fakePool(() => 7);
  const alive = setInterval(() => undefined, 1000);
  const watch = new PartWatcher(pool, 50).watch('/in/.a.fxpmirror-part' as ContainedPath, { rest: 0, total: 100, stallMs: 120, deadlineMs: 60_000 });
  try {
    const seen: number[] = [];
    watch.onStalled((s) => seen.push(s.bytes ?? -1));
    const s = await watch.stalled;
    assert.equal(s.kind, 'stall');
    assert.deepEqual(seen, [7]);
    watch.onStalled((late) => seen.push(late.forMs));
    assert.equal(seen.length, 2);
    assert.deepEqual(await watch.stalled, s);
  } finally {
    watch.stop();
    clearInterval(alive);
  }
});
