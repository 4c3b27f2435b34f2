/** What the short fault-harness runs in the tests share: their settings and how they pick a seed. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunOptions } from '../../src/faults/runner.js';
import { makeSchedule, type Step } from '../../src/faults/schedule.js';

/** A short run of every workload: 6 clients (kazoo among them when `kazoo` is true), kill -9 of a standalone Paddock unless overridden. */
export function shortRunOptions(kazoo: boolean, outPrefix: string, overrides: Partial<RunOptions>): RunOptions {
  return {
    target: 'paddock',
    servers: 1,
    seed: 1,
    durationMs: 12_000,
    nemeses: ['kill'],
    workloads: ['register', 'sequential', 'counter', 'ephemeral', 'mutex'],
    clients: kazoo ? ['paddock', 'kazoo'] : ['paddock'],
    clientCount: 6,
    outDir: mkdtempSync(join(tmpdir(), outPrefix)),
    loopback: false,
    forceSync: true,
    wipeOnRestart: false,
    opTimeoutMs: 5000,
    sessionTimeoutMs: 6000,
    opDelayMs: 40,
    maxOpsPerClient: 2000,
    faultMs: [2000, 3000],
    gapMs: [1500, 2500],
    log: (line) => console.log(`# ${line}`),
    ...overrides,
  };
}

/** The first seed whose schedule `wanted` accepts (schedules are a pure function of the seed); `what` names it in the error. */
export function firstSeed(o: Pick<RunOptions, 'durationMs' | 'servers' | 'nemeses' | 'faultMs' | 'gapMs'>, what: string, wanted: (schedule: Step[]) => boolean): number {
  for (let seed = 1; seed < 1000; seed++) if (wanted(makeSchedule({ ...o, seed }))) return seed;
  throw new Error(`no seed below 1000 ${what}`);
}
