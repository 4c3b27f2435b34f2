import assert from 'node:assert/strict';
import { Barrier, DistributedQueue, DoubleBarrier, PriorityQueue, SharedCounter } from '../../src/recipes/index.js';
import { forEachTarget, it } from '../client/targets.js';
import { client, killSession, uniquePath, waitForChildren, within } from '../client/helpers.js';

forEachTarget('queues, counters, barriers', ({ server }) => {
  it('queue: FIFO, each item to exactly one of several consumers', async () => {
    const path = uniquePath('queue');
    const producer = await client(server().connectString);
    const consumers = await Promise.all(Array.from({ length: 4 }, () => client(server().connectString)));
    try {
      const q = new DistributedQueue(producer, path);
      for (let i = 0; i < 5; i++) await q.put(`early-${i}`);
      const first = await new DistributedQueue(consumers[0]!, path).take();
      assert.equal(first.data.toString(), 'early-0');
      assert.match(first.name, /^qn-\d{10}$/);
      const got: string[] = [first.data.toString()];
      const takers = consumers.map(async (zk, i) => {
        const cq = new DistributedQueue(zk, path);
        for (;;) {
          const item = await cq.process(async ({ data }) => data.toString(), { timeoutMs: 3000 }).catch(() => null);
          if (item === null) return;
          if (item === 'stop') return;
          got.push(item);
          void i;
        }
      });
      for (let i = 0; i < 40; i++) await q.put(`item-${i}`);
      for (let i = 0; i < consumers.length; i++) await q.put('stop');
      await within(Promise.all(takers), 30_000, 'consumers');
      const expected = [...Array.from({ length: 5 }, (_, i) => `early-${i}`), ...Array.from({ length: 40 }, (_, i) => `item-${i}`)];
      assert.deepEqual([...got].sort(), expected.sort(), 'every item exactly once');
      assert.equal(await q.size(), 0);
    } finally {
      await producer.close();
      await Promise.all(consumers.map((c) => c.close()));
    }
  }, 60_000);

  it('queue: at-least-once, an item claimed by a dying consumer is processed again', async () => {
    const path = uniquePath('queue');
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    await new DistributedQueue(a, path).put('job');
    let claimed!: () => void;
    const claimedP = new Promise<void>((r) => (claimed = r));
    const dying = new DistributedQueue(a, path)
      .process(async () => {
        claimed();
        await new Promise(() => {}); // never finishes: its session dies first
      })
      .catch((e: unknown) => e);
    await within(claimedP, 10_000, 'claim');
    // While claimed, another consumer does not get it.
    await assert.rejects(new DistributedQueue(b, path).process(async () => 'x', { timeoutMs: 300 }));
    await killSession(a, server().connectString);
    const again = await new DistributedQueue(b, path).process(async ({ data }) => data.toString(), { timeoutMs: 10_000 });
    assert.equal(again, 'job');
    assert.equal(await new DistributedQueue(b, path).size(), 0);
    void dying;
  });

  it('priority queue: lower priority first, FIFO within a priority', async () => {
    await using zk = await client(server().connectString);
    const q = new PriorityQueue(zk, uniquePath('pq'));
    await q.put('low-a', 10);
    await q.put('high', -5);
    await q.put('low-b', 10);
    await q.put('mid', 0);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await q.take({ timeoutMs: 5000 })).data.toString());
    assert.deepEqual(order, ['high', 'mid', 'low-a', 'low-b']);
  });

  it('counter: compare-and-set under contention, Curator SharedCount bytes', async () => {
    const path = uniquePath('counter');
    const clients = await Promise.all(Array.from({ length: 5 }, () => client(server().connectString)));
    try {
      await Promise.all(
        clients.map(async (zk) => {
          const c = new SharedCounter(zk, path);
          for (let i = 0; i < 20; i++) await c.add(1);
        }),
      );
      const c0 = new SharedCounter(clients[0]!, path);
      const v = await c0.get();
      assert.equal(v.value, 100n);
      const raw = (await clients[0]!.getData(path)).data;
      assert.equal(raw.length, 4);
      assert.equal(raw.readInt32BE(0), 100);
      assert.equal(await c0.trySet(v, 7), true);
      assert.equal(await c0.trySet(v, 8), false, 'stale version loses');
      const long = new SharedCounter(clients[0]!, `${path}-long`, { bytes: 8, initial: 2n ** 40n });
      assert.equal(await long.add(1), 2n ** 40n + 1n);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('barrier and double barrier', async () => {
    const clients = await Promise.all(Array.from({ length: 3 }, () => client(server().connectString)));
    try {
      const path = uniquePath('barrier');
      const b0 = new Barrier(clients[0]!, path);
      await b0.set();
      let released = 0;
      const waiters = clients.slice(1).map((zk) => new Barrier(zk, path).wait({ timeoutMs: 10_000 }).then(() => released++));
      await assert.rejects(new Barrier(clients[1]!, path).wait({ timeoutMs: 200 }));
      assert.equal(released, 0);
      await b0.remove();
      await within(Promise.all(waiters), 10_000, 'barrier release');
      assert.equal(released, 2);

      const dpath = uniquePath('double');
      const members = clients.map((zk, i) => new DoubleBarrier(zk, dpath, 3, `m${i}`));
      const entered: number[] = [];
      const two = members.slice(0, 2).map((m, i) => m.enter({ timeoutMs: 10_000 }).then(() => entered.push(i)));
      await waitForChildren(clients[2]!, dpath, (names) => names.filter((n) => n.startsWith('m')).length === 2);
      assert.deepEqual(entered, [], 'two of three cannot pass');
      await members[2]!.enter({ timeoutMs: 10_000 });
      await within(Promise.all(two), 10_000, 'enter');
      await within(Promise.all(members.map((m) => m.leave({ timeoutMs: 10_000 }))), 10_000, 'leave');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
