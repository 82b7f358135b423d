/**
 * Faults a mirror run must ride out or stop at cleanly, injected into real lab
 * servers (test/lab/faults): a destination killed and restarted mid-run, a
 * destination whose disk fills up beside a healthy target, part files left
 * by earlier runs, and a destination that cannot set mtimes (GNU inetutils
 * ftpd). Every check looks at the servers' disks (sha256 of every file).
 *
 * Addresses 127.0.6.21 .. 127.0.6.28 belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAB_PASSWORD, LAB_USER, stopAll, type LabServer } from '../lab/lab.js';
import { fillDisk, restartServer, waitForSize } from '../lab/faults/index.js';
import { hashTree, requireServers, runCli, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { isPartName } from '../../src/fxp/part-name.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { show, summaryOf } from './faults-setup.js';

const UNAVAILABLE = requireServers(['proftpd', 'pure-ftpd', 'vsftpd', 'inetutils-ftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-recovery-test-'));
const KiB = 1024;
const T0 = Date.UTC(2023, 5, 1) / 1000;

/** `count` files of `size` bytes (distinct contents) under `root/dir`, with whole-second mtimes. */
function seed(root: string, dir: string, count: number, size: number): void {
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(size, `${dir}-${i}-`);
    writeLabFile(path.join(root, dir, i % 3 === 0 ? `sub/f${i}.bin` : `f${i}.bin`), data, T0 + i);
  }
}

/** Files under `dir`, path -> sha256; fails on a part file (never left under any name after a run). */
function files(dir: string, opts: { parts?: 'allow' } = {}): Map<string, string> {
  const t = hashTree(dir, { allowMissing: true });
  if (opts.parts !== 'allow') for (const k of t.keys()) assert.ok(!isPartName(path.basename(k)), `part file left behind: ${path.join(dir, k)}`);
  return t;
}

function sameFiles(a: Map<string, string>, b: Map<string, string>, what: string): void {
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort(), what);
}

describe('mirror recovery against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<'src' | 'slow' | 'dst' | 'ok' | 'full' | 'inet', LabServer>;

  before(async () => {
    S = await startPlan({
      src: ['proftpd', { address: '127.0.6.21', port: 4621 }],
      // About 1 MiB/s per session: a 512 KiB file takes half a second, so a fault lands mid-transfer.
      slow: ['proftpd', { address: '127.0.6.22', port: 4622, rateLimit: 1024 * KiB }],
      dst: ['pure-ftpd', { address: '127.0.6.23', port: 4623 }],
      ok: ['vsftpd', { address: '127.0.6.24', port: 4624 }],
      full: ['proftpd', { address: '127.0.6.25', port: 4625, tmpfsRoot: 4 * 1024 * KiB }],
      inet: ['inetutils-ftpd', { address: '127.0.6.26', port: 4626 }],
    });
  });

  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  for (const killed of ['destination', 'source'] as const) {
    test(`the ${killed} killed and restarted mid-run (down 3 s): the run completes without a failed file, by FXP, identical tree`, async () => {
      const dir = `restart-${killed}`;
      seed(S.slow.root, dir, 16, 512 * KiB);
      const want = files(path.join(S.slow.root, dir));
      const args = ['mirror', urlOf(S.slow, dir), urlOf(S.dst, dir), '--json', '--parallel', '4'];
      const run = runCli(args, { timeoutMs: 120_000 });
      // Once a part file on the destination holds some bytes, kill the server (every session), 3 s down, start it again.
      await waitForSize(path.join(S.dst.root, dir), 64 * KiB, { name: /\.fxpmirror-part$/, timeoutMs: 30_000 });
      await restartServer(killed === 'destination' ? S.dst : S.slow, { downMs: 3000 });
      const r = await run;
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.deepEqual(s.failures, []);
      assert.equal(s.files.transferred, 16);
      assert.ok(!('relay' in s.modes), `no relay after a transient fault: ${JSON.stringify(s.modes)}`);
      assert.ok(s.warnings.some((w) => /unreachable \(.*\); its work waits for it/.test(w)), show(r));
      assert.ok(s.warnings.some((w) => /reachable again after [\d.]+ s; its work resumes/.test(w)), show(r));
      sameFiles(files(path.join(S.dst.root, dir)), want, 'destination vs source');
      // An immediate re-run transfers nothing and leaves the same tree.
      const again = await runCli(args);
      assert.equal(again.code, EXIT.OK, show(again));
      assert.equal(summaryOf(again).files.transferred, 0);
      sameFiles(files(path.join(S.dst.root, dir)), want, 're-run');
    });
  }

  test('a full destination fails fast with one line while the other target is synced; no part file is left', async () => {
    seed(S.src.root, 'fill', 8, 300 * KiB);
    const want = files(path.join(S.src.root, 'fill'));
    // No room left at all: proftpd then says so ("452 Transfer aborted. No space left on
    // device"); a disk that fills midway gets "451 … Input/output error", which does not
    // say why and stays transient (see the README's Faults section).
    const filler = fillDisk(S.full);
    try {
      const job = path.join(TMP, 'fill.yaml');
      const server = (s: LabServer) => `    url: ftp://${s.host}:${s.port}/\n    user: ${LAB_USER}\n    password: \${TT_PW}\n`;
      fs.writeFileSync(
        job,
        `version: 1\nservers:\n  src:\n${server(S.src)}  ok:\n${server(S.ok)}  full:\n${server(S.full)}` +
          `jobs:\n  - name: fill\n    from: src:/fill\n    to: [ok:/fill, full:/fill]\n    parallel: 1\n`,
      );
      const t0 = Date.now();
      const r = await runCli(['run', job, '--json', '--lock-dir', path.join(TMP, 'locks')], { env: { TT_PW: LAB_PASSWORD }, timeoutMs: 120_000 });
      assert.equal(r.code, EXIT.PARTIAL, show(r));
      // Without the stop, each of 7 files would be retried for 31 s.
      assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
      const [result] = JSON.parse(r.stdout) as { targets: { target: string; summary: MirrorSummary }[] }[];
      const ok = result.targets.find((t) => t.target.startsWith('ok:'))!.summary;
      const full = result.targets.find((t) => t.target.startsWith('full:'))!.summary;
      assert.deepEqual(ok.failures, []);
      sameFiles(files(path.join(S.ok.root, 'fill')), want, 'the healthy target');

      assert.equal(full.files.transferred, 0);
      assert.equal(full.files.failed, 8);
      assert.deepEqual(full.failures.map((f) => f.code), Array(8).fill('EFULL'));
      assert.match(full.failures[0].message, /452 Transfer aborted\. No space left on device/);
      for (const f of full.failures.slice(1)) assert.match(f.message, /^destination full: full:\/fill: .*: not sent$/);
      const lines = r.stderr.split('\n').filter((l) => /destination full/.test(l));
      assert.equal(lines.length, 1, r.stderr);
      assert.deepEqual(full.warnings.filter((w) => /destination full/.test(w)).length, 1);
      // Nothing more was tried after the first refusal: proftpd saw STOR for one file only.
      const stored = new Set(fs.readFileSync(S.full.logFile, 'utf8').split('\n').flatMap((l) => /"STOR (\S+)"/.exec(l)?.[1] ?? []));
      assert.equal(stored.size, 1, `STOR paths: ${[...stored].join(', ')}`);
      files(path.join(S.full.root, 'fill'));
    } finally {
      filler.release();
    }
  });

  test('stale part files on the destination are removed and reported; the remote lock directory is not; a dry run shows them', async () => {
    seed(S.src.root, 'parts', 4, 10 * KiB);
    const dst = path.join(S.dst.root, 'parts');
    await runCli(['mirror', urlOf(S.src, 'parts'), urlOf(S.dst, 'parts')]);
    writeLabFile(path.join(dst, '.f1.bin.fxpmirror-part'), 'half of f1', T0);
    writeLabFile(path.join(dst, 'sub/.gone.bin.fxpmirror-part'), 'left by a killed run', T0);
    writeLabFile(path.join(dst, '.fxpmirror-lock.fxpmirror-part/owner'), 'someone else', T0);
    const before = files(dst, { parts: 'allow' });

    const plan = await runCli(['mirror', urlOf(S.src, 'parts'), urlOf(S.dst, 'parts'), '--dry-run']);
    assert.equal(plan.code, EXIT.OK, show(plan));
    assert.match(plan.stdout, /^delete +\.f1\.bin\.fxpmirror-part {2}\(stale part file\)$/m);
    assert.match(plan.stdout, /^delete +sub\/\.gone\.bin\.fxpmirror-part {2}\(stale part file\)$/m);
    assert.match(plan.stdout, /part files: +2 stale part files to remove/);
    sameFiles(files(dst, { parts: 'allow' }), before, 'dry run changed nothing');

    const logFile = path.join(TMP, 'parts.log');
    const r = await runCli(['mirror', urlOf(S.src, 'parts'), urlOf(S.dst, 'parts'), '--json', '--log-file', logFile, '--log-level', 'info']);
    assert.equal(r.code, EXIT.OK, show(r));
    const s = summaryOf(r);
    assert.deepEqual([...s.staleParts].sort(), ['.f1.bin.fxpmirror-part', 'sub/.gone.bin.fxpmirror-part']);
    assert.match(fs.readFileSync(logFile, 'utf8'), / delete \.f1\.bin\.fxpmirror-part stale-part$/m);
    const after = files(dst, { parts: 'allow' });
    assert.deepEqual([...after.keys()].filter((k) => k.includes('fxpmirror-part')), ['.fxpmirror-lock.fxpmirror-part/owner']);
    sameFiles(new Map([...after].filter(([k]) => !k.includes('fxpmirror-part'))), files(path.join(S.src.root, 'parts')), 'the mirror itself');
  });

  test('GNU inetutils ftpd as destination (no MFMT, SITE UTIME or MDTM with a time): the second run transfers nothing, one warning', async () => {
    seed(S.src.root, 'inet', 5, 4 * KiB);
    const first = await runCli(['mirror', urlOf(S.src, 'inet'), urlOf(S.inet, 'inet'), '--json']);
    assert.equal(first.code, EXIT.OK, show(first));
    assert.equal(summaryOf(first).files.transferred, 5);
    const want = files(path.join(S.src.root, 'inet'));
    sameFiles(files(path.join(S.inet.root, 'inet')), want, 'first run');
    const second = await runCli(['mirror', urlOf(S.src, 'inet'), urlOf(S.inet, 'inet'), '--json']);
    assert.equal(second.code, EXIT.OK, show(second));
    const s = summaryOf(second);
    assert.equal(s.files.transferred, 0, show(second));
    assert.equal(s.files.unchanged, 5);
    assert.equal(s.warnings.filter((w) => /cannot set modification times/.test(w)).length, 1, JSON.stringify(s.warnings));
    sameFiles(files(path.join(S.inet.root, 'inet')), want, 'second run');
  });
});
