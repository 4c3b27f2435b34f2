/**
 * Mixed ensembles as real processes: 2 Apache ZooKeeper 3.8 + 1 Paddock and 1 + 2, each server
 * from its own zoo.cfg, serving the Paddock client, kazoo and node-zookeeper-client through every
 * server. The leader is killed twice (the highest sid usually leads first and the next election
 * moves leadership to the other servers, so both sides lose a leader), then every acknowledged
 * write must be on every server and the trees equal node by node across ZooKeeper and Paddock.
 * Skipped, saying why, while `paddock server` refuses an ensemble zoo.cfg.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { kazooMissing, nodeZookeeperClientMissing, skipUnless } from '../support/clients.js';
import { Ensemble, paddockEnsembleUnavailable, type ServerKind } from '../support/ensemble.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { checkAfter, startLoad, writesResume } from './load.js';

const zookeeperSkip = skipUnlessZooKeeper();
const paddockMissing = zookeeperSkip ? null : await paddockEnsembleUnavailable();
if (paddockMissing) console.log(`# skipping the mixed ensemble tests: ${paddockMissing}`);
// Under CI kazoo must be there (skipUnless throws); elsewhere the kazoo writer is left out without it.
const kazoo = process.env.CI ? (skipUnless(kazooMissing()), null) : kazooMissing();
const nzk = process.env.CI ? (skipUnless(nodeZookeeperClientMissing()), null) : nodeZookeeperClientMissing();
if (nzk) console.log(`# ${nzk}: the mixed ensemble tests run without the node-zookeeper-client writer`);

const MIXES: { name: string; kinds: ServerKind[] }[] = [
  { name: '2 ZooKeeper + 1 Paddock', kinds: ['zookeeper', 'zookeeper', 'paddock'] },
  { name: '1 ZooKeeper + 2 Paddock', kinds: ['zookeeper', 'paddock', 'paddock'] },
];

const running = new Set<Ensemble>();
after(async () => {
  for (const e of running) await e.stop();
});

describe('mixed ZooKeeper and Paddock ensembles, real processes', { skip: zookeeperSkip || paddockMissing || false, timeout: 240_000 }, () => {
  for (const mix of MIXES) {
    it(`${mix.name}: two leader kills under writes, trees equal across both kinds`, async () => {
      const e = await Ensemble.start(mix.kinds);
      running.add(e);
      const load = await startLoad({ connectString: e.connectString(), root: '/mixed', paddockWriters: 2, kazoo: kazoo === null, nodeZookeeperClient: nzk === null, mutexClients: 1 });
      const killedKinds: ServerKind[] = [];
      try {
        await Promise.all(load.writers.map((w) => w.waitFor(5, 0, 30_000)));
        for (let round = 0; round < 2; round++) {
          const leader = await e.waitServing();
          const kind = e.cluster.server(leader).kind;
          killedKinds.push(kind);
          const at = performance.now();
          await e.kill(leader);
          const resumed = await writesResume(e, load, at, 5, 40_000);
          assert.notEqual(resumed.leader, leader);
          console.log(`# ${e.label}: leader ${leader} (${kind}) killed; server ${resumed.leader} (${e.cluster.server(resumed.leader).kind}) leads; writes stalled at most ${resumed.gapMs.toFixed(0)} ms`);
          e.restart(leader);
          await e.waitServing();
        }
      } finally {
        await load.stop();
      }
      console.log(`# ${e.label}: killed leaders were ${killedKinds.join(', ')}`);
      await checkAfter(e, load);
      running.delete(e);
      await e.stop();
    });
  }
});
