import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastLeaderElection, votesEqual, type LocalHistory } from '../../src/consensus/election.js';
import { type QuorumMember } from '../../src/consensus/members.js';
import { ServerState, type Notification } from '../../src/consensus/wire.js';
import { LONG_MIN, makeZxid } from '../../src/consensus/zxid.js';
import { ElectionSim, type SimServer } from './election-sim.js';
import { Prng } from '../../src/lib/prng.js';

const fresh: LocalHistory = { lastLoggedZxid: 0n, currentEpoch: 0n };

function servers(count: number, history: (sid: bigint) => LocalHistory = () => fresh): SimServer[] {
  return Array.from({ length: count }, (_, i) => ({ sid: BigInt(i + 1), history: history(BigInt(i + 1)) }));
}

function allDecided(sim: ElectionSim, sids: readonly bigint[]): () => boolean {
  return () => sids.every((sid) => sim.decisions.has(sid));
}

function assertOneLeader(sim: ElectionSim, expected: bigint, sids: readonly bigint[]): void {
  for (const sid of sids) {
    const d = sim.decisions.get(sid);
    assert.ok(d, `server ${sid} decided`);
    assert.equal(d.vote.leader, expected, `server ${sid} follows ${expected}`);
    const want = sid === expected ? ServerState.LEADING : ServerState.FOLLOWING;
    assert.equal(d.state, want, `server ${sid} state`);
  }
}

function looking(from: Partial<Notification> & { leader: bigint }): Notification {
  return {
    state: ServerState.LOOKING,
    zxid: 0n,
    electionEpoch: 1n,
    peerEpoch: 0n,
    version: 2,
    config: null,
    ...from,
  };
}

test('3 fresh voters elect the highest sid, and every server agrees', () => {
  const sim = new ElectionSim(servers(3), 1);
  assert.ok(sim.run(10_000, allDecided(sim, [1n, 2n, 3n])));
  assertOneLeader(sim, 3n, [1n, 2n, 3n]);
  for (const d of sim.decisions.values()) assert.equal(d.vote.electionEpoch, 1n, 'round 1');
  // Nobody decides before a quorum agreed and the finalize wait passed.
  assert.ok(Math.min(...sim.trace.map((t) => t.at)) >= 200);
});

test('5 voters: the highest peerEpoch wins over a higher zxid, and a higher zxid over a higher sid', () => {
  const histories = new Map<bigint, LocalHistory>([
    [1n, { lastLoggedZxid: makeZxid(3n, 9n), currentEpoch: 3n }],
    [2n, { lastLoggedZxid: makeZxid(4n, 2n), currentEpoch: 4n }],
    [3n, { lastLoggedZxid: makeZxid(4n, 7n), currentEpoch: 4n }],
    [4n, { lastLoggedZxid: makeZxid(4n, 1n), currentEpoch: 4n }],
    [5n, { lastLoggedZxid: makeZxid(3n, 100n), currentEpoch: 3n }],
  ]);
  const sim = new ElectionSim(servers(5, (sid) => histories.get(sid)!), 7);
  assert.ok(sim.run(10_000, allDecided(sim, [1n, 2n, 3n, 4n, 5n])));
  assertOneLeader(sim, 3n, [1n, 2n, 3n, 4n, 5n]);
  assert.equal(sim.decisions.get(1n)!.vote.zxid, makeZxid(4n, 7n));

  // The epoch a server has accepted ranks before its log: epoch 5 with an older zxid wins.
  histories.set(1n, { lastLoggedZxid: makeZxid(4n, 0n), currentEpoch: 5n });
  const sim2 = new ElectionSim(servers(5, (sid) => histories.get(sid)!), 8);
  assert.ok(sim2.run(10_000, allDecided(sim2, [1n, 2n, 3n, 4n, 5n])));
  assertOneLeader(sim2, 1n, [1n, 2n, 3n, 4n, 5n]);
});

test('equal histories are broken by sid', () => {
  const same = { lastLoggedZxid: makeZxid(2n, 5n), currentEpoch: 2n };
  const sim = new ElectionSim(servers(5, () => same), 3);
  assert.ok(sim.run(10_000, allDecided(sim, [1n, 2n, 3n, 4n, 5n])));
  assertOneLeader(sim, 5n, [1n, 2n, 3n, 4n, 5n]);
});

test('a late server follows the established leader even with a better history (same round)', () => {
  const list = servers(3, (sid) => (sid === 3n ? { lastLoggedZxid: makeZxid(1n, 50n), currentEpoch: 1n } : fresh));
  list[2]!.startAt = 5_000;
  const sim = new ElectionSim(list, 11);
  assert.ok(sim.run(4_000, allDecided(sim, [1n, 2n])));
  assertOneLeader(sim, 2n, [1n, 2n]);
  assert.ok(sim.run(20_000, allDecided(sim, [1n, 2n, 3n])));
  assertOneLeader(sim, 2n, [1n, 2n, 3n]);
});

test('a late server joins an ensemble from a later round through the out-of-election votes', () => {
  const list = servers(5);
  list[4]!.startAt = 60_000;
  const sim = new ElectionSim(list, 12);
  const first = [1n, 2n, 3n, 4n];
  assert.ok(sim.run(10_000, allDecided(sim, first)));
  assertOneLeader(sim, 4n, first);
  // The leader is lost twice over: every running server looks again, twice.
  for (let round = 0; round < 2; round++) {
    for (const sid of first) sim.restart(sid);
    assert.ok(sim.run(sim.now + 10_000, allDecided(sim, first)));
  }
  assertOneLeader(sim, 4n, first);
  assert.equal(sim.decisions.get(1n)!.vote.electionEpoch, 3n);
  assert.ok(sim.run(120_000, allDecided(sim, [5n])));
  assertOneLeader(sim, 4n, [1n, 2n, 3n, 4n, 5n]);
  const late = sim.cores.get(5n)!;
  assert.equal(late.round, 3n, 'the late server took the ensemble\'s round');
});

test('partial connectivity: votes travel through a middle server', () => {
  const sim = new ElectionSim(servers(3), 5);
  sim.partition([1n], [3n]);
  assert.ok(sim.run(10_000, allDecided(sim, [1n, 2n, 3n])));
  assertOneLeader(sim, 3n, [1n, 2n, 3n]);
});

test('a minority partition keeps looking, backs off, and joins the leader when healed', () => {
  const sim = new ElectionSim(servers(5), 9);
  sim.partition([1n, 2n], [3n, 4n, 5n]);
  assert.ok(sim.run(30_000, allDecided(sim, [3n, 4n, 5n])));
  assertOneLeader(sim, 5n, [3n, 4n, 5n]);
  assert.ok(!sim.decisions.has(1n) && !sim.decisions.has(2n), 'no quorum, no leader');
  assert.equal(sim.cores.get(1n)!.state, ServerState.LOOKING);
  sim.partition([1n, 2n], [3n, 4n, 5n], false);
  assert.ok(sim.run(sim.now + 120_000, allDecided(sim, [1n, 2n])));
  assertOneLeader(sim, 5n, [1n, 2n, 3n, 4n, 5n]);
});

test('an isolated server backs off 200 ms doubling to 60 s and asks to reconnect', () => {
  const members = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }));
  const core = new FastLeaderElection({ myId: 1n, members, config: Buffer.from('version=0') }, 0, fresh);
  const sent = core.ready().messages.map((m) => m.to);
  assert.deepEqual(sent.sort(), [2n, 3n], 'a round starts by telling every other voter');
  core.advance();
  const gaps: number[] = [];
  let last = 0;
  for (let i = 0; i < 12; i++) {
    const at = core.nextDeadline()!;
    gaps.push(at - last);
    last = at;
    core.tick(at);
    const ready = core.ready();
    assert.ok(ready.connectAll, 'nothing connected: reconnect instead of resending');
    assert.equal(ready.messages.length, 0);
    core.advance();
  }
  assert.deepEqual(gaps, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]);
  core.connectionUp(2n);
  core.tick(core.nextDeadline()!);
  assert.deepEqual(core.ready().messages.map((m) => m.to).sort(), [2n, 3n], 'connected: resend to all');
});

test('finalize wait: a better vote inside 200 ms changes the outcome, silence decides', () => {
  const members = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }));
  const start = (): FastLeaderElection => {
    const core = new FastLeaderElection({ myId: 1n, members, config: Buffer.alloc(0) }, 0, fresh);
    core.advance();
    core.step(10, 2n, looking({ leader: 2n }));
    assert.equal(core.proposedVote.leader, 2n);
    // Our vote and 2's now agree on 2: a quorum, so the finalize wait begins.
    core.step(20, 2n, looking({ leader: 2n }));
    assert.equal(core.nextDeadline(), 220);
    return core;
  };
  const a = start();
  a.step(150, 3n, looking({ leader: 3n }));
  a.tick(220);
  assert.equal(a.state, ServerState.LOOKING, 'the better vote cancelled the decision');
  assert.equal(a.proposedVote.leader, 3n);

  const b = start();
  b.step(100, 2n, looking({ leader: 2n }));
  assert.equal(b.nextDeadline(), 300, 'a vote that is not better is dropped and the wait starts over');
  b.tick(299);
  assert.equal(b.state, ServerState.LOOKING);
  b.tick(300);
  assert.equal(b.state, ServerState.FOLLOWING);
  assert.deepEqual(b.ready().decision, {
    state: ServerState.FOLLOWING,
    vote: { leader: 2n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n },
  });
});

test('finalizeEarly: a same-round vote for a worse candidate is answered with ours at once (the peer dropped our first vote while it was still following)', () => {
  const members = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }));
  const sentTo1 = (finalizeEarly: boolean): Notification[] => {
    // Server 2 lost leader 3 and looks in round 1, voting for itself.
    const core = new FastLeaderElection({ myId: 2n, members, config: Buffer.alloc(0), finalizeEarly }, 0, fresh);
    core.connectionUp(1n);
    core.connectionDown(3n);
    core.advance();
    // Server 1 began looking after our vote reached it: it votes for itself, a worse candidate.
    core.step(10, 1n, looking({ leader: 1n }));
    return core.ready().messages.filter((m) => m.to === 1n).map((m) => m.notification);
  };
  const answered = sentTo1(true);
  assert.equal(answered.length, 1);
  assert.equal(answered[0]!.leader, 2n);
  assert.equal(answered[0]!.electionEpoch, 1n);
  // As ZooKeeper 3.8: nothing, until the notification interval repeats our vote.
  assert.deepEqual(sentTo1(false), []);
  // Server 1's agreeing vote gets no answer, and decides the round (3 is gone).
  const core = new FastLeaderElection({ myId: 2n, members, config: Buffer.alloc(0), finalizeEarly: true }, 0, fresh);
  core.connectionUp(1n);
  core.connectionDown(3n);
  core.advance();
  core.step(10, 1n, looking({ leader: 2n }));
  assert.deepEqual(core.ready().messages.filter((m) => m.to === 1n), []);
  assert.equal(core.state, ServerState.LEADING);
});

test('finalizeEarly: no finalize wait once every other voter agreed or was lost; a voter never connected is waited for', () => {
  const members = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }));
  const start = (connected: bigint[]): FastLeaderElection => {
    const core = new FastLeaderElection({ myId: 1n, members, config: Buffer.alloc(0), finalizeEarly: true }, 0, fresh);
    for (const sid of connected) core.connectionUp(sid);
    core.advance();
    return core;
  };
  const following2 = { state: ServerState.FOLLOWING, vote: { leader: 2n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n } };

  // 3 (the old leader, say) went away: 2's vote and ours are all there is to hear.
  const a = start([2n, 3n]);
  a.connectionDown(3n);
  a.step(10, 2n, looking({ leader: 2n }));
  assert.equal(a.state, ServerState.FOLLOWING, 'decided at once');
  assert.deepEqual(a.ready().decision, following2);

  // 3 never connected (an ensemble starting): wait for it as ZooKeeper does.
  const b = start([2n]);
  b.step(10, 2n, looking({ leader: 2n }));
  assert.equal(b.state, ServerState.LOOKING);
  assert.equal(b.nextDeadline(), 210);
  b.tick(210);
  assert.equal(b.state, ServerState.FOLLOWING);

  // Connected to 3 but no vote from it yet: waiting, until 3's connection drops.
  const c = start([2n, 3n]);
  c.step(10, 2n, looking({ leader: 2n }));
  assert.equal(c.state, ServerState.LOOKING);
  c.connectionDown(3n);
  assert.equal(c.state, ServerState.FOLLOWING, 'the vote waited for will not come');
  assert.deepEqual(c.ready().decision, following2);

  // ... or until 3 votes for the same leader.
  const d = start([2n, 3n]);
  d.step(10, 2n, looking({ leader: 2n }));
  d.step(30, 3n, looking({ leader: 2n }));
  assert.equal(d.state, ServerState.FOLLOWING);

  // A connection this server replaced itself (the larger-sid rule) is not a lost peer.
  const e = start([2n, 3n]);
  e.connectionDown(3n, false);
  e.step(10, 2n, looking({ leader: 2n }));
  assert.equal(e.state, ServerState.LOOKING);

  // Lost peers never stand in for a quorum: alone, this server keeps looking.
  const f = start([2n, 3n]);
  f.connectionDown(2n);
  f.connectionDown(3n);
  f.tick(1_000);
  assert.equal(f.state, ServerState.LOOKING);

  // A better vote from the lost peer after the decision does not change it.
  a.advance();
  a.step(40, 3n, looking({ leader: 3n }));
  assert.equal(a.state, ServerState.FOLLOWING);
});

test('replies: a peer in an older round is told ours; once decided, a looking peer is told the leader', () => {
  const members: QuorumMember[] = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' }));
  members.push({ sid: 9n, type: 'observer' });
  const core = new FastLeaderElection({ myId: 3n, members, config: Buffer.from('cfg') }, 0, fresh);
  core.lookForLeader(0, fresh); // round 2
  core.advance();
  core.step(5, 1n, looking({ leader: 1n, electionEpoch: 1n }));
  const reply = core.ready().messages;
  assert.equal(reply.length, 1);
  assert.equal(reply[0]!.to, 1n);
  assert.equal(reply[0]!.notification.electionEpoch, 2n);
  assert.equal(reply[0]!.notification.leader, 3n);
  assert.equal(reply[0]!.notification.config?.toString(), 'cfg');
  core.advance();
  // Round 2 votes from 1 and 2 for us: quorum, then 200 ms of silence.
  core.step(10, 1n, looking({ leader: 3n, electionEpoch: 2n }));
  core.step(11, 2n, looking({ leader: 3n, electionEpoch: 2n }));
  core.tick(211);
  assert.equal(core.state, ServerState.LEADING);
  core.advance();
  core.step(300, 2n, looking({ leader: 2n, electionEpoch: 3n }));
  const told = core.ready().messages;
  assert.equal(told.length, 1);
  assert.equal(told[0]!.notification.state, ServerState.LEADING);
  assert.equal(told[0]!.notification.leader, 3n);
  assert.equal(told[0]!.notification.electionEpoch, 2n);
  core.advance();
  // After discovery the answer carries the new epoch.
  core.updateElectionVote(4n);
  core.step(300, 2n, looking({ leader: 2n, electionEpoch: 3n }));
  assert.equal(core.ready().messages[0]!.notification.peerEpoch, 4n);
  assert.equal(core.currentVote.electionEpoch, 2n, 'only the epoch changes');
  core.advance();
  // A FOLLOWING notification to a decided server needs no answer.
  core.step(301, 2n, { ...looking({ leader: 3n, electionEpoch: 2n }), state: ServerState.FOLLOWING });
  assert.equal(core.ready().messages.length, 0);
  // An observer always gets an answer; garbage states from voters are dropped.
  core.step(302, 9n, looking({ leader: LONG_MIN, zxid: LONG_MIN, peerEpoch: LONG_MIN }));
  assert.equal(core.ready().messages.length, 1);
  core.advance();
  core.step(303, 1n, { ...looking({ leader: 3n }), state: 7 });
  assert.equal(core.ready().messages.length, 0);
});

test('an observer learns the leader without being counted', () => {
  const list: SimServer[] = [...servers(3), { sid: 10n, history: fresh, type: 'observer' }];
  const sim = new ElectionSim(list, 21);
  assert.ok(sim.run(10_000, allDecided(sim, [1n, 2n, 3n, 10n])));
  assertOneLeader(sim, 3n, [1n, 2n, 3n]);
  assert.equal(sim.decisions.get(10n)!.state, ServerState.OBSERVING);
  assert.equal(sim.decisions.get(10n)!.vote.leader, 3n);
});

test('an observer alone with one voter is not a quorum', () => {
  const list: SimServer[] = [...servers(3), { sid: 10n, history: fresh, type: 'observer' }];
  const sim = new ElectionSim(list, 22);
  sim.partition([1n], [2n, 3n]);
  sim.partition([10n], [2n, 3n]);
  sim.run(20_000);
  assert.ok(!sim.decisions.has(1n), 'server 1 and the observer together are not a majority of 3 voters');
});

test('a server whose log reads zxid -1 ignores looking votes, and so do peers for its votes', () => {
  const members = [1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }));
  const core = new FastLeaderElection({ myId: 1n, members, config: Buffer.alloc(0) }, 0, fresh);
  core.step(1, 3n, looking({ leader: 3n, zxid: -1n }));
  assert.equal(core.proposedVote.leader, 1n);
  core.step(2, 3n, looking({ leader: 3n }));
  assert.equal(core.proposedVote.leader, 3n);
});

test('Vote equality follows ZooKeeper: LOOKING compares all, established compares leader and epoch', () => {
  const base = { leader: 3n, zxid: 5n, electionEpoch: 2n, peerEpoch: 1n, version: 2 };
  const lookingVote = { ...base, state: ServerState.LOOKING };
  const leading = { ...base, state: ServerState.LEADING };
  assert.ok(votesEqual(lookingVote, leading));
  assert.ok(!votesEqual(lookingVote, { ...leading, zxid: 6n }));
  assert.ok(votesEqual(leading, { ...leading, state: ServerState.FOLLOWING, zxid: 9n, electionEpoch: 7n }));
  assert.ok(!votesEqual(leading, { ...leading, state: ServerState.FOLLOWING, peerEpoch: 2n }));
  assert.ok(votesEqual(leading, { ...leading, state: ServerState.FOLLOWING, peerEpoch: 2n, version: 0 }), 'mixed versions: leader only');
});

test('zero-weight servers are never preferred', () => {
  const members = [
    { sid: 1n, type: 'participant' as const },
    { sid: 2n, type: 'participant' as const },
    { sid: 3n, type: 'participant' as const, weight: 0 },
  ];
  const core = new FastLeaderElection({ myId: 1n, members, config: Buffer.alloc(0) }, 0, fresh);
  core.step(1, 3n, looking({ leader: 3n, zxid: 100n }));
  assert.equal(core.proposedVote.leader, 1n);
});

test('the same seed gives the same run; many seeds always agree on one leader', () => {
  const histories = (sid: bigint): LocalHistory => ({ lastLoggedZxid: makeZxid(1n, BigInt(Number(sid) % 3)), currentEpoch: 1n });
  const runOnce = (seed: number): string => {
    const list = servers(5, histories).map((s, i) => ({ ...s, startAt: (seed * 37 * (i + 1)) % 700 }));
    const sim = new ElectionSim(list, seed, [1, 120]);
    assert.ok(sim.run(60_000, allDecided(sim, [1n, 2n, 3n, 4n, 5n])), `seed ${seed} decided`);
    assert.equal(sim.leaders().size, 1, `seed ${seed}: one leader`);
    return JSON.stringify(sim.trace, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + sim.messagesDelivered;
  };
  assert.equal(runOnce(42), runOnce(42));
  assert.notEqual(runOnce(42), runOnce(43));
  for (let seed = 1; seed <= 150; seed++) runOnce(seed);
});

test('links flapping during the election: once healed, every server decides, all on one leader', () => {
  const sids = [1n, 2n, 3n, 4n, 5n];
  for (let seed = 1; seed <= 200; seed++) {
    const list = sids.map((sid) => ({ sid, history: { lastLoggedZxid: BigInt(seed % Number(sid)), currentEpoch: 0n } }));
    const sim = new ElectionSim(list, seed, [1, 80]);
    const flaps = new Prng(seed * 7919);
    // Every 100 ms for 3 s, cut or heal one random link (in-flight messages on a cut link are
    // lost; a healed link repeats the last message, as a new connection does).
    for (let at = 0; at < 3000; at += 100) {
      sim.run(at);
      const a = flaps.pick(sids);
      const b = flaps.pick(sids);
      if (a !== b) sim.partition([a], [b], flaps.bool());
    }
    sim.partition(sids, sids, false);
    assert.ok(sim.run(200_000, allDecided(sim, sids)), `seed ${seed}: everyone decided after healing`);
    assert.equal(sim.leaders().size, 1, `seed ${seed}: one leader`);
    const leader = [...sim.leaders()][0]!;
    assert.equal(sim.decisions.get(leader)!.state, ServerState.LEADING, `seed ${seed}: the leader leads`);
  }
});
