/**
 * A Paddock learner whose store cannot honour a real ZooKeeper 3.8 leader's TRUNC: its state is a
 * snapshot past the leader's history (as after a SNAP from a leader whose epoch never
 * established). ZooKeeper's own learner exits there; Paddock's ends the connection, rejoins
 * reporting zxid 0, is sent SNAP by the ZooKeeper leader, and matches its tree node by node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { JuteReader } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { ServerState } from '../../src/consensus/wire.js';
import { readZkSnapshotBody } from '../../src/persistence/zkformat.js';
import { ElectionDriver } from '../../src/server/quorum/election-driver.js';
import { lastLoggedZxid, MemoryLearnerStore, QuorumLearner } from '../../src/server/quorum/learner-driver.js';
import { writeZkSnapshotStream } from '../../src/server/quorum/zk-snapshot-stream.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { compareTrees } from './zk-compare.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, type QuorumMemberPorts, type ZooKeeperPeer } from './zk-quorum.js';

const skip = skipUnlessZooKeeper();
const TICK_MS = 200;

interface Joined {
  election: ElectionDriver;
  learner: QuorumLearner;
  /** Null once synced, else why the connection ended first. */
  failed: string | null;
}

/** Elects with the ZooKeeper servers (they already have a leader), connects to it and waits for UPTODATE or the end of the connection. */
async function join(members: QuorumMemberPorts[], store: MemoryLearnerStore): Promise<Joined> {
  const state = store.load();
  const election = new ElectionDriver({ myId: 3n, servers: members, history: { lastLoggedZxid: lastLoggedZxid(state), currentEpoch: state.currentEpoch } });
  await election.start();
  const decision = await election.waitForDecision(30_000);
  assert.equal(decision.state, ServerState.FOLLOWING);
  const leader = members.find((m) => m.sid === decision.vote.leader)!;
  const learner = new QuorumLearner({ myId: 3n, leader: { host: leader.host, port: leader.quorumPort }, store, tickTimeMs: TICK_MS, initLimit: 20, syncLimit: 10 });
  await learner.start();
  const failed = await learner.waitForSynced(20_000).then(
    () => null,
    (err: unknown) => (err as Error).message,
  );
  if (failed === null) election.updateElectionVote(learner.currentEpoch);
  return { election, learner, failed };
}

async function leave(j: Joined): Promise<void> {
  await j.learner.stop();
  await j.election.stop();
}

test('a TRUNC below the learner\'s snapshot from a ZooKeeper 3.8 leader: refused, then a full sync by SNAP', { skip, timeout: 90_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zks: ZooKeeperPeer[] = [startZooKeeperPeer(1n, members, TICK_MS), startZooKeeperPeer(2n, members, TICK_MS)];
  const store = new MemoryLearnerStore();
  let client: ZooKeeperClient | null = null;
  const running: Joined[] = [];
  try {
    const modes = await Promise.all(zks.map((z) => waitForMode(z, 40_000)));
    assert.deepEqual([...modes].sort(), ['follower', 'leader']);
    client = await connect(zks.map((z) => `127.0.0.1:${z.clientPort}`).join(','), { sessionTimeoutMs: 10_000 });
    await client.create('/full', Buffer.from('root'));
    for (let i = 0; i < 20; i++) await client.create(`/full/n${i}`, Buffer.from(`value ${i}`));

    const first = await join(members, store);
    running.push(first);
    assert.equal(first.failed, null, 'the first join syncs');
    await leave(first);
    running.length = 0;

    // The learner's whole state becomes a snapshot past the leader's history, holding a node the
    // leader never had: what a SNAP from a leader that then lost its epoch leaves behind.
    const tree = first.learner.tree;
    const snapZxid = lastLoggedZxid(store.load()) + 1000n;
    tree.apply({
      header: { sessionId: 0n, cxid: 0, zxid: Number(snapZxid), time: Date.now(), type: OpCode.create },
      body: { type: OpCode.create, path: '/never-committed', data: null, acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 0 },
    });
    const stream = writeZkSnapshotStream(tree, first.learner.sessions);
    store.installSnapshot(snapZxid, readZkSnapshotBody(new JuteReader(stream, 0, stream.length, 0x7fffffff)));

    const refused = await join(members, store);
    running.push(refused);
    assert.equal(refused.learner.syncMode, 'trunc');
    assert.match(refused.failed ?? '', /cannot truncate to 0x[0-9a-f]+, below the snapshot at/);
    assert.equal(store.load().fullSyncNeeded, true);
    assert.equal(lastLoggedZxid(store.load()), snapZxid, 'the refused TRUNC changed nothing');
    await leave(refused);
    running.length = 0;

    await client.create('/full/while-away', null);
    const again = await join(members, store);
    running.push(again);
    assert.equal(again.failed, null, 'the full sync completes');
    assert.equal(again.learner.syncMode, 'snap', 'a ZooKeeper leader answers zxid 0 with SNAP');
    assert.equal(store.load().fullSyncNeeded, false);
    assert.equal(again.learner.tree.getNode('/never-committed'), undefined);
    const { stat } = await client.create2('/full/after', null);
    await again.learner.waitForZxid(Number(stat.czxid), 15_000);
    const n = await compareTrees(client, again.learner.tree);
    t.diagnostic(`refused TRUNC, then ${again.learner.syncMode}: ${n} nodes equal`);
  } finally {
    await client?.close();
    for (const r of running) await leave(r);
    await Promise.all(zks.map((z) => z.stop()));
  }
});
