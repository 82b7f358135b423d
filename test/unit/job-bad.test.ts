/**
 * Every file in test/fixtures/bad-jobs/ with the exact diagnostics it must
 * produce. The validator reports all problems of a file in reading order,
 * each at the key or value it is about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';

import { ENV, EXPECTED, NOW } from '../fixtures/bad-jobs/expected.js';

const DIR = new URL('../../../test/fixtures/bad-jobs/', import.meta.url);

test('the table covers every fixture file, and there are at least 20', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 20, `only ${files.length} bad job files`);
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`bad job file ${name}`, () => {
    const file = `test/fixtures/bad-jobs/${name}`;
    const r = loadJobText(readFileSync(new URL(name, DIR), 'utf8'), file, ENV, { now: NOW });
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), expected);
    assert.ok(r.diagnostics.some((d) => d.severity === 'error'), 'a bad file must have at least one error');
    assert.deepEqual(r.jobs, [], 'a file with errors yields no jobs');
  });
}

test('a URL error never shows the password from the URL', () => {
  const r = loadJobText(readFileSync(new URL('bad-url.yaml', DIR), 'utf8'), 'bad-url.yaml', ENV);
  assert.ok(r.diagnostics.length > 0);
  for (const d of r.diagnostics) assert.doesNotMatch(d.message, /hunter2/);
});
