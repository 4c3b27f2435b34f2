import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { CreateMode, Err, OpCode } from '../../src/jute/constants.js';
import type { Stat } from '../../src/jute/records.js';
import type { Request } from '../../src/jute/requests.js';
import { RawClient, withTimeout } from '../support/rawclient.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { client, create, OPEN, withServer } from './helpers.js';

// End-to-end over TCP, where the socket matters: connection handling of unknown opcodes,
// framing limits, per-address limits, four-letter words, back-pressure and zero-copy output.
// The pipeline's own logic is tested without sockets in pipeline.test.ts.

test('an unknown opcode gets UNIMPLEMENTED and the connection is closed, the session kept (as ZooKeeper)', async () => {
  await withServer({}, async (s) => {
    const c = await client(s);
    const reply = await c.send({ type: 4242 } as unknown as Request);
    assert.equal(reply.header.err, Err.UNIMPLEMENTED);
    await withTimeout(c.closed, 5000, 'the server closes the connection');
    const again = await RawClient.connect('127.0.0.1', s.port, { sessionId: c.sessionId, passwd: c.session.passwd ?? undefined });
    const ok = await again.send({ type: OpCode.exists, path: '/', watch: false });
    assert.equal(ok.header.err, Err.OK);
    await again.close();
  });
});

test('a frame over jute.maxbuffer closes that connection only', async () => {
  await withServer({ juteMaxBuffer: 4096 }, async (s) => {
    const bad = await client(s);
    const good = await client(s);
    const big = await bad.send(create('/big', 'x'.repeat(5000))).catch((e: Error) => e);
    assert.ok(big instanceof Error, 'the oversized request fails because the connection closed');
    const ok = await good.send(create('/small', 'x'));
    assert.equal(ok.header.err, Err.OK);
    await good.close();
  });
});

test('maxClientCnxns limits connections per address', async () => {
  await withServer({ maxClientCnxns: 2 }, async (s) => {
    const a = await client(s);
    const b = await client(s);
    await assert.rejects(RawClient.connect('127.0.0.1', s.port, { handshakeTimeoutMs: 5000 }));
    await a.close();
    await b.close();
  });
});

test('four-letter words honour the whitelist', async () => {
  await withServer({ fourLetterWhitelist: new Set(['ruok', 'srvr']) }, async (s) => {
    assert.equal(await fourLetterWord(s.port, 'ruok'), 'imok');
    assert.match(await fourLetterWord(s.port, 'srvr'), /Mode: standalone/);
    assert.equal(await fourLetterWord(s.port, 'mntr'), 'mntr is not executed because it is not in the whitelist.\n');
  });
});

test('a client that never reads its replies is paused and cannot grow server memory without bound', async () => {
  await withServer({ maxOutboundBytesPerConnection: 64 * 1024 }, async (s) => {
    const setup = await client(s);
    await setup.send(create('/fat', 'x'.repeat(100_000)));
    const sock = netConnect({ port: s.port, host: '127.0.0.1' });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.pause(); // never read
    const hello = Buffer.alloc(4 + 45);
    hello.writeInt32BE(45, 0);
    hello.writeInt32BE(10_000, 16); // timeOut; everything else zero
    hello.writeInt32BE(16, 28);
    sock.write(hello);
    const req = RawClient.encode(1, { type: OpCode.getData, path: '/fat', watch: false });
    for (let i = 0; i < 200; i++) sock.write(req);
    // Other clients are still served while the slow one is stuck.
    const ok = await setup.send({ type: OpCode.getData, path: '/fat', watch: false });
    assert.equal(ok.header.err, Err.OK);
    const queued = s.server.server.outstandingRequests();
    assert.ok(queued <= 201, `requests queued for the slow client stay bounded (${queued})`);
    sock.destroy();
    await setup.close();
  });
});

test('four-letter words report state', async () => {
  await withServer({}, async (s) => {
    const c = await client(s);
    await c.send(create('/eph4', '', CreateMode.EPHEMERAL));
    await c.send({ type: OpCode.getData, path: '/eph4', watch: true });
    assert.match(await fourLetterWord(s.port, 'stat'), /Clients:\n \/127\.0\.0\.1:\d+\[1\]/);
    assert.match(await fourLetterWord(s.port, 'mntr'), /zk_znode_count\t6\n/);
    assert.match(await fourLetterWord(s.port, 'wchs'), /1 connections watching 1 paths\nTotal watches:1/);
    assert.match(await fourLetterWord(s.port, 'dump'), /\t\/eph4/);
    assert.equal(await fourLetterWord(s.port, 'isro'), 'rw');
    await c.close();
  });
});

test('large values leave without a copy and stay in order among small replies in one turn', async () => {
  await withServer({}, async (s) => {
    const c = await client(s);
    const big = Buffer.alloc(200 * 1024, 7);
    big.write('head', 0);
    big.write('tail', big.length - 4);
    const mid = Buffer.alloc(20 * 1024, 3);
    await c.send({ type: OpCode.create, path: '/big', data: big, acl: OPEN, flags: 0, ttl: -1 });
    await c.send({ type: OpCode.create, path: '/mid', data: mid, acl: OPEN, flags: 0, ttl: -1 });
    await c.send(create('/small', 'x'));
    const reads = ['/big', '/small', '/mid', '/big', '/missing', '/small', '/mid'].map((path) =>
      c.send({ type: OpCode.getData, path, watch: false }),
    );
    const replies = await Promise.all(reads);
    const datas = replies.map((r) => (r.body as { data: Buffer } | null)?.data ?? null);
    assert.ok(datas[0]!.equals(big) && datas[3]!.equals(big));
    assert.ok(datas[2]!.equals(mid) && datas[6]!.equals(mid));
    assert.equal(datas[1]!.toString(), 'x');
    assert.equal(replies[4]!.header.err, Err.NONODE);
    assert.equal((replies[0]!.body as { stat: Stat }).stat.dataLength, big.length);
    // The stored value is untouched by being sent: a later set replaces it, reads see the new one.
    await c.send({ type: OpCode.setData, path: '/big', data: mid, version: -1 });
    const again = await c.send({ type: OpCode.getData, path: '/big', watch: false });
    assert.ok((again.body as { data: Buffer }).data.equals(mid));
    await c.close();
  });
});

