/**
 * The lab's throttle and fault helpers against real servers: each fault is
 * seen from outside (a connection that dies or stays silent, a port that
 * refuses, a disk that is full) and each is undone.
 *
 * Addresses 127.0.5.30-38 belong to this file. Under CI=true a server that
 * cannot run is a failure.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  LAB_KINDS,
  NFT_TABLE_PREFIX,
  diskFree,
  fillDisk,
  isAlive,
  isStopped,
  partition,
  resetConnections,
  restartServer,
  runLftp,
  startServer,
  stopAll,
  stopSessions,
  waitForSize,
  type LabKind,
  type LabServer,
} from '../lab/lab.js';
import { requireServers, sha256File, writeLabFile } from '../lab/helpers.js';
import { RawFtp, connectData, login, passivePort } from '../lab/raw-ftp.js';

const UNAVAILABLE = requireServers(LAB_KINDS);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-lab-faults-'));
after(async () => {
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const RATE = 200_000;
const THROTTLED: LabKind[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib', 'ftp-srv'];
const at = (octet: number) => ({ address: `127.0.5.${octet}`, port: 5100 + octet });

function localFile(name: string, bytes: number): string {
  const f = path.join(tmp, name);
  if (!fs.existsSync(f)) fs.writeFileSync(f, randomBytes(bytes));
  return f;
}

async function session(server: LabServer, localAddress?: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect(server.host, server.port, localAddress);
  await login(ftp, server.user, server.password);
  return ftp;
}

describe('throttling (rateLimit, bytes/s)', { skip: UNAVAILABLE ?? false }, () => {
  for (const [i, kind] of THROTTLED.entries()) {
    test(`${kind}: 400 kB (pyftpdlib: 600 kB) up and down at ${RATE} B/s take about 2 s each`, async () => {
      const server = await startServer(kind, { ...at(30 + i), rateLimit: RATE });
      try {
        // pyftpdlib lets a burst of `rate` bytes through, then sleeps twice the overshoot:
        // its average is right over 3 s, not over 2.
        const src = kind === 'pyftpdlib' ? localFile('throttle3.bin', 3 * RATE) : localFile('throttle.bin', 2 * RATE);
        const put = await runLftp(`open ${server.url}; put ${src} -o t.bin`);
        assert.equal(put.code, 0, put.stderr);
        const get = await runLftp(`open ${server.url}; get t.bin -o ${path.join(tmp, `${kind}.back`)}`);
        assert.equal(get.code, 0, get.stderr);
        assert.equal(await sha256File(path.join(server.root, 't.bin')), await sha256File(src));
        // Unthrottled, either takes a few ms here; far too slow would mean KiB taken for bytes.
        for (const [what, r] of [['put', put], ['get', get]] as const) {
          assert.ok(r.ms >= 1400 && r.ms <= 12_000, `${kind} ${what} took ${r.ms} ms`);
        }
      } finally {
        await server.stop();
      }
    });
  }

  test('inetutils-ftpd has no throttle: asking for one fails at start', async () => {
    await assert.rejects(startServer('inetutils-ftpd', { ...at(35), rateLimit: RATE }), /inetutils-ftpd does not support rateLimit/);
  });
});

describe('fault helpers', { skip: UNAVAILABLE ?? false }, () => {
  test('waitForSize resolves while a throttled upload is still running', async () => {
    const server = await startServer('proftpd', { ...at(31), rateLimit: RATE });
    try {
      const src = localFile('wait.bin', 3 * RATE);
      const put = runLftp(`open ${server.url}; put ${src} -o sub.bin`);
      let done = false;
      void put.then(() => (done = true));
      const hit = await waitForSize(server.root, RATE / 2, { name: /^sub\.bin$/, timeoutMs: 10_000 });
      assert.equal(done, false, 'the upload was already over');
      assert.equal(hit.file, path.join(server.root, 'sub.bin'));
      assert.ok(hit.size >= RATE / 2 && hit.size < 3 * RATE, String(hit.size));
      assert.equal((await put).code, 0);
      await assert.rejects(waitForSize(path.join(server.root, 'none'), 1, { timeoutMs: 100 }), /did not reach 1 bytes \(no such file\)/);
    } finally {
      await server.stop();
    }
  });

  test('resetConnections kills a client data connection and spares the control connection', async () => {
    const server = await startServer('vsftpd', { ...at(30), rateLimit: RATE });
    const ftp = await session(server);
    try {
      writeLabFile(path.join(server.root, 'big.bin'), randomBytes(5 * RATE));
      await ftp.cmd('TYPE I');
      const data = await connectData(server.host, passivePort(await ftp.cmd('PASV')));
      let received = 0;
      data.on('data', (c: Buffer) => (received += c.length));
      const dataClosed = new Promise<void>((r) => data.once('close', () => r()));
      assert.match(await ftp.cmd('RETR big.bin'), /^150 /);
      while (received < RATE / 4) await new Promise((r) => setTimeout(r, 10));
      assert.ok((await resetConnections('127.0.0.1', server, { waitMs: 2000 })) >= 1);
      await dataClosed;
      assert.ok(received < 5 * RATE, `${received} bytes: the transfer was over before the reset`);
      // vsftpd: "426 Failure writing network stream."
      assert.match(await ftp.next(), /^426 /);
      assert.match(await ftp.cmd('NOOP'), /^200/);
    } finally {
      ftp.close();
      await server.stop();
    }
  });

  test('resetConnections between two servers kills their FXP data connection only', async () => {
    const a = await startServer('vsftpd', { ...at(30), rateLimit: RATE });
    const b = await startServer('proftpd', at(31));
    const [ca, cb] = [await session(a), await session(b)];
    try {
      writeLabFile(path.join(a.root, 'f.bin'), randomBytes(5 * RATE));
      const fxp = runLftp(`set ftp:use-fxp yes; set ftp:fxp-force yes; set net:max-retries 1; get ${a.url}f.bin -o ${b.url}f.bin`);
      await waitForSize(b.root, RATE / 2, { name: /^f\.bin$/ });
      assert.ok((await resetConnections(a, b, { waitMs: 2000 })) >= 1);
      const r = await fxp;
      const size = fs.statSync(path.join(b.root, 'f.bin')).size;
      assert.ok(r.code !== 0 || size < 5 * RATE || r.ms > 3000, `lftp saw nothing: ${r.code} ${size} ${r.ms} ms`);
      // The test's own control connections to both servers are untouched.
      assert.match(await ca.cmd('NOOP'), /^200/);
      assert.match(await cb.cmd('NOOP'), /^200/);
    } finally {
      ca.close();
      cb.close();
      await a.stop();
      await b.stop();
    }
  });

  test('stopSessions stalls the sessions of a forking server; new logins still work; resume() lets it go on', async () => {
    const server = await startServer('proftpd', at(32));
    const [mine, other] = [await session(server), await session(server, '127.0.5.39')];
    try {
      // Only the session connected from 127.0.5.39.
      const stalled = await stopSessions(server, { peer: '127.0.5.39' });
      try {
        assert.ok(stalled.pids.length >= 1 && stalled.pids.every(isStopped), stalled.pids.join(','));
        assert.ok(!stalled.pids.includes(server.pid));
        other.send('NOOP');
        assert.equal(await other.nextOrNull(700), null);
        assert.match(await mine.cmd('NOOP'), /^200/);
        const fresh = await session(server, '127.0.5.39');
        assert.match(await fresh.cmd('NOOP'), /^200/);
        fresh.close();
      } finally {
        await stalled.resume();
      }
      assert.match(await other.next(), /^200/);
      assert.ok(stalled.pids.every((p) => !isStopped(p)));
    } finally {
      mine.close();
      other.close();
      await server.stop();
    }
  });

  test('stopSessions on a one-process server (pyftpdlib) stalls everything, new logins included', async () => {
    const server = await startServer('pyftpdlib', at(33));
    const ftp = await session(server);
    try {
      const stalled = await stopSessions(server);
      let late: RawFtp | null = null;
      try {
        assert.deepEqual(stalled.pids, [server.pid]);
        late = await RawFtp.connect(server.host, server.port);
        assert.equal(await late.nextOrNull(700), null, 'greeted while stopped');
      } finally {
        await stalled.resume();
      }
      assert.match(await late.next(), /^220/);
      late.close();
      assert.match(await ftp.cmd('NOOP'), /^200/);
    } finally {
      ftp.close();
      await server.stop();
    }
  });

  test('restartServer: down (connection refused), then back on the same address, port and root', async () => {
    const server = await startServer('vsftpd', at(34));
    const ftp = await session(server);
    try {
      writeLabFile(path.join(server.root, 'kept.txt'), 'still here\n');
      const [oldPid, oldTree] = [server.pid, server.processes()];
      const restarted = restartServer(server, { downMs: 800 });
      await new Promise((r) => setTimeout(r, 300));
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect({ host: server.host, port: server.port });
        s.once('connect', () => (s.destroy(), resolve('connected')));
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      assert.equal(refused, 'ECONNREFUSED');
      assert.match(await ftp.next(), /^\[closed\]/);
      await restarted;
      assert.notEqual(server.pid, oldPid);
      assert.ok(oldTree.every((p) => !isAlive(p)), oldTree.join(','));
      const again = await session(server);
      assert.match(await again.cmd('SIZE kept.txt'), /^213 11$/);
      again.close();
    } finally {
      ftp.close();
      await server.stop();
    }
    assert.deepEqual(server.processes(), []);
  });

  test('partition drops every packet to and from one address, then heals by itself', async () => {
    const server = await startServer('pyftpdlib', at(36));
    const ftp = await session(server);
    try {
      const cut = await partition(server, { forMs: 1500 });
      try {
        const tables = () => execFileSync('/usr/sbin/nft', ['list', 'tables'], { encoding: 'utf8' });
        assert.match(tables(), new RegExp(`${NFT_TABLE_PREFIX}_${process.pid}_drop`));
        ftp.send('NOOP');
        assert.equal(await ftp.nextOrNull(700), null);
        // A connect times out (no RST, no ICMP): as over a real partition.
        const t0 = Date.now();
        const outcome = await new Promise<string>((resolve) => {
          const s = net.connect({ host: server.host, port: server.port });
          s.setTimeout(500, () => (s.destroy(), resolve('timeout')));
          s.once('connect', () => (s.destroy(), resolve('connected')));
          s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        assert.equal(outcome, 'timeout', `after ${Date.now() - t0} ms`);
        await cut.healed;
        assert.doesNotMatch(tables(), new RegExp(`${NFT_TABLE_PREFIX}_${process.pid}_drop`));
      } finally {
        await cut.heal();
      }
      // TCP retransmits the NOOP once the path is back.
      assert.match(await ftp.next(10_000), /^200/);
    } finally {
      ftp.close();
      await server.stop();
    }
  });
});

describe('full disk (tmpfsRoot)', { skip: UNAVAILABLE ?? false }, () => {
  /**
   * What each server answers to STOR when its disk fills mid-transfer and
   * when it is full from the start. Few say so: proftpd's midway text is
   * the errno of a later call, pyftpdlib says "None", pure-ftpd puts the
   * cause on the 451- lines only. No server answers 552; only ftp-srv
   * deletes what it wrote.
   */
  const FULL: Record<LabKind, { midway: RegExp; full: RegExp; keepsPart: boolean }> = {
    vsftpd: { midway: /^451 Failure writing to local file\.$/, full: /^451 Failure writing to local file\.$/, keepsPart: true },
    proftpd: {
      midway: /^45[12] Transfer aborted\. (Input\/output error|No space left on device)$/,
      full: /^452 Transfer aborted\. No space left on device$/,
      keepsPart: true,
    },
    'pure-ftpd': {
      midway: /^451-Error during write to file\n451-Transfer aborted\n451 .*seconds/,
      full: /^451-Error during write to file\n451 Transfer aborted$/,
      keepsPart: true,
    },
    pyftpdlib: { midway: /^426 None; transfer aborted\.$/, full: /^426 None; transfer aborted\.$/, keepsPart: true },
    // Midway the text is a stale errno ("No such file or directory" here).
    'inetutils-ftpd': { midway: /^452 Error writing file: .+\.$/, full: /^452 Error writing file: No space left on device\.$/, keepsPart: true },
    'ftp-srv': { midway: /^550 ENOSPC: no space left on device, write$/, full: /^550 ENOSPC: no space left on device, write$/, keepsPart: false },
  };

  /** STOR `bytes` over a passive data connection; the final reply (after 150/125). */
  async function stor(server: LabServer, name: string, bytes: number): Promise<string> {
    const ftp = await session(server);
    try {
      await ftp.cmd('TYPE I');
      const data = await connectData(server.host, passivePort(await ftp.cmd('EPSV')));
      assert.match(await ftp.cmd(`STOR ${name}`), /^1(25|50) /);
      // The server may reset the data connection once its write fails.
      await new Promise<void>((resolve) => data.end(Buffer.alloc(bytes, 1), () => resolve()));
      return await ftp.next(15_000);
    } finally {
      ftp.close();
    }
  }

  for (const kind of LAB_KINDS) {
    test(`${kind}: STOR into a 1 MiB tmpfs root, filling midway and when already full`, async () => {
      const server = await startServer(kind, { ...at(35), tmpfsRoot: 1024 * 1024 });
      const want = FULL[kind];
      try {
        assert.ok(diskFree(server) > 900 * 1024 && diskFree(server) <= 1024 * 1024, String(diskFree(server)));
        assert.match(await stor(server, 'big.bin', 2 * 1024 * 1024), want.midway);
        const part = path.join(server.root, 'big.bin');
        if (want.keepsPart) {
          const size = fs.statSync(part).size;
          assert.ok(size > 0 && size <= 1024 * 1024, String(size));
        } else {
          assert.equal(fs.existsSync(part), false);
        }
        fs.rmSync(part, { force: true });
        // The space comes back when the session that wrote the file has closed it.
        for (const t0 = Date.now(); diskFree(server) < 900 * 1024 && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 10));
        // fillDisk takes the rest beside the root, unseen by the server; release() gives it back.
        const filler = fillDisk(server);
        try {
          assert.ok(diskFree(server) < 8192, String(diskFree(server)));
          assert.deepEqual(fs.readdirSync(server.root).filter((n) => n !== 'small.bin'), []);
          assert.match(await stor(server, 'small.bin', 64 * 1024), want.full);
        } finally {
          filler.release();
        }
        const ok = await runLftp(`open ${server.url}; put ${localFile('small.bin', 64 * 1024)} -o small.bin`);
        assert.equal(ok.code, 0, ok.stderr);
        assert.equal(fs.statSync(path.join(server.root, 'small.bin')).size, 64 * 1024);
      } finally {
        await server.stop();
      }
      assert.equal(fs.existsSync(server.root), false, 'the tmpfs is unmounted at stop');
    });
  }
});
