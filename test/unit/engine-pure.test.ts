/**
 * Pure decisions of the protocol and FXP layers: time-val codecs, error
 * wording, server identification, probe advice, and the fallback ladder.
 * The ladder takes plain capability data; no socket is involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FtpConnection } from '../../src/ftp/connection.js';
import { parseTimeVal, formatTimeVal } from '../../src/ftp/timeval.js';
import { connectFailureReason } from '../../src/ftp/socket.js';
import { identifyServer, marksAfterAccept, staggersSessions, wantsPret } from '../../src/ftp/software.js';
import { emptyFeatures } from '../../src/ftp/feat.js';
import { buildLadder, type TransferPolicy } from '../../src/fxp/engine.js';
import { advise } from '../../src/fxp/probe.js';
import { exitCodeFor, EXIT } from '../../src/cli/exit.js';
import { FtpConnectError, FtpReplyError, FxpRefusedError, FtpUrlError, FtpLoginError, FtpBadReplyError, FtpProtocolError, CredentialError } from '../../src/ftp/errors.js';

test('RFC 3659 time-val round trip, with and without fractions', () => {
  assert.equal(parseTimeVal('20200102030405')?.date.toISOString(), '2020-01-02T03:04:05.000Z');
  assert.equal(parseTimeVal('20200102030405')?.precision, 1000);
  assert.equal(parseTimeVal('20200102030405.25')?.date.toISOString(), '2020-01-02T03:04:05.250Z');
  assert.equal(parseTimeVal('20200102030405.25')?.precision, 0);
  assert.equal(parseTimeVal(' 19991231235959 ')?.date.toISOString(), '1999-12-31T23:59:59.000Z');
  assert.equal(parseTimeVal('20200230030405'), undefined, 'no rollover: 30 February');
  assert.equal(parseTimeVal('2020010203040'), undefined);
  assert.equal(parseTimeVal('garbage'), undefined);
  assert.equal(formatTimeVal(new Date('2021-03-04T05:06:07.890Z')), '20210304050607');
});

test('socket errors in words', () => {
  assert.match(connectFailureReason({ code: 'ECONNREFUSED', message: 'x' }), /connection refused/);
  assert.equal(connectFailureReason({ code: 'ENOTFOUND', message: 'x' }), 'unknown host');
  assert.equal(connectFailureReason({ code: 'EAI_AGAIN', message: 'x' }), 'unknown host');
  assert.equal(connectFailureReason({ code: 'EHOSTUNREACH', message: 'x' }), 'host unreachable');
  assert.equal(connectFailureReason({ code: 'EWHATEVER', message: 'raw text' }), 'raw text');
});

test('servers identify themselves by greeting', () => {
  assert.equal(identifyServer('(vsFTPd 3.0.3)'), 'vsftpd');
  assert.equal(identifyServer('ProFTPD Server (fxpmirror lab) [127.0.0.22]'), 'proftpd');
  assert.equal(identifyServer('---------- Welcome to Pure-FTPd [privsep] [TLS] ----------'), 'pure-ftpd');
  assert.equal(identifyServer('pyftpdlib 1.5.7 ready.'), 'pyftpdlib');
  assert.equal(identifyServer('Welcome', 'UNIX Type: L8'), 'unknown');
  assert.equal(marksAfterAccept('vsftpd'), true);
  assert.equal(marksAfterAccept('pyftpdlib'), false);
  assert.equal(marksAfterAccept('unknown'), undefined);
});

test('PRET only to unknown servers that advertise it; staggered connects only for proftpd', () => {
  assert.equal(wantsPret('unknown', true), true, 'drftpd and friends need it');
  assert.equal(wantsPret(undefined, true), true);
  assert.equal(wantsPret('unknown', false), false);
  for (const k of ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'] as const) assert.equal(wantsPret(k, true), false, k);
  assert.equal(staggersSessions('proftpd'), true);
  for (const k of ['vsftpd', 'pure-ftpd', 'pyftpdlib', 'unknown', undefined] as const) assert.equal(staggersSessions(k), false, String(k));
});

test('probe advice names the setting on the server that refused', () => {
  assert.equal(advise('vsftpd', 'active', 'PORT', '500 Illegal PORT command.'), 'vsftpd: port_promiscuous=YES');
  assert.equal(advise('vsftpd', 'passive', 'RETR', '425 Security: Bad IP connecting.'), 'vsftpd: pasv_promiscuous=YES');
  assert.match(advise('vsftpd', 'passive', 'STOR', '522 SSL connection failed: session reuse required')!, /require_ssl_reuse=NO/);
  assert.equal(advise('proftpd', 'active', 'PORT', '500 Illegal PORT command'), 'proftpd: AllowForeignAddress on');
  assert.match(advise('pure-ftpd', 'passive', 'RETR', 'no reply')!, /-w .*-W/);
  assert.match(advise('pyftpdlib', 'active', 'PORT', '501 Rejected')!, /permit_foreign_addresses = True/);
  assert.equal(advise('unknown', 'active', 'PORT', '500'), undefined);
});

function fakeConn(label: string, opts: { tls?: boolean; sscn?: boolean; cpsv?: boolean; kind?: string } = {}): FtpConnection {
  const features = emptyFeatures();
  features.sscn = !!opts.sscn;
  features.cpsv = !!opts.cpsv;
  return { label, isTls: !!opts.tls, features, state: { kind: opts.kind } } as unknown as FtpConnection;
}

const policy = (p: Partial<TransferPolicy> = {}): TransferPolicy => ({
  fxp: 'auto',
  passive: 'source',
  allowClearData: false,
  verify: 'size',
  continue: false,
  ...p,
});

test('ladder: plain servers try both passive sides, then relay', () => {
  const { rungs } = buildLadder(fakeConn('a'), fakeConn('b'), policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  assert.deepEqual(rungs.map((r) => r.layout?.passive), ['source', 'destination', undefined]);
  const d = buildLadder(fakeConn('a'), fakeConn('b'), policy({ passive: 'destination' }));
  assert.deepEqual(d.rungs.map((r) => r.layout?.passive), ['destination', 'source', undefined]);
});

test('ladder: a default passive side avoids making pyftpdlib the active side; an explicit one is kept', () => {
  const py = fakeConn('py', { kind: 'pyftpdlib' });
  const vs = fakeConn('vs', { kind: 'vsftpd' });
  // vsftpd -> pyftpdlib: by default the source would be passive and pyftpdlib active.
  assert.deepEqual(buildLadder(vs, py, policy()).rungs.map((r) => r.mode), ['fxp-reversed', 'fxp', 'relay']);
  assert.deepEqual(buildLadder(vs, py, policy({ passiveExplicit: true })).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  // pyftpdlib as source is passive by default already; two pyftpdlibs: nothing to gain, keep the default.
  assert.deepEqual(buildLadder(py, vs, policy()).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
  assert.deepEqual(buildLadder(py, fakeConn('py2', { kind: 'pyftpdlib' }), policy()).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed', 'relay']);
});

test('ladder: force never relays, never only relays', () => {
  assert.deepEqual(buildLadder(fakeConn('a'), fakeConn('b'), policy({ fxp: 'force' })).rungs.map((r) => r.mode), ['fxp', 'fxp-reversed']);
  assert.deepEqual(buildLadder(fakeConn('a'), fakeConn('b'), policy({ fxp: 'never' })).rungs.map((r) => r.mode), ['relay']);
});

test('ladder under TLS: SSCN on whichever side has it, CPSV on a passive side that has it, clear data only when allowed', () => {
  const src = fakeConn('proftpd', { tls: true, sscn: true });
  const dst = fakeConn('vsftpd', { tls: true });
  const { rungs } = buildLadder(src, dst, policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['fxp-tls-sscn', 'fxp-tls-sscn-reversed', 'relay']);
  assert.deepEqual(rungs.slice(0, 2).map((r) => r.layout?.tls), ['sscn-source', 'sscn-source']);
  const withClear = buildLadder(src, dst, policy({ allowClearData: true }));
  assert.deepEqual(withClear.rungs.map((r) => r.mode), ['fxp-tls-sscn', 'fxp-tls-sscn-reversed', 'fxp-clear', 'fxp-clear-reversed', 'relay']);
  const cpsv = buildLadder(fakeConn('a', { tls: true }), fakeConn('b', { tls: true, cpsv: true }), policy());
  assert.deepEqual(cpsv.rungs.map((r) => r.mode), ['fxp-tls-cpsv-reversed', 'relay']);
});

test('ladder: two TLS servers without SSCN or CPSV never attempt a layout that deadlocks', () => {
  const { rungs, notes } = buildLadder(fakeConn('vsftpd', { tls: true }), fakeConn('pyftpdlib', { tls: true }), policy({ fxp: 'force' }));
  assert.deepEqual(rungs, []);
  assert.match(notes.join(' '), /neither vsftpd nor pyftpdlib offers SSCN or CPSV/);
});

test('ladder: TLS on one side only needs clear data', () => {
  const { rungs, notes } = buildLadder(fakeConn('a', { tls: true }), fakeConn('b'), policy());
  assert.deepEqual(rungs.map((r) => r.mode), ['relay']);
  assert.match(notes.join(' '), /--allow-clear-data/);
});

test('exit codes: one mapping from typed errors', () => {
  assert.equal(exitCodeFor(new FtpConnectError('x')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new FtpLoginError('x')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new FxpRefusedError('a', 'PORT', '500')), EXIT.FXP_REFUSED);
  assert.equal(exitCodeFor(new FtpReplyError(550, 'RETR x', ['550 No such file'])), EXIT.REMOTE);
  assert.equal(exitCodeFor(new FtpUrlError('bad')), EXIT.USAGE);
  assert.equal(exitCodeFor(Object.assign(new Error('held'), { code: 'ELOCKED' })), EXIT.LOCKED);
  assert.equal(exitCodeFor(new TypeError('bug')), EXIT.INTERNAL);
  // A server that stops speaking FTP fails the connection; a credential that cannot be sent is a usage error.
  assert.equal(exitCodeFor(new FtpBadReplyError('garbage')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new CredentialError('the value ends with a carriage return')), EXIT.USAGE);
  assert.equal(exitCodeFor(new FtpProtocolError('bad SIZE reply')), EXIT.REMOTE);
});
