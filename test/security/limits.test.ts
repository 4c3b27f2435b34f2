/**
 * Issue 15 item 5: limits against abusive clients. Connection rates (ZooKeeper's
 * connection_throttle_* and Paddock's per-IP rate) close new connections at accept; the request
 * throttler (request_throttle_max_requests) and the per-session request rate delay reading,
 * never fail a request; the per-session watch cap answers QUOTAEXCEEDED. Each is counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionAdmission, TokenBucket, perSecondBucket } from '../../src/server/limits.js';
import { PROMETHEUS_PROVIDER_CLASS } from '../../src/config/config.js';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import { AddWatchMode, Err, EventType, OpCode } from '../../src/jute/constants.js';
import { RawClient } from '../support/rawclient.js';
import { startPaddock } from '../support/paddock.js';
import { fourLetterWord } from '../support/zookeeper.js';

const OPEN_ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

test('a token bucket starts full, refills by fillCount per fillTime, never above capacity', () => {
  const b = new TokenBucket(3, 2, 100, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.msUntilToken(40), 60);
  assert.equal(b.take(99), false);
  assert.deepEqual([b.take(100), b.take(100), b.take(100)], [true, true, false]);
  assert.equal(b.full(10_000), true, 'a long pause refills it to capacity, not beyond');
  assert.deepEqual([b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)], [true, true, true, false]);
  const perSecond = perSecondBucket(4, 0);
  for (let i = 0; i < 4; i++) assert.equal(perSecond.take(0), true);
  assert.equal(perSecond.take(0), false);
  assert.equal(perSecond.msUntilToken(0), 250);
});

test('connection admission: per-IP rate first, then the server-wide bucket; idle IPs are forgotten', () => {
  const a = new ConnectionAdmission({ connectionRatePerIp: 2, connectionThrottleTokens: 3, connectionThrottleFillCount: 1, connectionThrottleFillTimeMs: 1000 }, 0);
  assert.deepEqual([a.admit('10.0.0.1', 0), a.admit('10.0.0.1', 0), a.admit('10.0.0.1', 0)], ['admitted', 'admitted', 'ip-rate']);
  assert.deepEqual([a.admit('10.0.0.2', 0), a.admit('10.0.0.3', 0)], ['admitted', 'throttled'], 'the server-wide bucket held 3');
  assert.equal(a.admit('10.0.0.2', 1000), 'admitted', 'a second later one token is back');
  const many = new ConnectionAdmission({ connectionRatePerIp: 1, connectionThrottleTokens: 0, connectionThrottleFillCount: 1, connectionThrottleFillTimeMs: 1 }, 0);
  for (let i = 0; i < 5000; i++) many.admit(`10.1.${i >> 8}.${i & 255}`, i * 10);
  assert.ok(many.trackedIps() < 2100, `${many.trackedIps()} IPs remembered: buckets that refilled are dropped`);
});

test('zoo.cfg: the throttle keys and Paddock\'s limits are read, with their defaults', () => {
  const base = 'dataDir=/d\nclientPort=2181\n';
  const { config: d } = parseZooCfg(base, { baseDir: '/' });
  assert.deepEqual([d.requestThrottleMaxRequests, d.requestThrottleStallTimeMs, d.connectionThrottleTokens, d.connectionRatePerIp, d.requestRatePerSession, d.maxWatchesPerSession],
    [0, 100, 0, 0, 0, 1_000_000]);
  const { config: c, warnings } = parseZooCfg(base + [
    'zookeeper.request_throttle_max_requests=50', 'requestThrottleStallTime=20', 'connection_throttle_tokens=100',
    'connection_throttle_fill_time=10', 'connection_throttle_fill_count=5', 'paddock.connectionRatePerIp=20',
    'paddock.requestRatePerSession=500', 'paddock.maxWatchesPerSession=1000',
  ].join('\n'), { baseDir: '/' });
  assert.deepEqual(warnings, []);
  assert.deepEqual([c.requestThrottleMaxRequests, c.requestThrottleStallTimeMs, c.connectionThrottleTokens, c.connectionThrottleFillTimeMs, c.connectionThrottleFillCount,
    c.connectionRatePerIp, c.requestRatePerSession, c.maxWatchesPerSession], [50, 20, 100, 10, 5, 20, 500, 1000]);
  assert.throws(() => parseZooCfg(base + 'paddock.maxWatchesPerSession=-1', { baseDir: '/' }), /paddock\.maxWatchesPerSession/);
  assert.match(parseZooCfg(base + 'request_throttle_drop_stale=false', { baseDir: '/' }).warnings.join(), /always drops the requests a closed connection left unread/);
});

test('paddock.connectionRatePerIp: a burst of connections from one IP is cut at the rate; the server goes on', async () => {
  const p = await startPaddock({ connectionRatePerIp: 1 });
  try {
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => RawClient.connect('127.0.0.1', p.port, { handshakeTimeoutMs: 10_000 })));
    const connected = outcomes.filter((o) => o.status === 'fulfilled');
    assert.ok(connected.length >= 1 && connected.length < 3, `${connected.length} of 3 connected within one token`);
    const stats = p.server.server.stats;
    assert.ok((stats.limitCounters.get('connections_rate_limited') ?? 0) >= 1);
    assert.ok((stats.counters.get('connection_rejected') ?? 0) >= 1);
    for (const o of connected) (o as PromiseFulfilledResult<RawClient>).value.close();
  } finally {
    await p.stop();
  }
});

test('paddock.requestRatePerSession: a fast client is read more slowly, every request is answered', async () => {
  const p = await startPaddock({ requestRatePerSession: 20 });
  try {
    const c = await RawClient.connect('127.0.0.1', p.port);
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 60 }, () => c.send({ type: OpCode.exists, path: '/', watch: false })));
    const elapsedMs = Date.now() - started;
    assert.ok(replies.every((r) => r.header.err === Err.OK));
    // 20 at once, then 20 per second: 40 more take two seconds.
    assert.ok(elapsedMs >= 1500, `60 requests at 20/s took ${elapsedMs} ms`);
    assert.ok((p.server.server.stats.limitCounters.get('requests_rate_delayed') ?? 0) >= 1);
    const other = await RawClient.connect('127.0.0.1', p.port);
    assert.equal((await other.send({ type: OpCode.exists, path: '/', watch: false })).header.err, Err.OK, 'another session has its own budget');
    c.close();
    other.close();
  } finally {
    await p.stop();
  }
});

test('request_throttle_max_requests: writes past the limit wait, all succeed, the waits are counted', async () => {
  const p = await startPaddock({ requestThrottleMaxRequests: 1, requestThrottleStallTimeMs: 20 });
  try {
    const clients = await Promise.all([1, 2, 3].map(() => RawClient.connect('127.0.0.1', p.port)));
    const writes = clients.flatMap((c, i) =>
      Array.from({ length: 20 }, (_, j) => c.send({ type: OpCode.create, path: `/t-${i}-${j}`, data: null, acl: OPEN_ACL, flags: 0, ttl: -1 })));
    const replies = await Promise.all(writes);
    assert.ok(replies.every((r) => r.header.err === Err.OK));
    assert.match(await fourLetterWord(p.port, 'mntr'), /^zk_request_throttle_wait_count\t[1-9]/m);
    for (const c of clients) c.close();
  } finally {
    await p.stop();
  }
});

test('paddock.maxWatchesPerSession: the read that would pass the cap fails with QUOTAEXCEEDED and sets nothing', async () => {
  const p = await startPaddock({
    maxWatchesPerSession: 3, metricsProviderClassName: PROMETHEUS_PROVIDER_CLASS,
    metricsProviderConfig: new Map([['httpHost', '127.0.0.1'], ['httpPort', '0']]),
  });
  try {
    const c = await RawClient.connect('127.0.0.1', p.port);
    for (const path of ['/a', '/b']) await c.send({ type: OpCode.create, path, data: null, acl: OPEN_ACL, flags: 0, ttl: -1 });
    assert.equal((await c.send({ type: OpCode.getData, path: '/a', watch: true })).header.err, Err.OK);
    assert.equal((await c.send({ type: OpCode.getChildren, path: '/a', watch: true })).header.err, Err.OK);
    assert.equal((await c.send({ type: OpCode.exists, path: '/missing', watch: true })).header.err, Err.NONODE);
    assert.equal((await c.send({ type: OpCode.getData, path: '/b', watch: true })).header.err, Err.QUOTAEXCEEDED);
    assert.equal((await c.send({ type: OpCode.exists, path: '/other', watch: true })).header.err, Err.QUOTAEXCEEDED);
    assert.equal((await c.send({ type: OpCode.addWatch, path: '/b', mode: AddWatchMode.Persistent })).header.err, Err.QUOTAEXCEEDED);
    assert.equal((await c.send({ type: OpCode.getData, path: '/a', watch: true })).header.err, Err.OK, 'a watch it holds may be set again');
    assert.equal((await c.send({ type: OpCode.getData, path: '/b', watch: false })).header.err, Err.OK, 'reads without a watch go on');
    const other = await RawClient.connect('127.0.0.1', p.port);
    assert.equal((await other.send({ type: OpCode.getData, path: '/b', watch: true })).header.err, Err.OK, 'another session has its own cap');
    // A fired watch frees its slot.
    assert.equal((await other.send({ type: OpCode.setData, path: '/a', data: Buffer.from('x'), version: -1 })).header.err, Err.OK);
    const event = await c.waitForEvent();
    assert.equal(event.type, EventType.NodeDataChanged);
    assert.equal((await c.send({ type: OpCode.getData, path: '/b', watch: true })).header.err, Err.OK);
    assert.doesNotMatch(await fourLetterWord(p.port, 'wchp'), /\/other/, 'the refused exists left no watch');
    assert.equal(p.server.server.stats.limitCounters.get('watches_refused'), 3);
    const metrics = await (await fetch(`http://127.0.0.1:${p.server.metrics!.port}/metrics`)).text();
    assert.match(metrics, /^paddock_watches_refused_total 3(\.0)?$/m);
    c.close();
    other.close();
  } finally {
    await p.stop();
  }
});
