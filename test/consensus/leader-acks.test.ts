/**
 * The leader's discovery and sync quorums (FOLLOWERINFO reports, ACKEPOCHs, NEWLEADER ACKs)
 * count only learners still connected on their newest connection: one that acknowledged and
 * left may be following a newer leader by now (simulator seeds 12040/5 and 16906/5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabLeader } from '../../src/consensus/leader.js';
import { MajorityQuorum } from '../../src/consensus/members.js';
import { encodeIntPayload, encodeLearnerInfo, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';

const pkt = (type: number, zxid: bigint, data: Buffer | null = null): QuorumPacket => ({ type, zxid, data, authinfo: null });

/** Leader 1 of five voters (a quorum is three), accepted and current epoch 1, empty log. */
function leaderOfFive(): ZabLeader {
  return new ZabLeader({
    myId: 1n,
    quorum: new MajorityQuorum([1n, 2n, 3n, 4n, 5n].map((sid) => ({ sid, type: 'participant' as const }))),
    acceptedEpoch: 1n,
    currentEpoch: 1n,
    log: [],
    config: Buffer.from('version=0'),
    initLimitTicks: 10,
    syncLimitTicks: 5,
  });
}

function info(leader: ZabLeader, conn: number, sid: number, acceptedEpoch = 1n): void {
  leader.step(conn, pkt(PacketType.FOLLOWERINFO, makeZxid(acceptedEpoch, 0n), encodeLearnerInfo({ serverid: BigInt(sid), protocolVersion: 0x10000, configVersion: 0n })));
  leader.advance();
}

function ackEpoch(leader: ZabLeader, conn: number): void {
  leader.step(conn, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(1)));
  leader.advance();
}

function ackNewLeader(leader: ZabLeader, conn: number): void {
  leader.step(conn, pkt(PacketType.ACK, makeZxid(leader.epoch!, 0n)));
  leader.advance();
}

/** Takes sids 2 and 3 (on connections 2 and 3) through discovery into sync. */
function inSync(): ZabLeader {
  const leader = leaderOfFive();
  info(leader, 2, 2);
  info(leader, 3, 3);
  ackEpoch(leader, 2);
  ackEpoch(leader, 3);
  assert.equal(leader.phase, 'sync');
  return leader;
}

test('a NEWLEADER ACK from a learner that has since disconnected does not count towards the quorum', () => {
  const leader = inSync();
  ackNewLeader(leader, 2);
  leader.disconnected(2);
  ackNewLeader(leader, 3);
  assert.equal(leader.phase, 'sync', 'leader and sid 3 are two of five: sid 2 left after its ACK');
  info(leader, 4, 4);
  ackEpoch(leader, 4);
  ackNewLeader(leader, 4);
  assert.equal(leader.phase, 'broadcast', 'leader, sid 3 and sid 4 are connected and acknowledged');
});

test('a learner back on a new connection (after accepting a newer epoch elsewhere) counts only once it acknowledges again', () => {
  const leader = inSync();
  ackNewLeader(leader, 3);
  // Sid 3 left, accepted epoch 3 from another leader, and reconnects: its old ACK is not its word now.
  info(leader, 13, 3, 3n);
  ackNewLeader(leader, 2);
  assert.equal(leader.phase, 'sync', 'the ACK on connection 3 no longer stands for sid 3');
  assert.equal(leader.epoch, 2n);
});

test('an ACKEPOCH from a learner that has since disconnected does not count; one that stays does', () => {
  const leader = leaderOfFive();
  info(leader, 2, 2);
  info(leader, 3, 3);
  assert.equal(leader.epoch, 2n);
  ackEpoch(leader, 2);
  leader.disconnected(2);
  ackEpoch(leader, 3);
  assert.equal(leader.phase, 'discovery', 'leader and sid 3 are two of five');
  assert.equal(leader.ready().currentEpoch, null, 'the new epoch is not made current');
  info(leader, 4, 4);
  ackEpoch(leader, 4);
  assert.equal(leader.phase, 'sync');
  assert.equal(leader.currentEpoch, 2n);
});

test('the epoch is decided on reports from connected voters; a departed one still raises it', () => {
  const leader = leaderOfFive();
  info(leader, 2, 2, 7n);
  leader.disconnected(2);
  info(leader, 3, 3);
  assert.equal(leader.epoch, null, 'leader and sid 3 are two of five');
  info(leader, 4, 4);
  assert.equal(leader.epoch, 8n, 'above the accepted epoch sid 2 reported before it left');
});

test('a learner the leader dropped after its NEWLEADER ACK no longer counts it', () => {
  const leader = inSync();
  ackNewLeader(leader, 2);
  leader.step(2, pkt(PacketType.LEADERINFO, 0n));
  assert.ok(leader.ready().messages.some((m) => 'close' in m && m.conn === 2), 'an unexpected packet drops sid 2');
  leader.advance();
  ackNewLeader(leader, 3);
  assert.equal(leader.phase, 'sync');
});
