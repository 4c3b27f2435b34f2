import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataTree } from '../../src/tree/index.js';
import { Err, EventType, OpCode, Perm } from '../../src/jute/constants.js';
import { OPEN, create, del, setData, txn } from './helpers.js';

test('a fresh tree matches ZooKeeper 3.8 standalone', () => {
  const t = new DataTree();
  assert.deepEqual(t.childrenOf('/'), ['zookeeper']);
  assert.deepEqual(t.childrenOf('/zookeeper').sort(), ['config', 'quota']);
  // Checked against Apache ZooKeeper 3.8: root cversion -1, /zookeeper -2, config aversion -1.
  assert.equal(t.statAt('/')!.cversion, -1);
  assert.equal(t.statAt('/zookeeper')!.cversion, -2);
  assert.equal(t.statAt('/zookeeper/config')!.aversion, -1);
  assert.deepEqual(t.getNode('/zookeeper/config')!.acl, [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }]);
  assert.deepEqual(t.getNode('/zookeeper/quota')!.acl, OPEN);
  assert.equal(t.getNode('/')!.data!.length, 0);
  assert.equal(t.nodeCount(), 5); // zk_znode_count
  assert.equal(t.approximateDataSize(), 44); // zk_approximate_data_size
  assert.equal(t.countDescendants('/'), 3);
  const s = t.statAt('/zookeeper/quota')!;
  assert.deepEqual([s.czxid, s.mzxid, s.pzxid, s.ctime, s.version, s.ephemeralOwner], [0, 0, 0, 0, 0, 0n]);
});

test('Stat evolves through create, setData, setACL and delete as in ZooKeeper', () => {
  const t = new DataTree();
  let r = t.apply(txn(1, create('/a', 1, 'x')));
  assert.equal(r.err, Err.OK);
  assert.deepEqual(r.events, [
    { type: EventType.NodeCreated, path: '/a' },
    { type: EventType.NodeChildrenChanged, path: '/' },
  ]);
  assert.deepEqual(r.stat, {
    czxid: 1, mzxid: 1, ctime: 1001, mtime: 1001, version: 0, cversion: 0, aversion: 0,
    ephemeralOwner: 0n, dataLength: 1, numChildren: 0, pzxid: 1,
  });
  t.apply(txn(2, create('/a/b', 1)));
  t.apply(txn(3, create('/a/c', 2)));
  let a = t.statAt('/a')!;
  assert.deepEqual([a.cversion, a.numChildren, a.pzxid, a.mzxid, a.version], [2, 2, 3, 1, 0]);

  r = t.apply(txn(4, setData('/a', 'hello', 1)));
  assert.deepEqual(r.events, [{ type: EventType.NodeDataChanged, path: '/a' }]);
  assert.deepEqual([r.stat!.version, r.stat!.mzxid, r.stat!.mtime, r.stat!.dataLength], [1, 4, 1004, 5]);

  r = t.apply(txn(5, { type: OpCode.setACL, path: '/a', acl: [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }], version: 1 }));
  assert.deepEqual(r.events, []);
  assert.deepEqual([r.stat!.aversion, r.stat!.mzxid, r.stat!.mtime], [1, 4, 1004]);

  r = t.apply(txn(6, del('/a/b')));
  assert.deepEqual(r.events, [
    { type: EventType.NodeDeleted, path: '/a/b' },
    { type: EventType.NodeChildrenChanged, path: '/a' },
  ]);
  a = t.statAt('/a')!;
  // Stored cversion stays 2; the visible one counts the delete.
  assert.deepEqual([a.cversion, a.numChildren, a.pzxid], [3, 1, 6]);
  assert.equal(t.getNode('/a')!.storedCversion, 2);
  assert.equal(t.lastProcessedZxid, 6);
});

test('sequential suffixes come from the stored cversion, which only counts creates', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/q', -1)));
  for (let i = 0; i < 3; i++) {
    const parent = t.getNode('/q')!;
    const path = `/q/n${String(parent.storedCversion).padStart(10, '0')}`;
    t.apply(txn(2 + i * 2, create(path, parent.storedCversion + 1)));
    t.apply(txn(3 + i * 2, del(path)));
  }
  assert.equal(t.getNode('/q')!.storedCversion, 3);
  assert.equal(t.statAt('/q')!.cversion, 6);
});

test('ephemerals are tracked per session and removed by closeSession', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/e1', -1, '', true), 7n));
  t.apply(txn(2, create('/e2', -1, '', true), 7n));
  t.apply(txn(3, create('/e3', -1, '', true), 8n));
  assert.deepEqual(t.ephemeralsOf(7n).sort(), ['/e1', '/e2']);
  assert.equal(t.statAt('/e1')!.ephemeralOwner, 7n);
  assert.equal(t.ephemeralCount(), 3);

  // paths2Delete empty (closeSessionTxn disabled): the tree's own list is used.
  let r = t.apply(txn(4, { type: OpCode.closeSession, paths2Delete: [] }, 7n));
  assert.equal(r.err, Err.OK);
  assert.deepEqual(r.events.filter((e) => e.type === EventType.NodeDeleted).map((e) => e.path), ['/e1', '/e2']);
  assert.deepEqual(t.ephemeralsOf(7n), []);
  assert.equal(t.statAt('/')!.pzxid, 4);

  r = t.apply(txn(5, { type: OpCode.closeSession, paths2Delete: ['/e3', '/gone'] }, 8n));
  assert.equal(r.err, Err.OK);
  assert.equal(t.getNode('/e3'), undefined);
  assert.deepEqual([...t.allEphemerals()], []);
});

test('error txns and check txns change nothing', () => {
  const t = new DataTree();
  const before = t.statAt('/')!;
  assert.equal(t.apply(txn(1, { type: OpCode.error, err: Err.NONODE })).err, Err.NONODE);
  assert.equal(t.apply(txn(2, { type: OpCode.check, path: '/', version: 0 })).err, Err.OK);
  assert.equal(t.apply(txn(3, { type: OpCode.createSession, timeOut: 30000 })).err, Err.OK);
  assert.deepEqual(t.statAt('/'), before);
  assert.equal(t.lastProcessedZxid, 3);
});

test('a multi applies its ops in order with one zxid', () => {
  const t = new DataTree();
  const r = t.apply(txn(1, { type: OpCode.multi, txns: [create('/m', 1), create('/m/x', 1), setData('/m', 'v', 1), { type: OpCode.check, path: '/m', version: 1 }] }));
  assert.equal(r.err, Err.OK);
  assert.deepEqual(r.multi!.map((x) => [x.type, x.err]), [[OpCode.create, 0], [OpCode.create, 0], [OpCode.setData, 0], [OpCode.check, 0]]);
  assert.equal(r.multi![2]!.stat!.version, 1);
  assert.deepEqual(r.events.map((e) => e.type), [1, 4, 1, 4, 3]);
  assert.ok(r.multi!.every((x) => x.events.length === 0));
  assert.equal(t.statAt('/m/x')!.czxid, 1);
});

test('a failed multi changes nothing and reports 0 / code / RUNTIMEINCONSISTENCY', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/a', 1)));
  const before = JSON.stringify([...t.paths()].map((p) => [p, t.statAt(p)]), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  const r = t.apply(txn(2, { type: OpCode.multi, txns: [create('/b', 2), { type: OpCode.error, err: Err.NODEEXISTS }, del('/a')] }));
  assert.equal(r.err, Err.NODEEXISTS);
  assert.deepEqual(r.multi!.map((x) => [x.type, x.err]), [[OpCode.error, 0], [OpCode.error, Err.NODEEXISTS], [OpCode.error, Err.RUNTIMEINCONSISTENCY]]);
  assert.deepEqual(r.events, []);
  const after = JSON.stringify([...t.paths()].map((p) => [p, t.statAt(p)]), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  assert.equal(after, before);
  assert.equal(t.lastProcessedZxid, 2);
});

test('replay is idempotent: existing creates and missing deletes change nothing but move pzxid/cversion up', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/a', 1)));
  t.apply(txn(2, create('/a/b', 1)));
  const r = t.apply(txn(2, create('/a/b', 1)));
  assert.equal(r.err, Err.NODEEXISTS);
  assert.deepEqual(r.events, []);
  assert.equal(t.statAt('/a')!.cversion, 1);
  // A create replayed whose node a later session re-created: the parent cversion still moves up.
  assert.equal(t.apply(txn(5, create('/a/b', 3))).err, Err.NODEEXISTS);
  assert.deepEqual([t.getNode('/a')!.storedCversion, t.getNode('/a')!.pzxid], [3, 5]);
  // A lower parentCVersion never moves cversion or pzxid back.
  t.apply(txn(6, create('/a/c', 2)));
  assert.deepEqual([t.getNode('/a')!.storedCversion, t.getNode('/a')!.pzxid], [3, 5]);

  const d = t.apply(txn(9, del('/a/zzz')));
  assert.equal(d.err, Err.NONODE);
  assert.equal(t.getNode('/a')!.pzxid, 9); // raised even though the child was gone
  t.apply(txn(7, del('/a/c')));
  assert.equal(t.getNode('/a')!.pzxid, 9); // never lowered
  assert.equal(t.apply(txn(10, setData('/nope', 'x', 1))).err, Err.NONODE);
  assert.equal(t.apply(txn(11, create('/x/y', 1))).err, Err.NONODE);
  assert.equal(t.lastProcessedZxid, 11);
});

test('a 0xFF high-byte owner is a TTL marker only with extendedTypesEnabled (EphemeralType.get)', () => {
  // Without extended types a server with id 255 makes session ids with a 0xFF high byte: its
  // ephemerals are ordinary ephemerals, shown in Stat and removed when the session closes.
  const session255 = BigInt.asIntN(64, 0xff00000000000007n);
  const plain = new DataTree({ extendedTypesEnabled: false });
  plain.apply(txn(1, create('/e', -1, '', true), session255));
  assert.equal(plain.statAt('/e')!.ephemeralOwner, session255);
  assert.deepEqual(plain.ephemeralsOf(session255), ['/e']);
  assert.deepEqual(plain.containerCandidates(Number.MAX_SAFE_INTEGER, 0), []);
  plain.apply(txn(2, { type: OpCode.closeSession, paths2Delete: [] }, session255));
  assert.equal(plain.getNode('/e'), undefined);

  const extended = new DataTree({ extendedTypesEnabled: true });
  extended.apply(txn(1, create('/e', -1, '', true), session255));
  assert.equal(extended.statAt('/e')!.ephemeralOwner, 0n);
  assert.deepEqual(extended.ephemeralsOf(session255), []);
});

test('containers and TTL nodes: owner encoding, visible owner 0, candidates', () => {
  const t = new DataTree();
  t.apply(txn(1, { type: OpCode.createContainer, path: '/c', data: null, acl: OPEN, parentCVersion: -1 }, 5n, 100));
  t.apply(txn(2, { type: OpCode.createContainer, path: '/fresh', data: null, acl: OPEN, parentCVersion: -1 }, 5n, 100));
  t.apply(txn(3, { type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, parentCVersion: -1, ttl: 500 }, 5n, 100));
  assert.equal(t.getNode('/c')!.ephemeralOwner, -0x8000000000000000n);
  assert.equal(t.getNode('/t')!.ephemeralOwner, BigInt.asIntN(64, 0xff000000000001f4n));
  assert.equal(t.statAt('/c')!.ephemeralOwner, 0n);
  assert.equal(t.statAt('/t')!.ephemeralOwner, 0n);
  assert.deepEqual(t.ephemeralsOf(5n), []);
  assert.deepEqual(t.containerCandidates(10_000, 0), ['/t']);
  assert.deepEqual(t.containerCandidates(600, 0), []); // TTL not yet passed

  t.apply(txn(4, create('/c/kid', -1), 5n, 200));
  assert.deepEqual(t.containerCandidates(10_000, 0), ['/t']); // has a child
  t.apply(txn(5, del('/c/kid')));
  assert.deepEqual(t.containerCandidates(10_000, 0).sort(), ['/c', '/t']);
  assert.deepEqual(t.containerCandidates(10_000, 5000).sort(), ['/c', '/fresh', '/t']);
  const r = t.apply(txn(6, { type: OpCode.deleteContainer, path: '/c' }));
  assert.equal(r.err, Err.OK);
  assert.deepEqual(t.containerPaths(), ['/fresh']);
});

test('data is copied out of the txn and null/empty data are kept apart', () => {
  const t = new DataTree();
  const frame = Buffer.from('abc');
  t.apply(txn(1, { type: OpCode.create, path: '/d', data: frame, acl: OPEN, ephemeral: false, parentCVersion: -1 }));
  frame[0] = 0x7a;
  assert.equal(t.getNode('/d')!.data!.toString(), 'abc');
  t.apply(txn(2, create('/n', -1, null)));
  assert.equal(t.getNode('/n')!.data, null);
  assert.equal(t.approximateDataSize(), 44 + 2 + 3 + 2);
});

test('identical ACLs share one array; ACLs are frozen', () => {
  const t = new DataTree();
  for (let i = 0; i < 100; i++) t.apply(txn(i + 1, create(`/n${i}`, -1)));
  assert.equal(t.getNode('/n1')!.acl, t.getNode('/n99')!.acl);
  assert.equal(t.aclCacheSize(), 2); // OPEN and the config node's READ
  assert.throws(() => (t.getNode('/n1')!.acl as unknown as unknown[]).push(1));
});

test('countDescendants and childrenOf', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/a', -1)));
  t.apply(txn(2, create('/a/b', -1)));
  t.apply(txn(3, create('/a/b/c', -1)));
  t.apply(txn(4, create('/ab', -1)));
  assert.equal(t.countDescendants('/a'), 2);
  assert.equal(t.countDescendants('/'), 7);
  assert.equal(t.countDescendants('/missing'), 0);
  assert.deepEqual(t.childrenOf('/a'), ['b']);
});

test('a cached child-list encoding follows every create and delete under the node', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/big', 1)));
  let zxid = 2;
  for (let i = 0; i < 100; i++) t.apply(txn(zxid++, create(`/big/c${i}`, i + 1)));
  let encodes = 0;
  const encode = (names: readonly string[]): Buffer => {
    encodes++;
    return Buffer.from(names.join(','));
  };
  const big = t.getNode('/big')!;
  const first = t.encodedChildren(big, encode);
  assert.equal(t.encodedChildren(big, encode), first, 'second read comes from the cache');
  assert.equal(encodes, 1);
  t.apply(txn(zxid++, create('/big/extra', 101)));
  assert.ok(t.encodedChildren(big, encode).toString().split(',').includes('extra'), 'a create drops the cached list');
  t.apply(txn(zxid++, del('/big/c0')));
  assert.ok(!t.encodedChildren(big, encode).toString().split(',').includes('c0'), 'a delete drops the cached list');
  assert.equal(encodes, 3);
  // A data change under the node leaves the list alone; a small list is never cached.
  t.apply(txn(zxid++, setData('/big/c1', 'v', 1)));
  t.encodedChildren(big, encode);
  assert.equal(encodes, 3);
  const root = t.getNode('/')!;
  t.encodedChildren(root, encode);
  t.encodedChildren(root, encode);
  assert.equal(encodes, 5);
});
