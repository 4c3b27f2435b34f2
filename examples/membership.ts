/**
 * Group membership, service discovery, caches and partition assignment: two members share six
 * partitions, a third joins and the partitions rebalance; a tree cache watches it all.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node dist/examples/membership.js
 */
import { connect, PartitionConsumer, ServiceDiscovery, TreeCache, type ZooKeeperClient } from 'paddock';

const SERVERS = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const path = `/examples-membership-${process.pid}`;

const observer = await connect(SERVERS);
const cache = new TreeCache(observer, path);
await observer.create(path);
await cache.start();
cache.onChange((e) => e.type !== 'initialized' && console.log(`cache: ${e.type} ${e.node.path}`));

const discovery = new ServiceDiscovery<{ version: string }>(observer, `${path}/services`);
await discovery.register({ name: 'worker-api', address: '127.0.0.1', port: 8080, payload: { version: '1.0' } });
console.log('instances:', (await discovery.queryForInstances('worker-api')).map((i) => `${i.address}:${i.port}`));

const members: { zk: ZooKeeperClient; consumer: PartitionConsumer }[] = [];
let settle: () => void = () => {};
const join = async (id: string): Promise<void> => {
  const zk = await connect(SERVERS);
  const consumer = new PartitionConsumer(zk, `${path}/topic`, {
    memberId: id,
    partitions: 6,
    handler: async (p) => {
      console.log(`${id} consumes partition ${p.partition} from offset ${(await p.committedOffset()) ?? 0n}`);
      await p.commit(((await p.committedOffset()) ?? 0n) + 1n);
      if (!p.signal.aborted) await new Promise((r) => p.signal.addEventListener('abort', r, { once: true }));
      console.log(`${id} gives up partition ${p.partition}`);
      settle();
    },
  });
  await consumer.start();
  members.push({ zk, consumer });
};
const balancedOver = (n: number): Promise<void> =>
  new Promise((resolve) => {
    const check = (): void => {
      const counts = members.map((m) => m.consumer.assigned.length);
      if (counts.length === n && counts.every((c) => c === 6 / n)) resolve();
      else setTimeout(check, 20); // polls recipe state in this example only; tests wait on events
    };
    check();
  });
await join('alpha');
await join('beta');
await balancedOver(2);
await join('gamma');
await balancedOver(3);
console.log('assignment:', members.map((m, i) => `${['alpha', 'beta', 'gamma'][i]}=${m.consumer.assigned.join(',')}`).join(' '));
for (const m of members) {
  await m.consumer.close();
  await m.zk.close();
}
await discovery.close();
await cache.close();
await observer.close();
