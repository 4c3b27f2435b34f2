import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteError, JuteReader, JuteWriter } from '../../src/jute/binary.js';

test('strings round-trip in UTF-8 with their byte length first, including non-BMP text', () => {
  for (const s of ['', 'ascii', 'é', '日本語', '😀 mixed ✓', 'x'.repeat(10_000)]) {
    const w = new JuteWriter(8);
    w.string(s);
    const bytes = w.bytes();
    assert.equal(bytes.readInt32BE(0), Buffer.byteLength(s));
    assert.equal(new JuteReader(bytes, 0, bytes.length, 1 << 20).string(), s);
  }
});

test('a buffer may be given as a latin1 string (how the tree stores data)', () => {
  const data = Buffer.from([0, 1, 127, 128, 200, 255]);
  const a = new JuteWriter().buffer(data).bytes();
  const b = new JuteWriter().buffer(data.toString('latin1')).bytes();
  assert.deepEqual(b, a);
  assert.deepEqual(new JuteWriter().buffer(null).bytes(), Buffer.from([0xff, 0xff, 0xff, 0xff]));
});

test('longs held as numbers cover negative values and 53 bits', () => {
  for (const v of [0, -1, 1, 2 ** 32, -(2 ** 32) - 5, 2 ** 53 - 1, 0x1_0000_0001]) {
    const bytes = new JuteWriter().longNumber(v).bytes();
    assert.equal(bytes.readBigInt64BE(0), BigInt(v));
    assert.equal(new JuteReader(bytes).longNumber(), v);
  }
});

test('bigint longs are written as Buffer writes them, wrapped to 64 bits, at any offset', () => {
  const max = (1n << 63n) - 1n;
  const values = [0n, -1n, 1n, max, -max - 1n, 0x0123_4567_89ab_cdefn, -0x0123_4567_89ab_cdefn, -(1n << 56n), 1n << 32n];
  for (const v of values) {
    const w = new JuteWriter(4).int(7).long(v);
    const bytes = w.bytes();
    const want = Buffer.alloc(8);
    want.writeBigInt64BE(v);
    assert.deepEqual(bytes.subarray(4), want, `long ${v}`);
    assert.equal(new JuteReader(bytes, 4).long(), v);
  }
  // Beyond 64 bits the value wraps, as BigInt.asIntN(64, v) does.
  assert.equal(new JuteReader(new JuteWriter().long((1n << 64n) + 5n).bytes()).long(), 5n);
  assert.equal(new JuteReader(new JuteWriter().long(1n << 63n).bytes()).long(), -max - 1n);
});

test('readers reject truncation, bad lengths and vector counts beyond the bytes', () => {
  assert.throws(() => new JuteReader(Buffer.from([0, 0])).int(), JuteError);
  assert.throws(() => new JuteReader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).bufferOrNull(), JuteError);
  assert.throws(() => new JuteReader(Buffer.from([0x00, 0x10, 0, 0]), 0, 4, 1 << 30).vector((r) => r.int(), 4), JuteError);
  assert.throws(() => new JuteReader(Buffer.from([0x7f, 0xff, 0xff, 0xff]), 0, 4, 1024).bufferOrNull(), /exceeds limit/);
});

test('invalid UTF-8 decodes to U+FFFD as Java does, and a BOM is kept', () => {
  assert.equal(new JuteReader(Buffer.from([0, 0, 0, 2, 0xc3, 0x28])).string(), '\ufffd(');
  assert.equal(new JuteReader(Buffer.from([0, 0, 0, 4, 0x2f, 0x61, 0xff, 0xfe])).string(), '/a\ufffd\ufffd');
  assert.equal(new JuteReader(Buffer.from([0, 0, 0, 4, 0xef, 0xbb, 0xbf, 0x61])).string(), '\ufeffa');
});
