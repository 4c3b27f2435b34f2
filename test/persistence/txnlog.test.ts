import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import { Prng } from '../../src/lib/prng.js';
import { AssertionError } from '../../src/lib/assert.js';
import { CorruptDataError, DiskFullError, DiskIoError } from '../../src/persistence/errors.js';
import { LOG_HEADER_BYTES, RECORD_HEADER_BYTES, scanSegment } from '../../src/persistence/logformat.js';
import { listSegments, TxnLog } from '../../src/persistence/txnlog.js';
import { FailingWriteDisk, payload, ProbeDisk, tempDir } from './helpers.js';

const DIR = '/data/version-2';

async function writeLog(disk: MemoryDisk, zxids: number[], opts = { preAllocSizeKb: 0 }): Promise<void> {
  const { log } = await TxnLog.open(disk, DIR, opts);
  await Promise.all(zxids.map((z) => log.append(z, payload(z))));
  await log.close();
}

async function onlySegment(disk: MemoryDisk): Promise<string> {
  const segs = await listSegments(disk, DIR);
  assert.equal(segs.length, 1);
  return join(DIR, segs[0]!.name);
}

test('records survive a reopen on the real file system, in order', async (t) => {
  const dir = join(tempDir(t), 'version-2');
  const disk = new NodeDisk();
  const { log, records } = await TxnLog.open(disk, dir, { preAllocSizeKb: 16 });
  assert.equal(records.length, 0);
  for (let z = 1; z <= 50; z++) await log.append(z, payload(z, z));
  await log.close();
  const again = await TxnLog.open(disk, dir, { preAllocSizeKb: 16 });
  assert.deepEqual(again.warnings, []);
  assert.deepEqual(again.records.map((r) => r.zxid), Array.from({ length: 50 }, (_, i) => i + 1));
  for (const r of again.records) assert.deepEqual(r.bytes, payload(r.zxid, r.zxid));
  assert.equal(again.log.lastZxid, 50);
  // New appends go to a new segment, named after their first zxid.
  await again.log.append(51, payload(51));
  assert.equal(again.log.currentSegment, 'log.33');
  await again.log.close();
  const third = await TxnLog.open(disk, dir, { replayAfterZxid: 49 });
  assert.deepEqual(third.records.map((r) => r.zxid), [50, 51]);
});

test('group commit: appends arriving during an fsync share the next one', async () => {
  const disk = new ProbeDisk(new MemoryDisk());
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
  disk.gated = true;
  const first = log.append(1, payload(1));
  await disk.syncHeld();
  const rest: Promise<void>[] = [];
  for (let z = 2; z <= 200; z++) rest.push(log.append(z, payload(z)));
  assert.equal(disk.syncs, 1);
  disk.gated = false;
  disk.releaseSyncs();
  await first;
  await Promise.all(rest);
  assert.equal(disk.syncs, 2, 'one fsync for the first record, one for the 199 that queued behind it');
  assert.equal(log.stats.batches, 2);
  assert.equal(log.stats.records, 200);
  await log.close();
});

test('group commit on the real disk: a burst of 500 concurrent appends takes a handful of fsyncs', async (t) => {
  const disk = new ProbeDisk(new NodeDisk());
  const dir = join(tempDir(t), 'version-2');
  const { log } = await TxnLog.open(disk, dir, { preAllocSizeKb: 64 });
  const all: Promise<void>[] = [];
  for (let z = 1; z <= 500; z++) all.push(log.append(z, payload(z)));
  await Promise.all(all);
  assert.ok(disk.syncs <= 2, `${disk.syncs} fsyncs for 500 appends`);
  // An idle log adds no delay: a lone append is written and synced on its own right away.
  await log.append(501, payload(501));
  assert.ok(disk.syncs <= 3);
  await log.close();
});

test('group commit through the sync worker: concurrent appends on NodeDisk share batches', async (t) => {
  const dir = join(tempDir(t), 'version-2');
  const disk = new NodeDisk();
  const { log } = await TxnLog.open(disk, dir, { preAllocSizeKb: 64 });
  // 20 clients, each appending 30 records one after another: appends made while a batch is on
  // the worker ride the next one, so there are about 30 batches, not 600.
  const clients = 20;
  const perClient = 30;
  let next = 0;
  const client = async (): Promise<void> => {
    for (let i = 0; i < perClient; i++) {
      const z = ++next;
      await log.append(z, payload(z));
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const appends = clients * perClient;
  assert.equal(log.stats.records, appends);
  assert.ok(log.stats.batches < appends / 4, `${log.stats.batches} batches for ${appends} appends`);
  await log.close();
  const again = await TxnLog.open(disk, dir);
  assert.deepEqual(again.records.map((r) => r.zxid), Array.from({ length: appends }, (_, i) => i + 1));
  for (const r of again.records) assert.deepEqual(r.bytes, payload(r.zxid));
  await again.log.close();
});

test('an error from the sync worker rejects appends with a coded DiskIoError; the log goes on', async (t) => {
  const dir = join(tempDir(t), 'version-2');
  const disk = new FailingWriteDisk(new NodeDisk());
  const { log } = await TxnLog.open(disk, dir, { preAllocSizeKb: 1 });
  await log.append(1, payload(1));
  disk.failNext = true;
  const failed = [2, 3].map((z) => log.append(z, payload(z)));
  for (const p of failed) {
    await assert.rejects(p, (err: unknown) => err instanceof DiskIoError && err.code === 'EBADF');
  }
  assert.equal(log.lastZxid, 1);
  await log.append(2, payload(2));
  await log.append(3, payload(3));
  await log.close();
  const again = await TxnLog.open(disk, dir);
  assert.deepEqual(again.warnings, []);
  assert.deepEqual(again.records.map((r) => r.zxid), [1, 2, 3]);
  await again.log.close();
});

test('maxBatchBytes bounds a batch', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0, maxBatchBytes: 10 * (RECORD_HEADER_BYTES + 20) });
  await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(i + 1, payload(i + 1))));
  assert.equal(log.stats.batches, 10);
  await log.close();
});

test('zxids must strictly increase', async () => {
  const { log } = await TxnLog.open(new MemoryDisk(), DIR);
  await log.append(5, payload(5));
  assert.throws(() => void log.append(5, payload(5)), AssertionError);
  assert.throws(() => void log.append(4, payload(4)), AssertionError);
  assert.throws(() => void log.append(6, Buffer.alloc(0)), AssertionError);
  await log.close();
});

test('the last record truncated at every byte offset: recovery keeps the others and says what it cut', async () => {
  for (const prealloc of [false, true]) {
    const base = new MemoryDisk();
    await writeLog(base, [1, 2, 3]);
    const path = await onlySegment(base);
    const full = await base.readFile(path);
    const lastStart = LOG_HEADER_BYTES + 2 * (RECORD_HEADER_BYTES + 20);
    assert.equal(full.length, lastStart + RECORD_HEADER_BYTES + 20);
    for (let cut = lastStart; cut < full.length; cut++) {
      const disk = new MemoryDisk();
      await disk.mkdirp(DIR);
      const cutBytes = full.subarray(0, cut);
      disk.setFile(path, prealloc ? Buffer.concat([cutBytes, Buffer.alloc(4096)]) : cutBytes);
      const { log, records, warnings } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 1 });
      assert.deepEqual(records.map((r) => r.zxid), [1, 2], `cut at ${cut}`);
      const nonZero = [...full.subarray(lastStart, cut)].some((b) => b !== 0);
      if (nonZero) {
        assert.equal(warnings.length, 1, `cut at ${cut}`);
        assert.match(warnings[0]!, new RegExp(`${path} at byte offset ${lastStart}:.*\\(\\d+ bytes discarded\\)`));
      } else {
        assert.deepEqual(warnings, [], `cut at ${cut}: only zeros left, that is the end of the log`);
      }
      // The log goes on: the lost zxid can be written again and a second recovery is clean.
      await log.append(3, payload(3));
      await log.close();
      const again = await TxnLog.open(disk, DIR);
      assert.deepEqual(again.records.map((r) => r.zxid), [1, 2, 3]);
      assert.deepEqual(again.warnings, []);
    }
  }
});

test('any bit flipped in the last record: truncated with a warning, earlier records kept', async () => {
  const base = new MemoryDisk();
  await writeLog(base, [1, 2, 3], { preAllocSizeKb: 4 });
  const path = await onlySegment(base);
  const full = await base.readFile(path);
  const lastStart = LOG_HEADER_BYTES + 2 * (RECORD_HEADER_BYTES + 20);
  for (let byte = lastStart; byte < lastStart + RECORD_HEADER_BYTES + 20; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const disk = new MemoryDisk();
      await disk.mkdirp(DIR);
      disk.setFile(path, full);
      disk.flipBit(path, byte, bit);
      const { records, warnings } = await TxnLog.open(disk, DIR);
      assert.deepEqual(records.map((r) => r.zxid), [1, 2], `byte ${byte} bit ${bit}`);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`at byte offset ${lastStart}`));
    }
  }
});

test('a bit flipped in a middle record: refuses to start, naming the file and offset', async () => {
  const base = new MemoryDisk();
  await writeLog(base, [1, 2, 3, 4], { preAllocSizeKb: 4 });
  const path = await onlySegment(base);
  const full = await base.readFile(path);
  const midStart = LOG_HEADER_BYTES + (RECORD_HEADER_BYTES + 20);
  for (let byte = midStart; byte < midStart + RECORD_HEADER_BYTES + 20; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const disk = new MemoryDisk();
      await disk.mkdirp(DIR);
      disk.setFile(path, full);
      disk.flipBit(path, byte, bit);
      await assert.rejects(TxnLog.open(disk, DIR), (err: unknown) => {
        assert.ok(err instanceof CorruptDataError, String(err));
        assert.equal(err.file, path);
        assert.equal(err.offset, midStart);
        assert.match(err.message, new RegExp(`${path} at byte offset ${midStart}`));
        return true;
      });
      // Nothing was changed on disk.
      assert.equal((await disk.readFile(path)).length, full.length);
    }
  }
});

test('a damaged last record in one segment followed by a valid later segment refuses to start', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
  await log.append(1, payload(1));
  await log.append(2, payload(2));
  log.roll();
  await log.append(3, payload(3));
  await log.close();
  const first = join(DIR, 'log.1');
  disk.flipBit(first, LOG_HEADER_BYTES + RECORD_HEADER_BYTES + 20 + 5);
  await assert.rejects(TxnLog.open(disk, DIR), (err: unknown) => {
    assert.ok(err instanceof CorruptDataError);
    assert.equal(err.file, first);
    assert.match(err.message, /log\.3/);
    return true;
  });
});

test('segments roll on request and at the size limit; replay skips what the snapshot holds', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 1, segmentSizeLimitBytes: 200 });
  for (let z = 1; z <= 30; z++) await log.append(z, payload(z));
  log.roll();
  await log.append(31, payload(31));
  await log.close();
  const segs = await listSegments(disk, DIR);
  assert.ok(segs.length >= 5, `${segs.length} segments`);
  assert.equal(segs[segs.length - 1]!.name, 'log.1f');
  const all = await TxnLog.open(disk, DIR);
  assert.deepEqual(all.records.map((r) => r.zxid), Array.from({ length: 31 }, (_, i) => i + 1));
  await all.log.close();
  const tail = await TxnLog.open(disk, DIR, { replayAfterZxid: 17 });
  assert.deepEqual(tail.records.map((r) => r.zxid), Array.from({ length: 14 }, (_, i) => i + 18));
});

test('a full disk rejects appends with DiskFullError, leaves nothing that looks valid, and recovers', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
  for (let z = 1; z <= 5; z++) await log.append(z, payload(z));
  disk.capacityBytes = disk.usedBytes() + 20; // less than one record (36 bytes) fits
  const batch = [6, 7, 8].map((z) => log.append(z, payload(z)));
  for (const p of batch) await assert.rejects(p, DiskFullError);
  assert.equal(log.lastZxid, 5);
  // Still full: the next append fails too (after cutting the half-written batch back).
  await assert.rejects(log.append(6, payload(6)), DiskFullError);
  // What is on disk now is exactly the 5 acknowledged records.
  const scan = scanSegment(await disk.readFile(join(DIR, 'log.1')), -1);
  assert.deepEqual(scan.records.map((r) => r.zxid), [1, 2, 3, 4, 5]);
  assert.equal(scan.damage, null);
  disk.capacityBytes = Infinity;
  await log.append(6, payload(6));
  await log.append(7, payload(7));
  await log.close();
  const again = await TxnLog.open(disk, DIR);
  assert.deepEqual(again.records.map((r) => r.zxid), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(again.warnings, []);
});

test('an I/O error on fsync rejects with DiskIoError; the log resumes when the disk does', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 1 });
  await log.append(1, payload(1));
  disk.fault = (op) => (op === 'sync' ? 'EIO' : null);
  await assert.rejects(log.append(2, payload(2)), (err: unknown) => err instanceof DiskIoError && err.code === 'EIO');
  await assert.rejects(log.append(2, payload(2)), DiskIoError);
  disk.fault = null;
  await log.append(2, payload(2));
  await log.close();
  assert.deepEqual((await TxnLog.open(disk, DIR)).records.map((r) => r.zxid), [1, 2]);
});

test('a full disk while creating a segment leaves no segment behind', async () => {
  const disk = new MemoryDisk();
  await disk.mkdirp(DIR);
  disk.capacityBytes = 10;
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
  await assert.rejects(log.append(1, payload(1)), DiskFullError);
  disk.capacityBytes = Infinity;
  await log.append(1, payload(1));
  await log.close();
  assert.deepEqual((await TxnLog.open(disk, DIR)).records.map((r) => r.zxid), [1]);
});

test('crashes at random moments never lose an acknowledged append (seeded)', async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rng = new Prng(seed);
    const disk = new MemoryDisk();
    const acked = new Set<number>();
    let next = 1;
    for (let round = 0; round < 4; round++) {
      let crashed = false;
      const { log, records } = await TxnLog.open(disk.session(), DIR, { preAllocSizeKb: rng.bool() ? 1 : 0, segmentSizeLimitBytes: 400 });
      const got = records.map((r) => r.zxid);
      for (const z of acked) assert.ok(got.includes(z), `seed ${seed}: acknowledged zxid ${z} lost (have ${got.join(',')})`);
      for (let i = 0; i < got.length; i++) assert.deepEqual(records[i]!.bytes, payload(got[i]!), `seed ${seed}`);
      for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, `seed ${seed}: gap`);
      next = (got[got.length - 1] ?? 0) + 1;
      for (const z of [...acked]) if (z >= next) acked.delete(z);
      // Issue appends in waves; stop at a random point with some in flight, then pull the plug.
      const waves = 1 + rng.int(5);
      for (let w = 0; w < waves; w++) {
        const n = 1 + rng.int(20);
        const ps: Promise<void>[] = [];
        for (let i = 0; i < n; i++) {
          const z = next++;
          ps.push(log.append(z, payload(z)).then(() => void (crashed || acked.add(z)), () => undefined));
        }
        if (rng.bool(0.3)) log.roll();
        if (w < waves - 1) await Promise.all(ps);
        else for (let k = rng.int(12); k > 0; k--) await Promise.resolve();
      }
      crashed = true;
      disk.crash((_path, unsynced) => rng.int(unsynced + 1));
    }
  }
});

