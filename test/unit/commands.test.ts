/**
 * The pure command builders of src/ftp/commands.ts: what goes on the wire
 * for PORT/EPRT, the passive verbs, PRET, REST, SSCN, the mtime commands and
 * the checksum commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HASH_ALGORITHMS,
  MTIME_METHODS,
  X_CHECKSUM,
  checksumCommand,
  commandLine,
  isExtendedPassive,
  isHashAlgorithm,
  mtimeCommand,
  passiveVerb,
  portCommand,
  pretCommand,
  restCommand,
  selectHashCommand,
  sscnCommand,
} from '../../src/ftp/commands.js';
import { FtpProtocolError } from '../../src/ftp/errors.js';

test('portCommand: PORT for IPv4, EPRT when asked or for IPv6', () => {
  assert.deepEqual(portCommand({ host: '127.0.0.21', port: 30001 }), ['PORT', '127,0,0,21,117,49']);
  assert.deepEqual(portCommand({ host: '127.0.0.21', port: 30001 }, true), ['EPRT', '|1|127.0.0.21|30001|']);
  assert.deepEqual(portCommand({ host: '2001:db8::1', port: 2121 }), ['EPRT', '|2|2001:db8::1|2121|']);
  // A dual-stack socket's view of an IPv4 peer goes out as the IPv4 server it is.
  assert.deepEqual(portCommand({ host: '::ffff:192.0.2.1', port: 2121 }), ['EPRT', '|1|192.0.2.1|2121|']);
  assert.throws(() => portCommand({ host: '127.0.0.21', port: 0 }), FtpProtocolError);
  assert.throws(() => portCommand({ host: 'ftp.example.org', port: 21 }), FtpProtocolError);
});

test('passiveVerb: PASV/EPSV, and CPSV/CEPR when the passive server is to be the TLS client', () => {
  assert.equal(passiveVerb({ extended: false }), 'PASV');
  assert.equal(passiveVerb({ extended: true }), 'EPSV');
  assert.equal(passiveVerb({ extended: false, tlsClient: true }), 'CPSV');
  assert.equal(passiveVerb({ extended: true, tlsClient: true }), 'CEPR');
  assert.deepEqual((['PASV', 'EPSV', 'CPSV', 'CEPR'] as const).map(isExtendedPassive), [false, true, false, true]);
});

test('PRET names the whole transfer command; REST takes a whole offset; SSCN ON/OFF', () => {
  assert.deepEqual(pretCommand(['RETR', '/pub/a b.iso']), ['PRET', 'RETR /pub/a b.iso']);
  assert.deepEqual(pretCommand(['LIST']), ['PRET', 'LIST']);
  assert.equal(commandLine(['STOR', '/x']), 'STOR /x');
  assert.equal(commandLine(['PASV']), 'PASV');
  assert.deepEqual(restCommand(0), ['REST', '0']);
  assert.deepEqual(restCommand(2 ** 40), ['REST', '1099511627776']);
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) assert.throws(() => restCommand(bad), FtpProtocolError, String(bad));
  assert.deepEqual(sscnCommand(true), ['SSCN', 'ON']);
  assert.deepEqual(sscnCommand(false), ['SSCN', 'OFF']);
});

test('mtimeCommand: the four forms, UTC whole seconds', () => {
  const t = new Date('2021-03-04T05:06:07.890Z');
  const got = MTIME_METHODS.map((m) => mtimeCommand(m, '/d/.f.fxpmirror-part', t));
  assert.deepEqual(got, [
    ['MFMT', '20210304050607 /d/.f.fxpmirror-part'],
    ['SITE', 'UTIME 20210304050607 /d/.f.fxpmirror-part'],
    ['SITE', 'UTIME /d/.f.fxpmirror-part 20210304050607 20210304050607 20210304050607 UTC'],
    ['MDTM', '20210304050607 /d/.f.fxpmirror-part'],
  ]);
  // The order is the order they are tried in: MFMT first, vsftpd's MDTM last.
  assert.deepEqual([...MTIME_METHODS], ['MFMT', 'SITE UTIME2', 'SITE UTIME5', 'MDTM']);
});

test('checksum commands: HASH after OPTS HASH, else the X command of the algorithm', () => {
  assert.deepEqual(selectHashCommand('SHA-256'), ['OPTS', 'HASH SHA-256']);
  assert.deepEqual(checksumCommand('SHA-256', '/f', true), ['HASH', '/f']);
  assert.deepEqual(
    HASH_ALGORITHMS.map((a) => checksumCommand(a, '/f', false)),
    [['XSHA512', '/f'], ['XSHA256', '/f'], ['XSHA1', '/f'], ['XMD5', '/f'], ['XCRC', '/f']],
  );
  assert.deepEqual(HASH_ALGORITHMS.map((a) => X_CHECKSUM[a].feature), ['xsha512', 'xsha256', 'xsha1', 'xmd5', 'xcrc']);
  assert.equal(isHashAlgorithm('SHA-1'), true);
  assert.equal(isHashAlgorithm('sha-1'), false);
  assert.equal(isHashAlgorithm('BLAKE2'), false);
});
