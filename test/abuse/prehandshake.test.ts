/**
 * Bytes before the handshake, fed to a Connection in-process one small chunk at a time (over
 * TCP the kernel may join chunks, hiding the cost): buffering them must be linear in their size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Connection, EventFrames, type ConnectionHost } from '../../src/server/connection.js';
import { silentLogger } from '../../src/server/logger.js';
import type { RequestPipeline } from '../../src/pipeline/pipeline.js';

/** Just enough of a net.Socket for a Connection that only receives. */
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  writableLength = 0;
  writableNeedDrain = false;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

test('a 1 MB frame dribbled in 100-byte chunks before the handshake is buffered in linear time', () => {
  let connects = 0;
  const host: ConnectionHost = {
    server: { connect: () => connects++, lastZxid: () => 0 } as unknown as RequestPipeline,
    logger: silentLogger,
    fourLetterWord: () => null,
    connectionClosed: () => undefined,
    replySent: () => undefined,
    throttle: () => undefined,
    adjustOutbound: () => undefined,
    outboundFull: () => false,
    nextConnectionId: () => 1,
    eventFrames: new EventFrames(),
  };
  const socket = new FakeSocket();
  const conn = new Connection(socket as unknown as Socket, host, { maxFrameBytes: 0xfffff, maxOutboundBytes: 1 << 23, handshakeTimeoutMs: 60_000 });
  // A ConnectRequest padded to 1 MB: the fields, then zeros the server ignores.
  const bytes = 1_000_000;
  const frame = Buffer.alloc(4 + bytes);
  frame.writeInt32BE(bytes, 0);
  frame.writeInt32BE(30_000, 16);
  const started = process.hrtime.bigint();
  for (let at = 0; at < frame.length; at += 100) socket.emit('data', frame.subarray(at, at + 100));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(connects, 1, 'the frame was received whole, once');
  // Joining everything held on every chunk took seconds here (about 5 GB copied).
  assert.ok(ms < 500, `10,000 chunks took ${ms.toFixed(0)} ms`);
  conn.destroy();
});
