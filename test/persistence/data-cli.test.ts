import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeDisk } from '../../src/io/disk.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn, type Txn } from '../../src/jute/txn.js';
import { closeStore, openStore, takeSnapshot } from '../../src/persistence/store.js';
import { DataTree } from '../../src/tree/datatree.js';
import { serializeSnapshot } from '../../src/tree/snapshot.js';
import { runData, tempDir } from './helpers.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

function createTxn(zxid: number, path: string, data: string): Txn {
  return {
    header: { sessionId: 0x1234n, cxid: zxid, zxid, time: 1_700_000_000_000 + zxid, type: OpCode.create },
    body: { type: OpCode.create, path, data: Buffer.from(data), acl: OPEN, ephemeral: false, parentCVersion: zxid },
  };
}

/** A data dir with snapshot.0 (empty tree), /a and /b in log.1, a snapshot at 2, /c in log.3. */
async function makeDataDir(t: { after(fn: () => void): void }): Promise<string> {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  const tree = new DataTree();
  await takeSnapshot(disk, store, 0, serializeSnapshot(tree, new Map()));
  const txns = [createTxn(1, '/a', 'hello'), createTxn(2, '/b', 'world')];
  for (const txn of txns) {
    await store.log.append(txn.header.zxid, encodeTxn(txn));
    tree.apply(txn);
  }
  await takeSnapshot(disk, store, 2, serializeSnapshot(tree, new Map([[0x1234n, 30000]])));
  const c = createTxn(3, '/c', 'again');
  await store.log.append(3, encodeTxn(c));
  await closeStore(store);
  return dataDir;
}

test('inspect lists snapshots and segments with zxid ranges and verified checksums', async (t) => {
  const dir = await makeDataDir(t);
  const r = await runData(['inspect', dir]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /snapshot\.0 +zxid 0x0 .* ok \(checksum verified\)/);
  assert.match(r.out, /snapshot\.2 +zxid 0x2 /);
  assert.match(r.out, /log\.1 +zxids 0x1-0x2 \(2 txns\) +\d+ of 4096 bytes used  ok/);
  assert.match(r.out, /log\.3 +zxids 0x3-0x3 \(1 txn\)/);
  assert.match(r.out, /all checksums verified/);
  // The version-2 directory itself works too.
  assert.equal((await runData(['inspect', join(dir, 'version-2')])).status, 0);
});

test('dump decodes every txn, and --tree prints the current tree: the newest snapshot plus the log after it', async (t) => {
  const dir = await makeDataDir(t);
  const r = await runData(['dump', dir, '--tree']);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^0x1 2023-11-14T22:13:20\.001Z session 0x1234 cxid 1 create \/a data="hello" acl=\[world:anyone \(rwcda\)\] ephemeral=false parentCVersion=1$/m);
  assert.match(r.out, /^0x3 .* create \/c data="again"/m);
  assert.match(r.out, /^# tree as of zxid 0x3: snapshot\.2 \(zxid 0x2\) plus 1 txn from the log; \d+ znodes, 1 session$/m);
  assert.match(r.out, /^\/b data="world" .*mzxid=0x2 /m);
  // /c was created after the snapshot, in the log only.
  assert.match(r.out, /^\/c data="again" acl=\[world:anyone \(rwcda\)\] czxid=0x3 mzxid=0x3 /m);
});

test('dump: ACL permissions are set apart from ids that hold = and :, failed txns name their error', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  await takeSnapshot(disk, store, 0, serializeSnapshot(new DataTree(), new Map()));
  const digest = createTxn(1, '/secret', 'x');
  if (digest.body.type !== OpCode.create) throw new Error('unreachable');
  digest.body.acl = [
    { perms: 31, id: { scheme: 'digest', id: 'alice:Kx0Zp6mRlu5dS0bLV7sKrTnYc1o=' } },
    { perms: 1, id: { scheme: 'ip', id: '10.0.0.0/8' } },
  ];
  const failed: Txn = { header: { sessionId: 0x1234n, cxid: 2, zxid: 2, time: 1_700_000_000_002, type: OpCode.error }, body: { type: OpCode.error, err: -101 } };
  await store.log.append(1, encodeTxn(digest));
  await store.log.append(2, encodeTxn(failed));
  await closeStore(store);
  const r = await runData(['dump', dataDir]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /acl=\[digest:alice:Kx0Zp6mRlu5dS0bLV7sKrTnYc1o= \(rwcda\), ip:10\.0\.0\.0\/8 \(r\)\]/);
  assert.match(r.out, /^0x2 .* error err=NONODE$/m);
});

test('dump shows a session id of a server id >= 128 as unsigned hex, as ZooKeeper logs it', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  await takeSnapshot(disk, store, 0, serializeSnapshot(new DataTree(), new Map()));
  const session = BigInt.asIntN(64, 0xc800000000000001n); // server id 200
  const txn: Txn = {
    header: { sessionId: session, cxid: 0, zxid: 1, time: 1_700_000_000_001, type: OpCode.createSession },
    body: { type: OpCode.createSession, timeOut: 30000 },
  };
  await store.log.append(1, encodeTxn(txn));
  await closeStore(store);
  const r = await runData(['dump', dataDir]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^0x1 .* session 0xc800000000000001 cxid 0 createSession/m);
});

test('damage: inspect and dump name the file and offset; a torn tail and a middle corruption differ', async (t) => {
  const dir = await makeDataDir(t);
  const log1 = join(dir, 'version-2', 'log.1');
  const bytes = readFileSync(log1);
  const second = 20 + 16 + encodeTxn(createTxn(1, '/a', 'hello')).length;
  // Flip a bit in the last record of log.1: log.3 follows with a valid record, so it is middle damage.
  bytes[second + 20] ^= 4;
  writeFileSync(log1, bytes);
  const r = await runData(['inspect', dir]);
  assert.equal(r.status, 1);
  assert.match(r.out, new RegExp(`log\\.1 .*CORRUPT at byte offset ${second}: checksum mismatch`));
  const d = await runData(['dump', dir]);
  assert.equal(d.status, 1);
  assert.equal(d.err, `${log1}:${second}: corrupted record: checksum mismatch\n`);
  // Without log.3 the same damage is a torn tail that a start would truncate.
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'version-2', 'log.3'));
  const r2 = await runData(['inspect', dir]);
  assert.equal(r2.status, 1);
  assert.match(r2.out, /torn tail at byte offset \d+: checksum mismatch; \d+ bytes will be truncated at the next start/);
});

test('bad input gets one clear line and a non-zero status', async (t) => {
  const base = tempDir(t);
  const missing = await runData(['inspect', join(base, 'nope')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.err, `paddock data inspect: ${join(base, 'nope')}: no such directory\n`);
  const notData = await runData(['dump', base]);
  assert.equal(notData.status, 1);
  assert.match(notData.err, /^paddock data dump: .*: not a Paddock data directory \(no version-2\/ subdirectory, no snapshot\.\* or log\.\* files\)\n$/);
  const file = join(base, 'f');
  writeFileSync(file, 'x');
  assert.match((await runData(['inspect', file])).err, /not a directory/);
  // An Apache ZooKeeper file is recognised as such.
  mkdirSync(join(base, 'zk', 'version-2'), { recursive: true });
  const zk = Buffer.alloc(64);
  zk.writeUInt32BE(0x5a4b4c47, 0);
  writeFileSync(join(base, 'zk', 'version-2', 'log.1'), zk);
  const z = await runData(['inspect', join(base, 'zk')]);
  assert.equal(z.status, 1);
  assert.match(z.out, /Apache ZooKeeper file/);
  assert.equal((await runData(['inspect'])).status, 2);
  assert.equal((await runData(['frobnicate'])).status, 2);
  assert.equal((await runData(['purge', base, '-n', '2'])).status, 2);
});

/** Ten segments of three txns each after snapshot.0: log.1, log.4, ..., log.1c. */
async function tenSegments(t: { after(fn: () => void): void }): Promise<string> {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  await takeSnapshot(disk, store, 0, serializeSnapshot(new DataTree(), new Map()));
  for (let z = 1; z <= 30; z++) {
    await store.log.append(z, encodeTxn(createTxn(z, `/n${z}`, 'x')));
    if (z % 3 === 0) store.log.roll();
  }
  await closeStore(store);
  return dataDir;
}

test('inspect: a missing middle segment is a hole in the history, reported with its range, exit 1', async (t) => {
  const dir = await tenSegments(t);
  const healthy = await runData(['inspect', dir]);
  assert.equal(healthy.status, 0, healthy.out);
  assert.match(healthy.out, /txn history: contiguous from snapshot\.0 \(zxid 0x0\) to zxid 0x1e\n/);
  rmSync(join(dir, 'version-2', 'log.d'));
  const r = await runData(['inspect', dir]);
  assert.equal(r.status, 1);
  assert.match(r.out, /MISSING zxids 0xd-0xf \(3 txns\) between log\.a and log\.10 in /);
  assert.match(r.out, /--accept-data-loss/);
  assert.match(r.out, /1 gap in the txn history\n$/);
  assert.doesNotMatch(r.out, /all checksums verified/);
  const d = await runData(['dump', dir]);
  assert.equal(d.status, 1);
  assert.match(d.err, /zxids 0xd-0xf \(3 txns\) missing between log\.a and log\.10/);
});

test('inspect: a hole that a newer snapshot covers is a note, not a problem', async (t) => {
  const dir = await tenSegments(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir: dir, preAllocSizeKb: 4 });
  await takeSnapshot(disk, store, 30, serializeSnapshot(new DataTree(), new Map()));
  await store.log.append(31, encodeTxn(createTxn(31, '/n31', 'x')));
  await closeStore(store);
  rmSync(join(dir, 'version-2', 'log.d'));
  const r = await runData(['inspect', dir]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /note: zxids 0xd-0xf \(3 txns\) missing between log\.a and log\.10 .*snapshot\.1e covers them/);
});

test('purge keeps the newest N snapshots', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  for (let z = 0; z < 5; z++) {
    if (z > 0) await store.log.append(z, encodeTxn(createTxn(z, `/n${z}`, 'x')));
    await takeSnapshot(disk, store, z, [Buffer.from('t')]);
  }
  await closeStore(store);
  const r = await runData(['purge', dataDir, '-n', '3']);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /removed .*snapshot\.1\nremoved .*snapshot\.0\n/);
  assert.match(r.out, /removed .*log\.1\n/);
  assert.match(r.out, /kept 3 snapshots and 3 log segments/);
});

test('purge: counts in the right number', async (t) => {
  const dataDir = tempDir(t);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 4 });
  await takeSnapshot(disk, store, 0, [Buffer.from('t')]);
  await store.log.append(1, encodeTxn(createTxn(1, '/n1', 'x')));
  await closeStore(store);
  const r = await runData(['purge', dataDir]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, 'kept 1 snapshot and 1 log segment\n');
});
