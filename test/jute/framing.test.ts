import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameTooLargeError } from '../../src/jute/framing.js';
import { Prng } from '../../src/lib/prng.js';

function frame(payload: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(payload.length);
  return Buffer.concat([len, payload]);
}

test('frames come out whole and in order however the stream is cut', () => {
  const prng = new Prng(7);
  const payloads = [0, 1, 3, 4, 5, 100, 70_000, 2, 300_000, 0, 9].map((n, i) => Buffer.alloc(n, i + 1));
  const stream = Buffer.concat(payloads.map(frame));
  for (let round = 0; round < 50; round++) {
    const decoder = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      // Tiny cuts (inside a length prefix) as well as large ones.
      const size = round % 2 === 0 ? 1 + prng.int(7) : 1 + prng.int(100_000);
      out.push(...decoder.push(stream.subarray(at, Math.min(stream.length, at + size))));
      at += size;
    }
    assert.equal(out.length, payloads.length);
    out.forEach((p, i) => assert.ok(p.equals(payloads[i]!), `frame ${i} in round ${round}`));
    assert.equal(decoder.bufferedBytes(), 0);
  }
});

test('a frame held across chunks keeps its bytes even if the caller reuses a chunk', () => {
  const decoder = new FrameDecoder(1 << 20);
  const whole = frame(Buffer.from('hello world'));
  const first = Buffer.from(whole.subarray(0, 6));
  assert.deepEqual(decoder.push(first), []);
  first.fill(0);
  assert.equal(decoder.bufferedBytes(), 6);
  assert.equal(decoder.peek()!.length, 6);
  const [got] = decoder.push(whole.subarray(6));
  assert.equal(got!.toString(), 'hello world');
});

test('an oversized or negative length is refused as soon as its prefix is complete', () => {
  const big = new FrameDecoder(1000);
  assert.deepEqual(big.push(Buffer.from([0, 0])), []);
  assert.throws(() => big.push(Buffer.from([0x10, 0])), FrameTooLargeError);
  const negative = new FrameDecoder(1000);
  assert.throws(() => negative.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), FrameTooLargeError);
});
