import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absolutePath, loginDirectory, parseFtpUrl, redactUrls } from '../../src/ftp/url.js';
import { FtpProtocolError, FtpUrlError } from '../../src/ftp/errors.js';

test('parseFtpUrl: schemes, default ports and TLS modes', () => {
  assert.deepEqual(parseFtpUrl('ftp://example.com'), { scheme: 'ftp', tls: 'none', host: 'example.com', port: 21, path: '' });
  assert.deepEqual(parseFtpUrl('ftps://example.com/'), { scheme: 'ftps', tls: 'implicit', host: 'example.com', port: 990, path: '' });
  assert.deepEqual(parseFtpUrl('ftpes://example.com/pub'), {
    scheme: 'ftpes',
    tls: 'explicit',
    host: 'example.com',
    port: 21,
    path: 'pub',
  });
  assert.equal(parseFtpUrl('FTP://Example.com').scheme, 'ftp');
  assert.equal(parseFtpUrl('FtPeS://h').tls, 'explicit');
});

test('parseFtpUrl: user, password, port, path', () => {
  assert.deepEqual(parseFtpUrl('ftp://alice:s3cret@ftp.example.com:2121/pub/linux/'), {
    scheme: 'ftp',
    tls: 'none',
    host: 'ftp.example.com',
    port: 2121,
    user: 'alice',
    password: 's3cret',
    path: 'pub/linux/',
  });
  const noPass = parseFtpUrl('ftp://anonymous@h/');
  assert.equal(noPass.user, 'anonymous');
  assert.equal('password' in noPass, false);
  const emptyPass = parseFtpUrl('ftp://bob:@h/');
  assert.equal(emptyPass.user, 'bob');
  assert.equal(emptyPass.password, '');
  assert.equal(parseFtpUrl('ftp://h:/x').port, 21); // empty port: default
  assert.equal(parseFtpUrl('ftp://h:65535').port, 65535);
});

test('parseFtpUrl: percent-decoding', () => {
  const u = parseFtpUrl('ftp://me%40example.com:p%3Ass%2Fw%40rd@h/dir%20with%20spaces/a%2Fb/%C3%BCber%E6%97%A5');
  assert.equal(u.user, 'me@example.com');
  assert.equal(u.password, 'p:ss/w@rd');
  assert.equal(u.path, 'dir with spaces/a/b/über日');
  // "+" is not a space in URLs paths.
  assert.equal(parseFtpUrl('ftp://h/a+b').path, 'a+b');
  // "?" and "#" are path characters for FTP.
  assert.equal(parseFtpUrl('ftp://h/what?.txt#1').path, 'what?.txt#1');
  // Unencoded UTF-8 passes through.
  assert.equal(parseFtpUrl('ftp://h/données').path, 'données');
});

test('parseFtpUrl: paths follow RFC 1738 §3.2.2: relative to the login directory, %2F makes them absolute', () => {
  assert.equal(parseFtpUrl('ftp://h/pub').path, 'pub');
  assert.equal(parseFtpUrl('ftp://h/pub/debian/').path, 'pub/debian/');
  assert.equal(parseFtpUrl('ftp://h/').path, '');
  assert.equal(parseFtpUrl('ftp://h').path, '');
  assert.equal(parseFtpUrl('ftp://h/%2Fpub').path, '/pub');
  assert.equal(parseFtpUrl('ftp://h/%2fpub/x').path, '/pub/x');
  assert.equal(parseFtpUrl('ftp://h/%2F').path, '/');
  // An empty first segment is the same "/" (curl and lftp read it so too).
  assert.equal(parseFtpUrl('ftp://h//pub').path, '/pub');
  // %2F later in the path is just a "/" inside it.
  assert.equal(parseFtpUrl('ftp://h/a%2Fb').path, 'a/b');
});

test('absolutePath: relative paths join the login directory; absolute ones stay', () => {
  assert.equal(absolutePath('pub', '/home/ftptest'), '/home/ftptest/pub');
  assert.equal(absolutePath('pub/debian/', '/home/ftptest'), '/home/ftptest/pub/debian/');
  assert.equal(absolutePath('', '/home/ftptest'), '/home/ftptest');
  assert.equal(absolutePath('pub', '/'), '/pub');
  assert.equal(absolutePath('../other', '/home/ftptest'), '/home/other');
  assert.equal(absolutePath('/srv/pub', '/home/ftptest'), '/srv/pub');
});

test('loginDirectory: what PWD names must be absolute and clean', () => {
  assert.equal(loginDirectory('/home/ftptest', 'h:21'), '/home/ftptest');
  assert.equal(loginDirectory('/home//ftptest/', 'h:21'), '/home/ftptest/');
  assert.equal(loginDirectory('/', 'h:21'), '/');
  for (const bad of ['', 'C:\\Users\\ftp', 'DISK$USER:[FTP]', 'home/ftptest', '/a\0b']) {
    assert.throws(() => loginDirectory(bad, 'h:21'), (e: unknown) => e instanceof FtpProtocolError && e.code === 'EPROTOCOL' && /^h:21: PWD named .* not an absolute path/.test(e.message), JSON.stringify(bad));
  }
});

test('parseFtpUrl: an unencoded "@" in the password', () => {
  const u = parseFtpUrl('ftp://user:p@ss@h/x@y');
  assert.equal(u.user, 'user');
  assert.equal(u.password, 'p@ss');
  assert.equal(u.host, 'h');
  assert.equal(u.path, 'x@y');
});

test('parseFtpUrl: IPv6 literals', () => {
  assert.deepEqual(parseFtpUrl('ftp://[::1]:2121/x'), { scheme: 'ftp', tls: 'none', host: '::1', port: 2121, path: 'x' });
  assert.equal(parseFtpUrl('ftps://u:p@[2001:db8::10]/').host, '2001:db8::10');
  assert.equal(parseFtpUrl('ftps://[2001:db8::10]').port, 990);
  assert.throws(() => parseFtpUrl('ftp://[::1/x'), FtpUrlError);
  assert.throws(() => parseFtpUrl('ftp://[not:an:address]/'), FtpUrlError);
  assert.throws(() => parseFtpUrl('ftp://[::1]x/'), FtpUrlError);
  assert.throws(() => parseFtpUrl('ftp://2001:db8::10/'), FtpUrlError);
});

test('parseFtpUrl: errors are FtpUrlError with code EURL', () => {
  for (const bad of [
    'http://example.com/',
    'sftp://example.com/',
    'example.com/pub',
    'ftp:/example.com',
    'ftp://',
    'ftp:///path',
    'ftp://user:pw@/path',
    'ftp://h:0/',
    'ftp://h:65536/',
    'ftp://h:21x/',
    'ftp://h:-1/',
    'ftp://h/%ZZ',
    'ftp://h/%C3', // truncated UTF-8
    'ftp://h/a%0D%0ADELE%20x',
    'ftp://h/a%00b',
    'ftp://h/a\r\nb',
    'ftp://u%0A:p@h/',
    'ftp://h o st/',
  ]) {
    assert.throws(
      () => parseFtpUrl(bad),
      (e: unknown) => e instanceof FtpUrlError && e.code === 'EURL' && !e.message.includes('\n'),
      bad,
    );
  }
});

test('parseFtpUrl: error messages never contain the password', () => {
  const password = 'Hunter2-Sekr1t';
  for (const bad of [
    `ftp://user:${password}@h:99999/`,
    `http://user:${password}@h/`,
    `ftp://user:${password}@/x`,
    `ftp://user:${password}@h/%ZZ`,
    `ftp://user:${password}%0A@h/`,
    `ftp://user:${password}/x@h/`, // unencoded "/" in the password: host and port come out wrong
    `ftp://user:${password}@[::1/`,
    `ftp://user:${password}@h/\n`,
    `ftpx://user:${password}@h/`,
  ]) {
    assert.throws(
      () => parseFtpUrl(bad),
      (e: unknown) => e instanceof FtpUrlError && !e.message.includes(password) && !e.message.includes('Sekr1t'),
      bad,
    );
  }
});

test('redactUrls', () => {
  assert.equal(redactUrls('connecting to ftp://alice:s3cret@h:21/pub'), 'connecting to ftp://alice:***@h:21/pub');
  assert.equal(redactUrls('ftps://a:b@h ftpes://c:d@k/x'), 'ftps://a:***@h ftpes://c:***@k/x');
  assert.equal(redactUrls('"ftp://u:p@ss@host/dir"'), '"ftp://u:***@host/dir"');
  assert.equal(redactUrls('ftp://u:pa/ss@host/dir'), 'ftp://u:***@host/dir'); // unencoded "/" in the password
  assert.equal(redactUrls('ftp://u%40x:p%2Fq@host'), 'ftp://u%40x:***@host');
  assert.equal(redactUrls('FTP://u:p@h'), 'FTP://u:***@h');
  assert.equal(redactUrls('http://proxy:pw@10.0.0.1:3128'), 'http://proxy:***@10.0.0.1:3128');
  // Nothing to hide.
  for (const clean of [
    'ftp://anonymous@h/pub',
    'ftp://h:2121/pub/a@b',
    'ftp://h/dir:x@y',
    'no urls here: user:pass@host',
    'ftp://h',
    '',
  ]) {
    assert.equal(redactUrls(clean), clean);
  }
  // Every URL parseFtpUrl accepts comes out without its password.
  const url = 'ftp://me%40x:top%2Fsecret@h:2121/a b';
  assert.ok(!redactUrls(`error for ${url}: refused`).includes('top%2Fsecret'));
});

test('an unencoded "/" in the password: the port error says to percent-encode it, and quotes nothing', () => {
  assert.throws(
    () => parseFtpUrl('ftp://user:pa/Url-Secret-1@host.example/dir'),
    (e: unknown) =>
      e instanceof FtpUrlError &&
      e.message === 'FTP URL has an invalid port (must be 1-65535) (if the password contains "/", write it percent-encoded as %2F)',
  );
  // Encoded, it works; a plain bad port gets no such hint.
  assert.equal(parseFtpUrl('ftp://user:pa%2FUrl-Secret-1@host.example/dir').password, 'pa/Url-Secret-1');
  assert.throws(() => parseFtpUrl('ftp://host.example:99999/'), (e: Error) => e.message === 'FTP URL has an invalid port (must be 1-65535)');
});

test('CR, LF or NUL in a URL (a secrets file with CRLF endings): refused with the reason, not the value', () => {
  assert.throws(() => parseFtpUrl('ftp://u:Url-Secret-2@h/\r'), (e: Error) => e.message === 'FTP URL contains CR, LF or NUL (the value ends with a carriage return (CR); was the file saved with CRLF line endings?)');
  assert.throws(() => parseFtpUrl('ftp://u:Url-Secret-2%0d@h/'), (e: Error) => e.message === 'FTP URL has CR, LF or NUL in the password (the value ends with a carriage return (CR); was the file saved with CRLF line endings?)');
});
