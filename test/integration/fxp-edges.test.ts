/**
 * The FXP engine against the lab servers: edge cases (empty and huge files,
 * missing sources, unwritable destinations, CR/LF in paths), --continue,
 * --verify checksum and probe's report of what each pair allows. Servers and
 * helpers are in fxp-setup.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labUserIds } from '../lab/lab.js';
import { lines, oneErrorLine, runCli, sha256File, urlOf } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { FtpConnection } from '../../src/ftp/connection.js';
import { hashAlgorithms } from '../../src/ftp/hash.js';
import {
  assertServerToServer,
  copyJson,
  counted,
  leftovers,
  MiB,
  mkdirs,
  OLD_MTIME,
  PERMISSIVE,
  PLAN,
  put,
  S,
  serverOptions,
  UNAVAILABLE,
  withServers,
  type Role,
} from './fxp-setup.js';

// ---------------------------------------------------------------------------

describe('FXP engine against the lab servers', { skip: UNAVAILABLE ?? false }, () => {
  withServers();

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
          const algos = hashAlgorithms(conn);
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
});
