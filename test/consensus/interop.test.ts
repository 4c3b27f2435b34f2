/**
 * The election against Apache ZooKeeper 3.8 itself: byte-exact capture of what a real server
 * sends on the election port, and mixed 3-member ensembles of 2 ZooKeeper servers and one
 * Paddock election participant (election only: Paddock does not yet lead or follow).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { ElectionDriver } from '../../src/server/quorum/election-driver.js';
import { quorumConfigText } from '../../src/consensus/members.js';
import {
  decodeLearnerInfo,
  decodeNotification,
  decodePreamble,
  decodeQuorumPacket,
  encodeLearnerInfo,
  encodeNotification,
  encodePreamble,
  encodeQuorumPacket,
  PacketType,
  PROTOCOL_VERSION_V1,
  quorumPacketLength,
  ServerState,
  type Notification,
  type QuorumPacket,
} from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, ZOOKEEPER_LOGS, type ZooKeeperPeer } from './zk-quorum.js';

const skip = skipUnlessZooKeeper();
const fresh = { lastLoggedZxid: 0n, currentEpoch: 0n };

function listen(port: number, onSocket: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onSocket);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Collects a stream until `parse` finds what it wants in it. */
function collectUntil<T>(socket: Socket, parse: (bytes: Buffer) => T | null, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`nothing complete within ${timeoutMs} ms (${bytes.length} bytes)`)), timeoutMs);
    socket.on('data', (chunk) => {
      bytes = Buffer.concat([bytes, chunk]);
      const found = parse(bytes);
      if (found !== null) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    socket.on('error', () => undefined);
  });
}

async function stopAll(peers: ZooKeeperPeer[], drivers: ElectionDriver[], servers: Server[] = [], sockets: Socket[] = []): Promise<void> {
  for (const s of sockets) s.destroy();
  await Promise.all([...peers.map((p) => p.stop()), ...drivers.map((d) => d.stop()), ...servers.map(close)]);
}

test('a real ZooKeeper\'s preamble and notification match our encoding byte for byte', { skip, timeout: 60_000 }, async () => {
  // ZooKeeper is sid 3; two listeners play sids 1 and 2, so ZooKeeper (the larger sid)
  // connects to them and keeps the connections.
  const members = await quorumPorts(3);
  const captured: Promise<{ preamble: Buffer; frame: Buffer }>[] = [];
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  for (const m of members.slice(0, 2)) {
    let resolveCapture!: (c: { preamble: Buffer; frame: Buffer }) => void;
    captured.push(new Promise((r) => (resolveCapture = r)));
    servers.push(
      await listen(m.electionPort, (socket) => {
        sockets.push(socket);
        void collectUntil(
          socket,
          (bytes) => {
            const p = decodePreamble(bytes);
            if (p.kind !== 'ok' || bytes.length < p.bytes + 4) return null;
            const length = bytes.readInt32BE(p.bytes);
            if (bytes.length < p.bytes + 4 + length) return null;
            return { preamble: bytes.subarray(0, p.bytes), frame: bytes.subarray(p.bytes + 4, p.bytes + 4 + length) };
          },
          30_000,
        ).then(resolveCapture);
      }),
    );
  }
  const zk = startZooKeeperPeer(3n, members);
  try {
    const [toOne, toTwo] = await Promise.all(captured);
    const zkElection = `127.0.0.1:${members[2]!.electionPort}`;
    for (const c of [toOne!, toTwo!]) {
      assert.deepEqual(c.preamble, encodePreamble({ protocolVersion: PROTOCOL_VERSION_V1, sid: 3n, addresses: [zkElection] }));
      const expected: Notification = {
        state: ServerState.LOOKING,
        leader: 3n,
        zxid: 0n,
        electionEpoch: 1n,
        peerEpoch: 0n,
        version: 2,
        config: Buffer.from(quorumConfigText(members, 0n)),
      };
      assert.deepEqual(c.frame, encodeNotification(expected), 'our encoding of the same vote is the same bytes');
      assert.deepEqual(decodeNotification(c.frame), expected);
    }
  } finally {
    await stopAll([zk], [], servers, sockets);
  }
});

test('2 ZooKeeper servers and 1 Paddock participant (sid 1) agree on a ZooKeeper leader, and on the next when it dies', { skip, timeout: 60_000 }, async () => {
  const members = await quorumPorts(3);
  const paddock = new ElectionDriver({ myId: 1n, servers: members, history: fresh });
  const zks = new Map([2n, 3n].map((sid) => [sid, startZooKeeperPeer(sid, members)]));
  try {
    await paddock.start();
    const decision = await paddock.waitForDecision(40_000);
    assert.equal(decision.state, ServerState.FOLLOWING);
    // Sid 3 wins when all three look at once; sid 2 when its JVM was up before 3's, since two
    // of three suffice. Either way all three must agree.
    const leader = decision.vote.leader;
    const other = leader === 3n ? 2n : 3n;
    assert.ok(zks.has(leader), `Paddock follows a ZooKeeper server, not ${leader}`);
    assert.equal(await waitForMode(zks.get(leader)!, 30_000), 'leader');
    assert.equal(await waitForMode(zks.get(other)!, 30_000), 'follower');

    // The leader dies. Paddock, standing in for a follower that lost its leader, looks again:
    // with the surviving ZooKeeper server it elects that one (its epoch 1 beats Paddock's 0).
    await zks.get(leader)!.stop();
    paddock.lookForLeader(fresh);
    const second = await paddock.waitForDecision(30_000);
    assert.equal(second.state, ServerState.FOLLOWING);
    assert.equal(second.vote.leader, other);
    assert.equal(second.vote.peerEpoch, 1n, 'the survivor brings the epoch of the first ensemble');
    assert.ok(second.vote.electionEpoch >= 2n, 'a later round');
    if (ZOOKEEPER_LOGS) await zks.get(other)!.waitForOutput(/Peer state changed: leading/, 10_000);
  } finally {
    await stopAll([...zks.values()], [paddock]);
  }
});

test('a Paddock participant started after a ZooKeeper ensemble formed follows its leader', { skip, timeout: 60_000 }, async () => {
  const members = await quorumPorts(3);
  const zks = [startZooKeeperPeer(1n, members), startZooKeeperPeer(2n, members)];
  // Paddock is sid 3 with the best history, yet must join the established leader, sid 2.
  const paddock = new ElectionDriver({ myId: 3n, servers: members, history: { lastLoggedZxid: makeZxid(9n, 9n), currentEpoch: 9n } });
  try {
    assert.equal(await waitForMode(zks[1]!, 40_000), 'leader');
    assert.equal(await waitForMode(zks[0]!, 10_000), 'follower');
    await paddock.start();
    const decision = await paddock.waitForDecision(15_000);
    assert.equal(decision.state, ServerState.FOLLOWING);
    assert.equal(decision.vote.leader, 2n);
    assert.equal(await zks[1]!.mode(), 'leader', 'the ensemble was not disturbed');
  } finally {
    await stopAll(zks, [paddock]);
  }
});

test('with the best history, the Paddock participant is elected by both ZooKeeper servers', { skip, timeout: 60_000 }, async () => {
  const members = await quorumPorts(3);
  const paddockHistory = { lastLoggedZxid: makeZxid(1n, 5n), currentEpoch: 1n };
  const paddock = new ElectionDriver({ myId: 3n, servers: members, history: paddockHistory });
  const votes = new Map<bigint, Notification>();
  paddock.on('notification', (from, n) => {
    if (n.state === ServerState.LOOKING) votes.set(from, n);
  });
  // Paddock's quorum port: a plain listener that records each follower's first packet.
  const followerInfos = new Map<bigint, { bytes: Buffer; packet: QuorumPacket }>();
  const sockets: Socket[] = [];
  let bothArrived!: () => void;
  const arrived = new Promise<void>((r) => (bothArrived = r));
  const quorumListener = await listen(members[2]!.quorumPort, (socket) => {
    sockets.push(socket);
    void collectUntil(socket, (bytes) => {
      const length = quorumPacketLength(bytes);
      return length === null ? null : bytes.subarray(0, length);
    }, 30_000).then((bytes) => {
      const packet = decodeQuorumPacket(bytes);
      const info = decodeLearnerInfo(packet.data);
      if (!('error' in info)) followerInfos.set(info.serverid, { bytes, packet });
      if (followerInfos.size === 2) bothArrived();
    });
  });
  const zks = [startZooKeeperPeer(1n, members), startZooKeeperPeer(2n, members)];
  try {
    await paddock.start();
    const decision = await paddock.waitForDecision(40_000);
    assert.equal(decision.state, ServerState.LEADING);
    assert.deepEqual(decision.vote, { leader: 3n, zxid: paddockHistory.lastLoggedZxid, electionEpoch: decision.vote.electionEpoch, peerEpoch: 1n });
    // Paddock's LOOKING quorum needs at least one ZooKeeper vote for it; a server that
    // started late may instead have learned the outcome from the others' replies.
    const votesForPaddock = [...votes].filter(([sid, n]) => sid !== 3n && n.leader === 3n);
    assert.ok(votesForPaddock.length >= 1, 'a ZooKeeper server voted for Paddock');
    for (const [, n] of votesForPaddock) assert.equal(n.zxid, paddockHistory.lastLoggedZxid);
    // Having elected Paddock, each ZooKeeper server follows it: it connects to Paddock's
    // quorum port and opens discovery with FOLLOWERINFO (Paddock does not answer yet).
    await arrived;
    for (const sid of [1n, 2n]) {
      const { bytes, packet } = followerInfos.get(sid)!;
      assert.equal(packet.type, PacketType.FOLLOWERINFO);
      assert.equal(packet.zxid, makeZxid(0n, 0n), 'zxid carries the accepted epoch, 0 for a fresh server');
      assert.equal(packet.authinfo, null);
      assert.deepEqual(decodeLearnerInfo(packet.data), { serverid: sid, protocolVersion: 0x10000, configVersion: 0n });
      assert.deepEqual(packet.data, encodeLearnerInfo({ serverid: sid, protocolVersion: 0x10000, configVersion: 0n }));
      assert.deepEqual(encodeQuorumPacket(packet), bytes, 'byte for byte');
      // And says so in its log (when the Debian slf4j-simple binding lets it log at all).
      if (ZOOKEEPER_LOGS) await zks[Number(sid) - 1]!.waitForOutput(/Peer state changed: following/, 5_000);
    }
  } finally {
    await stopAll(zks, [paddock], [quorumListener], sockets);
  }
});
