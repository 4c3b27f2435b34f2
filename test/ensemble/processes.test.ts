/**
 * Three `paddock server zoo.cfg` processes on loopback form an ensemble; the leader is killed
 * with SIGKILL under write load: a new leader is elected, writes resume, and after the killed
 * member is started again (its quorum state was in memory, so it is synced from scratch) every
 * acknowledged write is on every server and their trees are equal node by node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { makeProcessEnsemble, settled } from './processes.js';
import { assertServersAgree, Writer } from './writer.js';
import { Prng } from '../../src/lib/prng.js';

test('kill -9 of the leader process under writes: writes resume, nothing acknowledged is lost, trees equal', { timeout: 150_000 }, async (t) => {
  const e = await makeProcessEnsemble(3);
  t.after(() => e.close());
  for (const m of e.members) e.start(m.id);
  await e.waitFor('settled', 60_000, () => settled(e));
  const leader = e.members.find((m) => m.mode === 'leader')!;
  assert.match(await fourLetterWord(leader.clientPort, 'srvr'), /Mode: leader/);
  for (const m of e.members.filter((x) => x !== leader)) assert.match(await fourLetterWord(m.clientPort, 'srvr'), /Mode: follower/);

  const opts = { sessionTimeoutMs: 10_000 };
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close();
  });
  for (const m of e.members) clients.push(await connect(`127.0.0.1:${m.clientPort},${e.connectString}`, { ...opts, shuffleHosts: false }));
  await clients[0]!.create('/w', '');
  const writers = clients.map((c, i) => new Writer(c, `p${i}`));
  await writers[0]!.waitFor(20, 30_000);

  const killedAt = Date.now();
  await e.kill(leader.id);
  await e.waitFor('a new leader', 60_000, () => settled(e) && e.members.some((m) => m.mode === 'leader' && m !== leader));
  const survivors = writers.filter((_, i) => e.members[i] !== leader);
  await Promise.all(survivors.map((w) => w.waitFor(5, 30_000)));
  t.diagnostic(`writes resumed ${Date.now() - killedAt} ms after the leader was killed`);

  e.start(leader.id);
  await e.waitFor('three members again', 60_000, () => settled(e) && e.members.every((m) => m.child !== null));
  await Promise.all(writers.map((w) => w.waitFor(5, 30_000)));
  for (const w of writers) await w.stop();

  const acked = writers.flatMap((w) => w.acked);
  const trees = await assertServersAgree(e.members.map((m) => m.clientPort), acked);
  t.diagnostic(`${acked.length} acknowledged writes, ${trees[0]!.size} nodes equal on 3 servers`);
});

test('kill -9 of random members again and again, then a SIGSTOP pause of the leader: writes go on, trees equal', { timeout: 240_000 }, async (t) => {
  // tickTime 200 caps sessions at 4 s, less than noticing a paused leader (syncLimit 2 s) plus an
  // election and a reconnect can take on a loaded machine; the writers' sessions must outlive that.
  const e = await makeProcessEnsemble(3, 200, ['maxSessionTimeout=30000']);
  t.after(() => {
    for (const m of e.members) e.resume(m.id);
    return e.close();
  });
  for (const m of e.members) e.start(m.id);
  await e.waitFor('settled', 60_000, () => settled(e));
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close();
  });
  for (let i = 0; i < 2; i++) clients.push(await connect(e.connectString, { sessionTimeoutMs: 20_000 }));
  await clients[0]!.create('/w', '');
  const writers = clients.map((c, i) => new Writer(c, `r${i}`));
  const rng = new Prng(12);
  for (let round = 0; round < 4; round++) {
    const victim = e.members[Math.floor(rng.next() * e.members.length)]!;
    await e.kill(victim.id);
    await e.waitFor(`two members after killing ${victim.id}`, 60_000, () => settled(e));
    await Promise.all(writers.map((w) => w.waitFor(3, 30_000)));
    e.start(victim.id);
    await e.waitFor(`three members after restarting ${victim.id}`, 60_000, () => settled(e) && e.members.every((m) => m.child !== null));
    t.diagnostic(`round ${round}: killed and restarted server ${victim.id}`);
  }

  // A paused leader: the others elect one of them; resumed, it steps down and follows.
  const paused = e.members.find((m) => m.mode === 'leader')!;
  e.pause(paused.id);
  const others = e.members.filter((m) => m !== paused);
  await e.waitFor('a leader among the others', 60_000, () => others.some((m) => m.mode === 'leader') && others.every((m) => m.mode === 'leader' || m.mode === 'follower'));
  await Promise.all(writers.map((w) => w.waitFor(3, 30_000)));
  e.resume(paused.id);
  await e.waitFor('the paused leader following', 60_000, () => paused.mode === 'follower' && settled(e));
  await Promise.all(writers.map((w) => w.waitFor(3, 30_000)));
  for (const w of writers) await w.stop();

  const acked = writers.flatMap((w) => w.acked);
  const trees = await assertServersAgree(e.members.map((m) => m.clientPort), acked);
  t.diagnostic(`${acked.length} acknowledged writes, ${trees[0]!.size} nodes equal on 3 servers`);
});
