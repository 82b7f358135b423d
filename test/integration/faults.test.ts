/**
 * Faults injected into real lab servers while an FXP transfer runs (issue 11):
 * - a data connection between the two servers killed mid-transfer (`ss -K`,
 *   scoped to the two server addresses): the mirror retries the file in the
 *   same FXP mode, and nothing goes through the client (nftables byte counter);
 *   vsftpd, pure-ftpd and pyftpdlib as the source;
 * - a destination session stopped for good (SIGSTOP): the copy is aborted
 *   within about twice --timeout and the destination is blamed; a mirror
 *   retries it in the same mode on a new session.
 * Each leaves no partial file under a final name (no part file at all), and
 * an immediate re-run completes and leaves identical trees.
 *
 * Transfers are throttled by the sources' own settings (vsftpd
 * local_max_rate, pure-ftpd -T, pyftpdlib ThrottledDTPHandler), so the fault
 * lands mid-transfer.
 *
 * Addresses 127.0.11.21 .. 127.0.11.24 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resetConnections, startByteCounter, stopAll, stopSessions, type ByteCounter, type LabServer, type ServerKind, type StartOptions, type StoppedSessions } from '../lab/lab.js';
import { hashTree, mkdirLab, oneErrorLine, requireServers, runCli, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { KiB, MiB, partsUnder, pattern, sleep } from './faults-setup.js';

const KINDS: ServerKind[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'];
const UNAVAILABLE = requireServers(KINDS);

/** A mirror's whole control conversation is a few KiB; relaying one file would be MiBs. */
const CLIENT_BUDGET = 256 * 1024;

type Role = 'vsftpd' | 'proftpd' | 'pure' | 'pyftpdlib';
const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.11.21', port: 5121, rateLimit: 10 * MiB }],
  proftpd: ['proftpd', { address: '127.0.11.22', port: 5122 }],
  pure: ['pure-ftpd', { address: '127.0.11.23', port: 5123, rateLimit: 10 * MiB }],
  // ThrottledDTPHandler lets the first two seconds' worth through at once, then averages the rate.
  pyftpdlib: ['pyftpdlib', { address: '127.0.11.24', port: 5124, rateLimit: 512 * KiB }],
};
const S = {} as Record<Role, LabServer>;

/** Established TCP connections between the two addresses (data connections: control ones go to the client). */
function between(a: string, b: string): string[] {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( src ${a} and dst ${b} ) or ( src ${b} and dst ${a} )`]).toString();
  return out.split('\n').filter((l) => l.trim() !== '');
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function mirrorSummary(r: CliRun): MirrorSummary {
  assert.equal(r.code, EXIT.OK, `exit ${r.code}; stderr:\n${r.stderr}\nstdout:\n${r.stdout.slice(0, 2000)}`);
  return JSON.parse(r.stdout) as MirrorSummary;
}

let counter: ByteCounter;

describe('faults injected mid-transfer into the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  before(async () => {
    Object.assign(S, await startPlan(PLAN));
    counter = await startByteCounter('127.0.0.1', Object.values(PLAN).map(([, o]) => o.address!));
  });

  after(async () => {
    await counter?.close();
    await stopAll();
  });

  // Each big file takes a second or two at the source's rate.
  for (const [from, to, big] of [
    ['vsftpd', 'proftpd', 6 * MiB],
    ['pure', 'proftpd', 6 * MiB],
    ['pyftpdlib', 'pure', 1536 * KiB],
  ] as [Role, Role, number][]) {
    test(`${PLAN[from][0]} -> ${PLAN[to][0]}: data connections killed mid-transfer are retried in the same FXP mode, nothing relayed`, async () => {
      const src = S[from];
      const dst = S[to];
      const dir = `resets-${from}`;
      for (let i = 0; i < 3; i++) writeLabFile(path.join(src.root, dir, `big${i}.bin`), pattern(big + i, i), new Date('2022-02-02T02:02:02Z'));
      for (let i = 0; i < 5; i++) writeLabFile(path.join(src.root, dir, `small${i}.txt`), `small file ${i}\n`, new Date('2022-02-02T02:02:02Z'));
      let killed = 0;
      await counter.reset();
      const run = runCli(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json', '-P', '1', '--timeout', '10'], { timeoutMs: 120_000 });
      // Kill two data connections, each once it has carried data for a while.
      const seen = new Map<string, number>();
      let done = false;
      void run.then(() => (done = true));
      while (!done && killed < 2) {
        for (const c of between(src.host, dst.host)) {
          const key = c.split(/\s+/).slice(2, 4).sort().join(' ');
          const first = seen.get(key) ?? Date.now();
          seen.set(key, first);
          if (Date.now() - first >= 300) {
            killed += (await resetConnections(src, dst)) > 0 ? 1 : 0;
            seen.clear();
            break;
          }
        }
        await sleep(50);
      }
      const summary = mirrorSummary(await run);
      const bytes = await counter.read();
      assert.equal(killed, 2, 'two data connections were killed mid-transfer');
      assert.deepEqual(summary.modes, { fxp: 8 }, 'every file by FXP in the first mode: no fallback, no relay');
      assert.equal(summary.files.transferred, 8);
      assert.ok(bytes.serverToServer >= 3 * big, `server-to-server ${bytes.serverToServer}`);
      assert.ok(bytes.clientToServers + bytes.serversToClient < CLIENT_BUDGET, `client traffic ${bytes.clientToServers + bytes.serversToClient} bytes: something was relayed`);
      assert.deepEqual(partsUnder(path.join(dst.root, dir)), []);
      assert.deepEqual(hashTree(path.join(dst.root, dir)), hashTree(path.join(src.root, dir)));
      const again = mirrorSummary(await runCli(['mirror', urlOf(src, dir), urlOf(dst, dir), '--json'], { timeoutMs: 60_000 }));
      assert.equal(again.files.transferred, 0);
      assert.equal(again.files.unchanged, 8);
    });
  }

  test('vsftpd -> proftpd, the destination session stopped for good: aborted within about twice --timeout, blamed, nothing published', async () => {
    const src = S.vsftpd;
    const dst = S.proftpd;
    writeLabFile(path.join(src.root, 'stall/big.bin'), pattern(24 * MiB, 7), new Date('2022-03-03T03:03:03Z'));
    mkdirLab(path.join(dst.root, 'stall'));
    const part = path.join(dst.root, 'stall/.big.bin.fxpmirror-part');
    const timeout = 4;
    let stopped: StoppedSessions | undefined;
    try {
      const run = runCli(['copy', urlOf(src, 'stall/big.bin'), urlOf(dst, 'stall/big.bin'), '--timeout', String(timeout)], { timeoutMs: 120_000 });
      await until('the part file to grow', () => fs.existsSync(part) && fs.statSync(part).size > 2 * MiB);
      stopped = await stopSessions(dst, { peer: src.host });
      const stoppedAt = Date.now();
      const r = await run;
      const took = Date.now() - stoppedAt;
      assert.equal(r.code, EXIT.CONNECT, r.stderr);
      const line = oneErrorLine(r);
      assert.match(line, new RegExp(`^fxpmirror: ${dst.host}:${dst.port}: the destination stopped: the part file /stall/\\.big\\.bin\\.fxpmirror-part stayed at \\d+ bytes for [\\d.]+ s; neither server answered ABOR$`));
      assert.ok(took <= 2 * timeout * 1000 + 1500, `aborted ${took} ms after the stop (--timeout ${timeout})`);
      assert.equal(fs.existsSync(path.join(dst.root, 'stall/big.bin')), false, 'nothing under the final name');
      assert.deepEqual(partsUnder(path.join(dst.root, 'stall')), []);
    } finally {
      await stopped?.resume();
    }
    const again = await runCli(['copy', urlOf(src, 'stall/big.bin'), urlOf(dst, 'stall/big.bin'), '--json'], { timeoutMs: 60_000 });
    assert.equal(again.code, EXIT.OK, again.stderr);
    assert.deepEqual(hashTree(path.join(dst.root, 'stall')), hashTree(path.join(src.root, 'stall')));
  });

  test('pure-ftpd -> vsftpd, a mirror whose destination session stops: the file is retried in the same mode on a new session', async () => {
    const src = S.pure;
    const dst = S.vsftpd;
    for (let i = 0; i < 2; i++) writeLabFile(path.join(src.root, `stall2/f${i}.bin`), pattern(12 * MiB, 20 + i), new Date('2022-04-04T04:04:04Z'));
    let stopped: StoppedSessions | undefined;
    try {
      await counter.reset();
      const run = runCli(['mirror', urlOf(src, 'stall2'), urlOf(dst, 'stall2'), '--json', '-P', '1', '--timeout', '3'], { timeoutMs: 120_000 });
      const part = path.join(dst.root, 'stall2/.f0.bin.fxpmirror-part');
      await until('the first part file to grow', () => fs.existsSync(part) && fs.statSync(part).size > MiB);
      stopped = await stopSessions(dst, { peer: src.host });
      const summary = mirrorSummary(await run);
      const bytes = await counter.read();
      assert.deepEqual(summary.modes, { [summary.modes.fxp ? 'fxp' : 'fxp-reversed']: 2 }, JSON.stringify(summary.modes));
      assert.ok(bytes.clientToServers + bytes.serversToClient < CLIENT_BUDGET, 'nothing relayed');
      assert.deepEqual(partsUnder(path.join(dst.root, 'stall2')), []);
      assert.deepEqual(hashTree(path.join(dst.root, 'stall2')), hashTree(path.join(src.root, 'stall2')));
    } finally {
      await stopped?.resume();
    }
    const again = mirrorSummary(await runCli(['mirror', urlOf(src, 'stall2'), urlOf(dst, 'stall2'), '--json'], { timeoutMs: 60_000 }));
    assert.equal(again.files.transferred, 0);
  });
});
