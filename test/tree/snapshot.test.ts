import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataTree, SnapshotError, deserializeSnapshot, serializeSnapshot, treeDiff } from '../../src/tree/index.js';
import { OpCode, Perm } from '../../src/jute/constants.js';
import type { Txn } from '../../src/jute/txn.js';
import { javaHashSetOrder } from '../../src/lib/javahash.js';
import { Prng } from '../../src/lib/prng.js';
import { create, del, setData, txn } from './helpers.js';

/**
 * A random history over fresh paths (never re-created), so replaying any suffix of it twice is
 * harmless, as it must be after a fuzzy snapshot.
 */
function history(seed: number, count: number): Txn[] {
  const rnd = new Prng(seed);
  const live: string[] = ['/'];
  const txns: Txn[] = [];
  const versions = new Map<string, number>();
  // Prep computes the parent's next cversion from the state; a shadow tree plays that part.
  const shadow = new DataTree();
  const next = (path: string): number => shadow.getNode(path.substring(0, path.lastIndexOf('/')) || '/')!.storedCversion + 1;
  const push = (x: Txn): void => {
    shadow.apply(x);
    txns.push(x);
  };
  for (let zxid = 1; txns.length < count; zxid++) {
    const roll = rnd.next();
    const session = BigInt(1 + rnd.int(5));
    if (roll < 0.6 || live.length < 3) {
      const parent = rnd.pick(live);
      const path = (parent === '/' ? '' : parent) + '/n' + zxid;
      const kind = rnd.int(6);
      const pcv = next(path);
      if (kind === 0) push(txn(zxid, create(path, pcv, 'e' + zxid, true), session));
      else if (kind === 1) push(txn(zxid, { type: OpCode.createContainer, path, data: null, acl: [], parentCVersion: pcv }, session));
      else if (kind === 2) push(txn(zxid, { type: OpCode.createTTL, path, data: Buffer.alloc(3, zxid), acl: [{ perms: Perm.READ, id: { scheme: 'digest', id: 'u:x' } }], parentCVersion: pcv, ttl: 1000 + zxid }, session));
      else push(txn(zxid, create(path, pcv, rnd.bool() ? null : 'd' + zxid), session));
      if (kind !== 0) live.push(path);
    } else if (roll < 0.85) {
      const path = rnd.pick(live);
      const v = (versions.get(path) ?? 0) + 1;
      versions.set(path, v);
      push(txn(zxid, setData(path, 'v' + v, v), session));
    } else {
      const path = live[live.length - 1]!;
      if (path === '/') continue;
      live.pop();
      push(txn(zxid, del(path), session));
    }
  }
  return txns;
}

function build(txns: readonly Txn[]): DataTree {
  const t = new DataTree();
  for (const x of txns) t.apply(x);
  return t;
}

const concat = (chunks: Buffer[]): Buffer => Buffer.concat(chunks);

test('a 10k-node tree round-trips byte for byte', () => {
  const t = new DataTree();
  for (let i = 0; i < 100; i++) t.apply(txn(i + 1, create(`/d${i}`, -1, 'dir')));
  let zxid = 101;
  for (let i = 0; i < 10_000; i++) {
    t.apply(txn(zxid++, create(`/d${i % 100}/n${i}`, -1, i % 3 === 0 ? null : 'x'.repeat(i % 50), i % 7 === 0), BigInt(i % 4)));
  }
  const sessions = new Map<bigint, number>([[3n, 30000], [1n, 10000], [-5n, 4000]]);
  const bytes = concat(serializeSnapshot(t, sessions));
  const restored = deserializeSnapshot(bytes);
  assert.equal(treeDiff(t, restored.tree), null);
  assert.deepEqual(restored.sessions, sessions);
  assert.ok(concat(serializeSnapshot(restored.tree, restored.sessions)).equals(bytes));
  assert.equal(restored.tree.lastProcessedZxid, t.lastProcessedZxid);
  assert.equal(restored.tree.approximateDataSize(), t.approximateDataSize());
  assert.deepEqual(restored.tree.ephemeralsOf(1n).sort(), t.ephemeralsOf(1n).sort());
  assert.equal(restored.tree.nodeCount(), t.nodeCount());
});

test('a snapshot lists children in ZooKeeper order, and loading re-adds them to fresh sets as it does', () => {
  const t = new DataTree();
  let zxid = 1;
  t.apply(txn(zxid++, create('/p', 1)));
  // 40 children grow the set to 64 buckets; after 37 deletes it keeps them (Java never shrinks).
  for (let i = 0; i < 40; i++) t.apply(txn(zxid++, create(`/p/c${i}`, i + 2)));
  for (let i = 3; i < 40; i++) t.apply(txn(zxid++, del(`/p/c${i}`)));
  t.apply(txn(zxid++, create('/p/c9', 50)));
  const live = t.childrenOf('/p');
  assert.deepEqual(live, javaHashSetOrder(['c0', 'c1', 'c2', 'c9'], 64));
  const restored = deserializeSnapshot(concat(serializeSnapshot(t, new Map()))).tree;
  // Written in the live order, re-added into a set of 8 buckets: ZooKeeper's order after a restart.
  assert.deepEqual(restored.childrenOf('/p'), javaHashSetOrder(live, 8));
  assert.notDeepEqual(restored.childrenOf('/p'), live);
  // From then on restarts keep the order: serialize(deserialize(x)) is x.
  const bytes = concat(serializeSnapshot(restored, new Map()));
  assert.ok(concat(serializeSnapshot(deserializeSnapshot(bytes).tree, new Map())).equals(bytes));
});

test('snapshot + replay of the rest equals the live tree, even when the replay overlaps', () => {
  const txns = history(42, 3000);
  const live = build(txns);
  for (const cut of [0, 1000, 2999]) {
    const snap = concat(serializeSnapshot(build(txns.slice(0, cut)), new Map()));
    const exact = deserializeSnapshot(snap).tree;
    for (const x of txns.slice(cut)) exact.apply(x);
    assert.equal(treeDiff(live, exact), null, `exact replay from ${cut}`);

    const fuzzy = deserializeSnapshot(snap).tree;
    for (const x of txns.slice(Math.max(0, cut - 300))) fuzzy.apply(x);
    assert.equal(treeDiff(live, fuzzy), null, `overlapping replay from ${cut}`);
  }
  assert.ok(live.size > 100);
});

test('corrupt snapshots are rejected', () => {
  const t = build(history(7, 200));
  const bytes = concat(serializeSnapshot(t, new Map([[1n, 100]])));
  assert.throws(() => deserializeSnapshot(bytes.subarray(0, bytes.length - 1)), SnapshotError);
  assert.throws(() => deserializeSnapshot(Buffer.concat([bytes, Buffer.alloc(1)])), SnapshotError);
  const badMagic = Buffer.from(bytes);
  badMagic[0] = 0;
  assert.throws(() => deserializeSnapshot(badMagic), SnapshotError);
  for (let i = 0; i < 50; i++) {
    const cut = Math.floor((bytes.length * i) / 50);
    assert.throws(() => deserializeSnapshot(bytes.subarray(0, cut)), SnapshotError);
  }
});

test('snapshots come in chunks that concatenate to the whole', () => {
  const t = new DataTree();
  for (let i = 0; i < 3000; i++) t.apply(txn(i + 1, create(`/n${i}`, -1, 'y'.repeat(1000))));
  const chunks = serializeSnapshot(t, new Map());
  assert.ok(chunks.length >= 2);
  assert.equal(treeDiff(deserializeSnapshot(chunks).tree, t), null);
});
