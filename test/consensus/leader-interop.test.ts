/**
 * Apache ZooKeeper 3.8 servers following a Paddock leader: Paddock (sid 3) has the best history,
 * is elected by both ZooKeeper servers, runs discovery (new epoch from their FOLLOWERINFO),
 * syncs them by DIFF from its log or by SNAP (its tree in ZooKeeper's serialization), reaches a NEWLEADER quorum, and its proposals are
 * acknowledged and committed; each ZooKeeper server then serves the same tree as Paddock's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/index.js';
import { OpCode } from '../../src/jute/constants.js';
import { decodeTxn, encodeTxn } from '../../src/jute/txn.js';
import { MajorityQuorum, quorumConfigText } from '../../src/consensus/members.js';
import { ServerState } from '../../src/consensus/wire.js';
import { makeZxid, type Zxid } from '../../src/consensus/zxid.js';
import { ElectionDriver } from '../../src/server/quorum/election-driver.js';
import { QuorumLeader } from '../../src/server/quorum/leader-driver.js';
import { DataTree } from '../../src/tree/datatree.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { compareTrees } from './zk-compare.js';
import { quorumPorts, startZooKeeperPeer, waitForMode } from './zk-quorum.js';

const skip = skipUnlessZooKeeper();
const TICK_MS = 200;
const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** A create of `/name` under the root, as prep would build it for `tree` at `zxid`. */
function createTxn(tree: DataTree, zxid: Zxid, name: string, data: string): Buffer {
  const root = tree.getNode('/')!;
  return encodeTxn({
    header: { sessionId: 0n, cxid: 0, zxid: Number(zxid), time: 1_700_000_000_000 + Number(zxid & 0xffffn), type: OpCode.create },
    body: { type: OpCode.create, path: `/${name}`, data: Buffer.from(data), acl: OPEN, ephemeral: false, parentCVersion: root.storedCversion + 1 },
  });
}

for (const mode of ['diff', 'snap'] as const) {
test(`2 ZooKeeper 3.8 servers follow a Paddock leader: discovery, ${mode.toUpperCase()}, NEWLEADER, UPTODATE, PROPOSAL/ACK/COMMIT`, { skip, timeout: 90_000 }, async (t) => {
  const members = await quorumPorts(3);
  // Paddock's history: five txns of epoch 1, which the ZooKeeper servers (empty) lack. For SNAP
  // the first three are only in Paddock's snapshot, so the empty followers are behind it.
  const history = new DataTree();
  const atSnapshot = new DataTree();
  const all = [];
  for (let i = 1n; i <= 5n; i++) {
    const zxid = makeZxid(1n, i);
    const entry = { zxid, data: createTxn(history, zxid, `before${i}`, `from the old epoch ${i}`) };
    history.apply(decodeTxn(entry.data));
    if (i <= 3n) atSnapshot.apply(decodeTxn(entry.data));
    all.push(entry);
  }
  const snapshotZxid = mode === 'snap' ? makeZxid(1n, 3n) : 0n;
  const log = all.filter((e) => e.zxid > snapshotZxid);
  const me = members[2]!;
  const leader = new QuorumLeader({
    host: me.host,
    port: me.quorumPort,
    tickTimeMs: TICK_MS,
    myId: 3n,
    quorum: new MajorityQuorum(members),
    acceptedEpoch: 1n,
    currentEpoch: 1n,
    log,
    snapshotZxid,
    ...(mode === 'snap' ? { snapshot: { tree: atSnapshot, sessions: new Map<bigint, number>() } } : {}),
    config: Buffer.from(quorumConfigText(members, 0n)),
    initLimitTicks: 150, // 30 s: the ZooKeeper JVMs may take long to boot on a loaded machine
    syncLimitTicks: 10,
  });
  const election = new ElectionDriver({ myId: 3n, servers: members, history: { lastLoggedZxid: makeZxid(1n, 5n), currentEpoch: 1n } });
  const zks = [startZooKeeperPeer(1n, members, TICK_MS), startZooKeeperPeer(2n, members, TICK_MS)];
  const clients = [];
  // The proposer's part for the sessions the ZooKeeper followers' clients open and close: a
  // createSession REQUEST carries the timeout; the txns complete the followers' requests.
  leader.on('request', (r) => {
    const header = { sessionId: r.sessionId, cxid: r.cxid, time: Date.now(), type: r.type };
    if (r.type === OpCode.createSession && r.body.length >= 4) {
      const timeOut = r.body.readInt32BE(0);
      void leader.propose((z) => encodeTxn({ header: { ...header, zxid: Number(z) }, body: { type: OpCode.createSession, timeOut } }));
    } else if (r.type === OpCode.closeSession) {
      void leader.propose((z) => encodeTxn({ header: { ...header, zxid: Number(z) }, body: { type: OpCode.closeSession, paths2Delete: [] } }));
    }
  });
  try {
    await leader.start();
    await election.start();
    const decision = await election.waitForDecision(40_000);
    assert.equal(decision.state, ServerState.LEADING);
    await leader.waitEstablished(30_000);
    assert.equal(leader.currentEpoch, 2n, 'new epoch = highest accepted epoch (Paddock\'s 1) + 1');
    election.updateElectionVote(2n);
    for (const sid of leader.syncedLearners()) assert.equal(leader.learnerSyncMode(sid), mode);
    assert.deepEqual((await Promise.all(zks.map((z) => waitForMode(z, 20_000)))).sort(), ['follower', 'follower']);

    // Broadcast: Paddock proposes, the ZooKeeper followers log and ACK, Paddock commits.
    for (let i = 0; i < 20; i++) {
      const zxid = await leader.propose((z) => createTxn(leader.tree, z, `node${i}`, `value ${i}`));
      assert.equal(zxid, makeZxid(2n, BigInt(i + 1)));
    }
    assert.equal(leader.lastCommittedZxid, makeZxid(2n, 20n));
    for (const z of zks) {
      const client = await connect(`127.0.0.1:${z.clientPort}`, { sessionTimeoutMs: 10_000 });
      clients.push(client);
      // This follower may apply the last COMMIT a moment after Paddock: wait for it by a watch.
      const { stat, changed } = await client.existsAndWatch('/node19');
      if (stat === null) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([changed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`server ${z.sid} never applied the last commit`)), 10_000)))]);
        clearTimeout(timer);
      }
      const compared = await compareTrees(client, leader.tree);
      assert.equal(compared, 1 + 5 + 20);
    }
    t.diagnostic(`both ZooKeeper followers serve Paddock's ${1 + 5 + 20} nodes; synced learners ${leader.syncedLearners().join(',')}`);
  } finally {
    for (const c of clients) await c.close();
    await Promise.all([...zks.map((z) => z.stop()), election.stop(), leader.stop()]);
  }
});
}
