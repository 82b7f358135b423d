/**
 * Pure decisions of the ftp layer (one server): time-val codecs, socket
 * errors in words, and what is known of server software by its greeting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimeVal, formatTimeVal } from '../../src/ftp/timeval.js';
import { connectFailureReason } from '../../src/ftp/socket.js';
import { identifyServer, marksAfterAccept, staggersSessions, wantsPret } from '../../src/ftp/software.js';

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
