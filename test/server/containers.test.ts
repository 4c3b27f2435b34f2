import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, Err, EventType, OpCode } from '../../src/jute/constants.js';
import { client, create, OPEN, withServer } from './helpers.js';

test('an emptied container and an expired TTL node are removed by the server', async () => {
  await withServer({ tickTime: 50, containerCheckIntervalMs: 50, extendedTypesEnabled: true }, async (s) => {
    const c = await client(s);
    const made = await c.send({ type: OpCode.createContainer, path: '/box', data: null, acl: OPEN, flags: CreateMode.CONTAINER, ttl: -1 });
    assert.equal(made.header.err, Err.OK);
    const stat = (made.body as { stat: { ephemeralOwner: bigint } }).stat;
    assert.equal(stat.ephemeralOwner, 0n, 'containers show ephemeralOwner 0 on the wire');
    await c.send(create('/box/item'));
    await c.send({ type: OpCode.delete, path: '/box/item', version: -1 });
    // The server may remove a node before its watch is set (a loaded machine): then it is gone already.
    const deleted = new Set<string>();
    const boxSeen = await c.send({ type: OpCode.exists, path: '/box', watch: true });
    if (boxSeen.header.err === Err.NONODE) deleted.add('/box');
    const ttl = await c.send({ type: OpCode.createTTL, path: '/brief', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 1 });
    assert.equal(ttl.header.err, Err.OK);
    const briefSeen = await c.send({ type: OpCode.exists, path: '/brief', watch: true });
    if (briefSeen.header.err === Err.NONODE) deleted.add('/brief');
    while (deleted.size < 2) {
      const ev = await c.waitForEvent((e) => e.type === EventType.NodeDeleted && !deleted.has(e.path), 5000);
      deleted.add(ev.path);
    }
    assert.deepEqual([...deleted].sort(), ['/box', '/brief']);
    await c.close();
  });
});

test('TTL nodes need extendedTypesEnabled; a bad ttl is BADARGUMENTS', async () => {
  await withServer({ extendedTypesEnabled: false }, async (s) => {
    const c = await client(s);
    const off = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 1000 });
    assert.equal(off.header.err, Err.UNIMPLEMENTED);
    await c.close();
  });
  await withServer({ extendedTypesEnabled: true }, async (s) => {
    const c = await client(s);
    const bad = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 0 });
    assert.equal(bad.header.err, Err.BADARGUMENTS);
    const wrongMode = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT, ttl: 5 });
    assert.equal(wrongMode.header.err, Err.BADARGUMENTS);
    await c.close();
  });
});

test('quotas are enforced when enforceQuota is on', async () => {
  await withServer({ enforceQuota: true }, async (s) => {
    const c = await client(s);
    await c.send(create('/app'));
    await c.send(create('/zookeeper/quota/app'));
    const limits = await c.send(create('/zookeeper/quota/app/zookeeper_limits', 'count=-1,bytes=-1,countHardLimit=3,byteHardLimit=-1'));
    assert.equal(limits.header.err, Err.OK);
    await c.send(create('/zookeeper/quota/app/zookeeper_stats', 'count=1,bytes=0'));
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await c.send(create(`/app/n${i}`))).header.err);
    assert.ok(results.includes(Err.QUOTAEXCEEDED), `a create beyond the hard count limit fails: ${results}`);
    await c.close();
  });
});
