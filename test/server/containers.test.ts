import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, Err, EventType, OpCode } from '../../src/jute/constants.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { create, OPEN } from './helpers.js';

test('an emptied container and an expired TTL node are removed by the server', async () => {
  await PipelineHarness.with({ tickTime: 50, containerCheckIntervalMs: 50, extendedTypesEnabled: true }, async (h) => {
    const c = await h.open();
    const made = await c.send({ type: OpCode.createContainer, path: '/box', data: null, acl: OPEN, flags: CreateMode.CONTAINER, ttl: -1 });
    assert.equal(made.header.err, Err.OK);
    const stat = (made.body as { stat: { ephemeralOwner: bigint } }).stat;
    assert.equal(stat.ephemeralOwner, 0n, 'containers show ephemeralOwner 0 on the wire');
    await c.send(create('/box/item'));
    await c.send({ type: OpCode.delete, path: '/box/item', version: -1 });
    // The clock is fake: nothing is removed before the test moves it, so both watches are set.
    const boxSeen = await c.send({ type: OpCode.exists, path: '/box', watch: true });
    assert.equal(boxSeen.header.err, Err.OK);
    const ttl = await c.send({ type: OpCode.createTTL, path: '/brief', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 1 });
    assert.equal(ttl.header.err, Err.OK);
    const briefSeen = await c.send({ type: OpCode.exists, path: '/brief', watch: true });
    assert.equal(briefSeen.header.err, Err.OK);
    await h.advance(100); // two container checks
    const deleted = new Set<string>();
    while (deleted.size < 2) {
      const ev = await c.waitForEvent((e) => e.type === EventType.NodeDeleted && !deleted.has(e.path), 5000);
      deleted.add(ev.path);
    }
    assert.deepEqual([...deleted].sort(), ['/box', '/brief']);
    await c.closeSession();
  });
});

test('TTL nodes need extendedTypesEnabled; a bad ttl is BADARGUMENTS', async () => {
  await PipelineHarness.with({ extendedTypesEnabled: false }, async (h) => {
    const c = await h.open();
    const off = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 1000 });
    assert.equal(off.header.err, Err.UNIMPLEMENTED);
    await c.closeSession();
  });
  await PipelineHarness.with({ extendedTypesEnabled: true }, async (h) => {
    const c = await h.open();
    const bad = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 0 });
    assert.equal(bad.header.err, Err.BADARGUMENTS);
    const wrongMode = await c.send({ type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: CreateMode.PERSISTENT, ttl: 5 });
    assert.equal(wrongMode.header.err, Err.BADARGUMENTS);
    await c.closeSession();
  });
});

test('quotas are enforced when enforceQuota is on', async () => {
  await PipelineHarness.with({ enforceQuota: true }, async (h) => {
    const c = await h.open();
    await c.send(create('/app'));
    await c.send(create('/zookeeper/quota/app'));
    const limits = await c.send(create('/zookeeper/quota/app/zookeeper_limits', 'count=-1,bytes=-1,countHardLimit=3,byteHardLimit=-1'));
    assert.equal(limits.header.err, Err.OK);
    await c.send(create('/zookeeper/quota/app/zookeeper_stats', 'count=1,bytes=0'));
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await c.send(create(`/app/n${i}`))).header.err);
    assert.ok(results.includes(Err.QUOTAEXCEEDED), `a create beyond the hard count limit fails: ${results}`);
    await c.closeSession();
  });
});
