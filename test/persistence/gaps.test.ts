/**
 * Zxid continuity: a lost middle log segment is a hole in the history, refused at start unless
 * accepted explicitly; healthy directories (rolls, epochs, a rewound failed write) have none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDisk } from '../../src/io/disk.js';
import { ZxidGapError } from '../../src/persistence/errors.js';
import { closeStore, openStore, takeSnapshot } from '../../src/persistence/store.js';
import { listSegments } from '../../src/persistence/txnlog.js';
import { describeZxidGap, findZxidGaps, zxidFollows } from '../../src/persistence/zxidgaps.js';
import { payload } from './helpers.js';

const EPOCH = 2 ** 32;

test('zxidFollows: the next counter, or counter 1 (or 0) of a later epoch', () => {
  assert.ok(zxidFollows(0, 1));
  assert.ok(zxidFollows(41, 42));
  assert.ok(!zxidFollows(41, 43));
  assert.ok(zxidFollows(EPOCH + 500, 2 * EPOCH + 1));
  assert.ok(zxidFollows(EPOCH + 500, 3 * EPOCH + 1), 'epochs without txns may be skipped');
  assert.ok(zxidFollows(2 * EPOCH, 2 * EPOCH + 1));
  assert.ok(!zxidFollows(EPOCH + 500, 2 * EPOCH + 5));
  // Counter overflow: the next zxid is the next epoch's counter 0, which is prev + 1.
  assert.ok(zxidFollows(2 * EPOCH - 1, 2 * EPOCH));
});

test('findZxidGaps: ranges, counts, and only the new epoch part of a cross-epoch hole', () => {
  assert.deepEqual(findZxidGaps(0, [1, 2, 3]), []);
  const [gap] = findZxidGaps(10, [11, 12, 20, 21]);
  assert.deepEqual(gap, { after: 12, before: 20, first: 13, last: 19, count: 7 });
  assert.equal(describeZxidGap(gap!), 'zxids 0xd-0x13 (7 txns)');
  assert.equal(describeZxidGap(findZxidGaps(1, [3])[0]!), 'zxid 0x2 (1 txn)');
  const [cross] = findZxidGaps(EPOCH + 7, [2 * EPOCH + 4]);
  assert.deepEqual(cross, { after: EPOCH + 7, before: 2 * EPOCH + 4, first: 2 * EPOCH + 1, last: 2 * EPOCH + 3, count: 3 });
  // Without a start point only the holes between the zxids count.
  assert.deepEqual(findZxidGaps(null, [7, 8]), []);
  assert.equal(findZxidGaps(0, [7, 8]).length, 1);
});

/** Segments log.1 (1-10), log.b (11-20), log.15 (21-30) after snapshot.0, in /d. */
async function threeSegments(disk: MemoryDisk): Promise<void> {
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  await takeSnapshot(disk, s, 0, [Buffer.from('empty')]);
  for (let z = 1; z <= 30; z++) {
    await s.log.append(z, payload(z));
    if (z % 10 === 0) s.log.roll();
  }
  await closeStore(s);
  assert.deepEqual((await listSegments(disk, '/d/version-2')).map((x) => x.name), ['log.1', 'log.b', 'log.15']);
}

test('store: a missing middle segment refuses to start, naming the range and the files around it', async () => {
  const disk = new MemoryDisk();
  await threeSegments(disk);
  await disk.remove('/d/version-2/log.b');
  await assert.rejects(openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 }), (err: unknown) => {
    assert.ok(err instanceof ZxidGapError);
    assert.equal(err.gaps.length, 1);
    assert.deepEqual([err.gaps[0]!.first, err.gaps[0]!.last], [11, 20]);
    assert.match(err.message, /zxids 0xb-0x14 \(10 txns\) missing between log\.1 and log\.15 in \/d\/version-2/);
    assert.match(err.message, /--accept-data-loss/);
    return true;
  });
  // Refused without side effects: the lock is released and the files are as they were.
  assert.equal(await disk.stat('/d/paddock.lock'), null);
  assert.deepEqual((await listSegments(disk, '/d/version-2')).map((x) => x.name), ['log.1', 'log.15']);
});

test('store: a gap right after the snapshot names the snapshot', async () => {
  const disk = new MemoryDisk();
  await threeSegments(disk);
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  await takeSnapshot(disk, s, 30, [Buffer.from('tree@30')]);
  for (let z = 31; z <= 35; z++) await s.log.append(z, payload(z));
  s.log.roll();
  for (let z = 36; z <= 40; z++) await s.log.append(z, payload(z));
  await closeStore(s);
  await disk.remove('/d/version-2/log.1f');
  await assert.rejects(openStore(disk, { dataDir: '/d' }), /zxids 0x1f-0x23 \(5 txns\) missing between snapshot\.1e and log\.24/);
});

test('store: acceptDataLoss replays what is left and reports the lost range', async () => {
  const disk = new MemoryDisk();
  await threeSegments(disk);
  await disk.remove('/d/version-2/log.b');
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0, acceptDataLoss: true });
  assert.deepEqual(s.records.map((r) => r.zxid), [...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 10 }, (_, i) => i + 21)]);
  assert.equal(s.lostZxids.length, 1);
  assert.equal(s.lostZxids[0]!.count, 10);
  assert.ok(s.warnings.some((w) => /accepted the loss of zxids 0xb-0x14 \(10 txns\) missing between log\.1 and log\.15/.test(w)), s.warnings.join('\n'));
  assert.equal(s.log.lastZxid, 30);
  await closeStore(s);
});

test('store: healthy directories have no gaps: rolls, a new epoch, a rewound failed write, a gap before the snapshot', async () => {
  const disk = new MemoryDisk();
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  await takeSnapshot(disk, s, 0, [Buffer.from('empty')]);
  for (let z = 1; z <= 5; z++) await s.log.append(z, payload(z));
  // A failed write: the log rejects it and the writer reuses the zxid, so no hole is left.
  disk.fault = (op) => (op === 'write' ? 'EIO' : null);
  await assert.rejects(s.log.append(6, payload(6)));
  disk.fault = null;
  await s.log.append(6, payload(6));
  s.log.roll();
  // A new epoch starts at counter 1.
  await s.log.append(EPOCH + 1, payload(7));
  await s.log.append(EPOCH + 2, payload(8));
  await closeStore(s);
  const again = await openStore(disk, { dataDir: '/d' });
  assert.deepEqual(again.lostZxids, []);
  assert.deepEqual(again.records.map((r) => r.zxid), [1, 2, 3, 4, 5, 6, EPOCH + 1, EPOCH + 2]);
  // A hole that a snapshot covers is not needed for recovery.
  await takeSnapshot(disk, again, EPOCH + 2, [Buffer.from('tree')]);
  await again.log.append(EPOCH + 3, payload(9));
  await closeStore(again);
  await disk.remove('/d/version-2/log.1');
  const third = await openStore(disk, { dataDir: '/d' });
  assert.deepEqual(third.records.map((r) => r.zxid), [EPOCH + 3]);
  await closeStore(third);
});
