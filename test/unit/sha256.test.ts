import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lockFileName } from '../../src/job/lock.js';
import { sha256Hex } from '../../src/job/sha256.js';

const nodeSha256 = (s: string) => createHash('sha256').update(s).digest('hex');

test('sha256Hex: the FIPS 180-4 examples', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('sha256Hex: the digest of node:crypto at every length around the block and padding edges, and for UTF-8', () => {
  for (let n = 0; n <= 200; n++) {
    const s = 'x'.repeat(n);
    assert.equal(sha256Hex(s), nodeSha256(s), `length ${n}`);
  }
  for (const s of ['127.0.0.1:21/pub', '[::1]:2121/pub/debian', 'host:21/Ünïcödé/文件/😀', 'a\u0000b', 'z'.repeat(10_000)]) {
    assert.equal(sha256Hex(s), nodeSha256(s), s.slice(0, 40));
  }
});

test('lockFileName: the same names as with node:crypto (runs of earlier versions still exclude each other)', () => {
  for (const key of ['mirror.example.org:21/pub/debian', '[2001:db8::1]:2121/', 'a/b', '..', '']) {
    const safe = key.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100);
    const hash = nodeSha256(key).slice(0, 8);
    assert.equal(lockFileName(key), `${safe ? `${safe}-${hash}` : hash}.lock`, key);
  }
});
