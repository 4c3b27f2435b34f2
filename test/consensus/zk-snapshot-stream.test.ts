/**
 * The SNAP stream written by the leader driver reads back (as the learner reads it) into the
 * same tree, equals byte for byte what the whole-tree serializer made when streamed in slices
 * from a capture while the tree changes, and SnapshotSender paces it and ends its capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { JuteReader, JuteWriter } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { ACLs, type ACL } from '../../src/jute/records.js';
import type { TxnBody } from '../../src/jute/txn.js';
import { Prng } from '../../src/lib/prng.js';
import { readZkSnapshotBody } from '../../src/persistence/zkformat.js';
import { treeFromZkSnapshot } from '../../src/server/quorum/learner-driver.js';
import { SNAP_SIGNATURE, SnapshotSender, writeZkSnapshotStream, zkSnapshotSlices, type SnapshotSent } from '../../src/server/quorum/zk-snapshot-stream.js';
import { DataTree } from '../../src/tree/datatree.js';
import { treeDiff } from '../../src/tree/equals.js';

test('writeZkSnapshotStream round-trips through readZkSnapshotBody: nodes, stats, ACLs, ephemerals, sessions', () => {
  const tree = new DataTree();
  const open = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
  const digest = [{ perms: 1, id: { scheme: 'digest', id: 'u:x' } }];
  let zxid = 0;
  const create = (path: string, data: string | null, acl = open, ephemeral = false): void => {
    zxid++;
    const parent = tree.getNode(path.slice(0, path.lastIndexOf('/')) || '/')!;
    tree.apply({
      header: { sessionId: 0x55n, cxid: zxid, zxid, time: 1000 + zxid, type: OpCode.create },
      body: { type: OpCode.create, path, data: data === null ? null : Buffer.from(data), acl, ephemeral, parentCVersion: parent.storedCversion + 1 },
    });
  };
  create('/a', 'A');
  create('/a/b', null, digest);
  create('/a/b/c', 'x'.repeat(300));
  create('/e', 'eph', open, true);
  const sessions = new Map([[0x55n, 4000]]);
  const bytes = writeZkSnapshotStream(tree, sessions);
  const r = new JuteReader(bytes, 0, bytes.length, 0x7fffffff);
  const snap = readZkSnapshotBody(r);
  assert.equal(r.string(), SNAP_SIGNATURE);
  assert.equal(r.remaining(), 0);
  assert.deepEqual(snap.sessions, sessions);
  const back = treeFromZkSnapshot(snap);
  back.lastProcessedZxid = tree.lastProcessedZxid;
  assert.equal(treeDiff(tree, back), null);
  assert.equal(back.getNode('/e')!.ephemeralOwner, 0x55n);
});

/**
 * The whole-tree serializer the leader used before streaming (kept here as the reference the
 * streamed bytes must equal): ACL keys by first use in preorder, children in child-set order.
 */
function referenceStream(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Buffer {
  const w = new JuteWriter(64 * 1024);
  w.int(sessions.size);
  for (const [id, timeout] of sessions) w.long(id).int(timeout);
  const keys = new Map<ACL[], bigint>();
  const order: string[] = [];
  const walk = (path: string): void => {
    const node = tree.getNode(path)!;
    order.push(path);
    if (!keys.has(node.acl)) keys.set(node.acl, BigInt(keys.size + 1));
    for (const child of node.childPaths) walk(child);
  };
  walk('/');
  w.int(keys.size);
  for (const [acl, key] of keys) {
    w.long(key);
    ACLs.write(w, acl);
  }
  for (const path of order) {
    const n = tree.getNode(path)!;
    w.string(path === '/' ? '' : path).buffer(n.data).long(keys.get(n.acl)!);
    w.long(BigInt(n.czxid)).long(BigInt(n.mzxid)).long(BigInt(n.ctime)).long(BigInt(n.mtime));
    w.int(n.version).int(n.storedCversion).int(n.aversion).long(n.ephemeralOwner).long(BigInt(n.pzxid));
  }
  w.string('/');
  w.string(SNAP_SIGNATURE);
  return Buffer.from(w.bytes());
}

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const ACL_CHOICES: ACL[][] = [OPEN, [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }], [{ perms: 31, id: { scheme: 'digest', id: 'u:x' } }], [{ perms: 3, id: { scheme: 'ip', id: '10.0.0.1' } }, ...OPEN]];

/** A tree of `count` nodes under a few levels, with every kind of data, ACL and owner, and its sessions. */
function randomTree(count: number, seed: number): { tree: DataTree; sessions: Map<bigint, number>; apply: (body: TxnBody, sessionId?: bigint) => void; rng: Prng } {
  const tree = new DataTree();
  const rng = new Prng(seed);
  let zxid = 0;
  const apply = (body: TxnBody, sessionId = 0n): void => {
    zxid++;
    tree.apply({ header: { sessionId, cxid: zxid, zxid, time: 5000 + zxid, type: body.type }, body });
  };
  const data = (): Buffer | null => {
    const pick = rng.int(6);
    if (pick === 0) return null;
    if (pick === 1) return Buffer.alloc(0);
    if (pick === 2) return Buffer.alloc(5000 + rng.int(3000), rng.int(256)); // stored as a Buffer
    return Buffer.from(`value ${rng.int(1_000_000)} ${'x'.repeat(rng.int(300))}`);
  };
  const dirs = ['/'];
  for (let i = 0; tree.size < count; i++) {
    const parent = rng.pick(dirs);
    const path = `${parent === '/' ? '' : parent}/n${i}`;
    const ephemeral = rng.int(10) === 0;
    apply({ type: OpCode.create, path, data: data(), acl: rng.pick(ACL_CHOICES), ephemeral, parentCVersion: -1 }, ephemeral ? BigInt(1 + rng.int(5)) : 0n);
    if (!ephemeral && rng.int(8) === 0) dirs.push(path);
  }
  const sessions = new Map<bigint, number>();
  for (let s = 1n; s <= 5n; s++) sessions.set(s, 4000 + Number(s));
  return { tree, sessions, apply, rng };
}

test('the streamed bytes equal the whole-tree serializer\'s, for the tree at the capture zxid while commits change it between slices', () => {
  const { tree, sessions, apply, rng } = randomTree(20_000, 11);
  assert.ok(writeZkSnapshotStream(tree, sessions).equals(referenceStream(tree, sessions)), 'whole stream');
  const expected = referenceStream(tree, sessions);
  const capture = tree.beginCapture();
  const slices = zkSnapshotSlices(capture, [...sessions], 16 * 1024);
  const got: Buffer[] = [];
  let empty = 0;
  for (const slice of slices) {
    if (slice.length === 0) empty++;
    got.push(slice);
    // Every kind of change, to nodes the stream has and has not reached yet.
    for (let i = 0; i < 50; i++) {
      const path = rng.pick([...tree.getNode('/')!.childPaths]);
      const pick = rng.int(5);
      if (pick === 0 && tree.getNode(path)!.numChildren === 0) apply({ type: OpCode.delete, path });
      else if (pick === 1) apply({ type: OpCode.setData, path, data: Buffer.from('changed'), version: 7 });
      else if (pick === 2) apply({ type: OpCode.setACL, path, acl: rng.pick(ACL_CHOICES), version: 3 });
      else if (pick === 3) apply({ type: OpCode.create, path: `${path}/late${got.length}-${i}`, data: null, acl: [{ perms: 17, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: -1 });
      else apply({ type: OpCode.closeSession, paths2Delete: [] }, BigInt(1 + rng.int(5)));
    }
  }
  capture.end();
  assert.equal(tree.runningCaptures, 0);
  assert.ok(empty >= 1, 'the first pass took slices of its own');
  assert.ok(got.length > 20, `many slices (${got.length})`);
  assert.ok(got.every((s) => s.length <= 16 * 1024 + 16 * 1024), 'a slice is its size plus one node at most');
  assert.ok(Buffer.concat(got).equals(expected), 'the stream is the tree at the capture zxid, byte for byte');
});

/** A socket stand-in: a writable with a small buffer that takes its bytes on a later turn. */
function slowSink(highWaterMark: number): { sink: Writable; bytes: () => Buffer; drains: () => number } {
  const chunks: Buffer[] = [];
  let drains = 0;
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      setImmediate(done);
    },
  });
  sink.on('drain', () => drains++);
  return { sink, bytes: () => Buffer.concat(chunks), drains: () => drains };
}

test('SnapshotSender: a slice per turn, waiting for drain; the packets queued meanwhile follow the stream in order; the capture ends', async () => {
  const { tree, sessions, apply } = randomTree(5000, 5);
  const expected = referenceStream(tree, sessions);
  const { sink, bytes, drains } = slowSink(8 * 1024);
  const capture = tree.beginCapture();
  let turns = 0;
  const counting = setInterval(() => turns++, 0);
  const sent = await new Promise<SnapshotSent>((resolve, reject) => {
    const sender = new SnapshotSender(sink, capture, sessions, (r) => (r instanceof Error ? reject(r) : resolve(r)));
    sender.start();
    // The leader goes on: commits change the tree, and the learner's packets wait their turn.
    for (let i = 0; i < 3; i++) {
      apply({ type: OpCode.create, path: `/after${i}`, data: Buffer.from('a'), acl: OPEN, ephemeral: false, parentCVersion: -1 });
      assert.ok(sender.enqueue(Buffer.from(`packet ${i};`)));
    }
    sessions.set(99n, 1);
  });
  clearInterval(counting);
  assert.equal(tree.runningCaptures, 0);
  await new Promise<void>((r) => sink.end(r));
  const all = bytes();
  assert.ok(all.subarray(0, expected.length).equals(expected), 'the stream is the tree at the capture');
  assert.equal(all.subarray(expected.length).toString(), 'packet 0;packet 1;packet 2;');
  assert.equal(sent.bytes, expected.length);
  assert.ok(sent.slices > 5 && drains() > 0, `${sent.slices} slices, ${drains()} drains`);
  assert.ok(turns > 0, 'other work ran while the stream was sent');
});

test('SnapshotSender: an abort (the learner went away) ends the capture with nothing more written; too much queued stops it too', async () => {
  const { tree, sessions } = randomTree(5000, 6);
  const { sink, bytes } = slowSink(4 * 1024);
  let ended = 0;
  const sender = new SnapshotSender(sink, tree.beginCapture(), sessions, () => ended++);
  sender.start();
  await new Promise((r) => sink.once('drain', r));
  const written = bytes().length;
  assert.ok(written > 0);
  sender.abort();
  assert.equal(tree.runningCaptures, 0, 'the capture ended at once');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(bytes().length, written, 'nothing written after the abort');
  assert.equal(sender.enqueue(Buffer.from('late')), false);
  assert.equal(ended, 0);

  const limited = new SnapshotSender(slowSink(4 * 1024).sink, tree.beginCapture(), sessions, () => ended++, 100);
  limited.start();
  assert.equal(limited.enqueue(Buffer.alloc(60)), true);
  assert.equal(limited.enqueue(Buffer.alloc(60)), false, 'past the limit');
  assert.equal(tree.runningCaptures, 0);
  assert.equal(ended, 0);
});
