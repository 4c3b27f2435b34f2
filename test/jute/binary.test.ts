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
