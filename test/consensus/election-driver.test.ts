import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { ElectionDriver, ElectionFrames } from '../../src/server/quorum/election-driver.js';
import { type QuorumServerSpec } from '../../src/consensus/members.js';
import { ServerState, encodePreamble, PROTOCOL_VERSION_V1, encodeNotification, type Notification } from '../../src/consensus/wire.js';
import { freePort } from '../support/ports.js';

async function ensemble(count: number): Promise<QuorumServerSpec[]> {
  const specs: QuorumServerSpec[] = [];
  for (let i = 1; i <= count; i++) {
    specs.push({ sid: BigInt(i), type: 'participant', host: '127.0.0.1', quorumPort: await freePort(), electionPort: await freePort() });
  }
  return specs;
}

const fresh = { lastLoggedZxid: 0n, currentEpoch: 0n };

async function withDrivers(drivers: ElectionDriver[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await Promise.all(drivers.map((d) => d.stop()));
  }
}

test('three election drivers on loopback elect the highest sid over real sockets', { timeout: 30_000 }, async () => {
  const specs = await ensemble(3);
  const drivers = specs.map((s) => new ElectionDriver({ myId: s.sid, servers: specs, history: fresh }));
  await withDrivers(drivers, async () => {
    // Start in an order where smaller sids come first, so connections are refused, dropped
    // (smaller to larger) and made again the other way.
    for (const d of drivers) await d.start();
    const decisions = await Promise.all(drivers.map((d) => d.waitForDecision(10_000)));
    assert.deepEqual(
      decisions.map((d) => [d.state, d.vote.leader]),
      [
        [ServerState.FOLLOWING, 3n],
        [ServerState.FOLLOWING, 3n],
        [ServerState.LEADING, 3n],
      ],
    );
  });
});

test('a restarted round over live connections elects the same leader in the next round', { timeout: 30_000 }, async () => {
  const specs = await ensemble(3);
  const histories = [fresh, { lastLoggedZxid: 0x100000005n, currentEpoch: 1n }, fresh];
  const drivers = specs.map((s, i) => new ElectionDriver({ myId: s.sid, servers: specs, history: histories[i]! }));
  await withDrivers(drivers, async () => {
    await Promise.all(drivers.map((d) => d.start()));
    const first = await Promise.all(drivers.map((d) => d.waitForDecision(10_000)));
    assert.deepEqual(first.map((d) => d.vote.leader), [2n, 2n, 2n], 'the highest zxid wins');
    for (const [i, d] of drivers.entries()) d.lookForLeader(histories[i]!);
    const second = await Promise.all(drivers.map((d) => d.waitForDecision(10_000)));
    assert.deepEqual(second.map((d) => [d.vote.leader, d.vote.electionEpoch]), [
      [2n, 2n],
      [2n, 2n],
      [2n, 2n],
    ]);
  });
});

async function rawPeer(port: number, bytes: Buffer): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  // Read (and drop) what the driver sends, so its close reaches us; a reset is a close too.
  socket.resume();
  socket.on('error', () => undefined);
  socket.write(bytes);
  return socket;
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

test('bad preambles and frames are rejected with the connection, and the driver keeps working', { timeout: 30_000 }, async () => {
  const specs = await ensemble(3);
  const driver = new ElectionDriver({ myId: 1n, servers: specs, history: fresh });
  const reasons: string[] = [];
  driver.on('rejected', (r) => reasons.push(r));
  await withDrivers([driver], async () => {
    await driver.start();
    const port = specs[0]!.electionPort;
    const badVersion = Buffer.alloc(8);
    badVersion.writeBigInt64BE(-3n);
    const s1 = await rawPeer(port, badVersion);
    await closed(s1);
    const hugeAddress = Buffer.alloc(20);
    hugeAddress.writeBigInt64BE(PROTOCOL_VERSION_V1, 0);
    hugeAddress.writeBigInt64BE(3n, 8);
    hugeAddress.writeInt32BE(1 << 30, 16);
    const s2 = await rawPeer(port, hugeAddress);
    await closed(s2);
    // A well-formed peer 3 whose second frame claims 1 GB: the first frame is used, then the
    // connection is dropped.
    const notification: Notification = {
      state: ServerState.LOOKING,
      leader: 3n,
      zxid: 0n,
      electionEpoch: 1n,
      peerEpoch: 0n,
      version: 2,
      config: Buffer.alloc(0),
    };
    const payload = encodeNotification(notification);
    const frame = Buffer.alloc(4 + payload.length);
    frame.writeInt32BE(payload.length);
    payload.copy(frame, 4);
    const tooBig = Buffer.alloc(4);
    tooBig.writeInt32BE(1 << 30);
    const gotVote = once(driver, 'notification');
    const s3 = await rawPeer(
      port,
      Buffer.concat([encodePreamble({ protocolVersion: PROTOCOL_VERSION_V1, sid: 3n, addresses: ['127.0.0.1:1'] }), frame, tooBig]),
    );
    const [from, n] = (await gotVote) as [bigint, Notification];
    assert.equal(from, 3n);
    assert.equal(n.leader, 3n);
    await closed(s3);
    assert.ok(reasons.some((r) => /unrecognized protocol version/.test(r)), reasons.join('; '));
    assert.ok(reasons.some((r) => /unreasonable address length/.test(r)), reasons.join('; '));
    assert.ok(reasons.some((r) => /out of range/.test(r)), reasons.join('; '));
    assert.equal(driver.state, ServerState.LOOKING, 'one vote is no quorum');
  });
});

test('election frames split a stream read a byte at a time, and a bad length ends it after the good frames', () => {
  const frameOf = (payload: Buffer): Buffer => {
    const f = Buffer.alloc(4 + payload.length);
    f.writeInt32BE(payload.length);
    payload.copy(f, 4);
    return f;
  };
  const payloads = [Buffer.from('first'), Buffer.alloc(300, 7), Buffer.from('x')];
  const stream = Buffer.concat(payloads.map(frameOf));
  const frames = new ElectionFrames();
  const got: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) {
    const r = frames.push(stream.subarray(i, i + 1));
    assert.equal(r.error, null);
    got.push(...r.frames.map((f) => Buffer.from(f)));
  }
  assert.deepEqual(got, payloads);
  const zero = Buffer.alloc(4);
  const r = new ElectionFrames().push(Buffer.concat([frameOf(Buffer.from('ok')), zero, frameOf(Buffer.from('lost'))]));
  assert.deepEqual(r.frames, [Buffer.from('ok')]);
  assert.match(r.error ?? '', /frame length 0 out of range/);
  const tooBig = Buffer.alloc(4);
  tooBig.writeInt32BE(512 * 1024 + 1);
  assert.match(new ElectionFrames().push(tooBig).error ?? '', /out of range/);
});

test('a pre-3.5 peer (sid-only preamble, 28-byte notifications) is understood', { timeout: 30_000 }, async () => {
  const specs = await ensemble(3);
  const driver = new ElectionDriver({ myId: 1n, servers: specs, history: fresh });
  await withDrivers([driver], async () => {
    await driver.start();
    const legacy = encodeNotification(
      { state: ServerState.LOOKING, leader: 2n, zxid: 0x300000001n, electionEpoch: 1n, peerEpoch: 0n, version: 0, config: null },
      28,
    );
    const frame = Buffer.alloc(4 + legacy.length);
    frame.writeInt32BE(legacy.length);
    legacy.copy(frame, 4);
    const gotVote = once(driver, 'notification');
    const replied = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      void rawPeer(specs[0]!.electionPort, Buffer.concat([encodePreamble({ protocolVersion: null, sid: 2n, addresses: [] }), frame])).then((s) => {
        s.on('data', (d: Buffer) => {
          chunks.push(d);
          const all = Buffer.concat(chunks);
          if (all.length < 4 || all.length < 4 + all.readInt32BE(0)) return;
          resolve(all);
          s.destroy();
        });
      });
    });
    const [from, n] = (await gotVote) as [bigint, Notification];
    assert.equal(from, 2n);
    assert.equal(n.peerEpoch, 3n, 'taken from the zxid');
    // Server 1 adopts 2's better vote and tells everyone, 2 included, over the kept connection.
    const reply = await replied;
    assert.ok(reply.readInt32BE(0) >= 44);
    assert.equal(driver.state, ServerState.LOOKING);
  });
});

test('stop() ends a wait for a decision at once instead of at its timeout', { timeout: 10_000 }, async () => {
  const specs = await ensemble(3);
  // Alone, the member looks for a leader until stopped.
  const driver = new ElectionDriver({ myId: 1n, servers: specs, history: fresh });
  await driver.start();
  const waiting = driver.waitForDecision(60_000);
  const began = Date.now();
  await driver.stop();
  await assert.rejects(waiting, /election stopped/);
  assert.ok(Date.now() - began < 5_000, 'rejected by stop, not by the 60 s timeout');
  await assert.rejects(driver.waitForDecision(60_000), /election stopped/);
});
