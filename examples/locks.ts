/**
 * Locks: a mutex guarding a shared counter node (with the fencing token), and a semaphore
 * letting at most 2 of 5 workers in at once.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node dist/examples/locks.js
 */
import { connect, Mutex, Semaphore } from 'paddock';

const SERVERS = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const base = `/examples-locks-${process.pid}`;

const workers = await Promise.all([1, 2, 3, 4, 5].map(() => connect(SERVERS)));
await workers[0]!.create(base, '0');

// Mutex: read-modify-write without lost updates.
await Promise.all(
  workers.map(async (zk, i) => {
    const mutex = new Mutex(zk, `${base}/lock`);
    for (let n = 0; n < 3; n++) {
      await using lock = await mutex.acquire({ timeoutMs: 10_000 });
      const { data } = await zk.getData(base);
      await zk.setData(base, String(Number(data) + 1));
      console.log(`worker ${i} incremented under token ${lock.fencingToken}`);
    }
  }),
);
console.log(`counter = ${(await workers[0]!.getData(base)).data} (expected 15)`);

// Semaphore: at most 2 leases at a time.
let inside = 0;
await Promise.all(
  workers.map(async (zk, i) => {
    await using _lease = await new Semaphore(zk, `${base}/sem`, 2).acquire({ timeoutMs: 10_000 });
    inside++;
    console.log(`worker ${i} holds a lease (${inside} inside)`);
    await new Promise((r) => setTimeout(r, 50));
    inside--;
  }),
);

await Promise.all(workers.map((zk) => zk.close()));
