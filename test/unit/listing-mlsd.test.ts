/** MLSD lines and streams (RFC 3659 section 7) from src/ftp/listing.ts, as each lab server writes them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMlsd, parseMlsdLine } from '../../src/ftp/listing.js';
import type { ListEntry } from '../../src/ftp/entry.js';

const utc = (s: string): Date => new Date(s);

// ---------------------------------------------------------------- MLSD

test('MLSD: proftpd file line with fractional modify', () => {
  const e = parseMlsdLine(
    'modify=20240115150405.123;perm=adfr;size=1024;type=file;unique=803U1234;UNIX.group=1000;UNIX.groupname=ftptest;UNIX.mode=0644;UNIX.owner=1000;UNIX.ownername=ftptest; a.txt',
  );
  assert.deepEqual(e, {
    name: 'a.txt',
    type: 'file',
    size: 1024,
    mtime: utc('2024-01-15T15:04:05.123Z'),
    mtimePrecision: 0,
    mtimeApproximate: false,
    perm: 'adfr',
    unique: '803U1234',
    mode: 0o644,
  } satisfies ListEntry);
});

test('MLSD: pure-ftpd file and directory (sizd), whole seconds', () => {
  assert.deepEqual(
    parseMlsdLine('type=file;size=1024;modify=20240115150405;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g1234; a.txt'),
    {
      name: 'a.txt',
      type: 'file',
      size: 1024,
      mtime: utc('2024-01-15T15:04:05Z'),
      mtimePrecision: 1000,
      mtimeApproximate: false,
      unique: '803g1234',
      mode: 0o644,
    },
  );
  const d = parseMlsdLine('type=dir;sizd=4096;modify=20231201080000;UNIX.mode=0755;UNIX.uid=1000;UNIX.gid=1000;unique=803g99; sub dir');
  assert.equal(d?.type, 'dir');
  assert.equal(d?.name, 'sub dir');
  assert.equal(d?.size, 4096);
  assert.equal(d?.mode, 0o755);
});

test('MLSD: pyftpdlib default facts and its Python-3 "0o644" unix.mode', () => {
  assert.deepEqual(parseMlsdLine('type=file;perm=radfwMT;size=1024;modify=20240115150405; a.txt'), {
    name: 'a.txt',
    type: 'file',
    size: 1024,
    mtime: utc('2024-01-15T15:04:05Z'),
    mtimePrecision: 1000,
    mtimeApproximate: false,
    perm: 'radfwMT',
  });
  const e = parseMlsdLine('type=dir;perm=elchmdfw;size=4096;modify=20240115150405;unix.mode=0o755;unix.uid=1000;unix.gid=1000;unique=fd01g2a; d');
  assert.equal(e?.mode, 0o755);
  assert.equal(e?.unique, 'fd01g2a');
});

test('MLSD: UNIX.mode forms', () => {
  const mode = (m: string): number | undefined => parseMlsdLine(`type=file;UNIX.mode=${m}; f`)?.mode;
  assert.equal(mode('0644'), 0o644);
  assert.equal(mode('644'), 0o644);
  assert.equal(mode('0o644'), 0o644);
  assert.equal(mode('0O600'), 0o600);
  assert.equal(mode('4755'), 0o4755);
  assert.equal(mode('100644'), 0o644); // st_mode with file-type bits: keep the permission bits
  assert.equal(mode('rw-r--r--'), undefined);
  assert.equal(mode('0999'), undefined);
});

test('MLSD: cdir, pdir, "." and ".." are dropped', () => {
  assert.equal(parseMlsdLine('modify=20240115150405;perm=flcdmpe;type=cdir;unique=803U2; .'), null);
  assert.equal(parseMlsdLine('modify=20240115150405;perm=flcdmpe;type=pdir;unique=803U1; ..'), null);
  assert.equal(parseMlsdLine('type=cdir;sizd=4096; /home/ftptest'), null);
  assert.equal(parseMlsdLine('Type=PDir; ..'), null);
  assert.equal(parseMlsdLine('type=dir; .'), null);
  assert.equal(parseMlsdLine('type=dir; ..'), null);
});

test('MLSD: names with spaces, leading spaces, semicolons, "=" and UTF-8', () => {
  const name = (line: string): string | undefined => parseMlsdLine(line)?.name;
  assert.equal(name('type=file;size=1; my file.txt'), 'my file.txt');
  assert.equal(name('type=file;size=1;   two leading spaces'), '  two leading spaces');
  assert.equal(name('type=file;size=1; a;b=c; d'), 'a;b=c; d');
  assert.equal(name('type=file;size=1; ; starts with semicolon'), '; starts with semicolon');
  assert.equal(name('type=file;size=1; trailing space '), 'trailing space ');
  assert.equal(name('type=file;size=1; Überprüfung 日本語.txt'), 'Überprüfung 日本語.txt');
  assert.equal(name('type=file;size=1; x\r'), 'x');
});

test('MLSD: facts are case-insensitive, values keep case', () => {
  const e = parseMlsdLine('Type=File;Size=42;Modify=20240102030405;Perm=r;Unique=AbC; F');
  assert.deepEqual(e, {
    name: 'F',
    type: 'file',
    size: 42,
    mtime: utc('2024-01-02T03:04:05Z'),
    mtimePrecision: 1000,
    mtimeApproximate: false,
    perm: 'r',
    unique: 'AbC',
  });
});

test('MLSD: symlinks and special files', () => {
  assert.deepEqual(parseMlsdLine('modify=20240115150405;perm=adfr;size=5;type=OS.unix=symlink;unique=803U9; link'), {
    name: 'link',
    type: 'link',
    size: 5,
    mtime: utc('2024-01-15T15:04:05Z'),
    mtimePrecision: 1000,
    mtimeApproximate: false,
    perm: 'adfr',
    unique: '803U9',
  });
  const s = parseMlsdLine('modify=20240115150405;type=OS.unix=slink:/home/ftp/a b.txt;unique=803U9; link to a');
  assert.equal(s?.type, 'link');
  assert.equal(s?.target, '/home/ftp/a b.txt'); // the first "; " is the separator, not the first space
  assert.equal(s?.name, 'link to a');
  assert.equal(parseMlsdLine('type=OS.UNIX=slink:Target; l')?.target, 'Target');
  assert.equal(parseMlsdLine('type=OS.unix=blk; sda')?.type, 'special');
  assert.equal(parseMlsdLine('type=OS.unix=chr; null')?.type, 'special');
  assert.equal(parseMlsdLine('type=OS.unix=fifo; pipe')?.type, 'special');
  assert.equal(parseMlsdLine('type=OS.vms=weird; x')?.type, 'special');
});

test('MLSD: modify edge cases', () => {
  const m = (v: string): ListEntry | null => parseMlsdLine(`type=file;modify=${v}; f`);
  assert.deepEqual(m('20240229235959.5')?.mtime, utc('2024-02-29T23:59:59.500Z'));
  assert.equal(m('20240229235959.5')?.mtimePrecision, 0);
  assert.deepEqual(m('19700101000000.123456')?.mtime, utc('1970-01-01T00:00:00.123Z'));
  // Invalid times leave mtime unknown but keep the entry.
  assert.deepEqual(m(' 20240115150405 ')?.mtime, utc('2024-01-15T15:04:05.000Z'), 'surrounding spaces');
  assert.equal(m('20240115150405')?.mtimePrecision, 1000);
  const bads = ['20230229120000', '20241301000000', '2024011515040', 'yesterday', '20240115250000'];
  // A dot without digits, other characters after the seconds, a non-digit inside, a sign.
  bads.push('20240115150405.', '20240115150405x', '20240115150405.5x', '2024011515040a', '+2024011515040', '202401151504055');
  for (const bad of bads) {
    const e = m(bad);
    assert.equal(e?.name, 'f', bad);
    assert.equal(e?.mtime, undefined, bad);
  }
});

test('MLSD: a repeated fact counts once, the last one; facts without "=" or a name are skipped', () => {
  const e = parseMlsdLine('Size=1;type=file;SIZE=2;=x;junk;modify=20240101000000; f');
  assert.equal(e?.size, 2);
  assert.equal(e?.type, 'file');
  assert.deepEqual(e?.mtime, utc('2024-01-01T00:00:00.000Z'));
});

test('MLSD: size only when numeric; sizd ignored for files', () => {
  assert.equal(parseMlsdLine('type=file;size=abc; f')?.size, undefined);
  assert.equal(parseMlsdLine('type=file;sizd=10; f')?.size, undefined);
  assert.equal(parseMlsdLine('type=file;size=9007199254740993; f')?.size, undefined);
  assert.equal(parseMlsdLine('type=file;size=5368709120; big')?.size, 5368709120);
});

test('MLSD: malformed lines', () => {
  assert.equal(parseMlsdLine(''), null);
  assert.equal(parseMlsdLine('type=file;'), null); // no name
  // An empty name is returned: names.ts reports it rather than the parser hiding it.
  assert.equal(parseMlsdLine('type=file; ')?.name, '');
  assert.equal(parseMlsdLine('size=3;modify=20240101000000; no-type'), null);
  assert.equal(parseMlsdLine(' no facts at all'), null);
  // Facts without the final ";" (against §7.2): fall back to the first space.
  assert.equal(parseMlsdLine('type=file;size=3 name')?.name, 'name');
});

test('parseMlsd: whole stream, CRLF and LF, skips cdir/pdir and junk', () => {
  const text =
    'modify=20240115150405;perm=flcdmpe;type=cdir;unique=803U2; .\r\n' +
    'modify=20240115150405;perm=flcdmpe;type=pdir;unique=803U1; ..\r\n' +
    'modify=20240115150405;perm=adfr;size=3;type=file;unique=803U3; a\r\n' +
    'garbage\r\n' +
    '\r\n' +
    'modify=20240115150405;perm=flcdmpe;type=dir;unique=803U4; b c\n';
  const entries = parseMlsd(text);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type]),
    [
      ['a', 'file'],
      ['b c', 'dir'],
    ],
  );
  assert.deepEqual(parseMlsd(''), []);
});
