/**
 * The leader driver over an asynchronous store: acceptedEpoch is durable before LEADERINFO leaves,
 * currentEpoch before the leader establishes (its sync goes out while it is written, as
 * ZooKeeper's learner handlers send it while Leader.lead writes it), and the leader's own ACK of a proposal counts only once its append is durable
 * (with one follower of three, that ACK is what commits). A scripted follower on loopback records
 * what arrives; the store records when each write settles, in the same event list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { encodeIntPayload, encodeLearnerInfo, encodeQuorumPacket, PacketType, type QuorumPacket } from '../../src/consensus/wire.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { QuorumLeader, type LeaderStore } from '../../src/server/quorum/leader-driver.js';
import { createTxn, pkt, loopbackLeaderOptions } from './fixtures.js';
import { EventWaiters, readQuorumPackets } from './scripted-peer.js';

/** Writes that settle a few milliseconds late and say so in `events`; `failAppends` makes appends fail. */
function slowStore(events: string[], failAppends = false): LeaderStore {
  const late = (what: string, ms = 5): Promise<void> =>
    new Promise((resolve) =>
      setTimeout(() => {
        events.push(`durable ${what}`);
        resolve();
      }, ms),
    );
  return {
    appendThen: (zxid, _bytes, done) => {
      if (failAppends) setTimeout(() => done(new Error('disk full')), 5);
      else void late(`append ${zxid}`).then(() => done(null));
    },
    setAcceptedEpoch: (epoch) => late(`acceptedEpoch ${epoch}`),
    // Slower than a loopback round trip: the follower's NEWLEADER ACK arrives while it is written.
    setCurrentEpoch: (epoch) => late(`currentEpoch ${epoch}`, 100),
  };
}

/** A follower (sid 1, empty history) that goes through discovery and sync and ACKs every PROPOSAL. */
function scriptedFollower(port: number, events: string[]): { socket: Socket; arrived(what: string, timeoutMs: number): Promise<void> } {
  const waiters = new EventWaiters(events);
  const socket = connect({ host: '127.0.0.1', port });
  const send = (p: QuorumPacket): boolean => socket.write(encodeQuorumPacket(p));
  socket.once('connect', () => send(pkt(PacketType.FOLLOWERINFO, 0n, encodeLearnerInfo({ serverid: 1n, protocolVersion: 0x10000, configVersion: 0n }))));
  readQuorumPackets(socket, (p) => {
    events.push(`recv ${p.type} ${p.zxid}`);
    if (p.type === PacketType.LEADERINFO) send(pkt(PacketType.ACKEPOCH, 0n, encodeIntPayload(0)));
    if (p.type === PacketType.NEWLEADER || p.type === PacketType.PROPOSAL) send(pkt(PacketType.ACK, p.zxid));
    waiters.wake();
  });
  socket.on('close', () => {
    events.push('connection closed');
    waiters.wake();
  });
  return { socket, arrived: (what, timeoutMs) => waiters.arrived(what, timeoutMs) };
}

async function startLeader(events: string[], failAppends = false): Promise<{ leader: QuorumLeader; port: number }> {
  const options = await loopbackLeaderOptions(100);
  const port = options.port;
  const leader = new QuorumLeader({ ...options, store: slowStore(events, failAppends) });
  await leader.start();
  return { leader, port };
}

function before(events: string[], first: string, then: string): void {
  const a = events.indexOf(first);
  const b = events.indexOf(then);
  assert.ok(a !== -1 && b !== -1, `"${first}" and "${then}" happened: ${events.join(', ')}`);
  assert.ok(a < b, `"${first}" before "${then}": ${events.join(', ')}`);
}

test('acceptedEpoch is durable before LEADERINFO leaves, currentEpoch before UPTODATE (NEWLEADER goes out meanwhile); with one follower, a proposal commits only after the leader\'s own append is durable', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const { leader, port } = await startLeader(events);
  const follower = scriptedFollower(port, events);
  try {
    await leader.waitEstablished(10_000);
    const z = makeZxid(1n, 1n);
    const committed = leader.propose((zxid) => createTxn(zxid, '/p')).then((zxid) => events.push(`committed ${zxid}`));
    await follower.arrived(`recv ${PacketType.COMMIT} ${z}`, 10_000);
    await committed;
    before(events, 'durable acceptedEpoch 1', `recv ${PacketType.LEADERINFO} ${makeZxid(1n, 0n)}`);
    before(events, `recv ${PacketType.NEWLEADER} ${makeZxid(1n, 0n)}`, 'durable currentEpoch 1');
    before(events, 'durable currentEpoch 1', `recv ${PacketType.UPTODATE} -1`);
    before(events, `durable append ${Number(z)}`, `recv ${PacketType.COMMIT} ${z}`);
    before(events, `durable append ${Number(z)}`, `committed ${z}`);
    assert.ok(leader.tree.getNode('/p'), 'the committed txn is applied');
  } finally {
    follower.socket.destroy();
    await leader.stop();
  }
});

test('a failed append makes the leader step down without committing', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const { leader, port } = await startLeader(events, true);
  const follower = scriptedFollower(port, events);
  try {
    await leader.waitEstablished(10_000);
    const steppedDown = new Promise<string>((resolve) => leader.once('steppedDown', resolve));
    const proposal = leader.propose((zxid) => createTxn(zxid, '/p'));
    await assert.rejects(proposal, /stepped down/);
    assert.match(await steppedDown, /could not log .*disk full/);
    await follower.arrived('connection closed', 10_000);
    assert.ok(!events.some((e) => e.startsWith(`recv ${PacketType.COMMIT} `)), `no COMMIT: ${events.join(', ')}`);
    assert.equal(leader.tree.getNode('/p'), undefined);
  } finally {
    follower.socket.destroy();
    await leader.stop();
  }
});
