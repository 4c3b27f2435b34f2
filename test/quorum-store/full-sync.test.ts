/**
 * The full sync through the real learner driver and the on-disk store: a QuorumLearner over a
 * DiskQuorumStore whose state is a snapshot past the leader's history is TRUNCated below it,
 * refuses, and on its next connection reports zxid 0; the leader's DIFF from the start replaces
 * its state (tree, disk and a restart agree), and a later TRUNC can cut the uncommitted tail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { MemoryDisk } from '../../src/io/disk.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import type { LogEntry } from '../../src/consensus/learner.js';
import { encodeIntPayload, encodeQuorumPacket, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid, type Zxid } from '../../src/consensus/zxid.js';
import { decodeTxn } from '../../src/jute/txn.js';
import { replayTxn } from '../../src/sessions/replay.js';
import { DataTree } from '../../src/tree/index.js';
import { DiskQuorumStore } from '../../src/server/quorum/disk-store.js';
import { QuorumLearner } from '../../src/server/quorum/learner-driver.js';
import { TreeReplica } from '../../src/server/quorum/replica.js';
import { listenLoopback, readQuorumPackets } from '../consensus/scripted-peer.js';

const pkt = (type: number, zxid: bigint, data: Buffer | null = null): QuorumPacket => ({ type, zxid, data, authinfo: null });

function create(zxid: Zxid, path: string): LogEntry {
  const header = { sessionId: 0n, cxid: 0, zxid: Number(zxid), time: 1_700_000_000_000, type: OpCode.create };
  const body = { type: OpCode.create, path, data: Buffer.from(path), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 0 };
  return { zxid, data: encodeTxn({ header, body }) };
}

/** A leader of epoch 3 that answers each ACKEPOCH with `sync(peerLastZxid)`; records the zxids reported. */
async function leaderOf(sync: (peerLastZxid: bigint) => QuorumPacket[]): Promise<{ server: Server; port: number; reported: bigint[] }> {
  const reported: bigint[] = [];
  const { server, port } = await listenLoopback((socket) => {
    readQuorumPackets(socket, (p) => {
      if (p.type === PacketType.FOLLOWERINFO) socket.write(encodeQuorumPacket(pkt(PacketType.LEADERINFO, makeZxid(3n, 0n), encodeIntPayload(0x10000))));
      if (p.type === PacketType.ACKEPOCH) {
        reported.push(p.zxid);
        for (const out of sync(p.zxid)) socket.write(encodeQuorumPacket(out));
      }
    });
  });
  return { server, port, reported };
}

function model(entries: readonly LogEntry[]): DataTree {
  const tree = new DataTree();
  const sessions = new Map<bigint, number>();
  for (const e of entries) replayTxn(tree, sessions, decodeTxn(e.data));
  return tree;
}

test('a refused TRUNC, then a full sync by DIFF from zxid 0 through QuorumLearner and DiskQuorumStore', { timeout: 20_000 }, async () => {
  const history = [create(makeZxid(1n, 1n), '/a'), create(makeZxid(1n, 2n), '/b'), create(makeZxid(2n, 1n), '/c')];
  const outstanding = create(makeZxid(3n, 1n), '/d');
  const disk = new MemoryDisk();
  const options = { dataDir: '/zk/full', preAllocSizeKb: 1, isAlive: () => false };
  const { store } = await DiskQuorumStore.open(disk, options);
  await store.setAcceptedEpoch(2n);
  await store.setCurrentEpoch(2n);
  // A SNAP at 0x200000005 from a leader that lost its epoch: /never is in no later leader's history.
  const unestablished = model([...history.slice(0, 2), create(makeZxid(2n, 5n), '/never')]);
  await store.installSnapshot(makeZxid(2n, 5n), unestablished, new Map());

  const leader = await leaderOf((peer) => {
    if (peer !== 0n) return [pkt(PacketType.TRUNC, history[1]!.zxid)];
    // zxid 0: the whole history, then one outstanding proposal, NEWLEADER, UPTODATE.
    const out = [pkt(PacketType.DIFF, history.at(-1)!.zxid)];
    for (const e of history) out.push(pkt(PacketType.PROPOSAL, e.zxid, e.data), pkt(PacketType.COMMIT, e.zxid));
    out.push(pkt(PacketType.PROPOSAL, outstanding.zxid, outstanding.data), pkt(PacketType.NEWLEADER, makeZxid(3n, 0n)), pkt(PacketType.UPTODATE, 0n));
    return out;
  });
  const state = new TreeReplica();
  state.replace(unestablished, new Map());
  const learnerOf = (): QuorumLearner =>
    new QuorumLearner({ myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store, state, tickTimeMs: 50, initLimit: 40, syncLimit: 20 });
  try {
    const refused = learnerOf();
    await refused.start();
    await assert.rejects(refused.waitForSynced(5_000), /cannot truncate to zxid 0x100000002/);
    await refused.stop();
    assert.equal(store.fullSyncNeeded, true);
    assert.equal(store.lastLoggedZxid, makeZxid(2n, 5n), 'the refused TRUNC changed nothing');

    const full = learnerOf();
    await full.start();
    await full.waitForSynced(5_000);
    assert.deepEqual(leader.reported, [makeZxid(2n, 5n), 0n]);
    assert.equal(full.syncMode, 'diff');
    assert.equal(store.fullSyncNeeded, false);
    assert.equal(full.tree.getNode('/never'), undefined);
    assert.equal(full.tree.lastProcessedZxid, Number(history.at(-1)!.zxid), 'the committed txns are applied, the outstanding one is not');
    assert.ok(full.tree.getNode('/c') !== undefined && full.tree.getNode('/d') === undefined);
    // The committed prefix is the new snapshot; the outstanding proposal is logged after it.
    assert.equal(store.snapshotZxid, history.at(-1)!.zxid);
    assert.equal(store.lastLoggedZxid, outstanding.zxid);
    await full.stop();
  } finally {
    await new Promise((r) => leader.server.close(r));
  }
  await store.close();
  disk.crash();
  const again = await DiskQuorumStore.open(disk, options);
  // A restart replays the whole log, the outstanding proposal included (as ZooKeeper does).
  assert.deepEqual([...again.state.tree.childrenOf('/')].sort(), ['a', 'b', 'c', 'd', 'zookeeper']);
  assert.deepEqual([again.state.currentEpoch, again.state.lastLoggedZxid], [3n, outstanding.zxid]);
  // The uncommitted tail stays a log: a next leader without it can TRUNC it.
  const cut = await again.store.truncate(history.at(-1)!.zxid);
  assert.equal(cut.tree.getNode('/d'), undefined);
  await again.store.close();
});
