import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDateOrAge, parseDuration, parseMaxDelete, parseSize } from '../../src/job/values.js';

const NOW = new Date('2024-06-01T00:00:00Z');

test('durations: units, bare seconds, and the timer ceiling', () => {
  assert.deepEqual(parseDuration('500ms'), { ok: true, value: 500 });
  assert.deepEqual(parseDuration('10s'), { ok: true, value: 10_000 });
  assert.deepEqual(parseDuration('2m'), { ok: true, value: 120_000 });
  assert.deepEqual(parseDuration(1.5), { ok: true, value: 1500 });
  assert.deepEqual(parseDuration('30'), { ok: true, value: 30_000 });
  assert.equal(parseDuration('-1s').ok, false);
  assert.equal(parseDuration('soon').ok, false);
});

test('sizes: binary letters, decimal B forms, never negative', () => {
  assert.deepEqual(parseSize('512'), { ok: true, value: 512 });
  assert.deepEqual(parseSize('10K'), { ok: true, value: 10_240 });
  assert.deepEqual(parseSize('10kB'), { ok: true, value: 10_000 });
  assert.deepEqual(parseSize('1.5GiB'), { ok: true, value: 1.5 * 1024 ** 3 });
  assert.deepEqual(parseSize('2 MB'), { ok: true, value: 2_000_000 });
  assert.deepEqual(parseSize(-3), { ok: false, message: 'must not be negative' });
});

test('dates and ages: ISO dates, and ages counted back from now', () => {
  assert.deepEqual(parseDateOrAge('2024-05-01T12:00:00Z', NOW), { ok: true, value: new Date('2024-05-01T12:00:00Z') });
  assert.deepEqual(parseDateOrAge('12h', NOW), { ok: true, value: new Date('2024-05-31T12:00:00Z') });
  assert.equal(parseDateOrAge('2024-13-45', NOW).ok, false);
});

test('maxDelete: counts and percentages, from text or a YAML number', () => {
  assert.deepEqual(parseMaxDelete('100'), { ok: true, value: { count: 100 } });
  assert.deepEqual(parseMaxDelete(0), { ok: true, value: { count: 0 } });
  assert.deepEqual(parseMaxDelete(' 7 '), { ok: true, value: { count: 7 } });
  assert.deepEqual(parseMaxDelete('10%'), { ok: true, value: { percent: 10 } });
  assert.deepEqual(parseMaxDelete('0%'), { ok: true, value: { percent: 0 } });
  assert.deepEqual(parseMaxDelete('100%'), { ok: true, value: { percent: 100 } });
  assert.deepEqual(parseMaxDelete('12.5%'), { ok: true, value: { percent: 12.5 } });
  assert.deepEqual(parseMaxDelete('5 %'), { ok: true, value: { percent: 5 } });
});

test('maxDelete: bad input is one line, never a throw', () => {
  for (const bad of ['', ' ', 'abc', '-1', '1.5', '101%', '%', '10%%', '1e3', '0x10', '10 0', '-5%', '99999999999999999999']) {
    const r = parseMaxDelete(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
    if (!r.ok) assert.ok(!r.message.includes('\n'), r.message);
  }
  assert.deepEqual(parseMaxDelete('150%'), { ok: false, message: 'percentage must be between 0% and 100%, got "150%"' });
  assert.deepEqual(parseMaxDelete('ten'), { ok: false, message: 'expected a count like "100" or a percentage like "10%", got "ten"' });
});
