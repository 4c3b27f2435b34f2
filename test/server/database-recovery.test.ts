/**
 * openDatabase over damaged or incomplete data directories: the start fails with a readable
 * PersistenceError and leaves no lock behind, or, with acceptDataLoss, snapshots over the hole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDisk } from '../../src/io/disk.js';
import { Err, OpCode } from '../../src/jute/constants.js';
import { encodeTxn, type Txn } from '../../src/jute/txn.js';
import { PersistenceError, ZxidGapError } from '../../src/persistence/errors.js';
import { listSnapshots } from '../../src/persistence/snapshots.js';
import { closeStore, openStore, takeSnapshot } from '../../src/persistence/store.js';
import { configFromOverrides } from '../../src/config/validate.js';
import { openDatabase } from '../../src/server/database.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { create as createRequest } from './helpers.js';
import { silentLogger, type Logger } from '../../src/server/logger.js';
import { DataTree } from '../../src/tree/datatree.js';
import { serializeSnapshot } from '../../src/tree/snapshot.js';

function create(zxid: number): Buffer {
  const txn: Txn = {
    header: { sessionId: 1n, cxid: zxid, zxid, time: 1_700_000_000_000, type: OpCode.create },
    body: { type: OpCode.create, path: `/n${zxid}`, data: Buffer.from('x'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: zxid },
  };
  return encodeTxn(txn);
}

/** /d with snapshot.0 and the given records (zxid -> payload), one segment per `rollAfter`. */
async function dataDir(disk: MemoryDisk, records: [number, Buffer][], rollAfter: number[] = []): Promise<void> {
  const s = await openStore(disk, { dataDir: '/d', preAllocSizeKb: 0 });
  await takeSnapshot(disk, s, 0, serializeSnapshot(new DataTree(), new Map()));
  for (const [zxid, bytes] of records) {
    await s.log.append(zxid, bytes);
    if (rollAfter.includes(zxid)) s.log.roll();
  }
  await closeStore(s);
}

test('a checksummed record that does not decode fails the start readably and releases the lock', async () => {
  const disk = new MemoryDisk();
  await dataDir(disk, [[1, create(1)], [2, Buffer.from('not a txn')]]);
  await assert.rejects(openDatabase(configFromOverrides({ dataDir: '/d' }), silentLogger, disk), (err: unknown) => {
    assert.ok(err instanceof PersistenceError);
    assert.match(err.message, /txn log record 0x2 in \/d\/version-2 has a valid checksum but does not decode as a txn/);
    return true;
  });
  assert.equal(await disk.stat('/d/paddock.lock'), null);
});

test('a lost segment refuses the start; accepted, the recovered tree is snapshotted so the next start needs no flag', async () => {
  const disk = new MemoryDisk();
  await dataDir(disk, [1, 2, 3, 4, 5, 6].map((z) => [z, create(z)]), [2, 4]);
  await disk.remove('/d/version-2/log.3');
  await assert.rejects(openDatabase(configFromOverrides({ dataDir: '/d' }), silentLogger, disk), ZxidGapError);
  assert.equal(await disk.stat('/d/paddock.lock'), null);
  const errors: string[] = [];
  const logger: Logger = { ...silentLogger, error: (line: string) => void errors.push(line) };
  const db = await openDatabase(configFromOverrides({ dataDir: '/d', acceptDataLoss: true }), logger, disk);
  assert.deepEqual(db.tree.childrenOf('/').filter((n) => n.startsWith('n')).sort(), ['n1', 'n2', 'n5', 'n6']);
  assert.match(errors.join('\n'), /started with 2 txns lost/);
  await db.commitLog.close();
  assert.deepEqual((await listSnapshots(disk, '/d/version-2')).map((s) => s.zxid), [0, 6]);
  const again = await openDatabase(configFromOverrides({ dataDir: '/d' }), silentLogger, disk);
  assert.equal(again.tree.lastProcessedZxid, 6);
  await again.commitLog.close();
});

test('writes refused by a failing disk leave no hole: the server restarts over the same directory', async () => {
  const disk = new MemoryDisk();
  let failing = false;
  disk.fault = (op, path) => (failing && op === 'write' && path.includes('/log.') ? 'EIO' : null);
  const h = await PipelineHarness.start({ dataDir: '/data', tickTime: 50 }, disk);
  const c = await h.open();
  assert.equal((await c.send(createRequest('/before'))).header.err, Err.OK);
  failing = true;
  // Each refused write took a zxid that the server must take back.
  for (const path of ['/lost1', '/lost2', '/lost3']) assert.equal((await c.send(createRequest(path))).header.err, Err.NOTREADONLY);
  failing = false;
  // Writes come back on the server's next tick (the clock is fake: not before).
  assert.equal((await c.send(createRequest('/early'))).header.err, Err.NOTREADONLY);
  await h.advance(50);
  assert.equal((await c.send(createRequest('/after'))).header.err, Err.OK);
  await c.closeSession();
  await h.close();
  const again = await openDatabase(configFromOverrides({ dataDir: '/data' }), silentLogger, disk);
  assert.deepEqual(again.tree.childrenOf('/').filter((n) => n !== 'zookeeper').sort(), ['after', 'before']);
  await again.commitLog.close();
});
