/**
 * Every file in test/fixtures/bad-jobs/ with the exact diagnostics it must
 * produce. The validator reports all problems of a file in reading order,
 * each at the key or value it is about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { formatDiagnostic, loadJobText } from '../../src/job/load.js';

const DIR = new URL('../../../test/fixtures/bad-jobs/', import.meta.url);
const ENV = { SUFFIX: 'word' };
const NOW = new Date('2024-06-01T00:00:00Z');

const EXPECTED: Record<string, string[]> = {
  'bad-durations-sizes.yaml': [
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:6:16: 'timeouts.connect' is not a duration: 'soon' (use seconds or \"500ms\", \"10s\", \"2m\", \"1h\", \"7d\")",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:7:13: 'timeouts.data' must be greater than 0",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:14:20: 'remoteLockTtl' is not a duration: '10 minutes' (use seconds or \"500ms\", \"10s\", \"2m\", \"1h\", \"7d\")",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:15:14: 'minSize' is not a size: '10X' (use bytes or \"10K\", \"10M\", \"1.5GiB\")",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:16:14: 'maxSize' must be a size (bytes, or \"10K\", \"10M\", \"1.5GiB\"), got a list",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:17:16: 'newerThan' is not an ISO date or an age: 'yesterday' (use \"2024-05-01\" or \"7d\")",
    "test/fixtures/bad-jobs/bad-durations-sizes.yaml:18:16: 'olderThan' must be an ISO date or an age like \"7d\", got a number",
  ],
  'bad-endpoint.yaml': [
    "test/fixtures/bad-jobs/bad-endpoint.yaml:9:11: 'from' must be of the form server:/path, got 'a/pub'",
    "test/fixtures/bad-jobs/bad-endpoint.yaml:10:9: 'to' must be of the form server:/path, got 'b:pub'",
    "test/fixtures/bad-jobs/bad-endpoint.yaml:13:9: 'to' must name at least one target",
    "test/fixtures/bad-jobs/bad-endpoint.yaml:15:11: 'from' must be a string of the form server:/path, got a list",
  ],
  'bad-enums.yaml': [
    "test/fixtures/bad-jobs/bad-enums.yaml:5:10: invalid value 'tsl' for 'tls' (allowed: none, explicit, implicit)",
    "test/fixtures/bad-jobs/bad-enums.yaml:6:14: invalid value 'always' for 'passive' (allowed: prefer, avoid)",
    "test/fixtures/bad-jobs/bad-enums.yaml:7:21: invalid value 'sometimes' for 'fixPasvAddress' (allowed: auto, always, never)",
    "test/fixtures/bad-jobs/bad-enums.yaml:10:10: invalid value 'maybe' for 'fxp' (allowed: auto, force, never)",
    "test/fixtures/bad-jobs/bad-enums.yaml:15:14: invalid value 'both' for 'passive' (allowed: source, destination)",
    "test/fixtures/bad-jobs/bad-enums.yaml:16:13: invalid value 'md5' for 'verify' (allowed: size, checksum, none)",
    "test/fixtures/bad-jobs/bad-enums.yaml:17:15: invalid value 'keep' for 'symlinks' (allowed: skip, follow)",
    "test/fixtures/bad-jobs/bad-enums.yaml:18:14: invalid value 'hash' for 'compare' (allowed: default, checksum)",
  ],
  'bad-maxdelete.yaml': [
    "test/fixtures/bad-jobs/bad-maxdelete.yaml:8:14: invalid 'maxDelete': expected a count like \"100\" or a percentage like \"10%\", got \"ten\"",
    "test/fixtures/bad-jobs/bad-maxdelete.yaml:14:16: invalid 'maxDelete': percentage must be between 0% and 100%, got \"150%\"",
  ],
  'bad-url.yaml': [
    "test/fixtures/bad-jobs/bad-url.yaml:4:10: invalid 'url': unsupported URL scheme \"http\": expected ftp, ftps or ftpes",
    "test/fixtures/bad-jobs/bad-url.yaml:6:10: invalid 'url': FTP URL has no host",
    "test/fixtures/bad-jobs/bad-url.yaml:8:10: invalid 'url': FTP URL has an invalid port (must be 1-65535)",
    "test/fixtures/bad-jobs/bad-url.yaml:10:10: warning: the path in a server URL is ignored; put it in the jobs' from/to (\"d:/pub\")",
  ],
  'duplicate-key.yaml': [
    'test/fixtures/bad-jobs/duplicate-key.yaml:5:5: Map keys must be unique',
  ],
  'duplicate-names.yaml': [
    "test/fixtures/bad-jobs/duplicate-names.yaml:14:11: duplicate job name 'pub' (first defined at test/fixtures/bad-jobs/duplicate-names.yaml:8:11)",
  ],
  'empty.yaml': [
    "test/fixtures/bad-jobs/empty.yaml:1:1: the job file is empty: expected 'version', 'servers' and 'jobs'",
  ],
  'invalid-yaml.yaml': [
    'test/fixtures/bad-jobs/invalid-yaml.yaml:4:1: Flow map in block collection must be sufficiently indented and end with a }',
  ],
  'jobs-missing.yaml': [
    "test/fixtures/bad-jobs/jobs-missing.yaml:1:1: missing required key 'jobs'",
  ],
  'misplaced-keys.yaml': [
    "test/fixtures/bad-jobs/misplaced-keys.yaml:5:5: unknown key 'parallel' in a server (it belongs in a job)",
    "test/fixtures/bad-jobs/misplaced-keys.yaml:9:3: unknown key 'name' in defaults (it belongs in a job)",
    "test/fixtures/bad-jobs/misplaced-keys.yaml:14:5: unknown key 'url' in a job (it belongs in a server)",
  ],
  'missing-env.yaml': [
    "test/fixtures/bad-jobs/missing-env.yaml:6:15: environment variable 'A_PASSWORD' is not set (used by 'password')",
    "test/fixtures/bad-jobs/missing-env.yaml:8:16: environment variable 'B_HOST' is not set (used by 'url')",
    "test/fixtures/bad-jobs/missing-env.yaml:12:17: environment variable 'SITE' is not set (used by 'to')",
    "test/fixtures/bad-jobs/missing-env.yaml:13:16: environment variable 'EXCLUDE_1' is not set (used by 'exclude')",
  ],
  'missing-required.yaml': [
    "test/fixtures/bad-jobs/missing-required.yaml:3:3: server 'a' is missing required key 'url'",
    "test/fixtures/bad-jobs/missing-required.yaml:8:5: job is missing required key 'from'",
    "test/fixtures/bad-jobs/missing-required.yaml:10:5: job is missing required key 'name'",
    "test/fixtures/bad-jobs/missing-required.yaml:12:5: each job must be a mapping with 'name', 'from' and 'to', got a string",
  ],
  'multiple-documents.yaml': [
    "test/fixtures/bad-jobs/multiple-documents.yaml:4:1: a job file holds one YAML document (remove the second '---')",
  ],
  'negative-sizes.yaml': [
    "test/fixtures/bad-jobs/negative-sizes.yaml:11:14: 'minSize' must not be negative",
    "test/fixtures/bad-jobs/negative-sizes.yaml:12:14: 'maxSize' must not be negative",
    "test/fixtures/bad-jobs/negative-sizes.yaml:16:14: 'minSize' (10485760) is larger than 'maxSize' (1048576): nothing would be copied",
  ],
  'no-jobs.yaml': [
    'test/fixtures/bad-jobs/no-jobs.yaml:5:7: no jobs defined',
  ],
  'numbers-out-of-range.yaml': [
    "test/fixtures/bad-jobs/numbers-out-of-range.yaml:5:21: 'maxConnections' must be at least 1, got 0",
    "test/fixtures/bad-jobs/numbers-out-of-range.yaml:9:13: 'parallel' must be at least 1, got 0",
    "test/fixtures/bad-jobs/numbers-out-of-range.yaml:14:14: 'retries' must be at least 0, got -1",
    "test/fixtures/bad-jobs/numbers-out-of-range.yaml:15:16: 'maxErrors' must be at least 1, got 0",
  ],
  'plain-passwords.yaml': [
    'test/fixtures/bad-jobs/plain-passwords.yaml:4:10: warning: password is stored in plain text; use ${ENV_VAR} or ~/.netrc',
    'test/fixtures/bad-jobs/plain-passwords.yaml:8:15: warning: password is stored in plain text; use ${ENV_VAR} or ~/.netrc',
    "test/fixtures/bad-jobs/plain-passwords.yaml:13:15: 'parallel' must be at least 1, got 0",
  ],
  'server-problems.yaml': [
    "test/fixtures/bad-jobs/server-problems.yaml:3:3: invalid server name 'bad name' (use letters, digits, '.', '_' and '-')",
    "test/fixtures/bad-jobs/server-problems.yaml:7:18: 'fingerprint' must be a SHA-256 fingerprint: 64 hex digits, colons allowed",
    "test/fixtures/bad-jobs/server-problems.yaml:8:12: 'notamap' must be a mapping with at least 'url', got a string",
  ],
  'tab-indent.yaml': [
    'test/fixtures/bad-jobs/tab-indent.yaml:4:1: Tabs are not allowed as indentation',
  ],
  'to-equals-from.yaml': [
    "test/fixtures/bad-jobs/to-equals-from.yaml:10:9: 'to' is the same as 'from' (a:/pub)",
    "test/fixtures/bad-jobs/to-equals-from.yaml:13:18: duplicate target 'b:/pub'",
    "test/fixtures/bad-jobs/to-equals-from.yaml:13:28: 'to' is the same as 'from' (a:/pub)",
  ],
  'top-level-list.yaml': [
    "test/fixtures/bad-jobs/top-level-list.yaml:1:1: the top level must be a mapping with 'version', 'servers' and 'jobs', got a list",
  ],
  'unknown-keys.yaml': [
    "test/fixtures/bad-jobs/unknown-keys.yaml:5:5: unknown key 'usr' (did you mean 'user'?)",
    "test/fixtures/bad-jobs/unknown-keys.yaml:7:7: unknown key 'conect' (did you mean 'connect'?)",
    "test/fixtures/bad-jobs/unknown-keys.yaml:11:3: unknown key 'paralel' (did you mean 'parallel'?)",
    "test/fixtures/bad-jobs/unknown-keys.yaml:12:3: unknown key 'dry_run' (did you mean 'dryRun'?)",
    "test/fixtures/bad-jobs/unknown-keys.yaml:17:5: unknown key 'delet' (did you mean 'delete'?)",
    "test/fixtures/bad-jobs/unknown-keys.yaml:18:5: unknown key 'colour'",
    "test/fixtures/bad-jobs/unknown-keys.yaml:19:1: unknown key 'job' (did you mean 'jobs'?)",
  ],
  'unknown-server.yaml': [
    "test/fixtures/bad-jobs/unknown-server.yaml:9:11: unknown server 'upstrem' in 'from' (did you mean 'upstream'?)",
    "test/fixtures/bad-jobs/unknown-server.yaml:10:23: unknown server 'mirorr' in 'to' (did you mean 'mirror'?)",
    "test/fixtures/bad-jobs/unknown-server.yaml:10:36: unknown server 'elsewhere' in 'to'",
  ],
  'version-missing.yaml': [
    "test/fixtures/bad-jobs/version-missing.yaml:1:1: missing required key 'version' (add 'version: 1')",
  ],
  'version-unsupported.yaml': [
    'test/fixtures/bad-jobs/version-unsupported.yaml:1:10: unsupported version 2 (this fxpmirror reads version 1)',
  ],
  'wrong-types.yaml': [
    "test/fixtures/bad-jobs/wrong-types.yaml:5:11: 'user' must be a string, got a number (put it in quotes)",
    "test/fixtures/bad-jobs/wrong-types.yaml:6:13: 'verify' must be true or false, got a string ('no': write true or false)",
    "test/fixtures/bad-jobs/wrong-types.yaml:7:21: 'maxConnections' must be an integer, got a number",
    "test/fixtures/bad-jobs/wrong-types.yaml:10:15: 'timeouts' must be a mapping of connect, command, data, got a number",
    "test/fixtures/bad-jobs/wrong-types.yaml:15:15: 'parallel' must be an integer, got a string",
    "test/fixtures/bad-jobs/wrong-types.yaml:16:13: 'delete' must be true or false, got a string ('yes': write true or false)",
    "test/fixtures/bad-jobs/wrong-types.yaml:17:14: 'exclude' must be a list of strings, got a mapping",
    "test/fixtures/bad-jobs/wrong-types.yaml:18:22: 'include' items must be strings, got a number",
  ],
};

test('the table covers every fixture file, and there are at least 20', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 20, `only ${files.length} bad job files`);
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`bad job file ${name}`, () => {
    const file = `test/fixtures/bad-jobs/${name}`;
    const r = loadJobText(readFileSync(new URL(name, DIR), 'utf8'), file, ENV, [], { now: NOW });
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), expected);
    assert.ok(r.diagnostics.some((d) => d.severity === 'error'), 'a bad file must have at least one error');
    assert.deepEqual(r.jobs, [], 'a file with errors yields no jobs');
  });
}

test('a URL error never shows the password from the URL', () => {
  const r = loadJobText(readFileSync(new URL('bad-url.yaml', DIR), 'utf8'), 'bad-url.yaml', ENV, []);
  assert.ok(r.diagnostics.length > 0);
  for (const d of r.diagnostics) assert.doesNotMatch(d.message, /hunter2/);
});
