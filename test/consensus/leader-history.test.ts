/**
 * The leader's in-memory history (ZooKeeper's committedLog): capped at commitLogCount, and the
 * sync choice it drives: DIFF from memory, DIFF from the log (logReads / logRead), SNAP, TRUNC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabLeader, type LeaderOptions } from '../../src/consensus/leader.js';
import type { LogEntry } from '../../src/consensus/learner.js';
import { encodeIntPayload, encodeLearnerInfo, PacketType } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { leaderOptions, pkt } from './fixtures.js';

const z = (counter: number): bigint => makeZxid(1n, BigInt(counter));
const entry = (counter: number): LogEntry => ({ zxid: z(counter), data: Buffer.from(`t${counter}`) });
const logOf = (from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

function leaderOf(log: LogEntry[], extra: Partial<LeaderOptions> = {}): ZabLeader {
  return new ZabLeader({ ...leaderOptions(log), commitLogCount: 4, ...extra });
}

/** Packets (and snapshot marks as type -1) the Ready sends to `conn`, as "TYPE:counter". */
function sentTo(leader: ZabLeader, conn: number): string[] {
  const names: Record<number, string> = { [PacketType.DIFF]: 'DIFF', [PacketType.TRUNC]: 'TRUNC', [PacketType.SNAP]: 'SNAP', [PacketType.PROPOSAL]: 'P', [PacketType.COMMIT]: 'C', [PacketType.NEWLEADER]: 'NEWLEADER' };
  const out: string[] = [];
  for (const m of leader.ready().messages) {
    if (m.conn !== conn) continue;
    if ('packet' in m) {
      if (m.packet.type === PacketType.LEADERINFO || m.packet.type === PacketType.PING) continue;
      const counter = m.packet.zxid & 0xffffffffn;
      out.push(`${names[m.packet.type] ?? m.packet.type}:${m.packet.type === PacketType.NEWLEADER ? 'epoch' : counter}`);
    } else if ('snapshotAt' in m) out.push(`stream:${m.snapshotAt & 0xffffffffn}`);
    else out.push(`close`);
  }
  return out;
}

/** FOLLOWERINFO and ACKEPOCH (epoch 1, `last`) from sid = conn. */
function join(leader: ZabLeader, sid: number, last: bigint): void {
  leader.step(sid, pkt(PacketType.FOLLOWERINFO, makeZxid(1n, 0n), encodeLearnerInfo({ serverid: BigInt(sid), protocolVersion: 0x10000, configVersion: 0n })));
  leader.step(sid, pkt(PacketType.ACKEPOCH, last, encodeIntPayload(1)));
}

/** A leader broadcasting epoch 2 with sid 3 synced; the Ready is consumed. */
function broadcasting(log: LogEntry[], extra: Partial<LeaderOptions> = {}): ZabLeader {
  const leader = leaderOf(log, extra);
  join(leader, 3, log.at(-1)!.zxid);
  // Its currentEpoch is durable: the leader's own NEWLEADER ACK counts.
  leader.advance();
  leader.step(3, pkt(PacketType.ACK, makeZxid(2n, 0n)));
  assert.equal(leader.phase, 'broadcast');
  leader.advance();
  return leader;
}

/** Proposes and commits `n` txns (the leader's and sid 3's ACKs). */
function commit(leader: ZabLeader, n: number): void {
  for (let i = 0; i < n; i++) {
    const zxid = leader.propose((x) => Buffer.from(`w${x}`))!;
    leader.advance();
    leader.step(3, pkt(PacketType.ACK, zxid));
    leader.advance();
  }
}

test('the committed history is capped at commitLogCount; min/max committed zxids move as ZooKeeper\'s do', () => {
  const leader = leaderOf(logOf(1, 10));
  assert.deepEqual(leader.committedLog(), { min: z(7), max: z(10), count: 4 }, 'the log at start is cut to the last 4');
  const empty = leaderOf([], { snapshotZxid: z(5) });
  assert.deepEqual(empty.committedLog(), { min: z(5), max: z(5), count: 0 }, 'nothing in memory: the snapshot point');
  const live = broadcasting(logOf(1, 10));
  commit(live, 9);
  assert.deepEqual(live.committedLog(), { min: makeZxid(2n, 6n), max: makeZxid(2n, 9n), count: 4 });
  assert.equal(live.lastCommittedZxid, makeZxid(2n, 9n));
});

test('proposals waiting for a quorum are not trimmed: a learner syncing gets each of them after its DIFF', () => {
  const leader = broadcasting(logOf(1, 2));
  const waiting = Array.from({ length: 6 }, () => leader.propose((x) => Buffer.from(`w${x}`))!);
  leader.advance(false);
  assert.deepEqual(leader.committedLog(), { min: z(1), max: z(2), count: 2 });
  join(leader, 2, z(2));
  assert.deepEqual(sentTo(leader, 2), ['DIFF:2', ...waiting.map((x) => `P:${x & 0xffffffffn}`), 'NEWLEADER:epoch']);
});

test('a learner inside the window is DIFFed from memory, one ahead is TRUNCated, one diverged inside it TRUNC+DIFF', () => {
  // The leader's current epoch is 2: a learner of epoch 1 with a longer log is not more recent.
  const at = (last: bigint, log = logOf(1, 10)): string[] => {
    const leader = leaderOf(log, { logReads: true, acceptedEpoch: 2n, currentEpoch: 2n });
    join(leader, 2, last);
    join(leader, 3, log.at(-1)!.zxid);
    assert.deepEqual(leader.ready().logReads, []);
    return sentTo(leader, 2);
  };
  // The zxid just before the window (6) is served from memory too: the learner has it.
  assert.deepEqual(at(z(6)), ['DIFF:10', 'P:7', 'C:7', 'P:8', 'C:8', 'P:9', 'C:9', 'P:10', 'C:10', 'NEWLEADER:epoch']);
  assert.deepEqual(at(z(9)), ['DIFF:10', 'P:10', 'C:10', 'NEWLEADER:epoch']);
  assert.deepEqual(at(z(10)), ['DIFF:10', 'NEWLEADER:epoch']);
  assert.deepEqual(at(z(12)), ['TRUNC:10', 'NEWLEADER:epoch']);
  // The leader has 1.7, 1.8, then 2.1..2.2; the learner logged 1.9, which the leader never had.
  const diverged = [...logOf(1, 8), { zxid: makeZxid(2n, 1n), data: Buffer.from('a') }, { zxid: makeZxid(2n, 2n), data: Buffer.from('b') }];
  const leader = leaderOf(diverged, { logReads: true, acceptedEpoch: 2n, currentEpoch: 2n });
  join(leader, 2, z(9));
  join(leader, 3, makeZxid(2n, 2n));
  assert.deepEqual(sentTo(leader, 2), ['TRUNC:8', 'P:1', 'C:1', 'P:2', 'C:2', 'NEWLEADER:epoch']);
});

test('a learner older than the window waits for a log read, then gets the log\'s txns and the window as one DIFF', () => {
  const leader = leaderOf(logOf(1, 10), { logReads: true });
  join(leader, 2, z(3));
  join(leader, 3, z(10));
  assert.deepEqual(leader.ready().logReads, [{ conn: 2, after: z(3), through: z(6) }]);
  assert.deepEqual(sentTo(leader, 2), [], 'nothing is sent before the log is read');
  leader.advance();
  leader.step(2, pkt(PacketType.PING, 0n));
  assert.deepEqual(sentTo(leader, 2), ['close'], 'a learner does not speak while it waits for its sync');
  leader.advance();
  join(leader, 2, z(3));
  leader.advance();
  leader.logRead(2, logOf(4, 6));
  assert.deepEqual(sentTo(leader, 2), ['DIFF:10', ...[4, 5, 6, 7, 8, 9, 10].flatMap((c) => [`P:${c}`, `C:${c}`]), 'NEWLEADER:epoch']);
  assert.equal(leader.learnerSyncMode(2n), 'diff');
  assert.equal(leader.learnerDiffFromLog(2n), true);
  leader.advance();
  leader.logRead(2, logOf(4, 6));
  assert.equal(leader.hasReady(), false, 'a second answer for the same learner is ignored');
});

test('a log that cannot give the txns (null, a hole, short of the read\'s end) means SNAP; without log reads SNAP at once', () => {
  for (const answer of [null, [entry(4), entry(6)], logOf(4, 5), logOf(5, 6)]) {
    const leader = leaderOf(logOf(1, 10), { logReads: true });
    join(leader, 2, z(3));
    leader.advance();
    leader.logRead(2, answer);
    assert.deepEqual(sentTo(leader, 2), ['SNAP:10', 'stream:10', 'NEWLEADER:epoch'], JSON.stringify(answer?.map((e) => String(e.zxid & 0xffn))));
    assert.equal(leader.learnerDiffFromLog(2n), false);
  }
  const noLog = leaderOf(logOf(1, 10));
  join(noLog, 2, z(3));
  assert.deepEqual(noLog.ready().logReads, []);
  assert.deepEqual(sentTo(noLog, 2), ['SNAP:10', 'stream:10', 'NEWLEADER:epoch']);
});

test('commits made while a log read is under way stay in memory until it is answered, then the window is cut again', () => {
  const leader = broadcasting(logOf(1, 10), { logReads: true });
  join(leader, 2, z(2));
  assert.deepEqual(leader.ready().logReads, [{ conn: 2, after: z(2), through: z(6) }]);
  leader.advance();
  commit(leader, 5);
  assert.deepEqual(leader.committedLog(), { min: z(7), max: makeZxid(2n, 5n), count: 9 }, 'everything after the read\'s end is kept');
  leader.logRead(2, logOf(3, 6));
  const epoch2 = [1, 2, 3, 4, 5].flatMap((c) => [`P:${c}`, `C:${c}`]);
  assert.deepEqual(sentTo(leader, 2), ['DIFF:5', ...[3, 4, 5, 6, 7, 8, 9, 10].flatMap((c) => [`P:${c}`, `C:${c}`]), ...epoch2, 'NEWLEADER:epoch']);
  assert.deepEqual(leader.committedLog(), { min: makeZxid(2n, 2n), max: makeZxid(2n, 5n), count: 4 });
});

test('a learner that goes away during its log read releases the history it held', () => {
  const leader = broadcasting(logOf(1, 10), { logReads: true });
  join(leader, 2, z(2));
  leader.advance();
  commit(leader, 3);
  assert.equal(leader.committedLog().count, 7);
  leader.disconnected(2);
  commit(leader, 1);
  assert.equal(leader.committedLog().count, 4);
  leader.logRead(2, logOf(3, 6));
  assert.equal(leader.hasReady(), false);
});
