/**
 * The learner driver over an asynchronous store (as DiskQuorumStore is): every Ready is durable
 * before anything of it is sent, in the Ready's order, and a write that fails ends the
 * connection without an acknowledgement. A scripted leader on loopback records what arrives;
 * the store records when each write settles, in the same event list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { encodeIntPayload, encodeQuorumPacket, PacketType } from '../../src/consensus/wire.js';
import { makeZxid, type Zxid } from '../../src/consensus/zxid.js';
import { asyncStore, MemoryLearnerStore, QuorumLearner, type QuorumStore } from '../../src/server/quorum/learner-driver.js';
import { createTxn, pkt } from './fixtures.js';
import { EventWaiters, listenLoopback, readQuorumPackets } from './scripted-peer.js';

const NEWLEADER_ZXID = makeZxid(2n, 0n);
const Z1 = makeZxid(1n, 1n);
const Z2 = makeZxid(2n, 1n);

/** Discovery, then a DIFF with one committed txn, NEWLEADER, UPTODATE and one PROPOSAL; records what arrives. */
async function scriptedLeader(events: string[]): Promise<{ server: Server; port: number; arrived: (what: string, timeoutMs: number) => Promise<void> }> {
  const waiters = new EventWaiters(events);
  const { server, port } = await listenLoopback((socket) => {
    readQuorumPackets(socket, (p) => {
      events.push(`recv ${p.type} ${p.zxid}`);
      waiters.wake();
      if (p.type === PacketType.FOLLOWERINFO) socket.write(encodeQuorumPacket(pkt(PacketType.LEADERINFO, NEWLEADER_ZXID, encodeIntPayload(0x10000))));
      if (p.type === PacketType.ACKEPOCH) {
        socket.write(
          Buffer.concat([
            encodeQuorumPacket(pkt(PacketType.DIFF, Z1)),
            encodeQuorumPacket(pkt(PacketType.PROPOSAL, Z1, createTxn(Z1, '/synced'))),
            encodeQuorumPacket(pkt(PacketType.COMMIT, Z1)),
            encodeQuorumPacket(pkt(PacketType.NEWLEADER, NEWLEADER_ZXID, Buffer.from('version=0'))),
            encodeQuorumPacket(pkt(PacketType.UPTODATE, -1n)),
            encodeQuorumPacket(pkt(PacketType.PROPOSAL, Z2, createTxn(Z2, '/proposed'))),
          ]),
        );
      }
    });
    socket.on('close', () => {
      events.push('connection closed');
      waiters.wake();
    });
  });
  return { server, port, arrived: (what, timeoutMs) => waiters.arrived(what, timeoutMs) };
}

/**
 * A memory store whose writes settle a few milliseconds late (as fsyncs do) and say so in
 * `events`; `failAppend` makes the append of that zxid fail.
 */
function slowStore(events: string[], failAppend: Zxid | null = null): QuorumStore {
  const inner = asyncStore(new MemoryLearnerStore());
  const late = <T>(what: string, op: () => Promise<T>): Promise<T> =>
    new Promise((resolve, reject) => {
      setTimeout(() => {
        op().then((v) => {
          events.push(`durable ${what}`);
          resolve(v);
        }, reject);
      }, 5);
    });
  return {
    get acceptedEpoch() {
      return inner.acceptedEpoch;
    },
    get currentEpoch() {
      return inner.currentEpoch;
    },
    get lastLoggedZxid() {
      return inner.lastLoggedZxid;
    },
    get fullSyncNeeded() {
      return inner.fullSyncNeeded;
    },
    history: () => inner.history(),
    reset: (entries, committed) => late('reset', () => inner.reset(entries, committed)),
    installZkSnapshot: (zxid, snap) => late(`snapshot ${zxid}`, () => inner.installZkSnapshot(zxid, snap)),
    truncate: (zxid) => late(`truncate ${zxid}`, () => inner.truncate(zxid)),
    appendThen: (zxid, bytes, done) => {
      if (BigInt(zxid) === failAppend) {
        setTimeout(() => done(new Error('disk full')), 5);
        return;
      }
      late(`append ${zxid}`, () => new Promise<void>((resolve, reject) => inner.appendThen(zxid, bytes, (err) => (err ? reject(err) : resolve())))).then(
        () => done(null),
        (err: Error) => done(err),
      );
    },
    setAcceptedEpoch: (epoch) => late(`acceptedEpoch ${epoch}`, () => inner.setAcceptedEpoch(epoch)),
    setCurrentEpoch: (epoch) => late(`currentEpoch ${epoch}`, () => inner.setCurrentEpoch(epoch)),
    beginEpochUpdate: () => late('updatingEpoch created', () => inner.beginEpochUpdate()),
    whenIdle: () => inner.whenIdle(),
  };
}

function before(events: string[], first: string, then: string): void {
  const a = events.indexOf(first);
  const b = events.indexOf(then);
  assert.ok(a !== -1, `"${first}" happened: ${events.join(', ')}`);
  assert.ok(b !== -1, `"${then}" happened: ${events.join(', ')}`);
  assert.ok(a < b, `"${first}" before "${then}": ${events.join(', ')}`);
}

test('each Ready is durable before it is sent: ACKEPOCH after acceptedEpoch, NEWLEADER\'s ACK after the DIFF\'s txn and currentEpoch, a PROPOSAL\'s ACK after its append', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const leader = await scriptedLeader(events);
  const learner = new QuorumLearner({ myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store: slowStore(events), tickTimeMs: 50, initLimit: 40, syncLimit: 20 });
  try {
    await learner.start();
    await leader.arrived(`recv ${PacketType.ACK} ${Z2}`, 10_000);
    before(events, 'durable acceptedEpoch 2', `recv ${PacketType.ACKEPOCH} 0`);
    before(events, `durable append ${Number(Z1)}`, 'durable currentEpoch 2');
    // The DIFF's txns and currentEpoch are written under the updatingEpoch marker.
    before(events, 'durable updatingEpoch created', `durable append ${Number(Z1)}`);
    before(events, 'durable currentEpoch 2', `recv ${PacketType.ACK} ${NEWLEADER_ZXID}`);
    before(events, `durable append ${Number(Z2)}`, `recv ${PacketType.ACK} ${Z2}`);
    assert.ok(learner.tree.getNode('/synced'), 'the committed txn of the DIFF is applied');
    assert.equal(learner.tree.getNode('/proposed'), undefined, 'an uncommitted proposal is not applied');
  } finally {
    await learner.stop();
    leader.server.close();
  }
});

test('a failed append ends the connection: the proposal is never acknowledged', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const leader = await scriptedLeader(events);
  const learner = new QuorumLearner({ myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store: slowStore(events, Z2), tickTimeMs: 50, initLimit: 40, syncLimit: 20 });
  try {
    const closed = new Promise<string>((resolve) => learner.once('closed', resolve));
    await learner.start();
    const reason = await closed;
    assert.match(reason, /could not persist: disk full/);
    // Everything the learner wrote has arrived once the leader sees the connection close.
    await leader.arrived('connection closed', 10_000);
    assert.ok(events.includes(`recv ${PacketType.ACK} ${NEWLEADER_ZXID}`), `the sync was acknowledged: ${events.join(', ')}`);
    assert.ok(!events.includes(`recv ${PacketType.ACK} ${Z2}`), `no ACK for the proposal that was not logged: ${events.join(', ')}`);
  } finally {
    await learner.stop();
    leader.server.close();
  }
});

test('a DIFF whose txns are of the durable currentEpoch needs no updatingEpoch marker', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const leader = await scriptedLeader(events);
  const store = slowStore(events);
  // This learner took part in epoch 1: the DIFF's txn (of epoch 1) is not ahead of its currentEpoch.
  await store.setAcceptedEpoch(1n);
  await store.setCurrentEpoch(1n);
  events.length = 0;
  const learner = new QuorumLearner({ myId: 3n, leader: { host: '127.0.0.1', port: leader.port }, store, tickTimeMs: 50, initLimit: 40, syncLimit: 20 });
  try {
    await learner.start();
    await leader.arrived(`recv ${PacketType.ACK} ${Z2}`, 10_000);
    assert.ok(!events.includes('durable updatingEpoch created'), `no marker: ${events.join(', ')}`);
    before(events, 'durable acceptedEpoch 2', `recv ${PacketType.ACKEPOCH} 0`);
    before(events, `durable append ${Number(Z1)}`, 'durable currentEpoch 2');
    before(events, 'durable currentEpoch 2', `recv ${PacketType.ACK} ${NEWLEADER_ZXID}`);
    assert.ok(learner.tree.getNode('/synced'));
  } finally {
    await learner.stop();
    leader.server.close();
  }
});
