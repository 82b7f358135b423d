/**
 * Job file bounds (src/job/limits.ts): a file too big or nested too deep is
 * one positioned error, found in milliseconds, before the YAML parser (which
 * recurses per level and holds the whole tree) sees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_FILE_MAX_BYTES, JOB_FILE_MAX_DEPTH, excessiveNesting } from '../../src/job/limits.js';
import { loadJobText } from '../../src/job/load.js';
import { loadJobFiles } from '../../src/job/job-files.js';
import { formatDiagnostic } from '../../src/job/reader.js';
import { parseDuration } from '../../src/job/values.js';

const ROOT = new URL('../../../', import.meta.url);

function depth(text: string): number {
  let d = 0;
  while (excessiveNesting(text, d) !== undefined) d++;
  return d;
}

test('nesting is counted for block maps, block lists, compact lists and flow collections', () => {
  assert.equal(depth('a: 1\n'), 1);
  assert.equal(depth('a:\n  b:\n    c: 1\n'), 3);
  assert.equal(depth('- - - x\n'), 4);
  assert.equal(depth('a: [1, [2, [3]]]\n'), 4);
  // Brackets inside scalars and block scalar bodies are text.
  assert.equal(depth('a: "[[[[["\nb: x[[[[\nc: |\n  [[[[[[\n      deep text\n'), 1);
  assert.equal(depth('a:\n  b: |\n    x\n          y\n  c: 1\n'), 2);
  // The shipped job files nest five levels or less.
  for (const f of ['demo.yaml', 'nightly.yaml', 'fan-out.yaml']) {
    assert.ok(depth(readFileSync(new URL(`jobs/${f}`, ROOT), 'utf8')) <= 5, f);
  }
});

test('3,000 levels (block, compact, flow): one file:line:col error, in milliseconds', () => {
  const cases: [string, string, string][] = [
    ['compact lists', `version: 1\njobs:\n  - ${'- '.repeat(3000)}x\n`, 'deep.yaml:3:101'],
    ['flow lists', `version: 1\njobs: ${'['.repeat(3000)}${']'.repeat(3000)}\n`, 'deep.yaml:2:56'],
    ['flow maps', `version: 1\njobs: ${'{a: '.repeat(3000)}1${'}'.repeat(3000)}\n`, 'deep.yaml:2:'],
    // Block maps 3,000 deep need 4.5 MB of indentation: the size bound stops them; 60 levels are under it.
    ['block maps', `version: 1\nservers:\n${Array.from({ length: 60 }, (_, i) => `${' '.repeat(i + 2)}k${i}:\n`).join('')}`, 'deep.yaml:'],
  ];
  for (const [name, text, where] of cases) {
    const t0 = process.hrtime.bigint();
    const r = loadJobText(text, 'deep.yaml', {});
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(r.diagnostics.length, 1, `${name}: ${r.diagnostics.map(formatDiagnostic).join('\n')}`);
    const line = formatDiagnostic(r.diagnostics[0]);
    assert.ok(line.startsWith(where), `${name}: ${line}`);
    assert.match(line, new RegExp(`^deep\\.yaml:\\d+:\\d+: mappings and lists nested more than ${JOB_FILE_MAX_DEPTH} levels deep`));
    assert.deepEqual(r.jobs, []);
    assert.ok(ms < 200, `${name}: ${ms} ms`);
  }
});

test('a job file over 1 MiB (50 MB here) is refused before it is read; so is a device that never ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-limits-'));
  try {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `version: 1\njobs:\n${'  - name: x\n'.repeat(Math.ceil((50 * 1024 * 1024) / 12))}`);
    const t0 = Date.now();
    const r = await loadJobFiles([big, '/dev/zero']);
    assert.ok(Date.now() - t0 < 500, `${Date.now() - t0} ms`);
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
      `${big}:1:1: the job file is larger than 1 MiB: is it the right file?`,
      '/dev/zero:1:1: the job file is larger than 1 MiB: is it the right file?',
    ]);
    // The same bound for text handed in directly.
    const text = loadJobText('#'.repeat(JOB_FILE_MAX_BYTES + 1), 't.yaml', {});
    assert.deepEqual(text.diagnostics.map(formatDiagnostic), ['t.yaml:1:1: the job file is larger than 1 MiB: is it the right file?']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('durations: at most what a timer can hold (2^31-1 ms, about 24 days)', () => {
  assert.deepEqual(parseDuration('24d'), { ok: true, value: 24 * 86_400_000 });
  for (const v of ['25d', 1e12, '1e12']) {
    const r = parseDuration(v);
    assert.equal(r.ok, false, String(v));
  }
  assert.deepEqual(parseDuration(1e9), { ok: false, message: 'must be at most 2147483647 ms (about 24 days, the longest timer Node.js can set)' });
  const r = loadJobText(
    'version: 1\nservers:\n  a:\n    url: ftp://a.example/\n    timeouts: { connect: 1000000000 }\n  b:\n    url: ftp://b.example/\njobs:\n  - name: j\n    from: a:/x\n    to: b:/y\n    remoteLockTtl: 30d\n',
    'd.yaml',
    {},
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "d.yaml:5:26: 'timeouts.connect' must be at most 2147483647 ms (about 24 days, the longest timer Node.js can set)",
    "d.yaml:12:20: 'remoteLockTtl' must be at most 2147483647 ms (about 24 days, the longest timer Node.js can set)",
  ]);
});
