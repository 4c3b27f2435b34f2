/** The charts' sample ring (history.ts): rates from running totals, resets, and a fixed size. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsHistory } from '../../src/admin/console/history.js';

test('samples turn running totals into ops/s and mean latency per interval', () => {
  const h = new MetricsHistory(3);
  h.record(1000, { requests: 0, latencySumMs: 0, connections: 1 });
  assert.deepEqual(h.samples(), [], 'the first reading is only a baseline');
  h.record(2000, { requests: 50, latencySumMs: 100, connections: 2 });
  h.record(4000, { requests: 50, latencySumMs: 100, connections: 2 });
  assert.deepEqual(h.samples(), [
    { atMs: 2000, opsPerSecond: 50, latencyMs: 2, connections: 2 },
    { atMs: 4000, opsPerSecond: 0, latencyMs: 0, connections: 2 },
  ]);
  // srst resets the server's totals: the interval counts from zero rather than going negative.
  h.record(5000, { requests: 10, latencySumMs: 5, connections: 3 });
  h.record(6000, { requests: 20, latencySumMs: 15, connections: 3 });
  const s = h.samples();
  assert.equal(s.length, 3, 'the ring keeps its capacity');
  assert.deepEqual(s.map((x) => x.atMs), [4000, 5000, 6000]);
  assert.deepEqual(s[1], { atMs: 5000, opsPerSecond: 10, latencyMs: 0.5, connections: 3 });
  assert.throws(() => new MetricsHistory(0), RangeError);
});
