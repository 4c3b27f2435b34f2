/**
 * MemoryDisk's fsync copies in the writes made since the last one rather than the whole file:
 * random writes, truncates, syncs, bit flips and crashes (with torn tails) must leave the same
 * bytes as a plain model that copies the whole file at every sync.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDisk } from '../../src/io/disk.js';
import { Prng } from '../../src/lib/prng.js';

/** The straightforward model: the durable content is a copy taken at each sync. */
class CopyModel {
  data: Buffer = Buffer.alloc(0);
  durable: Buffer = Buffer.alloc(0);
  unsynced: { position: number; bytes: Buffer }[] = [];
  dirty = false;

  write(bytes: Buffer, position: number): void {
    this.data = put(this.data, bytes, position);
    this.unsynced.push({ position, bytes: Buffer.from(bytes) });
  }

  truncate(length: number): void {
    this.data = length <= this.data.length ? Buffer.from(this.data.subarray(0, length)) : Buffer.concat([this.data, Buffer.alloc(length - this.data.length)]);
    this.dirty = true;
  }

  sync(): void {
    this.durable = Buffer.from(this.data);
    this.unsynced = [];
    this.dirty = false;
  }

  flipBit(offset: number): void {
    this.data[offset]! ^= 1;
    if (offset < this.durable.length) this.durable[offset]! ^= 1;
  }

  crash(keep: number): void {
    let data: Buffer = Buffer.from(this.durable);
    let left = this.dirty ? 0 : keep;
    for (const w of this.unsynced) {
      if (left <= 0) break;
      const part = w.bytes.subarray(0, Math.min(left, w.bytes.length));
      left -= part.length;
      data = put(data, part, w.position);
    }
    this.data = data;
    this.durable = Buffer.from(data);
    this.unsynced = [];
    this.dirty = false;
  }
}

function put(data: Buffer, bytes: Buffer, position: number): Buffer {
  const out = position + bytes.length > data.length ? Buffer.concat([data, Buffer.alloc(position + bytes.length - data.length)]) : Buffer.from(data);
  bytes.copy(out, position);
  return out;
}

describe('MemoryDisk', () => {
  it('restores on a crash what a copy at each sync would (random operations, torn tails)', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new Prng(seed);
      const disk = new MemoryDisk();
      await disk.mkdirp('/d');
      const path = '/d/f';
      let file = await disk.open(path, 'create');
      await disk.syncDir('/d');
      const model = new CopyModel();
      for (let step = 0; step < 60; step++) {
        const roll = rng.next();
        const size = model.data.length;
        if (roll < 0.45) {
          const bytes = Buffer.from(Array.from({ length: 1 + rng.int(40) }, () => rng.int(256)));
          const position = rng.int(size + 20);
          await file.write(bytes, position);
          model.write(bytes, position);
        } else if (roll < 0.55) {
          const length = rng.int(size + 30);
          await file.truncate(length);
          model.truncate(length);
        } else if (roll < 0.75) {
          await file.sync();
          model.sync();
        } else if (roll < 0.82 && size > 0) {
          const offset = rng.int(size);
          disk.flipBit(path, offset);
          model.flipBit(offset);
        } else if (roll >= 0.82) {
          const keep = rng.int(100);
          disk.crash((_p, unsynced) => Math.min(keep, unsynced));
          model.crash(keep);
          file = await disk.open(path, 'readWrite');
        }
        assert.deepEqual(await disk.readFile(path), model.data, `seed ${seed} step ${step}: current content`);
      }
    }
  });
});
