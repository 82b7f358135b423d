/** LIST and MLSD output captured from the four lab servers, parsed by src/ftp/listing.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseList, parseMlsd, parseMlsdLine } from '../../src/ftp/listing.js';
import type { ListEntry } from '../../src/ftp/entry.js';

const utc = (s: string): Date => new Date(s);

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
