/**
 * A coffee shop on plain client calls: 3 baristas join /barista_group (ephemeral nodes) and each
 * serves its own order queue /orders/<name>; 6 customers pick a barista, place a sequential order
 * and wait, with a timeout, for a watch to say it was served.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node dist/examples/coffee-shop.js
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, NodeExistsError, PersistentNode, type ZooKeeperClient } from 'paddock';

const SERVERS = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const SESSION_TIMEOUT_MS = 10_000;
const WAIT_MS = 10_000;
const COFFEES = ['tesora', 'swisswater', 'jacob', 'sogood'];

async function ensure(zk: ZooKeeperClient, path: string): Promise<void> {
  await zk.create(path).catch((err) => {
    if (!(err instanceof NodeExistsError)) throw err;
  });
}

async function barista(n: number, closing: AbortSignal): Promise<void> {
  await using zk = await connect(SERVERS, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
  const name = `${hostname()}_${process.pid}_${n}`;
  const queue = `/orders/${name}`;
  await ensure(zk, queue); // the queue exists before anyone can see us in the group
  await using _member = new PersistentNode(zk, `/barista_group/${name}`, '0'); // ephemeral, re-created after session loss
  await _member.start();
  console.log(`Barista ${name} is ready to serve`);
  while (!closing.aborted) {
    const { children, changed } = await zk.getChildrenAndWatch(queue);
    if (children.length === 0) {
      // Wait for an order, the shop closing, or give up after WAIT_MS of idleness.
      const timeout = AbortSignal.timeout(WAIT_MS);
      const woke = await Promise.race([
        changed.then(() => 'order'),
        new Promise((r) => closing.addEventListener('abort', () => r('closing'), { once: true })),
        new Promise((r) => timeout.addEventListener('abort', () => r('idle'), { once: true })),
      ]);
      if (woke === 'idle') console.log(`barista ${name}: I haven't received any order. I am leaving T_T`);
      if (woke !== 'order') break;
      continue;
    }
    for (const order of children.sort()) {
      const { data } = await zk.getData(`${queue}/${order}`);
      console.log(`barista ${name}: I am making ${data} for you~`);
      await sleep(200);
      await zk.delete(`${queue}/${order}`);
    }
  }
}

async function customer(n: number): Promise<boolean> {
  await using zk = await connect(SERVERS, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
  const baristas = await zk.getChildren('/barista_group');
  if (baristas.length === 0) throw new Error('no barista is working');
  const chosen = baristas[Math.floor(Math.random() * baristas.length)]!;
  const coffee = COFFEES[Math.floor(Math.random() * COFFEES.length)]!;
  console.log(`customer ${n}: my barista is [${chosen}]`);
  const order = await zk.create(`/orders/${chosen}/coffee`, coffee, { mode: 'persistentSequential' });
  console.log(`customer ${n}: I ordered ${coffee} from ${chosen} (${order})`);
  const { stat, changed } = await zk.existsAndWatch(order);
  if (stat === null) return true; // already served
  const event = await Promise.race([changed, sleep(WAIT_MS, null)]);
  if (event?.type === 'deleted') {
    console.log(`customer ${n}: I got my ${coffee} and I can rest in peace '-']/`);
    return true;
  }
  console.log(`customer ${n}: Ahhh I waited for my coffee too long T_T`);
  return false;
}

async function main(): Promise<void> {
  {
    await using zk = await connect(SERVERS, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
    console.log('creating barista name services');
    await ensure(zk, '/barista_group');
    console.log('creating coffee order queues');
    await ensure(zk, '/orders');
  }
  const closing = new AbortController();
  const baristas = [1, 2, 3].map((n) => barista(n, closing.signal));
  // Customers arrive once the baristas are in the group.
  await using zk = await connect(SERVERS);
  for (;;) {
    const { children, changed } = await zk.getChildrenAndWatch('/barista_group');
    if (children.length >= 3) break;
    await changed;
  }
  const served = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => customer(n)));
  closing.abort();
  await Promise.all(baristas);
  const happy = served.filter(Boolean).length;
  console.log(`${happy} of ${served.length} customers got their coffee`);
  if (happy !== served.length) process.exitCode = 1;
}

await main();
