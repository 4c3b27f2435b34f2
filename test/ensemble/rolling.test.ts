/**
 * One step of a rolling replacement: a 3-server Apache ZooKeeper 3.8 ensemble under writes, one
 * ZooKeeper server killed with kill -9, and Paddock started with its server id and its data
 * directory. Paddock converts ZooKeeper's snapshot and log at start (DiskQuorumStore), so it
 * joins with ZooKeeper's history and the ZooKeeper leader syncs it by DIFF; every server then
 * serves the same tree, node by node, and Paddock logs what it is sent from then on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import type { PaddockServer } from '../../src/server/index.js';
import type { Logger } from '../../src/lib/log.js';
import { LogLines } from '../support/log-lines.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, type QuorumMemberPorts, type ZooKeeperPeer } from '../consensus/zk-quorum.js';
import { startPaddockAmongZooKeepers } from './cluster.js';
import { assertSameTree, readTree, Writer } from './writer.js';

const skip = skipUnlessZooKeeper();
const TICK_MS = 500;
/** Sessions outlive the leader's replacement on a loaded machine (tickTime 500 alone caps them at 10 s). */
const SESSION_CAP_MS = 40_000;

function startPaddockOn(members: readonly QuorumMemberPorts[], dataDir: string, logger: Logger, index = 2): Promise<PaddockServer> {
  return startPaddockAmongZooKeepers(members, index, TICK_MS, { dataDir, maxSessionTimeout: SESSION_CAP_MS }, { logger });
}

test('rolling step: a ZooKeeper server killed under writes is replaced by Paddock on its data directory, converted at start and DIFFed', { skip, timeout: 180_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zk: ZooKeeperPeer[] = members.map((m) => startZooKeeperPeer(m.sid, members, TICK_MS, undefined, { config: [`maxSessionTimeout=${SESSION_CAP_MS}`] }));
  const clients: ZooKeeperClient[] = [];
  let paddock: PaddockServer | null = null;
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await paddock?.close();
    for (const z of zk) await z.stop();
  });
  const modes = await Promise.all(zk.map((z) => waitForMode(z, 60_000)));
  t.diagnostic(`ZooKeeper modes: ${modes.join(', ')}`);
  // The writers use servers 1 and 2, which stay up.
  for (const z of zk.slice(0, 2)) clients.push(await connect(`127.0.0.1:${z.clientPort}`, { sessionTimeoutMs: 10_000 }));
  await clients[0]!.create('/w', '');
  const writers = clients.map((c, i) => new Writer(c, `z${i}`));
  await Promise.all(writers.map((w) => w.waitFor(40, 60_000)));

  await zk[2]!.kill();
  await Promise.all(writers.map((w) => w.waitFor(10, 60_000)));
  const recorded = new LogLines();
  paddock = await startPaddockOn(members, zk[2]!.dataDir, recorded.logger);
  await recorded.waitFor(/converted the Apache ZooKeeper data/, 10_000);
  const synced = await recorded.waitFor(/synced with leader \d+ \((\w+)\)/, 60_000);
  await Promise.all(writers.map((w) => w.waitFor(10, 60_000)));
  for (const w of writers) await w.stop();
  assert.equal(synced[1], 'diff', 'Paddock joins with ZooKeeper\'s history and is sent DIFF');

  const paddockClient = await connect(`127.0.0.1:${members[2]!.clientPort}`, { sessionTimeoutMs: 10_000 });
  clients.push(paddockClient);
  await paddockClient.create('/w/through-paddock', '');
  const trees = [];
  for (const c of clients) {
    await c.sync('/');
    trees.push(await readTree(c));
  }
  for (const path of ['/w/through-paddock', ...writers.flatMap((w) => w.acked)]) {
    for (const [i, tree] of trees.entries()) assert.ok(tree.has(path), `${path} on server ${i + 1}`);
  }
  assertSameTree(trees[0]!, trees[2]!, 'ZooKeeper server 1 and Paddock');
  assertSameTree(trees[1]!, trees[2]!, 'ZooKeeper server 2 and Paddock');
  t.diagnostic(`Paddock on ZooKeeper's data dir: ${synced[0]}; ${trees[2]!.size} nodes equal on 3 servers`);
});

test('rolling replacement: each ZooKeeper server in turn (followers first, the leader last) replaced by Paddock under continuous writes', { skip, timeout: 300_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zk: ZooKeeperPeer[] = members.map((m) => startZooKeeperPeer(m.sid, members, TICK_MS, undefined, { config: [`maxSessionTimeout=${SESSION_CAP_MS}`] }));
  const paddocks: PaddockServer[] = [];
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const p of paddocks) await p.close().catch(() => undefined);
    for (const z of zk) await z.stop();
  });
  const modes = await Promise.all(zk.map((z) => waitForMode(z, 60_000)));
  // Writers know every server, as a production client does, and fail over as servers are replaced.
  const everyServer = members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  for (let i = 0; i < 2; i++) clients.push(await connect(everyServer, { sessionTimeoutMs: 30_000 }));
  await clients[0]!.create('/w', '');
  const writers = clients.map((c, i) => new Writer(c, `r${i}`));
  await Promise.all(writers.map((w) => w.waitFor(20, 60_000)));

  const order = [0, 1, 2].sort((a, b) => Number(modes[a] === 'leader') - Number(modes[b] === 'leader'));
  for (const index of order) {
    await zk[index]!.kill();
    const recorded = new LogLines();
    paddocks.push(await startPaddockOn(members, zk[index]!.dataDir, recorded.logger, index));
    const synced = await recorded.waitFor(/synced with leader \d+ \((\w+)\)/, 90_000);
    await Promise.all(writers.map((w) => w.waitFor(10, 90_000)));
    t.diagnostic(`server ${index + 1} (was ${modes[index]}) replaced: ${synced[0]}`);
  }
  for (const w of writers) await w.stop();

  const trees = [];
  for (const m of members) {
    const c = await connect(`127.0.0.1:${m.clientPort}`, { sessionTimeoutMs: 10_000 });
    clients.push(c);
    await c.sync('/');
    trees.push(await readTree(c));
  }
  const acked = writers.flatMap((w) => w.acked);
  for (const path of acked) {
    for (const [i, tree] of trees.entries()) assert.ok(tree.has(path), `${path} on server ${i + 1}`);
  }
  assertSameTree(trees[0]!, trees[1]!, 'Paddock servers 1 and 2');
  assertSameTree(trees[0]!, trees[2]!, 'Paddock servers 1 and 3');
  t.diagnostic(`${acked.length} acknowledged writes on all three Paddock servers; ${trees[0]!.size} nodes equal`);
});
