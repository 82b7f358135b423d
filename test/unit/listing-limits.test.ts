/**
 * Bounded listings: the reader (pure) stops past --max-listing-entries lines
 * or a line past --max-listing-line bytes; a connection closes the data
 * connection at once; `ls` and `mirror` against a scripted server that
 * streams without end fail that directory with one clear line while the
 * process's memory stays small, and a mirror deletes nothing under it.
 * Addresses 127.0.78.x, port 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListingReader } from '../../src/ftp/listing-reader.js';
import { DEFAULT_LISTING_LIMITS } from '../../src/ftp/options.js';
import { FtpConnection } from '../../src/ftp/connection.js';
import { FtpListingLimitError } from '../../src/ftp/errors.js';
import { EXIT } from '../../src/cli/exit.js';
import { ScriptedFtpServer, endlessListing } from '../support/index.js';
import { CLI_BIN, oneErrorLine, runNode } from '../lab/helpers.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { loadJobText } from '../../src/job/load.js';
import { formatDiagnostic } from '../../src/job/reader.js';

const LIMITS = { maxEntries: 3, maxLineBytes: 40 };

function read(chunks: (string | Buffer)[], limits = LIMITS, format: 'MLSD' | 'LIST' = 'MLSD'): string[] {
  const r = new ListingReader(format, limits, 'srv: the listing of /d');
  for (const c of chunks) r.push(Buffer.from(c));
  return r.end().map((e) => e.name);
}

test('ListingReader: lines split anywhere across chunks, CRLF or LF, a last line without LF, UTF-8 cut mid-character', () => {
  const text = 'type=file; a\r\ntype=file; ü日\ntype=dir; c';
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(read([bytes.subarray(0, cut), bytes.subarray(cut)]), ['a', 'ü日', 'c'], `cut at ${cut}`);
  }
  assert.deepEqual(read([...bytes].map((b) => Buffer.from([b]))), ['a', 'ü日', 'c'], 'one byte per chunk');
  assert.deepEqual(read(['-rw-r--r-- 1 u g 1 Jan  5  2023 f\r\n'], LIMITS, 'LIST'), ['f']);
});

test('ListingReader: every line counts toward the entry limit, garbage and blank lines too', () => {
  assert.deepEqual(read(['type=file; a\r\ntype=file; b\r\ntype=file; c\r\n']), ['a', 'b', 'c']);
  for (const extra of ['type=file; d\r\n', 'garbage\r\n', '\r\n', 'x']) {
    assert.throws(() => read(['type=file; a\r\ntype=file; b\r\ntype=file; c\r\n', extra]), (err: unknown) => {
      assert.ok(err instanceof FtpListingLimitError);
      assert.equal(err.code, 'ELIMIT');
      assert.equal(err.message, 'srv: the listing of /d has more than 3 entries (limit: --max-listing-entries, maxListingEntries)');
      return true;
    }, JSON.stringify(extra));
  }
});

test('ListingReader: a line of exactly the limit passes (its CR does not count); one byte more fails, even before its LF arrives', () => {
  const at = `type=file; ${'n'.repeat(40 - 11)}`;
  assert.equal(Buffer.byteLength(at), 40);
  assert.deepEqual(read([`${at}\r\n`]), ['n'.repeat(29)]);
  assert.deepEqual(read([at]), ['n'.repeat(29)]);
  const long = /has a line longer than 40 bytes \(limit: --max-listing-line, maxListingLine\)/;
  assert.throws(() => read([`${at}n\r\n`]), long);
  assert.throws(() => read([`${at}n`]), long, 'last line without LF');
  // No LF ever: the reader gives up once the unfinished line is too long, not at the end of the stream.
  const r = new ListingReader('MLSD', LIMITS, 'srv: the listing of /d');
  r.push(Buffer.from('x'.repeat(41)));
  assert.throws(() => r.push(Buffer.from('x')), long);
});

test('defaults: a million lines and 8 KiB per line', () => {
  assert.deepEqual(DEFAULT_LISTING_LIMITS, { maxEntries: 1_000_000, maxLineBytes: 8192 });
});

test('a connection stops reading an endless MLSD past the limit, closes the data connection, and fails with ELIMIT', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.78.1', listing: () => endlessListing() });
  try {
    const conn = await FtpConnection.connect(srv.clientOptions({ listingLimits: { maxEntries: 10_000, maxLineBytes: 8192 } }));
    await assert.rejects(conn.list('/pub'), (err: unknown) => err instanceof FtpListingLimitError && /the listing of \/pub has more than 10000 entries/.test(err.message));
    // The control connection goes too: the server's late 426 must not answer a later command.
    assert.equal(conn.closed, true);
    assert.equal(srv.dataConnections.length, 1);
    assert.equal(srv.dataConnections[0].command, 'MLSD /pub');
  } finally {
    await srv.close();
  }
});

/** The CLI in a child process that reports its peak RSS (process.resourceUsage().maxRSS, KiB) on exit. */
async function cliWithPeak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakMiB: number }> {
  const script = `process.on('exit', () => process.stderr.write('peak-rss-kib=' + process.resourceUsage().maxRSS + '\\n')); await import(${JSON.stringify(
    new URL('../../src/cli/index.js', import.meta.url).href,
  )}).then((m) => m.main(process.argv));`;
  const r = await runNode(['--input-type=module', '-e', script, CLI_BIN, ...args], { timeoutMs: 60_000 });
  const m = /peak-rss-kib=(\d+)\n$/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr.slice(0, m.index), peakMiB: Number(m[1]) / 1024 };
}

/** Lines without end, but capped so that a client without limits (main before this change) ends too. */
function* take<T>(n: number, it: Iterable<T>): Generator<T> {
  for (const x of it) {
    if (n-- <= 0) return;
    yield x;
  }
}

test('ls against an MLSD without end: exit 6, one line naming the limit, memory stays small', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.78.2', listing: () => take(2_000_000, endlessListing()) });
  try {
    const r = await cliWithPeak(['ls', '--max-listing-entries', '100000', srv.url('/')]);
    assert.equal(r.code, EXIT.REMOTE, r.stderr);
    assert.match(oneErrorLine(r), /^fxpmirror: 127\.0\.78\.2:\d+: the listing of \/ has more than 100000 entries \(limit: --max-listing-entries, maxListingEntries\)$/);
    assert.equal(r.stdout, '');
    assert.ok(r.peakMiB < 200, `peak RSS ${r.peakMiB.toFixed(0)} MiB`);
  } finally {
    await srv.close();
  }
});

test('ls against one listing line without end, default limits: exit 6 at 8 KiB, memory stays small', async () => {
  const srv = await ScriptedFtpServer.start({ host: '127.0.78.3', listing: () => take(4096, endlessListing(() => 'x'.repeat(16384))) });
  try {
    const r = await cliWithPeak(['ls', srv.url('/')]);
    assert.equal(r.code, EXIT.REMOTE, r.stderr);
    assert.match(oneErrorLine(r), /the listing of \/ has a line longer than 8192 bytes \(limit: --max-listing-line, maxListingLine\)$/);
    assert.ok(r.peakMiB < 150, `peak RSS ${r.peakMiB.toFixed(0)} MiB`);
  } finally {
    await srv.close();
  }
});

test('mirror: a source directory past the limit is unsynced, nothing under it is deleted, the rest is mirrored; exit 1', async () => {
  const src = await ScriptedFtpServer.start({
    host: '127.0.78.4',
    files: { '/src/big/': '', '/src/ok/a.txt': 'a' },
    listing: (verb, dir) => (dir === '/src/big' ? take(500_000, endlessListing()) : undefined),
  });
  const dst = await ScriptedFtpServer.start({ host: '127.0.78.5', files: { '/dst/big/old.txt': 'old', '/dst/stale.txt': 'stale' } });
  try {
    const r = await cliWithPeak(['mirror', '--json', '--delete', '--max-listing-entries', '1000', src.url('/src'), dst.url('/dst')]);
    assert.equal(r.code, EXIT.PARTIAL, r.stderr);
    const s = JSON.parse(r.stdout) as MirrorSummary;
    assert.deepEqual(s.unsynced.map((u) => [u.path, u.side]), [['big', 'source']]);
    assert.match(s.unsynced[0].reason, /the listing of \/src\/big has more than 1000 entries/);
    assert.equal(dst.tree.read('/dst/big/old.txt')?.toString(), 'old', 'nothing deleted under the unsynced directory');
    assert.equal(dst.tree.read('/dst/ok/a.txt')?.toString(), 'a');
    assert.equal(dst.tree.get('/dst/stale.txt'), undefined, 'outside it, --delete still works');
    assert.deepEqual(dst.sent('DELE', 'RMD'), ['DELE /dst/stale.txt']);
    assert.ok(r.peakMiB < 200, `peak RSS ${r.peakMiB.toFixed(0)} MiB`);
  } finally {
    await Promise.all([src.close(), dst.close()]);
  }
});

test('job file: maxListingEntries and maxListingLine per server; the other limit keeps its default; bad values are errors', () => {
  const job = (server: string) =>
    `version: 1\nservers:\n  a:\n    url: ftp://a.example/\n${server}  b:\n    url: ftp://b.example/\njobs:\n  - name: j\n    from: a:/x\n    to: b:/y\n`;
  const ok = loadJobText(job('    maxListingEntries: 5000\n    maxListingLine: 16K\n'), 'j.yaml', {});
  assert.deepEqual(ok.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.deepEqual(ok.jobs[0].from.server.listingLimits, { maxEntries: 5000, maxLineBytes: 16384 });
  assert.equal(ok.jobs[0].to[0].server.listingLimits, undefined, 'unset: the defaults apply');
  const one = loadJobText(job('    maxListingEntries: 10\n'), 'j.yaml', {});
  assert.deepEqual(one.jobs[0].from.server.listingLimits, { maxEntries: 10, maxLineBytes: DEFAULT_LISTING_LIMITS.maxLineBytes });
  const bad = loadJobText(job('    maxListingEntries: 0\n    maxListingLine: 0\n'), 'j.yaml', {});
  assert.deepEqual(
    bad.diagnostics.map((d) => formatDiagnostic(d).replace(/^j\.yaml:\d+:\d+: /, '')),
    ["'maxListingEntries' must be at least 1, got 0", "'maxListingLine' must be greater than 0"],
  );
});

test('CLI: the listing options are checked before anything connects (exit 2)', async () => {
  for (const args of [['--max-listing-entries', '0'], ['--max-listing-line', '0'], ['--max-listing-line', 'big']]) {
    const r = await runNode([CLI_BIN, 'ls', ...args, 'ftp://127.0.78.9:1/'], { timeoutMs: 20_000 });
    assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--max-listing-/);
  }
});
