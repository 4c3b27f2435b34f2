/**
 * Short end-to-end fault runs through the real harness: a 3-server Apache ZooKeeper ensemble
 * with a partition and a kill -9, standalone Paddock with kill -9, and a deliberately unsafe
 * Paddock (amnesia on restart) whose lost writes must be reported. Namespaces are used when
 * running as root with `ip netns`; otherwise the runs are on loopback without partitions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkRun, type FinalState } from '../../src/faults/check.js';
import type { History } from '../../src/faults/history.js';
import { NAME_PREFIX, netnsUnavailable } from '../../src/faults/netns.js';
import { runFaults, type RunOptions } from '../../src/faults/runner.js';
import type { NemesisName } from '../../src/faults/schedule.js';
import { kazooMissing, skipUnless } from '../support/clients.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { firstSeed, shortRunOptions } from './run-options.js';

const netns = netnsUnavailable();
const kazoo = process.env.CI ? (skipUnless(kazooMissing()), null) : kazooMissing();
if (netns) console.log(`# network namespaces unavailable (${netns}): fault runs on loopback, without partitions`);
if (kazoo) console.log(`# ${kazoo}: fault runs use the Paddock client only`);

function options(overrides: Partial<RunOptions>): RunOptions {
  return shortRunOptions(kazoo === null, 'faults-test-', overrides);
}

/** The first seed whose schedule has every one of `wanted`. */
function seedWith(wanted: NemesisName[], o: Pick<RunOptions, 'durationMs' | 'servers' | 'nemeses' | 'faultMs' | 'gapMs'>): number {
  return firstSeed(o, `schedules ${wanted.join(', ')}`, (steps) => {
    const kinds = new Set(steps.flatMap((s) => s.faults.map((f) => f.nemesis)));
    return wanted.every((w) => kinds.has(w));
  });
}

function leftovers(): string[] {
  const mine = `${NAME_PREFIX}${process.pid}-`;
  const ns = (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((l) => l.startsWith(mine));
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`/${mine}`));
  return [...ns, ...mounts];
}

function readRun(outDir: string): { history: History; final: FinalState } {
  return {
    history: JSON.parse(readFileSync(join(outDir, 'history.json'), 'utf8')) as History,
    final: JSON.parse(readFileSync(join(outDir, 'final.json'), 'utf8')) as FinalState,
  };
}

describe('fault harness end to end', { timeout: 300_000 }, () => {
  it('a 3-server ZooKeeper ensemble through a partition and a kill -9: no violation', { skip: skipUnlessZooKeeper() }, async () => {
    const nemeses: NemesisName[] = netns ? ['kill'] : ['partition-isolate', 'kill'];
    const base = { durationMs: 20_000, servers: 3, nemeses, faultMs: [2500, 3500] as [number, number], gapMs: [1500, 2500] as [number, number] };
    const o = options({ target: 'zookeeper', ...base, seed: seedWith(nemeses, base) });
    try {
      const result = await runFaults(o);
      assert.deepEqual(result.summary.violations, []);
      assert.equal(result.summary.result, 'ok', JSON.stringify(result.summary.linearizability));
      const applied = new Set(result.summary.faults.map((f) => f.name));
      for (const n of nemeses) assert.ok(applied.has(n), `${n} was applied: ${JSON.stringify(result.summary.faults)}`);
      assert.ok(result.summary.ops.ok > 200, `enough ops succeeded: ${JSON.stringify(result.summary.ops)}`);
      assert.deepEqual(leftovers(), []);

      // The same history with one sync read changed to a value overwritten before it began must fail.
      const { history, final } = readRun(o.outDir);
      const reads = history.ops.filter((op) => op.kind === 'sync-read' && op.outcome === 'ok' && op.client !== 0);
      const victim = reads.find((r) => history.ops.some((w) => w.kind === 'write' && w.key === r.key && w.outcome === 'ok' && (w.completeMs as number) < r.invokeMs && w.value !== r.readValue));
      assert.ok(victim, 'a sync read after some write');
      const stale = history.ops.find((w) => w.kind === 'write' && w.key === victim.key && w.outcome === 'ok' && (w.completeMs as number) < victim.invokeMs && w.value !== victim.readValue);
      victim.readValue = stale?.value ?? null;
      victim.version = stale?.version as number;
      const verdict = checkRun(history, final);
      assert.equal(verdict.result, 'violation');
      assert.ok(verdict.violations.some((v) => v.checker === 'linearizability'), JSON.stringify(verdict.violations));
    } finally {
      rmSync(o.outDir, { recursive: true, force: true });
    }
  });

  it('standalone Paddock through kill -9 and SIGSTOP: no violation', async () => {
    const base = { durationMs: 12_000, servers: 1, nemeses: ['kill', 'pause'] as NemesisName[], faultMs: [2000, 3000] as [number, number], gapMs: [1500, 2500] as [number, number] };
    const o = options({ ...base, seed: seedWith(['kill'], base) });
    try {
      const result = await runFaults(o);
      assert.deepEqual(result.summary.violations, []);
      assert.equal(result.summary.result, 'ok');
      assert.ok(result.summary.faults.some((f) => f.name === 'kill'));
      assert.ok(readFileSync(join(o.outDir, 'report.html'), 'utf8').includes('<svg'));
      assert.deepEqual(leftovers(), []);
    } finally {
      rmSync(o.outDir, { recursive: true, force: true });
    }
  });

  it('reports lost writes from a server that comes back without its disk', async () => {
    // A first gap of 3 s or more, so acknowledged data exists before the first kill even on a loaded machine.
    const base = { durationMs: 9000, servers: 1, nemeses: ['kill'] as NemesisName[], faultMs: [2000, 2500] as [number, number], gapMs: [3000, 3500] as [number, number] };
    const o = options({ ...base, seed: seedWith(['kill'], base), wipeOnRestart: true, workloads: ['register', 'sequential', 'counter'] });
    try {
      const result = await runFaults(o);
      assert.equal(result.summary.result, 'violation');
      const checkers = new Set(result.summary.violations.map((v) => v.checker));
      // The final reads find the registers gone: no history explains that.
      assert.ok(checkers.has('linearizability'), `linearizability flagged: ${[...checkers].join(', ')}`);
      // Which acknowledged data a wipe takes depends on what was acknowledged before it; some must be reported lost.
      assert.ok(['lost-writes', 'counter', 'sequential'].some((c) => checkers.has(c)), `a loss flagged: ${[...checkers].join(', ')}`);
      assert.deepEqual(leftovers(), []);
    } finally {
      rmSync(o.outDir, { recursive: true, force: true });
    }
  });
});
