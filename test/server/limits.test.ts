import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { JuteReader, JuteWriter } from '../../src/jute/binary.js';
import { Err, OpCode } from '../../src/jute/constants.js';
import { ConnectResponseBase, ReplyHeader } from '../../src/jute/records.js';
import { FrameDecoder } from '../../src/jute/framing.js';
import { RawClient } from '../support/rawclient.js';
import { client, create, withServer } from './helpers.js';

/** Frames from a socket, as they arrive. */
function frames(sock: Socket): () => Promise<Buffer> {
  const decoder = new FrameDecoder(1 << 20);
  const ready: Buffer[] = [];
  let wake: (() => void) | null = null;
  sock.on('data', (chunk: Buffer) => {
    ready.push(...decoder.push(chunk));
    wake?.();
  });
  return async () => {
    while (ready.length === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    return ready.shift()!;
  };
}

test('a 3.3-era client without the readOnly byte connects and is served', async () => {
  await withServer({}, async (s) => {
    const sock = netConnect({ port: s.port, host: '127.0.0.1' });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const next = frames(sock);
    const w = new JuteWriter();
    const at = w.beginFrame();
    w.int(0).longNumber(0).int(10_000).long(0n).buffer(Buffer.alloc(16)); // no readOnly byte
    w.endFrame(at);
    sock.write(w.bytes());
    const hello = await next();
    const resp = ConnectResponseBase.read(new JuteReader(hello));
    assert.equal(resp.timeOut, 10_000);
    assert.notEqual(resp.sessionId, 0n);
    sock.write(RawClient.encode(1, { type: OpCode.exists, path: '/zookeeper', watch: false }));
    const reply = ReplyHeader.read(new JuteReader(await next()));
    assert.deepEqual([reply.xid, reply.err], [1, Err.OK]);
    sock.destroy();
  });
});

test('globalOutstandingLimit throttles reading without losing or reordering requests', async () => {
  await withServer({ globalOutstandingLimit: 5 }, async (s) => {
    const clients = await Promise.all([client(s), client(s), client(s)]);
    await clients[0]!.send(create('/t'));
    const all = clients.flatMap((c, k) =>
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0 ? c.send(create(`/t/c${k}-${i}`)) : c.send({ type: OpCode.exists, path: `/t/c${k}-${i - 1}`, watch: false }),
      ),
    );
    const replies = await Promise.all(all);
    assert.ok(replies.every((r) => r.header.err === Err.OK), 'every request answered, reads after their own writes');
    assert.equal(s.server.server.outstandingRequests(), 0);
    for (const c of clients) await c.close();
  });
});
