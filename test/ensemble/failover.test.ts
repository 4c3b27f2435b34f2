/**
 * Failover in a three-member Paddock ensemble (in this process): the leader stops under write
 * load, a new leader is elected, writes resume, no acknowledged write is lost and the trees of
 * every member end equal node by node; clients move to another server keeping their session,
 * ephemerals and watches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type WatchEvent, type ZooKeeperClient } from '../../src/client/index.js';
import { Writer } from './writer.js';
import { RawClient } from '../support/rawclient.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { OpCode } from '../../src/jute/constants.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
import { leaderOf, running, startCluster, waitForPeers, waitForRoles, type Cluster } from './cluster.js';
import { assertTreesEqual } from './compare.js';

function serverOf(cluster: Cluster, client: ZooKeeperClient): number {
  const host = client.currentHost;
  const m = cluster.members.find((x) => host !== null && x.clientPort === host.port);
  assert.ok(m, 'the client is connected to a member');
  return m.id;
}

test('the leader stops under writes: a new leader is elected, writes resume, no acknowledged write is lost', { timeout: 120_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const oldLeader = leaderOf(cluster)!;
  const followers = cluster.members.filter((m) => m !== oldLeader);
  const all = cluster.connectString;
  const opts = { sessionTimeoutMs: 8000, shuffleHosts: false };
  const clients = [
    await connect(`127.0.0.1:${followers[0]!.clientPort},${all}`, opts),
    await connect(`127.0.0.1:${followers[1]!.clientPort},${all}`, opts),
    // On the leader: its session must survive the leader's end.
    await connect(`127.0.0.1:${oldLeader.clientPort},${all}`, opts),
  ];
  t.after(async () => {
    for (const c of clients) await c.close();
  });
  await clients[0]!.create('/w', '');
  const onLeader = clients[2]!;
  await onLeader.create('/owned', 'eph', { mode: 'ephemeral' });
  const sessionBefore = onLeader.sessionId;

  const writers = clients.map((c, i) => new Writer(c, `c${i}`));
  await writers[0]!.waitFor(20, 20_000);

  const stoppedAt = Date.now();
  await cluster.stop(oldLeader.id);
  await waitForRoles(cluster, 30_000);
  const newLeader = leaderOf(cluster)!;
  assert.notEqual(newLeader.id, oldLeader.id);
  for (const w of writers) await w.waitFor(10, 30_000);
  t.diagnostic(`writes resumed on every client within ${Date.now() - stoppedAt} ms of the leader stopping`);

  // The old leader comes back (its store kept, as a data directory) and is synced as a follower.
  await cluster.start(oldLeader.id);
  await waitForPeers(cluster, 30_000, 'three members with one leader', () => running(cluster).length === 3 && leaderOf(cluster) !== null && running(cluster).filter((s) => s.server.mode === 'follower').length === 2);
  for (const w of writers) await w.waitFor(5, 30_000);
  for (const w of writers) await w.stop();

  assert.equal(onLeader.sessionId, sessionBefore, 'the session moved to another server and lived on');
  const reader = clients[0]!;
  await reader.sync('/');
  assert.notEqual(await reader.exists('/owned'), null, 'the moved session kept its ephemeral');
  const acked = writers.flatMap((w) => w.acked);
  const present = new Set((await reader.getChildren('/w')).map((c) => `/w/${c}`));
  for (const path of acked) assert.ok(present.has(path), `acknowledged ${path} is present`);

  // A sync through each member brings it to the leader's commit point; then all trees are equal.
  await syncEveryMember(cluster);
  const servers = running(cluster);
  const nodes = assertTreesEqual(servers.map((s) => s.server.tree), servers.map((s) => `server ${s.peer!.status().mode}`));
  assert.ok(nodes > acked.length, `${nodes} nodes compared`);
});

test('a client moves to another server keeping its session, ephemerals and watches', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const followers = cluster.members.filter((m) => m !== leaderOf(cluster));
  const client = await connect(`127.0.0.1:${followers[0]!.clientPort},127.0.0.1:${followers[1]!.clientPort}`, { sessionTimeoutMs: 8000, shuffleHosts: false });
  const other = await connect(cluster.connectString, { sessionTimeoutMs: 8000 });
  t.after(async () => {
    await client.close();
    await other.close();
  });
  await client.create('/watched', 'a');
  await client.create('/mine', '', { mode: 'ephemeral' });
  const { changed } = await client.getDataAndWatch('/watched');
  const sessionId = client.sessionId;
  const first = serverOf(cluster, client);

  const moved = new Promise<void>((resolve) => {
    const off = client.onSession((e) => {
      if (e.type === 'reconnected') {
        off();
        resolve();
      }
    });
  });
  await cluster.stop(first);
  await moved;
  assert.notEqual(serverOf(cluster, client), first);
  assert.equal(client.sessionId, sessionId, 'same session on the new server');

  await other.setData('/watched', 'b');
  const event: WatchEvent = await changed;
  assert.equal(event.path, '/watched');
  assert.equal(event.type, 'dataChanged');
  await other.sync('/mine');
  assert.notEqual(await other.exists('/mine'), null, 'the ephemeral lives on with its session');
  await client.close();
  await other.sync('/mine');
  assert.equal(await other.exists('/mine'), null, 'closing the moved session removes its ephemeral');
});

/** A sync through a client of each running member: each has applied what the leader committed before. */
async function syncEveryMember(cluster: Cluster): Promise<void> {
  for (const m of cluster.members) {
    if (!m.server) continue;
    const c = await connect(`127.0.0.1:${m.clientPort}`, { sessionTimeoutMs: 8000 });
    try {
      await c.sync('/');
    } finally {
      await c.close();
    }
  }
}

test('only the leader expires sessions; pings on a follower keep a session alive there', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const leader = leaderOf(cluster)!;
  const [f1, f2] = cluster.members.filter((m) => m !== leader);
  const watcher = await connect(`127.0.0.1:${leader.clientPort}`, { sessionTimeoutMs: 8000 });
  // Idle but for its pings, on a follower, for longer than its timeout.
  const idle = await connect(`127.0.0.1:${f2!.clientPort}`, { sessionTimeoutMs: 1200 });
  t.after(async () => {
    await watcher.close();
    await idle.close();
  });
  await idle.create('/idle', '', { mode: 'ephemeral' });

  // Two sessions on the other follower whose clients vanish: the leader expires them in turn.
  for (const name of ['/gone-a', '/gone-b']) {
    const raw = await RawClient.connect('127.0.0.1', f1!.clientPort, { timeoutMs: 1200 });
    const reply = await raw.send({ type: OpCode.create, path: name, data: Buffer.alloc(0), acl: OPEN, flags: 1, ttl: -1 });
    assert.equal(reply.header.err, 0);
    await watcher.sync(name);
    const { changed } = await watcher.existsAndWatch(name);
    const started = Date.now();
    // The client vanishes without closing its session: only expiry can end it.
    raw.destroy();
    const event = await changed;
    assert.equal(event.type, 'deleted', `${name} removed when its session ended`);
    t.diagnostic(`${name} removed after ${Date.now() - started} ms`);
  }
  assert.notEqual(await watcher.exists('/idle'), null, 'the idle session on a follower is still alive');
  assert.equal((await idle.exists('/idle'))?.ephemeralOwner, idle.sessionId);
});

test('a leader without a quorum steps down and refuses clients until the ensemble is back', { timeout: 90_000 }, async (t) => {
  const cluster = await startCluster(3);
  t.after(() => cluster.close());
  const leader = leaderOf(cluster)!;
  const followers = cluster.members.filter((m) => m !== leader);
  const client = await connect(`127.0.0.1:${leader.clientPort}`, { sessionTimeoutMs: 20_000 });
  t.after(() => client.close());
  await client.create('/before', '');
  const suspended = new Promise<void>((resolve) => {
    const off = client.onSession((e) => {
      if (e.type === 'suspended') {
        off();
        resolve();
      }
    });
  });
  for (const f of followers) await cluster.stop(f.id);
  // syncLimit passes without a synced quorum: the leader looks for one again and drops its clients.
  await waitForPeers(cluster, 30_000, 'the lone leader looking', () => running(cluster).every((s) => s.server.mode === 'looking'));
  await suspended;
  assert.equal(await fourLetterWord(leader.clientPort, 'srvr'), 'This ZooKeeper instance is not currently serving requests\n');
  await assert.rejects(
    connect(`127.0.0.1:${leader.clientPort}`, { sessionTimeoutMs: 6000, initialConnectTimeoutMs: 1000 }),
    /could not connect/,
    'a looking server closes new clients',
  );

  for (const f of followers) await cluster.start(f.id);
  await waitForRoles(cluster, 30_000);
  // The client's session survived: its reconnection is revalidated by the new leader.
  await client.create('/after', '');
  assert.notEqual(await client.exists('/before'), null);
});
