import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryDisk } from '../../src/io/disk.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { CorruptDataError } from '../../src/persistence/errors.js';
import { encodeLogHeader } from '../../src/persistence/logformat.js';
import { adler32, ZK_LOG_MAGIC } from '../../src/persistence/zkformat.js';
import { moveAside, zkTxnsAfter, zooKeeperFilesIn } from '../../src/persistence/zkmigrate.js';

const DIR = '/zk/version-2';

function txnBytes(zxid: number): Buffer {
  return encodeTxn({
    header: { sessionId: 1n, cxid: zxid, zxid, time: 1_700_000_000_000, type: OpCode.create },
    body: { type: OpCode.create, path: `/n${zxid}`, data: Buffer.from('x'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: zxid },
  });
}

/** A ZooKeeper log as FileTxnLog writes it: header, (checksum, length, txn, 'B')*, preallocated zeros. */
function zkLog(zxids: number[], zeros = 64): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(ZK_LOG_MAGIC, 0);
  header.writeInt32BE(2, 4);
  const parts: Buffer[] = [header];
  for (const z of zxids) {
    const bytes = txnBytes(z);
    const frame = Buffer.alloc(12);
    frame.writeUInt32BE(adler32(bytes), 4);
    frame.writeInt32BE(bytes.length, 8);
    parts.push(frame, bytes, Buffer.from('B'));
  }
  parts.push(Buffer.alloc(zeros));
  return Buffer.concat(parts);
}

async function collect(disk: MemoryDisk, after: number, acceptDataLoss = false): Promise<{ zxids: number[]; warnings: string[] }> {
  const warnings: string[] = [];
  const zxids: number[] = [];
  for await (const t of zkTxnsAfter(disk, DIR, after, acceptDataLoss, warnings)) zxids.push(t.zxid);
  return { zxids, warnings };
}

async function diskWith(files: Record<string, Buffer>): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  await disk.mkdirp(DIR);
  for (const [name, bytes] of Object.entries(files)) disk.setFile(join(DIR, name), bytes);
  return disk;
}

test('zkTxnsAfter reads the logs after a zxid across files, skipping txns logged twice', async () => {
  const disk = await diskWith({ 'log.1': zkLog([1, 2, 3, 4]), 'log.4': zkLog([4, 5, 6]), 'log.7': zkLog([7, 8]) });
  assert.deepEqual((await collect(disk, 0)).zxids, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual((await collect(disk, 5)).zxids, [6, 7, 8]);
  assert.deepEqual((await collect(disk, 8)).zxids, []);
});

test('a torn last txn ends a log; a log without a header is skipped', async () => {
  const torn = zkLog([1, 2, 3], 0);
  const disk = await diskWith({ 'log.1': torn.subarray(0, torn.length - 10), 'log.3': zkLog([3, 4]), 'log.5': Buffer.alloc(8) });
  assert.deepEqual((await collect(disk, 0)).zxids, [1, 2, 3, 4]);
});

test('damage before valid txns is a CorruptDataError naming file and offset, unless losses are accepted', async () => {
  const log = zkLog([1, 2, 3, 4]);
  const second = 16 + 12 + txnBytes(1).length + 1;
  log[second + 12 + 5]! ^= 0xff;
  const disk = await diskWith({ 'log.1': log });
  await assert.rejects(collect(disk, 0), (err: unknown) => {
    assert.ok(err instanceof CorruptDataError);
    assert.equal(err.file, join(DIR, 'log.1'));
    assert.equal(err.offset, second);
    assert.match(err.reason, /checksum/);
    return true;
  });
  const accepted = await collect(disk, 0, true);
  assert.deepEqual(accepted.zxids, [1, 3, 4]);
  assert.match(accepted.warnings[0]!, /accepted/);
});

test('ZooKeeper files are told from Paddock ones by content, and moved aside durably', async () => {
  const paddockLog = encodeLogHeader(5);
  const disk = await diskWith({
    'log.1': zkLog([1]),
    'log.5': paddockLog,
    'snapshot.0': Buffer.from([0x5a, 0x4b, 0x53, 0x4e, 0, 0, 0, 2]),
    'snapshot.9.gz': Buffer.from([0x1f, 0x8b, 8, 0]),
    'snapshot.a.snappy': Buffer.from('whatever'),
    'snapshot.b.tmp': Buffer.from('ZKSN'),
    acceptedEpoch: Buffer.from('3'),
  });
  const found = await zooKeeperFilesIn(disk, DIR);
  assert.deepEqual(found, ['log.1', 'snapshot.0', 'snapshot.9.gz', 'snapshot.a.snappy']);
  await moveAside(disk, DIR, '/zk/version-2-zookeeper', found);
  disk.crash();
  assert.deepEqual(await disk.list('/zk/version-2-zookeeper'), found);
  assert.deepEqual(await disk.list(DIR), ['acceptedEpoch', 'log.5', 'snapshot.b.tmp']);
  assert.deepEqual(await zooKeeperFilesIn(disk, DIR), []);
});
