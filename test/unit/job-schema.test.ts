/**
 * jobs/fxpmirror.schema.json checked with a standard JSON Schema validator
 * (ajv, draft-07, strict) next to `fxpmirror validate`: every shipped example
 * passes both; on every broken file they flag the same lines, except for the
 * few checks a schema cannot make (ONLY_VALIDATE below), which only validate
 * makes. test/integration/jobs.test.ts holds the real CLI to the same
 * diagnostics as loadJobText, so loadJobText stands for validate here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, isMap, isSeq, parseDocument, type Node } from 'yaml';
import { loadJobText } from '../../src/job/load.js';
import { ENV, NOW } from '../fixtures/bad-jobs/expected.js';

const ROOT = new URL('../../../', import.meta.url);
const JOBS = new URL('jobs/', ROOT);
const BAD = new URL('test/fixtures/bad-jobs/', ROOT);

const schema = JSON.parse(readFileSync(new URL('fxpmirror.schema.json', JOBS), 'utf8')) as object;
// strict: an unknown keyword or an ambiguous type in the schema is an error, not a silent pass.
const check = new Ajv({ allErrors: true, strict: true }).compile(schema);

const yamlFiles = (dir: URL) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

/**
 * Lines of the broken files that `validate` flags and the schema cannot, and
 * why. Everything else `validate` flags, ajv flags on the same line.
 */
const ONLY_VALIDATE: Record<string, { lines: number[]; why: string }> = {
  'bad-durations-sizes.yaml': { lines: [7], why: 'a timeout of 0 (a duration may be 0 elsewhere)' },
  'bad-maxdelete.yaml': { lines: [14], why: 'a percentage over 100%' },
  'bad-url.yaml': { lines: [6, 8], why: "the URL past its scheme: a missing host, a port over 65535" },
  'duplicate-names.yaml': { lines: [14], why: 'job names unique across the file' },
  'missing-env.yaml': { lines: [6, 8, 12, 13], why: 'an environment variable that is not set' },
  'negative-sizes.yaml': { lines: [16], why: 'minSize larger than maxSize' },
  'to-equals-from.yaml': { lines: [10, 13], why: "a target equal to the source, or named twice" },
  'unknown-server.yaml': { lines: [9, 10], why: "a from/to naming a server that 'servers' does not define" },
};

/** Not YAML a schema can be applied to: the YAML parser (an editor's too) rejects them first; validate names the line. */
const NOT_PARSED = ['duplicate-key.yaml', 'invalid-yaml.yaml', 'multiple-documents.yaml', 'tab-indent.yaml'];

/** The line of the YAML node an ajv error is about (the key's line for a key error). */
function errorLine(doc: ReturnType<typeof parseDocument>, lines: LineCounter, e: ErrorObject): number {
  const path = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as { additionalProperty?: string; propertyName?: string };
  const key = params.additionalProperty ?? params.propertyName ?? (e as { propertyName?: string }).propertyName;
  let node: unknown = doc.contents;
  let at: Node | undefined = doc.contents ?? undefined;
  for (const seg of [...path, ...(key === undefined ? [] : [key])]) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value) === seg);
      at = (pair?.key as Node | undefined) ?? at;
      node = pair?.value;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)];
      at = (node as Node | undefined) ?? at;
    }
  }
  return lines.linePos(at?.range?.[0] ?? 0).line;
}

/** Lines flagged by validate (errors only) and by ajv, or undefined for ajv when the YAML does not parse. */
function compare(text: string, file: string, env: Record<string, string>): { validate: number[]; ajv?: number[] } {
  const validate = [...new Set(loadJobText(text, file, env, { now: NOW }).diagnostics.filter((d) => d.severity === 'error').map((d) => d.line))];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) return { validate: validate.sort((a, b) => a - b) };
  const ajv = check(doc.toJS()) ? [] : [...new Set((check.errors ?? []).map((e) => errorLine(doc, lines, e)))];
  return { validate: validate.sort((a, b) => a - b), ajv: ajv.sort((a, b) => a - b) };
}

/** Every ${NAME} a file uses, each set to a value of the right form for where it is used. */
function envFor(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*([A-Za-z]+):\s*\$\{([A-Za-z_][A-Za-z0-9_]*)\}/gm)) env[m[2]] = m[1] === 'url' ? 'ftp://127.0.0.1:2121/' : 'value';
  return env;
}

test('every shipped example is valid for ajv and for validate, ${VAR} values included', () => {
  const files = yamlFiles(JOBS);
  assert.deepEqual(files, ['demo.yaml', 'fan-out.yaml', 'nightly.yaml']);
  for (const f of files) {
    const text = readFileSync(new URL(f, JOBS), 'utf8');
    assert.deepEqual(compare(text, `jobs/${f}`, envFor(text)), { validate: [], ajv: [] }, f);
  }
  // demo.yaml is the case the schema used to reject: `url: ${DEMO_SRC_URL}`.
  assert.match(readFileSync(new URL('demo.yaml', JOBS), 'utf8'), /^ {4}url: \$\{DEMO_SRC_URL\}$/m);
});

test('fxpmirror validate jobs/: exit 0 with the variables set; without them only validate sees a problem', () => {
  const bin = fileURLToPath(new URL('bin/fxpmirror', ROOT));
  const texts = yamlFiles(JOBS).map((f) => readFileSync(new URL(f, JOBS), 'utf8'));
  const vars = Object.assign({}, ...texts.map(envFor)) as Record<string, string>;
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', NETRC: '/dev/null' };
  const cwd = fileURLToPath(ROOT);
  const ok = spawnSync(process.execPath, [bin, 'validate', 'jobs/'], { cwd, env: { ...base, ...vars }, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);

  const unset = spawnSync(process.execPath, [bin, 'validate', 'jobs/'], { cwd, env: base, encoding: 'utf8' });
  assert.equal(unset.status, 2, unset.stdout + unset.stderr);
  const problems = (unset.stdout + unset.stderr).split('\n').filter((l) => /^jobs\/.*:\d+:\d+: /.test(l));
  const missing = problems.map((p) => /environment variable '(\w+)' is not set/.exec(p)?.[1]);
  assert.deepEqual([...new Set(missing)].sort(), Object.keys(vars).sort(), problems.join('\n'));
  // ajv has nothing to say about the same files: it sees the text before substitution.
  for (const t of texts) assert.equal(check(parseDocument(t).toJS()), true);
});

test('broken files: ajv and validate flag the same lines, except the checks only validate can make', () => {
  const files = yamlFiles(BAD);
  assert.ok(files.length >= 20, `${files.length} broken files`);
  const agree: string[] = [];
  for (const f of files) {
    const got = compare(readFileSync(new URL(f, BAD), 'utf8'), f, ENV);
    assert.ok(got.validate.length > 0, `${f}: validate must reject it`);
    if (NOT_PARSED.includes(f)) {
      assert.equal(got.ajv, undefined, `${f}: expected a YAML error`);
      continue;
    }
    assert.ok(got.ajv, `${f}: does not parse`);
    const only = ONLY_VALIDATE[f]?.lines ?? [];
    assert.deepEqual(got.ajv, got.validate.filter((l) => !only.includes(l)), `${f}: lines ajv flags`);
    if (only.length === 0) agree.push(f);
  }
  // Every broken file is accounted for, and most of them are caught by the schema alone.
  assert.deepEqual([...agree, ...Object.keys(ONLY_VALIDATE), ...NOT_PARSED].sort(), files);
  assert.ok(agree.length >= 14, `ajv agrees with validate on ${agree.length} files: ${agree.join(', ')}`);
  // Files ajv accepts outright: only cross-references and the environment are wrong in them.
  const accepted = files.filter((f) => !NOT_PARSED.includes(f) && compare(readFileSync(new URL(f, BAD), 'utf8'), f, ENV).ajv?.length === 0);
  assert.deepEqual(accepted, ['duplicate-names.yaml', 'missing-env.yaml', 'to-equals-from.yaml', 'unknown-server.yaml']);
});

test('${VAR} anywhere in a string is accepted by the schema; "$${" (a literal "${") is not a reference', () => {
  const job = (server: string, extra = '') => `version: 1
servers:
  a:
${server}
  b:
    url: ftp://b.example/
jobs:
  - name: x
    from: a:/pub
    to: b:/pub
${extra}`;
  const cases: [string, string, Record<string, string>, boolean][] = [
    ['whole url', job('    url: ${A_URL}'), { A_URL: 'ftpes://a.example/' }, true],
    ['part of a url', job('    url: ftp://${A_HOST}:2121/'), { A_HOST: 'a.example' }, true],
    ['fingerprint', job('    url: ftps://a.example/\n    fingerprint: ${A_FP}'), { A_FP: 'ab'.repeat(32) }, true],
    ['endpoint', job('    url: ftp://a.example/', '    exclude: ["${SKIP}"]').replace('from: a:/pub', 'from: ${SRC}'), { SRC: 'a:/pub', SKIP: '*.tmp' }, true],
    ['integer', job('    url: ftp://a.example/\n    maxConnections: ${N}'), { N: '2' }, true],
    ['escaped, so a literal', job('    url: $${A_URL}'), {}, false],
    ['no reference at all', job('    url: http://a.example/'), {}, false],
  ];
  for (const [name, text, env, valid] of cases) {
    const got = compare(text, `${name}.yaml`, env);
    assert.equal(got.ajv?.length === 0, valid, `ajv, ${name}: ${JSON.stringify(got)}`);
    assert.equal(got.validate.length === 0, valid, `validate, ${name}: ${JSON.stringify(got)}`);
  }
});
