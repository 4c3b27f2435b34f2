/**
 * The learner core's full sync (`fullSync`), asked for after the store refused a TRUNC below a
 * snapshot it installed: ACKEPOCH reports zxid 0, a SNAP installs as usual, and a DIFF (or a TRUNC
 * to 0) of the leader's whole history replaces the state at NEWLEADER, never before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabLearner, type LogEntry } from '../../src/consensus/learner.js';
import { encodeIntPayload, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { MemoryLearnerStore, TruncateRefusedError } from '../../src/server/quorum/learner-driver.js';

const pkt = (type: number, zxid: bigint, data: Buffer | null = null): QuorumPacket => ({ type, zxid, data, authinfo: null });
const entry = (epoch: bigint, counter: bigint): LogEntry => ({ zxid: makeZxid(epoch, counter), data: Buffer.from(`t${epoch}.${counter}`) });

/** A learner whose store holds a snapshot at 0x200000009 and asks for the whole state, past discovery with a leader of epoch 4. */
function discovered(fullSync: boolean): ZabLearner<string> {
  const l = new ZabLearner<string>({ myId: 3n, acceptedEpoch: 3n, currentEpoch: 2n, lastLoggedZxid: makeZxid(2n, 9n), initLimitTicks: 4, syncLimitTicks: 2, fullSync });
  l.start();
  l.advance();
  l.step(pkt(PacketType.LEADERINFO, makeZxid(4n, 0n), encodeIntPayload(0x10000)));
  return l;
}

test('full sync: ACKEPOCH reports zxid 0 (with the true current epoch); without it, the last logged zxid', () => {
  assert.deepEqual(discovered(true).ready().messages, [pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(2))]);
  assert.deepEqual(discovered(false).ready().messages, [pkt(PacketType.ACKEPOCH, makeZxid(2n, 9n), encodeIntPayload(2))]);
});

test('full sync by DIFF: nothing changes before NEWLEADER, then one Ready resets the state to the whole history', () => {
  const l = discovered(true);
  l.advance();
  // The leader's history from the start: two committed txns below our snapshot's zxid, one outstanding proposal.
  const [a, b, c] = [entry(1n, 1n), entry(2n, 1n), entry(4n, 1n)];
  l.step(pkt(PacketType.DIFF, b.zxid));
  for (const e of [a, b]) {
    l.step(pkt(PacketType.PROPOSAL, e.zxid, e.data));
    l.step(pkt(PacketType.COMMIT, e.zxid));
  }
  l.step(pkt(PacketType.PROPOSAL, c.zxid, c.data));
  assert.equal(l.hasReady(), false, 'the old state stays until NEWLEADER');
  l.step(pkt(PacketType.NEWLEADER, makeZxid(4n, 0n), null));
  const rd = l.ready();
  assert.equal(rd.reset, true);
  assert.equal(rd.truncateTo, null);
  assert.deepEqual(rd.append, [a, b, c]);
  assert.deepEqual(rd.commit, [a, b], 'the committed txns are a prefix of what replaces the state');
  assert.equal(rd.currentEpoch, 4n);
  assert.deepEqual(rd.messages, [pkt(PacketType.ACK, makeZxid(4n, 0n))]);
  assert.equal(l.lastLoggedZxid, c.zxid);
  l.advance();
  // The next Ready is an ordinary one.
  l.step(pkt(PacketType.UPTODATE, -1n));
  assert.equal(l.ready().reset, false);
  assert.equal(l.phase, 'broadcast');
});

test('full sync: a TRUNC to 0 (no leader we know sends one after zxid 0, but it means the same) resets too; a TRUNC elsewhere ends the connection', () => {
  const l = discovered(true);
  l.advance();
  const a = entry(1n, 1n);
  l.step(pkt(PacketType.TRUNC, 0n));
  l.step(pkt(PacketType.PROPOSAL, a.zxid, a.data));
  l.step(pkt(PacketType.COMMIT, a.zxid));
  assert.equal(l.hasReady(), false);
  l.step(pkt(PacketType.NEWLEADER, makeZxid(4n, 0n), null));
  assert.equal(l.ready().reset, true);
  assert.equal(l.ready().truncateTo, null);
  assert.deepEqual(l.ready().commit, [a]);

  const other = discovered(true);
  other.advance();
  other.step(pkt(PacketType.TRUNC, makeZxid(1n, 3n)));
  assert.match(other.ready().closed ?? '', /TRUNC to 0x100000003 after reporting zxid 0/);
});

test('full sync by SNAP: installed as any SNAP; an empty DIFF resets to the empty tree', () => {
  const l = discovered(true);
  l.advance();
  l.step(pkt(PacketType.SNAP, makeZxid(3n, 7n)));
  l.snapshot('state at 0x300000007');
  assert.deepEqual(l.ready().snapshot, { zxid: makeZxid(3n, 7n), state: 'state at 0x300000007' });
  assert.equal(l.ready().reset, false);

  const empty = discovered(true);
  empty.advance();
  empty.step(pkt(PacketType.DIFF, 0n));
  empty.step(pkt(PacketType.NEWLEADER, makeZxid(4n, 0n), null));
  assert.equal(empty.ready().reset, true);
  assert.deepEqual(empty.ready().append, []);
});

test('memory store: a TRUNC below its snapshot is refused and remembered; a reset or a SNAP clears it', () => {
  const store = new MemoryLearnerStore();
  store.append([entry(1n, 1n), entry(1n, 2n)]);
  store.installSnapshot(makeZxid(1n, 5n), { sessions: new Map(), nodes: [] });
  store.append([entry(1n, 6n)]);
  assert.throws(() => store.truncate(makeZxid(1n, 2n)), TruncateRefusedError);
  assert.equal(store.load().fullSyncNeeded, true);
  assert.deepEqual(store.load().log, [entry(1n, 6n)], 'nothing else changed');
  store.reset([entry(1n, 1n), entry(2n, 1n)]);
  const after = store.load();
  assert.deepEqual([after.snapshot, after.log, after.fullSyncNeeded], [null, [entry(1n, 1n), entry(2n, 1n)], false]);
  store.truncate(makeZxid(1n, 1n));
  assert.deepEqual(store.load().log, [entry(1n, 1n)]);
});
