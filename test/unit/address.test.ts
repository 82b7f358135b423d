import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeEprtArgument,
  encodePortArgument,
  choosePasvAddress,
  parseEpsvReply,
  parsePasvReply,
} from '../../src/ftp/address.js';
import { FtpProtocolError } from '../../src/ftp/errors.js';

const isProtocolError = (e: unknown): boolean => e instanceof FtpProtocolError && e.code === 'EPROTOCOL';

test('parsePasvReply: real-world 227 shapes', () => {
  const cases: Array<[string, string, number]> = [
    ['227 Entering Passive Mode (127,0,0,21,117,49).', '127.0.0.21', 117 * 256 + 49], // vsftpd, proftpd
    ['227 Entering passive mode (127,0,0,24,115,205).', '127.0.0.24', 29645], // pyftpdlib 1.5.7, captured
    ['227 Entering Passive Mode (127,0,0,23,115,156)', '127.0.0.23', 29596], // pure-ftpd 1.0.50, captured
    ['227 Entering Passive Mode 127,0,0,21,117,49', '127.0.0.21', 30001],
    ['227 =127,0,0,21,117,49', '127.0.0.21', 30001],
    ['227 Passive (127,0,0,21,117,49)', '127.0.0.21', 30001],
    ['227 Entering passive mode (10,0,0,5,195,80).', '10.0.0.5', 50000], // lower-case "passive", NAT-internal address
    ['227 Entering Passive Mode (192,168,1,20,156,65)', '192.168.1.20', 40001], // no final dot
    ['227 Entering Passive Mode (203, 0, 113, 7, 4, 1)', '203.0.113.7', 1025], // spaces after commas
    ['227 Entering Passive Mode (203 , 0 , 113 , 7 , 4 , 1)', '203.0.113.7', 1025],
    ['Entering Passive Mode (1,2,3,4,0,21)', '1.2.3.4', 21], // text only, code already stripped
    ['227 OK 255,255,255,255,255,255', '255.255.255.255', 65535],
    ['227 Entering Passive Mode (010,000,000,001,004,001)', '10.0.0.1', 1025], // zero-padded
  ];
  for (const [text, host, port] of cases) {
    assert.deepEqual(parsePasvReply(text), { host, port }, text);
  }
});

test('parsePasvReply: the numbers must be whole numbers, not parts of longer ones', () => {
  // "1234,..." must not be read as "234,...".
  assert.deepEqual(parsePasvReply('227 v1234,5 (1,2,3,4,5,6)'), { host: '1.2.3.4', port: 1286 });
});

test('parsePasvReply: out-of-range numbers, too few numbers, port 0', () => {
  for (const bad of [
    '227 Entering Passive Mode (256,0,0,1,4,1)',
    '227 Entering Passive Mode (127,0,0,1,4,300)',
    '227 Entering Passive Mode (127,0,0,1,4)',
    '227 Entering Passive Mode',
    '227 Entering Passive Mode (a,b,c,d,e,f)',
    '227 (1,2,3,4,0,0)',
    '',
  ]) {
    assert.throws(() => parsePasvReply(bad), isProtocolError, bad);
  }
});

test('encodePortArgument', () => {
  assert.equal(encodePortArgument({ host: '127.0.0.1', port: 1025 }), '127,0,0,1,4,1');
  assert.equal(encodePortArgument({ host: '192.168.1.20', port: 65535 }), '192,168,1,20,255,255');
  assert.equal(encodePortArgument({ host: '10.0.0.1', port: 255 }), '10,0,0,1,0,255');
  // What a dual-stack socket reports for an IPv4 peer.
  assert.equal(encodePortArgument({ host: '::ffff:10.1.2.3', port: 256 }), '10,1,2,3,1,0');
  // Round trip.
  const hp = { host: '198.51.100.9', port: 50123 };
  assert.deepEqual(parsePasvReply(`227 Entering Passive Mode (${encodePortArgument(hp)}).`), hp);
});

test('encodePortArgument rejects IPv6, names and bad ports', () => {
  assert.throws(() => encodePortArgument({ host: '::1', port: 21 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: '2001:db8::1', port: 21 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: 'ftp.example.com', port: 21 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: '1.2.3.4', port: 0 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: '1.2.3.4', port: 65536 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: '1.2.3.4', port: 1.5 }), isProtocolError);
});

test('encodePortArgument: the same host again (remembered), then others, each checked', () => {
  for (let i = 0; i < 3; i++) assert.equal(encodePortArgument({ host: '127.0.3.21', port: 40000 + i }), `127,0,3,21,156,${64 + i}`);
  // A bad port for the remembered host is still refused.
  assert.throws(() => encodePortArgument({ host: '127.0.3.21', port: 0 }), isProtocolError);
  assert.throws(() => encodePortArgument({ host: '::1', port: 21 }), isProtocolError);
  assert.equal(encodePortArgument({ host: '127.0.3.22', port: 21 }), '127,0,3,22,0,21');
  assert.throws(() => encodePortArgument({ host: 'ftp.example.com', port: 21 }), isProtocolError);
  assert.equal(encodePortArgument({ host: '127.0.3.21', port: 21 }), '127,0,3,21,0,21');
});

test('parseEpsvReply: any delimiter in 33..126', () => {
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|||6446|)'), 6446);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|||6446|).'), 6446);
  assert.equal(parseEpsvReply('229 Extended Passive mode OK (|||29539|)'), 29539); // pure-ftpd 1.0.50, captured
  assert.equal(parseEpsvReply('229 Entering extended passive mode (|||29682|).'), 29682); // pyftpdlib 1.5.7, captured
  assert.equal(parseEpsvReply('Entering Extended Passive Mode (!!!6446!)'), 6446);
  assert.equal(parseEpsvReply('229 EPSV ok (###65535#)'), 65535);
  assert.equal(parseEpsvReply('229 (~~~1~)'), 1);
  assert.equal(parseEpsvReply('229 (:::21:)'), 21);
  // A digit delimiter is legal (RFC 2428 only limits it to 33..126) and still unambiguous.
  assert.equal(parseEpsvReply('229 (55564465)'), 6446);
});

test('parseEpsvReply: malformed replies throw', () => {
  for (const bad of [
    '229 Entering Extended Passive Mode',
    '229 Entering Extended Passive Mode (||6446|)', // two delimiters before the port
    '229 Entering Extended Passive Mode (|||6446!)', // mixed delimiters
    '229 Entering Extended Passive Mode (|||6446)', // no closing delimiter
    '229 Entering Extended Passive Mode (   6446 )', // space is not allowed (ASCII 32)
    '229 Entering Extended Passive Mode (|||0|)',
    '229 Entering Extended Passive Mode (|||65536|)',
    '229 Entering Extended Passive Mode (||||)',
    '229 Entering Extended Passive Mode |||6446|', // no parentheses
  ]) {
    assert.throws(() => parseEpsvReply(bad), isProtocolError, bad);
  }
});

test('encodeEprtArgument: v4 and v6', () => {
  assert.equal(encodeEprtArgument({ host: '132.235.1.2', port: 6275 }), '|1|132.235.1.2|6275|');
  assert.equal(encodeEprtArgument({ host: '1080::8:800:200C:417A', port: 5282 }), '|2|1080::8:800:200C:417A|5282|');
  assert.equal(encodeEprtArgument({ host: '::1', port: 21 }), '|2|::1|21|');
  assert.equal(encodeEprtArgument({ host: '::ffff:192.0.2.1', port: 2121 }), '|1|192.0.2.1|2121|');
  assert.equal(encodeEprtArgument({ host: 'fe80::1%eth0', port: 2121 }), '|2|fe80::1|2121|');
  assert.throws(() => encodeEprtArgument({ host: 'example.com', port: 21 }), isProtocolError);
  assert.throws(() => encodeEprtArgument({ host: '::1', port: 0 }), isProtocolError);
});

test('choosePasvAddress: by default only the port of a 227 is used, with the control peer', () => {
  type Use = 'same' | 'peer' | 'advertised';
  const rows: Array<[string, string, Use, string]> = [
    // The reply names the control peer: nothing to decide.
    ['127.0.0.21', '127.0.0.21', 'same', '127.0.0.21'],
    ['203.0.113.7', '::ffff:203.0.113.7', 'same', '203.0.113.7'],
    // A third host (the bounce attack), public or private: never used.
    ['198.51.100.10', '203.0.113.7', 'peer', '203.0.113.7'],
    ['10.0.0.5', '192.168.1.1', 'peer', '192.168.1.1'],
    ['127.0.0.99', '127.0.0.21', 'peer', '127.0.0.21'],
    // NAT: a private address behind a public control peer (what --fix-pasv-address auto did).
    ['10.0.0.5', '203.0.113.7', 'peer', '203.0.113.7'],
    ['192.168.1.20', '198.51.100.9', 'peer', '198.51.100.9'],
    // 0.0.0.0 names no host.
    ['0.0.0.0', '203.0.113.7', 'peer', '203.0.113.7'],
    // An IPv4-mapped control peer comes back as plain IPv4 (it may feed PORT).
    ['10.0.0.5', '::ffff:203.0.113.7', 'peer', '203.0.113.7'],
  ];
  for (const [pasv, peer, use, host] of rows) {
    assert.deepEqual(choosePasvAddress({ host: pasv, port: 30001 }, peer, false), { hp: { host, port: 30001 }, use }, `${pasv} via ${peer}`);
  }
});

test("choosePasvAddress: a trusted server's advertised address is used, except 0.0.0.0", () => {
  assert.deepEqual(choosePasvAddress({ host: '198.51.100.10', port: 2000 }, '203.0.113.7', true), { hp: { host: '198.51.100.10', port: 2000 }, use: 'advertised' });
  assert.deepEqual(choosePasvAddress({ host: '10.0.0.5', port: 2000 }, '::ffff:203.0.113.7', true), { hp: { host: '10.0.0.5', port: 2000 }, use: 'advertised' });
  assert.deepEqual(choosePasvAddress({ host: '0.0.0.0', port: 2000 }, '203.0.113.7', true), { hp: { host: '203.0.113.7', port: 2000 }, use: 'peer' });
  assert.deepEqual(choosePasvAddress({ host: '203.0.113.7', port: 2000 }, '203.0.113.7', true), { hp: { host: '203.0.113.7', port: 2000 }, use: 'same' });
});
