/**
 * Runs a quorum SASL handshake (src/auth/quorum-auth.ts) on a connection between servers, right
 * after connect or accept and before the election or learner protocol: the handshake reads the
 * socket until it ends, then hands over what it read past its last packet.
 *
 * The result arrives through a callback called from the socket's own event, never later, so
 * the caller attaches its protocol reader before any further data is emitted. On failure
 * (refused, or no answer within the timeout) the caller closes the socket.
 */
import type { Socket } from 'node:net';
import { newSaslNonce } from '../../auth/load.js';
import { QuorumAuthLearner, QuorumAuthServer, type HandshakeResult, type HandshakeStep, type QuorumSasl } from '../../auth/quorum-auth.js';

export type { QuorumSasl } from '../../auth/quorum-auth.js';

interface Handshake {
  push(chunk: Buffer): HandshakeStep;
  end(): HandshakeStep;
}

/** The connecting side: authenticates to the peer when quorum.auth.learnerRequireSasl says so. */
export function authenticateToPeer(socket: Socket, sasl: QuorumSasl, timeoutMs: number, done: (result: HandshakeResult) => void): void {
  const learner = new QuorumAuthLearner(sasl, newSaslNonce());
  run(socket, learner, learner.start(), Buffer.alloc(0), timeoutMs, done);
}

/** The accepting side; `already` is what was read after the preamble (election) or nothing (learner). */
export function authenticatePeer(socket: Socket, sasl: QuorumSasl, already: Buffer, timeoutMs: number, done: (result: HandshakeResult) => void): void {
  run(socket, new QuorumAuthServer(sasl, newSaslNonce()), null, already, timeoutMs, done);
}

function run(socket: Socket, handshake: Handshake, first: HandshakeStep | null, already: Buffer, timeoutMs: number, done: (result: HandshakeResult) => void): void {
  let finished = false;
  const cleanup = (): void => {
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
  };
  const apply = (step: HandshakeStep): boolean => {
    if (finished) return true;
    for (const bytes of step.send) if (socket.writable) socket.write(bytes);
    if (step.result === null) return false;
    cleanup();
    done(step.result);
    return true;
  };
  const onData = (chunk: Buffer): void => void apply(handshake.push(chunk));
  const onEnd = (): void => void apply(handshake.end());
  const timer = setTimeout(() => {
    if (finished) return;
    cleanup();
    done({ ok: false, reason: `quorum SASL authentication did not finish within ${timeoutMs} ms` });
  }, timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  if (first !== null && apply(first)) return;
  if (already.length > 0) apply(handshake.push(already));
}
