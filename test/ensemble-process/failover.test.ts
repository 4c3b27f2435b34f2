/**
 * Real server processes on loopback, parametrised by kind: 3- and 5-server ensembles of Apache
 * ZooKeeper 3.8 (which proves the tests) and of Paddock (skipped, saying why, while
 * `paddock server` refuses an ensemble zoo.cfg: found by trying). Under write load from the
 * Paddock client and kazoo: kill -9 of the leader (writes resume; the gap is logged), SIGSTOP /
 * SIGCONT of the leader, kill -9 of random servers again and again. Afterwards every
 * acknowledged write is on every server, the trees are equal node by node, and a Paddock Mutex's
 * fencing tokens only grew across the failovers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Prng } from '../../src/lib/prng.js';
import { kazooMissing, skipUnless } from '../support/clients.js';
import { Ensemble, paddockEnsembleUnavailable, type ServerKind } from '../support/ensemble.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { checkAfter, startLoad, writesResume } from './load.js';

const paddockMissing = await paddockEnsembleUnavailable();
// Under CI kazoo must be there (skipUnless throws); elsewhere the kazoo writer is left out without it.
const kazoo = process.env.CI ? (skipUnless(kazooMissing()), null) : kazooMissing();
if (kazoo) console.log(`# ${kazoo}: the ensemble tests run without the kazoo writer`);

interface Target {
  name: string;
  kind: ServerKind;
  skip: string | false;
}

const TARGETS: Target[] = [
  { name: 'Apache ZooKeeper', kind: 'zookeeper', skip: skipUnlessZooKeeper() },
  { name: 'Paddock', kind: 'paddock', skip: paddockMissing ?? false },
];
if (paddockMissing) console.log(`# skipping the Paddock ensemble tests: ${paddockMissing}`);

const log = (line: string): void => console.log(`# ${line}`);
const running = new Set<Ensemble>();
after(async () => {
  for (const e of running) await e.stop();
});

async function startEnsemble(kinds: ServerKind[]): Promise<Ensemble> {
  const e = await Ensemble.start(kinds);
  running.add(e);
  return e;
}

async function stopEnsemble(e: Ensemble): Promise<void> {
  running.delete(e);
  await e.stop();
}

for (const target of TARGETS) {
  describe(`${target.name} ensemble, real processes`, { skip: target.skip, timeout: 240_000 }, () => {
    it('3 servers: kill -9 and SIGSTOP of the leader under writes (kazoo, Paddock client, Mutex)', async () => {
      const e = await startEnsemble([target.kind, target.kind, target.kind]);
      const load = await startLoad({ connectString: e.connectString(), root: '/ens', paddockWriters: 2, kazoo: kazoo === null, mutexClients: 2 });
      try {
        await Promise.all(load.writers.map((w) => w.waitFor(5, 0, 30_000)));
        const leader = await e.waitServing();
        const tokensBefore = load.tokens.length;

        const killedAt = performance.now();
        await e.kill(leader);
        const { leader: next, gapMs } = await writesResume(e, load, killedAt, 5, 40_000);
        assert.notEqual(next, leader);
        log(`${e.label}: leader ${leader} killed; server ${next} leads; writes stalled at most ${gapMs.toFixed(0)} ms`);
        e.restart(leader);
        await e.waitServing();

        const pausedAt = performance.now();
        e.pause(next);
        const paused = await writesResume(e, load, pausedAt, 5, 60_000);
        assert.notEqual(paused.leader, next);
        const pauseGapMs = paused.gapMs;
        log(`${e.label}: leader ${next} stopped (SIGSTOP), server ${paused.leader} leads; writes stalled at most ${pauseGapMs.toFixed(0)} ms`);
        e.resume(next);
        await e.waitServing();
        await Promise.all(load.logs.slice(load.writers.length).map((m) => m.waitFor(1, pausedAt, 30_000)));
        assert.ok(load.tokens.length > tokensBefore, 'the lock was taken again after the failovers');
      } finally {
        await load.stop();
      }
      await checkAfter(e, load);
      await stopEnsemble(e);
    });

    it('5 servers: kill -9 of random servers again and again under writes', async () => {
      const seed = Number(process.env.ENSEMBLE_SEED ?? Date.now() % 100_000);
      log(`random kills from seed ${seed} (ENSEMBLE_SEED=${seed} repeats them)`);
      const prng = new Prng(seed);
      const e = await startEnsemble(Array.from({ length: 5 }, () => target.kind));
      const load = await startLoad({ connectString: e.connectString(), root: '/ens5', paddockWriters: 2, kazoo: kazoo === null, mutexClients: 0 });
      try {
        await Promise.all(load.writers.map((w) => w.waitFor(5, 0, 30_000)));
        for (let round = 0; round < 4; round++) {
          // One or two servers at once, so a quorum of 3 always survives; every other round the
          // leader is one of them.
          const leader = await e.waitServing();
          const victims = new Set<number>(round % 2 === 1 ? [leader] : []);
          const count = 1 + prng.int(2);
          while (victims.size < count) victims.add(1 + prng.int(5));
          const at = performance.now();
          await Promise.all([...victims].map((id) => e.kill(id)));
          const { gapMs } = await writesResume(e, load, at, 3, 40_000);
          log(`${e.label}: round ${round + 1}: killed ${[...victims].join(',')} (leader was ${leader}); writes stalled at most ${gapMs.toFixed(0)} ms`);
          for (const id of victims) e.restart(id);
          await e.waitServing();
        }
      } finally {
        await load.stop();
      }
      await checkAfter(e, load);
      await stopEnsemble(e);
    });
  });
}
