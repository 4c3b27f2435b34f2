/**
 * The leader keeps only commitLogCount committed txns in memory (here 20). A follower restarted
 * from its data directory more than that behind is DIFFed from the leader's on-disk log when the
 * txns it lacks are small next to the tree (snapshotSizeFactor), and gets SNAP when they are not
 * (here: hundreds of 1 KB setData on one node of a small tree).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { LogLines } from '../support/log-lines.js';
import { leaderOf, makeCluster, running, waitForRoles, type Cluster } from './cluster.js';
import { assertTreesEqual, readTrees } from './writer.js';

const COMMIT_LOG_COUNT = 20;
const SESSION = { sessionTimeoutMs: 10_000 };

/** `count` writes, 50 at a time. */
async function writeAll(count: number, write: (i: number) => Promise<unknown>): Promise<void> {
  for (let at = 0; at < count; at += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - at) }, (_, k) => write(at + k)));
  }
}

/** Stops `id`, runs `writes` on the others, restarts it and returns the mode of its next sync. */
async function behindThenBack(cluster: Cluster, lines: LogLines, id: number, writes: () => Promise<void>): Promise<string> {
  await cluster.stop(id);
  await writes();
  const from = lines.lines.length;
  await cluster.start(id);
  const [, mode] = await lines.waitFor(/synced with leader \d+ \((\w+)\)/, 30_000, from);
  await waitForRoles(cluster, 30_000);
  return mode!;
}

/** Every member's tree equals the first member's (each read after a sync through that member). */
async function assertSameTrees(cluster: Cluster): Promise<void> {
  assertTreesEqual(await readTrees(cluster.members.map((m) => m.clientPort)));
}

test('a follower behind by more than commitLogCount is DIFFed from the leader\'s log; one behind by more than the tree is worth gets SNAP', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-history-'));
  const lines = new Map([1, 2, 3].map((id) => [id, new LogLines()]));
  const cluster = await makeCluster(3, { commitLogCount: COMMIT_LOG_COUNT }, (id) => lines.get(id)!.logger, 0, dir);
  let client: ZooKeeperClient | null = null;
  try {
    await Promise.all(cluster.members.map((m) => cluster.start(m.id)));
    await waitForRoles(cluster, 30_000);
    const leader = leaderOf(cluster)!;
    const follower = cluster.members.find((m) => m !== leader)!;
    client = await connect(`127.0.0.1:${leader.clientPort}`, SESSION);
    const c = client;
    const filler = 'f'.repeat(200);
    // A tree of about 200 KB: the log may send a learner up to about 66 KB of txns.
    await c.create('/h', '');
    await writeAll(1000, (i) => c.create(`/h/n${i}`, filler));

    const diffMode = await behindThenBack(cluster, lines.get(follower.id)!, follower.id, () => writeAll(100, (i) => c.create(`/h/late${i}`, filler)));
    // 100 txns behind and the leader holds 20 in memory: a DIFF can only have come from its log.
    assert.equal(diffMode, 'diff');
    await assertSameTrees(cluster);

    const big = 'b'.repeat(1024);
    await c.create('/big', '');
    const snapMode = await behindThenBack(cluster, lines.get(follower.id)!, follower.id, () => writeAll(400, () => c.setData('/big', big)));
    // About 400 KB of txns against a tree of about 200 KB: SNAP.
    assert.equal(snapMode, 'snap');
    await assertSameTrees(cluster);
    t.diagnostic(`follower ${follower.id}: ${diffMode} after 100 creates, ${snapMode} after 400 setData of 1 KB; ${running(cluster).length} members running`);
  } finally {
    await client?.close();
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
