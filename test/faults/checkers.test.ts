import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCounters, checkEphemerals, checkLostWrites, checkMutex, checkSequential, checkSessions, checkTrees } from '../../src/faults/checkers.js';
import type { Op } from '../../src/faults/history.js';
import { checkRegisterKey, checkRegisters } from '../../src/faults/linearizability.js';
import { grudge, makeSchedule } from '../../src/faults/schedule.js';
import { ops, runSelfTests } from '../../src/faults/selftest.js';

const INITIAL = { value: '0', version: 0 };
type Partial = Omit<Op, 'index'>;

function write(client: number, value: string, invokeMs: number, completeMs: number | null, version?: number, outcome: Op['outcome'] = 'ok'): Partial {
  return { client, session: `s${client}`, kind: 'write', key: '/r', value, invokeMs, completeMs, outcome, ...(version !== undefined ? { version } : {}) };
}
function cas(client: number, from: number, value: string, invokeMs: number, completeMs: number | null, outcome: Op['outcome'], version?: number): Partial {
  return { client, session: `s${client}`, kind: 'cas', key: '/r', value, expectedVersion: from, invokeMs, completeMs, outcome, ...(version !== undefined ? { version } : {}) };
}
function read(client: number, value: string, version: number, invokeMs: number, completeMs: number): Partial {
  return { client, session: `s${client}`, kind: 'sync-read', key: '/r', readValue: value, version, invokeMs, completeMs, outcome: 'ok' };
}

describe('linearizability checker', () => {
  it('accepts concurrent writes read in either order', () => {
    const h = ops(write(1, 'a', 0, 10, 1), write(2, 'b', 2, 12, 2), read(3, 'b', 2, 11, 13), read(4, 'b', 2, 14, 16));
    assert.equal(checkRegisters(h, INITIAL).result, 'ok');
  });

  it('accepts a read overlapping a write that sees the old value', () => {
    const h = ops(write(1, 'a', 0, 10, 1), read(2, '0', 0, 1, 3), read(3, 'a', 1, 4, 12));
    assert.equal(checkRegisters(h, INITIAL).result, 'ok');
  });

  it('rejects a read of an overwritten value (known bad)', () => {
    const h = ops(write(1, 'a', 0, 10, 1), write(1, 'b', 11, 20, 2), read(2, 'a', 1, 30, 35));
    const res = checkRegisters(h, INITIAL);
    assert.equal(res.result, 'violation');
    const key = res.keys[0];
    assert.ok(key?.result === 'violation' && key.message.includes('/r'), JSON.stringify(key));
  });

  it('rejects a read going back in real time across clients', () => {
    // Client 2 sees b, then client 3 (starting later) sees a again.
    const h = ops(write(1, 'a', 0, 5, 1), write(1, 'b', 6, 30, 2), read(2, 'b', 2, 10, 12), read(3, 'a', 1, 13, 15));
    assert.equal(checkRegisters(h, INITIAL).result, 'violation');
  });

  it('lets a timed-out write take effect or not', () => {
    const took = ops(write(1, 'a', 0, null, undefined, 'info'), read(2, 'a', 1, 50, 60));
    const lost = ops(write(1, 'a', 0, null, undefined, 'info'), read(2, '0', 0, 50, 60));
    assert.equal(checkRegisters(took, INITIAL).result, 'ok');
    assert.equal(checkRegisters(lost, INITIAL).result, 'ok');
  });

  it('treats a failed CAS as a check that the version differed', () => {
    const good = ops(write(1, 'a', 0, 10, 1), cas(2, 0, 'x', 20, 25, 'fail'));
    const bad = ops(cas(2, 0, 'x', 20, 25, 'fail'));
    assert.equal(checkRegisters(good, INITIAL).result, 'ok');
    assert.equal(checkRegisters(bad, INITIAL).result, 'violation');
  });

  it('rejects two CAS from the same version that both succeed', () => {
    const h = ops(cas(1, 0, 'x', 0, 10, 'ok', 1), cas(2, 0, 'y', 1, 11, 'ok', 1));
    assert.equal(checkRegisters(h, INITIAL).result, 'violation');
  });

  it('ignores plain reads (only sequentially consistent in ZooKeeper)', () => {
    const h = ops(write(1, 'a', 0, 10, 1), { ...read(2, '0', 0, 20, 25), kind: 'read' });
    assert.equal(checkRegisters(h, INITIAL).result, 'ok');
  });

  it('says unknown, not ok, when the history is over the size limit', () => {
    const many = ops(...Array.from({ length: 50 }, (_, i) => write(i, `v${i}`, i, i + 1, i + 1)));
    const verdict = checkRegisterKey('/r', many, INITIAL, { maxOps: 20 });
    assert.equal(verdict.result, 'unknown');
  });

  it('says unknown when the search passes its step budget', () => {
    // 14 fully concurrent writes and a read of a value nobody wrote: a violation, but proving it
    // means trying every order, far past a budget of 5,000 steps.
    const writes = Array.from({ length: 14 }, (_, i) => write(i, `v${i}`, 0, 1000));
    const h = ops(...writes, read(99, 'never', 15, 1001, 1002));
    const verdict = checkRegisterKey('/r', h, INITIAL, { maxSteps: 5000 });
    assert.equal(verdict.result, 'unknown', JSON.stringify(verdict));
    assert.equal(checkRegisters(h, INITIAL, { maxSteps: 5000 }).result, 'unknown');
  });

  it('decides a long sequential-ish history quickly', () => {
    const list: Partial[] = [];
    for (let i = 0; i < 1500; i++) {
      list.push(write(i % 5, `v${i}`, i * 10, i * 10 + 15, i + 1));
      list.push(read(5, `v${i}`, i + 1, i * 10 + 16, i * 10 + 18));
    }
    const verdict = checkRegisterKey('/r', ops(...list), INITIAL);
    assert.equal(verdict.result, 'ok', JSON.stringify(verdict).slice(0, 300));
  });
});

describe('session checker', () => {
  const s = (op: Partial): Partial => op;
  it('accepts monotonic reads and flags one going back', () => {
    const good = ops(
      s({ ...write(1, 'a', 0, 5, 1), mzxid: '10', lastZxid: '10' }),
      s({ ...read(1, 'a', 1, 6, 8), kind: 'read', mzxid: '10', lastZxid: '12' }),
    );
    assert.deepEqual(checkSessions(good), []);
    const bad = ops(
      s({ ...write(1, 'a', 0, 5, 1), mzxid: '10', lastZxid: '10' }),
      s({ ...read(1, '0', 0, 6, 8), kind: 'read', mzxid: '3', lastZxid: '12' }),
    );
    assert.equal(checkSessions(bad).length, 1);
    const backwards = ops(s({ ...write(1, 'a', 0, 5, 1), lastZxid: '10' }), s({ ...write(1, 'b', 6, 8, 2), lastZxid: '9' }));
    assert.match(checkSessions(backwards)[0]?.message ?? '', /back in time/);
  });
});

describe('lost writes, sequential, counters, ephemerals, mutex, trees', () => {
  it('flags an acknowledged write missing after healing', () => {
    const h = ops(write(1, 'a', 0, 5, 1), write(1, 'b', 6, 8, 2));
    assert.deepEqual(checkLostWrites(h, new Map([['/r', { value: 'b', version: 2 }]])), []);
    assert.equal(checkLostWrites(h, new Map([['/r', { value: 'a', version: 1 }]])).length, 1);
    assert.equal(checkLostWrites(h, new Map([['/r', { value: 'z', version: 2 }]])).length, 1);
  });

  it('checks sequential names: unique, increasing, in real-time order, all present', () => {
    const c = (client: number, n: number, t0: number, t1: number): Partial => ({
      client, session: null, kind: 'create-seq', key: '/seq', invokeMs: t0, completeMs: t1, outcome: 'ok', created: `/seq/n-${String(n).padStart(10, '0')}`,
    });
    const list = (names: number[]): Partial => ({
      client: 9, session: null, kind: 'list-seq', key: '/seq', invokeMs: 100, completeMs: 101, outcome: 'ok', children: names.map((n) => `n-${String(n).padStart(10, '0')}`),
    });
    assert.deepEqual(checkSequential(ops(c(1, 0, 0, 5), c(2, 1, 1, 6), c(1, 2, 7, 9), list([0, 1, 2]))), []);
    assert.ok(checkSequential(ops(c(1, 1, 0, 5), c(2, 0, 6, 9))).some((v) => /real-time/.test(v.message)));
    assert.ok(checkSequential(ops(c(1, 0, 0, 5), c(1, 1, 6, 9), list([0]))).some((v) => /missing/.test(v.message)));
    assert.ok(checkSequential(ops(c(1, 0, 0, 5), list([0, 7]))).some((v) => /unexplained/.test(v.message)));
  });

  it('bounds a counter between acknowledged and attempted increments', () => {
    const inc = (outcome: Op['outcome']): Partial => ({ client: 1, session: null, kind: 'incr', key: '/c', invokeMs: 0, completeMs: 1, outcome });
    const h = ops(inc('ok'), inc('ok'), inc('info'));
    assert.deepEqual(checkCounters(h, new Map([['/c', 3]])), []);
    assert.equal(checkCounters(h, new Map([['/c', 1]])).length, 1);
    assert.equal(checkCounters(h, new Map([['/c', 4]])).length, 1);
  });

  it('flags an ephemeral that outlived its session', () => {
    const h = ops({ client: 1, session: 'a', kind: 'list-eph', key: '/eph', invokeMs: 0, completeMs: 1, outcome: 'ok', owners: { x: 'a', y: 'b' } });
    assert.equal(checkEphemerals(h, new Set(['a', 'b'])).length, 0);
    assert.equal(checkEphemerals(h, new Set(['a'])).length, 1);
  });

  it('accepts holders taking turns and flags out-of-order tokens', () => {
    const good = ops(
      { client: 1, session: 'a', kind: 'lock', key: '/m', token: '10', invokeMs: 0, completeMs: 1, outcome: 'ok' },
      { client: 1, session: 'a', kind: 'fenced-write', key: '/m/r', token: '10', invokeMs: 2, completeMs: 3, outcome: 'ok', version: 1 },
      { client: 2, session: 'b', kind: 'lock', key: '/m', token: '20', invokeMs: 0, completeMs: 5, outcome: 'ok' },
      { client: 2, session: 'b', kind: 'fenced-write', key: '/m/r', token: '20', invokeMs: 6, completeMs: 7, outcome: 'ok', version: 2 },
    );
    assert.deepEqual(checkMutex(good), []);
    const reordered = ops(
      { client: 1, session: 'a', kind: 'fenced-write', key: '/m/r', token: '20', invokeMs: 2, completeMs: 3, outcome: 'ok', version: 1 },
      { client: 2, session: 'b', kind: 'fenced-write', key: '/m/r', token: '10', invokeMs: 1, completeMs: 7, outcome: 'ok', version: 2 },
    );
    assert.match(checkMutex(reordered)[0]?.message ?? '', /newer token/);
  });

  it('compares trees node by node', () => {
    const a = new Map([['/x', 'd1'], ['/y', 'd2']]);
    assert.deepEqual(checkTrees(new Map([[1, a], [2, new Map(a)]])), []);
    const diff = checkTrees(new Map([[1, a], [2, new Map([['/x', 'd9']])]]));
    assert.match(diff[0]?.message ?? '', /\/x differs.*\/y missing/);
  });
});

describe('selftest', () => {
  it('flags every known-bad history and passes the good one', () => {
    for (const r of runSelfTests()) assert.ok(r.passed, `${r.name}: ${JSON.stringify(r.violations)}`);
  });
});

describe('schedule', () => {
  it('is a function of the seed, bounded by the duration', () => {
    const opts = { seed: 7, durationMs: 60_000, servers: 3, nemeses: ['kill', 'pause', 'partition-isolate'] as const };
    const a = makeSchedule(opts);
    assert.deepEqual(a, makeSchedule(opts));
    assert.notDeepEqual(a, makeSchedule({ ...opts, seed: 8 }));
    assert.ok(a.length > 0);
    for (const s of a) assert.ok(s.atMs + s.durationMs <= 60_000);
    assert.deepEqual(makeSchedule({ ...opts, nemeses: [] }), []);
  });

  it('builds partitions: isolate, halves, bridge, one-way', () => {
    const isolate = grudge('partition-isolate', 3, 2);
    assert.deepEqual([...(isolate.get(2) ?? [])].sort(), [1, 3]);
    assert.deepEqual([...(isolate.get(1) ?? [])], [2]);
    const halves = grudge('partition-halves', 5, 1);
    assert.deepEqual([...(halves.get(1) ?? [])].sort(), [3, 4, 5]);
    assert.deepEqual([...(halves.get(2) ?? [])].sort(), [3, 4, 5]);
    const bridge = grudge('partition-bridge', 5, 3);
    assert.equal(bridge.get(3)?.size, 0);
    assert.deepEqual([...(bridge.get(1) ?? [])].sort(), [4, 5]);
    const oneway = grudge('partition-oneway', 3, 1);
    assert.deepEqual([...(oneway.get(1) ?? [])].sort(), [2, 3]);
    assert.equal(oneway.get(2)?.size, 0);
  });
});
