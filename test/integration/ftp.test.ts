/**
 * The protocol core against the four real servers: login, FEAT, listings by
 * MLSD and LIST, explicit TLS with verified certificates, and the one-line
 * errors with their exit codes. Addresses 127.0.4.21-24 (own block).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll, requireServer, labAvailable, SERVER_KINDS, LAB_PASSWORD, type LabServer, type ServerKind } from '../lab/lab.js';
import { runCli, oneLine, writeLabFile, type CliRun } from '../lab/helpers.js';
import { FtpConnection } from '../../src/ftp/connection.js';
import { ConnectionPool } from '../../src/ftp/pool.js';
import { FtpUnsafeArgumentError, FtpLoginError } from '../../src/ftp/errors.js';
import type { ContainedPath } from '../../src/ftp/remote-path.js';
import { serverFromUrl } from '../../src/cli/servers.js';
import { EXIT } from '../../src/cli/exit.js';

const ADDR: Record<ServerKind, string> = { vsftpd: '127.0.4.21', proftpd: '127.0.4.22', 'pure-ftpd': '127.0.4.23', pyftpdlib: '127.0.4.24' };

/** A small tree on the server's disk with awkward names and known times. */
function seed(root: string): void {
  const put = (rel: string, data: string | Buffer, mtime: Date) => writeLabFile(path.join(root, rel), data, mtime);
  put('plain.txt', 'hello\n', new Date('2021-03-04T05:06:07Z'));
  put('with space.bin', Buffer.alloc(1234, 7), new Date('2020-01-02T03:04:05Z'));
  put('ünïcødé файл.txt', 'utf8\n', new Date('2019-05-06T07:08:09Z'));
  put('.hidden', 'dot\n', new Date('2018-01-01T00:00:00Z'));
  put('sub dir/inner.txt', 'inner\n', new Date('2022-02-02T02:02:02Z'));
}

const CI = !!process.env.CI;

for (const kind of SERVER_KINDS) {
  const reason = labAvailable(kind);
  describe(`${kind}: protocol core`, { skip: !CI && reason ? reason : false }, () => {
    let srv: LabServer;
    before(async () => {
      requireServer(kind);
      srv = await startServer(kind, { address: ADDR[kind], tls: true });
      seed(srv.root);
    });
    after(() => stopAll());

    test('logs in and reads FEAT into typed capabilities', async () => {
      const { server } = serverFromUrl(srv.url.replace(/^ftpes:/, 'ftp:'), '', {});
      const conn = await FtpConnection.connect(server);
      try {
        assert.ok(conn.greeting.length > 0);
        assert.equal(conn.state.kind, kind);
        const f = conn.features;
        assert.ok(f.size, 'SIZE advertised');
        assert.ok(f.mdtm, 'MDTM advertised');
        assert.ok(f.auth.includes('TLS'), 'AUTH TLS advertised (the lab runs with TLS available)');
        if (kind === 'vsftpd') assert.equal(f.mlsd, false, 'vsftpd 3.0.3 has no MLSD');
        else assert.ok(f.mlsd && f.mlst && f.mlst.facts.includes('modify'), 'MLSD with the modify fact');
        if (kind === 'proftpd') assert.ok(f.hash && f.hash.algorithms.includes('SHA-256'), 'proftpd advertises HASH SHA-256');
        assert.match(await conn.pwd(), /^\//);
      } finally {
        await conn.close();
      }
    });

    test('ls --json lists what is on disk, by MLSD where offered, else LIST', async () => {
      const r = await runCli(['ls', '--json', srv.url.replace(/^ftpes:/, 'ftp:')]);
      assert.equal(r.code, 0, r.stderr);
      const entries = JSON.parse(r.stdout) as { name: string; type: string; size?: number; mtime?: string; mtimeApproximate: boolean }[];
      const byName = new Map(entries.map((e) => [e.name, e]));
      for (const name of ['plain.txt', 'with space.bin', 'ünïcødé файл.txt', 'sub dir', '.hidden']) assert.ok(byName.has(name), `${name} listed`);
      assert.equal(byName.get('with space.bin')!.size, 1234);
      assert.equal(byName.get('sub dir')!.type, 'dir');
      const t = byName.get('with space.bin')!;
      if (kind === 'vsftpd') {
        // LIST: a date with a year and no time, never passed off as exact.
        assert.equal(t.mtimeApproximate, true);
        assert.equal(t.mtime!.slice(0, 10), '2020-01-02');
      } else {
        assert.equal(t.mtimeApproximate, false);
        assert.equal(t.mtime, '2020-01-02T03:04:05.000Z');
      }
    });

    test('LIST gives the same names and sizes as MLSD', async () => {
      const { server } = serverFromUrl(srv.url.replace(/^ftpes:/, 'ftp:'), '', {});
      const conn = await FtpConnection.connect(server);
      try {
        conn.state.listing = 'LIST';
        const { entries: viaList } = await conn.list('/');
        const names = viaList.map((e) => `${e.name}:${e.type}:${e.type === 'file' ? e.size : ''}`).sort();
        assert.deepEqual(names, ['.hidden:file:4', 'plain.txt:file:6', 'sub dir:dir:', 'with space.bin:file:1234', 'ünïcødé файл.txt:file:5']);
        assert.ok(viaList.every((e) => e.mtimeApproximate), 'LIST dates are approximate');
      } finally {
        await conn.close();
      }
    });

    test('active data connections (--active) list the same entries, plain and under TLS', async () => {
      const passive = await runCli(['ls', '--json', srv.url.replace(/^ftpes:/, 'ftp:')]);
      const active = await runCli(['ls', '--json', '--active', srv.url.replace(/^ftpes:/, 'ftp:')]);
      assert.equal(active.code, 0, active.stderr);
      const names = (r: CliRun) => (JSON.parse(r.stdout) as { name: string; size?: number }[]).map((e) => `${e.name}:${e.size}`).sort();
      assert.deepEqual(names(active), names(passive));
      const tls = await runCli(['ls', '--json', '--active', '--ca', srv.caFile!, srv.url]);
      assert.equal(tls.code, 0, tls.stderr);
      assert.deepEqual(names(tls), names(passive));
    });

    test('ls -R walks subdirectories', async () => {
      const r = await runCli(['ls', '-R', srv.url.replace(/^ftpes:/, 'ftp:')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /sub dir\/inner\.txt/);
    });

    test('explicit TLS with the lab CA verifies and lists; without it, a one-line TLS error (exit 3)', async () => {
      const ok = await runCli(['ls', '--json', '--ca', srv.caFile!, srv.url]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok((JSON.parse(ok.stdout) as { name: string }[]).some((e) => e.name === 'plain.txt'));
      const bad = await runCli(['ls', srv.url]);
      assert.equal(bad.code, EXIT.CONNECT);
      assert.match(oneLine(bad.stderr), /TLS failed: .*(self[- ]signed|verify|certificate)/i);
      const insecure = await runCli(['ls', '--insecure', srv.url]);
      assert.equal(insecure.code, 0, insecure.stderr);
    });

    test('a pinned SHA-256 fingerprint is accepted, a wrong one refused', async () => {
      const pem = fs.readFileSync(srv.caFile!, 'utf8');
      const { X509Certificate } = await import('node:crypto');
      const fp = new X509Certificate(pem).fingerprint256;
      const ok = await runCli(['ls', '--fingerprint', fp, srv.url]);
      assert.equal(ok.code, 0, ok.stderr);
      const bad = await runCli(['ls', '--fingerprint', 'AA'.repeat(32), srv.url]);
      assert.equal(bad.code, EXIT.CONNECT);
      assert.match(oneLine(bad.stderr), /fingerprint .* does not match/);
    });

    test('a wrong password: exit 3, one line, the password never printed', async () => {
      const url = srv.url.replace(/^ftpes:/, 'ftp:').replace(encodeURIComponent(LAB_PASSWORD), 'Wrong-Pass-42');
      const r = await runCli(['ls', url]);
      assert.equal(r.code, EXIT.CONNECT);
      const line = oneLine(r.stderr);
      assert.match(line, /login refused/);
      assert.ok(!line.includes('Wrong-Pass-42') && !r.stdout.includes('Wrong-Pass-42'));
      const api = serverFromUrl(url, '', {}).server;
      await assert.rejects(FtpConnection.connect(api), FtpLoginError);
    });

    test('a pool of 4 opened at once: proftpd connects one after another greeting, the others all at once; no PRET to a known server', async () => {
      const { server } = serverFromUrl(srv.url.replace(/^ftpes:/, 'ftp:'), '', {});
      const sent: string[] = [];
      const pool = new ConnectionPool(server, 4, (d, l) => {
        if (d === '>') sent.push(l.split(' ')[0]);
      });
      const phases: string[] = [];
      try {
        // The first connection identifies the server; the next three are opened together.
        await pool.use((c) => c.list('/'));
        pool.onConnectPhase = (p) => phases.push(p);
        const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()]);
        assert.equal(new Set(conns).size, 4, 'four distinct connections');
        assert.equal(pool.size, 4);
        // A listing on each: the data connections work, and PRET (pure-ftpd
        // advertises it) costs no round trip on servers that ignore it.
        await Promise.all(conns.map((c) => c.list('/sub dir')));
        for (const c of conns) pool.release(c);
        if (kind === 'proftpd') assert.deepEqual(phases, ['connect', 'greeted', 'connect', 'greeted', 'connect', 'greeted']);
        else assert.deepEqual(phases.slice(0, 3), ['connect', 'connect', 'connect'], phases.join(' '));
        assert.ok(sent.filter((c) => c === 'MLSD' || c === 'LIST').length >= 5, 'five listings sent');
        assert.ok(!sent.includes('PRET'), `no PRET: ${sent.join(' ')}`);
      } finally {
        await pool.close();
      }
    });

    test('CR/LF in a path is refused before anything is sent', async () => {
      const { server } = serverFromUrl(srv.url.replace(/^ftpes:/, 'ftp:'), '', {});
      const sent: string[] = [];
      const conn = await FtpConnection.connect(server, { wireLog: (d, l) => sent.push(`${d} ${l}`) });
      try {
        await assert.rejects(conn.list('/x\r\nDELE plain.txt'), FtpUnsafeArgumentError);
        // A path that bypassed containedPath() (a cast, as a bug would) is still stopped by the channel.
        await assert.rejects(conn.delete('a\nb' as ContainedPath), FtpUnsafeArgumentError);
        await assert.rejects(conn.size('a\0b'), FtpUnsafeArgumentError);
        assert.ok(!sent.some((l) => l.includes('DELE')), 'nothing reached the wire');
        await conn.noop(); // still usable
      } finally {
        await conn.close();
      }
      assert.ok(fs.existsSync(path.join(srv.root, 'plain.txt')), 'the file is still there');
      // Through the CLI the URL parser refuses it (exit 2), before connecting.
      const r = await runCli(['ls', srv.url.replace(/^ftpes:/, 'ftp:') + 'x%0d%0aDELE%20plain.txt']);
      assert.equal(r.code, EXIT.USAGE);
      oneLine(r.stderr);
      assert.ok(fs.existsSync(path.join(srv.root, 'plain.txt')));
    });
  });
}

describe('implicit TLS (ftps://, vsftpd implicit_ssl)', { skip: !CI && labAvailable('vsftpd') ? labAvailable('vsftpd')! : false }, () => {
  let srv: LabServer;
  before(async () => {
    requireServer('vsftpd');
    srv = await startServer('vsftpd', { address: '127.0.4.25', port: 2990, implicitTls: true });
    seed(srv.root);
  });
  after(() => stopAll());

  test('lists over TLS from the first byte, certificate verified with the lab CA', async () => {
    assert.match(srv.url, /^ftps:/);
    const r = await runCli(['ls', '--json', '--ca', srv.caFile!, srv.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { name: string }[]).some((e) => e.name === 'with space.bin'));
    const api = serverFromUrl(srv.url, '', { ca: srv.caFile }).server;
    assert.equal(api.tls, 'implicit');
    const conn = await FtpConnection.connect(api);
    try {
      assert.ok(conn.isTls);
      assert.equal(conn.dataProtection, 'P');
    } finally {
      await conn.close();
    }
  });

  test('an untrusted certificate fails before any command is sent: exit 3, one line', async () => {
    const r = await runCli(['ls', srv.url]);
    assert.equal(r.code, EXIT.CONNECT);
    assert.match(oneLine(r.stderr), /TLS failed/);
  });
});

describe('connection errors', () => {
  test('a refused connection: exit 3 and one line', async () => {
    // Nothing listens on this port of our own loopback block.
    const r = await runCli(['ls', 'ftp://u:secret-pw@127.0.4.29:2999/']);
    assert.equal(r.code, EXIT.CONNECT);
    assert.match(oneLine(r.stderr), /cannot connect to 127\.0\.4\.29:2999: connection refused/);
    assert.ok(!r.stderr.includes('secret-pw'));
  });

  test('a bad URL: exit 2 and one line without the password', async () => {
    for (const url of ['http://u:topsecret@host/', 'ftp://u:topsecret@host:99999/', 'ftp://']) {
      const r = await runCli(['ls', url]);
      assert.equal(r.code, EXIT.USAGE, url);
      assert.ok(!oneLine(r.stderr).includes('topsecret'));
    }
  });

  test('a bad option: exit 2', async () => {
    const r = await runCli(['mirror', 'ftp://a/', 'ftp://b/', '--parallel', 'zero']);
    assert.equal(r.code, EXIT.USAGE);
  });

  test('--version and --help', async () => {
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
    const h = await runCli(['--help']);
    assert.equal(h.code, 0);
    for (const c of ['run', 'mirror', 'copy', 'probe', 'ls', 'validate', 'Exit codes']) assert.match(h.stdout, new RegExp(c));
  });
});
