/**
 * The Zab cores: the learner's packets and the order of its Ready fields, the leader's sync
 * choices, and leader + learners in the seeded simulation with faults (zab-sim.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabLeader } from '../../src/consensus/leader.js';
import { ZabLearner, type LogEntry } from '../../src/consensus/learner.js';
import { MajorityQuorum } from '../../src/consensus/members.js';
import { decodeLearnerInfo, encodeIntPayload, encodeLearnerInfo, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { leaderOptions, pkt } from './fixtures.js';
import { ZabSim } from './zab-sim.js';

const entry = (epoch: bigint, counter: bigint): LogEntry => ({ zxid: makeZxid(epoch, counter), data: Buffer.from(`t${epoch}.${counter}`) });

function learner(overrides: Partial<ConstructorParameters<typeof ZabLearner>[0]> = {}): ZabLearner<LogEntry[]> {
  return new ZabLearner<LogEntry[]>({ myId: 3n, acceptedEpoch: 1n, currentEpoch: 1n, lastLoggedZxid: makeZxid(1n, 5n), initLimitTicks: 4, syncLimitTicks: 2, ...overrides });
}

test('learner discovery: FOLLOWERINFO with the accepted epoch, LEADERINFO persists the new epoch before ACKEPOCH', () => {
  const l = learner();
  l.start();
  let rd = l.ready();
  assert.deepEqual(rd.messages, [pkt(PacketType.FOLLOWERINFO, makeZxid(1n, 0n), encodeLearnerInfo({ serverid: 3n, protocolVersion: 0x10000, configVersion: 0n }))]);
  l.advance();
  l.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  rd = l.ready();
  assert.equal(rd.acceptedEpoch, 2n, 'acceptedEpoch is written in the same Ready, before the ACKEPOCH is sent');
  assert.deepEqual(rd.messages, [pkt(PacketType.ACKEPOCH, makeZxid(1n, 5n), encodeIntPayload(1))], 'ACKEPOCH: current epoch and last logged zxid');
  assert.equal(l.phase, 'sync-start');
});

test('learner discovery: an epoch already accepted is acknowledged with -1; an older one ends the connection', () => {
  const same = learner({ acceptedEpoch: 2n });
  same.start();
  same.advance();
  same.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  assert.equal(same.ready().acceptedEpoch, null);
  assert.deepEqual(same.ready().messages, [pkt(PacketType.ACKEPOCH, makeZxid(1n, 5n), encodeIntPayload(-1))]);
  const older = learner({ acceptedEpoch: 3n });
  older.start();
  older.advance();
  older.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  assert.match(older.ready().closed ?? '', /below our accepted epoch/);
  assert.deepEqual(older.ready().messages, []);
});

test('learner sync (DIFF): txns are logged before currentEpoch, both before NEWLEADER\'s ACK; proposal ACKs wait for UPTODATE', () => {
  const l = learner();
  l.start();
  l.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  l.advance();
  const [a, b, c] = [entry(1n, 6n), entry(1n, 7n), entry(2n, 1n)];
  l.step(pkt(PacketType.DIFF, b.zxid));
  l.step(pkt(PacketType.PROPOSAL, a.zxid, a.data));
  l.step(pkt(PacketType.COMMIT, a.zxid));
  l.step(pkt(PacketType.PROPOSAL, b.zxid, b.data));
  l.step(pkt(PacketType.COMMIT, b.zxid));
  l.step(pkt(PacketType.PING, b.zxid));
  assert.equal(l.hasReady(), false, 'nothing is logged, applied or sent before NEWLEADER');
  l.step(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n), Buffer.from('version=0')));
  let rd = l.ready();
  assert.deepEqual(rd.append, [a, b]);
  assert.equal(rd.currentEpoch, 2n);
  assert.deepEqual(rd.messages, [pkt(PacketType.ACK, makeZxid(2n, 0n))], 'NEWLEADER is acknowledged with its own zxid');
  assert.deepEqual(rd.commit, [a, b]);
  l.advance();
  l.step(pkt(PacketType.PROPOSAL, c.zxid, c.data));
  rd = l.ready();
  assert.deepEqual(rd.append, [c], 'after NEWLEADER a proposal is logged at once');
  assert.deepEqual(rd.messages, [], 'but not acknowledged before UPTODATE (ZOOKEEPER-4685)');
  l.advance();
  l.step(pkt(PacketType.UPTODATE, -1n));
  rd = l.ready();
  assert.deepEqual(rd.messages, [pkt(PacketType.ACK, makeZxid(2n, 0n)), pkt(PacketType.ACK, c.zxid)]);
  l.advance();
  l.step(pkt(PacketType.COMMIT, c.zxid));
  assert.deepEqual(l.ready().commit, [c]);
  l.advance();
  l.step(pkt(PacketType.PING, c.zxid));
  assert.deepEqual(l.ready().messages, [pkt(PacketType.PING, c.zxid, Buffer.alloc(0))], 'PING echoed with no session touches');
  assert.equal(l.phase, 'broadcast');
  assert.equal(l.syncMode, 'diff');
});

test('learner sync: TRUNC and SNAP', () => {
  const t = learner();
  t.start();
  t.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  t.advance();
  t.step(pkt(PacketType.TRUNC, makeZxid(1n, 3n)));
  assert.equal(t.ready().truncateTo, makeZxid(1n, 3n));
  assert.equal(t.lastLoggedZxid, makeZxid(1n, 3n));
  const s = learner();
  s.start();
  s.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  s.advance();
  s.step(pkt(PacketType.SNAP, makeZxid(1n, 9n)));
  assert.equal(s.phase, 'snapshot');
  s.step(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n)));
  assert.match(s.ready().closed ?? '', /snapshot stream was expected/);
  const s2 = learner();
  s2.start();
  s2.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  s2.advance();
  s2.step(pkt(PacketType.SNAP, makeZxid(1n, 9n)));
  s2.snapshot([entry(1n, 9n)]);
  assert.deepEqual(s2.ready().snapshot, { zxid: makeZxid(1n, 9n), state: [entry(1n, 9n)] });
});

test('learner: a COMMIT out of order, or silence past initLimit / syncLimit, ends the connection', () => {
  const l = learner();
  l.start();
  l.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  for (let i = 0; i < 4; i++) l.tick();
  assert.equal(l.ready().closed, null);
  l.tick();
  assert.match(l.ready().closed ?? '', /5 ticks \(limit 4\)/);
  const m = learner();
  m.start();
  m.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  m.step(pkt(PacketType.DIFF, makeZxid(1n, 5n)));
  m.step(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n)));
  m.step(pkt(PacketType.UPTODATE, -1n));
  m.advance();
  const [a, b] = [entry(2n, 1n), entry(2n, 2n)];
  m.step(pkt(PacketType.PROPOSAL, a.zxid, a.data));
  m.step(pkt(PacketType.PROPOSAL, b.zxid, b.data));
  m.step(pkt(PacketType.COMMIT, b.zxid));
  assert.match(m.ready().closed ?? '', /next proposal is 0x200000001/);
});

test('observer: OBSERVERINFO, then INFORM logs and applies a txn without an ACK; a leader sends observers INFORM', () => {
  const o = learner({ role: 'observer' });
  o.start();
  assert.equal(o.ready().messages[0]!.type, PacketType.OBSERVERINFO);
  o.step(pkt(PacketType.LEADERINFO, makeZxid(2n, 0n), encodeIntPayload(0x10000)));
  o.step(pkt(PacketType.DIFF, makeZxid(1n, 5n)));
  o.step(pkt(PacketType.NEWLEADER, makeZxid(2n, 0n)));
  o.step(pkt(PacketType.UPTODATE, -1n));
  o.advance();
  const a = entry(2n, 1n);
  o.step(pkt(PacketType.INFORM, a.zxid, a.data));
  assert.deepEqual(o.ready().append, [a]);
  assert.deepEqual(o.ready().commit, [a]);
  assert.deepEqual(o.ready().messages, []);

  const leader = new ZabLeader({ ...leaderOptions([]), quorum: new MajorityQuorum([{ sid: 1n, type: 'participant' }, { sid: 2n, type: 'participant' }, { sid: 9n, type: 'observer' }]) });
  const info = (sid: bigint): Buffer => encodeLearnerInfo({ serverid: sid, protocolVersion: 0x10000, configVersion: 0n });
  leader.step(9, pkt(PacketType.OBSERVERINFO, 0n, info(9n)));
  assert.equal(leader.epoch, null, 'an observer does not count toward the epoch quorum');
  leader.step(2, pkt(PacketType.FOLLOWERINFO, 0n, info(2n)));
  assert.equal(leader.epoch, 2n);
  leader.advance();
  for (const conn of [9, 2]) leader.step(conn, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
  // Its currentEpoch is durable: the leader's own NEWLEADER ACK counts.
  leader.advance();
  leader.step(9, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'sync', 'nor toward NEWLEADER');
  leader.step(2, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'broadcast');
  leader.advance();
  const z = leader.propose(() => Buffer.from('x'))!;
  leader.advance();
  leader.step(2, pkt(PacketType.ACK, z));
  const sent = leader.ready().messages.flatMap((m) => ('packet' in m ? [[m.conn, m.packet.type]] : []));
  assert.deepEqual(sent, [[9, PacketType.INFORM], [2, PacketType.COMMIT]]);
});

test('the sync goes out while currentEpoch is written; the leader establishes only once it is durable (Leader.lead)', () => {
  const leader = new ZabLeader(leaderOptions([]));
  const info = encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n });
  leader.step(2, pkt(PacketType.FOLLOWERINFO, 0n, info));
  leader.advance();
  leader.step(2, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
  const rd = leader.ready();
  assert.equal(rd.currentEpoch, 2n);
  assert.ok(rd.messages.some((m) => 'packet' in m && m.packet.type === PacketType.NEWLEADER), 'NEWLEADER is in the Ready that writes currentEpoch');
  // A driver whose writes settle later: the epoch is not durable yet.
  leader.advance(false);
  leader.step(2, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'sync', 'the learner\'s ACK alone is not a quorum of two');
  assert.equal(leader.hasReady(), false, 'no UPTODATE yet');
  leader.currentEpochDurable();
  assert.equal(leader.phase, 'broadcast');
  const types = leader.ready().messages.flatMap((m) => ('packet' in m ? [m.packet.type] : []));
  assert.deepEqual(types, [PacketType.UPTODATE]);
});

test('a learner syncing while a proposal is outstanding: a follower is sent it, an observer only its INFORM once it commits', () => {
  const leader = new ZabLeader({ ...leaderOptions([]), quorum: new MajorityQuorum([...[1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const })), { sid: 9n, type: 'observer' as const }]) });
  const info = (sid: bigint): Buffer => encodeLearnerInfo({ serverid: sid, protocolVersion: 0x10000, configVersion: 0n });
  leader.step(2, pkt(PacketType.FOLLOWERINFO, 0n, info(2n)));
  leader.advance();
  leader.step(2, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
  leader.advance();
  leader.step(2, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'broadcast');
  leader.advance();
  const z = leader.propose(() => Buffer.from('x'))!;
  leader.advance();
  const typesTo = (conn: number): number[] => leader.ready().messages.flatMap((m) => ('packet' in m && m.conn === conn ? [m.packet.type] : []));
  leader.step(3, pkt(PacketType.FOLLOWERINFO, 0n, info(3n)));
  leader.step(9, pkt(PacketType.OBSERVERINFO, 0n, info(9n)));
  for (const conn of [3, 9]) leader.step(conn, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
  assert.ok(typesTo(3).includes(PacketType.PROPOSAL), 'the follower is sent the outstanding proposal before NEWLEADER');
  assert.ok(!typesTo(9).includes(PacketType.PROPOSAL), 'the observer is not');
  assert.ok(typesTo(9).includes(PacketType.NEWLEADER));
  leader.advance();
  leader.step(9, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  leader.step(2, pkt(PacketType.ACK, z));
  assert.deepEqual(typesTo(9), [PacketType.UPTODATE, PacketType.INFORM], 'the observer learns the txn when it commits');
});

function leaderOf(log: LogEntry[], snapshotZxid = 0n, epoch = 1n): ZabLeader {
  return new ZabLeader({
    myId: 1n,
    quorum: new MajorityQuorum([1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }))),
    acceptedEpoch: epoch,
    currentEpoch: epoch,
    log,
    snapshotZxid,
    config: Buffer.from('version=0'),
    initLimitTicks: 10,
    syncLimitTicks: 5,
  });
}

/** Runs discovery for sid 2 with `peerLast`, returning the sync packets it is sent. */
function syncPackets(leader: ZabLeader, peerLast: bigint): QuorumPacket[] {
  leader.step(2, pkt(PacketType.FOLLOWERINFO, makeZxid(1n, 0n), encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n })));
  leader.advance();
  leader.step(2, pkt(PacketType.ACKEPOCH, peerLast, encodeIntPayload(1)));
  const out = leader.ready().messages.flatMap((m) => ('packet' in m ? [m.packet] : 'snapshotAt' in m ? [pkt(-1, m.snapshotAt)] : []));
  leader.advance();
  return out;
}

test('leader: the new epoch, then DIFF / TRUNC / TRUNC+DIFF / SNAP chosen as LearnerHandler.syncFollower does', () => {
  const log = [entry(1n, 1n), entry(1n, 2n), entry(1n, 3n)];
  const names = (ps: QuorumPacket[]): string[] => ps.map((p) => `${p.type}:${p.zxid.toString(16)}`);
  const equal = leaderOf(log);
  const packets = syncPackets(equal, makeZxid(1n, 3n));
  assert.equal(equal.epoch, 2n);
  assert.equal(equal.currentEpoch, 1n + 1n);
  assert.deepEqual(names(packets), [`${PacketType.DIFF}:100000003`, `${PacketType.NEWLEADER}:200000000`]);
  assert.deepEqual(names(syncPackets(leaderOf(log), makeZxid(1n, 1n))), [
    `${PacketType.DIFF}:100000003`,
    `${PacketType.PROPOSAL}:100000002`,
    `${PacketType.COMMIT}:100000002`,
    `${PacketType.PROPOSAL}:100000003`,
    `${PacketType.COMMIT}:100000003`,
    `${PacketType.NEWLEADER}:200000000`,
  ]);
  // A peer of an older current epoch with a longer log (proposals that never reached us).
  assert.deepEqual(names(syncPackets(leaderOf(log, 0n, 2n), makeZxid(1n, 7n))), [`${PacketType.TRUNC}:100000003`, `${PacketType.NEWLEADER}:300000000`]);
  // The peer's 1.2 diverged from ours (we have 1.1 then 2.1): cut it to 1.1, then DIFF the rest.
  const diverged = [entry(1n, 1n), entry(2n, 1n)];
  const l2 = new ZabLeader({ ...leaderOptions(diverged), acceptedEpoch: 2n, currentEpoch: 2n });
  l2.step(2, pkt(PacketType.FOLLOWERINFO, makeZxid(1n, 0n), encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n })));
  l2.advance();
  l2.step(2, pkt(PacketType.ACKEPOCH, makeZxid(1n, 2n), encodeIntPayload(1)));
  assert.deepEqual(names(l2.ready().messages.flatMap((m) => ('packet' in m ? [m.packet] : []))), [
    `${PacketType.TRUNC}:100000001`,
    `${PacketType.PROPOSAL}:200000001`,
    `${PacketType.COMMIT}:200000001`,
    `${PacketType.NEWLEADER}:300000000`,
  ]);
  assert.deepEqual(names(syncPackets(leaderOf(log.slice(2), makeZxid(1n, 2n)), makeZxid(1n, 1n))), [`${PacketType.SNAP}:100000003`, `-1:100000003`, `${PacketType.NEWLEADER}:200000000`]);
});

test('leader: a learner more recent than the leader makes it step down during discovery', () => {
  const leader = leaderOf([entry(1n, 1n)]);
  leader.step(2, pkt(PacketType.FOLLOWERINFO, makeZxid(1n, 0n), encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n })));
  leader.advance();
  leader.step(2, pkt(PacketType.ACKEPOCH, makeZxid(1n, 4n), encodeIntPayload(1)));
  assert.match(leader.ready().steppedDown ?? '', /more recent/);
  assert.deepEqual(decodeLearnerInfo(encodeLearnerInfo({ serverid: 2n, protocolVersion: 0x10000, configVersion: 0n })), { serverid: 2n, protocolVersion: 0x10000, configVersion: 0n });
});

test('leader: commits wait for a quorum of ACKs counting its own (after its fsync), in zxid order; silence past syncLimit drops a learner, then it steps down', () => {
  const leader = leaderOf([]);
  for (const sid of [2, 3]) {
    leader.step(sid, pkt(PacketType.FOLLOWERINFO, 0n, encodeLearnerInfo({ serverid: BigInt(sid), protocolVersion: 0x10000, configVersion: 0n })));
  }
  leader.advance();
  for (const sid of [2, 3]) leader.step(sid, pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
  leader.advance();
  leader.step(2, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'broadcast');
  leader.advance();
  const z1 = leader.propose((z) => Buffer.from(`a ${z}`))!;
  const z2 = leader.propose((z) => Buffer.from(`b ${z}`))!;
  assert.deepEqual(leader.ready().append.map((e) => e.zxid), [z1, z2]);
  leader.step(2, pkt(PacketType.ACK, z2));
  assert.deepEqual(leader.ready().commit, [], 'no commit before the leader\'s own log write is done');
  leader.advance();
  assert.deepEqual(leader.ready().commit, [], 'z2 has a quorum but waits for z1');
  leader.step(2, pkt(PacketType.ACK, z1));
  assert.deepEqual(leader.ready().commit.map((e) => e.zxid), [z1, z2]);
  leader.advance();
  for (let i = 0; i < 5; i++) leader.tick();
  leader.advance();
  leader.tick();
  const rd = leader.ready();
  assert.ok(rd.messages.some((m) => 'close' in m && m.conn === 2), 'sid 2 dropped past syncLimit');
  assert.match(rd.steppedDown ?? '', /no quorum/);
});

/** Runs seeds and returns how many learners were synced by each mode. */
function runSeeds(options: { servers: number; seeds: number; midReadyCrashRate?: number; election?: 'fle' | 'vote-order' }): Map<string, number> {
  const modes = new Map<string, number>();
  for (let seed = 1; seed <= options.seeds; seed++) {
    const sim = new ZabSim({ ...options, seed, historyLimit: seed % 3 === 0 ? 5 : 1_000_000 });
    sim.run(40_000);
    sim.settle(200_000);
    assert.ok(sim.committed.size > 0, `seed ${seed} committed something`);
    for (const [mode, n] of sim.syncModes) modes.set(mode, (modes.get(mode) ?? 0) + n);
  }
  return modes;
}

for (const servers of [3, 5]) {
  test(`simulation: ${servers} servers elected by the FLE core, with crashes (also mid-Ready), dropped connections and partitions, keep every checker green`, () => {
    const modes = runSeeds({ servers, seeds: servers === 3 ? 60 : 30 });
    for (const mode of ['diff', 'trunc', 'snap']) assert.ok((modes.get(mode) ?? 0) > 0, `some learner was synced by ${mode} (${[...modes].join(', ')})`);
  });
}

test('simulation: leaders picked by vote order alone (another schedule of the same cores)', () => {
  runSeeds({ servers: 3, seeds: 40, election: 'vote-order' });
});

test('simulation: frequent crashes in the middle of a Ready (torn appends, epochs not yet written) lose no committed txn', () => {
  // With 3.8.0's order (currentEpoch durable before the synced txns) seeds 78 and 87 of these
  // fail with "new leader lacks committed txn": ZOOKEEPER-4643, which this order prevents.
  runSeeds({ servers: 3, seeds: 120, midReadyCrashRate: 0.08 });
});

test('simulation: the same seed gives the same run', () => {
  const a = new ZabSim({ servers: 3, seed: 7 });
  const b = new ZabSim({ servers: 3, seed: 7 });
  a.run(30_000);
  b.run(30_000);
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual([...a.committed], [...b.committed]);
});
