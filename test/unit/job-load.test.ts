import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TIMEOUTS } from '../../src/ftp/options.js';
import { netrcFromText } from '../../src/ftp/credentials.js';
import { redactSecrets } from '../../src/ftp/secrets.js';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';
import { loadJobFiles } from '../../src/job/job-files.js';
import { suggest } from '../../src/job/did-you-mean.js';
import type { Job } from '../../src/job/job.js';
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

const ROOT = new URL('../../../', import.meta.url);
const NOW = new Date('2024-06-01T00:00:00Z');

const FULL = `# yaml-language-server: $schema=./fxpmirror.schema.json
version: 1
servers:
  upstream:
    url: ftp://mirror.example.org:2121/
    user: mirror
    password: \${UPSTREAM_PASSWORD}
    tls: explicit
    verify: false
    ca: /etc/ssl/lab-ca.pem
    fingerprint: "${'AB:'.repeat(31)}AB"
    passive: avoid
    maxConnections: 2
    fxp: force
    trustPasvAddress: true
    timeouts: { connect: 5s, command: 1m, data: 1500ms }
  local:
    url: ftps://backup@local.example/
  anon:
    url: ftp://anon.example/
  plain:
    url: ftpes://plain.example/
    user: bob
    password: hunter2-plain
defaults:
  parallel: 8
  exclude: ["*.tmp"]
  maxDelete: 10%
  remoteLockTtl: 2m
jobs:
  - name: debian
    from: upstream:/debian/
    to: local:/srv/\${SITE}
    delete: true
    exclude: ["*.tmp", "incoming/"]
    remoteLock: true
    minSize: 1.5KiB
    maxSize: 10M
    newerThan: 7d
    olderThan: 2024-05-01
    maxErrors: 5
    parallel: \${PAR}
  - name: fan
    from: anon:/pub
    to: [local:/a, plain:/b]
    passive: source
    maxDelete: 100
    retries: 0
    verify: checksum
    symlinks: follow
    compare: checksum
    include: "*.iso"
    continue: true
    allowClearData: true
    onlyNewer: true
    dryRun: true
`;

const ENV = { UPSTREAM_PASSWORD: 'env-secret-1', SITE: 'debian', PAR: '3' };
const NETRC = netrcFromText('machine local.example login backup password netrc-secret-2 account acct1\n');

test('a full job file becomes the expected Job objects', () => {
  const r = loadJobText(FULL, 'jobs/full.yaml', ENV, { netrc: NETRC, now: NOW });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'jobs/full.yaml:24:15: warning: password is stored in plain text; use ${ENV_VAR} or ~/.netrc',
  ]);
  const upstream = {
    name: 'upstream',
    host: 'mirror.example.org',
    port: 2121,
    user: 'mirror',
    password: 'env-secret-1',
    tls: 'explicit' as const,
    tlsOptions: { verify: false, ca: '/etc/ssl/lab-ca.pem', fingerprint: `${'AB:'.repeat(31)}AB` },
    timeouts: { connect: 5000, command: 60_000, data: 1500 },
    trustPasvAddress: true,
    maxConnections: 2,
    fxp: 'force' as const,
    passive: 'avoid' as const,
  };
  const local = {
    name: 'local',
    host: 'local.example',
    port: 990,
    user: 'backup',
    password: 'netrc-secret-2',
    account: 'acct1',
    tls: 'implicit' as const,
    tlsOptions: { verify: true },
    timeouts: { ...DEFAULT_TIMEOUTS },
    trustPasvAddress: false,
    maxConnections: 4,
  };
  const anon = {
    name: 'anon',
    host: 'anon.example',
    port: 21,
    user: 'anonymous',
    password: 'anonymous@',
    tls: 'none' as const,
    tlsOptions: { verify: true },
    timeouts: { ...DEFAULT_TIMEOUTS },
    trustPasvAddress: false,
    maxConnections: 4,
  };
  const plain = { ...anon, name: 'plain', host: 'plain.example', user: 'bob', password: 'hunter2-plain', tls: 'explicit' as const };
  const expected: Job[] = [
    {
      name: 'debian',
      file: 'jobs/full.yaml',
      from: { serverName: 'upstream', server: upstream, path: '/debian' },
      to: [{ serverName: 'local', server: local, path: '/srv/debian' }],
      options: {
        ...DEFAULT_MIRROR_OPTIONS,
        parallel: 3,
        exclude: ['*.tmp', 'incoming/'],
        maxDelete: { percent: 10 },
        delete: true,
        minSize: 1536,
        maxSize: 10 * 1024 * 1024,
        newerThan: new Date('2024-05-25T00:00:00Z'),
        olderThan: new Date('2024-05-01T00:00:00Z'),
        maxErrors: 5,
        // upstream avoids being the PASV side, so the target listens.
        passive: 'destination',
      },
      remoteLock: true,
      remoteLockTtlMs: 120_000,
      passiveExplicit: true,
    },
    {
      name: 'fan',
      file: 'jobs/full.yaml',
      from: { serverName: 'anon', server: anon, path: '/pub' },
      to: [
        { serverName: 'local', server: local, path: '/a' },
        { serverName: 'plain', server: plain, path: '/b' },
      ],
      options: {
        ...DEFAULT_MIRROR_OPTIONS,
        parallel: 8,
        exclude: ['*.tmp'],
        include: ['*.iso'],
        maxDelete: { count: 100 },
        retries: 0,
        verify: 'checksum',
        symlinks: 'follow',
        compare: 'checksum',
        continue: true,
        allowClearData: true,
        onlyNewer: true,
        dryRun: true,
        passive: 'source',
      },
      remoteLock: false,
      remoteLockTtlMs: 120_000,
      passiveExplicit: true,
    },
  ];
  assert.deepEqual(r.jobs, expected);
});

test('resolved passwords are registered with the logger redaction', () => {
  loadJobText(FULL, 'jobs/full.yaml', ENV, { netrc: NETRC, now: NOW });
  assert.equal(redactSecrets('a env-secret-1 b netrc-secret-2 c hunter2-plain'), 'a *** b *** c ***');
  // The anonymous convention is not a secret.
  assert.equal(redactSecrets('anonymous@'), 'anonymous@');
});

function twoServers(extra: { a?: string; b?: string; job?: string } = {}): string {
  return `version: 1
servers:
  a:
    url: ftp://a.example/
${extra.a ?? ''}  b:
    url: ftp://b.example/
${extra.b ?? ''}jobs:
  - name: j
    from: a:/x
    to: b:/y
${extra.job ?? ''}`;
}

function passiveOf(extra: { a?: string; b?: string; job?: string }): string {
  const r = loadJobText(twoServers(extra), 'p.yaml', {});
  assert.deepEqual(r.diagnostics, []);
  return r.jobs[0].options.passive;
}

test('passive side: job setting, then server preferences, then source', () => {
  assert.equal(passiveOf({}), 'source');
  assert.equal(passiveOf({ a: '    passive: prefer\n' }), 'source');
  assert.equal(passiveOf({ b: '    passive: avoid\n' }), 'source');
  assert.equal(passiveOf({ b: '    passive: prefer\n' }), 'destination');
  assert.equal(passiveOf({ a: '    passive: avoid\n' }), 'destination');
  // from.prefer wins over to.prefer (the rules are checked in order).
  assert.equal(passiveOf({ a: '    passive: prefer\n', b: '    passive: prefer\n' }), 'source');
  assert.equal(passiveOf({ a: '    passive: avoid\n', job: '    passive: source\n' }), 'source');
  assert.equal(passiveOf({ b: '    passive: avoid\n', job: '    passive: destination\n' }), 'destination');
});

test('endpoints: server:/path is absolute, server:path and server: relative to the login directory (as in scp)', () => {
  const endpoints = (from: string, to: string) => {
    const r = loadJobText(`version: 1\nservers:\n  a:\n    url: ftp://a.example/\n  b:\n    url: ftp://b.example/\njobs:\n  - name: j\n    from: "${from}"\n    to: "${to}"\n`, 'e.yaml', {});
    assert.deepEqual(r.diagnostics, [], JSON.stringify(r.diagnostics));
    return [r.jobs[0].from.path, r.jobs[0].to[0].path];
  };
  assert.deepEqual(endpoints('a:/pub/', 'b://srv/./x'), ['/pub', '/srv/x']);
  assert.deepEqual(endpoints('a:pub/', 'b:./x/y'), ['pub', 'x/y']);
  assert.deepEqual(endpoints('a:', 'b:.'), ['', '']);
  assert.deepEqual(endpoints('a:../up', 'b:/'), ['../up', '/']);
  // A relative and an absolute spelling are told apart only once connected (PWD): not a duplicate here.
  assert.deepEqual(endpoints('a:x', 'a:/x'), ['x', '/x']);
});

test('a path in a server URL is ignored, and the warning spells the endpoint with the same meaning', () => {
  const warn = (url: string) => loadJobText(twoServers().replace('url: ftp://a.example/', `url: ${url}`), 'w.yaml', {}).diagnostics.map((d) => d.message);
  assert.deepEqual(warn('ftp://a.example/pub'), [`the path in a server URL is ignored; put it in the jobs' from/to ("a:pub")`]);
  assert.deepEqual(warn('ftp://a.example/%2Fpub'), [`the path in a server URL is ignored; put it in the jobs' from/to ("a:/pub")`]);
  assert.deepEqual(warn('ftp://a.example'), []);
});

test('credentials: explicit, URL, netrc by host and user, netrc login, anonymous', () => {
  const netrc = netrcFromText(
    'machine a.example login alice password from-netrc-a\nmachine b.example login carol password from-netrc-b\n',
  );
  const load = (a: string, b = ''): { a: [string, string]; b: [string, string]; warnings: number } => {
    const r = loadJobText(twoServers({ a, b }), 'c.yaml', { PW: 'env-pw' }, { netrc });
    assert.equal(r.jobs.length, 1, r.diagnostics.map(formatDiagnostic).join('\n'));
    const j = r.jobs[0];
    return {
      a: [j.from.server.user, j.from.server.password],
      b: [j.to[0].server.user, j.to[0].server.password],
      warnings: r.diagnostics.filter((d) => d.severity === 'warning').length,
    };
  };
  // No user anywhere: netrc supplies login and password for the host.
  assert.deepEqual(load('').a, ['alice', 'from-netrc-a']);
  // User given, password from netrc (login must match).
  assert.deepEqual(load('    user: alice\n').a, ['alice', 'from-netrc-a']);
  // The explicit password wins over netrc, and ${VAR} is not plain text.
  assert.deepEqual(load('    user: alice\n    password: ${PW}\n'), { a: ['alice', 'env-pw'], b: ['carol', 'from-netrc-b'], warnings: 0 });
  // A netrc entry for another login does not lend its password.
  const other = load('    user: dave\n');
  assert.deepEqual(other.a, ['dave', '']);
  assert.equal(other.warnings, 1);
  // Without netrc and user: anonymous.
  const r = loadJobText(twoServers(), 'c.yaml', {});
  assert.equal(r.jobs[0].from.server.user, 'anonymous');
  assert.equal(r.jobs[0].from.server.password, 'anonymous@');
});

test('a password in the URL is used and warned about unless it came from ${VAR}', () => {
  const text = twoServers().replace('ftp://a.example/', 'ftp://u:p%40ss@a.example/').replace('ftp://b.example/', '${B_URL}');
  const r = loadJobText(text, 'u.yaml', { B_URL: 'ftp://v:envpass@b.example/' });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'u.yaml:4:10: warning: password is stored in plain text; use ${ENV_VAR} or ~/.netrc',
  ]);
  assert.equal(r.jobs[0].from.server.password, 'p@ss');
  assert.equal(r.jobs[0].to[0].server.user, 'v');
  assert.equal(r.jobs[0].to[0].server.password, 'envpass');
});

test('interpolation: $${ is a literal, values from env may stand for numbers and booleans', () => {
  const r = loadJobText(
    twoServers({ job: '    exclude: ["$${HOME}/x", "${E}"]\n    delete: ${DEL}\n    retries: ${R}\n' }),
    'i.yaml',
    { E: 'env-pattern', DEL: 'true', R: '7' },
  );
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.jobs[0].options.exclude, ['${HOME}/x', 'env-pattern']);
  assert.equal(r.jobs[0].options.delete, true);
  assert.equal(r.jobs[0].options.retries, 7);
});

test('anchors, aliases and "<<" merge keys work, own keys winning; problems are reported once', () => {
  const text = `version: 1
servers:
  a: &base
    url: ftp://a.example/
    maxConnections: 2
  b:
    <<: *base
    url: ftp://b.example/
jobs:
  - name: x
    from: a:/p
    to: b:/q
    exclude: &ex ["*.tmp"]
  - name: y
    from: b:/r
    to: a:/s
    exclude: *ex
`;
  const r = loadJobText(text, 'm.yaml', {});
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.jobs[0].to[0].server.host, 'b.example');
  assert.equal(r.jobs[0].to[0].server.maxConnections, 2);
  assert.deepEqual(r.jobs[1].options.exclude, ['*.tmp']);

  const bad = loadJobText(text.replace('maxConnections: 2', 'maxConections: 2'), 'm.yaml', {});
  assert.deepEqual(bad.diagnostics.map(formatDiagnostic), ["m.yaml:5:5: unknown key 'maxConections' (did you mean 'maxConnections'?)"]);
});

test('the example job files load without diagnostics given their env vars', () => {
  const env = { UPSTREAM_PASSWORD: 'u', MIRROR_PASSWORD: 'm', SOURCE_PASSWORD: 's', EU_PASSWORD: 'e', US_PASSWORD: 'x' };
  const nightly = loadJobText(readFileSync(new URL('jobs/nightly.yaml', ROOT), 'utf8'), 'jobs/nightly.yaml', env);
  assert.deepEqual(nightly.diagnostics, []);
  assert.deepEqual(
    nightly.jobs.map((j) => [j.name, j.options.delete, j.options.maxDelete, j.remoteLock]),
    [
      ['debian', true, { percent: 10 }, true],
      ['debian-cd', true, { count: 50 }, true],
    ],
  );
  const fan = loadJobText(readFileSync(new URL('jobs/fan-out.yaml', ROOT), 'utf8'), 'jobs/fan-out.yaml', env);
  assert.deepEqual(fan.diagnostics, []);
  assert.equal(fan.jobs.length, 1);
  assert.deepEqual(
    fan.jobs[0].to.map((t) => `${t.serverName}:${t.path}`),
    ['eu:/mirror/releases', 'us:/mirror/releases'],
  );
  for (const f of ['nightly.yaml', 'fan-out.yaml']) {
    const first = readFileSync(new URL(`jobs/${f}`, ROOT), 'utf8').split('\n')[0];
    assert.equal(first, '# yaml-language-server: $schema=./fxpmirror.schema.json');
  }
});

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
