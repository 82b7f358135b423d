/** loadJobFiles (directories of job files), did-you-mean, and the JSON schema file against schema.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic } from '../../src/job/reader.js';
import { loadJobFiles } from '../../src/job/job-files.js';
import { suggest } from '../../src/job/did-you-mean.js';
import {
  DEFAULTS_KEYS,
  JOB_KEYS,
  MIRROR_OPTION_KEYS,
  SERVER_KEYS,
  TIMEOUT_KEYS,
  TOP_LEVEL_KEYS,
  buildJsonSchema,
} from '../../src/job/schema.js';
import type { RuleSet } from '../../src/job/schema.js';
import { DEFAULT_MIRROR_OPTIONS } from '../../src/tree/options.js';
import { ROOT, twoServers } from './job-load-fixtures.js';

test('loadJobFiles: directories sorted, $NETRC, duplicate names across files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-jobs-'));
  const saved = process.env.NETRC;
  try {
    writeFileSync(join(dir, 'netrc'), 'machine a.example login nuser password npass\n', { mode: 0o600 });
    process.env.NETRC = join(dir, 'netrc');
    const file = (name: string): string => twoServers().replace('name: j', `name: ${name}`);
    writeFileSync(join(dir, 'b.yaml'), file('second'));
    writeFileSync(join(dir, 'a.yml'), file('first'));
    writeFileSync(join(dir, 'notes.txt'), 'not a job file');
    const ok = await loadJobFiles([dir]);
    assert.deepEqual(ok.diagnostics, []);
    assert.deepEqual(ok.jobs.map((j) => [j.name, j.file]), [
      ['first', join(dir, 'a.yml')],
      ['second', join(dir, 'b.yaml')],
    ]);
    assert.equal(ok.jobs[0].from.server.user, 'nuser');
    assert.equal(ok.jobs[0].from.server.password, 'npass');

    const dupe = join(dir, 'dupe.yaml');
    writeFileSync(dupe, file('first'));
    const r = await loadJobFiles([dir]);
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
      `${dupe}:8:11: duplicate job name 'first' (first defined at ${join(dir, 'a.yml')}:8:11)`,
    ]);
    assert.deepEqual(r.jobs.map((j) => j.name), ['first', 'second']);

    const missing = await loadJobFiles([join(dir, 'nope.yaml')]);
    assert.deepEqual(missing.diagnostics.map(formatDiagnostic), [
      `${join(dir, 'nope.yaml')}:1:1: cannot read job file: no such file or directory`,
    ]);
  } finally {
    if (saved === undefined) delete process.env.NETRC;
    else process.env.NETRC = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('did-you-mean ignores case and separators and gives up on far-off words', () => {
  assert.equal(suggest('max-delete', Object.keys(JOB_KEYS)), 'maxDelete');
  assert.equal(suggest('Parallel', Object.keys(JOB_KEYS)), 'parallel');
  assert.equal(suggest('colour', Object.keys(JOB_KEYS)), undefined);
});

// ---------------------------------------------------------------------------
// jobs/fxpmirror.schema.json must say exactly what schema.ts says.

type JsonObj = Record<string, unknown>;

function enumsIn(schema: unknown, root: JsonObj): string[] | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as JsonObj;
  if (Array.isArray(s.enum)) return s.enum as string[];
  if (typeof s.$ref === 'string') return enumsIn(resolveRef(root, s.$ref), root);
  for (const k of ['anyOf', 'allOf', 'oneOf']) {
    for (const sub of (s[k] as unknown[] | undefined) ?? []) {
      const e = enumsIn(sub, root);
      if (e) return e;
    }
  }
  return undefined;
}

function resolveRef(root: JsonObj, ref: string): JsonObj {
  let cur: unknown = root;
  for (const part of ref.replace(/^#\//, '').split('/')) cur = (cur as JsonObj)[part];
  return cur as JsonObj;
}

test('the JSON schema file lists exactly the keys and enums of schema.ts', () => {
  const file = JSON.parse(readFileSync(new URL('jobs/fxpmirror.schema.json', ROOT), 'utf8')) as JsonObj;
  const defs = file.definitions as Record<string, JsonObj>;
  const check = (props: unknown, rules: RuleSet, where: string): void => {
    const p = props as Record<string, unknown>;
    assert.deepEqual(Object.keys(p).sort(), Object.keys(rules).sort(), `keys of ${where}`);
    for (const [key, rule] of Object.entries(rules)) {
      assert.deepEqual(enumsIn(p[key], file), rule.values ? [...rule.values] : undefined, `enum of ${where}.${key}`);
      assert.equal((p[key] as JsonObj).description, rule.description, `description of ${where}.${key}`);
    }
  };
  check(file.properties, TOP_LEVEL_KEYS, 'top level');
  check(defs.server.properties, SERVER_KEYS, 'server');
  check(defs.timeouts.properties, TIMEOUT_KEYS, 'timeouts');
  check(defs.defaults.properties, DEFAULTS_KEYS, 'defaults');
  check(defs.job.properties, JOB_KEYS, 'job');
  for (const d of ['server', 'timeouts', 'defaults', 'job']) assert.equal(defs[d].additionalProperties, false);
  // Every MirrorOptions field is a job key (the mapped type enforces it at compile time too).
  for (const k of Object.keys(DEFAULT_MIRROR_OPTIONS)) assert.ok(k in MIRROR_OPTION_KEYS && k in JOB_KEYS, k);
  // And the whole file is exactly what the generator produces (regenerate: see schema.ts).
  assert.deepEqual(file, JSON.parse(JSON.stringify(buildJsonSchema())));
});
