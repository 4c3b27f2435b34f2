/**
 * What the tests of a quorum driver against a scripted peer on loopback share: a listener, a
 * reader of whole packets from a byte stream, and waiting on the peer's event list.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { decodeQuorumPacket, quorumPacketLength, type QuorumPacket } from '../../src/consensus/wire.js';
import { Waiters } from '../support/waiters.js';

/** Calls `onPacket` for each whole quorum packet arriving on `socket`, however its bytes are split. */
export function readQuorumPackets(socket: Socket, onPacket: (p: QuorumPacket) => void): void {
  let input = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    input = Buffer.concat([input, chunk]);
    for (let len = quorumPacketLength(input); len !== null; len = quorumPacketLength(input)) {
      const p = decodeQuorumPacket(input.subarray(0, len));
      input = input.subarray(len);
      onPacket(p);
    }
  });
  socket.on('error', () => undefined);
}

/** A server on an ephemeral loopback port, handing each connection to `onSocket`. */
export async function listenLoopback(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

/** Waits for entries of a test's event list; whoever pushes an entry the test waits on calls `wake()`. */
export class EventWaiters extends Waiters {
  constructor(private readonly events: string[]) {
    super();
  }

  /** Resolves once `what` is in the list. */
  async arrived(what: string, timeoutMs: number): Promise<void> {
    await this.until(() => this.events.includes(what), timeoutMs, () => `no "${what}" within ${timeoutMs} ms: ${this.events.join(', ')}`);
  }
}
