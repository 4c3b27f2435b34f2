/**
 * A mixed ensemble: 2 Apache ZooKeeper 3.8 servers (Debian package) and 1 Paddock server, from
 * the same server.N lines, serving clients through every server. Paddock (sid 3, the highest id
 * with equal empty histories) leads first, ZooKeeper followers forward their clients' writes to
 * it; then Paddock is stopped, the ZooKeeper servers elect one of them, and Paddock, started
 * again, follows the ZooKeeper leader and forwards its own clients' writes there. After each
 * phase every server serves the same tree, node by node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import type { PaddockServer } from '../../src/server/index.js';
import { MemoryLearnerStore } from '../../src/server/quorum/learner-driver.js';
import { silentLogger } from '../../src/lib/log.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, waitForModes, type QuorumMemberPorts, type ZooKeeperPeer } from '../consensus/zk-quorum.js';
import { startPaddockAmongZooKeepers } from './cluster.js';
import { assertSameTree, readTree } from './writer.js';

const skip = skipUnlessZooKeeper();
const TICK_MS = 500;

function startPaddockMember(members: readonly QuorumMemberPorts[], store: MemoryLearnerStore): Promise<PaddockServer> {
  return startPaddockAmongZooKeepers(members, 2, TICK_MS, {}, { quorumStore: store, logger: silentLogger });
}

/** Writes through every server, reads back through every server, then compares the trees. */
async function exercise(clients: readonly ZooKeeperClient[], tag: string): Promise<void> {
  await clients[0]!.create(`/${tag}`, tag);
  const made = await Promise.all(clients.flatMap((c, i) => [
    c.create(`/${tag}/seq-`, `from ${i}`, { mode: 'persistentSequential' }),
    c.create(`/${tag}/n${i}`, `n${i}`),
  ]));
  assert.equal(new Set(made).size, made.length);
  await clients[1]!.setData(`/${tag}/n0`, 'changed on another server');
  const eph = await clients.at(-1)!.create(`/${tag}/eph`, '', { mode: 'ephemeral' });
  const trees = [];
  for (const c of clients) {
    await c.sync('/');
    assert.equal((await c.getData(`/${tag}/n0`)).data.toString(), 'changed on another server');
    assert.notEqual(await c.exists(eph), null);
    trees.push(await readTree(c));
  }
  for (let i = 1; i < trees.length; i++) assertSameTree(trees[0]!, trees[i]!, `${tag}: clients 0 and ${i}`);
}

test('2 ZooKeeper 3.8 + 1 Paddock: one ensemble serving clients through every server, the leader on either side', { skip, timeout: 180_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zk: ZooKeeperPeer[] = [startZooKeeperPeer(1n, members, TICK_MS), startZooKeeperPeer(2n, members, TICK_MS)];
  const store = new MemoryLearnerStore();
  let paddock: PaddockServer | null = await startPaddockMember(members, store);
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await paddock?.close();
    for (const z of zk) await z.stop();
  });
  const modes = [await waitForMode(zk[0]!, 60_000), await waitForMode(zk[1]!, 60_000)];
  t.diagnostic(`first election: ZooKeeper ${modes.join(', ')}, Paddock ${paddock.server.mode}`);
  assert.ok(modes.includes('follower'));
  const connectTo = (port: number): Promise<ZooKeeperClient> => connect(`127.0.0.1:${port}`, { sessionTimeoutMs: 10_000 });
  for (const m of members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'first');

  // Whichever side leads now, stop Paddock: the ZooKeeper servers go on (electing one of them
  // if Paddock led), and Paddock started again follows a ZooKeeper leader.
  for (const c of clients.splice(0)) await c.close();
  await paddock.close();
  paddock = null;
  const zkModes = await waitForModes(zk, ['leader', 'follower'], 60_000);
  t.diagnostic(`after Paddock stopped: ZooKeeper ${zkModes.join(', ')}`);
  paddock = await startPaddockMember(members, store);
  await waitForPaddockMode(paddock, 'follower', 60_000);
  for (const m of members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'second');

  // Kill the ZooKeeper leader: Paddock and the other ZooKeeper server elect a new leader and
  // serve on, with what both sides wrote before.
  for (const c of clients.splice(0)) await c.close();
  const zkLeader = zkModes.indexOf('leader');
  const survivor = zk[1 - zkLeader]!;
  const rejoined = waitForPaddockRole(paddock, 60_000);
  await zk[zkLeader]!.stop();
  zk.splice(zkLeader, 1);
  const paddockMode = await rejoined;
  const survivorMode = await waitForMode(survivor, 60_000);
  t.diagnostic(`after the ZooKeeper leader was killed: Paddock ${paddockMode}, ZooKeeper ${survivorMode}`);
  assert.deepEqual([paddockMode, survivorMode].sort(), ['follower', 'leader']);
  clients.push(await connectTo(survivor.clientPort), await connectTo(members[2]!.clientPort));
  for (const c of clients) {
    await c.sync('/');
    assert.equal((await c.getData('/second/n0')).data.toString(), 'changed on another server');
  }
  await exercise(clients, 'third');
});

/** Resolves with Paddock's role once it has lost its leader (looking) and taken a role again. */
function waitForPaddockRole(server: PaddockServer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let lookedAgain = false;
    const timer = setTimeout(() => reject(new Error(`Paddock took no new role within ${timeoutMs} ms (${server.server.mode})`)), timeoutMs);
    const onMode = (mode: string): void => {
      if (mode === 'looking') lookedAgain = true;
      if (!lookedAgain || (mode !== 'leader' && mode !== 'follower')) return;
      clearTimeout(timer);
      server.peer!.off('mode', onMode);
      resolve(mode);
    };
    server.peer!.on('mode', onMode);
  });
}

function waitForPaddockMode(server: PaddockServer, mode: string, timeoutMs: number): Promise<void> {
  if (server.server.mode === mode) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Paddock not ${mode} within ${timeoutMs} ms (${server.server.mode})`)), timeoutMs);
    const onMode = (m: string): void => {
      if (m !== mode) return;
      clearTimeout(timer);
      server.peer!.off('mode', onMode);
      resolve();
    };
    server.peer!.on('mode', onMode);
  });
}
