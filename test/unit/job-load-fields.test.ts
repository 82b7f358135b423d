/** Job file fields through loadJobText: passive side, endpoints, credentials, interpolation, YAML merges, the examples. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { netrcFromText } from '../../src/ftp/credentials.js';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';
import { ROOT, twoServers } from './job-load-fixtures.js';

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

test('parallel: set in the job or in defaults fixes it; unset, it adapts (and starts at 4)', () => {
  const job = (text: string) => {
    const r = loadJobText(text, 'p.yaml', {});
    assert.deepEqual(r.diagnostics, []);
    return [r.jobs[0].options.parallel, r.jobs[0].parallelExplicit];
  };
  assert.deepEqual(job(twoServers()), [4, false]);
  assert.deepEqual(job(twoServers({ job: '    parallel: 6\n' })), [6, true]);
  assert.deepEqual(job(twoServers().replace('jobs:', 'defaults:\n  parallel: 2\njobs:')), [2, true]);
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
