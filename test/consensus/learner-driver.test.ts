/**
 * The quorum-port learner against a scripted leader over loopback TCP: the leader's bytes
 * (packets and the SNAP stream) arrive one byte at a time, the learner builds its tree from the
 * snapshot and the committed txns, and a restarted learner comes back from its store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server, Socket } from 'node:net';
import { JuteWriter } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { encodeIntPayload, encodeQuorumPacket, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { MemoryLearnerStore, QuorumLearner } from '../../src/server/quorum/learner-driver.js';
import { Waiters } from '../support/waiters.js';
import { pkt } from './fixtures.js';
import { listenLoopback, readQuorumPackets } from './scripted-peer.js';


/** What a 3.8 leader streams after SNAP: sessions, ACL table, nodes in preorder, "/", signature. */
function snapshotStream(): Buffer {
  const w = new JuteWriter(512);
  w.int(1).long(0x77n).int(30_000); // one session
  w.int(1).long(1n).int(1).int(31).string('world').string('anyone'); // ACL 1 = open
  const node = (path: string, data: string, czxid: number, children: number): void => {
    w.string(path).buffer(Buffer.from(data)).long(1n);
    w.long(BigInt(czxid)).long(BigInt(czxid)).long(1000n).long(1000n).int(0).int(children).int(0).long(0n).long(BigInt(czxid));
  };
  node('', '', 0, 2);
  node('/zookeeper', '', 0, 0);
  node('/a', 'from the snapshot', Number(makeZxid(1n, 1n)), 0);
  w.string('/');
  w.string('BenWasHere');
  return Buffer.from(w.bytes());
}

function createTxnBytes(zxid: bigint, path: string, data: string): Buffer {
  return encodeTxn({
    header: { sessionId: 0x77n, cxid: 1, zxid: Number(zxid), time: 2000, type: OpCode.create },
    body: { type: OpCode.create, path, data: Buffer.from(data), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 3 },
  });
}

/** A leader that answers discovery, then sends `sync` byte by byte; records what the learner sends. */
interface ScriptedLeader {
  server: Server;
  port: number;
  received: QuorumPacket[];
  sockets: Socket[];
  /** Resolves once `count` packets were received. */
  waitForReceived(count: number, timeoutMs: number): Promise<void>;
}

async function scriptedLeader(sync: (peerLastZxid: bigint) => Buffer): Promise<ScriptedLeader> {
  const received: QuorumPacket[] = [];
  const sockets: Socket[] = [];
  const waiters = new Waiters();
  const { server, port } = await listenLoopback((socket) => {
    sockets.push(socket);
    readQuorumPackets(socket, (p) => {
      received.push(p);
      waiters.wake();
      if (p.type === PacketType.FOLLOWERINFO) socket.write(encodeQuorumPacket(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000))));
      if (p.type === PacketType.ACKEPOCH) {
        const bytes = sync(p.zxid);
        for (let i = 0; i < bytes.length; i++) socket.write(bytes.subarray(i, i + 1));
      }
    });
  });
  const waitForReceived = async (count: number, timeoutMs: number): Promise<void> => {
    await waiters.until(() => received.length >= count, timeoutMs, () => `${received.length} packets, not ${count}, within ${timeoutMs} ms`);
  };
  return { server, port, received, sockets, waitForReceived };
}

test('the learner reads a SNAP stream and packets split into single bytes, then applies a committed PROPOSAL; restarted, it is synced by DIFF', { timeout: 20_000 }, async () => {
  const z2 = makeZxid(2n, 1n);
  const z3 = makeZxid(2n, 2n);
  const leader = await scriptedLeader((peer) => {
    if (peer === 0n) {
      return Buffer.concat([
        encodeQuorumPacket(pkt(PacketType.SNAP, makeZxid(1n, 1n))),
        snapshotStream(),
        encodeQuorumPacket(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n), Buffer.from('version=0'))),
        encodeQuorumPacket(pkt(PacketType.UPTODATE, -1n)),
        encodeQuorumPacket(pkt(PacketType.PROPOSAL, z2, createTxnBytes(z2, '/b', 'proposed'))),
        encodeQuorumPacket(pkt(PacketType.COMMIT, z2)),
        encodeQuorumPacket(pkt(PacketType.PING, z2)),
      ]);
    }
    return Buffer.concat([
      encodeQuorumPacket(pkt(PacketType.DIFF, z3)),
      encodeQuorumPacket(pkt(PacketType.PROPOSAL, z3, createTxnBytes(z3, '/c', 'while away'))),
      encodeQuorumPacket(pkt(PacketType.COMMIT, z3)),
      encodeQuorumPacket(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n), Buffer.from('version=0'))),
      encodeQuorumPacket(pkt(PacketType.UPTODATE, -1n)),
    ]);
  });
  const store = new MemoryLearnerStore();
  const options = { myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store, tickTimeMs: 200, initLimit: 20, syncLimit: 10 };
  const first = new QuorumLearner(options);
  try {
    await first.start();
    await first.waitForSynced(10_000);
    assert.equal(first.syncMode, 'snap');
    await first.waitForZxid(Number(z2), 10_000);
    assert.equal(first.tree.getNode('/a')?.data?.toString(), 'from the snapshot');
    assert.equal(first.tree.getNode('/b')?.data?.toString(), 'proposed');
    assert.equal(first.sessions.get(0x77n), 30_000, 'sessions come with the snapshot');
    assert.equal(first.currentEpoch, 2n);
    await leader.waitForReceived(6, 10_000);
    await first.stop();

    const second = new QuorumLearner(options);
    assert.equal(second.tree.getNode('/b')?.data?.toString(), 'proposed', 'the tree is rebuilt from the store');
    await second.start();
    await second.waitForSynced(10_000);
    assert.equal(second.syncMode, 'diff');
    await second.waitForZxid(Number(z3), 10_000);
    assert.equal(second.tree.getNode('/c')?.data?.toString(), 'while away');
    await leader.waitForReceived(10, 10_000);
    await second.stop();

    const sent = leader.received.map((p) => `${p.type}:${p.zxid.toString(16)}`);
    assert.deepEqual(sent, [
      `${PacketType.FOLLOWERINFO}:0`,
      `${PacketType.ACKEPOCH}:0`,
      `${PacketType.ACK}:200000000`, // NEWLEADER
      `${PacketType.ACK}:200000000`, // UPTODATE
      `${PacketType.ACK}:200000001`, // the proposal, once logged
      `${PacketType.PING}:200000001`,
      // Restarted: its accepted epoch is 2 now, and it had logged 2.1.
      `${PacketType.FOLLOWERINFO}:200000000`,
      `${PacketType.ACKEPOCH}:200000001`,
      `${PacketType.ACK}:200000000`,
      `${PacketType.ACK}:200000000`,
    ]);
    assert.deepEqual(leader.received[7]!.data, encodeIntPayload(-1), 'epoch 2 was already accepted: -1');
  } finally {
    await first.stop();
    for (const s of leader.sockets) s.destroy();
    await new Promise<void>((r) => leader.server.close(() => r()));
  }
});

test('a learner whose leader goes silent past initLimit ends the connection', { timeout: 10_000 }, async () => {
  const leader = await scriptedLeader(() => Buffer.alloc(0));
  const learner = new QuorumLearner({ myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store: new MemoryLearnerStore(), tickTimeMs: 20, initLimit: 5, syncLimit: 2 });
  try {
    const closed = new Promise<string>((r) => learner.once('closed', r));
    await learner.start();
    assert.match(await closed, /nothing from the leader for 6 ticks \(limit 5\) in sync-start/);
  } finally {
    await learner.stop();
    for (const s of leader.sockets) s.destroy();
    await new Promise<void>((r) => leader.server.close(() => r()));
  }
});
