import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha1 } from '../../src/lib/sha1.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('SHA-1 known vectors (FIPS 180 examples)', () => {
  assert.equal(hex(sha1(Buffer.from(''))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(hex(sha1(Buffer.from('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(
    hex(sha1(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
  );
  assert.equal(hex(sha1(Buffer.alloc(1_000_000, 'a'))), '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
});

test('SHA-1 agrees with node:crypto at every length around block boundaries', () => {
  for (let n = 0; n < 200; n++) {
    const input = Buffer.alloc(n, n & 0xff);
    assert.equal(hex(sha1(input)), createHash('sha1').update(input).digest('hex'), `length ${n}`);
  }
});
