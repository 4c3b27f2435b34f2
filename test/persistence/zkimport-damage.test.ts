/**
 * import-zookeeper over damaged or incomplete ZooKeeper histories, built byte by byte in
 * ZooKeeper's format: each damage is refused (naming the file and the zxid reached) unless
 * --accept-data-loss, which imports what can be read and states how far the history is complete.
 * Healthy shapes (a torn last txn, a torn txn whose zxid the next log reuses, a new epoch) import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeDisk } from '../../src/io/disk.js';
import { JuteWriter } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { loadNewestValidSnapshot } from '../../src/persistence/snapshots.js';
import { adler32, readZkLog, ZK_LOG_MAGIC, ZK_SNAP_MAGIC } from '../../src/persistence/zkformat.js';
import { deserializeSnapshot } from '../../src/tree/snapshot.js';
import { runData, tempDir } from './helpers.js';

const EPOCH = 2 ** 32;
const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** A ZooKeeper snapshot holding only the root, at `zxid`. */
function zkSnapshot(): Buffer {
  const w = new JuteWriter();
  w.int(ZK_SNAP_MAGIC).int(2).long(0n);
  w.int(0); // sessions
  w.int(0); // ACL cache
  w.string('').buffer(Buffer.alloc(0)).long(-1n);
  for (const v of [0, 0, 0, 0]) w.longNumber(v); // czxid mzxid ctime mtime
  w.int(0).int(0).int(0).long(0n).longNumber(0); // version cversion aversion ephemeralOwner pzxid
  w.string('/');
  const body = w.bytes();
  const seal = new JuteWriter().long(BigInt(adler32(body))).string('/').bytes();
  return Buffer.concat([body, seal]);
}

/** One framed ZooKeeper log entry: long adler32, int length, the txn, 'B'. */
function zkEntry(zxid: number): Buffer {
  const txn = encodeTxn({
    header: { sessionId: 0x1234n, cxid: zxid, zxid, time: 1_700_000_000_000, type: OpCode.create },
    body: { type: OpCode.create, path: `/n${zxid.toString(16)}`, data: Buffer.from('x'), acl: OPEN, ephemeral: false, parentCVersion: 1 },
  });
  const head = Buffer.alloc(12);
  head.writeUInt32BE(adler32(txn), 4);
  head.writeInt32BE(txn.length, 8);
  return Buffer.concat([head, txn, Buffer.from('B')]);
}

function zkLog(zxids: number[], tail: Buffer = Buffer.alloc(0), zeros = 64): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(ZK_LOG_MAGIC, 0);
  header.writeInt32BE(2, 4);
  return Buffer.concat([header, ...zxids.map(zkEntry), tail, Buffer.alloc(zeros)]);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A ZooKeeper dataDir: snapshot.0 and the given logs (name -> bytes). */
function zkDir(t: { after(fn: () => void): void }, logs: Record<string, Buffer>): string {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'version-2'));
  writeFileSync(join(dir, 'version-2', 'snapshot.0'), zkSnapshot());
  for (const [name, bytes] of Object.entries(logs)) writeFileSync(join(dir, 'version-2', name), bytes);
  return dir;
}

/** Imports into a fresh directory; returns the result and the znodes of the Paddock snapshot. */
async function importDir(t: { after(fn: () => void): void }, zk: string, accept = false): Promise<{ status: number; out: string; err: string; paths: string[] }> {
  const outDir = join(tempDir(t), 'paddock');
  const r = await runData(['import-zookeeper', zk, outDir, ...(accept ? ['--accept-data-loss'] : [])]);
  let paths: string[] = [];
  if (r.status === 0) {
    const { snapshot } = await loadNewestValidSnapshot(new NodeDisk(), join(outDir, 'version-2'));
    const tree = deserializeSnapshot(snapshot!.data).tree;
    paths = tree.childrenOf('/').filter((p) => p.startsWith('n')).sort();
  }
  return { ...r, paths };
}

test('healthy history imports: contiguous logs, a torn last txn of the last log, a new epoch', async (t) => {
  const torn = zkEntry(21).subarray(0, 30);
  const zk = zkDir(t, { 'log.1': zkLog(range(1, 10)), 'log.b': zkLog(range(11, 20), torn) });
  const r = await importDir(t, zk);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^imported \d+ znodes and 0 sessions as of zxid 0x14 \(20 txns replayed from the ZooKeeper log\) into /);
  assert.match(r.err, /log\.b at byte offset \d+: partial last txn ignored/);
  assert.equal(r.paths.length, 20);
  const epochs = zkDir(t, { 'log.1': zkLog(range(1, 5)), [`log.${(EPOCH + 1).toString(16)}`]: zkLog([EPOCH + 1, EPOCH + 2]) });
  const e = await importDir(t, epochs);
  assert.equal(e.status, 0, e.err);
  assert.match(e.out, /as of zxid 0x100000002 \(7 txns/);
});

test('a torn txn at the end of a middle log whose zxid the next log reuses is not a loss', async (t) => {
  // ZooKeeper crashed mid-write of txn 11, restarted, and logged 11 again in a new log.
  const zk = zkDir(t, { 'log.1': zkLog(range(1, 10), zkEntry(11).subarray(0, 40), 0), 'log.b': zkLog(range(11, 12)) });
  const r = await importDir(t, zk);
  assert.equal(r.status, 0, r.err);
  assert.match(r.err, /log\.1 at byte offset \d+: partial txn ignored; the next log goes on from zxid 0xb/);
  assert.match(r.out, /as of zxid 0xc /);
});

test('a torn end followed only by an empty last log, or a last log with a torn header, is the end of the history', async (t) => {
  const header = zkLog([], Buffer.alloc(0), 0);
  const zk = zkDir(t, { 'log.1': zkLog(range(1, 10), zkEntry(11).subarray(0, 40), 0), 'log.b': header, 'log.c': header.subarray(0, 7) });
  const r = await importDir(t, zk);
  assert.equal(r.status, 0, r.err);
  assert.match(r.err, /log\.1 at byte offset \d+: partial last txn ignored/);
  assert.match(r.err, /log\.c: last log without a complete header ignored/);
  assert.match(r.out, /as of zxid 0xa /);
  // The same torn header in a middle log: fine when the next log goes on, a loss when it skips.
  const fine = await importDir(t, zkDir(t, { 'log.1': zkLog(range(1, 10)), 'log.b': header.subarray(0, 7), 'log.c': zkLog(range(11, 13)) }));
  assert.equal(fine.status, 0, fine.err);
  assert.match(fine.err, /log\.b \(no complete header\): partial txn ignored; the next log goes on from zxid 0xb/);
  const skips = await importDir(t, zkDir(t, { 'log.1': zkLog(range(1, 10)), 'log.b': header.subarray(0, 7), 'log.c': zkLog(range(12, 13)) }));
  assert.equal(skips.status, 1);
  assert.match(skips.err, /zxid 0xb \(1 txn\) missing before .*log\.c: a log is missing or truncated \(after the partial write at .*log\.b \(no complete header\)\)\. The history is complete only up to zxid 0xa/);
  // A header that is there but wrong is damage, wherever it is.
  const garbage = Buffer.from(header);
  garbage.writeUInt32BE(0xdeadbeef, 0);
  const bad = await importDir(t, zkDir(t, { 'log.1': zkLog(range(1, 10)), 'log.b': garbage }));
  assert.equal(bad.status, 1);
  assert.match(bad.err, /log\.b: not a ZooKeeper txn log .*complete only up to zxid 0xa/);
});

/** Each kind of damage in log.b, the middle one of three logs (1-10, 11-20, 21-30). */
function damaged(kind: string): Record<string, Buffer> {
  const logs: Record<string, Buffer> = { 'log.1': zkLog(range(1, 10)), 'log.b': zkLog(range(11, 20)), 'log.15': zkLog(range(21, 30)) };
  const middle = logs['log.b']!;
  const fourth = 16 + range(11, 13).reduce((n, z) => n + zkEntry(z).length, 0); // the entry of zxid 14
  switch (kind) {
    case 'length 0x7ffffff0':
      middle.writeInt32BE(0x7ffffff0, fourth + 8);
      break;
    case 'length -5':
      middle.writeInt32BE(-5, fourth + 8);
      break;
    case 'truncated mid-txn':
      logs['log.b'] = middle.subarray(0, fourth + 30);
      break;
    case 'truncated at a txn boundary':
      logs['log.b'] = middle.subarray(0, fourth);
      break;
    case 'missing':
      delete logs['log.b'];
      break;
    case 'checksum':
      middle[fourth + 40] ^= 1;
      break;
  }
  return logs;
}

for (const kind of ['length 0x7ffffff0', 'length -5', 'truncated mid-txn', 'truncated at a txn boundary', 'missing', 'checksum']) {
  test(`damaged middle log (${kind}): refused naming the file and the zxid reached; --accept-data-loss imports what is left`, async (t) => {
    const zk = zkDir(t, damaged(kind));
    const r = await importDir(t, zk);
    assert.equal(r.status, 1, r.out);
    assert.equal(r.out, '');
    const reached = kind === 'missing' ? '0xa' : '0xd';
    assert.match(r.err, new RegExp(`^paddock data import-zookeeper: .*log\\.(b|15).*The history is complete only up to zxid ${reached}; refusing`));
    assert.match(r.err, /--accept-data-loss/);
    assert.equal(r.err.split('\n').length, 2, 'one line');

    const a = await importDir(t, zk, true);
    assert.equal(a.status, 0, a.err);
    assert.match(a.err, /LOST \(accepted\): /);
    assert.match(a.out, new RegExp(`as of zxid 0x1e \\(\\d+ txns replayed from the ZooKeeper log; the history is complete only up to zxid ${reached}, 1 loss accepted`));
    // Everything readable is there: up to the damage, any valid txns after it, the last log.
    const readable: Record<string, number[]> = { missing: range(1, 10), 'length -5': [...range(1, 13), ...range(15, 20)] };
    readable['length 0x7ffffff0'] = readable['length -5']!;
    readable.checksum = readable['length -5']!;
    const expected = [...(readable[kind] ?? range(1, 13)), ...range(21, 30)].map((z) => `n${z.toString(16)}`).sort();
    if (readable[kind]?.includes(15)) assert.match(a.err, /; zxid 0xe \(1 txn\) lost with it\n/);
    assert.deepEqual(a.paths, expected);
  });
}

test('bad length in the last log with valid txns after it is refused too', async (t) => {
  const log = zkLog(range(11, 20));
  const fourth = 16 + range(11, 13).reduce((n, z) => n + zkEntry(z).length, 0);
  log.writeInt32BE(-5, fourth + 8);
  const r = await importDir(t, zkDir(t, { 'log.1': zkLog(range(1, 10)), 'log.b': log }));
  assert.equal(r.status, 1);
  assert.match(r.err, /log\.b at byte offset \d+: bad txn length -5 after zxid 0xd, valid txns follow at byte offset \d+/);
});

test('readZkLog reports where and why it stopped, and whether valid txns follow', () => {
  const log = zkLog(range(1, 3));
  const second = 16 + zkEntry(1).length;
  log.writeInt32BE(-5, second + 8);
  const scan = readZkLog(log);
  assert.deepEqual(scan.records.map((r) => r.zxid), [1]);
  assert.equal(scan.stop?.offset, second);
  assert.equal(scan.stop?.torn, false);
  assert.equal(scan.stop?.validRecordAfter, second + zkEntry(2).length);
  assert.equal(readZkLog(zkLog(range(1, 3))).stop, null);
  const torn = readZkLog(zkLog(range(1, 2), zkEntry(3).subarray(0, 20), 0));
  assert.equal(torn.stop?.torn, true);
  assert.equal(torn.stop?.validRecordAfter, null);
});
