/**
 * Short fault-harness runs (`npm run faults`, through runFaults) against a 3-server Paddock
 * ensemble and a mixed one (1 ZooKeeper + 2 Paddock): kill -9 and SIGSTOP (and an isolation
 * partition where network namespaces exist), Paddock-client and kazoo workloads, then the
 * checkers: linearizable registers, no lost acknowledged write, every server's tree equal.
 * Skipped, saying why, while `paddock server` refuses an ensemble zoo.cfg (found by trying).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { netnsUnavailable } from '../../src/faults/netns.js';
import { runFaults, type RunOptions } from '../../src/faults/runner.js';
import type { NemesisName } from '../../src/faults/schedule.js';
import { firstSeed, shortRunOptions } from '../faults/run-options.js';
import { kazooMissing, skipUnless } from '../support/clients.js';
import { paddockEnsembleUnavailable } from '../support/ensemble.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';

const paddockMissing = await paddockEnsembleUnavailable();
if (paddockMissing) console.log(`# skipping the Paddock ensemble fault runs: ${paddockMissing}`);
const kazoo = process.env.CI ? (skipUnless(kazooMissing()), null) : kazooMissing();
const nemeses: NemesisName[] = netnsUnavailable() === null ? ['kill', 'pause', 'partition-isolate'] : ['kill', 'pause'];

function options(target: string): RunOptions {
  const base = { durationMs: 14_000, servers: 3, nemeses, faultMs: [2000, 3000] as [number, number], gapMs: [1500, 2500] as [number, number] };
  const seed = firstSeed(base, 'kills the leader', (steps) => steps.some((s) => s.faults.some((f) => f.nemesis === 'kill' && f.target.kind === 'leader')));
  return shortRunOptions(kazoo === null, 'ensemble-faults-', { ...base, target, seed });
}

async function runClean(target: string): Promise<void> {
  const o = options(target);
  try {
    const result = await runFaults(o);
    assert.deepEqual(result.summary.violations, []);
    assert.equal(result.summary.result, 'ok', JSON.stringify(result.summary.linearizability));
    assert.ok(result.summary.faults.some((f) => f.name === 'kill'), JSON.stringify(result.summary.faults));
    assert.ok(result.summary.ops.ok > 200, `enough ops succeeded: ${JSON.stringify(result.summary.ops)}`);
  } finally {
    rmSync(o.outDir, { recursive: true, force: true });
  }
}

describe('fault runs against Paddock ensembles', { skip: paddockMissing ?? false, timeout: 240_000 }, () => {
  it('3 Paddock servers: no violation', () => runClean('paddock'));
  it('1 ZooKeeper + 2 Paddock: no violation', { skip: skipUnlessZooKeeper() }, () => runClean('mixed:zk,paddock,paddock'));
});
