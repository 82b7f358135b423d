/**
 * The lab's two servers that never allow FXP, each refusing in words of its
 * own: GNU inetutils ftpd (no MLSD, no way to set an mtime) and ftp-srv from
 * npm. Their exact replies are pinned here, because fault and refusal tests
 * build on them; then fxpmirror `ls` against each, and `probe` between each
 * and proftpd, which must show the refusals.
 *
 * Addresses 127.0.5.21-29 and 127.0.5.39 belong to this file.
 * Under CI=true a server that cannot run is a failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { EXTRA_KINDS, isAlive, stopAll, type ExtraKind, type LabServer, type StartOptions } from '../lab/lab.js';
import { lines, requireServers, runCli, startPlan, writeLabFile } from '../lab/helpers.js';
import { RawFtp, connectData, login, passivePort } from '../lab/raw-ftp.js';

const UNAVAILABLE = requireServers([...EXTRA_KINDS, 'proftpd']);
const FOREIGN = '127.0.5.39';

type Role = ExtraKind | 'proftpd';
const PLAN: Record<Role, [Role, StartOptions]> = {
  'inetutils-ftpd': ['inetutils-ftpd', { address: '127.0.5.25', port: 5125 }],
  'ftp-srv': ['ftp-srv', { address: '127.0.5.26', port: 5126 }],
  proftpd: ['proftpd', { address: '127.0.5.22', port: 5122 }],
};
const S = {} as Record<Role, LabServer>;

/** What each server answers, as seen on Debian 12 (inetutils 2.4) and ftp-srv 4.6.3. */
const REPLIES: Record<ExtraKind, { feat: string[]; port: RegExp; eprt: RegExp; mfmt: RegExp; siteUtime: RegExp; mdtmSet: RegExp; mlsd: RegExp; sizeAscii: string; sizeBinary: string }> = {
  'inetutils-ftpd': {
    feat: ['MDTM', 'SIZE', 'REST', 'EPRT', 'EPSV', 'LPRT', 'LPSV'],
    port: /^500 Illegal PORT Command$/,
    eprt: /^500 Illegal EPRT Command$/,
    mfmt: /^500 'MFMT 20200101000000 a\.txt': command not recognized\.?$/,
    siteUtime: /^500 'SITE UTIME a\.txt 20200101000000 .*': command not recognized\.?$/,
    // The time is taken for part of the file name.
    mdtmSet: /^550 20200101000000 a\.txt: No such file or directory\.?$/,
    mlsd: /^500 'MLSD': command not recognized\.?$/,
    // SIZE in ASCII mode counts the CR each LF would gain (12 bytes, 2 lines).
    sizeAscii: '213 14',
    sizeBinary: '213 12',
  },
  'ftp-srv': {
    // Advertised although the lab gives it no certificate: AUTH TLS then answers 502.
    feat: ['AUTH', 'MDTM', 'PBSZ', 'PROT', 'SIZE', 'TYPE', 'UTF8'],
    port: /^500 The given address is not yours$/,
    eprt: /^500 The given address is not yours$/,
    mfmt: /^502 Command not allowed: MFMT$/,
    siteUtime: /^502 Command not supported$/,
    // Names the server's real path.
    mdtmSet: /^550 ENOENT: no such file or directory, stat '.*20200101000000 a\.txt'$/,
    mlsd: /^502 Command not allowed: MLSD$/,
    sizeAscii: '213 12',
    sizeBinary: '213 12',
  },
};

let foreign: net.Server;
before(async () => {
  if (UNAVAILABLE) return;
  Object.assign(S, await startPlan(PLAN));
  // The third host: PORT/EPRT name it, passive data connections come from it.
  foreign = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => foreign.listen(0, FOREIGN, resolve));
});
after(async () => {
  foreign?.close();
  await stopAll();
});

function seed(server: LabServer): void {
  writeLabFile(`${server.root}/a.txt`, 'hello\nworld\n', new Date('2023-01-02T03:04:05Z'));
  writeLabFile(`${server.root}/dir with space/b.bin`, Buffer.alloc(3000, 7), new Date('2022-05-06T07:08:09Z'));
}

async function session(server: LabServer): Promise<RawFtp> {
  const ftp = await RawFtp.connect(server.host, server.port);
  await login(ftp, server.user, server.password);
  return ftp;
}

describe('inetutils-ftpd and ftp-srv', { skip: UNAVAILABLE ?? false }, () => {
  for (const kind of EXTRA_KINDS) {
    test(`${kind}: FEAT, and the exact replies for foreign PORT/EPRT, mtime setting, MLSD and SIZE`, async () => {
      const server = S[kind];
      const want = REPLIES[kind];
      seed(server);
      const ftp = await session(server);
      try {
        const feat = (await ftp.cmd('FEAT')).split('\n');
        const features = feat.slice(1, -1).map((l) => l.trim().split(' ')[0]);
        assert.deepEqual(features.sort(), [...want.feat].sort(), feat.join('\n'));
        assert.match(await ftp.cmd('PWD'), /^257 "\/"/);
        const port = (foreign.address() as net.AddressInfo).port;
        assert.match(await ftp.cmd(`PORT 127,0,5,39,${port >> 8},${port & 255}`), want.port);
        assert.match(await ftp.cmd(`EPRT |1|${FOREIGN}|${port}|`), want.eprt);
        assert.match(await ftp.cmd('MFMT 20200101000000 a.txt'), want.mfmt);
        assert.match(await ftp.cmd('SITE UTIME a.txt 20200101000000 20200101000000 20200101000000 UTC'), want.siteUtime);
        assert.match(await ftp.cmd('MDTM 20200101000000 a.txt'), want.mdtmSet);
        assert.match(await ftp.cmd('MLSD'), want.mlsd);
        // None of those changed the file.
        assert.equal(fs.statSync(`${server.root}/a.txt`).mtime.toISOString(), '2023-01-02T03:04:05.000Z');
        assert.match(await ftp.cmd('TYPE A'), /^200/);
        assert.equal(await ftp.cmd('SIZE a.txt'), want.sizeAscii);
        assert.match(await ftp.cmd('TYPE I'), /^200/);
        assert.equal(await ftp.cmd('SIZE a.txt'), want.sizeBinary);
        assert.match(await ftp.cmd('MDTM a.txt'), /^213 20230102030405(\.000)?$/);
      } finally {
        ftp.close();
      }
    });
  }

  test('inetutils-ftpd accepts a passive data connection from a foreign address (it checks PORT only)', async () => {
    const server = S['inetutils-ftpd'];
    seed(server);
    const ftp = await session(server);
    try {
      assert.match(await ftp.cmd('TYPE I'), /^200/);
      const data = await connectData(server.host, passivePort(await ftp.cmd('PASV')), FOREIGN);
      const closed = new Promise((r) => data.once('close', r));
      assert.match(await ftp.cmd('RETR a.txt'), /^150 /);
      assert.match(await ftp.next(), /^226 /);
      await closed;
    } finally {
      ftp.close();
    }
  });

  test('ftp-srv refuses a foreign passive connection at once with 550, then 421 and closes the control connection', async () => {
    const server = S['ftp-srv'];
    seed(server);
    for (const pasv of ['PASV', 'EPSV']) {
      const ftp = await session(server);
      try {
        const data = await connectData(server.host, passivePort(await ftp.cmd(pasv)), FOREIGN);
        // Unsolicited: the refusal comes when the connection arrives, before any RETR/STOR.
        assert.equal(await ftp.next(), '550 Remote addresses do not match');
        assert.match(await ftp.next(), /^(421 Closing connection|\[closed\])/);
        await new Promise((r) => (data.destroyed ? r(null) : data.once('close', r)));
        assert.match(await ftp.next(), /^\[closed\]/);
      } finally {
        ftp.close();
      }
    }
  });

  for (const kind of EXTRA_KINDS) {
    test(`${kind}: stop() with a session open leaves no process behind`, async () => {
      const server = S[kind];
      const ftp = await session(server);
      const tree = server.processes();
      try {
        assert.equal(tree[0], server.pid);
        // inetutils: socat plus one ftpd per session; ftp-srv: one node process.
        assert.equal(tree.length, kind === 'inetutils-ftpd' ? 2 : 1, `tree ${tree.join(',')}`);
        await server.stop();
        assert.deepEqual(server.processes(), []);
        for (const pid of tree) assert.equal(isAlive(pid), false, `pid ${pid} of ${kind} survived stop()`);
      } finally {
        ftp.close();
        // The other tests of this file still need it.
        S[kind] = (await startPlan({ s: PLAN[kind] })).s;
      }
    });
  }

  for (const kind of EXTRA_KINDS) {
    test(`fxpmirror ls against ${kind} (LIST only: approximate times)`, async () => {
      const server = S[kind];
      seed(server);
      const text = await runCli(['ls', '-R', server.url]);
      assert.equal(text.code, 0, text.stderr);
      const got = lines(text.stdout);
      assert.ok(got.some((l) => /^-\s+12 ~2023-01-02T\S+\s+a\.txt$/.test(l)), text.stdout);
      assert.ok(got.some((l) => /^d .*dir with space\/$/.test(l)), text.stdout);
      assert.ok(got.some((l) => /^-\s+3000 ~2022-05-06T\S+\s+dir with space\/b\.bin$/.test(l)), text.stdout);
      const json = await runCli(['ls', '--json', `${server.url}dir%20with%20space/`]);
      assert.equal(json.code, 0, json.stderr);
      const entries = JSON.parse(json.stdout) as Array<{ name: string; type: string; size: number; mtimeApproximate: boolean }>;
      assert.deepEqual(entries.map((e) => [e.name, e.type, e.size, e.mtimeApproximate]), [['b.bin', 'file', 3000, true]]);
    });
  }

  interface ProbeResult {
    direction: string;
    mode: string;
    ok: boolean;
    reply?: string;
  }

  /** mode -> [ok, reply pattern] per direction, A = the extra server, B = proftpd (which allows FXP). */
  const PROBE: Record<ExtraKind, Record<string, [boolean, RegExp?]>> = {
    'inetutils-ftpd': {
      'A->B fxp': [true],
      'A->B fxp-epsv': [true],
      'A->B fxp-reversed': [false, /500 Illegal PORT Command/],
      'A->B fxp-epsv-reversed': [false, /500 Illegal EPRT Command/],
      'A->B relay': [true],
      'B->A fxp': [false, /500 Illegal PORT Command/],
      'B->A fxp-epsv': [false, /500 Illegal EPRT Command/],
      'B->A fxp-reversed': [true],
      'B->A fxp-epsv-reversed': [true],
      'B->A relay': [true],
    },
    'ftp-srv': {
      'A->B fxp': [false, /550 Remote addresses do not match/],
      'A->B fxp-epsv': [false, /550 Remote addresses do not match/],
      'A->B fxp-reversed': [false, /500 The given address is not yours/],
      'A->B fxp-epsv-reversed': [false, /500 The given address is not yours/],
      'A->B relay': [true],
      'B->A fxp': [false, /500 The given address is not yours/],
      'B->A fxp-epsv': [false, /500 The given address is not yours/],
      'B->A fxp-reversed': [false, /550 Remote addresses do not match/],
      'B->A fxp-epsv-reversed': [false, /550 Remote addresses do not match/],
      'B->A relay': [true],
    },
  };

  for (const kind of EXTRA_KINDS) {
    test(`fxpmirror probe ${kind} <-> proftpd reports ${kind}'s refusals in its own words`, async () => {
      const r = await runCli(['probe', '--json', S[kind].url, S.proftpd.url], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const results = (JSON.parse(r.stdout) as { results: ProbeResult[] }).results;
      const seen = Object.fromEntries(results.map((x) => [`${x.direction} ${x.mode}`, x]));
      for (const [key, [ok, reply]] of Object.entries(PROBE[kind])) {
        assert.ok(seen[key], `${key} missing: ${r.stdout}`);
        assert.equal(seen[key].ok, ok, `${key}: ${JSON.stringify(seen[key])}`);
        if (reply) assert.match(seen[key].reply ?? '', reply, key);
      }
      // The text form names the refusals too.
      const text = await runCli(['probe', S[kind].url, S.proftpd.url], { timeoutMs: 120_000 });
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, kind === 'ftp-srv' ? /550 Remote addresses do not match/ : /500 Illegal PORT Command/);
    });
  }
});
