/**
 * Known-bad histories, one per kind of bug the checkers exist for, and the run that feeds each
 * to the checkers and demands a violation (`npm run faults -- --selftest`). Also a known-good
 * history that must pass, so a checker that flags everything fails too.
 */
import { checkLostWrites, checkMutex, checkSequential, checkSessions, type FinalRegister } from './checkers.js';
import type { Op } from './history.js';
import { checkRegisters } from './linearizability.js';

const INITIAL = { value: '0', version: 0 };

/** Builds ops with sequential indexes; times in ms. */
export function ops(...list: Omit<Op, 'index'>[]): Op[] {
  return list.map((op, index) => ({ ...op, index }));
}

function w(client: number, value: string, invokeMs: number, completeMs: number, version: number, mzxid?: string): Omit<Op, 'index'> {
  return { client, session: `s${client}`, kind: 'write', key: '/r', value, invokeMs, completeMs, outcome: 'ok', version, ...(mzxid ? { mzxid } : {}) };
}

function r(client: number, value: string, invokeMs: number, completeMs: number, version: number, kind: 'read' | 'sync-read' = 'sync-read', mzxid?: string): Omit<Op, 'index'> {
  return { client, session: `s${client}`, kind, key: '/r', readValue: value, invokeMs, completeMs, outcome: 'ok', version, ...(mzxid ? { mzxid } : {}) };
}

export interface SelfTestCase {
  name: string;
  /** True when the checkers must report a violation. */
  bad: boolean;
  run(): string[];
}

function linear(history: Op[]): string[] {
  const res = checkRegisters(history, INITIAL);
  return res.keys.filter((k) => k.result === 'violation').map((k) => (k.result === 'violation' ? k.message : ''));
}

export const SELF_TESTS: SelfTestCase[] = [
  {
    name: 'good: concurrent writes and a read of either',
    bad: false,
    run: () => linear(ops(w(1, 'a', 0, 10, 1), w(2, 'b', 5, 15, 2), r(3, 'b', 20, 25, 2))),
  },
  {
    name: 'stale read: a sync read returns a value overwritten before it began',
    bad: true,
    run: () => linear(ops(w(1, 'a', 0, 10, 1), w(1, 'b', 11, 20, 2), r(2, 'a', 30, 35, 1))),
  },
  {
    name: 'stale read within a session: a plain read older than the session already saw',
    bad: true,
    run: () =>
      checkSessions(ops(w(1, 'a', 0, 10, 1, '100'), r(1, 'b', 20, 25, 2, 'read', '105'), r(1, 'a', 30, 35, 1, 'read', '100'))).map((v) => v.message),
  },
  {
    name: 'lost write: an acknowledged write gone after healing',
    bad: true,
    run: () => {
      const history = ops(w(1, 'a', 0, 10, 1), w(1, 'b', 11, 20, 2));
      const finals = new Map<string, FinalRegister>([['/r', { value: 'a', version: 1 }]]);
      return [...checkLostWrites(history, finals).map((v) => v.message), ...linear([...history, { ...r(2, 'a', 30, 35, 1), index: 2 }])];
    },
  },
  {
    name: 'non-linearizable CAS: two CAS from the same version both succeed',
    bad: true,
    run: () =>
      linear(
        ops(
          { client: 1, session: 's1', kind: 'cas', key: '/r', value: 'x', expectedVersion: 0, invokeMs: 0, completeMs: 10, outcome: 'ok', version: 1 },
          { client: 2, session: 's2', kind: 'cas', key: '/r', value: 'y', expectedVersion: 0, invokeMs: 1, completeMs: 11, outcome: 'ok', version: 1 },
        ),
      ),
  },
  {
    name: 'split brain: two holders of the mutex write the resource',
    bad: true,
    run: () =>
      checkMutex(
        ops(
          { client: 1, session: 's1', kind: 'lock', key: '/m', token: '100', invokeMs: 0, completeMs: 5, outcome: 'ok' },
          { client: 2, session: 's2', kind: 'lock', key: '/m', token: '200', invokeMs: 1, completeMs: 20, outcome: 'ok' },
          { client: 2, session: 's2', kind: 'fenced-write', key: '/m/resource', token: '200', invokeMs: 21, completeMs: 25, outcome: 'ok', version: 1 },
          { client: 1, session: 's1', kind: 'fenced-write', key: '/m/resource', token: '100', invokeMs: 30, completeMs: 35, outcome: 'ok', version: 2 },
        ),
      ).map((v) => v.message),
  },
  {
    name: 'duplicated sequential: two creates got the same name',
    bad: true,
    run: () =>
      checkSequential(
        ops(
          { client: 1, session: 's1', kind: 'create-seq', key: '/seq', invokeMs: 0, completeMs: 5, outcome: 'ok', created: '/seq/n-0000000001' },
          { client: 2, session: 's2', kind: 'create-seq', key: '/seq', invokeMs: 1, completeMs: 6, outcome: 'ok', created: '/seq/n-0000000001' },
        ),
      ).map((v) => v.message),
  },
];

export interface SelfTestResult {
  name: string;
  passed: boolean;
  violations: string[];
}

export function runSelfTests(): SelfTestResult[] {
  return SELF_TESTS.map((t) => {
    const violations = t.run();
    return { name: t.name, passed: t.bad ? violations.length > 0 : violations.length === 0, violations };
  });
}
