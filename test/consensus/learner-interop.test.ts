/**
 * A Paddock learner following a real Apache ZooKeeper 3.8 leader: 2 ZooKeeper servers form the
 * ensemble, Paddock (sid 3) joins through the election and the quorum port, syncs (SNAP or DIFF),
 * keeps following PROPOSAL/COMMIT, and its tree equals ZooKeeper's node by node; restarted from
 * its store it resyncs by DIFF and matches again; restarted with a divergent txn appended to its
 * log it is sent TRUNC, drops the txn and matches again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { ServerState } from '../../src/consensus/wire.js';
import { ElectionDriver } from '../../src/server/quorum/election-driver.js';
import { lastLoggedZxid, MemoryLearnerStore, QuorumLearner } from '../../src/server/quorum/learner-driver.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { fourLetterWord, skipUnlessZooKeeper } from '../support/zookeeper.js';
import { compareTrees } from './zk-compare.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, type QuorumMemberPorts, type ZooKeeperPeer } from './zk-quorum.js';

const skip = skipUnlessZooKeeper();
/** Short ticks so that syncLimit (10 ticks in zk-quorum.ts) passes quickly: pings must keep us in. */
const TICK_MS = 200;

/** Elects with the ZooKeeper servers, then follows the leader from `store`. */
async function joinAsLearner(members: QuorumMemberPorts[], store: MemoryLearnerStore): Promise<{ election: ElectionDriver; learner: QuorumLearner }> {
  const state = store.load();
  const election = new ElectionDriver({ myId: 3n, servers: members, history: { lastLoggedZxid: lastLoggedZxid(state), currentEpoch: state.currentEpoch } });
  await election.start();
  const decision = await election.waitForDecision(30_000);
  assert.equal(decision.state, ServerState.FOLLOWING, 'Paddock follows the ZooKeeper ensemble');
  const leader = members.find((m) => m.sid === decision.vote.leader)!;
  const learner = new QuorumLearner({ myId: 3n, leader: { host: leader.host, port: leader.quorumPort }, store, tickTimeMs: TICK_MS, initLimit: 20, syncLimit: 10 });
  await learner.start();
  await learner.waitForSynced(20_000);
  election.updateElectionVote(learner.currentEpoch);
  return { election, learner };
}

/** Creates, updates and deletes under /zab/<prefix>; returns the zxid of the last write. */
async function writeSome(client: ZooKeeperClient, prefix: string, count: number): Promise<number> {
  await client.create(`/zab/${prefix}`, Buffer.from(prefix));
  for (let i = 0; i < count; i++) {
    await client.create(`/zab/${prefix}/n`, Buffer.from(`value ${i}`), { mode: 'persistentSequential' });
  }
  await client.setData(`/zab/${prefix}`, Buffer.from(`${prefix} updated`));
  const children = await client.getChildren(`/zab/${prefix}`);
  await client.delete(`/zab/${prefix}/${children.sort()[0]}`);
  // An ephemeral node: its owner comes from a createSession txn the learner must have applied.
  const { stat } = await client.create2(`/zab/${prefix}-eph`, null, { mode: 'ephemeral' });
  return Number(stat.czxid);
}

test('a Paddock learner follows a 2-server ZooKeeper 3.8 ensemble: SNAP or DIFF, broadcast, restart with DIFF, TRUNC of a divergent tail', { skip, timeout: 90_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zks: ZooKeeperPeer[] = [startZooKeeperPeer(1n, members, TICK_MS), startZooKeeperPeer(2n, members, TICK_MS)];
  const store = new MemoryLearnerStore();
  let client: ZooKeeperClient | null = null;
  const running: { election: ElectionDriver; learner: QuorumLearner }[] = [];
  try {
    const modes = await Promise.all(zks.map((z) => waitForMode(z, 40_000)));
    assert.deepEqual([...modes].sort(), ['follower', 'leader']);
    client = await connect(zks.map((z) => `127.0.0.1:${z.clientPort}`).join(','), { sessionTimeoutMs: 10_000 });
    await client.create('/zab', Buffer.from('root'));
    await writeSome(client, 'before', 40);

    // Join: the leader syncs us from its in-memory committed log or with a snapshot.
    const first = await joinAsLearner(members, store);
    running.push(first);
    const firstMode = first.learner.syncMode;
    assert.ok(firstMode === 'snap' || firstMode === 'diff', `first sync by ${firstMode}`);
    assert.equal(first.learner.currentEpoch, 1n);

    // Broadcast: new writes reach us as PROPOSAL/COMMIT.
    const afterJoin = await writeSome(client, 'following', 30);
    await client.sync('/zab');
    await first.learner.waitForZxid(afterJoin, 15_000);
    const n1 = await compareTrees(client, first.learner.tree);
    assert.ok(n1 > 70, `compared ${n1} nodes`);

    // Kill the learner (its store survives), write while it is away, restart: DIFF.
    await first.learner.stop();
    await first.election.stop();
    running.length = 0;
    const whileAway = await writeSome(client, 'away', 20);
    const second = await joinAsLearner(members, store);
    running.push(second);
    assert.equal(second.learner.syncMode, 'diff', 'a restarted learner within the committed log is synced by DIFF');
    await second.learner.waitForZxid(whileAway, 15_000);
    const afterRestart = await writeSome(client, 'again', 10);
    await second.learner.waitForZxid(afterRestart, 15_000);
    const n2 = await compareTrees(client, second.learner.tree);
    assert.ok(n2 > n1, `compared ${n2} nodes`);
    t.diagnostic(`first sync ${firstMode}, ${n1} nodes equal; after restart ${second.learner.syncMode}, ${n2} nodes equal`);
    // Past syncLimit (10 ticks) the leader still counts us as a synced follower: our PING
    // replies keep the connection alive. Waiting is the point here, not a synchronisation.
    await new Promise((r) => setTimeout(r, 12 * TICK_MS));
    assert.equal(second.learner.phase, 'broadcast');
    const leaderPeer = zks.find((z) => z.sid === second.election.decision?.vote.leader)!;
    const mntr = await fourLetterWord(leaderPeer.clientPort, 'mntr', '127.0.0.1', 5000);
    assert.match(mntr, /zk_synced_followers\s+2\b/, 'the ZooKeeper leader counts both followers, Paddock included');
    t.diagnostic(`leader ${leaderPeer.sid}: ${/zk_synced_followers\s+\d+/.exec(mntr)?.[0].replace(/\s+/, " ")}`);

    // A divergent tail: while stopped, the learner's log gains a txn the leader never had, in
    // the same epoch and past the leader's last zxid (as an old leader's unreplicated proposal
    // would be). The established leader sends TRUNC, the tail goes, the trees match again.
    await second.learner.stop();
    await second.election.stop();
    running.length = 0;
    const lastReal = lastLoggedZxid(store.load());
    const bogusZxid = lastReal + 1000n;
    const bogus = encodeTxn({
      header: { sessionId: 0n, cxid: 0, zxid: Number(bogusZxid), time: Date.now(), type: OpCode.create },
      body: { type: OpCode.create, path: '/zab/divergent', data: null, acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 0 },
    });
    store.append([{ zxid: bogusZxid, data: bogus }]);
    const third = await joinAsLearner(members, store);
    running.push(third);
    assert.equal(third.learner.syncMode, 'trunc', 'a learner ahead of the leader is truncated');
    assert.equal(third.learner.tree.getNode('/zab/divergent'), undefined);
    assert.ok(!store.load().log.some((e) => e.zxid === bogusZxid), 'the divergent txn is gone from the store');
    const afterTrunc = await writeSome(client, 'truncated', 5);
    await third.learner.waitForZxid(afterTrunc, 15_000);
    const n3 = await compareTrees(client, third.learner.tree);
    t.diagnostic(`after a divergent tail: ${third.learner.syncMode}, ${n3} nodes equal`);
  } finally {
    await client?.close();
    for (const r of running) {
      await r.learner.stop();
      await r.election.stop();
    }
    await Promise.all(zks.map((z) => z.stop()));
  }
});
