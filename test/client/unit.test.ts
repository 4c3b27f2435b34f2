/** Server-less unit tests: connect strings, paths, the event queue, the watch registry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { BadArgumentsError, digestId, parseConnectString, validatePath } from '../../src/client/index.js';
import { EventQueue } from '../../src/client/event-queue.js';
import { prependChroot, stripChroot } from '../../src/client/paths.js';
import { WatchRegistry } from '../../src/client/watches.js';
import { EventType } from '../../src/jute/constants.js';
import type { StreamEvent, WatchEvent } from '../../src/client/types.js';

test('connect strings: hosts, default port, IPv6, chroot', () => {
  assert.deepEqual(parseConnectString('a:1,b,[::1]:3/app/x'), {
    hosts: [
      { host: 'a', port: 1 },
      { host: 'b', port: 2181 },
      { host: '::1', port: 3 },
    ],
    chroot: '/app/x',
  });
  assert.equal(parseConnectString('a:1/').chroot, '');
  assert.throws(() => parseConnectString(''), BadArgumentsError);
  assert.throws(() => parseConnectString('a:0'), BadArgumentsError);
  assert.throws(() => parseConnectString('a:1/bad/'), BadArgumentsError);
});

test('paths: ZooKeeper rules, sequential trailing slash, chroot mapping', () => {
  for (const ok of ['/', '/a', '/a/b', '/a b/c']) validatePath(ok);
  validatePath('/q/', true);
  for (const bad of ['', 'a', '/a/', '//a', '/a/./b', '/a/../b', '/a\u0000', '/\u0001', '/\ud83d\ude00']) {
    assert.throws(() => validatePath(bad), BadArgumentsError, JSON.stringify(bad));
  }
  assert.equal(prependChroot('/app', '/'), '/app');
  assert.equal(prependChroot('/app', '/x'), '/app/x');
  assert.equal(stripChroot('/app', '/app'), '/');
  assert.equal(stripChroot('/app', '/app/x'), '/x');
  assert.equal(stripChroot('/app', '/apple'), '/apple');
});

test('event queue: buffers, hands over, overflows, ends', async () => {
  const q = new EventQueue<number>(2, (buf, next) => {
    buf.length = 0;
    buf.push(-next);
  });
  q.push(1);
  q.push(2);
  q.push(3); // overflow: replaced by a marker
  assert.deepEqual(await q.next(), { value: -3, done: false });
  const pending = q.next();
  q.push(4);
  assert.deepEqual(await pending, { value: 4, done: false });
  q.end();
  assert.deepEqual(await q.next(), { value: undefined, done: true });
});

test('watch registry: one-shot semantics, recursive scope, expiry and close', () => {
  const reg = new WatchRegistry();
  const got: string[] = [];
  const cb = (tag: string) => (e: WatchEvent) => got.push(`${tag}:${e.type}:${e.path}`);
  reg.addOneShot('data', '/a', cb('data'));
  reg.addOneShot('exist', '/b', cb('exist'));
  reg.addOneShot('child', '/a', cb('child'));
  const rec: StreamEvent[] = [];
  reg.addPersistent('persistentRecursive', '/a', { event: (e) => rec.push(e), end: () => rec.push({ type: 'resync', path: 'END', reason: 'initial' }) });
  reg.dispatch(EventType.NodeDataChanged, '/a');
  reg.dispatch(EventType.NodeDataChanged, '/a'); // one-shot: not again
  reg.dispatch(EventType.NodeChildrenChanged, '/a');
  reg.dispatch(EventType.NodeCreated, '/a/x/y');
  reg.dispatch(EventType.NodeChildrenChanged, '/a/x'); // recursive watches never see these
  assert.deepEqual(got, ['data:dataChanged:/a', 'child:childrenChanged:/a']);
  assert.deepEqual(rec.map((e) => `${e.type}:${e.path}`), ['dataChanged:/a', 'dataChanged:/a', 'created:/a/x/y']);
  reg.expireOneShot();
  assert.deepEqual(got.at(-1), 'exist:lost:/b');
  assert.deepEqual(reg.snapshot().persistentRecursive, ['/a'], 'persistent watches outlive the session');
  reg.closeAll();
  assert.equal(rec.at(-1)?.path, 'END');
});

test('digestId is the server\'s DigestAuthenticationProvider.generateDigest', () => {
  const sha1 = (s: string): string => createHash('sha1').update(s).digest('base64');
  assert.deepEqual(digestId('alice', 'secret'), { scheme: 'digest', id: `alice:${sha1('alice:secret')}` });
  // ZooKeeper splits "user:password" at the first ':', so a ':' in the user ends the name there.
  assert.deepEqual(digestId('a:b', 'pw'), { scheme: 'digest', id: `a:${sha1('a:b:pw')}` });
});

test('client path rules are the server\'s (ZooKeeper PathUtils wording)', () => {
  assert.throws(() => validatePath('a'), (e: Error) => e instanceof BadArgumentsError && /Path must start with \/ character/.test(e.message));
  assert.throws(() => validatePath('/a/../b'), (e: Error) => e instanceof BadArgumentsError && /relative paths not allowed/.test(e.message));
  validatePath('/a/', true);
});
