import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { addSecret, createLogger, formatBytes, isoLocalTime, redactSecrets, streamSink, type LogLevel } from '../../src/cli/log.js';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '') };
}

const T = new Date(2024, 5, 1, 12, 0, 1); // local time: the text format prints local clock time

test('json: one object per line with time, level, job, event and the fields', () => {
  const out = capture();
  const log = createLogger({ sinks: [streamSink(out.stream, 'json', 'info')], now: () => T }).child({ job: 'debian' });
  log.log({ level: 'info', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp', server: 'up' });
  log.log({ level: 'warn', event: 'retry', message: 'line one\nline two', attempt: 2 });
  log.child({ target: 'eu:/pub' }).log({ level: 'info', event: 'delete', path: 'x' });
  const objs = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objs, [
    { time: isoLocalTime(T), level: 'info', job: 'debian', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp', server: 'up' },
    { time: isoLocalTime(T), level: 'warn', job: 'debian', event: 'retry', message: 'line one\nline two', attempt: 2 },
    { time: isoLocalTime(T), level: 'info', job: 'debian', target: 'eu:/pub', event: 'delete', path: 'x' },
  ]);
  assert.deepEqual(Object.keys(objs[0]).slice(0, 4), ['time', 'level', 'job', 'event']);
  assert.deepEqual(Object.keys(objs[2]).slice(0, 5), ['time', 'level', 'job', 'target', 'event']);
  // The same instant, whatever the reader's zone.
  assert.equal(Date.parse(String(objs[0].time)), T.getTime());
});

test('text: human lines, one per event; clock time on a terminal, ISO 8601 with offset elsewhere', () => {
  const out = capture();
  const log = createLogger({ sinks: [streamSink(out.stream, 'text', 'info', true)], now: () => T });
  log.log({ level: 'info', event: 'transfer', path: 'docs/a.txt', bytes: 4096, mode: 'fxp' });
  log.child({ job: 'j' }).log({ level: 'error', event: 'failed', path: 'x', message: 'boom\r\nforged line', code: 'EFTPREPLY' });
  log.child({ job: 'j', target: 'eu:/pub' }).log({ level: 'info', event: 'delete', path: 'y' });
  log.log({ level: 'info', event: 'summary', message: 'ok: 3 transferred', files: { transferred: 3 }, modes: { fxp: 3 }, durationMs: 5 });
  assert.deepEqual(out.lines(), [
    '12:00:01 info  transfer docs/a.txt 4.0 KiB fxp',
    '12:00:01 error [j] failed x boom forged line code=EFTPREPLY',
    '12:00:01 info  [j eu:/pub] delete y',
    // Structured values stay in the JSON format; a text line says it in its message.
    '12:00:01 info  summary ok: 3 transferred durationMs=5',
  ]);
  const file = capture();
  createLogger({ sinks: [streamSink(file.stream, 'text', 'info')], now: () => T }).log({ level: 'warn', event: 'x' });
  const [line] = file.lines();
  assert.match(line, /^2024-06-01T12:00:01\.000[+-]\d\d:\d\d warn {2}x$/);
  assert.equal(Date.parse(line.split(' ')[0]), T.getTime());
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(5 * 1024 * 1024 + 100), '5.0 MiB');
});

test('levels: each sink writes from its own level up', () => {
  const events = (['debug', 'info', 'warn', 'error'] as const).map((level) => ({ level, event: level }));
  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const outs = levels.map(() => capture());
  const log = createLogger({ sinks: levels.map((l, i) => streamSink(outs[i].stream, 'json', l)) });
  for (const e of events) log.log(e);
  const got = outs.map((o) => o.lines().map((l) => (JSON.parse(l) as { event: string }).event));
  assert.deepEqual(got, [['debug', 'info', 'warn', 'error'], ['info', 'warn', 'error'], ['warn', 'error'], ['error']]);
});

test('isoLocalTime: ISO 8601 with the local offset, the same instant', () => {
  const t = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 67));
  const s = isoLocalTime(t);
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  assert.equal(Date.parse(s), t.getTime());
});

test('secrets never appear: message, path, URL, extra fields, errors, both formats', () => {
  const secret = 'S3cr3t:p@ss/word';
  addSecret(secret);
  for (const format of ['json', 'text'] as const) {
    const out = capture();
    const log = createLogger({ sinks: [streamSink(out.stream, format, 'info')], fields: { server: `ftp://u:${secret}@h/` } });
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


test('a short secret is masked where it stands apart, not inside a longer word', () => {
  addSecret('p');
  addSecret('pw1');
  assert.equal(redactSecrets('--lock-dir /etc/passwd: not a directory'), '--lock-dir /etc/passwd: not a directory');
  assert.equal(redactSecrets('ftp://u:p@host/ and PASS p and "pw1"'), 'ftp://u:***@host/ and PASS *** and "***"');
  assert.equal(redactSecrets('pw1x xpw1 pw1'), 'pw1x xpw1 ***');
});
