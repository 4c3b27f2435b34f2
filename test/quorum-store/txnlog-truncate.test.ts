import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk, type Disk } from '../../src/io/disk.js';
import { CorruptDataError } from '../../src/persistence/errors.js';
import { LOG_HEADER_BYTES, RECORD_HEADER_BYTES } from '../../src/persistence/logformat.js';
import { listSegments, readLogAfter, TxnLog } from '../../src/persistence/txnlog.js';
import { findZxidGaps } from '../../src/persistence/zxidgaps.js';
import { payload, tempDir } from '../persistence/helpers.js';
import { forEachCrashPoint } from './crash.js';

const DIR = '/data/version-2';
const E1 = 1 * 2 ** 32;
const E2 = 2 * 2 ** 32;

/** Zxids 0x100000001..0x10000000a, then 0x200000001..0x20000000a: four segments of five. */
const HISTORY = [...Array.from({ length: 10 }, (_, i) => E1 + i + 1), ...Array.from({ length: 10 }, (_, i) => E2 + i + 1)];

/** Sizes vary so some records are longer than a small read page. */
function sizeOf(zxid: number): number {
  return 1 + ((zxid * 37) % 300);
}

async function writeSegments(disk: Disk, zxids: readonly number[], perSegment: number, preAllocSizeKb = 0): Promise<void> {
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb });
  for (let i = 0; i < zxids.length; i++) {
    if (i > 0 && i % perSegment === 0) log.roll();
    await log.append(zxids[i]!, payload(zxids[i]!, sizeOf(zxids[i]!)));
  }
  await log.close();
}

async function reopened(disk: Disk): Promise<{ zxids: number[]; log: TxnLog; warnings: string[] }> {
  const { log, records, warnings } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
  for (const r of records) assert.deepEqual(r.bytes, payload(r.zxid, sizeOf(r.zxid)), `payload of 0x${r.zxid.toString(16)}`);
  return { zxids: records.map((r) => r.zxid), log, warnings };
}

async function collect(it: AsyncIterable<{ zxid: number; bytes: Buffer }>): Promise<number[]> {
  const out: number[] = [];
  for await (const r of it) {
    assert.deepEqual(r.bytes, payload(r.zxid, sizeOf(r.zxid)));
    out.push(r.zxid);
  }
  return out;
}

for (const cut of [E1 + 3, E1 + 5, E1 + 7, E1 + 10, E2 + 2, E2 + 10, E1, 0, -1]) {
  test(`truncateAfter(0x${cut.toString(16)}) keeps exactly the records up to it, across segments, then appends go on`, async () => {
    const disk = new MemoryDisk();
    await writeSegments(disk, HISTORY, 5);
    assert.equal((await listSegments(disk, DIR)).length, 4);
    const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 0 });
    await log.truncateAfter(cut);
    const kept = HISTORY.filter((z) => z <= cut);
    assert.equal(log.lastZxid, cut);
    // Durable with no further sync: a power loss now keeps the truncation.
    disk.crash();
    const after = await reopened(disk);
    assert.deepEqual(after.zxids, kept);
    assert.deepEqual(after.warnings, []);
    // A new txn after the cut: a new segment, read back in order with no gap reported.
    const next = cut < E1 + 10 ? Math.max(cut, E1) + 1 : cut + 1;
    await after.log.append(next, payload(next, sizeOf(next)));
    await after.log.close();
    const final = await reopened(disk);
    assert.deepEqual(final.zxids, [...kept, next]);
    assert.deepEqual(findZxidGaps(null, final.zxids), []);
    await final.log.close();
  });
}

test('a live log truncated under appends already durable goes on from the cut', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 64 });
  const appends = HISTORY.slice(0, 8).map((z) => log.append(z, payload(z, sizeOf(z))));
  // truncateAfter waits for the appends queued before it.
  await log.truncateAfter(E1 + 4);
  await Promise.all(appends);
  assert.equal(log.lastZxid, E1 + 4);
  await assert.rejects(async () => log.append(E1 + 4, payload(1)), /not after/);
  await log.append(E1 + 5, payload(E1 + 5, sizeOf(E1 + 5)));
  await log.close();
  assert.deepEqual((await reopened(disk)).zxids, HISTORY.slice(0, 5));
});

test('a crash at any point of a truncation leaves a prefix of the log that opens cleanly', async () => {
  const cut = E1 + 3;
  const tears = [undefined, (_p: string, n: number) => Math.floor(n / 3)];
  for (const tear of tears) {
    const points = await forEachCrashPoint(
      async () => {
        const disk = new MemoryDisk();
        await writeSegments(disk, HISTORY, 5, 4);
        return disk;
      },
      async (disk) => {
        const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 4 });
        await log.truncateAfter(cut);
        await log.append(E2 + 100, payload(E2 + 100, sizeOf(E2 + 100)));
        await log.close();
      },
      async ({ disk, completed }) => {
        const { zxids, log } = await reopened(disk);
        await log.close();
        // Never a hole: what survives is the history up to some point at or after the cut.
        assert.deepEqual(findZxidGaps(null, zxids.filter((z) => z < E2 + 100)), []);
        const old = zxids.filter((z) => z !== E2 + 100);
        assert.deepEqual(old, HISTORY.slice(0, old.length));
        assert.ok(old.length >= 3, 'records before the cut are kept');
        // The new record is only there once the truncation is complete.
        if (zxids.includes(E2 + 100)) assert.deepEqual(old, HISTORY.filter((z) => z <= cut));
        if (completed) assert.deepEqual(zxids, [...HISTORY.filter((z) => z <= cut), E2 + 100]);
      },
      { tear },
    );
    assert.ok(points > 8, `only ${points} crash points`);
  }
});

test('readAfter streams the records after a zxid across segments, in small pages', async () => {
  for (const preAllocSizeKb of [0, 1]) {
    const disk = new MemoryDisk();
    await writeSegments(disk, HISTORY, 5, preAllocSizeKb);
    for (const from of [-1, 0, E1, E1 + 1, E1 + 4, E1 + 5, E1 + 9, E1 + 10, E2 + 5, E2 + 10, E2 + 50]) {
      for (const pageBytes of [16, 100, 1024 * 1024]) {
        assert.deepEqual(await collect(readLogAfter(disk, DIR, from, { pageBytes })), HISTORY.filter((z) => z > from), `after 0x${from.toString(16)}, pages of ${pageBytes}`);
      }
    }
    assert.deepEqual(await collect(readLogAfter(disk, DIR, E1 + 2, { through: E2 + 1, pageBytes: 64 })), HISTORY.filter((z) => z > E1 + 2 && z <= E2 + 1));
    assert.deepEqual(await collect(readLogAfter(disk, '/nothing/here', -1)), []);
  }
});

test('readAfter on the live log returns only durable records and can stop early', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, DIR, { preAllocSizeKb: 1 });
  for (const z of HISTORY.slice(0, 6)) await log.append(z, payload(z, sizeOf(z)));
  const reader = log.readAfter(E1 + 1, { pageBytes: 32 });
  const first = await reader.next();
  assert.equal(first.value?.zxid, E1 + 2);
  // Appends made while reading are not included: the reader stops at what was durable.
  for (const z of HISTORY.slice(6, 9)) await log.append(z, payload(z, sizeOf(z)));
  const rest = await collect(reader);
  assert.deepEqual(rest, HISTORY.slice(2, 6));
  // Leaving early closes the segment file (the generator's finally).
  for await (const r of log.readAfter(-1)) if (r.zxid === E1 + 2) break;
  await log.close();
});

test('readAfter refuses damage in the middle of a segment (CorruptDataError naming file and offset)', async () => {
  const disk = new MemoryDisk();
  await writeSegments(disk, HISTORY, 5);
  const seg = (await listSegments(disk, DIR))[1]!;
  const path = join(DIR, seg.name);
  const offset = LOG_HEADER_BYTES + RECORD_HEADER_BYTES + sizeOf(HISTORY[5]!) + RECORD_HEADER_BYTES + 1;
  disk.flipBit(path, offset);
  await assert.rejects(collect(readLogAfter(disk, DIR, -1, { pageBytes: 64 })), (err: unknown) => {
    assert.ok(err instanceof CorruptDataError);
    assert.equal(err.file, path);
    assert.equal(err.offset, LOG_HEADER_BYTES + RECORD_HEADER_BYTES + sizeOf(HISTORY[5]!));
    return true;
  });
  // Reading after the damage only needs later records and does not trip over it.
  assert.deepEqual(await collect(readLogAfter(disk, DIR, E2 + 1)), HISTORY.filter((z) => z > E2 + 1));
});

test('truncate and readAfter on the real file system with preallocated segments', async (t) => {
  const disk = new NodeDisk();
  const dir = join(tempDir(t), 'version-2');
  const { log } = await TxnLog.open(disk, dir, { preAllocSizeKb: 16 });
  for (let i = 0; i < HISTORY.length; i++) {
    if (i === 7 || i === 14) log.roll();
    await log.append(HISTORY[i]!, payload(HISTORY[i]!, sizeOf(HISTORY[i]!)));
  }
  assert.deepEqual(await collect(log.readAfter(E1 + 5, { pageBytes: 50 })), HISTORY.filter((z) => z > E1 + 5));
  await log.truncateAfter(E1 + 9);
  await log.append(E2 + 1, payload(E2 + 1, sizeOf(E2 + 1)));
  await log.close();
  const again = await TxnLog.open(disk, dir, { preAllocSizeKb: 16 });
  assert.deepEqual(again.records.map((r) => r.zxid), [...HISTORY.slice(0, 9), E2 + 1]);
  await again.log.close();
});
