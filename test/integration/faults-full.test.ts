/**
 * A destination whose disk fills up in the middle of a transfer, on real lab
 * servers: the source is throttled, and once the destination's part file
 * holds some bytes, fillDisk() takes the rest of its small tmpfs. Each server
 * then says so in its own words (test/integration/lab-faults.test.ts pins
 * them): vsftpd `451 Failure writing to local file.`, proftpd `451 Transfer
 * aborted. Input/output error`, pure-ftpd `451-Error during write to file`,
 * pyftpdlib `426 None; transfer aborted.`, ftp-srv `550 ENOSPC: …`. Every one
 * of them is a full destination: the run
 * fails fast (well inside the 31 s retry window) with one "destination full"
 * line, leaves no part file and no partial file under a final name, and an
 * immediate re-run, once there is room again, leaves an identical tree.
 * By FXP (servers that accept foreign addresses) and by relay (servers that
 * refuse them: the relay's write fails first, the destination's reply says why).
 * Also the crash pair (pyftpdlib source, pure-ftpd destination filling
 * up: a stack trace, exit 1 and part files before), by mirror and by copy.
 *
 * Addresses 127.0.12.1 .. 127.0.12.9 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAB_PASSWORD, LAB_USER, stopAll, type LabKind, type LabServer, type StartOptions } from '../lab/lab.js';
import { fillDisk, waitForSize } from '../lab/faults/index.js';
import { hashTree, mkdirLab, oneErrorLine, requireServers, runCli, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { mirrorJson } from './mirror-setup.js';
import { assertNoStackTrace, assertNothingPartial } from './faults-setup.js';
import { EXIT } from '../../src/cli/exit.js';
import { REMOTE_LOCK_NAME } from '../../src/job/remote-lock.js';

const UNAVAILABLE = requireServers(['proftpd', 'vsftpd', 'pure-ftpd', 'pyftpdlib', 'ftp-srv']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-faults-full-'));
const KiB = 1024;
const T0 = Date.UTC(2023, 5, 1) / 1000;
/** Four files of 640 KiB fit on the 4 MiB disk once it is released; at 512 KiB/s each takes over a second. */
const FILES = 4;
const SIZE = 640 * KiB;
const DISK = 4 * 1024 * KiB;
/** The default retry window (1 + 2 + 4 + 8 + 16 s): a run that retried a full disk would take longer. */
const RETRY_WINDOW_MS = 31_000;

type Role = 'src' | 'pySrc' | 'vsftpd' | 'proftpd' | 'pure' | 'pyftpdlib' | 'vsftpdStrict' | 'ftpSrv';
const full = (kind: LabKind, octet: number, extra: StartOptions = {}): [LabKind, StartOptions] => [kind, { address: `127.0.12.${octet}`, port: 4700 + octet, tmpfsRoot: DISK, ...extra }];
const PLAN: Record<Role, [LabKind, StartOptions]> = {
  src: ['proftpd', { address: '127.0.12.1', port: 4701, rateLimit: 512 * KiB }],
  // The crash pair: pyftpdlib as the source, pure-ftpd full. Its ThrottledDTPHandler
  // lets the first two seconds' worth through at once, then averages the rate: at 128 KiB/s a
  // file takes about 4 s.
  pySrc: ['pyftpdlib', { address: '127.0.12.7', port: 4707, rateLimit: 128 * KiB }],
  vsftpd: full('vsftpd', 2),
  proftpd: full('proftpd', 3),
  pure: full('pure-ftpd', 4),
  pyftpdlib: full('pyftpdlib', 8),
  // Both refuse foreign addresses: every FXP rung is refused, files are relayed.
  vsftpdStrict: full('vsftpd', 5, { profile: 'strict' }),
  ftpSrv: full('ftp-srv', 6),
};

describe('a destination disk that fills mid-transfer is full: fail fast, one line, nothing partial left', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;
  let want: Map<string, string>;
  before(async () => {
    S = await startPlan(PLAN);
    for (const src of [S.src, S.pySrc]) for (let i = 0; i < FILES; i++) writeLabFile(path.join(src.root, 'fill', `f${i}.bin`), Buffer.alloc(SIZE, `f${i}-`), T0 + i);
    want = hashTree(path.join(S.src.root, 'fill'));
  });
  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  const cases: { to: Role; from?: Role; how: 'fxp' | 'relay'; says: RegExp }[] = [
    { to: 'vsftpd', how: 'fxp', says: /451 Failure writing to local file\./ },
    { to: 'proftpd', how: 'fxp', says: /45[12] Transfer aborted\. (Input\/output error|No space left on device)/ },
    { to: 'pure', how: 'fxp', says: /451-Error during write to file/ },
    // The crash (a stack trace, exit 1, part files left): pyftpdlib source, pure-ftpd destination on a full disk.
    { to: 'pure', from: 'pySrc', how: 'fxp', says: /451-Error during write to file/ },
    // pyftpdlib's "426 None" to STOR is a failed write to its disk (src/ftp/errors.ts cites its source).
    { to: 'pyftpdlib', how: 'fxp', says: /426 None; transfer aborted\./ },
    { to: 'vsftpdStrict', how: 'relay', says: /451 Failure writing to local file\./ },
    { to: 'ftpSrv', how: 'relay', says: /550 ENOSPC: no space left on device/ },
  ];
  for (const { to, from = 'src', how, says } of cases) {
    test(`${PLAN[from][0]} -> ${PLAN[to][0]}${to.endsWith('Strict') ? ' (strict)' : ''} by ${how}: mirror fails fast with one "destination full" line; the re-run completes`, async () => {
      const src = S[from];
      const dst = S[to];
      const root = path.join(dst.root, 'fill');
      // An earlier case may have filled this destination's tree (pure-ftpd serves two).
      fs.rmSync(root, { recursive: true, force: true });
      const args = ['--parallel', '1', '--fxp', how === 'fxp' ? 'force' : 'auto'];
      const filling = (async () => {
        await waitForSize(dst.root, 128 * KiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 });
        return fillDisk(dst);
      })();
      let filler: { release(): void } | undefined;
      try {
        const run = mirrorJson(urlOf(src, 'fill'), urlOf(dst, 'fill'), args, EXIT.PARTIAL);
        filler = await filling;
        const { summary, r } = await run;
        assert.ok(r.ms < RETRY_WINDOW_MS / 2, `took ${r.ms} ms: the full disk was retried`);
        assert.equal(summary.files.transferred, 0, r.stderr);
        assert.deepEqual(summary.failures.map((f) => f.code), Array(FILES).fill('EFULL'), r.stderr);
        assert.match(summary.failures[0].message, says);
        assert.equal(r.stderr.split('\n').filter((l) => /destination full/.test(l)).length, 1, r.stderr);
        assertNoStackTrace(r);
        if (how === 'fxp') assert.ok(!('relay' in summary.modes), JSON.stringify(summary.modes));
        assertNothingPartial(path.join(src.root, 'fill'), root);
      } finally {
        filler?.release();
        await filling.catch(() => undefined);
      }
      // Room again: an immediate re-run sends everything (all four fit) and leaves the source's tree.
      await mirrorJson(urlOf(src, 'fill'), urlOf(dst, 'fill'), ['--parallel', '4']);
      assert.deepEqual([...hashTree(root).entries()].sort(), [...want.entries()].sort());
    });
  }

  test('the crash pair by copy: pyftpdlib -> pure-ftpd filling mid-transfer exits 6 with one line, no part file', async () => {
    const dst = S.pure;
    fs.rmSync(path.join(dst.root, 'fill'), { recursive: true, force: true });
    const filling = (async () => {
      await waitForSize(dst.root, 128 * KiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 });
      return fillDisk(dst);
    })();
    let filler: { release(): void } | undefined;
    try {
      const run = runCli(['copy', urlOf(S.pySrc, 'fill/f0.bin'), urlOf(dst, 'f0.bin'), '--fxp', 'force'], { timeoutMs: 60_000 });
      filler = await filling;
      const r = await run;
      assert.equal(r.code, EXIT.REMOTE, r.stderr);
      assert.match(oneErrorLine(r), /^fxpmirror: .*STOR .*451-Error during write to file/);
      assert.ok(r.ms < RETRY_WINDOW_MS / 2, `took ${r.ms} ms`);
      assert.deepEqual(fs.readdirSync(dst.root), [], 'no part file, nothing under the final name');
    } finally {
      filler?.release();
      await filling.catch(() => undefined);
    }
  });

  test('ftp-srv by relay: copy exits 6 with one line and leaves no part file', async () => {
    const dst = S.ftpSrv;
    const filler = fillDisk(dst);
    try {
      const r = await runCli(['copy', urlOf(S.src, 'fill/f0.bin'), urlOf(dst, 'f0.bin')], { timeoutMs: 60_000 });
      assert.equal(r.code, EXIT.REMOTE, r.stderr);
      assert.match(oneErrorLine(r), /^fxpmirror: .*550 ENOSPC: no space left on device/);
      assert.deepEqual(fs.readdirSync(dst.root).filter((n) => n !== 'fill'), []);
    } finally {
      filler.release();
    }
  });

  test('run with remoteLock into a full disk: the lock whose owner file could not be written is removed; the next run is not locked out', async () => {
    const dst = S.vsftpd;
    // Room for this tree once the filler is gone: the disk holds one copy of it.
    fs.rmSync(path.join(dst.root, 'fill'), { recursive: true, force: true });
    mkdirLab(path.join(dst.root, 'locked'));
    const job = path.join(TMP, 'lock.yaml');
    const server = (s: LabServer) => `    url: ftp://${s.host}:${s.port}/\n    user: ${LAB_USER}\n    password: \${FULL_PW}\n`;
    fs.writeFileSync(job, `version: 1\nservers:\n  src:\n${server(S.src)}  dst:\n${server(dst)}jobs:\n  - name: locked\n    from: src:/fill\n    to: dst:/locked\n    remoteLock: true\n    parallel: 4\n`);
    const run = () => runCli(['run', job, '--lock-dir', path.join(TMP, 'locks'), '-q'], { env: { FULL_PW: LAB_PASSWORD }, timeoutMs: 60_000 });
    const filler = fillDisk(dst);
    let first;
    try {
      first = await run();
    } finally {
      filler.release();
    }
    assert.equal(first.code, EXIT.REMOTE, first.stderr);
    assert.match(first.stderr, /owner: 451 Failure writing to local file\./);
    assert.deepEqual(fs.readdirSync(path.join(dst.root, 'locked')), [], `${REMOTE_LOCK_NAME} left behind`);
    const again = await run();
    assert.equal(again.code, EXIT.OK, again.stderr);
    assert.deepEqual([...hashTree(path.join(dst.root, 'locked')).entries()].sort(), [...want.entries()].sort());
  });
});
