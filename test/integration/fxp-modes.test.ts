/**
 * The FXP engine against the lab servers: which mode each pair of servers
 * gets and that the bytes really went server to server: the permissive
 * pairs, strict and half-promiscuous servers, TLS (RFC 4217) with SSCN, and
 * 20 files through one engine where lftp stalled. Servers and helpers are in
 * fxp-setup.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { oneErrorLine, runCli, sha256File, urlOf } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { ConnectionLease, ConnectionPool } from '../../src/ftp/pool.js';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FxpEngine } from '../../src/fxp/engine.js';
import { DEFAULT_TIMINGS } from '../../src/fxp/transfer.js';
import { containedPath } from '../../src/ftp/remote-path.js';
import {
  assertServerToServer,
  assertThroughClient,
  copyJson,
  counted,
  leftovers,
  MiB,
  OLD_MTIME,
  PERMISSIVE,
  put,
  S,
  serverOptions,
  UNAVAILABLE,
  withServers,
} from './fxp-setup.js';

// ---------------------------------------------------------------------------

describe('FXP engine against the lab servers', { skip: UNAVAILABLE ?? false }, () => {
  withServers();

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
