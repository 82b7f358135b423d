import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplies, MAX_REPLY_BYTES, type FtpReply } from '../../src/ftp/reply.js';
import { FtpBadReplyError } from '../../src/ftp/errors.js';

interface Fixture {
  name: string;
  buffer: string;
  expected: FtpReply[];
}

const fixtures: Fixture[] = [
  {
    name: 'single line',
    buffer: '220 (vsFTPd 3.0.3)\r\n',
    expected: [{ code: 220, lines: ['220 (vsFTPd 3.0.3)'], message: '(vsFTPd 3.0.3)' }],
  },
  {
    name: 'multi-line FEAT',
    buffer: '211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n',
    expected: [
      {
        code: 211,
        lines: ['211-Features:', ' EPRT', ' EPSV', ' MDTM', ' PASV', ' REST STREAM', ' SIZE', ' TVFS', ' UTF8', '211 End'],
        message: 'Features:\n EPRT\n EPSV\n MDTM\n PASV\n REST STREAM\n SIZE\n TVFS\n UTF8\nEnd',
      },
    ],
  },
  {
    name: 'multi-line with code-looking text inside',
    buffer: '214-The following commands are recognized:\r\n 211 x\r\n123-not a code\r\n2145 four digits\r\n214-More\r\n214 Help OK.\r\n',
    expected: [
      {
        code: 214,
        lines: ['214-The following commands are recognized:', ' 211 x', '123-not a code', '2145 four digits', '214-More', '214 Help OK.'],
        message: 'The following commands are recognized:\n 211 x\n123-not a code\n2145 four digits\nMore\nHelp OK.',
      },
    ],
  },
  {
    name: 'glftpd mismatched close',
    buffer: '200-Welcome to glftpd\r\n200- [ user stats ]\r\n230 User logged in.\r\n',
    expected: [
      {
        code: 230,
        lines: ['200-Welcome to glftpd', '200- [ user stats ]', '230 User logged in.'],
        message: 'Welcome to glftpd\n [ user stats ]\nUser logged in.',
      },
    ],
  },
  {
    name: 'several replies in one buffer',
    buffer: '150 Here comes the directory listing.\r\n226 Directory send OK.\r\n230-Hi\r\n230 Login successful.\r\n',
    expected: [
      { code: 150, lines: ['150 Here comes the directory listing.'], message: 'Here comes the directory listing.' },
      { code: 226, lines: ['226 Directory send OK.'], message: 'Directory send OK.' },
      { code: 230, lines: ['230-Hi', '230 Login successful.'], message: 'Hi\nLogin successful.' },
    ],
  },
  {
    // pure-ftpd 1.0.50, captured: the first line's text starts with dashes.
    name: 'pure-ftpd greeting',
    buffer:
      '220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 2 of 50 allowed.\r\n' +
      '220-Local time is now 05:38. Server port: 2123.\r\n220 You will be disconnected after 15 minutes of inactivity.\r\n' +
      '331 User ftptest OK. Password required\r\n',
    expected: [
      {
        code: 220,
        lines: [
          '220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------',
          '220-You are user number 2 of 50 allowed.',
          '220-Local time is now 05:38. Server port: 2123.',
          '220 You will be disconnected after 15 minutes of inactivity.',
        ],
        message:
          '--------- Welcome to Pure-FTPd [privsep] [TLS] ----------\nYou are user number 2 of 50 allowed.\n' +
          'Local time is now 05:38. Server port: 2123.\nYou will be disconnected after 15 minutes of inactivity.',
      },
      { code: 331, lines: ['331 User ftptest OK. Password required'], message: 'User ftptest OK. Password required' },
    ],
  },
  {
    // pure-ftpd 1.0.50, captured: a multi-line 226 after LIST, first line ends in a space.
    name: 'pure-ftpd 150 then multi-line 226',
    buffer: '150 Accepted data connection\r\n226-Options: -l \r\n226 1 matches total\r\n',
    expected: [
      { code: 150, lines: ['150 Accepted data connection'], message: 'Accepted data connection' },
      { code: 226, lines: ['226-Options: -l ', '226 1 matches total'], message: 'Options: -l \n1 matches total' },
    ],
  },
  {
    name: 'bare LF',
    buffer: '331 Please specify the password.\n230-a\n230 b\n',
    expected: [
      { code: 331, lines: ['331 Please specify the password.'], message: 'Please specify the password.' },
      { code: 230, lines: ['230-a', '230 b'], message: 'a\nb' },
    ],
  },
  {
    name: 'UTF-8 text',
    buffer: '257 "/données/日本語 ñ" is the current directory\r\n',
    expected: [
      {
        code: 257,
        lines: ['257 "/données/日本語 ñ" is the current directory'],
        message: '"/données/日本語 ñ" is the current directory',
      },
    ],
  },
  {
    name: 'empty text',
    buffer: '200\r\n200 \r\n211-\r\n211\r\n',
    expected: [
      { code: 200, lines: ['200'], message: '' },
      { code: 200, lines: ['200 '], message: '' },
      { code: 211, lines: ['211-', '211'], message: '\n' },
    ],
  },
];

/** Feed `parts` one after the other the way the control connection does. */
function feed(parts: string[]): { replies: FtpReply[]; rest: string } {
  const replies: FtpReply[] = [];
  let rest = '';
  for (const part of parts) {
    const r = parseReplies(rest + part);
    replies.push(...r.replies);
    rest = r.rest;
  }
  return { replies, rest };
}

for (const f of fixtures) {
  test(`one-shot parse: ${f.name}`, () => {
    const r = parseReplies(f.buffer);
    assert.deepEqual(r.replies, f.expected);
    assert.equal(r.rest, '');
  });

  test(`every split point gives the one-shot result: ${f.name}`, () => {
    for (let i = 0; i <= f.buffer.length; i++) {
      const r = feed([f.buffer.slice(0, i), f.buffer.slice(i)]);
      assert.deepEqual(r.replies, f.expected, `split at ${i}`);
      assert.equal(r.rest, '', `split at ${i}`);
    }
  });
}

test('three-way splits give the one-shot result', () => {
  for (const f of [fixtures[1], fixtures[3], fixtures[4]]) {
    const b = f.buffer;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i; j <= b.length; j++) {
        const r = feed([b.slice(0, i), b.slice(i, j), b.slice(j)]);
        assert.deepEqual(r.replies, f.expected, `${f.name}: split at ${i}/${j}`);
        assert.equal(r.rest, '');
      }
    }
  }
});

test('all fixtures concatenated parse at every split point', () => {
  const all = fixtures.map((f) => f.buffer).join('');
  const expected = fixtures.flatMap((f) => f.expected);
  assert.deepEqual(parseReplies(all).replies, expected);
  for (let i = 0; i <= all.length; i++) {
    assert.deepEqual(feed([all.slice(0, i), all.slice(i)]).replies, expected, `split at ${i}`);
  }
});

test('a line without its LF is never complete', () => {
  assert.deepEqual(parseReplies('226 Transfer complete'), { replies: [], rest: '226 Transfer complete' });
  assert.deepEqual(parseReplies('226 Transfer complete\r'), { replies: [], rest: '226 Transfer complete\r' });
  assert.deepEqual(parseReplies('22'), { replies: [], rest: '22' });
});

test('an unfinished group comes back whole in rest', () => {
  const r = parseReplies('150 ok\r\n211-Features:\r\n SIZE\r\n211 En');
  assert.deepEqual(r.replies, [{ code: 150, lines: ['150 ok'], message: 'ok' }]);
  assert.equal(r.rest, '211-Features:\r\n SIZE\r\n211 En');
});

test('"NNN" without the final LF does not close a group', () => {
  const r = parseReplies('211-a\r\n211');
  assert.deepEqual(r.replies, []);
  assert.equal(r.rest, '211-a\r\n211');
});

test('blank lines between replies are skipped', () => {
  const r = parseReplies('\r\n220 hi\r\n\r\n');
  assert.deepEqual(r.replies, [{ code: 220, lines: ['220 hi'], message: 'hi' }]);
  assert.equal(r.rest, '');
});

test('blank lines inside a group are text', () => {
  const r = parseReplies('220-a\r\n\r\n220 b\r\n');
  assert.deepEqual(r.replies, [{ code: 220, lines: ['220-a', '', '220 b'], message: 'a\n\nb' }]);
});

test('garbage outside a group throws FtpBadReplyError', () => {
  for (const bad of ['hello\r\n', 'SSH-2.0-OpenSSH_9.6\r\n', '22 short\r\n', '220x\r\n', ' 220 leading space\r\n', '2200 four\r\n']) {
    assert.throws(() => parseReplies(bad), (e: unknown) => e instanceof FtpBadReplyError && e.code === 'EBADREPLY', bad);
  }
  // Garbage after a good reply still throws: the connection is out of sync.
  assert.throws(() => parseReplies('220 ok\r\n<html>\r\n'), FtpBadReplyError);
});

test('garbage without a LF yet waits (it might still be nothing)', () => {
  assert.deepEqual(parseReplies('<html'), { replies: [], rest: '<html' });
});

test('cap: an endless line throws', () => {
  const big = '220 ' + 'x'.repeat(MAX_REPLY_BYTES);
  assert.throws(() => parseReplies(big), FtpBadReplyError);
  assert.throws(() => parseReplies('x'.repeat(200), 100), FtpBadReplyError);
});

test('cap: an endless group throws, whether finished or not', () => {
  const lines = Array.from({ length: 50 }, (_, i) => ` line ${i}\r\n`).join('');
  const open = '211-Features:\r\n' + lines;
  assert.throws(() => parseReplies(open, 200), FtpBadReplyError);
  assert.throws(() => parseReplies(open + '211 End\r\n', 200), FtpBadReplyError);
  // The same group fits under the default cap.
  assert.equal(parseReplies(open + '211 End\r\n').replies[0].lines.length, 52);
});

test('cap: counts UTF-8 bytes, not characters', () => {
  const line = '257 ' + 'é'.repeat(60) + '\r\n'; // 66 chars, 126 bytes
  assert.throws(() => parseReplies(line, 100), FtpBadReplyError);
  assert.equal(parseReplies(line, 200).replies.length, 1);
});

test('cap: a reply exactly at the limit is accepted', () => {
  const line = '200 ' + 'a'.repeat(94) + '\r\n'; // 100 bytes
  assert.equal(parseReplies(line, 100).replies[0].code, 200);
  assert.throws(() => parseReplies('200 ' + 'a'.repeat(95) + '\r\n', 100), FtpBadReplyError);
});

test('a reply code outside 100-599 is a broken connection, in a single line, a group opening or a group closing', () => {
  for (const bad of ['000 hello\r\n', '999 hello\r\n', '099 x\r\n', '600 x\r\n', '999-opening\r\n', '220-ok\r\n999 closing\r\n']) {
    assert.throws(() => parseReplies(bad), (e: unknown) => e instanceof FtpBadReplyError && e.code === 'EBADREPLY' && /outside 100-599/.test(e.message), bad);
  }
  // The edges are fine.
  assert.deepEqual(parseReplies('100 a\r\n599 b\r\n').replies.map((r) => r.code), [100, 599]);
});

test('a code line is three ASCII digits, then a space, a hyphen or the end of the line; anything else outside a group is not a reply', () => {
  assert.deepEqual(parseReplies('200\r\n200 a\r\n200-b\r\n200\r\n').replies.map((r) => [r.code, r.message]), [[200, ''], [200, 'a'], [200, 'b\n']]);
  // One CR before the LF is the terminator; a second one is part of the line, after the code: not " ", "-" or the end.
  for (const bad of ['200\r\r\n', '200\tx\r\n', '200_x\r\n', '2a0 x\r\n', '\u0662\u0660\u0660 arabic-indic digits\r\n', '\uff12\uff10\uff10 fullwidth\r\n', '20\r\n']) {
    assert.throws(() => parseReplies(bad), (e: unknown) => e instanceof FtpBadReplyError && /not an FTP reply/.test(e.message), JSON.stringify(bad));
  }
  // Inside a group the same rule closes it; other lines are text.
  const g = parseReplies('211-x\r\n211\tno\r\n 211 no\r\n2110 no\r\n211-no\r\n211\r\n').replies;
  assert.deepEqual(g.map((r) => [r.code, r.lines.length]), [[211, 6]]);
  // LF alone ends a line too.
  assert.deepEqual(parseReplies('230 ok\n').replies[0].lines, ['230 ok']);
});
