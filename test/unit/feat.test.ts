import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyFeatures, parseFeatReply, type Features } from '../../src/ftp/feat.js';
import { parseReplies } from '../../src/ftp/reply.js';

/** FEAT text as it comes off the wire -> the reply's lines, through the real reply parser. */
function featLines(wire: string): string[] {
  const { replies, rest } = parseReplies(wire);
  assert.equal(replies.length, 1);
  assert.equal(rest, '');
  return replies[0].lines;
}

/** The booleans of a Features, for compact comparison. */
function flags(f: Features): Record<string, boolean> {
  return {
    mlsd: f.mlsd, mdtm: f.mdtm, mfmt: f.mfmt, size: f.size, restStream: f.restStream, epsv: f.epsv, eprt: f.eprt,
    sscn: f.sscn, cpsv: f.cpsv, cepr: f.cepr, pret: f.pret, tvfs: f.tvfs, utf8: f.utf8, pbsz: f.pbsz, prot: f.prot,
    siteUtime: f.siteUtime,
  };
}

const NONE = flags(emptyFeatures());

test('emptyFeatures advertises nothing', () => {
  const f = emptyFeatures();
  assert.equal(f.raw.size, 0);
  assert.equal(f.mlst, null);
  assert.equal(f.hash, null);
  assert.deepEqual(f.auth, []);
  assert.deepEqual(f.checksums, { xcrc: false, xmd5: false, xsha1: false, xsha256: false, xsha512: false });
  assert.ok(Object.values(NONE).every((v) => v === false));
  // A fresh object each time: callers may mutate it.
  assert.notEqual(emptyFeatures().raw, f.raw);
});

test('vsftpd 3.0.3, plain (captured from the lab server)', () => {
  const f = parseFeatReply(
    featLines('211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n'),
  );
  assert.deepEqual([...f.raw.keys()], ['EPRT', 'EPSV', 'MDTM', 'PASV', 'REST', 'SIZE', 'TVFS']);
  assert.equal(f.raw.get('REST'), 'STREAM');
  assert.equal(f.mlst, null);
  assert.deepEqual(flags(f), { ...NONE, mdtm: true, size: true, restStream: true, epsv: true, eprt: true, tvfs: true });
  assert.deepEqual(f.auth, []);
});

test('vsftpd 3.0.3 with utf8_filesystem=YES adds UTF8', () => {
  const f = parseFeatReply(
    featLines('211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n'),
  );
  assert.equal(f.utf8, true);
});

test('vsftpd 3.0.3 with ssl_enable: AUTH on two lines', () => {
  const f = parseFeatReply(
    featLines(
      '211-Features:\r\n AUTH SSL\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n',
    ),
  );
  assert.deepEqual(f.auth, ['SSL', 'TLS']);
  assert.equal(f.raw.get('AUTH'), 'SSL;TLS');
  assert.equal(f.pbsz, true);
  assert.equal(f.prot, true);
  assert.equal(f.mlsd, false);
});

const PROFTPD_FEAT = [
  '211-Features:',
  ' CLNT',
  ' CSID',
  ' EPRT',
  ' EPSV',
  ' HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;',
  ' HOST',
  ' LANG C.UTF-8*',
  ' MD5',
  ' MDTM',
  ' MFF modify;UNIX.group;UNIX.mode;',
  ' MFMT',
  ' MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;',
  ' RANG STREAM',
  ' REST STREAM',
  ' SITE MKDIR',
  ' SITE RMDIR',
  ' SITE SYMLINK',
  ' SITE UTIME',
  ' SIZE',
  ' TVFS',
  ' UTF8',
  ' XCRC',
  ' XMD5',
  ' XSHA',
  ' XSHA1',
  ' XSHA256',
  ' XSHA512',
  '211 End',
];

test('proftpd 1.3.8 with mod_digest and mod_site_misc (captured from the lab server)', () => {
  const f = parseFeatReply(featLines(PROFTPD_FEAT.join('\r\n') + '\r\n'));
  const facts = ['modify', 'perm', 'size', 'type', 'unique', 'unix.group', 'unix.groupname', 'unix.mode', 'unix.owner', 'unix.ownername'];
  assert.deepEqual(f.mlst, { facts, enabled: facts });
  assert.equal(f.raw.get('MLST'), 'modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;');
  assert.equal(f.raw.get('LANG'), 'C.UTF-8*');
  assert.equal(f.raw.get('SITE'), 'MKDIR;RMDIR;SYMLINK;UTIME');
  assert.equal(f.raw.get('MFF'), 'modify;UNIX.group;UNIX.mode;');
  assert.deepEqual(flags(f), {
    ...NONE, mlsd: true, mdtm: true, mfmt: true, size: true, restStream: true, epsv: true, eprt: true, tvfs: true,
    utf8: true, siteUtime: true,
  });
  assert.deepEqual(f.auth, []);
  assert.deepEqual(f.hash, { algorithms: ['CRC32', 'MD5', 'SHA-1', 'SHA-256', 'SHA-512'], selected: 'SHA-1' });
  assert.deepEqual(f.checksums, { xcrc: true, xmd5: true, xsha1: true, xsha256: true, xsha512: true });
});

test('proftpd 1.3.8 with mod_tls adds AUTH TLS, CCC, PBSZ, PROT', () => {
  const lines = [...PROFTPD_FEAT];
  lines.splice(1, 0, ' AUTH TLS', ' CCC');
  lines.splice(-8, 0, ' PBSZ', ' PROT');
  const f = parseFeatReply(lines);
  assert.deepEqual(f.auth, ['TLS']);
  assert.equal(f.pbsz, true);
  assert.equal(f.prot, true);
  assert.ok(f.raw.has('CCC'));
  assert.equal(f.mlsd, true);
});

test('pure-ftpd 1.0.50 ("Extensions supported:", "211 End."; captured from the lab server)', () => {
  const wire =
    '211-Extensions supported:\r\n UTF8\r\n EPRT\r\n IDLE\r\n MDTM\r\n SIZE\r\n MFMT\r\n REST STREAM\r\n' +
    ' MLST type*;size*;sizd*;modify*;UNIX.mode*;UNIX.uid*;UNIX.gid*;unique*;\r\n MLSD\r\n PRET\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n' +
    ' TVFS\r\n ESTA\r\n PASV\r\n EPSV\r\n ESTP\r\n211 End.\r\n';
  const f = parseFeatReply(featLines(wire));
  const facts = ['type', 'size', 'sizd', 'modify', 'unix.mode', 'unix.uid', 'unix.gid', 'unique'];
  assert.deepEqual(f.mlst, { facts, enabled: facts });
  assert.deepEqual(flags(f), {
    ...NONE, mlsd: true, mdtm: true, mfmt: true, size: true, restStream: true, epsv: true, eprt: true, pret: true,
    tvfs: true, utf8: true, pbsz: true, prot: true,
  });
  assert.deepEqual(f.auth, ['TLS']);
  assert.ok(f.raw.has('ESTA') && f.raw.has('ESTP') && f.raw.has('IDLE'));
});

test('pyftpdlib 1.5.7: sorted, lower-case unix facts not enabled by default (captured from the lab server)', () => {
  const wire =
    '211-Features supported:\r\n EPRT\r\n EPSV\r\n MDTM\r\n MFMT\r\n' +
    ' MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End FEAT.\r\n';
  const f = parseFeatReply(featLines(wire));
  assert.deepEqual(f.mlst, {
    facts: ['type', 'perm', 'size', 'modify', 'unique', 'unix.mode', 'unix.uid', 'unix.gid'],
    enabled: ['type', 'perm', 'size', 'modify', 'unique'],
  });
  assert.deepEqual(flags(f), {
    ...NONE, mlsd: true, mdtm: true, mfmt: true, size: true, restStream: true, epsv: true, eprt: true, tvfs: true, utf8: true,
  });
});

test('pyftpdlib 1.5.7 TLS_FTPHandler', () => {
  const wire =
    '211-Features supported:\r\n AUTH SSL\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n MFMT\r\n' +
    ' MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End FEAT.\r\n';
  const f = parseFeatReply(featLines(wire));
  assert.deepEqual(f.auth, ['SSL', 'TLS']);
  assert.equal(f.pbsz && f.prot, true);
});

test('glftpd-style: FXP extensions, checksums, space after the hyphen', () => {
  const wire = [
    '211- Extensions supported:',
    ' AUTH TLS;SSL',
    ' PBSZ',
    ' PROT',
    ' CPSV',
    ' SSCN',
    ' CEPR',
    ' MDTM',
    ' SIZE',
    ' REST STREAM',
    ' SYST',
    ' EPRT',
    ' EPSV',
    ' PRET',
    ' XCRC "filename" SP EP',
    ' XSHA',
    ' MLST type*;size*;modify*;UNIX.mode*;UNIX.owner*;UNIX.group*;',
    ' MLSD',
    '211 End',
    '',
  ].join('\r\n');
  const f = parseFeatReply(featLines(wire));
  assert.deepEqual(f.auth, ['TLS', 'SSL']);
  assert.deepEqual(flags(f), {
    ...NONE, mlsd: true, mdtm: true, size: true, restStream: true, epsv: true, eprt: true, sscn: true, cpsv: true,
    cepr: true, pret: true, pbsz: true, prot: true,
  });
  assert.deepEqual(f.checksums, { xcrc: true, xmd5: false, xsha1: true, xsha256: false, xsha512: false });
  assert.equal(f.raw.get('XCRC'), '"filename" SP EP');
});

test('glftpd-style mismatched close code (200- ... 211 End) still parses', () => {
  const f = parseFeatReply(featLines('200-Features:\r\n SSCN\r\n CPSV\r\n211 End\r\n'));
  assert.equal(f.sscn, true);
  assert.equal(f.cpsv, true);
  assert.equal(f.raw.size, 2);
});

test('HASH (draft-bryan-ftpext-hash) and X* checksum commands', () => {
  const f = parseFeatReply([
    '211-Extensions supported:',
    ' HASH SHA-256*;SHA-1;MD5;CRC32',
    ' XCRC',
    ' XMD5',
    ' XSHA1',
    ' XSHA256',
    ' XSHA512',
    '211 End',
  ]);
  assert.deepEqual(f.hash, { algorithms: ['SHA-256', 'SHA-1', 'MD5', 'CRC32'], selected: 'SHA-256' });
  assert.deepEqual(f.checksums, { xcrc: true, xmd5: true, xsha1: true, xsha256: true, xsha512: true });
});

test('HASH without a selected algorithm', () => {
  const f = parseFeatReply(['211-Features', ' HASH sha-1;md5', '211 End']);
  assert.deepEqual(f.hash, { algorithms: ['SHA-1', 'MD5'] });
  assert.equal('selected' in f.hash, false);
});

test('tolerates lines without the leading space, "211-" prefixes, odd case and bare LF endings', () => {
  const f = parseFeatReply(['211-Features:', 'MDTM', '211-SIZE', '  mlst Type*;Size;', ' rest stream', 'utf8', '211 End']);
  assert.deepEqual([...f.raw.keys()], ['MDTM', 'SIZE', 'MLST', 'REST', 'UTF8']);
  assert.deepEqual(f.mlst, { facts: ['type', 'size'], enabled: ['type'] });
  assert.equal(f.raw.get('MLST'), 'Type*;Size;');
  assert.equal(f.restStream, true);
  assert.equal(f.utf8, true);
  assert.equal(f.size, true);
});

test('MLSD advertised without MLST still counts as MLSD', () => {
  const f = parseFeatReply(['211-Features:', ' MLSD', '211 End']);
  assert.equal(f.mlsd, true);
  assert.equal(f.mlst, null);
});

test('bare REST (no STREAM) is not restStream; MLST with no facts', () => {
  const f = parseFeatReply(['211-Features:', ' REST', ' MLST', '211 End']);
  assert.equal(f.restStream, false);
  assert.deepEqual(f.mlst, { facts: [], enabled: [] });
  assert.equal(f.mlsd, true);
});

test('a one-line 211 reply has no features', () => {
  const f = parseFeatReply(['211 No features supported']);
  assert.equal(f.raw.size, 0);
  assert.deepEqual(flags(f), NONE);
});

test('SITE UTIME among other SITE lines; SITE without UTIME', () => {
  assert.equal(parseFeatReply(['211-x', ' SITE MKDIR', ' SITE UTIME', '211 End']).siteUtime, true);
  assert.equal(parseFeatReply(['211-x', ' SITE CHMOD', '211 End']).siteUtime, false);
});
