/**
 * Leader election: three latches, the leader writes with its fencing token and steps down;
 * a selector runs a job on whichever participant leads.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node dist/examples/leader.js
 */
import { connect, LeaderLatch, LeaderSelector } from 'paddock';

const SERVERS = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const path = `/examples-leader-${process.pid}`;

const clients = await Promise.all([0, 1, 2].map(() => connect(SERVERS)));
const latches = clients.map((zk, i) => new LeaderLatch(zk, `${path}/latch`, { id: `node-${i}` }));
for (let round = 0; round < 3; round++) {
  const leadership = await Promise.race(latches.map((l) => l.await()));
  const leader = latches.find((l) => l.leadership === leadership)!;
  console.log(`round ${round}: ${leader.id} leads with fencing token ${leadership.fencingToken}`);
  await leader.close(); // step down; the next in line takes over
  latches.splice(latches.indexOf(leader), 1, new LeaderLatch(leader.client, `${path}/latch`, { id: `${leader.id}'` }));
  latches.at(-1)!.start();
}
for (const l of latches) await l.close();

let jobs = 0;
const done = new Promise<void>((resolve) => {
  const selectors = clients.map(
    (zk, i) =>
      new LeaderSelector(zk, `${path}/selector`, async ({ signal, fencingToken }) => {
        if (signal.aborted) return;
        console.log(`selector ${i} runs job ${++jobs} (token ${fencingToken})`);
        if (jobs === 4) {
          resolve();
          await Promise.all(selectors.map((s) => s.close()));
        }
      }),
  );
  selectors.forEach((s) => s.start());
});
await done;
await Promise.all(clients.map((zk) => zk.close()));
