import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import { Prng } from '../../src/lib/prng.js';
import { DiskFullError } from '../../src/persistence/errors.js';
import {
  listSnapshots,
  loadNewestValidSnapshot,
  removeSnapshotTemps,
  SnapshotPolicy,
  verifySnapshot,
  writeSnapshot,
} from '../../src/persistence/snapshots.js';
import { tempDir } from './helpers.js';

const DIR = '/data/version-2';

function body(zxid: number, bytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let off = 0; off < bytes; off += 1000) {
    const c = Buffer.alloc(Math.min(1000, bytes - off));
    for (let i = 0; i < c.length; i++) c[i] = (zxid + off + i) & 0xff;
    chunks.push(c);
  }
  return chunks;
}

test('snapshots round-trip on the real disk, newest first, with lazy async chunks', async (t) => {
  const dir = join(tempDir(t), 'version-2');
  const disk = new NodeDisk();
  await writeSnapshot(disk, dir, 0, []);
  await writeSnapshot(disk, dir, 0x10, body(0x10, 5000));
  async function* gen(): AsyncGenerator<Buffer> {
    yield* body(0x20, 3_000_000);
  }
  const w = await writeSnapshot(disk, dir, 0x20, gen());
  assert.equal(w.path, join(dir, 'snapshot.20'));
  assert.deepEqual((await listSnapshots(disk, dir)).map((s) => s.name), ['snapshot.0', 'snapshot.10', 'snapshot.20']);
  const { snapshot, warnings } = await loadNewestValidSnapshot(disk, dir);
  assert.deepEqual(warnings, []);
  assert.equal(snapshot?.zxid, 0x20);
  assert.deepEqual(snapshot?.data, Buffer.concat(body(0x20, 3_000_000)));
});

test('a truncated newest snapshot falls back to the previous one, at every cut', async () => {
  const base = new MemoryDisk();
  await writeSnapshot(base, DIR, 5, body(5, 300));
  await writeSnapshot(base, DIR, 9, body(9, 300));
  const full = await base.readFile(join(DIR, 'snapshot.9'));
  for (let cut = 0; cut < full.length; cut++) {
    const disk = new MemoryDisk();
    await disk.mkdirp(DIR);
    disk.setFile(join(DIR, 'snapshot.5'), await base.readFile(join(DIR, 'snapshot.5')));
    disk.setFile(join(DIR, 'snapshot.9'), full.subarray(0, cut));
    const { snapshot, warnings } = await loadNewestValidSnapshot(disk, DIR);
    assert.equal(snapshot?.zxid, 5, `cut ${cut}`);
    assert.deepEqual(snapshot?.data, Buffer.concat(body(5, 300)));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /skipped invalid snapshot \/data\/version-2\/snapshot\.9/);
  }
});

test('any flipped bit makes a snapshot invalid', async () => {
  const disk = new MemoryDisk();
  await writeSnapshot(disk, DIR, 7, body(7, 64));
  const full = await disk.readFile(join(DIR, 'snapshot.7'));
  for (let byte = 0; byte < full.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = Buffer.from(full);
      b[byte]! ^= 1 << bit;
      assert.ok('error' in verifySnapshot(b), `byte ${byte} bit ${bit}`);
    }
  }
  assert.ok(!('error' in verifySnapshot(full)));
});

test('no valid snapshot at all gives null with a warning per bad file', async () => {
  const disk = new MemoryDisk();
  await disk.mkdirp(DIR);
  disk.setFile(join(DIR, 'snapshot.3'), Buffer.from('not a snapshot'));
  const { snapshot, warnings } = await loadNewestValidSnapshot(disk, DIR);
  assert.equal(snapshot, null);
  assert.equal(warnings.length, 1);
});

test('a crash while writing a snapshot leaves only the previous one; the temp file is cleaned up', async () => {
  const disk = new MemoryDisk();
  await writeSnapshot(disk, DIR, 1, body(1, 100));
  const session = disk.session();
  // Crash after the body is written but before the rename: stop the generator midway.
  const gen = (function* () {
    yield Buffer.alloc(2_000_000, 1); // more than one write chunk: reaches the disk
    disk.crash((_p, n) => n); // unsynced bytes even survive: still not a valid snapshot
    yield Buffer.alloc(10, 2);
  })();
  await assert.rejects(writeSnapshot(session, DIR, 2, gen));
  const names = await disk.list(DIR);
  assert.ok(!names.includes('snapshot.2'));
  assert.deepEqual(await removeSnapshotTemps(disk, DIR), names.includes('snapshot.2.tmp') ? [join(DIR, 'snapshot.2.tmp')] : []);
  assert.equal((await loadNewestValidSnapshot(disk, DIR)).snapshot?.zxid, 1);
});

test('a snapshot is durable once written: a crash right after keeps it', async () => {
  const disk = new MemoryDisk();
  await writeSnapshot(disk, DIR, 3, body(3, 100));
  disk.crash();
  assert.equal((await loadNewestValidSnapshot(disk, DIR)).snapshot?.zxid, 3);
});

test('a full disk fails the snapshot with DiskFullError and leaves no file', async () => {
  const disk = new MemoryDisk();
  await disk.mkdirp(DIR);
  disk.capacityBytes = 1000;
  await assert.rejects(writeSnapshot(disk, DIR, 4, body(4, 5000)), DiskFullError);
  assert.deepEqual(await disk.list(DIR), []);
});

test('snapshot policy: due after a random count in [snapCount/2+1, snapCount], re-drawn each time', () => {
  const rng = new Prng(42);
  const policy = new SnapshotPolicy({ snapCount: 10, random: () => rng.next(), snapSizeLimitBytes: 0 });
  const seen = new Set<number>();
  for (let s = 0; s < 200; s++) {
    let n = 0;
    while (!policy.onTxnLogged(100)) n++;
    const count = n + 1;
    assert.ok(count >= 6 && count <= 10, `count ${count}`);
    seen.add(count);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [6, 7, 8, 9, 10]);
  // Extremes of the random source map to the ends of the range.
  assert.equal(new SnapshotPolicy({ snapCount: 100000, random: () => 0 }).nextTxnTarget, 50001);
  assert.equal(new SnapshotPolicy({ snapCount: 100000, random: () => 0.9999999 }).nextTxnTarget, 100000);
  // Minimum snapCount is 2.
  assert.equal(new SnapshotPolicy({ snapCount: 1, random: () => 0 }).nextTxnTarget, 2);
});

test('snapshot policy: the size limit triggers too', () => {
  const policy = new SnapshotPolicy({ snapCount: 1_000_000, snapSizeLimitBytes: 1000, random: () => 0 });
  let n = 0;
  while (!policy.onTxnLogged(100)) n++;
  assert.equal(n + 1, 5); // 500 bytes = limit/2 with random 0
});
