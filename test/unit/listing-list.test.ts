/** LIST lines (Unix and DOS/IIS layouts, year inference) and whole LIST streams from src/ftp/listing.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDosListLine, parseList, parseUnixListLine } from '../../src/ftp/listing.js';
import type { ListEntry } from '../../src/ftp/entry.js';

const utc = (s: string): Date => new Date(s);
const NOW = utc('2024-03-10T12:00:00Z');

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
