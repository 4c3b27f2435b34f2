/**
 * A ZooKeeper 3.8 ensemble member's data dir opened by DiskQuorumStore (the rolling replacement
 * of issue 12): two real ZooKeeper servers of a three-server ensemble take writes; the data dir
 * of one is copied as it is on disk (as kill -9 would leave it) and opened by Paddock with the
 * same layout. Its tree must equal what ZooKeeper serves node by node, with ZooKeeper's epochs
 * and last zxid; the txns after ZooKeeper's snapshot stay a log that TRUNC can cut; ZooKeeper's
 * files are kept aside; a crash at any point of the conversion is redone at the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from '../../src/client/index.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { epochOf } from '../../src/consensus/zxid.js';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import { nonZeroEnd } from '../../src/persistence/logformat.js';
import { ZK_BACKUP_DIR } from '../../src/persistence/zkmigrate.js';
import { DiskQuorumStore } from '../../src/server/quorum/disk-store.js';
import { treeDiff } from '../../src/tree/index.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { compareTrees } from '../consensus/zk-compare.js';
import { quorumPorts, startZooKeeperPeer, waitForMode } from '../consensus/zk-quorum.js';
import { forEachCrashPoint } from './crash.js';

const skip = skipUnlessZooKeeper();

/** Every file under `dir` by path, preallocated zeros cut off (ZooKeeper reads both the same). */
function filesUnder(dir: string, out = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, out);
    else {
      const bytes = readFileSync(path);
      out.set(path, bytes.subarray(0, nonZeroEnd(bytes, 0)));
    }
  }
  return out;
}

async function memoryDiskWith(files: ReadonlyMap<string, Buffer>): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  for (const [path, bytes] of files) {
    await disk.mkdirp(dirname(path));
    disk.setFile(path, bytes);
  }
  return disk;
}

test('a ZooKeeper 3.8 ensemble member\'s data dir opens in Paddock with its tree, epochs and last zxid', { skip, timeout: 180_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zk1 = startZooKeeperPeer(1n, members, 200);
  const zk2 = startZooKeeperPeer(2n, members, 200);
  const copy = mkdtempSync(join(tmpdir(), 'zk-migrate-'));
  t.after(async () => {
    await Promise.all([zk1.stop(), zk2.stop()]);
    rmSync(copy, { recursive: true, force: true });
  });
  await Promise.all([waitForMode(zk1, 60_000), waitForMode(zk2, 60_000)]);
  const client = await connect(`127.0.0.1:${zk1.clientPort}`, { sessionTimeoutMs: 30_000 });
  t.after(() => client.close().catch(() => undefined));
  await client.create('/app', 'root');
  for (let i = 0; i < 6; i++) await client.create('/app/seq-', `n${i}`, { mode: 'persistentSequential' });
  await client.delete('/app/seq-0000000003');
  await client.create('/app/eph', 'mine', { mode: 'ephemeral' });
  const ephemeralZxid = BigInt((await client.exists('/app/eph'))!.czxid);
  await client.multi([
    { type: 'create', path: '/app/m', data: 'x' },
    { type: 'setData', path: '/app', data: 'after multi' },
  ]);
  const last = await client.setData('/app/m', Buffer.from([0, 1, 2, 255]));
  const lastZxid = BigInt(last.mzxid);

  // The follower's or leader's disk as it is now: every acknowledged txn is in its log.
  cpSync(zk1.dataDir, copy, { recursive: true });
  const v2 = join(copy, 'version-2');
  const zkEpochs = { accepted: BigInt(readFileSync(join(v2, 'acceptedEpoch'), 'latin1')), current: BigInt(readFileSync(join(v2, 'currentEpoch'), 'latin1')) };
  const zkFiles = readdirSync(v2).filter((n) => n.startsWith('log.') || n.startsWith('snapshot.')).sort();
  assert.ok(zkFiles.some((n) => n.startsWith('log.')) && zkFiles.some((n) => n.startsWith('snapshot.')), zkFiles.join(','));
  // A copy for the crash-point run below, before the conversion changes anything.
  const source = filesUnder(copy);

  const disk = new NodeDisk();
  const opened = await DiskQuorumStore.open(disk, { dataDir: copy, preAllocSizeKb: 16 });
  assert.ok(opened.imported, 'converted');
  assert.match(opened.warnings[0]!, /converted the Apache ZooKeeper data/);
  assert.equal(opened.state.lastLoggedZxid, lastZxid);
  assert.equal(opened.state.acceptedEpoch, zkEpochs.accepted);
  assert.equal(opened.state.currentEpoch, zkEpochs.current);
  assert.ok(epochOf(lastZxid) <= zkEpochs.current);
  assert.ok(opened.state.sessions.has(client.sessionId!), 'the client\'s session is kept');
  const compared = await compareTrees(client, opened.state.tree);
  assert.ok(compared >= 8, `${compared} nodes compared`);
  // ZooKeeper's files are kept aside, untouched; myid stays.
  assert.deepEqual(readdirSync(join(copy, ZK_BACKUP_DIR)).sort(), zkFiles);
  assert.ok(existsSync(join(copy, 'myid')));
  // ZooKeeper's newest snapshot became a Paddock one, the txns after it a Paddock log.
  const zkSnapshot = zkFiles.filter((n) => n.startsWith('snapshot.')).map((n) => parseInt(n.slice(9), 16)).sort((a, b) => b - a)[0]!;
  assert.equal(opened.imported.snapshotZxid, zkSnapshot);
  assert.equal(BigInt(opened.imported.lastZxid), lastZxid);
  assert.ok(opened.imported.txns >= 10, `${opened.imported.txns} txns after the snapshot`);
  const converted = readdirSync(v2).filter((n) => !n.endsWith('Epoch')).sort();
  assert.equal(converted.filter((n) => n.startsWith('log.')).length, 1, converted.join(','));
  assert.deepEqual(converted.filter((n) => n.startsWith('snapshot.')), [`snapshot.${zkSnapshot.toString(16)}`]);

  // Paddock goes on from ZooKeeper's last zxid, and a restart does not convert again.
  const next = lastZxid + 1n;
  const txn = encodeTxn({
    header: { sessionId: 0n, cxid: 0, zxid: Number(next), time: Date.now(), type: OpCode.create },
    body: { type: OpCode.create, path: '/after', data: Buffer.from('paddock'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: opened.state.tree.statOf(opened.state.tree.getNode('/')!).cversion + 1 },
  });
  await opened.store.append([{ zxid: next, data: txn }]);
  await opened.store.close();
  const again = await DiskQuorumStore.open(disk, { dataDir: copy, preAllocSizeKb: 16 });
  assert.equal(again.imported, null);
  assert.equal(again.state.lastLoggedZxid, next);
  assert.ok(again.state.tree.getNode('/after'));
  assert.equal(again.state.currentEpoch, zkEpochs.current);
  // The history ZooKeeper logged can still be truncated, as a leader's TRUNC asks.
  const truncated = await again.store.truncate(ephemeralZxid);
  assert.equal(truncated.lastLoggedZxid, ephemeralZxid);
  assert.ok(truncated.tree.getNode('/app/eph') && !truncated.tree.getNode('/app/m') && !truncated.tree.getNode('/after'));
  await again.store.close();

  // A crash at any point of the conversion: the next start finishes it, with the same result.
  const reference = opened.state;
  const points = await forEachCrashPoint(
    () => memoryDiskWith(source),
    async (d) => {
      const o = await DiskQuorumStore.open(d, { dataDir: copy, preAllocSizeKb: 0 });
      await o.store.close();
    },
    async ({ disk: d }) => {
      const o = await DiskQuorumStore.open(d, { dataDir: copy, preAllocSizeKb: 0 });
      assert.equal(treeDiff(o.state.tree, reference.tree), null);
      assert.deepEqual(o.state.sessions, reference.sessions);
      assert.deepEqual([o.state.acceptedEpoch, o.state.currentEpoch, o.state.lastLoggedZxid], [zkEpochs.accepted, zkEpochs.current, lastZxid]);
      const backup = (await d.list(join(copy, ZK_BACKUP_DIR))).sort();
      assert.deepEqual(backup, zkFiles);
      await o.store.close();
    },
  );
  assert.ok(points > 10, `only ${points} crash points`);
});
