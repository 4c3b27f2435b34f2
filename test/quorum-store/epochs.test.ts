import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import {
  ACCEPTED_EPOCH_FILE,
  CURRENT_EPOCH_FILE,
  EpochFileError,
  loadEpochs,
  parseEpochText,
  readEpochFile,
  removeUpdatingEpochMarker,
  UPDATING_EPOCH_FILE,
  writeEpochFile,
  writeUpdatingEpochMarker,
} from '../../src/persistence/epochs.js';
import { tempDir } from '../persistence/helpers.js';
import { forEachCrashPoint } from './crash.js';

const DIR = '/data/version-2';

async function memoryDir(): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  await disk.mkdirp(DIR);
  return disk;
}

test('an epoch file is the decimal long alone, as ZooKeeper writes it, and reads back', async (t) => {
  const dir = tempDir(t);
  const disk = new NodeDisk();
  await writeEpochFile(disk, dir, CURRENT_EPOCH_FILE, 5n);
  assert.equal(readFileSync(join(dir, CURRENT_EPOCH_FILE), 'latin1'), '5');
  await writeEpochFile(disk, dir, CURRENT_EPOCH_FILE, 4294967296n);
  assert.equal(readFileSync(join(dir, CURRENT_EPOCH_FILE), 'latin1'), '4294967296');
  assert.equal(await readEpochFile(disk, dir, CURRENT_EPOCH_FILE), 4294967296n);
  assert.equal(await readEpochFile(disk, dir, ACCEPTED_EPOCH_FILE), null);
  // What Java's readLine + Long.parseLong accepts: a trailing newline, a sign.
  writeFileSync(join(dir, ACCEPTED_EPOCH_FILE), '7\n');
  assert.equal(await readEpochFile(disk, dir, ACCEPTED_EPOCH_FILE), 7n);
  assert.equal(parseEpochText('-1', 'f'), -1n);
  assert.equal(parseEpochText('+3\r\n', 'f'), 3n);
});

test('a damaged epoch file is a clear error naming the file', async (t) => {
  const dir = tempDir(t);
  const disk = new NodeDisk();
  for (const bad of ['', 'abc', '1 2', '0x10', '99999999999999999999', '9223372036854775808', '\u00005']) {
    writeFileSync(join(dir, CURRENT_EPOCH_FILE), bad, 'latin1');
    await assert.rejects(readEpochFile(disk, dir, CURRENT_EPOCH_FILE), (err: unknown) => {
      assert.ok(err instanceof EpochFileError, String(err));
      assert.match(err.message, /currentEpoch/);
      return true;
    });
  }
  mkdirSync(join(dir, 'v'));
  writeFileSync(join(dir, 'v', ACCEPTED_EPOCH_FILE), 'garbage');
  await assert.rejects(loadEpochs(disk, join(dir, 'v'), 0n), EpochFileError);
});

test('missing epoch files are created from the last zxid, as QuorumPeer.loadDataBase does', async () => {
  const disk = await memoryDir();
  const loaded = await loadEpochs(disk, DIR, (3n << 32n) | 7n);
  assert.equal(loaded.acceptedEpoch, 3n);
  assert.equal(loaded.currentEpoch, 3n);
  assert.equal(loaded.warnings.length, 2);
  // Durable: they survive a power loss right after loading.
  disk.crash();
  assert.equal(await readEpochFile(disk, DIR, CURRENT_EPOCH_FILE), 3n);
  assert.equal(await readEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE), 3n);
  const again = await loadEpochs(disk, DIR, (3n << 32n) | 9n);
  assert.deepEqual(again, { acceptedEpoch: 3n, currentEpoch: 3n, warnings: [] });
  // An empty server (no zxid at all) starts at epoch 0.
  const empty = await memoryDir();
  assert.equal((await loadEpochs(empty, DIR, -1n)).currentEpoch, 0n);
});

test('a current epoch behind the last zxid is taken from currentEpoch.tmp, else refused', async () => {
  const disk = await memoryDir();
  await writeEpochFile(disk, DIR, CURRENT_EPOCH_FILE, 2n);
  await writeEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE, 4n);
  await assert.rejects(loadEpochs(disk, DIR, 4n << 32n), /current epoch, 2, is older than the epoch of the last zxid 0x400000000 \(4\)/);
  disk.setFile(join(DIR, `${CURRENT_EPOCH_FILE}.tmp`), Buffer.from('4'));
  const loaded = await loadEpochs(disk, DIR, 4n << 32n);
  assert.equal(loaded.currentEpoch, 4n);
  assert.equal(await readEpochFile(disk, DIR, CURRENT_EPOCH_FILE), 4n);
});

/** A data dir left by a crash inside a sync: these epoch files and the updatingEpoch marker. */
async function markedDir(currentEpoch: bigint, acceptedEpoch: bigint): Promise<MemoryDisk> {
  const disk = await memoryDir();
  await writeEpochFile(disk, DIR, CURRENT_EPOCH_FILE, currentEpoch);
  await writeEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE, acceptedEpoch);
  await writeUpdatingEpochMarker(disk, DIR);
  return disk;
}

test('the updatingEpoch marker: currentEpoch is raised to the last zxid\'s epoch (never above acceptedEpoch), then the marker goes', async () => {
  const marker = join(DIR, UPDATING_EPOCH_FILE);
  assert.equal(UPDATING_EPOCH_FILE, 'updatingEpoch', 'ZooKeeper\'s name, so a data dir moves both ways');
  // A crash inside a sync: epoch 4's txns logged, currentEpoch still 2, acceptedEpoch 4.
  const disk = await markedDir(2n, 4n);
  const loaded = await loadEpochs(disk, DIR, (4n << 32n) | 7n);
  assert.deepEqual([loaded.acceptedEpoch, loaded.currentEpoch], [4n, 4n]);
  assert.equal(await readEpochFile(disk, DIR, CURRENT_EPOCH_FILE), 4n);
  assert.equal(await disk.stat(marker), null, 'the marker is removed');
  assert.ok(loaded.warnings.some((w) => w.includes('updatingEpoch found: current epoch set to the epoch of the last zxid 0x400000007, 4')), loaded.warnings.join('\n'));
  // Loading again changes nothing and warns of nothing.
  assert.deepEqual((await loadEpochs(disk, DIR, (4n << 32n) | 7n)).warnings, []);

  // A log ahead of acceptedEpoch contradicts the marker's case: refused, the marker left for an operator.
  const ahead = await markedDir(2n, 3n);
  await assert.rejects(loadEpochs(ahead, DIR, 4n << 32n), /current epoch, 2, is older than the epoch of the last zxid 0x400000000 \(4\)/);
  assert.equal(await readEpochFile(ahead, DIR, CURRENT_EPOCH_FILE), 2n);
  assert.notEqual(await ahead.stat(marker), null);

  // A marker over a log not ahead of currentEpoch: currentEpoch is never lowered; the marker goes.
  const behind = await markedDir(5n, 6n);
  const kept = await loadEpochs(behind, DIR, (3n << 32n) | 1n);
  assert.deepEqual([kept.acceptedEpoch, kept.currentEpoch], [6n, 5n]);
  assert.equal(await behind.stat(marker), null);
  // Removing a marker that is not there is fine.
  await removeUpdatingEpochMarker(behind, DIR);
});

test('an accepted epoch below the current epoch is refused', async () => {
  const disk = await memoryDir();
  await writeEpochFile(disk, DIR, CURRENT_EPOCH_FILE, 5n);
  await writeEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE, 4n);
  await assert.rejects(loadEpochs(disk, DIR, 5n << 32n), /accepted epoch, 4, is less than the current epoch, 5/);
});

test('a crash at any point of an epoch write leaves the old or the new value, never a damaged file', async () => {
  const tears = [undefined, (_path: string, n: number) => Math.floor(n / 2), (_path: string, n: number) => n];
  for (const tear of tears) {
    const points = await forEachCrashPoint(
      async () => {
        const disk = await memoryDir();
        await writeEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE, 123n);
        return disk;
      },
      (disk) => writeEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE, 45678n),
      async ({ disk, completed }) => {
        const value = await readEpochFile(disk, DIR, ACCEPTED_EPOCH_FILE);
        if (completed) assert.equal(value, 45678n);
        else assert.ok(value === 123n || value === 45678n, `read ${value}`);
      },
      { tear },
    );
    assert.ok(points >= 5, `only ${points} crash points`);
  }
});
