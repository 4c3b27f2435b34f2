/**
 * SNAP of a large tree between member processes: a follower restarted with an empty data
 * directory is streamed the leader's tree (~150k znodes, ~35 MB) while a client of the leader
 * goes on writing and reading; no reply waits anywhere near as long as serializing the tree
 * takes (what the leader was blocked for when it wrote the stream in one go), and the follower
 * ends with the leader's tree, node by node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, type Stat, type ZooKeeperClient } from '../../src/client/index.js';
import { makeProcessEnsemble, settled, type ProcessEnsemble, type ProcessMember } from './processes.js';

const DIRS = 100;
const PER_DIR = 1500;
const DATA = 'd'.repeat(200);

/** /big/dK/nI: DIRS × PER_DIR nodes of 200 bytes, a transaction of 500 creates at a time, a few in flight. */
async function populate(client: ZooKeeperClient): Promise<void> {
  await client.create('/big', null);
  for (let d = 0; d < DIRS; d++) await client.create(`/big/d${d}`, null);
  const batches: { d: number; from: number }[] = [];
  for (let d = 0; d < DIRS; d++) for (let from = 0; from < PER_DIR; from += 500) batches.push({ d, from });
  const worker = async (): Promise<void> => {
    for (let b = batches.shift(); b !== undefined; b = batches.shift()) {
      const tx = client.transaction();
      for (let i = b.from; i < Math.min(b.from + 500, PER_DIR); i++) tx.create(`/big/d${b.d}/n${i}`, DATA);
      await tx.commit({ timeoutMs: 30_000 });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** Every node under /big with its data and Stat, read through `port` with many reads in flight. */
async function readBig(port: number): Promise<Map<string, { data: string; stat: Stat }>> {
  const client = await connect(`127.0.0.1:${port}`, { sessionTimeoutMs: 30_000 });
  try {
    await client.sync('/');
    const paths = ['/big'];
    for (const dir of (await client.getChildren('/big')).map((c) => `/big/${c}`)) {
      paths.push(dir, ...(await client.getChildren(dir)).map((c) => `${dir}/${c}`));
    }
    const out = new Map<string, { data: string; stat: Stat }>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++]!;
        const { data, stat } = await client.getData(path);
        out.set(path, { data: data.toString('latin1'), stat });
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    return out;
  } finally {
    await client.close();
  }
}

/** A setData then a getData of /probe on `client`, one after another until stopped; the time of each reply. */
function probe(client: ZooKeeperClient): { replies: number[]; stop: () => Promise<void> } {
  const replies: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped && i < 1_000_000; i++) {
      await client.setData('/probe', String(i), { timeoutMs: 20_000 });
      replies.push(performance.now());
      await client.getData('/probe', { timeoutMs: 20_000 });
      replies.push(performance.now());
    }
  })();
  return {
    replies,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

function longestGap(times: readonly number[], from: number, to: number): number {
  let gap = 0;
  let prev = from;
  for (const t of times) {
    if (t < from || t > to) continue;
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, to - prev);
}

function logLine(m: ProcessMember, pattern: RegExp): RegExpExecArray | null {
  for (let i = m.log.length - 1; i >= 0; i--) {
    const found = pattern.exec(m.log[i]!);
    if (found) return found;
  }
  return null;
}

test('a follower restarted empty is sent SNAP of ~150k znodes while the leader keeps answering; it ends with the leader\'s tree', { timeout: 240_000 }, async (t) => {
  const e: ProcessEnsemble = await makeProcessEnsemble(3, 200, ['initLimit=50']);
  let client: ZooKeeperClient | null = null;
  try {
    for (const m of e.members) e.start(m.id);
    await e.waitFor('one leader, two followers', 60_000, () => settled(e));
    const leader = e.members.find((m) => m.mode === 'leader')!;
    const follower = e.members.find((m) => m.mode === 'follower')!;
    client = await connect(`127.0.0.1:${leader.clientPort}`, { sessionTimeoutMs: 30_000 });
    const populated = performance.now();
    await populate(client);
    await client.create('/probe', '0');
    // More txns than the leader keeps in memory (commitLogCount 500), so a learner at zxid 0
    // gets SNAP (its log holds as many bytes as the tree: over snapshotSizeFactor).
    for (let i = 0; i < 6; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => client!.setData('/probe', `${i}.${j}`)));
    t.diagnostic(`${DIRS * PER_DIR} znodes written in ${((performance.now() - populated) / 1000).toFixed(1)} s`);

    await e.kill(follower.id);
    const dataDir = join(e.dir, `data${follower.id}`);
    for (const entry of readdirSync(dataDir)) if (entry !== 'myid') rmSync(join(dataDir, entry), { recursive: true, force: true });

    const load = probe(client);
    const restarted = performance.now();
    e.start(follower.id);
    await e.waitFor(`server ${follower.id} synced`, 120_000, () => follower.mode === 'follower');
    const synced = performance.now();
    await load.stop();

    assert.ok(logLine(follower, /synced with leader \d+ \(snap\)/), 'the follower was sent SNAP');
    const sent = logLine(leader, /snapshot sent to a learner: (\d+) bytes in (\d+) slices over (\d+) ms, (\d+) ms of it serializing and writing \(longest slice ([\d.]+) ms\)/);
    assert.ok(sent, 'the leader logged the stream');
    const [bytes, slices, elapsedMs, busyMs, longestSliceMs] = sent.slice(1).map(Number) as [number, number, number, number, number];
    const gap = longestGap(load.replies, restarted, synced);
    const during = load.replies.filter((x) => x >= restarted && x <= synced).length;
    t.diagnostic(`stream: ${(bytes / 1e6).toFixed(1)} MB in ${slices} slices over ${elapsedMs} ms, ${busyMs} ms serializing and writing, longest slice ${longestSliceMs} ms`);
    t.diagnostic(`leader replies while the follower synced (${(synced - restarted).toFixed(0)} ms): ${during}, longest gap ${gap.toFixed(0)} ms`);
    assert.ok(bytes > 30e6, `a large tree (${bytes} bytes)`);
    assert.ok(during > 20, 'the leader answered all along');
    // Sent in one go, the stream would have held the leader for busyMs without a reply.
    assert.ok(gap < busyMs / 2, `the longest gap between replies (${gap.toFixed(0)} ms) is far below the ${busyMs} ms the serialization takes`);

    const [onLeader, onFollower] = [await readBig(leader.clientPort), await readBig(follower.clientPort)];
    assert.equal(onLeader.size, 1 + DIRS + DIRS * PER_DIR);
    assert.equal(onFollower.size, onLeader.size, 'the same number of nodes');
    for (const [path, node] of onLeader) assert.deepEqual(onFollower.get(path), node, `${path} on the follower`);
  } finally {
    await client?.close();
    await e.close();
  }
});
