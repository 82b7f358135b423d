/**
 * The FXP engine against the four real lab servers, through the CLI
 * (`node bin/fxpmirror copy|probe`) and, where it is more precise, the engine
 * API. Every check looks at what really happened: sha256 of the bytes on the
 * servers' disks, mtimes from fs.statSync, where the bytes flowed (nftables
 * counters), exit codes and one-line stderr, and the servers' own logs.
 *
 * Addresses 127.0.0.25 .. 127.0.0.36 belong to this file (other test files run
 * their servers on other loopback addresses at the same time). The byte
 * counter (lab.ts's startByteCounter) is limited to exactly these addresses,
 * so another file's servers (its default covers .21-.40) cannot inflate the
 * numbers.
 *
 * Under CI=true a server that cannot run is a failure (requireServer);
 * locally the whole file skips with labAvailable()'s reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  SERVER_KINDS,
  labUserIds,
  startByteCounter,
  stopAll,
  type ByteCounter,
  type ByteCounts,
  type LabServer,
  type ServerKind,
  type StartOptions,
} from '../lab/lab.js';
import { lines, mkdirLab, oneErrorLine, requireServers, runCli, sha256File, startPlan, urlOf, writeLabFile, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { serverFromUrl } from '../../src/cli/servers.js';
import { ConnectionLease, ConnectionPool } from '../../src/ftp/pool.js';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FxpEngine } from '../../src/fxp/engine.js';
import { DEFAULT_TIMINGS } from '../../src/fxp/transfer.js';
import { PART_SUFFIX } from '../../src/fxp/part-name.js';
import { containedPath } from '../../src/ftp/remote-path.js';

const UNAVAILABLE = requireServers(SERVER_KINDS);

const MiB = 1024 * 1024;
/** "Far below" the file size: a copy's whole control conversation is a few KiB. */
const CLIENT_BUDGET = 64 * 1024;
const OLD_MTIME = new Date('2021-03-04T05:06:07Z');

// ---------------------------------------------------------------------------
// The servers of this file

type Role =
  | 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib' // permissive ('fxp' profile)
  | 'vsftpdPortOnly' | 'vsftpdPasvOnly' // vsftpd with one promiscuous setting
  | 'proftpdStrict' | 'pureStrict' | 'pyStrict' // secure defaults
  | 'proftpd2' // a second permissive proftpd: the only server with checksums
  | 'proftpdTls' | 'vsftpdTls' | 'pyTls';

const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.0.25', port: 3121 }],
  proftpd: ['proftpd', { address: '127.0.0.26', port: 3122 }],
  'pure-ftpd': ['pure-ftpd', { address: '127.0.0.27', port: 3123 }],
  pyftpdlib: ['pyftpdlib', { address: '127.0.0.28', port: 3124 }],
  vsftpdPortOnly: ['vsftpd', { address: '127.0.0.29', port: 3121, vsftpdPromiscuous: { port: true, pasv: false } }],
  vsftpdPasvOnly: ['vsftpd', { address: '127.0.0.30', port: 3121, vsftpdPromiscuous: { port: false, pasv: true } }],
  proftpdStrict: ['proftpd', { address: '127.0.0.31', port: 3122, profile: 'strict' }],
  pureStrict: ['pure-ftpd', { address: '127.0.0.32', port: 3123, profile: 'strict' }],
  // pyStrict and proftpd2 share an address: they are never paired with each other.
  pyStrict: ['pyftpdlib', { address: '127.0.0.33', port: 3124, profile: 'strict' }],
  proftpd2: ['proftpd', { address: '127.0.0.33', port: 3122 }],
  proftpdTls: ['proftpd', { address: '127.0.0.34', port: 3122, tls: true }],
  vsftpdTls: ['vsftpd', { address: '127.0.0.35', port: 3121, tls: true }],
  pyTls: ['pyftpdlib', { address: '127.0.0.36', port: 3124, tls: true }],
};
const S = {} as Record<Role, LabServer>;
const PERMISSIVE: Role[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'];

// ---------------------------------------------------------------------------
// Helpers

/** Write a file into a server's root as the lab user (parents too), with a known mtime. */
function put(server: LabServer, rel: string, data: Buffer, mtime = OLD_MTIME): string {
  return writeLabFile(path.join(server.root, rel), data, mtime);
}

function mkdirs(server: LabServer, rel: string): void {
  mkdirLab(path.join(server.root, rel));
}

/** Every temporary `.<name>.fxpmirror-part` (and probe file) under a server's root. */
function leftovers(server: LabServer): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(PART_SUFFIX) || e.name.startsWith('.fxpmirror-probe')) out.push(path.relative(server.root, p));
    }
  };
  walk(server.root);
  return out;
}

interface CopyJson {
  path: string;
  mode: string;
  bytes: number;
  resumedFrom: number;
  relayedBytes: number;
  mtimeSet: boolean;
  verified: string;
  checksum?: { algorithm: string; value: string };
}

function copyJson(r: CliRun): CopyJson {
  assert.equal(r.code, EXIT.OK, `copy failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CopyJson;
}

let counter: ByteCounter;

/** Run `fn` between a counter reset and a read. */
async function counted<T>(fn: () => Promise<T>): Promise<[T, ByteCounts]> {
  await counter.reset();
  const r = await fn();
  return [r, await counter.read()];
}

function assertServerToServer(b: ByteCounts, size: number): void {
  assert.ok(b.serverToServer >= size, `server-to-server bytes ${b.serverToServer} < file size ${size}`);
  const client = b.clientToServers + b.serversToClient;
  assert.ok(client < CLIENT_BUDGET, `client traffic ${client} bytes should stay far below the file (${size} bytes)`);
}

function assertThroughClient(b: ByteCounts, size: number): void {
  assert.ok(b.serversToClient >= size, `servers->client ${b.serversToClient} < ${size}: the data did not come through the client`);
  assert.ok(b.clientToServers >= size, `client->servers ${b.clientToServers} < ${size}: the data did not go out through the client`);
  assert.ok(b.serverToServer < CLIENT_BUDGET, `server-to-server ${b.serverToServer} bytes: relay should not connect the servers`);
}

function serverOptions(server: LabServer) {
  return serverFromUrl(server.url, '', { ca: server.caFile }).server;
}

// ---------------------------------------------------------------------------

describe('FXP engine against the lab servers', { skip: UNAVAILABLE ?? false }, () => {
  before(async () => {
    Object.assign(S, await startPlan(PLAN));
    // The client is 127.0.0.1; the servers are exactly this file's addresses (127.0.0.25-36).
    counter = await startByteCounter('127.0.0.1', [...new Set(Object.values(PLAN).map(([, o]) => o.address!))]);
  });

  after(async () => {
    await counter?.close();
    await stopAll();
  });

  // -------------------------------------------------------------------------
  describe('permissive pairs: 12 ordered pairs x 2 passive sides, --fxp force', () => {
    const size = 3 * MiB + 12345;
    for (const a of PERMISSIVE) {
      for (const b of PERMISSIVE) {
        if (a === b) continue;
        for (const passive of ['source', 'destination'] as const) {
          test(`${a} -> ${b}, ${passive} passive`, async () => {
            const name = `perm-${a}-${b}-${passive}.bin`;
            const src = put(S[a], name, randomBytes(size));
            const [r, bytes] = await counted(() => runCli(['copy', urlOf(S[a], name), urlOf(S[b]), '--fxp', 'force', '--passive', passive, '--json']));
            const j = copyJson(r);
            // Mode names describe the layout, as probe does: -reversed = the destination was passive.
            assert.equal(j.mode, passive === 'source' ? 'fxp' : 'fxp-reversed');
            assert.equal(j.path, `/${name}`);
            assert.equal(j.bytes, size);
            assert.equal(j.relayedBytes, 0);
            // Every lab server can set an mtime (vsftpd: MDTM <time> <path>; the
            // others: MFMT), so there is no warning, and nothing else to say.
            assert.equal(j.mtimeSet, true);
            assert.equal(r.stderr, '');
            const dst = path.join(S[b].root, name);
            assert.equal(await sha256File(dst), await sha256File(src));
            assert.equal(fs.statSync(dst).mtime.toISOString(), OLD_MTIME.toISOString());
            assertServerToServer(bytes, size);
            assert.deepEqual(leftovers(S[b]), []);
          });
        }
      }
    }

    test('how each server sets mtimes (what the engine found and remembered)', async () => {
      const expected: Record<string, string> = { vsftpd: 'MDTM', proftpd: 'MFMT', 'pure-ftpd': 'MFMT', pyftpdlib: 'MFMT' };
      for (const role of PERMISSIVE) {
        put(S[role], 'mtime-probe.txt', Buffer.from('x'), new Date());
        const conn = await FtpConnection.connect(serverOptions(S[role]));
        try {
          const when = new Date('2019-12-31T23:59:58Z');
          assert.equal(await conn.setMtime(containedPath('/', 'mtime-probe.txt'), when), true, role);
          assert.equal(conn.state.mtime, expected[role], role);
          assert.equal(fs.statSync(path.join(S[role].root, 'mtime-probe.txt')).mtime.toISOString(), when.toISOString(), role);
        } finally {
          await conn.close();
        }
      }
    });
  });

  // -------------------------------------------------------------------------
  describe('strict and half-promiscuous servers', () => {
    const size = 2 * MiB;

    test('vsftpd with only port_promiscuous as source: the passive side is swapped (fxp-reversed)', async () => {
      const src = put(S.vsftpdPortOnly, 'half1.bin', randomBytes(size));
      const [r, bytes] = await counted(() => runCli(['copy', urlOf(S.vsftpdPortOnly, 'half1.bin'), urlOf(S.proftpd), '--fxp', 'force', '--json']));
      const j = copyJson(r);
      // PASV on vsftpd gets proftpd's connection from a foreign address: 425; then
      // proftpd is passive and vsftpd may PORT to it.
      assert.equal(j.mode, 'fxp-reversed');
      assert.match(r.stderr, /fallback fxp .*127\.0\.0\.29:3121 refused RETR: 425 Security: Bad IP connecting\./);
      assert.equal(await sha256File(path.join(S.proftpd.root, 'half1.bin')), await sha256File(src));
      assertServerToServer(bytes, size);
    });

    test('vsftpd with only pasv_promiscuous as source: plain fxp at once, and --passive destination swaps back to fxp', async () => {
      const src = put(S.vsftpdPasvOnly, 'half2.bin', randomBytes(size));
      const r1 = await runCli(['copy', urlOf(S.vsftpdPasvOnly, 'half2.bin'), urlOf(S.proftpd, 'half2a.bin'), '--fxp', 'force', '--json']);
      assert.equal(copyJson(r1).mode, 'fxp');
      assert.equal(r1.stderr, '');
      // Preferring the destination passive makes vsftpd PORT to a foreign address: refused, swapped.
      const r2 = await runCli(['copy', urlOf(S.vsftpdPasvOnly, 'half2.bin'), urlOf(S.proftpd, 'half2b.bin'), '--fxp', 'force', '--passive', 'destination', '--json']);
      assert.equal(copyJson(r2).mode, 'fxp');
      assert.match(r2.stderr, /fallback fxp-reversed .*127\.0\.0\.30:3121 refused PORT: 500 Illegal PORT command\./);
      for (const f of ['half2a.bin', 'half2b.bin']) assert.equal(await sha256File(path.join(S.proftpd.root, f)), await sha256File(src));
    });

    test('strict pyftpdlib as passive source, --fxp auto: the relay after the refused rungs is intact (8 runs)', async () => {
      // pyftpdlib sends its "425 Rejected data connection from foreign address"
      // before it reads RETR, then queues that RETR. Reusing the connection for
      // the relay used to send the file plus a queued one (size check failed in
      // 6 of 10 runs); the engine now replaces a connection that failed mid-transfer.
      const data = randomBytes(500_000);
      const src = put(S.pyStrict, 'pyq.bin', data);
      for (let i = 0; i < 8; i++) {
        const r = await runCli(['copy', urlOf(S.pyStrict, 'pyq.bin'), urlOf(S.vsftpd, `pyq-${i}.bin`), '--json']);
        const j = copyJson(r);
        assert.equal(j.mode, 'relay');
        assert.equal(await sha256File(path.join(S.vsftpd.root, `pyq-${i}.bin`)), await sha256File(src));
        assert.match(r.stderr, /127\.0\.0\.33:3124 refused RETR: 425 Rejected data connection from foreign address/);
      }
    });

    test('strict pure-ftpd -> strict proftpd, --fxp auto: relayed through the client, bytes identical', async () => {
      const src = put(S.pureStrict, 'strict.bin', randomBytes(size));
      const [r, bytes] = await counted(() => runCli(['copy', urlOf(S.pureStrict, 'strict.bin'), urlOf(S.proftpdStrict), '--json']));
      const j = copyJson(r);
      assert.equal(j.mode, 'relay');
      assert.equal(j.relayedBytes, size);
      // A fall-back to relay is a warning (each refused rung is an info line).
      assert.match(r.stderr, /^\S+ warn {2}relay \S*strict\.bin every FXP mode was refused: the file went through this machine \(relay\)$/m, r.stderr);
      assert.equal(await sha256File(path.join(S.proftpdStrict.root, 'strict.bin')), await sha256File(src));
      assertThroughClient(bytes, size);
    });

    test('strict pure-ftpd -> strict proftpd, --fxp force: exit 4, one line naming both refusals, no temp file', async () => {
      put(S.pureStrict, 'strict2.bin', randomBytes(size));
      const r = await runCli(['copy', urlOf(S.pureStrict, 'strict2.bin'), urlOf(S.proftpdStrict), '--fxp', 'force', '--json']);
      assert.equal(r.code, EXIT.FXP_REFUSED);
      assert.equal(r.stdout, '');
      const line = oneErrorLine(r);
      assert.match(line, /127\.0\.0\.31:3122 refused PORT: 500 Illegal PORT command/);
      assert.match(line, /127\.0\.0\.32:3123 refused PORT: 500 I won't open a connection to 127\.0\.0\.31/);
      assert.equal(fs.existsSync(path.join(S.proftpdStrict.root, 'strict2.bin')), false);
      assert.deepEqual(leftovers(S.proftpdStrict), []);
    });

    test('strict pure-ftpd passive (it refuses by silence) fails within the copy-check bound, not a hang', async () => {
      put(S.pureStrict, 'silent.bin', randomBytes(size));
      // proftpd (permissive) connects to pure-ftpd's passive port; pure-ftpd
      // neither serves nor answers RETR. proftpd ends its STOR (an empty file),
      // and the engine then waits DEFAULT_TIMINGS.copyCheckMs for pure-ftpd.
      // The reversed layout is refused at PORT at once. A hang would last the
      // 30 s command timeout or forever; allow the check time plus 5 s.
      const bound = DEFAULT_TIMINGS.copyCheckMs + 5000;
      const r = await runCli(['copy', urlOf(S.pureStrict, 'silent.bin'), urlOf(S.proftpd), '--fxp', 'force'], { timeoutMs: bound + 20_000 });
      assert.equal(r.code, EXIT.FXP_REFUSED);
      assert.ok(r.ms < bound, `took ${r.ms} ms, bound ${bound} ms`);
      const line = oneErrorLine(r);
      assert.match(line, /127\.0\.0\.32:3123 refused RETR: no reply to RETR within 10 s after 127\.0\.0\.26:3122 finished;/);
      assert.match(line, /127\.0\.0\.32:3123 refused PORT: 500 I won't open a connection to 127\.0\.0\.26/);
      assert.equal(fs.existsSync(path.join(S.proftpd.root, 'silent.bin')), false);
      assert.deepEqual(leftovers(S.proftpd), []);
    });
  });

  // -------------------------------------------------------------------------
  describe('TLS (explicit, RFC 4217), certificates verified with --ca', () => {
    const size = 2 * MiB + 7;

    for (const [from, to, passive, mode] of [
      ['vsftpdTls', 'proftpdTls', 'source', 'fxp-tls-sscn'],
      ['vsftpdTls', 'proftpdTls', 'destination', 'fxp-tls-sscn-reversed'],
      ['proftpdTls', 'pyTls', 'source', 'fxp-tls-sscn'],
      ['pyTls', 'proftpdTls', 'destination', 'fxp-tls-sscn-reversed'],
    ] as const) {
      test(`${from} -> ${to}, ${passive} passive: protected FXP with proftpd as TLS client (${mode})`, async () => {
        const name = `tls-${from}-${to}-${passive}.bin`;
        const src = put(S[from], name, randomBytes(size));
        const sscnOn = () => (fs.readFileSync(S.proftpdTls.logFile, 'utf8').match(/"SSCN ON" 200/g) ?? []).length;
        const sscnBefore = sscnOn();
        const [r, bytes] = await counted(() =>
          runCli(['copy', urlOf(S[from], name), urlOf(S[to]), '--ca', S[from].caFile!, '--fxp', 'force', '--passive', passive, '--json']),
        );
        const j = copyJson(r);
        assert.equal(j.mode, mode);
        assert.equal(r.stderr, '');
        assert.equal(await sha256File(path.join(S[to].root, name)), await sha256File(src));
        assertServerToServer(bytes, size);
        // proftpd really was told to be the TLS client of this data connection.
        assert.ok(sscnOn() > sscnBefore, 'proftpd accepted SSCN ON for this copy');
      });
    }

    test('vsftpd + pyftpdlib (neither has SSCN/CPSV), --fxp auto: relayed, with the reason on stderr', async () => {
      const src = put(S.vsftpdTls, 'tls-relay.bin', randomBytes(size));
      const [r, bytes] = await counted(() => runCli(['copy', urlOf(S.vsftpdTls, 'tls-relay.bin'), urlOf(S.pyTls), '--ca', S.vsftpdTls.caFile!, '--json']));
      const j = copyJson(r);
      assert.equal(j.mode, 'relay');
      assert.equal(j.relayedBytes, size);
      assert.match(r.stderr, /neither 127\.0\.0\.35:3121 nor 127\.0\.0\.36:3124 offers SSCN or CPSV/);
      assert.equal(await sha256File(path.join(S.pyTls.root, 'tls-relay.bin')), await sha256File(src));
      assertThroughClient(bytes, size);
    });

    test('vsftpd + pyftpdlib, --fxp force: exit 4 at once, "neither can act as TLS client", no deadlock', async () => {
      put(S.vsftpdTls, 'tls-force.bin', randomBytes(size));
      const r = await runCli(['copy', urlOf(S.vsftpdTls, 'tls-force.bin'), urlOf(S.pyTls), '--ca', S.vsftpdTls.caFile!, '--fxp', 'force']);
      assert.equal(r.code, EXIT.FXP_REFUSED);
      const line = oneErrorLine(r);
      assert.match(line, /neither 127\.0\.0\.35:3121 nor 127\.0\.0\.36:3124 offers SSCN or CPSV, so neither can act as TLS client/);
      assert.match(line, /--allow-clear-data/);
      // Nothing was attempted: both servers would wait for each other's ClientHello.
      assert.ok(r.ms < 5000, `took ${r.ms} ms`);
      assert.equal(fs.existsSync(path.join(S.pyTls.root, 'tls-force.bin')), false);
      assert.deepEqual(leftovers(S.pyTls), []);
    });

    test('vsftpd + pyftpdlib, --fxp force --allow-clear-data: FXP with clear data (fxp-clear)', async () => {
      const src = put(S.vsftpdTls, 'tls-clear.bin', randomBytes(size));
      const [r, bytes] = await counted(() =>
        runCli(['copy', urlOf(S.vsftpdTls, 'tls-clear.bin'), urlOf(S.pyTls), '--ca', S.vsftpdTls.caFile!, '--fxp', 'force', '--allow-clear-data', '--json']),
      );
      const j = copyJson(r);
      // No --passive given: pyftpdlib (unreliable as the active side) is made passive.
      assert.equal(j.mode, 'fxp-clear-reversed');
      assert.equal(await sha256File(path.join(S.pyTls.root, 'tls-clear.bin')), await sha256File(src));
      assertServerToServer(bytes, size);
      // PROT C really was sent to both (RFC 4217 §9).
      assert.match(fs.readFileSync(S.pyTls.logFile, 'utf8'), /<- PROT C/);
      assert.match(fs.readFileSync(S.vsftpdTls.logFile, 'utf8'), /"PROT C"/);
    });

    test('an untrusted certificate (no --ca) fails with exit 3 and one TLS line; --insecure works', async () => {
      const src = put(S.vsftpdTls, 'tls-trust.bin', randomBytes(size));
      const r = await runCli(['copy', urlOf(S.vsftpdTls, 'tls-trust.bin'), urlOf(S.proftpdTls), '--fxp', 'force']);
      assert.equal(r.code, EXIT.CONNECT);
      const line = oneErrorLine(r);
      assert.match(line, /TLS failed: self-signed certificate/);
      assert.equal(fs.existsSync(path.join(S.proftpdTls.root, 'tls-trust.bin')), false);
      const ok = await runCli(['copy', urlOf(S.vsftpdTls, 'tls-trust.bin'), urlOf(S.proftpdTls), '--fxp', 'force', '--insecure', '--json']);
      assert.equal(copyJson(ok).mode, 'fxp-tls-sscn');
      assert.equal(await sha256File(path.join(S.proftpdTls.root, 'tls-trust.bin')), await sha256File(src));
    });
  });

  // -------------------------------------------------------------------------
  describe('edge cases', () => {
    const RING: [Role, Role][] = [
      ['vsftpd', 'pyftpdlib'],
      ['pyftpdlib', 'pure-ftpd'],
      ['pure-ftpd', 'proftpd'],
      ['proftpd', 'vsftpd'],
    ];

    for (const size of [0, 1]) {
      test(`${size}-byte files around the ring of servers`, async () => {
        for (const [a, b] of RING) {
          const name = `tiny-${size}-${a}-${b}.bin`;
          const src = put(S[a], name, randomBytes(size));
          const j = copyJson(await runCli(['copy', urlOf(S[a], name), urlOf(S[b]), '--fxp', 'force', '--json']));
          // Without --passive, a pyftpdlib or pure-ftpd destination is made the
          // passive side, unless the source is one of them too (software.ts: unreliableActive).
          const reversed = b === 'pyftpdlib' || (b === 'pure-ftpd' && a !== 'pyftpdlib');
          assert.equal(j.mode, reversed ? 'fxp-reversed' : 'fxp', `${a} -> ${b}`);
          assert.equal(j.bytes, size);
          const dst = path.join(S[b].root, name);
          assert.equal(fs.statSync(dst).size, size, `${a} -> ${b}`);
          assert.equal(await sha256File(dst), await sha256File(src));
          assert.equal(fs.statSync(dst).mtime.toISOString(), OLD_MTIME.toISOString());
        }
      });
    }

    test('a 300 MiB file, server to server', { timeout: 180_000 }, async () => {
      const size = 300 * MiB;
      const { uid, gid } = labUserIds();
      const src = path.join(S.vsftpd.root, 'big.bin');
      // Not sparse: 300 writes of a random 1 MiB block, each stamped with its index.
      const block = randomBytes(MiB);
      const fd = fs.openSync(src, 'w');
      try {
        for (let i = 0; i < 300; i++) {
          block.writeUInt32BE(i, 0);
          fs.writeSync(fd, block);
        }
      } finally {
        fs.closeSync(fd);
      }
      fs.chownSync(src, uid, gid);
      const dst = path.join(S['pure-ftpd'].root, 'big.bin');
      try {
        const [r, bytes] = await counted(() => runCli(['copy', urlOf(S.vsftpd, 'big.bin'), urlOf(S['pure-ftpd']), '--fxp', 'force', '--json'], { timeoutMs: 150_000 }));
        const j = copyJson(r);
        // pure-ftpd is made the passive side (software.ts: unreliableActive).
        assert.equal(j.mode, 'fxp-reversed');
        assert.equal(j.bytes, size);
        assert.equal(fs.statSync(dst).size, size);
        assert.equal(await sha256File(dst), await sha256File(src));
        assertServerToServer(bytes, size);
      } finally {
        fs.rmSync(src, { force: true });
        fs.rmSync(dst, { force: true });
      }
    });

    for (const [a, b] of [['vsftpd', 'pure-ftpd'], ['proftpd', 'pyftpdlib'], ['pyftpdlib', 'vsftpd']] as [Role, Role][]) {
      test(`names with spaces and UTF-8, ${a} -> ${b}`, async () => {
        const rel = 'dir with space/ünïcødé файл.txt';
        const src = put(S[a], rel, randomBytes(100_000));
        mkdirs(S[b], 'dir with space');
        const j = copyJson(await runCli(['copy', urlOf(S[a], rel), urlOf(S[b], 'dir with space/'), '--fxp', 'force', '--json']));
        assert.equal(j.path, `/${rel}`);
        // The exact UTF-8 bytes of the name arrived on the destination's disk.
        const dstDir = path.join(S[b].root, 'dir with space');
        assert.deepEqual(fs.readdirSync(dstDir, { encoding: 'buffer' }).map((n) => n.toString('hex')), [Buffer.from('ünïcødé файл.txt').toString('hex')]);
        assert.equal(await sha256File(path.join(S[b].root, rel)), await sha256File(src));
      });
    }

    test('a missing source file: exit 6, one line, nothing left on the destination', async () => {
      for (const [a, b] of RING) {
        const r = await runCli(['copy', urlOf(S[a], 'no-such-file.bin'), urlOf(S[b]), '--fxp', 'force']);
        assert.equal(r.code, EXIT.REMOTE, `${a} -> ${b}: ${r.stderr}`);
        assert.match(oneErrorLine(r), /no-such-file\.bin/);
        assert.equal(fs.existsSync(path.join(S[b].root, 'no-such-file.bin')), false);
        assert.deepEqual(leftovers(S[b]), []);
      }
    });

    test('a destination directory without write permission: exit 6 (EXIT.REMOTE), one line, no temp file', async () => {
      for (const [a, b] of RING) {
        put(S[a], 'ro-src.bin', randomBytes(50_000));
        mkdirs(S[b], 'readonly');
        fs.chmodSync(path.join(S[b].root, 'readonly'), 0o555);
        const r = await runCli(['copy', urlOf(S[a], 'ro-src.bin'), urlOf(S[b], 'readonly/'), '--fxp', 'force']);
        // exit.ts: REMOTE = "the server refused the operation (no such file or directory, permission denied)".
        assert.equal(r.code, EXIT.REMOTE, `${a} -> ${b}: ${r.stderr}`);
        assert.match(oneErrorLine(r), /ro-src\.bin/);
        assert.deepEqual(fs.readdirSync(path.join(S[b].root, 'readonly')), []);
        assert.deepEqual(leftovers(S[b]), []);
      }
    });

    test('CR/LF in a percent-encoded path is refused before anything is sent (exit 2)', async () => {
      put(S.vsftpd, 'victim.bin', randomBytes(1000));
      put(S.proftpd, 'victim.bin', randomBytes(1000));
      const logs = [S.vsftpd.logFile, S.proftpd.logFile];
      const before = logs.map((f) => fs.readFileSync(f));
      const evil = 'x%0d%0aDELE%20victim.bin';
      for (const [srcUrl, dstUrl] of [
        [S.vsftpd.url + evil, S.proftpd.url],
        [S.vsftpd.url + 'victim.bin', S.proftpd.url + evil],
        [S.vsftpd.url + 'x%0aDELE%20victim.bin', S.proftpd.url],
      ]) {
        const r = await runCli(['copy', srcUrl, dstUrl, '--fxp', 'force']);
        assert.equal(r.code, EXIT.USAGE);
        assert.match(oneErrorLine(r), /CR, LF or NUL/);
        assert.doesNotMatch(r.stderr, /fxp-lab-Secret1/);
      }
      // Not one byte reached either server: their command logs did not change.
      logs.forEach((f, i) => assert.ok(fs.readFileSync(f).equals(before[i]), `${f} changed`));
      assert.ok(fs.existsSync(path.join(S.vsftpd.root, 'victim.bin')));
      assert.ok(fs.existsSync(path.join(S.proftpd.root, 'victim.bin')));
    });
  });

  // -------------------------------------------------------------------------
  describe('--continue', () => {
    const size = 4 * MiB + 3;
    const half = Math.floor(size / 2);

    for (const b of ['vsftpd', 'pure-ftpd', 'pyftpdlib'] as Role[]) {
      test(`resumes a half-done .fxpmirror-part on ${b}`, async () => {
        const a: Role = b === 'pure-ftpd' ? 'pyftpdlib' : 'pure-ftpd';
        const data = randomBytes(size);
        const src = put(S[a], 'resume.bin', data);
        put(S[b], '.resume.bin.fxpmirror-part', data.subarray(0, half));
        const [r, bytes] = await counted(() => runCli(['copy', urlOf(S[a], 'resume.bin'), urlOf(S[b]), '--fxp', 'force', '--continue', '--json']));
        const j = copyJson(r);
        assert.equal(j.resumedFrom, half);
        assert.equal(j.bytes, size - half);
        assert.equal(await sha256File(path.join(S[b].root, 'resume.bin')), await sha256File(src));
        assert.deepEqual(leftovers(S[b]), []);
        // Only the second half crossed between the servers (plus TCP/IP overhead).
        assert.ok(bytes.serverToServer >= size - half && bytes.serverToServer < (size - half) * 1.2, `server-to-server ${bytes.serverToServer}`);
      });
    }

    test('proftpd refuses REST before STOR by default: one warning, then a full transfer', async () => {
      const data = randomBytes(size);
      const src = put(S.vsftpd, 'resume2.bin', data);
      put(S.proftpd, '.resume2.bin.fxpmirror-part', data.subarray(0, half));
      const [r, bytes] = await counted(() => runCli(['copy', urlOf(S.vsftpd, 'resume2.bin'), urlOf(S.proftpd), '--fxp', 'force', '--continue', '--json']));
      const j = copyJson(r);
      assert.equal(j.resumedFrom, 0);
      assert.equal(j.bytes, size);
      const warn = lines(r.stderr);
      assert.equal(warn.length, 1, r.stderr);
      assert.match(warn[0], /127\.0\.0\.26:3122 does not resume uploads \(.*451 .*Append\/Restart not permitted.*\): transferring from the start/);
      assert.equal(await sha256File(path.join(S.proftpd.root, 'resume2.bin')), await sha256File(src));
      assert.ok(bytes.serverToServer >= size);
      assert.deepEqual(leftovers(S.proftpd), []);
    });
  });

  // -------------------------------------------------------------------------
  describe('--verify checksum', () => {
    test('only proftpd offers checksums (HASH and X* commands); the other three none', async () => {
      for (const role of [...PERMISSIVE, 'proftpd2'] as Role[]) {
        const conn = await FtpConnection.connect(serverOptions(S[role]));
        try {
          const algos = conn.hashAlgorithms();
          if (PLAN[role][0] === 'proftpd') assert.deepEqual(algos, ['SHA-512', 'SHA-256', 'SHA-1', 'MD5', 'CRC32']);
          else assert.deepEqual(algos, [], role);
        } finally {
          await conn.close();
        }
      }
    });

    test('proftpd -> proftpd: FXP, then both servers hash the file and agree', async () => {
      const data = randomBytes(MiB + 1);
      put(S.proftpd, 'sum.bin', data);
      const r = await runCli(['copy', urlOf(S.proftpd, 'sum.bin'), urlOf(S.proftpd2), '--fxp', 'force', '--verify', 'checksum', '--json']);
      const j = copyJson(r);
      assert.equal(j.mode, 'fxp');
      assert.equal(j.verified, 'checksum');
      assert.ok(j.checksum, 'checksum in the result');
      assert.equal(j.checksum.algorithm, 'SHA-512');
      // The value the servers computed is the real SHA-512 of the bytes.
      assert.equal(j.checksum.value, createHash('sha512').update(data).digest('hex'));
      assert.equal(await sha256File(path.join(S.proftpd2.root, 'sum.bin')), createHash('sha256').update(data).digest('hex'));
    });

    test('vsftpd -> pyftpdlib share no algorithm: warning, success, verified by size', async () => {
      const src = put(S.vsftpd, 'nosum.bin', randomBytes(MiB));
      const r = await runCli(['copy', urlOf(S.vsftpd, 'nosum.bin'), urlOf(S.pyftpdlib), '--fxp', 'force', '--verify', 'checksum', '--json']);
      const j = copyJson(r);
      assert.equal(j.checksum, undefined);
      assert.equal(j.verified, 'size');
      const warn = lines(r.stderr);
      assert.equal(warn.length, 1, r.stderr);
      assert.match(warn[0], /127\.0\.0\.25:3121 and 127\.0\.0\.28:3124 share no checksum algorithm .*: verified by size only/);
      assert.equal(await sha256File(path.join(S.pyftpdlib.root, 'nosum.bin')), await sha256File(src));
    });
  });

  // -------------------------------------------------------------------------
  describe('probe', () => {
    interface ProbeJson {
      servers: { label: string; name: string; kind: string }[];
      results: { direction: string; mode: string; ok: boolean; refusedBy?: string; step?: string; reply?: string; fix?: string }[];
    }
    const probe = async (a: Role, b: Role): Promise<ProbeJson> => {
      const r = await runCli(['probe', S[a].url, S[b].url, '--json']);
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.deepEqual(leftovers(S[a]), [], 'probe files left on A');
      assert.deepEqual(leftovers(S[b]), [], 'probe files left on B');
      return JSON.parse(r.stdout) as ProbeJson;
    };
    const PLAIN_MODES = ['fxp', 'fxp-epsv', 'fxp-reversed', 'fxp-epsv-reversed', 'relay'];

    for (const [a, b] of [['vsftpd', 'proftpd'], ['pure-ftpd', 'pyftpdlib']] as [Role, Role][]) {
      test(`permissive ${a} + ${b}: every plain mode works both ways`, async () => {
        const p = await probe(a, b);
        assert.deepEqual(p.servers.map((s) => s.kind), [PLAN[a][0], PLAN[b][0]]);
        for (const dir of ['A->B', 'B->A']) {
          const rs = p.results.filter((x) => x.direction === dir);
          assert.deepEqual(rs.map((x) => x.mode).sort(), [...PLAIN_MODES].sort());
          for (const x of rs) assert.equal(x.ok, true, `${dir} ${x.mode}: ${x.reply}`);
        }
      });
    }

    /** Each failed result: who refused, at which step, and the advice. */
    const refusals = (p: ProbeJson) => p.results.filter((x) => !x.ok).map((x) => `${x.direction} ${x.mode}: ${x.refusedBy} ${x.step} | ${x.fix}`).sort();

    test('vsftpd (pasv_promiscuous only) + strict pure-ftpd: each refusal names its server and fix', async () => {
      const p = await probe('vsftpdPasvOnly', 'pureStrict');
      const vs = 'vsftpd: port_promiscuous=YES';
      const pure = 'pure-ftpd: start with -w (FXP for authenticated users) or -W (FXP for everyone)';
      assert.deepEqual(refusals(p), [
        `A->B fxp-epsv-reversed: A EPRT | ${vs}`,
        `A->B fxp-epsv: B EPRT | ${pure}`,
        `A->B fxp-reversed: A PORT | ${vs}`,
        `A->B fxp: B PORT | ${pure}`,
        `B->A fxp-epsv-reversed: B EPRT | ${pure}`,
        `B->A fxp-epsv: A EPRT | ${vs}`,
        `B->A fxp-reversed: B PORT | ${pure}`,
        `B->A fxp: A PORT | ${vs}`,
      ]);
      assert.ok(p.results.filter((x) => x.mode === 'relay').every((x) => x.ok));
      assert.match(p.results.find((x) => x.refusedBy === 'A')!.reply!, /Illegal (PORT|EPRT) command/);
    });

    test('vsftpd (port_promiscuous only) + permissive pyftpdlib: vsftpd refuses the foreign passive connection', async () => {
      const p = await probe('vsftpdPortOnly', 'pyftpdlib');
      const vs = 'vsftpd: pasv_promiscuous=YES';
      assert.deepEqual(refusals(p), [
        `A->B fxp-epsv: A RETR | ${vs}`,
        `A->B fxp: A RETR | ${vs}`,
        `B->A fxp-epsv-reversed: A STOR | ${vs}`,
        `B->A fxp-reversed: A STOR | ${vs}`,
      ]);
      for (const x of p.results.filter((y) => !y.ok)) assert.match(x.reply!, /425 Security: Bad IP connecting/);
    });

    for (const [strict, fix] of [
      ['proftpdStrict', 'proftpd: AllowForeignAddress on'],
      ['pyStrict', 'pyftpdlib: handler.permit_foreign_addresses = True'],
    ] as [Role, string][]) {
      test(`vsftpd (port_promiscuous only) + strict ${PLAN[strict][0]}: every refusal is B's, with its fix`, async () => {
        const p = await probe('vsftpdPortOnly', strict);
        const failed = p.results.filter((x) => !x.ok);
        assert.deepEqual(failed.map((x) => x.mode).sort(), ['fxp', 'fxp', 'fxp-epsv', 'fxp-epsv', 'fxp-epsv-reversed', 'fxp-epsv-reversed', 'fxp-reversed', 'fxp-reversed']);
        for (const x of failed) {
          assert.equal(x.refusedBy, 'B', `${x.direction} ${x.mode}`);
          assert.equal(x.fix, fix);
        }
        assert.ok(p.results.filter((x) => x.mode === 'relay').every((x) => x.ok));
      });
    }
  });

  // -------------------------------------------------------------------------
  test('pure-ftpd -> pyftpdlib with the source passive (lftp stalled there): 20 of 20 through one engine', { timeout: 120_000 }, async () => {
    const srcPool = new ConnectionPool(serverOptions(S['pure-ftpd']), 1);
    const dstPool = new ConnectionPool(serverOptions(S.pyftpdlib), 1);
    const engine = new FxpEngine({ fxp: 'force', passive: 'source', passiveExplicit: true, verify: 'size', continue: false, allowClearData: false });
    const s = new ConnectionLease(srcPool);
    const d = new ConnectionLease(dstPool);
    const ok: string[] = [];
    try {
      const files = Array.from({ length: 20 }, (_, i) => {
        const data = randomBytes(256 * 1024 + i * 4099);
        put(S['pure-ftpd'], `race-${i}.bin`, data);
        return { name: `race-${i}.bin`, hash: createHash('sha256').update(data).digest('hex'), size: data.length };
      });
      for (const f of files) {
        const r = await engine.copy(s, d, { srcPath: `/${f.name}`, dstRoot: '/', dstRel: f.name, size: f.size });
        assert.equal(r.mode, 'fxp', f.name);
        assert.equal(await sha256File(path.join(S.pyftpdlib.root, f.name)), f.hash, f.name);
        ok.push(f.name);
      }
      // The connections were reused: one control connection per server for all 20.
      assert.equal(srcPool.size, 1);
      assert.equal(dstPool.size, 1);
    } finally {
      s.release();
      d.release();
      await Promise.all([srcPool.close(), dstPool.close()]);
    }
    assert.equal(ok.length, 20);
  });
});
