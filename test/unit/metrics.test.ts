import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetrics, writeMetricsFile } from '../../src/job/metrics.js';
import type { JobMetrics } from '../../src/job/metrics.js';

const OK: JobMetrics = {
  job: 'debian',
  lastRunTimestamp: 1717200000,
  lastSuccessTimestamp: 1717200000,
  files: 12,
  bytes: 4096,
  failures: 0,
  durationSeconds: 42.5,
  success: true,
};

/** The text writeMetricsFile gives these jobs in a new file. */
async function rendered(jobs: JobMetrics[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-metrics-'));
  try {
    await writeMetricsFile(join(dir, 'fxpmirror.prom'), jobs);
    return readFileSync(join(dir, 'fxpmirror.prom'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('renders HELP/TYPE once per family and one sample per job, sorted', async () => {
  const text = await rendered([OK, { ...OK, job: 'a-first', lastSuccessTimestamp: undefined, success: false, failures: 3 }]);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.filter((l) => l.startsWith('# TYPE')).length, 7);
  assert.ok(lines.every((l) => l.startsWith('# ') || /^fxpmirror_[a-z_]+\{job="[^"]*"\} \S+$/.test(l)));
  const block = (name: string): string[] => {
    const i = lines.indexOf(`# TYPE ${name} gauge`);
    assert.ok(i > 0 && lines[i - 1].startsWith(`# HELP ${name} `), name);
    const out: string[] = [];
    for (let j = i + 1; j < lines.length && !lines[j].startsWith('#'); j++) out.push(lines[j]);
    return out;
  };
  assert.deepEqual(block('fxpmirror_last_run_timestamp_seconds'), [
    'fxpmirror_last_run_timestamp_seconds{job="a-first"} 1717200000',
    'fxpmirror_last_run_timestamp_seconds{job="debian"} 1717200000',
  ]);
  // A failed run without a known last success has no sample.
  assert.deepEqual(block('fxpmirror_last_success_timestamp_seconds'), [
    'fxpmirror_last_success_timestamp_seconds{job="debian"} 1717200000',
  ]);
  assert.deepEqual(block('fxpmirror_files_transferred'), ['fxpmirror_files_transferred{job="a-first"} 12', 'fxpmirror_files_transferred{job="debian"} 12']);
  assert.deepEqual(block('fxpmirror_bytes_transferred')[1], 'fxpmirror_bytes_transferred{job="debian"} 4096');
  assert.deepEqual(block('fxpmirror_failures'), ['fxpmirror_failures{job="a-first"} 3', 'fxpmirror_failures{job="debian"} 0']);
  assert.deepEqual(block('fxpmirror_duration_seconds')[1], 'fxpmirror_duration_seconds{job="debian"} 42.5');
  assert.deepEqual(block('fxpmirror_success'), ['fxpmirror_success{job="a-first"} 0', 'fxpmirror_success{job="debian"} 1']);
});

test('label values are escaped and read back', async () => {
  const name = 'we"ird\\job\nname';
  const text = await rendered([{ ...OK, job: name }]);
  assert.ok(text.includes('fxpmirror_success{job="we\\"ird\\\\job\\nname"} 1'));
  assert.equal(text.split('\n').filter((l) => l.startsWith('fxpmirror_success')).length, 1);
  assert.equal(parseMetrics(text).get(name)?.get('fxpmirror_files_transferred'), 12);
});

test('a successful run without an explicit last-success time uses its run time', async () => {
  const text = await rendered([{ ...OK, lastSuccessTimestamp: undefined, lastRunTimestamp: 1717300000 }]);
  assert.ok(text.includes('fxpmirror_last_success_timestamp_seconds{job="debian"} 1717300000'));
});

test('writeMetricsFile: atomic write, merge with other jobs, keep last success on failure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-metrics-'));
  const path = join(dir, 'fxpmirror.prom');
  try {
    await writeMetricsFile(path, [OK, { ...OK, job: 'other', files: 7 }]);
    assert.equal(readFileSync(path, 'utf8'), await rendered([OK, { ...OK, job: 'other', files: 7 }]));

    // debian fails later: its last success stays, "other" keeps its lines.
    const failed: JobMetrics = { job: 'debian', lastRunTimestamp: 1717286400, files: 1, bytes: 10, failures: 2, durationSeconds: 3, success: false };
    await writeMetricsFile(path, [failed]);
    const samples = parseMetrics(readFileSync(path, 'utf8'));
    assert.equal(samples.get('debian')?.get('fxpmirror_last_success_timestamp_seconds'), 1717200000);
    assert.equal(samples.get('debian')?.get('fxpmirror_last_run_timestamp_seconds'), 1717286400);
    assert.equal(samples.get('debian')?.get('fxpmirror_success'), 0);
    assert.equal(samples.get('debian')?.get('fxpmirror_failures'), 2);
    assert.equal(samples.get('other')?.get('fxpmirror_files_transferred'), 7);
    assert.equal(readFileSync(path, 'utf8'), await rendered([{ ...failed, lastSuccessTimestamp: 1717200000 }, { ...OK, job: 'other', files: 7 }]));

    // No temp or lock files are left behind.
    assert.deepEqual(readdirSync(dir), ['fxpmirror.prom']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeMetricsFile: concurrent writers do not lose each other\'s jobs; foreign lines are dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-metrics-'));
  const path = join(dir, 'm.prom');
  try {
    writeFileSync(path, '# a comment\nsomething_else{job="x"} 1\n');
    await Promise.all(['a', 'b', 'c', 'd'].map((job) => writeMetricsFile(path, [{ ...OK, job }])));
    const text = readFileSync(path, 'utf8');
    assert.deepEqual([...parseMetrics(text).keys()].sort(), ['a', 'b', 'c', 'd']);
    assert.ok(!text.includes('something_else'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
