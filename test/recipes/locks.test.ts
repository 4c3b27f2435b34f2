import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { RequestTimeoutError } from '../../src/client/index.js';
import { Mutex, MultiLock, ReadWriteLock, Semaphore } from '../../src/recipes/index.js';
import { forEachTarget, it } from '../client/targets.js';
import { client, killSession, uniquePath, waitForChildren, within } from '../client/helpers.js';

forEachTarget('locks', ({ server }) => {
  it('mutex: 20 clients x 50 acquisitions never overlap, fencing tokens only grow', async () => {
    const path = uniquePath('mutex');
    const clients = await Promise.all(Array.from({ length: 20 }, () => client(server().connectString)));
    try {
      let inside = 0;
      let total = 0;
      let lastToken = -1n;
      await Promise.all(
        clients.map(async (zk) => {
          const mutex = new Mutex(zk, path);
          for (let i = 0; i < 50; i++) {
            const lock = await mutex.acquire({ timeoutMs: 60_000 });
            try {
              inside++;
              assert.equal(inside, 1, 'two holders at once');
              assert.ok(lock.fencingToken > lastToken, 'fencing token went backwards');
              lastToken = lock.fencingToken;
              await tick(); // let other clients' events run while we hold it
              total++;
              inside--;
            } finally {
              await lock.release();
            }
          }
        }),
      );
      assert.equal(total, 1000);
      const zk = clients[0]!;
      assert.deepEqual(await zk.getChildren(path), [], 'no lock node left behind');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 180_000);

  it('mutex: Curator layout, reentrancy, tryAcquire, timeout and abort withdraw', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    const path = uniquePath('mutex');
    const m1 = new Mutex(a, path, { data: Buffer.from('holder-a') });
    const m2 = new Mutex(b, path);
    const h1 = await m1.acquire();
    const again = await m1.acquire(); // reentrant
    const [name] = await a.getChildren(path);
    assert.match(name!, /^_c_[0-9a-f-]{36}-lock-\d{10}$/);
    assert.deepEqual(await m2.participants(), ['holder-a']);
    assert.equal(await m2.tryAcquire(), null);
    await assert.rejects(m2.acquire({ timeoutMs: 200 }), RequestTimeoutError);
    const ac = new AbortController();
    const aborted = m2.acquire({ signal: ac.signal });
    ac.abort(new Error('changed my mind'));
    await assert.rejects(aborted, /changed my mind/);
    await again.release();
    assert.equal(await m2.tryAcquire(), null, 'still held once');
    const waiting = m2.acquire({ timeoutMs: 10_000 });
    await h1.release();
    const h2 = await waiting;
    assert.ok(h2.fencingToken > h1.fencingToken);
    await h2.release();
    assert.deepEqual(await a.getChildren(path), []);
  });

  it('mutex: a holder whose session dies loses the lock and its signal says so', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    const path = uniquePath('mutex');
    const held = await new Mutex(a, path).acquire();
    const waiting = new Mutex(b, path).acquire({ timeoutMs: 20_000 });
    const lost = new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
    await killSession(a, server().connectString);
    await within(lost, 10_000, 'hold signal');
    const next = await waiting;
    assert.ok(next.fencingToken > held.fencingToken);
    await held.release(); // harmless: the node is gone
    await next.release();
  });

  it('read-write lock: readers share, writers exclude, fair to an earlier writer', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    await using c = await client(server().connectString);
    const path = uniquePath('rw');
    const ra = await new ReadWriteLock(a, path).readLock.acquire();
    const rb = await new ReadWriteLock(b, path).readLock.acquire({ timeoutMs: 5000 });
    const writer = new ReadWriteLock(c, path).writeLock;
    assert.equal(await writer.tryAcquire(), null);
    const w = writer.acquire({ timeoutMs: 10_000 });
    // A reader arriving after the waiting writer queues behind it.
    const lateReader = new ReadWriteLock(a, path).readLock;
    await waitForChildren(a, path, (names) => names.some((n) => n.includes('__WRIT__')));
    assert.equal(await lateReader.tryAcquire(), null);
    await ra.release();
    await rb.release();
    const wh = await w;
    const names = await a.getChildren(path);
    assert.ok(names.every((n) => /^_c_.*-(__READ__|__WRIT__)\d{10}$/.test(n)));
    await wh.release();
    // Downgrade: the writer may also read.
    const rwc = new ReadWriteLock(c, path);
    const wh2 = await rwc.writeLock.acquire({ timeoutMs: 5000 });
    const down = await rwc.readLock.acquire({ timeoutMs: 5000 });
    assert.equal(await lateReader.tryAcquire(), null, 'a writer holds it');
    await wh2.release();
    await down.release();
    const r = await lateReader.acquire({ timeoutMs: 5000 });
    await r.release();
  });

  it('semaphore: never grants more than maxLeases', async () => {
    const path = uniquePath('sem');
    const clients = await Promise.all(Array.from({ length: 8 }, () => client(server().connectString)));
    try {
      let holders = 0;
      let peak = 0;
      await Promise.all(
        clients.map(async (zk) => {
          const sem = new Semaphore(zk, path, 3);
          for (let i = 0; i < 8; i++) {
            const lease = await sem.acquire({ timeoutMs: 60_000 });
            holders++;
            peak = Math.max(peak, holders);
            assert.ok(holders <= 3, `over-granted: ${holders}`);
            await tick();
            holders--;
            await lease.release();
          }
        }),
      );
      assert.ok(peak >= 1);
      const names = await clients[0]!.getChildren(`${path}/leases`);
      assert.deepEqual(names, []);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 120_000);

  it('semaphore: the next waiter gets a lease when one is returned', async () => {
    const path = uniquePath('sem');
    const clients = await Promise.all(Array.from({ length: 3 }, () => client(server().connectString)));
    try {
      const [a, b, c] = clients as [typeof clients[0], typeof clients[0], typeof clients[0]];
      const la = await new Semaphore(a, path, 2).acquire();
      const lb = await new Semaphore(b, path, 2).acquire({ timeoutMs: 5000 });
      await assert.rejects(new Semaphore(c, path, 2).acquire({ timeoutMs: 300 }), RequestTimeoutError);
      const waiting = new Semaphore(c, path, 2).acquire({ timeoutMs: 10_000 });
      await la.release();
      const lc = await waiting;
      assert.equal((await new Semaphore(a, path, 2).leaseNodes()).length, 2);
      await lb.release();
      await lc.release();
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('multi-lock: all or nothing', async () => {
    await using a = await client(server().connectString);
    await using b = await client(server().connectString);
    const p1 = uniquePath('ml');
    const p2 = uniquePath('ml');
    const blocker = await new Mutex(b, p2).acquire();
    const multi = new MultiLock(a, [p1, p2]);
    await assert.rejects(multi.acquire({ timeoutMs: 300 }), RequestTimeoutError);
    assert.equal(await new Mutex(b, p1).tryAcquire().then((h) => h?.release().then(() => true)), true, 'p1 was given back');
    await blocker.release();
    const both = await multi.acquire({ timeoutMs: 5000 });
    assert.equal(await new Mutex(b, p1).tryAcquire(), null);
    await both.release();
  });
});
