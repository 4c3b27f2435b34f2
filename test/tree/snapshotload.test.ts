/**
 * The bulk snapshot loader (src/tree/snapshotload.ts) against a reference loader that rebuilds
 * the tree through the generic DataTree.insert, as snapshots were loaded before it: on random
 * trees both must give the same nodes, indexes and ACL references, and on damaged bytes the
 * bulk loader must never accept what the reference rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataTree, SnapshotError, SnapshotLoader, deserializeSnapshot, serializeSnapshot, treeDiff, type Snapshot } from '../../src/tree/index.js';
import { JuteReader } from '../../src/jute/binary.js';
import { OpCode, Perm } from '../../src/jute/constants.js';
import { ACLs, type ACL } from '../../src/jute/records.js';
import { Prng } from '../../src/lib/prng.js';
import { basename, childPath, parentOf } from '../../src/lib/paths.js';
import { LIMIT_NODE } from '../../src/tree/quota.js';
import { ZNode, ownData } from '../../src/tree/znode.js';
import { OPEN, create, txn } from './helpers.js';

// ---- the reference: node by node through tree.insert ----

function referenceLoad(bytes: Buffer): Snapshot {
  const r = new JuteReader(bytes, 0, bytes.length, 0x7fffffff);
  try {
    if (r.int() !== 0x5044534e || r.int() !== 1) throw new SnapshotError('bad header');
    const zxid = r.longNumber();
    const sessions = new Map<bigint, number>();
    for (let i = r.int(); i > 0; i--) sessions.set(r.long(), r.int());
    const tree = new DataTree();
    tree.clear();
    referenceNodes(r, tree);
    tree.lastProcessedZxid = zxid;
    if (r.int() !== 0x5044534e || r.remaining() !== 0) throw new SnapshotError('bad end');
    return { tree, sessions };
  } catch (e) {
    throw e instanceof SnapshotError ? e : new SnapshotError((e as Error).message);
  }
}

function referenceNodes(r: JuteReader, tree: DataTree): void {
  const count = r.int();
  if (count <= 0 || count * 64 > r.remaining()) throw new SnapshotError('bad count');
  const acls: ACL[][] = [];
  const pending: { path: string; left: number }[] = [];
  for (let i = 0; i < count; i++) {
    while (pending.length > 0 && pending[pending.length - 1]!.left === 0) pending.pop();
    const parent = pending[pending.length - 1];
    if ((parent === undefined) !== (i === 0)) throw new SnapshotError('no place');
    const name = r.string();
    const path = parent === undefined ? '/' : childPath(parent.path, name);
    if (parent === undefined ? name !== '' : name === '') throw new SnapshotError('bad name');
    if (tree.getNode(path) !== undefined) throw new SnapshotError('duplicate');
    const childCount = r.int();
    if (childCount < 0) throw new SnapshotError('bad child count');
    const data = ownData(r.bufferOrNull());
    const index = r.int();
    if (index === -1) acls.push(ACLs.read(r));
    else if (index < 0 || index >= acls.length) throw new SnapshotError('bad ACL index');
    const acl = tree.internAcl(acls[index === -1 ? acls.length - 1 : index]!);
    const node = new ZNode(data, acl, r.longNumber(), r.longNumber(), r.longNumber(), r.longNumber(), r.int(), r.int(), r.int(), r.long(), r.longNumber());
    tree.insert(path, node);
    if (basename(path) === LIMIT_NODE && parentOf(path).startsWith('/zookeeper/quota/')) {
      tree.addQuotaPath(parentOf(path).substring('/zookeeper/quota'.length));
    }
    if (parent !== undefined) parent.left--;
    pending.push({ path, left: childCount });
  }
  if (pending.some((p) => p.left !== 0)) throw new SnapshotError('incomplete');
}

// ---- random trees with every kind of node, name and index ----

const ACL_CHOICES: ACL[][] = [
  OPEN,
  [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:h' } }, { perms: Perm.READ, id: { scheme: 'ip', id: '10.0.0.1' } }],
];
const NAMES = ['a', 'node', 'zookeeper_limits', 'zookeeper_stats', 'a-rather-long-child-name', 'ünï', '日本', 'x\u0001y', 'n'];

function randomTree(seed: number, count: number): DataTree {
  const rnd = new Prng(seed);
  const t = new DataTree();
  const live = ['/', '/zookeeper/quota'];
  let zxid = 1;
  for (let i = 0; i < count; i++) {
    const parent = rnd.pick(live);
    const name = rnd.pick(NAMES) + (rnd.bool(0.3) ? '' : String(i));
    const path = childPath(parent, name);
    const size = rnd.pick([-1, 0, 1, 100, 5000]);
    const data = size < 0 ? null : Buffer.alloc(size, i & 0xff);
    const acl = rnd.pick(ACL_CHOICES);
    const kind = rnd.int(8);
    const session = BigInt(rnd.int(4) + 1);
    const base = { path, data, acl, parentCVersion: -1 };
    if (kind === 0) t.apply(txn(zxid++, { type: OpCode.create, ...base, ephemeral: true }, session));
    else if (kind === 1) t.apply(txn(zxid++, { type: OpCode.createContainer, ...base }, session));
    else if (kind === 2) t.apply(txn(zxid++, { type: OpCode.createTTL, ...base, ttl: 1 + rnd.int(100000) }, session));
    else t.apply(txn(zxid++, { type: OpCode.create, ...base, ephemeral: false }, session));
    if (kind !== 0 && t.getNode(path) !== undefined) live.push(path);
    if (rnd.bool(0.1)) t.apply(txn(zxid++, { type: OpCode.setData, path: rnd.pick(live), data: Buffer.from('v' + i), version: 1 + rnd.int(5) }));
    if (rnd.bool(0.05)) t.apply(txn(zxid++, { type: OpCode.setACL, path: rnd.pick(live), acl: rnd.pick(ACL_CHOICES), version: 1 + rnd.int(5) }));
  }
  // One path longer than the loader's first path buffer.
  let deep = '/';
  for (let d = 0; d < 40; d++) {
    deep = childPath(deep, 'level-' + d + '-'.repeat(30));
    t.apply(txn(zxid++, create(deep)));
  }
  return t;
}

function sortedEphemerals(t: DataTree): [string, string[]][] {
  return [...t.allEphemerals()].map(([s, paths]): [string, string[]] => [String(s), paths.sort()]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Everything a loaded tree carries besides its nodes. */
function assertSameIndexes(a: DataTree, b: DataTree): void {
  assert.equal(treeDiff(a, b), null);
  assert.deepEqual(sortedEphemerals(a), sortedEphemerals(b));
  assert.deepEqual(a.containerPaths().sort(), b.containerPaths().sort());
  assert.deepEqual(a.ttlPaths().sort(), b.ttlPaths().sort());
  assert.deepEqual(a.quotaPaths().sort(), b.quotaPaths().sort());
  assert.equal(a.approximateDataSize(), b.approximateDataSize());
  assert.equal(a.aclCacheSize(), b.aclCacheSize());
  assert.equal(a.nodeCount(), b.nodeCount());
  for (const path of a.paths()) {
    assert.deepEqual([...a.getNode(path)!.childPaths].sort(), [...b.getNode(path)!.childPaths].sort(), path);
    assert.deepEqual(a.getNode(path)!.stored, b.getNode(path)!.stored, path);
    assert.equal(a.quotaPrefixOf(path), b.quotaPrefixOf(path), path);
  }
}

test('the bulk loader builds what node-by-node inserts build', () => {
  for (const seed of [1, 2, 3, 4]) {
    const original = randomTree(seed, 1500);
    const sessions = new Map<bigint, number>([[1n, 4000], [2n, 30000]]);
    const bytes = Buffer.concat(serializeSnapshot(original, sessions));
    const fast = deserializeSnapshot(bytes);
    const reference = referenceLoad(bytes);
    assertSameIndexes(fast.tree, reference.tree);
    assertSameIndexes(fast.tree, original);
    assert.deepEqual(fast.sessions, reference.sessions);
    assert.ok(Buffer.concat(serializeSnapshot(fast.tree, fast.sessions)).equals(bytes));
  }
});

test('the bulk loader counts ACL references as inserts do', () => {
  const bytes = Buffer.concat(serializeSnapshot(randomTree(9, 800), new Map()));
  const fast = deserializeSnapshot(bytes).tree;
  const reference = referenceLoad(bytes).tree;
  // Moving every node to one list releases the others exactly when their last user moves.
  const target: ACL[] = [{ perms: Perm.ADMIN, id: { scheme: 'world', id: 'anyone' } }];
  for (const path of [...reference.paths()]) {
    fast.setAcl(path, target, 9);
    reference.setAcl(path, target, 9);
    assert.equal(fast.aclCacheSize(), reference.aclCacheSize(), path);
  }
});

test('the bulk loader accepts no damaged snapshot the reference rejects', () => {
  const bytes = Buffer.concat(serializeSnapshot(randomTree(5, 300), new Map([[7n, 5000]])));
  const rnd = new Prng(11);
  const outcome = (load: (b: Buffer) => Snapshot, b: Buffer): Snapshot | SnapshotError => {
    try {
      return load(b);
    } catch (e) {
      assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${(e as Error).stack}`);
      return e;
    }
  };
  for (let i = 0; i < 400; i++) {
    const damaged = Buffer.from(bytes);
    if (i % 2 === 0) damaged[rnd.int(damaged.length)] ^= 1 << rnd.int(8);
    else damaged.writeInt32BE(rnd.pick([-2, -1, 0, 1, 0x7fffffff]), rnd.int(damaged.length - 4));
    const fast = outcome(deserializeSnapshot, damaged);
    const reference = outcome(referenceLoad, damaged);
    if (fast instanceof SnapshotError) continue; // it may be stricter (e.g. '/' in a name)
    if (reference instanceof SnapshotError) assert.fail(`accepted what the reference rejects (${reference.message})`);
    assertSameIndexes(fast.tree, reference.tree);
  }
  for (let cut = 0; cut < bytes.length; cut += 97) {
    assert.throws(() => deserializeSnapshot(bytes.subarray(0, cut)), SnapshotError);
  }
});

test('a name holding a slash is rejected', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/ab')));
  const bytes = Buffer.concat(serializeSnapshot(t, new Map()));
  const at = bytes.indexOf(Buffer.from('ab'));
  bytes[at + 1] = 0x2f;
  assert.throws(() => deserializeSnapshot(bytes), /bad node name/);
});

test('loading in slices of any size gives the same tree; damage surfaces in the slice that meets it', () => {
  const original = randomTree(6, 500);
  const bytes = Buffer.concat(serializeSnapshot(original, new Map([[3n, 9000]])));
  for (const slice of [1, 7, 100, 100_000]) {
    const loader = new SnapshotLoader(bytes);
    let steps = 1;
    while (!loader.step(slice)) steps++;
    assert.equal(steps, Math.max(1, Math.ceil(original.size / slice)));
    assertSameIndexes(loader.result().tree, original);
    assert.deepEqual(loader.result().sessions, new Map([[3n, 9000]]));
  }
  const truncated = new SnapshotLoader(bytes.subarray(0, bytes.length >> 1));
  assert.throws(() => {
    while (!truncated.step(10));
  }, SnapshotError);
  assert.throws(() => new SnapshotLoader(bytes.subarray(0, 10)), SnapshotError);
});
