/**
 * Three Paddock servers as one ensemble in this process: elections, a leader and followers,
 * writes forwarded to the leader, reads served everywhere, sessions and ephemerals replicated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { leaderOf, modeOf, running, startCluster, type Cluster } from './cluster.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { RawClient } from '../support/rawclient.js';

function clientOf(cluster: Cluster, id: number): Promise<ZooKeeperClient> {
  return connect(`127.0.0.1:${cluster.members[id - 1]!.clientPort}`, { sessionTimeoutMs: 6000 });
}

/** Clients on every member, closed at the end of the test. */
async function clientsEverywhere(cluster: Cluster, t: { after(fn: () => Promise<void>): void }): Promise<ZooKeeperClient[]> {
  const clients: ZooKeeperClient[] = [];
  for (const m of cluster.members) clients.push(await clientOf(cluster, m.id));
  t.after(async () => {
    for (const c of clients) await c.close();
  });
  return clients;
}

test('three Paddock servers elect one leader; writes on any server are read on every server', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const leader = leaderOf(cluster)!;
  const followers = cluster.members.filter((m) => m !== leader);
  assert.equal(followers.length, 2);

  const clients = await clientsEverywhere(cluster, t);
  const onFollower = clients[followers[0]!.id - 1]!;
  await onFollower.create('/app', 'v0');
  const stat = await onFollower.setData('/app', 'v1');
  assert.equal(stat.version, 1);
  // The writer reads its own write at once (its server applied the commit before answering).
  assert.equal((await onFollower.getData('/app')).data.toString(), 'v1');
  for (const c of clients) {
    await c.sync('/app');
    const { data, stat: s } = await c.getData('/app');
    assert.equal(data.toString(), 'v1');
    assert.equal(s.mzxid, stat.mzxid);
  }
  // zxids come from the leader's epoch: epoch << 32 | counter.
  assert.ok(stat.mzxid >> 32n >= 1n, `zxid ${stat.mzxid.toString(16)} carries an epoch`);

  // A failed write is answered by its own server with the leader's error.
  await assert.rejects(onFollower.create('/app', 'again'), /NODEEXISTS|exists/i);

  for (const s of running(cluster)) {
    const srvr = await fourLetterWord(s.port, 'srvr');
    assert.match(srvr, new RegExp(`Mode: ${modeOf(s)}`));
  }
  const mntr = await fourLetterWord(leader.clientPort, 'mntr');
  assert.match(mntr, /^zk_version\t.*\nzk_server_state\tleader\nzk_peer_state\tleading - broadcast\n/);
  assert.match(mntr, /zk_synced_followers\t2/);
  assert.match(mntr, /zk_pending_syncs\t0/);
  assert.match(mntr, /zk_quorum_size\t3/);
  assert.match(await fourLetterWord(followers[0]!.clientPort, 'mntr'), /zk_peer_state\tfollowing - broadcast/);
  assert.match(await fourLetterWord(leader.clientPort, 'srvr'), /\nProposal sizes last\/min\/max: \d+\/\d+\/\d+\n/);
  // conf ends with the quorum part, as a ZooKeeper ensemble member prints it.
  const me = cluster.servers[followers[0]!.id - 1]!;
  const conf = await fourLetterWord(followers[0]!.clientPort, 'conf');
  assert.ok(conf.endsWith(`initLimit=25\nsyncLimit=10\nelectionAlg=3\nelectionPort=${me.electionPort}\nquorumPort=${me.quorumPort}\npeerType=0\nmembership: \n` +
    cluster.servers.map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort}:participant`).join('\n') + '\nversion=0\n'), conf);
});

test('sequential names are unique across servers; ephemerals vanish everywhere with their session', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const clients = await clientsEverywhere(cluster, t);
  await clients[0]!.create('/q', '');
  const made = await Promise.all(
    clients.flatMap((c) => Array.from({ length: 10 }, () => c.create('/q/item-', '', { mode: 'persistentSequential' }))),
  );
  assert.equal(new Set(made).size, 30, 'every sequential name is unique');
  for (const c of clients) {
    await c.sync('/q');
    assert.deepEqual((await c.getChildren('/q')).sort(), made.map((p) => p.slice('/q/'.length)).sort());
  }

  const owner = await clientOf(cluster, 2);
  await owner.create('/eph', 'mine', { mode: 'ephemeral' });
  for (const c of clients) {
    await c.sync('/eph');
    assert.notEqual(await c.exists('/eph'), null);
  }
  await owner.close();
  for (const c of clients) {
    await c.sync('/eph');
    assert.equal(await c.exists('/eph'), null, 'the ephemeral is gone once its session closed');
  }
  for (const s of running(cluster)) assert.equal(s.server.tree.ephemeralCount(), 0);
});

test('/zookeeper/config holds the membership; leaderServes=no keeps clients off the leader', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3, { leaderServes: false });
  t.after(() => cluster.close());
  const leader = leaderOf(cluster)!;
  const follower = cluster.members.find((m) => m !== leader)!;
  const client = await clientOf(cluster, follower.id);
  t.after(() => client.close());
  const { data } = await client.getConfig();
  const expected = cluster.servers.map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort}:participant`).join('\n') + '\nversion=0';
  assert.equal(data.toString(), expected);

  await assert.rejects(
    connect(`127.0.0.1:${leader.clientPort}`, { sessionTimeoutMs: 6000, initialConnectTimeoutMs: 1500 }),
    /could not connect/,
    'the leader closes client connections',
  );
  assert.match(await fourLetterWord(leader.clientPort, 'srvr'), /Mode: leader/);
  await client.create('/served', 'by a follower');
});

test('an observer follows without voting: it serves reads and forwards writes', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(4, {}, 1);
  t.after(() => cluster.close());
  const observer = cluster.members[3]!;
  assert.equal(observer.server!.server.mode, 'observer');
  const leader = leaderOf(cluster)!;
  assert.notEqual(leader.id, observer.id);
  const onObserver = await clientOf(cluster, observer.id);
  const onLeader = await clientOf(cluster, leader.id);
  t.after(async () => {
    await onObserver.close();
    await onLeader.close();
  });
  await onObserver.create('/from-observer', 'x');
  await onLeader.sync('/');
  assert.equal((await onLeader.getData('/from-observer')).data.toString(), 'x');
  await onLeader.setData('/from-observer', 'y');
  await onObserver.sync('/from-observer');
  assert.equal((await onObserver.getData('/from-observer')).data.toString(), 'y');
  assert.match(await fourLetterWord(observer.clientPort, 'srvr'), /Mode: observer/);
  const mntr = await fourLetterWord(leader.clientPort, 'mntr');
  assert.match(mntr, /zk_synced_followers\t2/);
  assert.match(mntr, /zk_synced_observers\t1/);
});

test('a server refuses a client that has seen a later zxid than it has', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const follower = cluster.members.find((m) => m !== leaderOf(cluster))!;
  const writer = await clientOf(cluster, follower.id);
  t.after(() => writer.close());
  const stat = await writer.setData('/', 'x');
  // A client from the future: its lastZxidSeen is past anything committed.
  await assert.rejects(
    RawClient.connect('127.0.0.1', follower.clientPort, { lastZxidSeen: Number(stat.mzxid) + 1000, handshakeTimeoutMs: 5000 }),
    'refused: the server is behind what the client saw',
  );
  const ok = await RawClient.connect('127.0.0.1', follower.clientPort, { lastZxidSeen: Number(stat.mzxid) });
  await ok.close();
});
