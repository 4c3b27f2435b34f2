/**
 * Queues and counters: a producer fills a FIFO queue, two consumers process items at least
 * once, and a shared counter (Curator SharedCount layout) counts them.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node dist/examples/queue.js
 */
import { connect, DistributedQueue, SharedCounter } from 'paddock';

const SERVERS = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const path = `/examples-queue-${process.pid}`;

const [producer, c1, c2] = await Promise.all([0, 1, 2].map(() => connect(SERVERS)));
const queue = new DistributedQueue(producer!, `${path}/jobs`);
for (let i = 0; i < 10; i++) await queue.put(`job-${i}`);
await queue.put('stop');
await queue.put('stop');

await Promise.all(
  [c1!, c2!].map(async (zk, n) => {
    const q = new DistributedQueue(zk, `${path}/jobs`);
    const processed = new SharedCounter(zk, `${path}/processed`);
    for (;;) {
      const job = await q.process(async ({ data }) => data.toString(), { timeoutMs: 10_000 });
      if (job === 'stop') return;
      console.log(`consumer ${n} did ${job}; total ${await processed.add(1)}`);
    }
  }),
);
console.log(`processed = ${(await new SharedCounter(producer!, `${path}/processed`).get()).value}`);
await Promise.all([producer, c1, c2].map((zk) => zk!.close()));
