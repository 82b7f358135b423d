import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { addSecret, createLogger, formatBytes, nullLogger, redactSecrets } from '../../src/cli/log.js';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '') };
}

const T = new Date(2024, 5, 1, 12, 0, 1); // local time: the text format prints local clock time

test('json: one object per line with time, level, job, event and the fields', () => {
  const out = capture();
  const log = createLogger({ format: 'json', stream: out.stream, now: () => T }).child({ job: 'debian' });
  log.log({ level: 'info', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp', server: 'up' });
  log.log({ level: 'warn', event: 'retry', message: 'line one\nline two', attempt: 2 });
  const objs = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objs, [
    { time: T.toISOString(), level: 'info', job: 'debian', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp', server: 'up' },
    { time: T.toISOString(), level: 'warn', job: 'debian', event: 'retry', message: 'line one\nline two', attempt: 2 },
  ]);
  assert.deepEqual(Object.keys(objs[0]).slice(0, 4), ['time', 'level', 'job', 'event']);
});

test('text: human lines, one per event', () => {
  const out = capture();
  const log = createLogger({ format: 'text', stream: out.stream, now: () => T });
  log.log({ level: 'info', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp' });
  log.child({ job: 'j' }).log({ level: 'error', event: 'failed', path: 'x', message: 'boom\r\nforged line', code: 'EFTPREPLY' });
  assert.deepEqual(out.lines(), [
    '12:00:01 info  transfer docs/a.txt 4.0 KiB fxp',
    '12:00:01 error [j] failed x boom forged line code=EFTPREPLY',
  ]);
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(5 * 1024 * 1024 + 100), '5.0 MiB');
});

test('levels: quiet shows only errors, verbose adds debug', () => {
  const events = (['debug', 'info', 'warn', 'error'] as const).map((level) => ({ level, event: level }));
  const run = (opts: { quiet?: boolean; verbose?: boolean }): string[] => {
    const out = capture();
    const log = createLogger({ format: 'json', stream: out.stream, ...opts });
    for (const e of events) log.log(e);
    return out.lines().map((l) => (JSON.parse(l) as { event: string }).event);
  };
  assert.deepEqual(run({}), ['info', 'warn', 'error']);
  assert.deepEqual(run({ quiet: true }), ['error']);
  assert.deepEqual(run({ verbose: true }), ['debug', 'info', 'warn', 'error']);
  assert.deepEqual(run({ quiet: true, verbose: true }), ['error']);
});

test('secrets never appear: message, path, URL, extra fields, errors, both formats', () => {
  const secret = 'S3cr3t:p@ss/word';
  addSecret(secret);
  for (const format of ['json', 'text'] as const) {
    const out = capture();
    const log = createLogger({ format, stream: out.stream, fields: { server: `ftp://u:${secret}@h/` } });
    log.log({ level: 'error', event: 'login', message: `PASS ${secret} refused`, path: `/home/${secret}/x` });
    log.log({ level: 'info', event: 'url', message: `ftp://mirror:${encodeURIComponent(secret)}@host/pub` });
    log.log({ level: 'info', event: 'url2', message: 'ftp://mirror:other-pw@host/pub' });
    log.log({ level: 'error', event: 'err', error: new Error(`reply: ${secret}`), nested: { list: [secret] } });
    const text = out.lines().join('\n');
    assert.equal(out.lines().length, 4);
    assert.ok(!text.includes(secret), format);
    assert.ok(!text.includes(encodeURIComponent(secret)), format);
    assert.ok(!text.includes('other-pw'), `${format}: URL passwords are redacted even when not registered`);
    assert.ok(text.includes('***'));
  }
  assert.equal(redactSecrets(`x${secret}y`), 'x***y');
});

test('nullLogger accepts events and children silently', () => {
  nullLogger.log({ level: 'error', event: 'x' });
  assert.equal(nullLogger.child({ job: 'a' }), nullLogger);
});
