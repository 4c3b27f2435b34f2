import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpCode } from '../../src/jute/constants.js';
import type { ACL } from '../../src/jute/records.js';
import type { TxnBody } from '../../src/jute/txn.js';
import { Prng } from '../../src/lib/prng.js';
import { DataTree } from '../../src/tree/index.js';
import { captureSnapshot, deserializeSnapshot, serializeSnapshot } from '../../src/tree/snapshot.js';

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const READ: ACL[] = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }];

function applier(tree: DataTree) {
  let zxid = tree.lastProcessedZxid;
  return (body: TxnBody, sessionId = 0n) => tree.apply({ header: { sessionId, cxid: 0, zxid: ++zxid, time: 1_000_000 + zxid, type: body.type }, body });
}

test('a snapshot captured while writes go on is exactly the tree at the capture zxid', () => {
  const tree = new DataTree();
  const apply = applier(tree);
  const rng = new Prng(7);
  apply({ type: OpCode.create, path: '/zookeeper/quota/q', data: null, acl: OPEN, ephemeral: false, parentCVersion: -1 });
  apply({ type: OpCode.create, path: '/zookeeper/quota/q/zookeeper_limits', data: Buffer.from('count=-1,bytes=-1'), acl: OPEN, ephemeral: false, parentCVersion: -1 });
  apply({ type: OpCode.create, path: '/zookeeper/quota/q/zookeeper_stats', data: Buffer.from('count=0,bytes=0'), acl: OPEN, ephemeral: false, parentCVersion: -1 });
  for (const top of ['/q', '/a', '/b']) {
    apply({ type: OpCode.create, path: top, data: Buffer.from(top), acl: OPEN, ephemeral: false, parentCVersion: -1 });
    for (let i = 0; i < 3000; i++) {
      apply({ type: OpCode.create, path: `${top}/n${i}`, data: Buffer.alloc(rng.int(200), i), acl: OPEN, ephemeral: i % 7 === 0, parentCVersion: -1 }, 5n);
    }
  }
  const sessions = new Map([[5n, 30_000]]);
  const expected = Buffer.concat(serializeSnapshot(tree, sessions));

  const capture = captureSnapshot(tree, sessions);
  const got: Buffer[] = [];
  // Change everything the snapshot could see, before and between the chunks it produces.
  const mutate = (round: number): void => {
    for (let i = 0; i < 500; i++) {
      const top = rng.pick(['/q', '/a', '/b']);
      const n = rng.int(3000);
      const path = `${top}/n${n}`;
      const pick = rng.int(5);
      if (pick === 0) apply({ type: OpCode.delete, path });
      else if (pick === 1) apply({ type: OpCode.setData, path, data: Buffer.from(`r${round}`), version: 99 });
      else if (pick === 2) apply({ type: OpCode.setACL, path, acl: READ, version: 5 });
      else if (pick === 3) apply({ type: OpCode.create, path: `${top}/new${round}-${i}`, data: null, acl: OPEN, ephemeral: false, parentCVersion: -1 });
      else apply({ type: OpCode.closeSession, paths2Delete: [] }, 5n);
    }
  };
  mutate(0);
  for (const chunk of capture.chunks) {
    got.push(chunk);
    mutate(got.length);
  }
  capture.release();
  assert.ok(tree.lastProcessedZxid > capture.zxid);
  assert.ok(Buffer.concat(got).equals(expected), 'the captured bytes are the snapshot of the tree at the capture zxid');
  const restored = deserializeSnapshot(got);
  assert.equal(restored.tree.lastProcessedZxid, capture.zxid);
  // After release, changes are no longer copied.
  assert.equal(tree.runningCaptures, 0);
  capture.release();
  assert.equal(tree.runningCaptures, 0, 'a second release does nothing');
});

test('paths deleted and created again, and nodes created and changed, during a capture do not leak into it', () => {
  const tree = new DataTree();
  const apply = applier(tree);
  const rng = new Prng(21);
  const create = (path: string, data: string): void =>
    void apply({ type: OpCode.create, path, data: Buffer.from(data), acl: OPEN, ephemeral: false, parentCVersion: -1 });
  for (let p = 0; p < 10; p++) {
    create(`/p${p}`, 'parent');
    for (let c = 0; c < 100; c++) create(`/p${p}/c${c}`, `v${c}`.padEnd(3000, '.')); // several chunks
  }
  const expected = Buffer.concat(serializeSnapshot(tree, new Map()));
  const capture = captureSnapshot(tree, new Map());
  const got: Buffer[] = [];
  let round = 0;
  const mutate = (): void => {
    round++;
    for (let i = 0; i < 300; i++) {
      const path = `/p${rng.int(12)}/c${rng.int(120)}`;
      const parent = path.substring(0, path.lastIndexOf('/'));
      const pick = rng.int(4);
      if (pick === 0) apply({ type: OpCode.delete, path });
      else if (pick === 1 && tree.getNode(parent) === undefined) create(parent, `new parent ${round}`);
      else if (pick === 1) create(path, `again ${round}`); // often a path deleted earlier
      else if (pick === 2) apply({ type: OpCode.setData, path, data: Buffer.from(`r${round}`), version: round });
      else create(`${path}/deeper`, `d${round}`);
    }
  };
  mutate();
  for (const chunk of capture.chunks) {
    got.push(chunk);
    mutate();
  }
  capture.release();
  assert.ok(got.length >= 3);
  assert.ok(Buffer.concat(got).equals(expected));
});

test('captures begun at different zxids run at once, each seeing the tree of its own zxid, and end in any order', () => {
  const tree = new DataTree();
  const apply = applier(tree);
  const rng = new Prng(33);
  const create = (path: string, data: string): void =>
    void apply({ type: OpCode.create, path, data: Buffer.from(data), acl: OPEN, ephemeral: false, parentCVersion: -1 });
  for (let p = 0; p < 8; p++) {
    create(`/p${p}`, 'parent');
    for (let c = 0; c < 200; c++) create(`/p${p}/c${c}`, `v${c}`.padEnd(2000, '.'));
  }
  const mutate = (round: number): void => {
    for (let i = 0; i < 200; i++) {
      const path = `/p${rng.int(8)}/c${rng.int(220)}`;
      const pick = rng.int(3);
      if (pick === 0) apply({ type: OpCode.delete, path });
      else if (pick === 1 && tree.getNode(path) === undefined) create(path, `again ${round}`);
      else apply({ type: OpCode.setData, path, data: Buffer.from(`r${round}`), version: round });
    }
  };
  const expectedA = Buffer.concat(serializeSnapshot(tree, new Map()));
  const a = captureSnapshot(tree, new Map());
  mutate(0);
  const expectedB = Buffer.concat(serializeSnapshot(tree, new Map()));
  const b = captureSnapshot(tree, new Map());
  assert.equal(tree.runningCaptures, 2);
  assert.ok(b.zxid > a.zxid);
  const chunksA = a.chunks[Symbol.iterator]();
  const chunksB = b.chunks[Symbol.iterator]();
  const gotA: Buffer[] = [];
  const gotB: Buffer[] = [];
  let round = 1;
  // Interleaved: A is read, the tree changes, B is read, the tree changes; each ends when read.
  const step = (chunks: Iterator<Buffer>, got: Buffer[], capture: { release(): void }): boolean => {
    const next = chunks.next();
    if (next.done) capture.release();
    else got.push(next.value);
    return next.done === true;
  };
  for (let doneA = false, doneB = false; !(doneA && doneB); round++) {
    if (!doneA) doneA = step(chunksA, gotA, a);
    mutate(round);
    if (!doneB) doneB = step(chunksB, gotB, b);
    mutate(-round);
  }
  assert.equal(tree.runningCaptures, 0);
  assert.ok(gotA.length >= 3 && gotB.length >= 3, 'several chunks each');
  assert.ok(Buffer.concat(gotA).equals(expectedA), 'the first capture is the tree at its zxid');
  assert.ok(Buffer.concat(gotB).equals(expectedB), 'the second capture is the tree at its zxid');
});
