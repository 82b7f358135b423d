import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findNetrc, parseNetrc } from '../../src/ftp/netrc.js';
import { CredentialError } from '../../src/ftp/errors.js';

/** The entries without their positions (tested on their own below). */
function values(text: string): object[] {
  return parseNetrc(text).map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at')));
}

test('parseNetrc: machines, default, account, quoted tokens, comments', () => {
  const text = `
# comment line
machine ftp.example.com login alice password "s3cret with spaces"
machine ftp.example.com
  login bob
  password b0b
  account acct1
machine other.example.org login carol password "quo\\"ted"
default login anonymous password guest@example.com
`;
  assert.deepEqual(values(text), [
    { machine: 'ftp.example.com', login: 'alice', password: 's3cret with spaces' },
    { machine: 'ftp.example.com', login: 'bob', password: 'b0b', account: 'acct1' },
    { machine: 'other.example.org', login: 'carol', password: 'quo"ted' },
    { machine: null, login: 'anonymous', password: 'guest@example.com' },
  ]);
});

test('parseNetrc: macdef blocks are skipped up to the blank line', () => {
  const text = [
    'machine a login u1 password p1',
    'macdef init',
    'cd /pub',
    'machine evil login x password y',
    'bin',
    '',
    'machine b login u2 password p2',
    '',
  ].join('\n');
  assert.deepEqual(values(text), [
    { machine: 'a', login: 'u1', password: 'p1' },
    { machine: 'b', login: 'u2', password: 'p2' },
  ]);
  // A macdef running to the end of the file.
  assert.deepEqual(values('machine a login u\nmacdef m\nls\nmachine z login q'), [{ machine: 'a', login: 'u' }]);
  // A whitespace-only line ends the macro too; CRLF files work.
  assert.deepEqual(values('macdef m\r\nls\r\n  \r\nmachine c login w\r\n'), [{ machine: 'c', login: 'w' }]);
});

test('parseNetrc: tolerant of junk', () => {
  assert.deepEqual(values(''), []);
  assert.deepEqual(values('login orphan password x'), []); // before any machine: ignored
  assert.deepEqual(values('machine'), []); // truncated
  assert.deepEqual(values('machine h login'), [{ machine: 'h' }]);
  assert.deepEqual(values('machine h port 21 login u'), [{ machine: 'h', login: 'u' }]); // unknown keyword "port"; its value too
  // "#" in a value is not a comment.
  assert.deepEqual(values('machine h password #notacomment'), [{ machine: 'h', password: '#notacomment' }]);
});

test('findNetrc', () => {
  const entries = parseNetrc(`
machine ftp.example.com login alice password a
machine FTP.example.com login bob password b
machine nologin.example.com password n
default login anonymous password guest
`);
  assert.equal(findNetrc(entries, 'ftp.example.com')?.password, 'a'); // first match
  assert.equal(findNetrc(entries, 'ftp.example.com', 'bob')?.password, 'b');
  assert.equal(findNetrc(entries, 'Ftp.Example.Com', 'alice')?.password, 'a'); // host names are case-insensitive
  assert.equal(findNetrc(entries, 'nologin.example.com', 'anyone')?.password, 'n');
  assert.equal(findNetrc(entries, 'unknown.example.com')?.login, 'anonymous');
  assert.equal(findNetrc(entries, 'unknown.example.com', 'anonymous')?.password, 'guest');
  // A login mismatch never hands out someone else's password.
  assert.equal(findNetrc(entries, 'ftp.example.com', 'mallory'), undefined);
  assert.equal(findNetrc([{ machine: 'h', login: 'x', password: 'p', at: {} }], 'other'), undefined);
  assert.equal(findNetrc([], 'h'), undefined);
});

test('parseNetrc: each value keeps its line and column (CRLF files too)', () => {
  const [a, b] = parseNetrc('# passwords\r\nmachine a login u1 password p1\r\nmachine b\r\n  login u2\r\n  password "p 2"\r\n  account x\r\n', '/home/u/.netrc');
  assert.deepEqual(a.at, { login: { file: '/home/u/.netrc', line: 2, col: 17 }, password: { file: '/home/u/.netrc', line: 2, col: 29 } });
  assert.deepEqual(b.at, {
    login: { file: '/home/u/.netrc', line: 4, col: 9 },
    password: { file: '/home/u/.netrc', line: 5, col: 12 },
    account: { file: '/home/u/.netrc', line: 6, col: 11 },
  });
  // A quoted value spanning lines: the position is its opening quote, the line count goes on after it.
  const [c, d] = parseNetrc('machine c password "one\ntwo"\nmachine d login w');
  assert.equal(c.password, 'one\ntwo');
  assert.deepEqual(c.at.password, { file: '.netrc', line: 1, col: 20 });
  assert.deepEqual(d.at.login, { file: '.netrc', line: 3, col: 17 });
});

test('parseNetrc: an unclosed quote is an error at the quote, and the message holds nothing of the file', () => {
  const text = 'machine a login u password "unterminated\nmachine b login v password Other-Secret-1\n';
  assert.throws(
    () => parseNetrc(text, '/root/.netrc'),
    (err: unknown) => {
      assert.ok(err instanceof CredentialError);
      assert.equal(err.code, 'ECREDENTIALS');
      assert.equal(err.message, '/root/.netrc:1:28: unterminated quoted token (a quote is never closed; nothing after it is read)');
      assert.deepEqual(err.at, { file: '/root/.netrc', line: 1, col: 28 });
      assert.ok(!err.message.includes('unterminated\n') && !err.message.includes('Other-Secret-1'));
      return true;
    },
  );
});
