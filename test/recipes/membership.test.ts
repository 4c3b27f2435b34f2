import assert from 'node:assert/strict';
import type { ZooKeeperClient } from '../../src/client/index.js';
import {
  GroupMember,
  NodeCache,
  PartitionConsumer,
  PersistentNode,
  ServiceDiscovery,
  TreeCache,
  type CacheEvent,
  type PartitionAssignment,
} from '../../src/recipes/index.js';
import { forEachTarget, it } from '../client/targets.js';
import { FaultProxy } from '../client/proxy.js';
import { client, killSession, nextSessionEvent, uniquePath, within } from '../client/helpers.js';

/** Resolves when `cache` emits an event matching `pred`. */
function cacheEvent(cache: { onChange(l: (e: CacheEvent) => void): () => void }, pred: (e: CacheEvent) => boolean, timeoutMs = 10_000): Promise<CacheEvent> {
  let off = (): void => {};
  return within(
    new Promise<CacheEvent>((resolve) => {
      off = cache.onChange((e) => pred(e) && resolve(e));
    }),
    timeoutMs,
    'cache event',
  ).finally(() => off());
}

forEachTarget('caches, membership, partitions', ({ server }) => {
  it('node cache and tree cache follow changes and resync after a dropped connection', async () => {
    const proxy = await FaultProxy.start(server().port);
    try {
      await using zk = await client(proxy.connectString, { sessionTimeoutMs: 4000 });
      await using writer = await client(server().connectString);
      const root = uniquePath('cache');
      await writer.create(root, 'r');
      await writer.create(`${root}/a`, 'a1');
      const node = new NodeCache(zk, `${root}/a`);
      const tree = new TreeCache(zk, root);
      await node.start();
      await tree.start();
      assert.equal(node.current?.data.toString(), 'a1');
      assert.deepEqual(tree.paths(), [root, `${root}/a`]);

      const updated = cacheEvent(node, (e) => e.type === 'updated');
      await writer.setData(`${root}/a`, 'a2');
      await updated;
      assert.equal(node.current?.data.toString(), 'a2');

      const added = cacheEvent(tree, (e) => e.type === 'added' && e.node.path === `${root}/a/b/c`);
      await writer.create(`${root}/a/b`, 'b');
      await writer.create(`${root}/a/b/c`, 'c');
      await added;
      assert.deepEqual(tree.children(`${root}/a`), ['b']);

      // Changes made while the cache's connection is down arrive through the resync.
      const resynced = cacheEvent(tree, (e) => e.type === 'initialized');
      const suspended = nextSessionEvent(zk, (e) => e.type === 'suspended');
      proxy.setBlackhole(true);
      proxy.dropAll();
      await suspended;
      await writer.delete(`${root}/a/b/c`);
      await writer.setData(`${root}/a`, 'a3');
      proxy.setBlackhole(false);
      proxy.dropAll();
      await resynced;
      assert.equal(tree.get(`${root}/a/b/c`), null);
      assert.equal(tree.get(`${root}/a`)?.data.toString(), 'a3');
      const removed = cacheEvent(node, (e) => e.type === 'removed');
      await writer.delete(`${root}/a/b`);
      await writer.delete(`${root}/a`);
      await removed;
      assert.equal(node.current, null);
      await node.close();
      await tree.close();
    } finally {
      await proxy.close();
    }
  });

  it('persistent node and group membership heal after session loss', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    const group = uniquePath('group');
    const ma = new GroupMember(a, group, 'alice', 'payload-a');
    const mb = new GroupMember(b, group, 'bob', 'payload-b');
    await ma.start();
    await mb.start();
    const bothSeen = new Promise<void>((resolve) => {
      const check = (ids: string[]): void => void (ids.join() === 'alice,bob' && resolve());
      mb.onChange(check);
      check([...mb.members().keys()].sort());
    });
    await within(bothSeen, 10_000, 'both members');
    assert.equal(mb.members().get('alice')?.toString(), 'payload-a');

    // Alice's session dies; her node comes back on the new session by itself.
    const gone = new Promise<void>((resolve) => mb.onChange((ids) => !ids.includes('alice') && resolve()));
    const back = new Promise<void>((resolve) => {
      let sawGone = false;
      mb.onChange((ids) => {
        if (!ids.includes('alice')) sawGone = true;
        else if (sawGone) resolve();
      });
    });
    await killSession(a, server().connectString);
    await within(gone, 10_000, 'alice gone');
    await within(back, 10_000, 'alice back');
    const stat = await b.exists(`${group}/alice`);
    assert.equal(stat?.ephemeralOwner, a.sessionId);

    // Deleted by someone else: recreated too.
    const node = new PersistentNode(a, `${group}-single`, 'x');
    await node.start();
    const recreated = await b.existsAndWatch(`${group}-single`);
    await b.delete(`${group}-single`);
    await within(recreated.changed, 5000);
    const again = await b.existsAndWatch(`${group}-single`);
    if (!again.stat) await within(again.changed, 5000);
    assert.ok(await b.exists(`${group}-single`));
    await node.close();
    await ma.close();
    await mb.close();
  });

  it('service discovery registers JSON instances that survive session loss', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    const base = uniquePath('services');
    const sd = new ServiceDiscovery<{ zone: string }>(a, base);
    const inst = await sd.register({ name: 'api', address: '10.0.0.1', port: 8080, payload: { zone: 'z1' } });
    const finder = new ServiceDiscovery<{ zone: string }>(b, base);
    assert.deepEqual(await finder.queryForNames(), ['api']);
    const found = await finder.queryForInstances('api');
    assert.equal(found.length, 1);
    assert.deepEqual(
      { ...found[0], registrationTimeUTC: 0 },
      { ...inst, registrationTimeUTC: 0 },
    );
    assert.equal(found[0]?.payload?.zone, 'z1');
    await killSession(a, server().connectString);
    await within(a.waitConnected(), 10_000);
    const healed = await finder.waitForInstances('api');
    assert.equal(healed[0]?.id, inst.id);
    await sd.unregister(inst);
    assert.deepEqual(await finder.queryForInstances('api'), []);
  });

  it('partitions: exclusive ownership, rebalance as members come and go, fenced offsets', async () => {
    const path = uniquePath('partitions');
    const PARTITIONS = 6;
    const owners = new Map<number, string>();
    const assignments = new Map<number, PartitionAssignment>();
    const violations: string[] = [];
    /** Session kills free partitions on the server before the old owner hears of it: fencing must hold then. */
    const overlaps: PartitionAssignment[] = [];
    let killing = false;
    let changes = 0;
    let notify: (() => void) | null = null;
    const members = new Map<string, { zk: ZooKeeperClient; consumer: PartitionConsumer }>();
    const addMember = async (id: string): Promise<void> => {
      const zk = await client(server().connectString);
      const consumer = new PartitionConsumer(zk, path, {
        memberId: id,
        partitions: PARTITIONS,
        onError: (err) => process.env.DEBUG_PARTITIONS && console.log(id, 'error', err),
        handler: async (a) => {
          const holder = owners.get(a.partition);
          if (holder !== undefined) {
            if (killing) overlaps.push(assignments.get(a.partition)!);
            else violations.push(`${id} got ${a.partition} while ${holder} has it`);
          }
          owners.set(a.partition, id);
          assignments.set(a.partition, a);
          changes++;
          notify?.();
          const before = (await a.committedOffset()) ?? 0n;
          await a.commit(before + 1n);
          if (!a.signal.aborted) await new Promise((r) => a.signal.addEventListener('abort', r, { once: true }));
          if (owners.get(a.partition) === id && assignments.get(a.partition) === a) owners.delete(a.partition);
          changes++;
          notify?.();
        },
      });
      members.set(id, { zk, consumer });
      await consumer.start();
    };
    const balanced = (ids: string[]): Promise<void> =>
      within(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (owners.size !== PARTITIONS) return;
            const counts = new Map<string, number>();
            for (const o of owners.values()) counts.set(o, (counts.get(o) ?? 0) + 1);
            if (ids.every((i) => counts.get(i) === PARTITIONS / ids.length) && counts.size === ids.length) resolve();
          };
          notify = check;
          check();
        }),
        20_000,
        `balance over ${ids.join(',')}`,
      ).catch((err: Error) => {
        const state = [...members].map(([id, m]) => `${id}:${m.consumer.assigned.join('/')}`).join(' ');
        throw new Error(`${err.message}; handlers ${JSON.stringify([...owners])}; consumers ${state}`);
      });
    try {
      await addMember('m1');
      await balanced(['m1']);
      await addMember('m2');
      await addMember('m3');
      await balanced(['m1', 'm2', 'm3']);
      // A member leaves: its partitions move.
      const m2 = members.get('m2')!;
      await m2.consumer.close();
      await m2.zk.close();
      members.delete('m2');
      await balanced(['m1', 'm3']);
      // A member's session dies: the others take over, then it rejoins.
      const m3 = members.get('m3')!;
      killing = true;
      await killSession(m3.zk, server().connectString);
      await balanced(['m1', 'm3']);
      assert.deepEqual(violations, []);
      for (const stale of overlaps) {
        await assert.rejects(stale.commit(999), 'a deposed owner cannot commit');
      }
      const { zk } = members.get('m1')!;
      for (let p = 0; p < PARTITIONS; p++) {
        const offset = Number((await zk.getData(`${path}/offsets/${p}`)).data.toString());
        assert.ok(offset >= 1, `partition ${p} offset ${offset} was committed`);
      }
      assert.ok(changes > 0);
    } finally {
      for (const m of members.values()) {
        await m.consumer.close();
        await m.zk.close();
      }
    }
  }, 90_000);
});
