/**
 * The leader driver's SNAP path over loopback: a learner with nothing is streamed a large tree
 * while the leader goes on committing (with another follower's ACKs) writes that change the
 * very nodes being streamed; the learner ends with the leader's tree. A learner that goes away
 * mid-stream ends its capture, and the leader goes on and streams to the next one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn, type TxnBody } from '../../src/jute/txn.js';
import { decodeQuorumPacket, encodeIntPayload, encodeLearnerInfo, encodeQuorumPacket, PacketType, quorumPacketLength, type QuorumPacket } from '../../src/consensus/wire.js';
import type { Zxid } from '../../src/consensus/zxid.js';
import { QuorumLeader } from '../../src/server/quorum/leader-driver.js';
import { MemoryLearnerStore, QuorumLearner } from '../../src/server/quorum/learner-driver.js';
import type { SnapshotSent } from '../../src/server/quorum/zk-snapshot-stream.js';
import { DataTree } from '../../src/tree/datatree.js';
import { treeDiff } from '../../src/tree/equals.js';
import { pkt, loopbackLeaderOptions } from './fixtures.js';
import { readQuorumPackets } from './scripted-peer.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const TICK_MS = 100;

/** /d0../d49, each with `perDir` children of ~200 bytes: a tree of several MB. */
function bigTree(perDir: number): DataTree {
  const tree = new DataTree();
  let zxid = 0;
  const create = (path: string, data: Buffer | null): void => {
    zxid++;
    tree.apply({ header: { sessionId: 0n, cxid: zxid, zxid, time: 1000 + zxid, type: OpCode.create }, body: { type: OpCode.create, path, data, acl: OPEN, ephemeral: false, parentCVersion: -1 } });
  };
  for (let d = 0; d < 50; d++) {
    create(`/d${d}`, null);
    for (let i = 0; i < perDir; i++) create(`/d${d}/n${i}`, Buffer.from(`node ${d}/${i} `.padEnd(200, 'x')));
  }
  return tree;
}

function txnAt(zxid: Zxid, body: TxnBody): Buffer {
  return encodeTxn({ header: { sessionId: 0n, cxid: 1, zxid: Number(zxid), time: 9_000_000, type: body.type }, body });
}

/** The i-th write made while a learner is streamed: it changes, deletes and adds nodes of the tree. */
function writeBody(i: number, perDir: number): TxnBody {
  const path = `/d${i % 50}/n${(i * 7919) % perDir}`;
  if (i % 3 === 0) return { type: OpCode.setData, path, data: Buffer.from(`changed ${i}`), version: 1 };
  if (i % 3 === 1) return { type: OpCode.delete, path: `/d${i % 50}/n${(i * 104729) % perDir}` };
  return { type: OpCode.create, path: `/d${i % 50}/new${i}`, data: Buffer.from(`new ${i}`), acl: OPEN, ephemeral: false, parentCVersion: -1 };
}

/** Server 3 leading 1..3 from `tree` (no log); server 1 is a scripted follower that has the same state and ACKs everything. */
async function leadWithFollower(tree: DataTree): Promise<{ leader: QuorumLeader; port: number; follower: Socket }> {
  const options = await loopbackLeaderOptions(TICK_MS);
  const port = options.port;
  const snapshotZxid = BigInt(tree.lastProcessedZxid);
  const leader = new QuorumLeader({ ...options, snapshot: { tree, sessions: new Map() }, snapshotZxid });
  await leader.start();
  const follower = connect({ host: '127.0.0.1', port });
  const send = (p: QuorumPacket): boolean => follower.write(encodeQuorumPacket(p));
  follower.once('connect', () => send(pkt(PacketType.FOLLOWERINFO, 0n, encodeLearnerInfo({ serverid: 1n, protocolVersion: 0x10000, configVersion: 0n }))));
  readQuorumPackets(follower, (p) => {
    if (p.type === PacketType.LEADERINFO) send(pkt(PacketType.ACKEPOCH, snapshotZxid, encodeIntPayload(0)));
    if (p.type === PacketType.NEWLEADER || p.type === PacketType.PROPOSAL) send(pkt(PacketType.ACK, p.zxid));
    if (p.type === PacketType.PING) send(pkt(PacketType.PING, p.zxid));
  });
  await leader.waitEstablished(10_000);
  return { leader, port, follower };
}

function snapshotSent(leader: QuorumLeader, timeoutMs: number): Promise<SnapshotSent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no snapshot sent within ${timeoutMs} ms`)), timeoutMs);
    leader.once('snapshotSent', (_conn, sent) => {
      clearTimeout(timer);
      resolve(sent);
    });
  });
}

/**
 * A learner (sid 2) that asks for everything; `midStream` resolves once 64 KB of its snapshot
 * arrived, and it reads no more from then on, so the leader's stream waits for drain.
 */
function snapRequester(port: number): { socket: Socket; midStream: Promise<void> } {
  const socket = connect({ host: '127.0.0.1', port });
  const send = (p: QuorumPacket): boolean => socket.write(encodeQuorumPacket(p));
  socket.once('connect', () => send(pkt(PacketType.FOLLOWERINFO, 0n, encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n }))));
  const midStream = new Promise<void>((resolve) => {
    let snapAt = -1;
    let received = 0;
    // Packets are parsed until SNAP; after it the bytes are the snapshot, only counted.
    let input = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (snapAt >= 0) {
        if (received - snapAt > 64 * 1024) stall();
        return;
      }
      input = Buffer.concat([input, chunk]);
      for (let len = quorumPacketLength(input); len !== null && snapAt < 0; len = quorumPacketLength(input)) {
        const p = decodeQuorumPacket(input.subarray(0, len));
        input = input.subarray(len);
        if (p.type === PacketType.LEADERINFO) send(pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
        if (p.type === PacketType.SNAP) snapAt = received - input.length;
      }
      if (snapAt >= 0 && received - snapAt > 64 * 1024) stall();
    });
    const stall = (): void => {
      socket.pause();
      resolve();
    };
    socket.on('error', () => undefined);
  });
  return { socket, midStream };
}

/** A learner (sid 2) with an empty store: it is sent SNAP. */
function emptyLearner(port: number): QuorumLearner {
  return new QuorumLearner({ myId: 2n, leader: { host: '127.0.0.1', port }, store: new MemoryLearnerStore(), tickTimeMs: TICK_MS, initLimit: 100, syncLimit: 50 });
}

test('SNAP of a large tree is streamed while the leader commits writes to the nodes being sent; the learner ends with the leader\'s tree', { timeout: 60_000 }, async (t) => {
  const perDir = 1000;
  const { leader, port, follower } = await leadWithFollower(bigTree(perDir));
  const learner = emptyLearner(port);
  try {
    const sent = snapshotSent(leader, 30_000);
    let streaming = true;
    void sent.then(() => (streaming = false));
    const events: string[] = [];
    learner.once('synced', (mode) => events.push(`synced ${mode}`));
    await learner.start();
    // Writes one after another until the stream is out: each commits while the learner is sent the tree.
    let writes = 0;
    let last: Zxid = 0n;
    while (streaming && writes < 100_000) {
      const i = writes++;
      last = await leader.propose((zxid) => txnAt(zxid, writeBody(i, perDir)));
    }
    const figures = await sent;
    events.push('snapshot sent');
    assert.ok(writes >= 5, `the leader committed ${writes} writes while the stream was sent`);
    for (let i = 0; i < 20; i++) last = await leader.propose((zxid) => txnAt(zxid, writeBody(writes + i, perDir)));
    await learner.waitForSynced(20_000);
    await learner.waitForZxid(Number(last), 20_000);
    assert.deepEqual(events, ['snapshot sent', 'synced snap']);
    assert.equal(leader.tree.runningCaptures, 0, 'the capture ended with the stream');
    assert.equal(treeDiff(leader.tree, learner.tree), null, 'the learner has the leader\'s tree');
    t.diagnostic(`${leader.tree.size} nodes, ${figures.bytes} bytes in ${figures.slices} slices over ${figures.elapsedMs.toFixed(0)} ms (longest slice ${figures.longestSliceMs.toFixed(1)} ms); ${writes} writes committed meanwhile`);
  } finally {
    await learner.stop();
    follower.destroy();
    await leader.stop();
  }
});

test('a learner that goes away mid-stream: its capture ends, the leader goes on committing and streams to the next learner', { timeout: 60_000 }, async () => {
  const perDir = 1000;
  const { leader, port, follower } = await leadWithFollower(bigTree(perDir));
  const dying = snapRequester(port);
  let learner: QuorumLearner | null = null;
  try {
    const closed = new Promise<string>((resolve) => leader.once('learnerClosed', (_conn, reason) => resolve(reason)));
    await dying.midStream;
    assert.equal(leader.tree.runningCaptures, 1, 'the stream runs from a capture');
    dying.socket.destroy();
    await closed;
    assert.equal(leader.tree.runningCaptures, 0, 'the capture ended with the connection');
    for (let i = 0; i < 10; i++) await leader.propose((zxid) => txnAt(zxid, writeBody(i, perDir)));

    learner = emptyLearner(port);
    const sent = snapshotSent(leader, 30_000);
    await learner.start();
    let last: Zxid = 0n;
    for (let i = 10; i < 30; i++) last = await leader.propose((zxid) => txnAt(zxid, writeBody(i, perDir)));
    await sent;
    await learner.waitForSynced(20_000);
    await learner.waitForZxid(Number(last), 20_000);
    assert.equal(learner.syncMode, 'snap');
    assert.equal(leader.tree.runningCaptures, 0);
    assert.equal(treeDiff(leader.tree, learner.tree), null);
  } finally {
    dying.socket.destroy();
    await learner?.stop();
    follower.destroy();
    await leader.stop();
  }
});

test('the leader stopping mid-stream ends the capture', { timeout: 30_000 }, async () => {
  const { leader, port, follower } = await leadWithFollower(bigTree(400));
  const requester = snapRequester(port);
  try {
    await requester.midStream;
    assert.equal(leader.tree.runningCaptures, 1);
    await leader.stop();
    assert.equal(leader.tree.runningCaptures, 0);
  } finally {
    requester.socket.destroy();
    follower.destroy();
    await leader.stop();
  }
});

test('the leader stepping down mid-stream (its other follower gone: no quorum) ends the capture', { timeout: 30_000 }, async () => {
  const { leader, port, follower } = await leadWithFollower(bigTree(400));
  const requester = snapRequester(port);
  try {
    await requester.midStream;
    assert.equal(leader.tree.runningCaptures, 1);
    const down = new Promise<string>((resolve) => leader.once('steppedDown', resolve));
    follower.destroy();
    assert.match(await down, /no quorum/);
    assert.equal(leader.tree.runningCaptures, 0);
  } finally {
    requester.socket.destroy();
    follower.destroy();
    await leader.stop();
  }
});
