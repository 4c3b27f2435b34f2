import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchRegistry } from '../../src/watches/index.js';
import { EventType, WatcherType } from '../../src/jute/constants.js';

const { NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged } = EventType;

test('standard data watches fire once on create, data change and delete', () => {
  const r = new WatchRegistry<string>();
  r.addDataWatch('/a', 'c1');
  assert.deepEqual(r.trigger(NodeChildrenChanged, '/a'), []);
  assert.deepEqual(r.trigger(NodeCreated, '/a'), ['c1']);
  assert.deepEqual(r.trigger(NodeCreated, '/a'), []); // one-shot
  r.addDataWatch('/a', 'c1');
  assert.deepEqual(r.trigger(NodeDataChanged, '/a'), ['c1']);
  r.addDataWatch('/a', 'c1');
  assert.deepEqual(r.trigger(NodeDeleted, '/a'), ['c1']);
  assert.equal(r.watchCount(), 0);
});

test('child watches fire on NodeChildrenChanged and NodeDeleted only', () => {
  const r = new WatchRegistry<string>();
  r.addChildWatch('/p', 'c1');
  assert.deepEqual(r.trigger(NodeDataChanged, '/p'), []);
  assert.deepEqual(r.trigger(NodeCreated, '/p'), []);
  assert.deepEqual(r.trigger(NodeChildrenChanged, '/p'), ['c1']);
  r.addChildWatch('/p', 'c1');
  assert.deepEqual(r.trigger(NodeDeleted, '/p'), ['c1']);
  assert.equal(r.watchCount(), 0);
});

test('a watcher with data and child watches on a deleted node is told once', () => {
  const r = new WatchRegistry<string>();
  r.addDataWatch('/x', 'c1');
  r.addChildWatch('/x', 'c1');
  r.addChildWatch('/x', 'c2');
  assert.deepEqual(r.trigger(NodeDeleted, '/x'), ['c1', 'c2']);
  assert.equal(r.watchCount(), 0);
});

test('persistent watches fire on every event at their path and stay', () => {
  const r = new WatchRegistry<string>();
  r.addPersistent('/p', 'c1');
  assert.equal(r.watchCount(), 2); // one in each table, as in ZooKeeper
  for (const type of [NodeCreated, NodeDataChanged, NodeChildrenChanged, NodeDeleted, NodeCreated]) {
    assert.deepEqual(r.trigger(type, '/p'), ['c1'], `type ${type}`);
  }
  assert.deepEqual(r.trigger(NodeCreated, '/p/child'), []); // not recursive
  assert.equal(r.watchCount(), 2);
});

test('a standard watch next to a persistent one is consumed, the persistent one stays', () => {
  const r = new WatchRegistry<string>();
  r.addPersistent('/p', 'c1');
  r.addDataWatch('/p', 'c1');
  assert.equal(r.hasWatch('/p', 'c1', WatcherType.Data), true);
  assert.deepEqual(r.trigger(NodeDataChanged, '/p'), ['c1']);
  assert.equal(r.hasWatch('/p', 'c1', WatcherType.Data), false);
  assert.equal(r.hasWatch('/p', 'c1', WatcherType.Persistent), true);
});

test('recursive watches see the subtree but never NodeChildrenChanged', () => {
  const r = new WatchRegistry<string>();
  r.addPersistentRecursive('/a', 'rec');
  r.addPersistentRecursive('/', 'root');
  assert.deepEqual(r.trigger(NodeCreated, '/a/b/c'), ['rec', 'root']);
  assert.deepEqual(r.trigger(NodeDataChanged, '/a/b'), ['rec', 'root']);
  assert.deepEqual(r.trigger(NodeDeleted, '/a'), ['rec', 'root']);
  assert.deepEqual(r.trigger(NodeChildrenChanged, '/a'), []);
  assert.deepEqual(r.trigger(NodeCreated, '/ab'), ['root']); // /ab is not below /a
  assert.deepEqual(r.trigger(NodeCreated, '/'), ['root']);
  assert.equal(r.watchCount(), 2);
});

test('one event notifies each watcher once, whatever it holds', () => {
  const r = new WatchRegistry<string>();
  r.addPersistentRecursive('/a', 'c1');
  r.addPersistentRecursive('/a/b', 'c1');
  r.addDataWatch('/a/b', 'c1');
  r.addPersistent('/a/b', 'c1');
  r.addDataWatch('/a/b', 'c2');
  assert.deepEqual(r.trigger(NodeDataChanged, '/a/b'), ['c1', 'c2']);
  assert.deepEqual(r.trigger(NodeDataChanged, '/a/b'), ['c1']);
});

test('hasWatch and removeWatches follow ZooKeeper 3.9 WatcherType semantics', () => {
  const r = new WatchRegistry<string>();
  r.addDataWatch('/n', 'c');
  r.addChildWatch('/n', 'c');
  r.addPersistent('/n', 'c');
  r.addPersistentRecursive('/n', 'c');
  assert.equal(r.hasWatch('/n', 'c', WatcherType.Children), true);
  assert.equal(r.hasWatch('/n', 'c', WatcherType.Data), true);
  assert.equal(r.hasWatch('/n', 'c', WatcherType.Persistent), true);
  assert.equal(r.hasWatch('/n', 'c', WatcherType.PersistentRecursive), true);
  assert.equal(r.hasWatch('/n', 'other', WatcherType.Any), false);

  assert.equal(r.removeWatches('/n', 'c', WatcherType.Children), true);
  assert.equal(r.removeWatches('/n', 'c', WatcherType.Children), false);
  assert.equal(r.hasWatch('/n', 'c', WatcherType.Any), true);
  assert.equal(r.removeWatches('/n', 'c', WatcherType.Persistent), true);
  assert.equal(r.hasWatch('/n', 'c', WatcherType.Persistent), false);
  assert.equal(r.removeWatches('/n', 'c', WatcherType.PersistentRecursive), true);
  // Only the standard data watch is left, and the recursive machinery is off again.
  assert.deepEqual(r.trigger(NodeCreated, '/n/child'), []);
  assert.equal(r.removeWatches('/n', 'c', WatcherType.Any), true);
  assert.equal(r.removeWatches('/n', 'c', WatcherType.Any), false);
  assert.equal(r.watchCount(), 0);
  assert.deepEqual(r.summary(), { connections: 0, paths: 0, total: 0 });
});

test('Any removes standard and persistent watches in both tables', () => {
  const r = new WatchRegistry<string>();
  r.addChildWatch('/n', 'c');
  r.addPersistent('/n', 'c');
  assert.equal(r.removeWatches('/n', 'c', WatcherType.Any), true);
  assert.deepEqual(r.trigger(NodeChildrenChanged, '/n'), []);
  assert.deepEqual(r.trigger(NodeDataChanged, '/n'), []);
});

test('removeWatcher drops a connection everywhere', () => {
  const r = new WatchRegistry<object>();
  const c1 = {};
  const c2 = {};
  r.addDataWatch('/a', c1);
  r.addChildWatch('/a', c1);
  r.addPersistentRecursive('/', c1);
  r.addDataWatch('/a', c2);
  r.removeWatcher(c1);
  assert.deepEqual(r.trigger(NodeDeleted, '/a'), [c2]);
  assert.deepEqual(r.trigger(NodeCreated, '/b'), []);
  assert.equal(r.watchCount(), 0);
});

test('four-letter-word views count the data table, watchCount both tables', () => {
  const r = new WatchRegistry<string>();
  r.addDataWatch('/a', 'c1');
  r.addDataWatch('/b', 'c1');
  r.addDataWatch('/a', 'c2');
  r.addChildWatch('/c', 'c3');
  assert.equal(r.watchCount(), 4);
  assert.deepEqual(r.summary(), { connections: 2, paths: 2, total: 3 });
  assert.deepEqual(r.pathsByWatcher(), new Map([['c1', ['/a', '/b']], ['c2', ['/a']]]));
  assert.deepEqual(r.watchersByPath(), new Map([['/a', ['c1', 'c2']], ['/b', ['c1']]]));
  assert.deepEqual(r.childPathsByWatcher(), new Map([['c3', ['/c']]]));
});

test('triggering a deep path is cheap with many watches and one recursive watch', () => {
  const r = new WatchRegistry<number>();
  for (let i = 0; i < 100_000; i++) r.addDataWatch(`/w/${i}`, i % 100);
  r.addPersistentRecursive('/w', -1);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 10_000; i++) r.trigger(NodeDataChanged, `/x/${i}/a/b/c`);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(ms < 1000, `${ms} ms`);
  assert.deepEqual(r.trigger(NodeDataChanged, '/w/5'), [5, -1]);
});
