/**
 * The mirror engine against the lab servers: whole trees between server pairs
 * (first sync and re-sync, where the bytes flowed), --parallel, the pipelined
 * PASV of one pair, servers capped per address, relay between two strict
 * servers, a wrong password, and a tree of ~5,000 files. The servers, tree
 * helpers and the CLI are in mirror-setup.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startByteCounter, type ByteCounter, type LabServer } from '../lab/lab.js';
import { lines, urlOf, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import {
  MiB,
  PLAN,
  S,
  T2023,
  UNAVAILABLE,
  assertSameTree,
  buildMainTree,
  cli,
  copyTree,
  dirsOf,
  disk,
  filesOf,
  mirrorJson,
  own,
  prng,
  put,
  snapshot,
  treeHash,
  withServers,
  type Role,
} from './mirror-setup.js';

let counter: ByteCounter | undefined;

// ---------------------------------------------------------------------------

describe('mirror engine against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 600_000 }, () => {
  /** The main tree on proftpd's disk (/tree) and what it is. */
  let main: { files: number; bytes: number };
  let mainSnap: Map<string, string>;

  withServers(Object.keys(PLAN) as Role[]);

  before(async () => {
    // The client is 127.0.0.1; only the four servers of the first-sync pairs count.
    counter = await startByteCounter('127.0.0.1', (['proftpd', 'pyftpdlib', 'vsftpd', 'pure'] as Role[]).map((r) => PLAN[r][1].address!));
    main = buildMainTree(disk(S.proftpd, 'tree'));
    mainSnap = snapshot(disk(S.proftpd, 'tree'));
  });

  after(async () => {
    await counter?.close();
  });

  // -------------------------------------------------------------------------
  describe('first sync and re-sync', () => {
    test('the main tree is what the brief asks for', () => {
      assert.ok(main.files >= 290 && main.files <= 310, `${main.files} files`);
      const sizes = filesOf(mainSnap).map((f) => Number(mainSnap.get(f)!.split(' ')[0]));
      assert.equal(Math.min(...sizes), 0);
      assert.equal(Math.max(...sizes), 8 * MiB);
      assert.ok(dirsOf(mainSnap).some((d) => d.split('/').length - 1 >= 5), 'depth 5');
      assert.ok(filesOf(mainSnap).some((f) => /[^\x00-\x7f]/.test(f) && f.includes(' ')), 'UTF-8 names with spaces');
      for (const d of ['empty/', 'nested/empty/deeper/', 'level1 beta gamma/empty é/']) assert.ok(mainSnap.has(d), d);
    });

    const pairs: { name: string; src: Role; dst: Role; args: string[]; fxpModes: string[] }[] = [
      // MLSD on both sides; pyftpdlib passive (see the header).
      { name: 'proftpd -> pyftpdlib (MLSD both sides)', src: 'proftpd', dst: 'pyftpdlib', args: ['--passive', 'destination'], fxpModes: ['fxp-reversed'] },
      // vsftpd has no MLSD: the source is read with LIST (dates to the day for
      // these old files), so the exact mtimes come from MDTM.
      // pure-ftpd is made the passive side (software.ts: unreliableActive).
      { name: 'vsftpd (LIST only) -> pure-ftpd', src: 'vsftpd', dst: 'pure', args: [], fxpModes: ['fxp-reversed'] },
      // vsftpd as the destination: compared through LIST, mtimes set with "MDTM time path".
      { name: 'proftpd -> vsftpd (LIST only)', src: 'proftpd', dst: 'vsftpd', args: [], fxpModes: ['fxp'] },
    ];
    for (const p of pairs) {
      test(`${p.name}: identical bytes, shape, mtimes; a re-run transfers 0 files and changes nothing`, async () => {
        if (p.src !== 'proftpd') copyTree(disk(S.proftpd, 'tree'), disk(S[p.src], 'tree'));
        const target = `first-${p.src}`;
        await counter!.reset();
        const { summary } = await mirrorJson(urlOf(S[p.src], 'tree'), urlOf(S[p.dst], target), p.args);
        const bytes = await counter!.read();

        assert.equal(summary.files.transferred, main.files);
        assert.equal(summary.bytes.transferred, main.bytes);
        assert.deepEqual(Object.keys(summary.modes), p.fxpModes, `modes ${JSON.stringify(summary.modes)}`);
        assert.deepEqual(summary.unsynced, []);
        // The data went from server to server; the client saw only control traffic and listings.
        assert.ok(bytes.serverToServer >= main.bytes, `server-to-server ${bytes.serverToServer} < ${main.bytes}`);
        const client = bytes.clientToServers + bytes.serversToClient;
        assert.ok(client < main.bytes / 10, `client traffic ${client} bytes is not far below ${main.bytes}`);

        const dst = disk(S[p.dst], target);
        assertSameTree(snapshot(dst), mainSnap, `${p.name}: destination vs source`);

        const before = snapshot(dst, { exact: true });
        const again = await mirrorJson(urlOf(S[p.src], 'tree'), urlOf(S[p.dst], target), p.args);
        assert.equal(again.summary.files.transferred, 0);
        assert.equal(again.summary.files.unchanged, main.files);
        assert.equal(again.summary.dirs.created, 0);
        assertSameTree(snapshot(dst, { exact: true }), before, `${p.name}: re-run changed the disk`);
      });
    }
  });

  // -------------------------------------------------------------------------
  test('--parallel 1 and --parallel 8 give the same tree (and the source\'s)', async () => {
    const one = await mirrorJson(urlOf(S.proftpd, 'tree'), urlOf(S.pure, 'par-1'), ['--parallel', '1']);
    const eight = await mirrorJson(urlOf(S.proftpd, 'tree'), urlOf(S.pure, 'par-8'), ['--parallel', '8']);
    assert.equal(one.summary.files.transferred, main.files);
    assert.equal(eight.summary.files.transferred, main.files);
    const a = snapshot(disk(S.pure, 'par-1'));
    const b = snapshot(disk(S.pure, 'par-8'));
    assert.equal(treeHash(a), treeHash(b));
    assert.equal(treeHash(a), treeHash(mainSnap));
  });

  test('one pair, both layouts: the next PASV is asked ahead and PORT goes out with STOR or RETR; same bytes and mtimes', async () => {
    const flat = disk(S.proftpd, 'flat');
    for (let i = 0; i < 20; i++) put(path.join(flat, `f${i}.bin`), Buffer.alloc(1000 + i * 37, i), T2023 + i);
    const want = snapshot(flat);
    // Commands sent to one server, in order (-v: "host:port > COMMAND arg").
    const sent = (r: CliRun, s: LabServer) =>
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith(`${s.host}:${s.port} > `))
        .map((l) => l.slice(`${s.host}:${s.port} > `.length).split(' ')[0]);
    const runs = (cmds: string[], a: string, b: string) => cmds.filter((c, i) => c === a && cmds[i + 1] === b).length;

    // pure-ftpd destination: made passive. Each STOR goes right behind its own PASV, and the
    // previous file's SIZE+MFMT ride with them (fxp/stor-with-pasv.ts; the first file's MFMT a
    // guess, fxp/finish-later.ts; the last file's MFMT is followed by its rename); proftpd gets PORT+RETR.
    const rev = await mirrorJson(urlOf(S.proftpd, 'flat'), urlOf(S.pure, 'flat-rev'), ['--parallel', '1', '-v']);
    assert.deepEqual(rev.summary.modes, { 'fxp-reversed': 20 });
    assertSameTree(snapshot(disk(S.pure, 'flat-rev')), want, 'fxp-reversed');
    const pureSent = sent(rev.r, S.pure);
    assert.equal(runs(pureSent, 'PASV', 'STOR'), 20, pureSent.join(' '));
    assert.equal(runs(pureSent, 'MFMT', 'PASV'), 19, pureSent.join(' '));
    assert.equal(pureSent.filter((c) => c === 'PASV').length, 20, 'one PASV per file, none asked ahead');
    assert.equal(runs(sent(rev.r, S.proftpd), 'PORT', 'RETR'), 20);

    // vsftpd destination: active. proftpd's PASV for the next file goes out beside SIZE+MFMT; vsftpd gets PORT+STOR.
    const fwd = await mirrorJson(urlOf(S.proftpd, 'flat'), urlOf(S.vsftpd, 'flat-fwd'), ['--parallel', '1', '-v']);
    assert.deepEqual(fwd.summary.modes, { fxp: 20 });
    assertSameTree(snapshot(disk(S.vsftpd, 'flat-fwd')), want, 'fxp');
    const proSent = sent(fwd.r, S.proftpd);
    assert.equal(runs(proSent, 'PASV', 'RETR'), 20, proSent.join(' '));
    // The root listing asks one PASV ahead for a next listing (list-command.ts); none follows (a flat tree), so it goes unused.
    assert.equal(proSent.filter((c) => c === 'PASV').length, 23, 'the listing, its PASV ahead, the first file, then one ahead per file');
    assert.equal(runs(sent(fwd.r, S.vsftpd), 'PORT', 'STOR'), 20);
  });

  test('servers capped at 2 connections per address, --parallel 8: completes, same tree', async () => {
    copyTree(disk(S.proftpd, 'tree'), disk(S.proftpdCapped, 'tree'));
    const r = await cli(['mirror', urlOf(S.proftpdCapped, 'tree'), urlOf(S.pureCapped, 'capped'), '--parallel', '8']);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.match(r.stdout, new RegExp(`transferred: +${main.files} files`));
    assert.match(r.stdout, /failed: +0 files/);
    // The caps were really hit (proftpd refuses the login with 530, pure-ftpd greets with 421).
    // The cap was hit and the pool shrank instead of failing. Which of the two
    // pools tries a third connection first depends on timing, so either counts;
    // each pool reports a shrink once per new limit, not once per refusal.
    const shrinks = r.stderr.split('\n').filter((l) => /pool-shrink /.test(l));
    assert.ok(shrinks.some((l) => /server=127\.0\.2\.2[34]:422[34]/.test(l)), r.stderr);
    for (const server of ['127.0.2.23:4223', '127.0.2.24:4224']) {
      assert.ok(shrinks.filter((l) => l.includes(`server=${server}`)).length <= 1, `one shrink report per limit for ${server}`);
    }
    assertSameTree(snapshot(disk(S.pureCapped, 'capped')), mainSnap, 'capped servers');
    const again = await mirrorJson(urlOf(S.proftpdCapped, 'tree'), urlOf(S.pureCapped, 'capped'), ['--parallel', '8']);
    assert.equal(again.summary.files.transferred, 0);
  });

  test('two strict servers (FXP refused both ways) still mirror under --fxp auto, by relay', async () => {
    const T = Date.UTC(2023, 6, 7) / 1000;
    put(disk(S.proftpdStrict, 'rel/empty.bin'), '', T);
    put(disk(S.proftpdStrict, 'rel/one MiB.bin'), Buffer.alloc(MiB, 7), T + 1);
    for (let i = 0; i < 10; i++) put(disk(S.proftpdStrict, `rel/sub ü/f${i}.txt`), `file ${i}\n`.repeat(i * 50), T + i);
    fs.mkdirSync(disk(S.proftpdStrict, 'rel/empty dir'));
    own(disk(S.proftpdStrict, 'rel'));
    const { summary } = await mirrorJson(urlOf(S.proftpdStrict, 'rel'), urlOf(S.pureStrict, 'rel'), ['--fxp', 'auto']);
    assert.deepEqual(summary.modes, { relay: 12 });
    assertSameTree(snapshot(disk(S.pureStrict, 'rel')), snapshot(disk(S.proftpdStrict, 'rel')), 'relayed tree');
  });

  // -------------------------------------------------------------------------
  test('a wrong password: exit 3, one stderr line, no password in it', async () => {
    const secret = 'Wrong-Pass-4137x';
    const url = `ftp://ftptest:${secret}@${S.proftpd.host}:${S.proftpd.port}/tree`;
    const r = await cli(['mirror', url, urlOf(S.pure, 'never')]);
    assert.equal(r.code, EXIT.CONNECT);
    const l = lines(r.stderr);
    assert.equal(l.length, 1, r.stderr);
    assert.match(l[0], /^fxpmirror: .*(530|login)/i);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'password printed');
    assert.ok(!fs.existsSync(disk(S.pure, 'never')), 'nothing created');
  });

  test('scale: ~5,000 tiny files in 50 directories; the re-run transfers 0', async () => {
    const root = disk(S.proftpd, 'scale');
    const rnd = prng(7);
    for (let d = 0; d < 50; d++) {
      fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) put(path.join(root, `d${d}`, `f${f}.txt`), `${d}/${f} `.repeat(1 + Math.floor(rnd() * 8)), T2023 + d * 100 + f);
    }
    own(root);
    const first = await mirrorJson(urlOf(S.proftpd, 'scale'), urlOf(S.pure, 'scale'), ['--parallel', '8']);
    assert.equal(first.summary.files.transferred, 5000);
    const snap = snapshot(disk(S.pure, 'scale'));
    assert.equal(filesOf(snap).length, 5000);
    assertSameTree(snap, snapshot(root), 'scale tree');
    const again = await mirrorJson(urlOf(S.proftpd, 'scale'), urlOf(S.pure, 'scale'), ['--parallel', '8']);
    assert.equal(again.summary.files.transferred, 0);
    assert.equal(again.summary.files.unchanged, 5000);
  });
});
