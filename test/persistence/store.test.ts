import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import { CorruptDataError, DataDirLockedError, PersistenceError } from '../../src/persistence/errors.js';
import { acquireDataDirLock, LOCK_FILE } from '../../src/persistence/lock.js';
import { purge } from '../../src/persistence/purge.js';
import { writeSnapshot } from '../../src/persistence/snapshots.js';
import { closeStore, openStore, purgeStore, takeSnapshot } from '../../src/persistence/store.js';
import { listSegments, TxnLog } from '../../src/persistence/txnlog.js';
import { payload, tempDir } from './helpers.js';

test('lock: a second server on the same data dir is refused; release lets the next one in', async (t) => {
  const dir = tempDir(t);
  const disk = new NodeDisk();
  const { lock } = await acquireDataDirLock(disk, dir);
  await assert.rejects(acquireDataDirLock(disk, dir), DataDirLockedError);
  await lock.release();
  const again = await acquireDataDirLock(disk, dir);
  await again.lock.release();
});

test('lock: held by another live process is refused; left by a dead one is taken over with a warning', async (t) => {
  const dir = tempDir(t);
  const disk = new NodeDisk();
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 00ff\n`);
  await assert.rejects(acquireDataDirLock(disk, dir), (err: unknown) => {
    assert.ok(err instanceof DataDirLockedError);
    assert.match(err.message, new RegExp(`pid ${process.ppid}`));
    return true;
  });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(dir, LOCK_FILE), `${dead} 00ff\n`);
  const { lock, warnings } = await acquireDataDirLock(disk, dir, { isAlive: (pid) => pid !== dead });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /stale lock/);
  await lock.release();
  // A lock with our own pid that this process does not hold is from an earlier incarnation.
  writeFileSync(join(dir, LOCK_FILE), `${process.pid} 00ff\n`);
  const own = await acquireDataDirLock(disk, dir);
  assert.equal(own.warnings.length, 1);
  await own.lock.release();
  // Unreadable content: refuse (it may be a server that is creating it right now).
  writeFileSync(join(dir, LOCK_FILE), '');
  await assert.rejects(acquireDataDirLock(disk, dir), /delete the lock file/);
});

test('store: first start, appends, snapshot + roll, restart replays only what follows the snapshot', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const opts = { dataDir, preAllocSizeKb: 8 };
  const s1 = await openStore(disk, opts);
  assert.equal(s1.snapshot, null);
  assert.deepEqual(s1.records, []);
  await takeSnapshot(disk, s1, 0, [Buffer.from('empty tree')]);
  for (let z = 1; z <= 10; z++) await s1.log.append(z, payload(z));
  await takeSnapshot(disk, s1, 10, [Buffer.from('tree@10')]);
  for (let z = 11; z <= 15; z++) await s1.log.append(z, payload(z));
  await assert.rejects(openStore(disk, opts), DataDirLockedError);
  await closeStore(s1);
  assert.deepEqual((await listSegments(disk, s1.logDir)).map((s) => s.name), ['log.1', 'log.b']);

  const s2 = await openStore(disk, opts);
  assert.deepEqual(s2.warnings, []);
  assert.equal(s2.snapshot?.zxid, 10);
  assert.equal(s2.snapshot?.data.toString(), 'tree@10');
  assert.deepEqual(s2.records.map((r) => r.zxid), [11, 12, 13, 14, 15]);
  assert.equal(s2.log.lastZxid, 15);
  await closeStore(s2);
});

test('store: the snapshot is handed over while the log opens; a failure there closes the log and unlocks', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const opts = { dataDir, preAllocSizeKb: 8 };
  const s1 = await openStore(disk, opts);
  await takeSnapshot(disk, s1, 0, [Buffer.from('tree@0')]);
  for (let z = 1; z <= 5; z++) await s1.log.append(z, payload(z));
  await closeStore(s1);

  const seen: string[] = [];
  const s2 = await openStore(disk, opts, async (snapshot) => {
    seen.push(snapshot?.data.toString() ?? 'none');
  });
  assert.deepEqual(seen, ['tree@0']);
  assert.deepEqual(s2.records.map((r) => r.zxid), [1, 2, 3, 4, 5]);
  await closeStore(s2);

  await assert.rejects(
    openStore(disk, opts, async () => {
      throw new Error('bad snapshot content');
    }),
    /bad snapshot content/,
  );
  // The lock was released and the log left as it was.
  const s3 = await openStore(disk, opts);
  assert.deepEqual(s3.records.map((r) => r.zxid), [1, 2, 3, 4, 5]);
  await closeStore(s3);
});

test('store: logs without any valid snapshot refuse to start unless trusted', async () => {
  const disk = new MemoryDisk();
  const { log } = await TxnLog.open(disk, '/d/version-2', { preAllocSizeKb: 0 });
  await log.append(7, payload(7));
  await log.close();
  await assert.rejects(openStore(disk, { dataDir: '/d' }), (err: unknown) => err instanceof PersistenceError && /no valid snapshot/.test(err.message));
  const s = await openStore(disk, { dataDir: '/d', trustEmptySnapshot: true, preAllocSizeKb: 0 });
  assert.deepEqual(s.records.map((r) => r.zxid), [7]);
  await closeStore(s);
});

test('store: middle corruption refuses to start and releases the lock', async () => {
  const disk = new MemoryDisk();
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  await takeSnapshot(disk, s, 0, []);
  for (let z = 1; z <= 3; z++) await s.log.append(z, payload(z));
  await closeStore(s);
  disk.flipBit('/d/version-2/log.1', 20 + 36 + 20);
  await assert.rejects(openStore(disk, { dataDir: '/d' }), (err: unknown) => {
    assert.ok(err instanceof CorruptDataError);
    assert.match(err.message, /\/d\/version-2\/log\.1 at byte offset 56/);
    return true;
  });
  assert.equal(await disk.stat('/d/paddock.lock'), null);
});

test('store: separate dataLogDir; leftover snapshot temp files are removed with a warning', async () => {
  const disk = new MemoryDisk();
  await disk.mkdirp('/snap/version-2');
  disk.setFile('/snap/version-2/snapshot.5.tmp', Buffer.from('partial'));
  const s = await openStore(disk, { dataDir: '/snap', dataLogDir: '/logs', preAllocSizeKb: 0 });
  assert.deepEqual(s.warnings, ['removed unfinished snapshot /snap/version-2/snapshot.5.tmp']);
  await takeSnapshot(disk, s, 0, []);
  await s.log.append(1, payload(1));
  assert.deepEqual(await disk.list('/logs/version-2'), ['log.1']);
  assert.deepEqual(await disk.list('/snap/version-2'), ['snapshot.0']);
  await closeStore(s);
});

test('purge keeps the N newest valid snapshots and the logs they need', async () => {
  const disk = new MemoryDisk();
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  let z = 0;
  for (let snap = 0; snap < 6; snap++) {
    await takeSnapshot(disk, s, z, [Buffer.from(`tree@${z}`)]);
    for (let i = 0; i < 5; i++) {
      z++;
      await s.log.append(z, payload(z));
    }
  }
  // snapshots 0,5,10,15,20,25; logs 1,6,11,16,21,26
  await assert.rejects(purgeStore(disk, s, 2), RangeError);
  const r = await purgeStore(disk, s, 3);
  assert.deepEqual(r.keptSnapshots, ['snapshot.19', 'snapshot.14', 'snapshot.f']);
  assert.deepEqual(r.keptLogs, ['log.b', 'log.10', 'log.15', 'log.1a']);
  assert.deepEqual(await disk.list('/d/version-2'), ['log.10', 'log.15', 'log.1a', 'log.b', 'snapshot.14', 'snapshot.19', 'snapshot.f']);
  await closeStore(s);
  // The purged dir still restarts to the same state.
  const again = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  assert.equal(again.snapshot?.zxid, 25);
  assert.deepEqual(again.records.map((x) => x.zxid), [26, 27, 28, 29, 30]);
  await closeStore(again);
});

test('purge does not count invalid snapshots and removes nothing with fewer than N valid', async () => {
  const disk = new MemoryDisk();
  const dir = '/d/version-2';
  for (const zxid of [1, 2, 3, 4]) await writeSnapshot(disk, dir, zxid, [Buffer.from('x')]);
  disk.setFile(`${dir}/snapshot.4`, Buffer.from('broken'));
  const r = await purge(disk, { snapDir: dir, logDir: dir, retainCount: 3 });
  assert.deepEqual(r.removed, []);
  assert.equal(r.warnings.length, 1);
  await writeSnapshot(disk, dir, 5, [Buffer.from('x')]);
  const r2 = await purge(disk, { snapDir: dir, logDir: dir, retainCount: 3 });
  assert.deepEqual(r2.removed, [`${dir}/snapshot.1`]);
});
