/**
 * A learner's forwarded sync is answered in the place ZooKeeper's leader answers it: right after
 * the COMMIT of the last proposal made before the sync, ahead of the COMMITs of later proposals.
 * A ZooKeeper follower matches COMMITs and SYNCs to the requests it forwarded, in order; when a
 * SYNC came behind the COMMIT of a write forwarded after the sync, that write was never answered
 * and the follower's commit processor waited on it for good (every later request on that server
 * hung: the mixed fault run's "ZooKeeper follower stops answering", once the leader handled a
 * chunk of ACKs in one run and so committed several proposals at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { OpCode } from '../../src/jute/constants.js';
import { JuteWriter } from '../../src/jute/binary.js';
import { encodeIntPayload, encodeLearnerInfo, encodeQuorumPacket, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { QuorumLeader } from '../../src/server/quorum/leader-driver.js';
import { createTxn, pkt, loopbackLeaderOptions } from './fixtures.js';
import { EventWaiters, readQuorumPackets } from './scripted-peer.js';

/** A forwarded request: session, cxid, type, then the request's bytes (Learner.request). */
function request(sessionId: bigint, cxid: number, type: number, body: Buffer): QuorumPacket {
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(sessionId, 0);
  head.writeInt32BE(cxid, 8);
  head.writeInt32BE(type, 12);
  return pkt(PacketType.REQUEST, 0n, Buffer.concat([head, body]));
}

const pathBody = (path: string): Buffer => Buffer.from(new JuteWriter(32).string(path).bytes());

/** A follower (sid 1) through discovery and sync; it ACKs only what the test tells it to. */
function scriptedFollower(port: number, events: string[]): { socket: Socket; send(...p: QuorumPacket[]): void; arrived(what: string, timeoutMs: number): Promise<void> } {
  const waiters = new EventWaiters(events);
  const socket = connect({ host: '127.0.0.1', port });
  // Several packets in one write: the leader reads them in one chunk.
  const send = (...packets: QuorumPacket[]): void => void socket.write(Buffer.concat(packets.map(encodeQuorumPacket)));
  socket.once('connect', () => send(pkt(PacketType.FOLLOWERINFO, 0n, encodeLearnerInfo({ serverid: 1n, protocolVersion: 0x10000, configVersion: 0n }))));
  readQuorumPackets(socket, (p) => {
    events.push(`recv ${p.type} ${p.zxid}`);
    if (p.type === PacketType.LEADERINFO) send(pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
    if (p.type === PacketType.NEWLEADER) send(pkt(PacketType.ACK, p.zxid));
    waiters.wake();
  });
  return { socket, send, arrived: (what, timeoutMs) => waiters.arrived(what, timeoutMs) };
}

async function startLeader(): Promise<{ leader: QuorumLeader; port: number }> {
  const options = await loopbackLeaderOptions(100);
  const leader = new QuorumLeader(options);
  const port = options.port;
  await leader.start();
  return { leader, port };
}

test('a forwarded sync is answered between the COMMIT of the proposal before it and the COMMIT of a write forwarded after it, when one chunk of ACKs commits both', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const { leader, port } = await startLeader();
  const follower = scriptedFollower(port, events);
  try {
    await leader.waitEstablished(10_000);
    const z1 = makeZxid(1n, 1n);
    const z2 = makeZxid(1n, 2n);
    void leader.propose((zxid) => createTxn(zxid, '/before')).catch(() => undefined);
    await follower.arrived(`recv ${PacketType.PROPOSAL} ${z1}`, 10_000);
    // The proposer turns the write forwarded after the sync into the next proposal.
    leader.on('request', () => void leader.propose((zxid) => createTxn(zxid, '/after')).catch(() => undefined));
    follower.send(request(0x100n, 1, OpCode.sync, pathBody('/')), request(0x200n, 1, OpCode.create, pathBody('/after')));
    await follower.arrived(`recv ${PacketType.PROPOSAL} ${z2}`, 10_000);
    assert.equal(leader.pendingSyncCount(), 1, 'the sync waits for the proposal made before it');
    // Both ACKs in one chunk: the leader commits both proposals in one go.
    follower.send(pkt(PacketType.ACK, z1), pkt(PacketType.ACK, z2));
    await follower.arrived(`recv ${PacketType.COMMIT} ${z2}`, 10_000);
    await follower.arrived(`recv ${PacketType.SYNC} ${z1}`, 10_000);
    const after = events.slice(events.indexOf(`recv ${PacketType.PROPOSAL} ${z2}`) + 1).filter((e) => !e.startsWith(`recv ${PacketType.PING} `));
    assert.deepEqual(after, [`recv ${PacketType.COMMIT} ${z1}`, `recv ${PacketType.SYNC} ${z1}`, `recv ${PacketType.COMMIT} ${z2}`]);
    assert.equal(leader.pendingSyncCount(), 0);
  } finally {
    follower.socket.destroy();
    await leader.stop();
  }
});

test('a forwarded sync with nothing waiting to commit is answered at once, also before the epoch\'s first proposal', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const { leader, port } = await startLeader();
  const follower = scriptedFollower(port, events);
  try {
    await leader.waitEstablished(10_000);
    follower.send(request(0x100n, 1, OpCode.sync, pathBody('/')));
    await follower.arrived(`recv ${PacketType.SYNC} ${makeZxid(0n, 0n)}`, 10_000);
    assert.equal(leader.pendingSyncCount(), 0);
  } finally {
    follower.socket.destroy();
    await leader.stop();
  }
});
