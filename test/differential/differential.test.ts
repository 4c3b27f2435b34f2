/**
 * Differential test: random operation sequences run against Apache ZooKeeper and against Paddock
 * through the same raw client; every reply and every session's ordered stream of replies and
 * watch events must match, except for the deliberate divergences listed in divergences.ts.
 *
 *   DIFF_SEQUENCES (200)  number of sequences; seeds DIFF_BASE_SEED (1) ... +N-1
 *   DIFF_OPS (200)        ops per sequence
 *   DIFF_SEED             run just this seed (replay)
 *   DIFF_EXPIRY (1)       0 disables the session-expiry ops (each costs about a second)
 *   DIFF_RESTART_EVERY (25)  after every seed divisible by this, and after the last one (and
 *                         the replayed one), both servers' whole trees are compared child list
 *                         by child list, in order; then both restart twice on their data and
 *                         are compared after each start (see compareAcrossRestart)
 *   DIFF_TARGET           'zookeeper' runs a second ZooKeeper instead of Paddock (harness check)
 *   DIFF_VERBOSE          1 prints every op with both outcomes for the replayed seed
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { generate } from './generator.js';
import { buildChildHistory, childLists, closeAll, compare, deleteTree, describeOp, execute, firstChildListDifference, show, type Execution } from './harness.js';
import { startReference, startTarget, type RunningServer } from './servers.js';
import type { Difference } from './divergences.js';

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number.parseInt(v, 10);
};

const SEQUENCES = envInt('DIFF_SEQUENCES', 200);
const OPS = envInt('DIFF_OPS', 200);
const BASE_SEED = envInt('DIFF_BASE_SEED', 1);
const ONE_SEED = process.env.DIFF_SEED ? envInt('DIFF_SEED', 0) : null;
const EXPIRY = envInt('DIFF_EXPIRY', 1) !== 0;
const VERBOSE = process.env.DIFF_VERBOSE === '1';
const RESTART_EVERY = envInt('DIFF_RESTART_EVERY', 25);
const MAX_REPORTED = 3;

function replayCommand(seed: number): string {
  const extra = [OPS !== 200 ? `DIFF_OPS=${OPS}` : '', EXPIRY ? '' : 'DIFF_EXPIRY=0', process.env.DIFF_TARGET ? `DIFF_TARGET=${process.env.DIFF_TARGET}` : '']
    .filter(Boolean)
    .join(' ');
  return `DIFF_SEED=${seed} ${extra ? extra + ' ' : ''}node --test dist/test/differential/differential.test.js`;
}

function describeDifference(seed: number, d: Difference, ex: { ops: unknown[] }): string {
  const ops = ex.ops as Parameters<typeof describeOp>[0][];
  const context = ops
    .slice(Math.max(0, d.opIndex - 5), d.opIndex + 1)
    .map((op, k) => `    #${Math.max(0, d.opIndex - 5) + k} ${describeOp(op)}`)
    .join('\n');
  return [
    `seed ${seed}, op #${d.opIndex}: ${describeOp(ops[d.opIndex])}`,
    `  at ${d.where}`,
    `  zookeeper: ${show(d.reference)}`,
    `  paddock:   ${show(d.paddock)}`,
    `  preceding ops:\n${context}`,
    `  replay: ${replayCommand(seed)}`,
  ].join('\n');
}

/**
 * Compares both trees' child lists in order, then restarts both servers twice, comparing after
 * each: the first start replays the log over an older snapshot (the order of the live history
 * must survive) and writes a snapshot, as ZooKeeper does at every start; the second loads that
 * snapshot, whose children are re-added into fresh sets in the order they were written (the
 * order after a reload). Returns a description of the first difference, or null.
 */
async function compareAcrossRestart(seed: number, reference: RunningServer, target: RunningServer): Promise<string | null> {
  // Sequences' own child sets are small; this one has a longer history.
  const historyPath = `/h${seed}`;
  await Promise.all([buildChildHistory(reference.admin, historyPath, seed), buildChildHistory(target.admin, historyPath, seed)]);
  const check = async (when: string): Promise<string | null> => {
    const [a, b] = await Promise.all([childLists(reference.admin), childLists(target.admin)]);
    const d = firstChildListDifference(a, b);
    if (d === null) return null;
    return [
      `seed ${seed}, children of ${d.path} ${when}`,
      `  zookeeper: ${show(d.reference)}`,
      `  paddock:   ${show(d.target)}`,
      `  replay: ${replayCommand(seed)}`,
    ].join('\n');
  };
  const live = await check('before the restarts');
  if (live !== null) return live;
  await Promise.all([reference.restart(), target.restart()]);
  const replayed = await check('after both servers restarted (log replayed)');
  if (replayed !== null) return replayed;
  await Promise.all([reference.restart(), target.restart()]);
  const reloaded = await check('after both servers restarted again (snapshot loaded)');
  await Promise.all([deleteTree(reference.admin, historyPath), deleteTree(target.admin, historyPath)]);
  return reloaded;
}

function verboseDump(seq: ReturnType<typeof generate>, a: Execution, b: Execution): void {
  seq.ops.forEach((op, i) => {
    console.log(`#${i} ${describeOp(op)}\n   zk: ${show(a.outcomes[i])}\n   pd: ${show(b.outcomes[i])}`);
  });
}

test('differential: Paddock vs Apache ZooKeeper on random sequences', { skip: skipUnlessZooKeeper(), timeout: 900_000 }, async (t) => {
  let reference: RunningServer | undefined;
  let target: RunningServer | undefined;
  try {
    [reference, target] = await Promise.all([startReference(), startTarget()]);
    const seeds = ONE_SEED !== null ? [ONE_SEED] : Array.from({ length: SEQUENCES }, (_, i) => BASE_SEED + i);
    const failures: string[] = [];
    const toleratedCounts = new Map<string, number>();
    let ops = 0;
    let run = 0;
    let restarts = 0;
    const started = Date.now();
    for (const seed of seeds) {
      const seq = generate(seed, { ops: OPS, expiry: EXPIRY });
      const [a, b] = await Promise.all([
        execute(seq, { name: reference.name, host: reference.host, port: reference.port, admin: reference.admin }),
        execute(seq, { name: target.name, host: target.host, port: target.port, admin: target.admin }),
      ]);
      ops += seq.ops.length;
      run++;
      const cmp = compare(seq, a, b);
      if (VERBOSE) verboseDump(seq, a, b);
      for (const tl of cmp.tolerated) toleratedCounts.set(tl.divergence, (toleratedCounts.get(tl.divergence) ?? 0) + 1);
      if (cmp.differences.length > 0) {
        failures.push(describeDifference(seed, cmp.differences[0]!, seq) + `\n  (${cmp.differences.length} differences in this sequence)`);
      }
      await Promise.all([closeAll(a), closeAll(b)]);
      if (seed % RESTART_EVERY === 0 || seed === seeds[seeds.length - 1]) {
        const difference = await compareAcrossRestart(seed, reference, target);
        restarts++;
        if (difference !== null) failures.push(difference);
      }
      await Promise.all([deleteTree(reference.admin, seq.prefix), deleteTree(target.admin, seq.prefix)]);
      if (failures.length >= MAX_REPORTED) break;
    }
    t.diagnostic(`${run} of ${seeds.length} sequence(s), ${ops} ops, ${restarts} restart(s) in ${Date.now() - started} ms against ${target.name}`);
    for (const [id, n] of toleratedCounts) t.diagnostic(`tolerated divergence ${id}: ${n}`);
    assert.equal(failures.length, 0, `Paddock differs from Apache ZooKeeper:\n\n${failures.join('\n\n')}`);
  } finally {
    await Promise.all([reference?.stop(), target?.stop()]);
  }
});
