/** The admin layer's small parts: summaries, 64-bit JSON, /proc readings, the mntr rows. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toJson } from '../../src/admin/json.js';
import { maxFileDescriptorCount, openFileDescriptorCount } from '../../src/admin/process-stats.js';
import { Summary } from '../../src/admin/summary.js';
import { ServerStats } from '../../src/pipeline/stats.js';
import { OpCode } from '../../src/jute/constants.js';

test('a summary reports count, sum, min, max and quantiles of the recent values', () => {
  const s = new Summary(true);
  assert.equal(s.quantile(0.5), 0);
  for (let v = 1; v <= 100; v++) s.add(v);
  assert.deepEqual([s.count, s.sum, s.min, s.max, s.avg()], [100, 5050, 1, 100, 50.5]);
  assert.deepEqual([s.quantile(0.5), s.quantile(0.95), s.quantile(0.99), s.quantile(0.999)], [50, 95, 99, 100]);
  for (let i = 0; i < 2000; i++) s.add(7);
  assert.equal(s.quantile(0.999), 7, 'only the recent values count for quantiles');
  assert.equal(s.max, 100, 'max is over all values');
});

test('JSON keeps 64-bit session ids as numbers', () => {
  assert.equal(toJson({ id: 72057929173368832n, list: [1n], empty: {}, none: [] }), '{\n  "id" : 72057929173368832,\n  "list" : [ 1 ],\n  "empty" : { },\n  "none" : [ ]\n}');
  assert.deepEqual(JSON.parse(toJson({ a: 'x"y', b: null, c: 1.5 })), { a: 'x"y', b: null, c: 1.5 });
});

test('file descriptor counts come from /proc', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  const open = openFileDescriptorCount();
  assert.ok(open > 2, `open fds ${open}`);
  assert.ok(maxFileDescriptorCount() >= open);
});

test('replies count bytes per top-level namespace, as ZooKeeper\'s DataTree', () => {
  const s = new ServerStats();
  s.recordReply(OpCode.create, 0, { path: '/app/a', data: Buffer.from('abc') }, null);
  s.recordReply(OpCode.setData, 0, { path: '/app', data: Buffer.from('12345') }, null);
  // The tree keeps small values as strings of their bytes, one per char (6 for these 5 letters).
  s.recordReply(OpCode.getData, 0, { path: '/app/a' }, { data: Buffer.from('héllo').toString('latin1') });
  s.recordReply(OpCode.getChildren, 0, { path: '/app' }, { children: ['a', 'bc'] });
  s.recordReply(OpCode.create, 101, { path: '/other', data: Buffer.from('x') }, null);
  s.recordReply(OpCode.getData, 0, { path: '/' }, { data: Buffer.alloc(0) });
  assert.deepEqual([...s.namespaceWrites.keys()], ['app']);
  assert.deepEqual([s.namespaceWrites.get('app')!.count, s.namespaceWrites.get('app')!.sum], [2, 8]);
  assert.deepEqual([s.namespaceReads.get('app')!.count, s.namespaceReads.get('app')!.sum], [2, 6 + 3]);
});

test('a namespace that starts like the previous one is its own namespace', () => {
  const s = new ServerStats();
  const get = (path: string, data: string): void => s.recordReply(OpCode.getData, 0, { path }, { data });
  get('/app/a', 'a');
  get('/apple/x', 'bb');
  get('/app', 'ccc');
  get('/ap/x', 'dddd');
  get('/app2', 'eeeee');
  get('//x', 'ffffff');
  get('/app/b', 'g');
  const sums = Object.fromEntries([...s.namespaceReads].map(([k, v]) => [k, [v.count, v.sum]]));
  assert.deepEqual(sums, { app: [3, 5], apple: [1, 2], ap: [1, 4], app2: [1, 5] });
});

test('addRepeated is n calls of add, for the ring of recent values too', () => {
  const one = new Summary(true);
  const many = new Summary(true);
  const runs: [number, number][] = [[3, 5], [1, 1], [7, 1500], [2, 30]];
  for (const [value, n] of runs) {
    for (let i = 0; i < n; i++) one.add(value);
    many.addRepeated(value, n);
  }
  assert.deepEqual([many.count, many.sum, many.min, many.max], [one.count, one.sum, one.min, one.max]);
  for (const q of [0.01, 0.5, 0.97, 0.99, 1]) assert.equal(many.quantile(q), one.quantile(q), `quantile ${q}`);
});

test('latencies recorded in runs are all in the summaries a reader sees', () => {
  const s = new ServerStats();
  const sequence: [number, number, boolean][] = [[0, OpCode.getData, false], [0, OpCode.getData, false], [1, OpCode.getData, false], [4, OpCode.setData, true], [4, OpCode.setData, true]];
  for (const [ms, type, write] of sequence) s.recordLatency(ms, type, write);
  const read = s.summaries.get('readlatency')!;
  const update = s.summaries.get('updatelatency')!;
  assert.deepEqual([read.count, read.sum, read.max], [3, 1, 1]);
  assert.deepEqual([update.count, update.sum], [2, 8]);
  assert.deepEqual([...s.opLatency].map(([type, sum]) => [type, sum.count, sum.sum]), [[OpCode.getData, 3, 1], [OpCode.setData, 2, 8]]);
  // A run still open when a reader looked is not counted twice.
  s.recordLatency(4, OpCode.setData, true);
  assert.equal(s.summaries.get('updatelatency')!.count, 3);
  assert.equal(s.opLatency.get(OpCode.setData)!.count, 3);
});
