/**
 * A leader paused with SIGSTOP and resumed after the others elected a new one must not refuse a
 * reconnect as SESSIONEXPIRED for a session that lives on the ensemble. Clients reconnect to it
 * while it is still paused (the kernel queues their connections and handshakes), so it meets them
 * in the first turns after SIGCONT, before or while it learns it lost its followers. ZooKeeper's
 * leader stops serving when it leaves LEADING, and a learner only ends a session on the leader's
 * closeSession; the answer a client may get from the stale server is a closed connection (it then
 * tries another server), or its session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { makeProcessEnsemble, settledAmong } from '../ensemble/processes.js';
import { assertSameTree, readTrees } from '../ensemble/writer.js';
import { RawClient } from '../support/rawclient.js';

type Outcome = 'connected' | 'expired' | 'closed';

async function attempt(port: number, session: { sessionId: bigint; passwd: Buffer }, handshakeTimeoutMs: number, onHelloSent?: () => void): Promise<Outcome> {
  try {
    const c = await RawClient.connect('127.0.0.1', port, { ...session, timeoutMs: 20_000, handshakeTimeoutMs, ...(onHelloSent ? { onHelloSent } : {}) });
    c.destroy();
    return 'connected';
  } catch (err) {
    onHelloSent?.(); // a connection that failed early is not waited for
    return (err as { expired?: boolean }).expired ? 'expired' : 'closed';
  }
}

test('a resumed stale leader never answers SESSIONEXPIRED for a live session', { timeout: 120_000 }, async (t) => {
  // Sessions of 20 s outlive the pause, the followers' detection (syncLimit 10 x 200 ms) and the election.
  const e = await makeProcessEnsemble(3, 200, ['maxSessionTimeout=30000']);
  t.after(() => {
    for (const m of e.members) e.resume(m.id);
    return e.close();
  });
  for (const m of e.members) e.start(m.id);
  await e.waitFor('settled', 60_000, () => settledAmong(e.members));
  const old = e.members.find((m) => m.mode === 'leader')!;
  const others = e.members.filter((m) => m !== old);

  // Sessions made before the pause: one on a follower, one on the leader itself.
  const before: { sessionId: bigint; passwd: Buffer }[] = [];
  for (const m of [others[0]!, old]) {
    const c = await RawClient.connect('127.0.0.1', m.clientPort, { timeoutMs: 20_000 });
    before.push({ sessionId: c.sessionId, passwd: c.session.passwd ?? Buffer.alloc(16) });
    c.destroy();
  }

  // Sessions the stale leader never heard of: made on the new leader and on its follower.
  const during: { sessionId: bigint; passwd: Buffer }[] = [];
  e.pause(old.id);
  try {
    await e.waitFor('a new leader among the others', 30_000, () => settledAmong(others));
    const next = others.find((m) => m.mode === 'leader')!;
    for (const m of others) {
      const c = await RawClient.connect('127.0.0.1', m.clientPort, { timeoutMs: 20_000 });
      during.push({ sessionId: c.sessionId, passwd: c.session.passwd ?? Buffer.alloc(16) });
      c.destroy();
    }
    t.diagnostic(`leader ${old.id} paused; ${next.id} leads; ${during.length + before.length} sessions reconnect to ${old.id} while it is stopped`);
    // Each session twice, early and late in the accept queue.
    const sessions = [...before, ...during, ...during, ...before];
    // The kernel takes the connections and their handshakes before the process runs again.
    const sent: Promise<void>[] = [];
    const outcomes = sessions.map((s) => {
      let helloSent!: () => void;
      sent.push(new Promise<void>((r) => (helloSent = r)));
      return attempt(old.clientPort, s, 30_000, helloSent);
    });
    await Promise.all(sent);
    e.resume(old.id);
    const results = await Promise.all(outcomes);
    t.diagnostic(`outcomes at the resumed server: ${results.join(' ')}`);
    assert.deepEqual(
      results.map((r, i) => (r === 'expired' ? `0x${sessions[i]!.sessionId.toString(16)}` : null)).filter((x) => x !== null),
      [],
      'sessions alive on the ensemble refused as expired by the resumed stale leader',
    );
  } finally {
    e.resume(old.id);
  }

  // Once it follows the new leader, it serves every one of those sessions.
  await e.waitFor('settled again', 30_000, () => settledAmong(e.members));
  for (const s of [...before, ...during]) assert.equal(await attempt(old.clientPort, s, 10_000), 'connected');
});

test('sessions a resumed stale leader expires on its own clock live on, with their ephemerals, on every server', { timeout: 120_000 }, async (t) => {
  const e = await makeProcessEnsemble(3, 200, ['maxSessionTimeout=30000']);
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const m of e.members) e.resume(m.id);
    for (const c of clients) await c.close();
    await e.close();
  });
  for (const m of e.members) e.start(m.id);
  await e.waitFor('settled', 60_000, () => settledAmong(e.members));
  const old = e.members.find((m) => m.mode === 'leader')!;
  const others = e.members.filter((m) => m !== old);

  // 4 s sessions on the followers: the new leader gives them a full timeout again, the paused
  // one last heard of them more than a timeout before it runs again.
  const followers = others.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  for (let i = 0; i < 2; i++) {
    const zk = await connect(followers, { sessionTimeoutMs: 4000, reconnectBackoff: { initialMs: 20, maxMs: 200 } });
    clients.push(zk);
    await zk.create(`/eph-${i}`, '', { mode: 'ephemeral' });
  }
  const pausedAt = Date.now();
  e.pause(old.id);
  try {
    await e.waitFor('a new leader among the others', 30_000, () => settledAmong(others));
    // Writes go on through the new leader until the paused server is a timeout and more behind.
    for (let i = 0; Date.now() - pausedAt < 6000 && i < 10_000; i++) await clients[i % 2]!.create(`/w-${i}`, '');
  } finally {
    e.resume(old.id);
  }
  await e.waitFor('settled again', 30_000, () => settledAmong(e.members));
  const expiredThere = old.log.filter((l) => /session 0x[0-9a-f]+ expired$/.test(l)).length;
  t.diagnostic(`server ${old.id} paused ${Date.now() - pausedAt} ms; it expired ${expiredThere} session(s) on its own clock after it resumed`);

  for (const zk of clients) assert.equal(zk.state, 'connected', 'the clients kept their sessions');
  const trees = await readTrees(e.members.map((m) => m.clientPort), 10_000);
  for (const [i, tree] of trees.entries()) {
    for (const [k, zk] of clients.entries()) assert.equal(tree.get(`/eph-${k}`)?.stat.ephemeralOwner, zk.sessionId, `/eph-${k} on server ${e.members[i]!.id}`);
  }
  assertSameTree(trees[0]!, trees[1]!, 'servers 1 and 2');
  assertSameTree(trees[0]!, trees[2]!, 'servers 1 and 3');
});
