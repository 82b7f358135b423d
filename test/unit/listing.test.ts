import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDosListLine, parseList, parseMlsd, parseMlsdLine, parseUnixListLine } from '../../src/ftp/listing.js';
import type { ListEntry } from '../../src/ftp/entry.js';

const utc = (s: string): Date => new Date(s);
const NOW = utc('2024-03-10T12:00:00Z');

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

// ---------------------------------------------------------------- LIST, Unix

test('LIST: vsftpd (numeric ids, zero-padded day)', () => {
  assert.deepEqual(parseUnixListLine('-rw-r--r--    1 1000     1000         1024 Jan 05 15:04 a.txt', NOW), {
    name: 'a.txt',
    type: 'file',
    size: 1024,
    mtime: utc('2024-01-05T15:04:00Z'),
    mtimePrecision: 60_000,
    mtimeApproximate: true,
    mode: 0o644,
  });
  assert.deepEqual(parseUnixListLine('drwxr-xr-x    2 1000     1000         4096 Mar 01  2023 sub dir', NOW), {
    name: 'sub dir',
    type: 'dir',
    size: 4096,
    mtime: utc('2023-03-01T00:00:00Z'),
    mtimePrecision: 86_400_000,
    mtimeApproximate: true,
    mode: 0o755,
  });
  assert.deepEqual(parseUnixListLine('lrwxrwxrwx    1 1000     1000            5 Jan 05 15:04 link -> a.txt', NOW), {
    name: 'link',
    type: 'link',
    size: 5,
    target: 'a.txt',
    mtime: utc('2024-01-05T15:04:00Z'),
    mtimePrecision: 60_000,
    mtimeApproximate: true,
    mode: 0o777,
  });
});

test('LIST: proftpd, pure-ftpd and pyftpdlib column layouts', () => {
  const lines = [
    '-rw-r--r--   1 ftptest  ftptest      1024 Jan  5 15:04 a.txt', // proftpd
    '-rw-r--r--    1 ftptest    ftptest          1024 Jan  5 15:04 a.txt', // pure-ftpd
    '-rw-r--r--   1 ftptest  ftptest      1024 Jan 05 15:04 a.txt', // pyftpdlib
    '-rw-r--r-- 1 ftp ftp 1024 Jan 5 15:04 a.txt', // minimal spacing
  ];
  for (const line of lines) {
    const e = parseUnixListLine(line, NOW);
    assert.equal(e?.name, 'a.txt', line);
    assert.equal(e?.size, 1024, line);
    assert.deepEqual(e?.mtime, utc('2024-01-05T15:04:00Z'), line);
  }
});

test('LIST: without the group column, without the link count, numeric owner names', () => {
  const cases: Array<[string, string, number]> = [
    ['-rw-r--r--   1 owner         1234 Feb 10 09:30 nogroup.bin', 'nogroup.bin', 1234],
    ['-rw-r--r--   owner   group   1234 Feb 10 09:30 nolinks.bin', 'nolinks.bin', 1234],
    ['drwxr-xr-x   folder        0 Feb 10 09:30 justowner', 'justowner', 0],
    ['-rw-r--r--   1 1001 1002 77 Feb 10 09:30 2024 report.pdf', '2024 report.pdf', 77],
  ];
  for (const [line, name, size] of cases) {
    const e = parseUnixListLine(line, NOW);
    assert.equal(e?.name, name, line);
    assert.equal(e?.size, size, line);
    assert.deepEqual(e?.mtime, utc('2024-02-10T09:30:00Z'), line);
  }
});

test('LIST: device files, fifos, sockets', () => {
  const e = parseUnixListLine('crw-rw-rw- 1 root root 1, 3 Jan 1 2020 null', NOW);
  assert.deepEqual(e, {
    name: 'null',
    type: 'special',
    mtime: utc('2020-01-01T00:00:00Z'),
    mtimePrecision: 86_400_000,
    mtimeApproximate: true,
    mode: 0o666,
  });
  assert.equal(parseUnixListLine('brw-rw----   1 root     disk       8,   0 Mar  9 08:00 sda', NOW)?.type, 'special');
  assert.equal(parseUnixListLine('prw-r--r--   1 root     root          0 Mar  9 08:00 fifo', NOW)?.type, 'special');
  assert.equal(parseUnixListLine('srwxrwxrwx   1 root     root          0 Mar  9 08:00 sock', NOW)?.type, 'special');
});

test('LIST: names with spaces, leading spaces, arrows in non-links, UTF-8', () => {
  const name = (line: string): string | undefined => parseUnixListLine(line, NOW)?.name;
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5 15:04 my  file .txt'), 'my  file .txt');
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5 15:04   two leading'), '  two leading');
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5  2020  one leading'), ' one leading');
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5 15:04 a -> b'), 'a -> b'); // not a link: verbatim
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5 15:04 Überprüfung 日本語.txt'), 'Überprüfung 日本語.txt');
  assert.equal(name('-rw-r--r--   1 u g   1 Jan  5 15:04 x\r'), 'x');
  const l = parseUnixListLine('lrwxrwxrwx   1 u g   1 Jan  5 15:04 my link -> ../some dir/target', NOW);
  assert.equal(l?.name, 'my link');
  assert.equal(l?.target, '../some dir/target');
});

test('LIST: mode bits incl. setuid, setgid, sticky (s/S/t/T)', () => {
  const mode = (perms: string): number | undefined => parseUnixListLine(`${perms}   1 u g   1 Jan  5 15:04 f`, NOW)?.mode;
  assert.equal(mode('-rwxr-xr-x'), 0o755);
  assert.equal(mode('-rw-------'), 0o600);
  assert.equal(mode('----------'), 0);
  assert.equal(mode('-rwsr-xr-x'), 0o4755);
  assert.equal(mode('-rwSr--r--'), 0o4644);
  assert.equal(mode('drwxr-sr-x'), 0o2755);
  assert.equal(mode('-rw-r-Sr--'), 0o2644);
  assert.equal(mode('drwxrwxrwt'), 0o1777);
  assert.equal(mode('drwxrwxrwT'), 0o1776);
  assert.equal(mode('-rwsr-sr-t'), 0o7755);
  assert.equal(mode('-rw-r-lr--'), 0o2644); // System V mandatory locking
  assert.equal(mode('-rw-r--r--+'), 0o644); // ACL marker
  assert.equal(mode('-rw-r--r--@'), 0o644); // macOS extended attributes
});

test('LIST: "total", ".", ".." and junk give null', () => {
  for (const line of [
    'total 12',
    'total 0',
    'drwxr-xr-x   2 u g 4096 Jan  5 15:04 .',
    'drwxr-xr-x   2 u g 4096 Jan  5 15:04 ..',
    '',
    'hello world',
    '-rw-r--r--   1 u g 1 Foo  5 15:04 badmonth',
    '-rw-r--r--   1 u g 1 Jan 32 15:04 badday',
    '-rw-r--r--   1 u g 1 Feb 30  2020 feb30',
    '-rw-r--r--   1 u g 1 Jan  5 25:04 badhour',
    'xrw-r--r--   1 u g 1 Jan  5 15:04 badtype',
  ]) {
    assert.equal(parseUnixListLine(line, NOW), null, line);
  }
});

test('LIST: an empty name is returned, for names.ts to report', () => {
  assert.equal(parseUnixListLine('-rw-r--r--   1 u g 1 Jan  5 15:04 ', NOW)?.name, '');
});

test('LIST year inference: the most recent date not more than a day ahead', () => {
  const at = (line: string, now: string): Date | undefined =>
    parseUnixListLine(`-rw-r--r-- 1 u g 1 ${line} f`, utc(now))?.mtime;
  // A December listing read in January is last year's.
  assert.deepEqual(at('Dec 31 23:59', '2024-01-02T10:00:00Z'), utc('2023-12-31T23:59:00Z'));
  assert.deepEqual(at('Dec 15 08:00', '2024-01-15T00:00:00Z'), utc('2023-12-15T08:00:00Z'));
  // A server a few hours ahead of us, across New Year: next year's January 1st.
  assert.deepEqual(at('Jan  1 00:15', '2023-12-31T23:30:00Z'), utc('2024-01-01T00:15:00Z'));
  // Up to a day in the future stays this year; further back goes to last year.
  assert.deepEqual(at('Mar 11 10:00', '2024-03-10T12:00:00Z'), utc('2024-03-11T10:00:00Z'));
  assert.deepEqual(at('Mar 11 13:00', '2024-03-10T12:00:00Z'), utc('2023-03-11T13:00:00Z'));
  assert.deepEqual(at('Mar 10 12:00', '2024-03-10T12:00:00Z'), utc('2024-03-10T12:00:00Z'));
  // Feb 29 goes back to the last leap year.
  assert.deepEqual(at('Feb 29 12:00', '2024-03-01T00:00:00Z'), utc('2024-02-29T12:00:00Z'));
  assert.deepEqual(at('Feb 29 12:00', '2025-06-01T00:00:00Z'), utc('2024-02-29T12:00:00Z'));
  assert.deepEqual(at('Feb 29 12:00', '2028-02-28T00:00:00Z'), utc('2024-02-29T12:00:00Z'));
  // An explicit year is taken as is.
  assert.deepEqual(at('Dec 31  1999', '2024-01-02T00:00:00Z'), utc('1999-12-31T00:00:00Z'));
});

// ---------------------------------------------------------------- LIST, DOS/IIS

test('DOS/IIS lines', () => {
  assert.deepEqual(parseDosListLine('01-15-24  03:04PM       <DIR>          aspnet_client'), {
    name: 'aspnet_client',
    type: 'dir',
    mtime: utc('2024-01-15T15:04:00Z'),
    mtimePrecision: 60_000,
    mtimeApproximate: true,
  });
  assert.deepEqual(parseDosListLine('01-15-24  03:04PM              1234 iisstart.htm'), {
    name: 'iisstart.htm',
    type: 'file',
    size: 1234,
    mtime: utc('2024-01-15T15:04:00Z'),
    mtimePrecision: 60_000,
    mtimeApproximate: true,
  });
  const e = (line: string): ListEntry | null => parseDosListLine(line);
  assert.deepEqual(e('12-31-1999  11:59PM                 0 y2k.txt')?.mtime, utc('1999-12-31T23:59:00Z'));
  assert.deepEqual(e('02-14-17  12:05AM             689 midnight.htm')?.mtime, utc('2017-02-14T00:05:00Z'));
  assert.deepEqual(e('02-14-17  12:05PM             689 noon.htm')?.mtime, utc('2017-02-14T12:05:00Z'));
  assert.deepEqual(e('02-14-2017  17:45       <DIR>          24h dir')?.mtime, utc('2017-02-14T17:45:00Z'));
  assert.deepEqual(e('06-01-98  09:00AM                10 old.txt')?.mtime, utc('1998-06-01T09:00:00Z'));
  assert.equal(e('02-14-17  05:45 PM       <dir>          lower')?.type, 'dir');
  assert.equal(e('01-15-24  03:04PM              1234 name with  spaces.txt')?.name, 'name with  spaces.txt');
  assert.equal(e('01-15-24  03:04PM              1234  leading')?.name, ' leading');
  assert.equal(e('01-15-24  03:04PM         1,234,567 commas.bin')?.size, 1234567);
  assert.equal(e('01-15-24  03:04PM              1234 Überprüfung.txt')?.name, 'Überprüfung.txt');
  const j = e('01-15-24  03:04PM    <JUNCTION>     Documents [C:\\Users\\x\\Documents]');
  assert.equal(j?.type, 'link');
  assert.equal(j?.name, 'Documents');
  assert.equal(j?.target, 'C:\\Users\\x\\Documents');
});

test('DOS/IIS: junk and impossible dates give null', () => {
  for (const line of [
    '13-15-24  03:04PM              1234 badmonth',
    '02-30-24  03:04PM              1234 feb30',
    '01-15-24  13:04PM              1234 badhour',
    '01-15-24  03:04PM       <DIR>          .',
    'total 3',
    '-rw-r--r-- 1 u g 1 Jan  5 15:04 unix',
  ]) {
    assert.equal(parseDosListLine(line), null, line);
  }
});

// ---------------------------------------------------------------- parseList

test('parseList: Unix listing with total and dot entries, CRLF', () => {
  const text = [
    'total 24',
    'drwxr-xr-x    3 1000     1000         4096 Mar 09 10:00 .',
    'drwxr-xr-x    5 1000     1000         4096 Mar 09 10:00 ..',
    '-rw-r--r--    1 1000     1000         1024 Mar 09 10:00 a.txt',
    'drwxr-xr-x    2 1000     1000         4096 Dec 24  2022 old dir',
    'lrwxrwxrwx    1 1000     1000            5 Mar 09 10:00 l -> a.txt',
    '',
  ].join('\r\n');
  const entries = parseList(text, NOW);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.size]),
    [
      ['a.txt', 'file', 1024],
      ['old dir', 'dir', 4096],
      ['l', 'link', 5],
    ],
  );
});

test('parseList: DOS listing, mixed junk is skipped, never throws', () => {
  const text =
    '01-15-24  03:04PM       <DIR>          aspnet_client\r\n' +
    'this is not a listing line\r\n' +
    '01-15-24  03:04PM              1234 iisstart.htm\r\n' +
    '\r\n';
  assert.deepEqual(
    parseList(text, NOW).map((e) => [e.name, e.type]),
    [
      ['aspnet_client', 'dir'],
      ['iisstart.htm', 'file'],
    ],
  );
  assert.deepEqual(parseList('', NOW), []);
  assert.deepEqual(parseList('\u0000\u0001garbage\n\n', NOW), []);
});

test('parseList: now defaults to the current time', () => {
  const [e] = parseList('-rw-r--r-- 1 u g 1 Jan  1  2020 f\n');
  assert.deepEqual(e.mtime, utc('2020-01-01T00:00:00Z'));
  const [recent] = parseList('-rw-r--r-- 1 u g 1 Jan  1 00:00 f\n');
  assert.ok(recent.mtime !== undefined && recent.mtime.getTime() <= Date.now() + 86_400_000);
  assert.ok(recent.mtime.getTime() > Date.now() - 366 * 86_400_000);
});

// ---------------------------------------------------------------- captured from real servers
// The same directory (names with spaces, leading and trailing spaces, ";" and
// "=", UTF-8, symlinks, a fifo, setuid and sticky bits, a Dec 24 2025 and a
// Feb 29 2020 file) served by vsftpd 3.0.3, proftpd 1.3.8, pure-ftpd 1.0.50 and
// pyftpdlib 1.5.7, captured on 2026-11-21 around 05:38 UTC.

const CAPTURE_NOW = utc('2026-11-21T05:40:00Z');
const T = '2026-11-21T05:38:00Z';

const LIST_CAPTURES: Record<string, string> = {
  vsftpd:
    '-rw-r--r--    1 0        0               2 Nov 21 05:38   lead\r\nlrwxrwxrwx    1 0        0              19 Nov 21 05:38 dangling -> /nonexistent target\r\n-rw-r--r--    1 0        0               2 Dec 24  2025 dec.txt\r\nprw-r--r--    1 0        0               0 Nov 21 05:38 fifo\r\n-rw-r--r--    1 0        0               2 Nov 20 10:11 frac.txt\r\nlrwxrwxrwx    1 0        0              11 Nov 21 05:38 link to file -> my file.txt\r\n-rw-r--r--    1 0        0               3 Nov 21 05:38 my file.txt\r\n-rw-r--r--    1 0        0               2 Feb 29  2020 old.txt\r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 semi;colon=x.txt\r\ndrwxrwxrwt    2 0        0            4096 Nov 21 05:38 sticky\r\ndrwxr-xr-x    2 0        0            4096 Nov 21 05:38 sub dir\r\n-rwsr-xr-x    1 0        0               2 Nov 21 05:38 suid\r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 trail \r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 Überprüfung 日本語.txt\r\n',
  // LIST -a: vsftpd adds "." and ".."
  'vsftpd -a':
    '-rw-r--r--    1 0        0               2 Nov 21 05:38   lead\r\ndrwxr-xr-x    4 0        0            4096 Nov 21 05:38 .\r\ndrwxr-xr-x    4 0        0            4096 Nov 21 05:38 ..\r\nlrwxrwxrwx    1 0        0              19 Nov 21 05:38 dangling -> /nonexistent target\r\n-rw-r--r--    1 0        0               2 Dec 24  2025 dec.txt\r\nprw-r--r--    1 0        0               0 Nov 21 05:38 fifo\r\n-rw-r--r--    1 0        0               2 Nov 20 10:11 frac.txt\r\nlrwxrwxrwx    1 0        0              11 Nov 21 05:38 link to file -> my file.txt\r\n-rw-r--r--    1 0        0               3 Nov 21 05:38 my file.txt\r\n-rw-r--r--    1 0        0               2 Feb 29  2020 old.txt\r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 semi;colon=x.txt\r\ndrwxrwxrwt    2 0        0            4096 Nov 21 05:38 sticky\r\ndrwxr-xr-x    2 0        0            4096 Nov 21 05:38 sub dir\r\n-rwsr-xr-x    1 0        0               2 Nov 21 05:38 suid\r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 trail \r\n-rw-r--r--    1 0        0               2 Nov 21 05:38 Überprüfung 日本語.txt\r\n',
  proftpd:
    '-rw-r--r--   1 root     root            2 Nov 21 05:38   lead\r\nlrwxrwxrwx   1 root     root           19 Nov 21 05:38 dangling -> /nonexistent target\r\n-rw-r--r--   1 root     root            2 Dec 24  2025 dec.txt\r\nprw-r--r--   1 root     root            0 Nov 21 05:38 fifo\r\n-rw-r--r--   1 root     root            2 Nov 20 10:11 frac.txt\r\nlrwxrwxrwx   1 root     root           11 Nov 21 05:38 link to file -> my file.txt\r\n-rw-r--r--   1 root     root            3 Nov 21 05:38 my file.txt\r\n-rw-r--r--   1 root     root            2 Feb 29  2020 old.txt\r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 semi;colon=x.txt\r\ndrwxrwxrwt   2 root     root         4096 Nov 21 05:38 sticky\r\ndrwxr-xr-x   2 root     root         4096 Nov 21 05:38 sub dir\r\n-rwsr-xr-x   1 root     root            2 Nov 21 05:38 suid\r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 trail \r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 Überprüfung 日本語.txt\r\n',
  // pure-ftpd leaves the fifo out of LIST.
  'pure-ftpd':
    '-rw-r--r--    1 0          0                   2 Nov 21 05:38   lead\r\nlrwxrwxrwx    1 0          0                  19 Nov 21 05:38 dangling -> /nonexistent target\r\n-rw-r--r--    1 0          0                   2 Dec 24  2025 dec.txt\r\n-rw-r--r--    1 0          0                   2 Nov 20 10:11 frac.txt\r\nlrwxrwxrwx    1 0          0                  11 Nov 21 05:38 link to file -> my file.txt\r\n-rw-r--r--    1 0          0                   3 Nov 21 05:38 my file.txt\r\n-rw-r--r--    1 0          0                   2 Feb 29  2020 old.txt\r\n-rw-r--r--    1 0          0                   2 Nov 21 05:38 semi;colon=x.txt\r\ndrwxrwxrwt    2 0          0                4096 Nov 21 05:38 sticky\r\ndrwxr-xr-x    2 0          0                4096 Nov 21 05:38 sub dir\r\n-rwsr-xr-x    1 0          0                   2 Nov 21 05:38 suid\r\n-rw-r--r--    1 0          0                   2 Nov 21 05:38 trail \r\n-rw-r--r--    1 0          0                   2 Nov 21 05:38 Überprüfung 日本語.txt\r\n',
  pyftpdlib:
    '-rw-r--r--   1 root     root            2 Nov 21 05:38   lead\r\nlrwxrwxrwx   1 root     root           19 Nov 21 05:38 dangling -> /nonexistent target\r\n-rw-r--r--   1 root     root            2 Dec 24  2025 dec.txt\r\nprw-r--r--   1 root     root            0 Nov 21 05:38 fifo\r\n-rw-r--r--   1 root     root            2 Nov 20 10:11 frac.txt\r\nlrwxrwxrwx   1 root     root           11 Nov 21 05:38 link to file -> my file.txt\r\n-rw-r--r--   1 root     root            3 Nov 21 05:38 my file.txt\r\n-rw-r--r--   1 root     root            2 Feb 29  2020 old.txt\r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 semi;colon=x.txt\r\ndrwxrwxrwt   2 root     root         4096 Nov 21 05:38 sticky\r\ndrwxr-xr-x   2 root     root         4096 Nov 21 05:38 sub dir\r\n-rwsr-xr-x   1 root     root            2 Nov 21 05:38 suid\r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 trail \r\n-rw-r--r--   1 root     root            2 Nov 21 05:38 Überprüfung 日本語.txt\r\n',
};

const LIST_EXPECTED: Array<[string, string, number, string, number, number, string?]> = [
  // name, type, size, mtime, precision, mode, target
  ['  lead', 'file', 2, T, 60_000, 0o644],
  ['dangling', 'link', 19, T, 60_000, 0o777, '/nonexistent target'],
  ['dec.txt', 'file', 2, '2025-12-24T00:00:00Z', 86_400_000, 0o644],
  ['fifo', 'special', 0, T, 60_000, 0o644],
  ['frac.txt', 'file', 2, '2026-11-20T10:11:00Z', 60_000, 0o644],
  ['link to file', 'link', 11, T, 60_000, 0o777, 'my file.txt'],
  ['my file.txt', 'file', 3, T, 60_000, 0o644],
  ['old.txt', 'file', 2, '2020-02-29T00:00:00Z', 86_400_000, 0o644],
  ['semi;colon=x.txt', 'file', 2, T, 60_000, 0o644],
  ['sticky', 'dir', 4096, T, 60_000, 0o1777],
  ['sub dir', 'dir', 4096, T, 60_000, 0o755],
  ['suid', 'file', 2, T, 60_000, 0o4755],
  ['trail ', 'file', 2, T, 60_000, 0o644],
  ['Überprüfung 日本語.txt', 'file', 2, T, 60_000, 0o644],
];

for (const [server, text] of Object.entries(LIST_CAPTURES)) {
  test(`real LIST capture: ${server}`, () => {
    const want = LIST_EXPECTED.filter(([name]) => server !== 'pure-ftpd' || name !== 'fifo').map(
      ([name, type, size, mtime, precision, mode, target]) => {
        const e: ListEntry = { name, type: type as ListEntry['type'], size, mtime: utc(mtime), mtimePrecision: precision, mtimeApproximate: true, mode };
        if (target !== undefined) e.target = target;
        return e;
      },
    );
    assert.deepEqual(parseList(text, CAPTURE_NOW), want);
  });
}

test('real MLSD capture: proftpd 1.3.8 (symlink as OS.unix=symlink, fifo reported as a file)', () => {
  const text =
    'modify=20261121053826;perm=adfr;size=2;type=file;unique=FE00U20C381;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp;   lead\r\nmodify=20261121053826;perm=fle;type=dir;unique=FE00U20C362;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0755;UNIX.owner=0;UNIX.ownername=ftp; sub dir\r\nmodify=20261121053826;perm=fle;type=cdir;unique=FE00U20C355;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0755;UNIX.owner=0;UNIX.ownername=ftp; .\r\nmodify=20261121053826;perm=adfr;size=0;type=file;unique=FE00U20C46D;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; fifo\r\nmodify=20261120101112;perm=adfr;size=2;type=file;unique=FE00U20C472;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; frac.txt\r\nmodify=20261121053826;perm=adfr;size=2;type=file;unique=FE00U20C46E;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=04755;UNIX.owner=0;UNIX.ownername=ftp; suid\r\nmodify=20261121053826;perm=adfr;size=11;type=OS.unix=symlink;unique=FE00U20C373;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0777;UNIX.owner=0;UNIX.ownername=ftp; link to file\r\nmodify=20261121053826;perm=adfr;size=2;type=file;unique=FE00U20C3B3;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; trail \r\nmodify=20261121053826;perm=adfr;size=2;type=file;unique=FE00U20C3A3;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; Überprüfung 日本語.txt\r\nmodify=20261121053826;perm=fle;type=pdir;unique=FE00U20C355;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0755;UNIX.owner=0;UNIX.ownername=ftp; ..\r\nmodify=20261121053826;perm=flcdmpe;type=dir;unique=FE00U20C46F;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=01777;UNIX.owner=0;UNIX.ownername=ftp; sticky\r\nmodify=20251224080000;perm=adfr;size=2;type=file;unique=FE00U20C471;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; dec.txt\r\nmodify=20200229131415;perm=adfr;size=2;type=file;unique=FE00U20C470;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; old.txt\r\nmodify=20261121053826;perm=adfr;size=3;type=file;unique=FE00U20C373;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; my file.txt\r\nmodify=20261121053826;perm=adfr;size=2;type=file;unique=FE00U20C393;UNIX.group=0;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; semi;colon=x.txt\r\n';
  const entries = parseMlsd(text);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.size, e.mode]),
    [
      ['  lead', 'file', 2, 0o644],
      ['sub dir', 'dir', undefined, 0o755],
      ['fifo', 'file', 0, 0o644],
      ['frac.txt', 'file', 2, 0o644],
      ['suid', 'file', 2, 0o4755],
      ['link to file', 'link', 11, 0o777],
      ['trail ', 'file', 2, 0o644],
      ['Überprüfung 日本語.txt', 'file', 2, 0o644],
      ['sticky', 'dir', undefined, 0o1777],
      ['dec.txt', 'file', 2, 0o644],
      ['old.txt', 'file', 2, 0o644],
      ['my file.txt', 'file', 3, 0o644],
      ['semi;colon=x.txt', 'file', 2, 0o644],
    ],
  );
  const old = entries.find((e) => e.name === 'old.txt');
  assert.deepEqual(old?.mtime, utc('2020-02-29T13:14:15Z'));
  assert.equal(old?.mtimePrecision, 1000);
  assert.equal(old?.mtimeApproximate, false);
  assert.equal(old?.unique, 'FE00U20C470');
  assert.equal(old?.perm, 'adfr');
  // The link's own unique equals its target's: this is what lets `follow` spot loops.
  assert.equal(entries.find((e) => e.name === 'link to file')?.unique, entries.find((e) => e.name === 'my file.txt')?.unique);
});

test('real MLSD capture: pure-ftpd 1.0.50 (sizd, "OS.unix=slink:" with no target, fifo as type=unknown)', () => {
  const text =
    'type=file;size=2;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c381;   lead\r\ntype=dir;sizd=4096;modify=20261121053826;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c362; sub dir\r\ntype=cdir;sizd=4096;modify=20261121053826;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c355; .\r\ntype=unknown;size=0;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c46d; fifo\r\ntype=file;size=2;modify=20261120101112;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c472; frac.txt\r\ntype=OS.unix=slink:;size=19;modify=20261121053826;UNIX.mode=0777;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c3d1; dangling\r\ntype=file;size=2;modify=20261121053826;UNIX.mode=04755;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c46e; suid\r\ntype=OS.unix=slink:;size=11;modify=20261121053826;UNIX.mode=0777;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c3c2; link to file\r\ntype=file;size=2;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c3b3; trail \r\ntype=file;size=2;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c3a3; Überprüfung 日本語.txt\r\ntype=pdir;sizd=4096;modify=20261121053826;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c355; ..\r\ntype=dir;sizd=4096;modify=20261121053826;UNIX.mode=01777;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c46f; sticky\r\ntype=file;size=2;modify=20251224080000;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c471; dec.txt\r\ntype=file;size=2;modify=20200229131415;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c470; old.txt\r\ntype=file;size=3;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c373; my file.txt\r\ntype=file;size=2;modify=20261121053826;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00g20c393; semi;colon=x.txt\r\n';
  const entries = parseMlsd(text);
  assert.equal(entries.length, 14);
  const by = (name: string): ListEntry | undefined => entries.find((e) => e.name === name);
  assert.deepEqual(by('sub dir'), {
    name: 'sub dir',
    type: 'dir',
    size: 4096,
    mtime: utc('2026-11-21T05:38:26Z'),
    mtimePrecision: 1000,
    mtimeApproximate: false,
    unique: 'fe00g20c362',
    mode: 0o755,
  });
  assert.equal(by('fifo')?.type, 'special');
  assert.equal(by('dangling')?.type, 'link');
  assert.equal(by('dangling')?.target, undefined);
  assert.equal(by('link to file')?.type, 'link');
  assert.equal(by('sticky')?.mode, 0o1777);
  assert.equal(by('  lead')?.size, 2);
});

test('real MLSD capture: pyftpdlib 1.5.7 (links followed, dangling ones left out) and its unix.mode=0o644', () => {
  const text =
    'modify=20261121053826;perm=r;size=2;type=file;unique=fe00g20c381;   lead\r\nmodify=20261121053826;perm=el;size=4096;type=dir;unique=fe00g20c362; sub dir\r\nmodify=20261121053826;perm=r;size=0;type=file;unique=fe00g20c46d; fifo\r\nmodify=20261120101112;perm=r;size=2;type=file;unique=fe00g20c472; frac.txt\r\nmodify=20261121053826;perm=r;size=2;type=file;unique=fe00g20c46e; suid\r\nmodify=20261121053826;perm=r;size=3;type=file;unique=fe00g20c373; link to file\r\nmodify=20261121053826;perm=r;size=2;type=file;unique=fe00g20c3b3; trail \r\nmodify=20261121053826;perm=r;size=2;type=file;unique=fe00g20c3a3; Überprüfung 日本語.txt\r\nmodify=20261121053826;perm=el;size=4096;type=dir;unique=fe00g20c46f; sticky\r\nmodify=20251224080000;perm=r;size=2;type=file;unique=fe00g20c471; dec.txt\r\nmodify=20200229131415;perm=r;size=2;type=file;unique=fe00g20c470; old.txt\r\nmodify=20261121053826;perm=r;size=3;type=file;unique=fe00g20c373; my file.txt\r\nmodify=20261121053826;perm=r;size=2;type=file;unique=fe00g20c393; semi;colon=x.txt\r\n';
  const entries = parseMlsd(text);
  assert.deepEqual(
    entries.map((e) => e.name),
    ['  lead', 'sub dir', 'fifo', 'frac.txt', 'suid', 'link to file', 'trail ', 'Überprüfung 日本語.txt', 'sticky', 'dec.txt', 'old.txt', 'my file.txt', 'semi;colon=x.txt'],
  );
  assert.ok(entries.every((e) => e.mode === undefined && e.perm !== undefined && e.mtimePrecision === 1000));
  // After "OPTS MLST type;perm;size;modify;unique;unix.mode;unix.uid;unix.gid;" (lab capture):
  const withMode = parseMlsdLine('modify=20261121053739;perm=radfwMT;size=4194304;type=file;unique=fe00g510502;unix.gid=995;unix.mode=0o644;unix.uid=999; up.bin');
  assert.equal(withMode?.mode, 0o644);
  assert.equal(withMode?.size, 4194304);
});
