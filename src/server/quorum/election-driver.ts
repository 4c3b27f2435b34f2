/**
 * The election port, spoken as QuorumCnxManager speaks it, driving the pure FastLeaderElection
 * core with real time and sockets.
 *
 * Connection rules (QuorumCnxManager 3.8):
 * - Whoever connects first sends the preamble: V1 (-65536), its sid, and "host:port" of its
 *   election address. A peer that sends a non-negative first long is a pre-3.5 server whose
 *   first long is its sid.
 * - Only a connection from the larger sid to the smaller one is kept. A server that connects
 *   to a larger sid sends its preamble and hangs up (the larger one connects back); a server
 *   accepting a connection from a smaller sid hangs up and connects back itself.
 * - A new connection from a peer replaces the old one.
 * - Frames are a 4-byte length and a payload of 1..512 KB; anything else ends the connection.
 * - Each peer has a one-message send queue (the newest message wins); a new connection first
 *   repeats the last message sent when nothing newer waits, since the old connection may have
 *   lost it.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FastLeaderElection, type Decision, type LocalHistory } from '../../consensus/election.js';
import { quorumConfigText, type QuorumServerSpec } from '../../consensus/members.js';
import {
  decodeNotification,
  decodePreamble,
  ELECTION_MAX_FRAME_BYTES,
  encodeNotification,
  encodePreamble,
  formatHostPort,
  OBSERVER_ID,
  PREAMBLE_MAX_ADDRESS_BYTES,
  PROTOCOL_VERSION_V1,
  type Notification,
} from '../../consensus/wire.js';
import { PLAIN_TRANSPORT, type PeerAcceptor, type QuorumTransport } from './quorum-tls.js';
import { authenticatePeer, authenticateToPeer, type QuorumSasl } from './quorum-sasl.js';

export interface ElectionDriverOptions {
  myId: bigint;
  /** Every server of the ensemble, this one included. */
  servers: readonly QuorumServerSpec[];
  history: LocalHistory;
  /** The config text to send; by default quorumConfigText(servers, 0). */
  config?: Buffer;
  /** Address to listen on; by default this server's own election address. */
  listenHost?: string;
  /** cnxTimeout: connect and preamble timeout (ZooKeeper's default 5000 ms). */
  connectTimeoutMs?: number;
  finalizeWaitMs?: number;
  /** Skip the finalize wait when no vote is left to come (FastLeaderElection's finalizeEarly). */
  finalizeEarly?: boolean;
  minNotificationIntervalMs?: number;
  maxNotificationIntervalMs?: number;
  /** How connections are made and accepted: plain TCP by default, TLS with sslQuorum. */
  transport?: QuorumTransport;
  /** Quorum SASL (quorum.auth.enableSasl), or none: connections authenticate after the preamble. */
  quorumSasl?: QuorumSasl | null;
}

export interface ElectionDriverEvents {
  notification: [from: bigint, notification: Notification];
  decision: [decision: Decision];
  connection: [sid: bigint, up: boolean];
  /** Something a peer sent was rejected (bad preamble, bad frame); the connection was closed. */
  rejected: [reason: string];
  /** Quorum SASL failed on a connection (refused, or let through as serverRequireSasl=false allows). */
  authentication: [sid: bigint, message: string];
}

interface Peer {
  socket: Socket | null;
  connecting: boolean;
  /** The one message waiting for a connection. */
  queued: Buffer | null;
  lastSent: Buffer | null;
}

/** Preamble bytes at most: two longs, a length and the address string. */
const PREAMBLE_MAX_BYTES = 20 + PREAMBLE_MAX_ADDRESS_BYTES;

export class ElectionDriver extends EventEmitter<ElectionDriverEvents> {
  readonly myId: bigint;
  private readonly servers: ReadonlyMap<bigint, QuorumServerSpec>;
  private readonly self: QuorumServerSpec;
  private readonly connectTimeoutMs: number;
  private readonly listenHost: string;
  private readonly quorumSasl: QuorumSasl | null;
  private readonly peers = new Map<bigint, Peer>();
  private readonly core: FastLeaderElection;
  /** Every socket not yet closed, so stop() ends connections still being made. */
  private readonly sockets = new Set<Socket>();
  private readonly transport: QuorumTransport;
  private acceptor: PeerAcceptor | null = null;
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt: number | null = null;
  private stopped = false;
  private observerCounter = -1n;
  private lastDecision: Decision | null = null;
  /** Ends each waitForDecision under way (stop). */
  private readonly stopWaiters = new Set<() => void>();

  constructor(options: ElectionDriverOptions) {
    super();
    this.myId = options.myId;
    this.servers = new Map(options.servers.map((s) => [s.sid, s]));
    const self = this.servers.get(options.myId);
    if (!self) throw new RangeError(`server ${options.myId} is not in the configuration`);
    this.self = self;
    this.listenHost = options.listenHost ?? self.host;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.transport = options.transport ?? PLAIN_TRANSPORT;
    this.quorumSasl = options.quorumSasl ?? null;
    const config = options.config ?? Buffer.from(quorumConfigText(options.servers, 0n));
    // The first round begins now; start() sends its notifications (if start() comes much
    // later, the first notification timeout merely fires early and resends them).
    this.core = new FastLeaderElection(
      {
        myId: options.myId,
        members: options.servers,
        config,
        finalizeWaitMs: options.finalizeWaitMs,
        finalizeEarly: options.finalizeEarly,
        minNotificationIntervalMs: options.minNotificationIntervalMs,
        maxNotificationIntervalMs: options.maxNotificationIntervalMs,
      },
      performance.now(),
      options.history,
    );
  }

  get state(): number {
    return this.core.state;
  }

  get currentVote() {
    return this.core.currentVote;
  }

  /** The decision of the last round, or null while looking. */
  get decision(): Decision | null {
    return this.lastDecision;
  }

  /** Listens on the election port and sends the first round's notifications. */
  async start(): Promise<void> {
    const acceptor = this.transport.acceptor((socket) => this.accept(socket));
    this.acceptor = acceptor;
    const server = createServer((socket) => {
      if (this.stopped) socket.destroy();
      else acceptor.accept(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.self.electionPort, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.emit('rejected', `listener: ${err.message}`));
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of [...this.stopWaiters]) w();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const socket of this.sockets) socket.destroy();
    this.acceptor?.close();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Starts a new round (e.g. after leading or following failed). */
  lookForLeader(history: LocalHistory): void {
    this.lastDecision = null;
    this.core.lookForLeader(performance.now(), history);
    this.pump();
  }

  /** After discovery: answer looking peers with the new epoch (see FastLeaderElection). */
  updateElectionVote(newEpoch: bigint): void {
    this.core.updateElectionVote(newEpoch);
  }

  /** Resolves with the round's decision; rejects after `timeoutMs`. */
  waitForDecision(timeoutMs: number): Promise<Decision> {
    if (this.lastDecision) return Promise.resolve(this.lastDecision);
    if (this.stopped) return Promise.reject(new Error('election stopped'));
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.off('decision', onDecision);
        this.stopWaiters.delete(onStop);
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`no leader elected within ${timeoutMs} ms (state ${this.core.state}, round ${this.core.round})`));
      }, timeoutMs);
      const onDecision = (d: Decision): void => {
        settle();
        resolve(d);
      };
      // stop() ends the wait at once: a server shut down while looking would otherwise wait for the timeout.
      const onStop = (): void => {
        settle();
        reject(new Error('election stopped'));
      };
      this.once('decision', onDecision);
      this.stopWaiters.add(onStop);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Core

  /** Carries out what the core asks for, then waits for its next deadline. */
  private pump(): void {
    if (this.stopped) return;
    while (this.core.hasReady()) {
      const ready = this.core.ready();
      this.core.advance();
      for (const m of ready.messages) this.send(m.to, encodeNotification(m.notification));
      if (ready.connectAll) for (const sid of this.servers.keys()) if (sid !== this.myId) this.connectOne(sid);
      if (ready.decision) {
        this.lastDecision = ready.decision;
        this.emit('decision', ready.decision);
      }
    }
    this.armTimer();
  }

  private armTimer(): void {
    const at = this.core.nextDeadline();
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = null;
      this.core.tick(performance.now());
      this.pump();
    }, Math.max(0, Math.ceil(at - performance.now())));
  }

  private receive(from: bigint, frame: Buffer): void {
    const n = decodeNotification(frame);
    // ZooKeeper skips a malformed notification and keeps the connection.
    if ('error' in n) {
      this.emit('rejected', `from ${from}: ${n.error}`);
      return;
    }
    this.emit('notification', from, n);
    this.core.step(performance.now(), from, n);
    this.pump();
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private peer(sid: bigint): Peer {
    let peer = this.peers.get(sid);
    if (!peer) {
      peer = { socket: null, connecting: false, queued: null, lastSent: null };
      this.peers.set(sid, peer);
    }
    return peer;
  }

  private send(sid: bigint, payload: Buffer): void {
    const peer = this.peer(sid);
    if (peer.socket) {
      this.write(peer, payload);
      return;
    }
    peer.queued = payload;
    this.connectOne(sid);
  }

  private write(peer: Peer, payload: Buffer): void {
    const frame = Buffer.allocUnsafe(4 + payload.length);
    frame.writeInt32BE(payload.length, 0);
    payload.copy(frame, 4);
    peer.lastSent = payload;
    peer.socket!.write(frame);
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  private connectOne(sid: bigint): void {
    const peer = this.peer(sid);
    const spec = this.servers.get(sid);
    if (this.stopped || peer.socket || peer.connecting || !spec) return;
    peer.connecting = true;
    // Ready once connected (and with TLS, handshaken and the peer's certificate checked).
    const socket = this.transport.connect(spec.host, spec.electionPort, () => {
      socket.setTimeout(0);
      const address = formatHostPort(this.self.host, this.self.electionPort);
      socket.write(encodePreamble({ protocolVersion: PROTOCOL_VERSION_V1, sid: this.myId, addresses: [address] }));
      // QuorumCnxManager.startConnection: the learner side authenticates before the challenge.
      if (this.quorumSasl === null) this.connected(sid, socket, Buffer.alloc(0));
      else authenticateToPeer(socket, this.quorumSasl, this.connectTimeoutMs, (result) => {
        if (result.ok) this.connected(sid, socket, result.rest);
        else this.refused(sid, socket, result.reason);
      });
    });
    this.track(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.connectTimeoutMs, () => socket.destroy(new Error('connect timed out')));
    socket.once('error', () => undefined);
    socket.once('close', () => {
      peer.connecting = false;
    });
  }

  /** Our connection to `sid` is open (and authenticated, if need be). */
  private connected(sid: bigint, socket: Socket, rest: Buffer): void {
    this.peer(sid).connecting = false;
    if (sid > this.myId) {
      // We lost the challenge: the larger sid connects back to us.
      socket.end();
      return;
    }
    this.attach(sid, socket, rest);
  }

  private refused(sid: bigint, socket: Socket, reason: string): void {
    this.peer(sid).connecting = false;
    this.emit('authentication', sid, reason);
    socket.destroy();
  }

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.track(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.connectTimeoutMs, () => socket.destroy());
    socket.on('error', () => undefined);
    let held = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      held = Buffer.concat([held, chunk]);
      const result = decodePreamble(held);
      if (result.kind === 'incomplete') {
        if (held.length > PREAMBLE_MAX_BYTES) this.reject(socket, 'preamble too long');
        return;
      }
      socket.off('data', onData);
      if (result.kind === 'error') {
        this.reject(socket, `preamble: ${result.message}`);
        return;
      }
      let sid = result.preamble.sid;
      if (sid === OBSERVER_ID) sid = this.observerCounter--;
      const rest = held.subarray(result.bytes);
      // QuorumCnxManager.handleConnection: the server side authenticates before the challenge.
      if (this.quorumSasl === null) this.challenged(sid, socket, rest);
      else authenticatePeer(socket, this.quorumSasl, rest, this.connectTimeoutMs, (auth) => {
        if (!auth.ok) {
          this.emit('authentication', sid, auth.reason);
          socket.destroy();
          return;
        }
        if (auth.log !== null) this.emit('authentication', sid, auth.log);
        this.challenged(sid, socket, auth.rest);
      });
    };
    socket.on('data', onData);
  }

  /** A peer that connected to us has said who it is: keep its connection or connect back. */
  private challenged(sid: bigint, socket: Socket, rest: Buffer): void {
    if (sid < this.myId) {
      // We win the challenge: drop theirs and make our own connection.
      socket.destroy();
      this.dropConnection(sid);
      this.connectOne(sid);
    } else if (sid === this.myId) {
      this.reject(socket, `a connection from a server with our own id ${sid}`);
    } else if (socket.readable) {
      // (Not readable: it closed during authentication, which serverRequireSasl=false let through.)
      socket.setTimeout(0);
      this.attach(sid, socket, rest);
    }
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private reject(socket: Socket, reason: string): void {
    this.emit('rejected', reason);
    socket.destroy();
  }

  /** Makes `socket` the connection to `sid`, replacing any older one. */
  private attach(sid: bigint, socket: Socket, already: Buffer): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const peer = this.peer(sid);
    if (peer.socket && peer.socket !== socket) this.dropConnection(sid);
    peer.socket = socket;
    const frames = new ElectionFrames();
    const onData = (chunk: Buffer): void => {
      const { frames: complete, error } = frames.push(chunk);
      // Frames before a bad length are used, as RecvWorker reads them one at a time.
      for (const frame of complete) {
        if (peer.socket !== socket) return;
        this.receive(sid, frame);
      }
      if (error && peer.socket === socket) this.reject(socket, `from ${sid}: ${error}`);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (peer.socket !== socket) return;
      peer.socket = null;
      this.core.connectionDown(sid);
      this.emit('connection', sid, false);
      this.pump();
    });
    this.core.connectionUp(sid);
    this.emit('connection', sid, true);
    // SendWorker: repeat the last message unless a newer one waits, then send the waiting one.
    const next = peer.queued ?? peer.lastSent;
    peer.queued = null;
    if (next) this.write(peer, next);
    if (already.length > 0) onData(already);
  }

  private dropConnection(sid: bigint): void {
    const peer = this.peers.get(sid);
    const socket = peer?.socket;
    if (!peer || !socket) return;
    peer.socket = null;
    socket.destroy();
    this.core.connectionDown(sid, false);
    this.emit('connection', sid, false);
  }
}

/** Splits the election stream into frames of 1..512 KB (RecvWorker's bounds). */
export class ElectionFrames {
  private held = Buffer.alloc(0);

  push(chunk: Buffer): { frames: Buffer[]; error: string | null } {
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readInt32BE(at);
      if (length <= 0 || length > ELECTION_MAX_FRAME_BYTES) {
        this.held = Buffer.alloc(0);
        return { frames, error: `frame length ${length} out of range` };
      }
      if (buf.length - at - 4 < length) break;
      frames.push(buf.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    this.held = Buffer.from(buf.subarray(at));
    return { frames, error: null };
  }
}
