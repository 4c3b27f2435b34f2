import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataTree, StatsTrack, deserializeSnapshot, serializeSnapshot } from '../../src/tree/index.js';
import { create, del, setData, txn } from './helpers.js';
import type { Txn } from '../../src/jute/txn.js';

/** What `setquota` does: the quota path's nodes under /zookeeper/quota, limits, then stats. */
function setQuota(t: DataTree, zxid: number, path: string, limits: string): number {
  let z = zxid;
  const parts = path.split('/').filter(Boolean);
  let p = '/zookeeper/quota';
  for (const part of parts) {
    p += '/' + part;
    if (!t.getNode(p)) t.apply(txn(z++, create(p)));
  }
  t.apply(txn(z++, create(p + '/zookeeper_limits', -1, limits)));
  t.apply(txn(z++, create(p + '/zookeeper_stats', -1, 'count=0,bytes=0')));
  return z;
}

const stats = (t: DataTree, path: string): string => t.getNode(`/zookeeper/quota${path}/zookeeper_stats`)!.data!.toString();
const apply = (t: DataTree, ...txns: Txn[]): void => txns.forEach((x) => t.apply(x));

test('StatsTrack reads and writes ZooKeeper quota text', () => {
  const s = new StatsTrack('count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=3');
  assert.deepEqual([s.count, s.bytes, s.byteHardLimit, s.countHardLimit], [-1, -1, 100, 3]);
  assert.equal(s.toString(), 'count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=3');
  assert.equal(new StatsTrack('count=5,bytes=10').toString(), 'count=5,bytes=10');
  assert.equal(new StatsTrack('').count, -1);
});

test('quota stats follow creates, deletes and data changes below the quota root', () => {
  const t = new DataTree();
  apply(t, txn(1, create('/a', -1, 'xy')), txn(2, create('/a/b', -1, 'abc')));
  const z = setQuota(t, 3, '/a', 'count=10,bytes=-1');
  assert.equal(stats(t, '/a'), 'count=2,bytes=5'); // computed when the stats node appears
  const statNode = t.statAt('/zookeeper/quota/a/zookeeper_stats')!;
  apply(t, txn(z, create('/a/b/c', -1, '1234')));
  assert.equal(stats(t, '/a'), 'count=3,bytes=9');
  apply(t, txn(z + 1, setData('/a/b', 'a', 1)));
  assert.equal(stats(t, '/a'), 'count=3,bytes=7');
  apply(t, txn(z + 2, del('/a/b/c')));
  assert.equal(stats(t, '/a'), 'count=2,bytes=3');
  apply(t, txn(z + 3, create('/ab', -1, 'zzz'))); // a sibling prefix is not inside /a
  assert.equal(stats(t, '/a'), 'count=2,bytes=3');
  // The stats node's own Stat does not move, as in ZooKeeper.
  assert.equal(t.statAt('/zookeeper/quota/a/zookeeper_stats')!.mzxid, statNode.mzxid);
});

test('only the deepest quota counts a node', () => {
  const t = new DataTree();
  apply(t, txn(1, create('/a')), txn(2, create('/a/b')));
  let z = setQuota(t, 3, '/a', 'count=100,bytes=-1');
  z = setQuota(t, z, '/a/b', 'count=100,bytes=-1');
  assert.equal(stats(t, '/a'), 'count=2,bytes=0');
  assert.equal(stats(t, '/a/b'), 'count=1,bytes=0');
  t.apply(txn(z, create('/a/b/c', -1, 'x')));
  assert.equal(stats(t, '/a/b'), 'count=2,bytes=1');
  assert.equal(stats(t, '/a'), 'count=2,bytes=0');
  assert.equal(t.quotaPrefixOf('/a/b/c'), '/a/b');
  assert.deepEqual(t.quotaPaths().sort(), ['/a', '/a/b']);
});

test('checkQuota enforces hard limits only', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/h')));
  let z = setQuota(t, 2, '/h', 'count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=2');
  assert.equal(t.checkQuota('/h/x', 3, 1), true); // count 2 <= 2
  t.apply(txn(z++, create('/h/x', -1, '12345')));
  assert.equal(t.checkQuota('/h/y', 0, 1), false); // count would be 3
  assert.equal(t.checkQuota('/h/x', 5, 0), true); // bytes 10 <= 10
  assert.equal(t.checkQuota('/h/x', 6, 0), false);
  assert.equal(t.checkQuota('/other', 1000, 1), true);

  t.apply(txn(z++, create('/s')));
  z = setQuota(t, z, '/s', 'count=1,bytes=1');
  assert.equal(t.checkQuota('/s/x', 100, 1), true); // soft limits are only logged

  // Removing the limits node removes the quota.
  t.apply(txn(z++, del('/zookeeper/quota/h/zookeeper_limits')));
  assert.equal(t.checkQuota('/h/y', 0, 1), true);
  assert.equal(t.quotaPrefixOf('/h/x'), null);
});

test('quotas survive a snapshot round trip', () => {
  const t = new DataTree();
  t.apply(txn(1, create('/h')));
  const z = setQuota(t, 2, '/h', 'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=1');
  t.apply(txn(z, create('/h/x')));
  const { tree } = deserializeSnapshot(serializeSnapshot(t, new Map()));
  assert.deepEqual(tree.quotaPaths(), ['/h']);
  assert.equal(tree.checkQuota('/h/y', 0, 1), false);
});
