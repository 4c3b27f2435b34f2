import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { encodeLogHeader, encodeRecord, nonZeroEnd, scanSegment } from '../../src/persistence/logformat.js';
import { Prng } from '../../src/lib/prng.js';

function naiveNonZeroEnd(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

test('nonZeroEnd finds the last non-zero byte across whole zero blocks and their edges', () => {
  const rnd = new Prng(5);
  const block = 64 * 1024;
  for (const size of [0, 1, 100, block - 1, block, block + 1, 3 * block + 17, 5 * block]) {
    for (let trial = 0; trial < 20; trial++) {
      const buf = Buffer.alloc(size);
      // A few non-zero bytes, often right at block edges.
      for (let k = rnd.int(3); k > 0 && size > 0; k--) {
        const at = rnd.bool() ? Math.min(size - 1, rnd.int(Math.ceil(size / block) + 1) * block - rnd.int(2)) : rnd.int(size);
        if (at >= 0) buf[at] = 1 + rnd.int(255);
      }
      const from = size === 0 ? 0 : rnd.int(size + 1);
      assert.equal(nonZeroEnd(buf, from), naiveNonZeroEnd(buf, from), `size ${size} from ${from}`);
    }
  }
});

test('scanSegment checksums header and payload of each record as one CRC-32', () => {
  const payload = Buffer.from('some txn bytes');
  const record = encodeRecord(7, payload);
  // The stored CRC is zlib's over the 12 header bytes then the payload.
  assert.equal(record.readUInt32BE(12), crc32(Buffer.concat([record.subarray(0, 12), payload])));
  const segment = Buffer.concat([encodeLogHeader(7), record, encodeRecord(8, Buffer.from('next')), Buffer.alloc(200_000)]);
  const scan = scanSegment(segment, 6);
  assert.deepEqual(scan.records.map((r) => [r.zxid, r.bytes.toString()]), [[7, 'some txn bytes'], [8, 'next']]);
  assert.equal(scan.damage, null);
  for (const at of [20, 24, 31, 36, 20 + record.length - 1]) {
    const damaged = Buffer.from(segment);
    damaged[at]! ^= 0x10;
    assert.notEqual(scanSegment(damaged, 6).damage, null, `flip at ${at}`);
  }
});
