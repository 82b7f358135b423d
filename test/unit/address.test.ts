import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeEprtArgument,
  encodePortArgument,
  isPrivateAddress,
  parseEpsvReply,
  parsePasvReply,
  resolvePasvHost,
  type FixPasvAddress,
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

test('isPrivateAddress: IPv4', () => {
  const priv = [
    '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.0.1', '127.0.0.1', '127.1.2.3',
    '169.254.1.1', '100.64.0.1', '100.127.255.255', '0.0.0.0',
  ];
  const pub = ['8.8.8.8', '172.15.0.1', '172.32.0.1', '192.169.0.1', '100.63.255.255', '100.128.0.0', '169.255.0.1', '11.0.0.1', '203.0.113.7'];
  for (const ip of priv) assert.equal(isPrivateAddress(ip), true, ip);
  for (const ip of pub) assert.equal(isPrivateAddress(ip), false, ip);
});

test('isPrivateAddress: IPv6 and IPv4-mapped', () => {
  const priv = ['::1', '::', 'fc00::1', 'fd12:3456:789a::1', 'fe80::1', 'febf::1', 'fe80::1%eth0', '::ffff:10.0.0.1', '::FFFF:192.168.1.1', '::ffff:7f00:1'];
  const pub = ['2001:db8::1', '2606:4700::1111', 'fec0::1', 'fbff::1', '::ffff:8.8.8.8', '::2'];
  for (const ip of priv) assert.equal(isPrivateAddress(ip), true, ip);
  for (const ip of pub) assert.equal(isPrivateAddress(ip), false, ip);
});

test('isPrivateAddress: host names and junk are not private addresses', () => {
  assert.equal(isPrivateAddress('localhost'), false);
  assert.equal(isPrivateAddress('ftp.example.com'), false);
  assert.equal(isPrivateAddress(''), false);
});

test('resolvePasvHost: the NAT decision table', () => {
  const rows: Array<[string, string, FixPasvAddress, string]> = [
    // vsftpd behind NAT without pasv_address: private PASV, public control peer -> use the peer.
    ['10.0.0.5', '203.0.113.7', 'auto', '203.0.113.7'],
    ['192.168.1.20', '198.51.100.9', 'auto', '198.51.100.9'],
    ['100.64.1.1', '198.51.100.9', 'auto', '198.51.100.9'],
    // The lab / a LAN: both private -> trust the reply.
    ['192.168.1.20', '192.168.1.20', 'auto', '192.168.1.20'],
    ['127.0.0.1', '127.0.0.1', 'auto', '127.0.0.1'],
    ['10.0.0.5', '192.168.1.1', 'auto', '10.0.0.5'],
    // Public PASV address: trust it (it may be a different host on purpose).
    ['198.51.100.10', '203.0.113.7', 'auto', '198.51.100.10'],
    ['198.51.100.10', '10.0.0.1', 'auto', '198.51.100.10'],
    // 0.0.0.0 is never connectable: always replaced under auto.
    ['0.0.0.0', '203.0.113.7', 'auto', '203.0.113.7'],
    ['0.0.0.0', '127.0.0.1', 'auto', '127.0.0.1'],
    // IPv4-mapped control peer comes back as plain IPv4 (it may feed PORT).
    ['10.0.0.5', '::ffff:203.0.113.7', 'auto', '203.0.113.7'],
    ['10.0.0.5', '::ffff:192.168.1.1', 'auto', '10.0.0.5'],
    // always / never
    ['198.51.100.10', '203.0.113.7', 'always', '203.0.113.7'],
    ['10.0.0.5', '10.0.0.9', 'always', '10.0.0.9'],
    ['10.0.0.5', '10.0.0.5', 'always', '10.0.0.5'],
    ['10.0.0.5', '203.0.113.7', 'never', '10.0.0.5'],
    ['0.0.0.0', '203.0.113.7', 'never', '0.0.0.0'],
  ];
  for (const [pasv, peer, mode, want] of rows) {
    assert.equal(resolvePasvHost(pasv, peer, mode), want, `${pasv} via ${peer} (${mode})`);
  }
});
