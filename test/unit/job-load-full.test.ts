/** A full job file through loadJobText: every key lands in the Job objects; resolved passwords are redacted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMEOUTS } from '../../src/ftp/options.js';
import { netrcFromText } from '../../src/ftp/credentials.js';
import { redactSecrets } from '../../src/ftp/secrets.js';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';
import type { Job } from '../../src/job/job.js';
import { DEFAULT_MIRROR_OPTIONS } from '../../src/tree/options.js';

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
      parallelExplicit: true,
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
      parallelExplicit: true,
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
