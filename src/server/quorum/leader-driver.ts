/**
 * A leader on the quorum port: accepts learner connections, drives the pure ZabLeader core,
 * logs its proposals (in memory, or in a durable store) and applies committed txns to a DataTree. Packets are QuorumPacket
 * jute records with no length prefix, as on the learner side.
 *
 * The core keeps the last commitLogCount committed txns in memory. A learner older than them is
 * sent a DIFF read from the store's log (`diffAfter`, as LearnerHandler's getProposalsFromTxnLog)
 * when the txns to send are under snapshotSizeFactor × the tree's size, else SNAP followed by the
 * tree in ZooKeeper's snapshot serialization (zk-snapshot-stream.ts), taken at the zxid the core
 * names. That stream is written a slice per event-loop turn from a copy-on-write capture, so
 * the leader goes on committing and serving meanwhile; the packets for that learner wait behind
 * it, the other learners' do not.
 *
 * Committed txns go to a ReplicaState (a tree of its own by default; the request pipeline in a
 * running server, see peer.ts), and the log and epochs to a store when one is given. With a
 * store the leader's own ACK of a proposal counts once its fsync returns (the PROPOSALs go to the
 * learners meanwhile, as ZooKeeper's leader sends them while it logs), and a Ready that writes an
 * epoch sends nothing (LEADERINFO, NEWLEADER) before the epoch file is durable; the Readys after
 * it wait their turn, so nothing is reordered.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Id } from '../../jute/records.js';
import { OpCode } from '../../jute/constants.js';
import type { DataTree } from '../../tree/datatree.js';
import type { LogEntry } from '../../consensus/learner.js';
import { ZabLeader, type LeaderOptions, type LeaderReady, type LogRead } from '../../consensus/leader.js';
import { decodeQuorumPacket, encodeQuorumPacket, encodeQuorumPackets, quorumPacketLength, type QuorumPacket } from '../../consensus/wire.js';
import { makeZxid, zxidToHex, zxidToNumber, type Zxid } from '../../consensus/zxid.js';
import { SnapshotSender, type SnapshotSent } from './zk-snapshot-stream.js';
import { TreeReplica, type ReplicaState } from './replica.js';
import type { QuorumStore } from './learner-driver.js';
import { PLAIN_TRANSPORT, type PeerAcceptor, type QuorumTransport } from './quorum-tls.js';
import { authenticatePeer, type QuorumSasl } from './quorum-sasl.js';
import { requestKey, stamp, TRACING } from '../../io/trace.js';
import { tracePacket } from './trace-packet.js';

/**
 * Where a leader makes its log and epochs durable (each call settles once they are), and, when
 * it can, reads committed txns back for a DIFF (DiskQuorumStore.diffAfter: null means SNAP).
 */
export type LeaderStore = Pick<QuorumStore, 'appendThen' | 'setAcceptedEpoch' | 'setCurrentEpoch'> & {
  diffAfter?: (zxid: Zxid, through: Zxid, maxBytes?: number) => Promise<LogEntry[] | null>;
};

/** ZooKeeper's DEFAULT_SNAPSHOT_SIZE_FACTOR. */
export const DEFAULT_SNAPSHOT_SIZE_FACTOR = 0.33;

export interface QuorumLeaderOptions extends Omit<LeaderOptions, 'log' | 'logReads'> {
  host: string;
  port: number;
  tickTimeMs: number;
  /** The leader's log after `snapshotZxid`; applied to the tree at start (ZooKeeper replays its log). */
  log: LogEntry[];
  /** The state at `snapshotZxid` (default: a fresh tree, no sessions); not with `state`. */
  snapshot?: { tree: DataTree; sessions: Map<bigint, number> };
  /** Where committed txns go, already holding everything up to `snapshotZxid`. */
  state?: ReplicaState;
  /** Durable log and epochs; without one they are kept in memory (`log`, `acceptedEpoch`, `currentEpoch`). */
  store?: LeaderStore;
  /** Address to listen on; by default `host` (quorumListenOnAllIPs gives 0.0.0.0). */
  listenHost?: string;
  /**
   * A DIFF from the log is sent when its txns are under this × the tree's approximate size
   * (ZooKeeper's snapshotSizeFactor; a limit of 0 bytes means no limit, as there); negative:
   * never, learners older than the in-memory window get SNAP. Default 0.33.
   */
  snapshotSizeFactor?: number;
  /** How learner connections are accepted: plain TCP by default, TLS with sslQuorum. */
  transport?: QuorumTransport;
  /** Quorum SASL (quorum.auth.enableSasl), or none: learners authenticate before their first packet. */
  quorumSasl?: QuorumSasl | null;
}

export interface QuorumLeaderEvents {
  /** A quorum acknowledged NEWLEADER: proposals are accepted from now on. */
  established: [epoch: bigint];
  committed: [zxid: Zxid];
  learnerClosed: [conn: number, reason: string];
  /**
   * A learner forwarded a client request (Learner.request: sessionId, cxid, type, the request
   * bytes). Turning it into a txn is the proposer's work, outside this driver.
   */
  request: [request: { conn: number; sessionId: bigint; cxid: number; type: number; body: Buffer; authinfo: Id[] | null }];
  /** Sessions a learner's clients touched (from its PING reply). */
  touch: [sessionId: bigint, timeoutMs: number];
  /** A learner asks whether a session may move to it; answer with `answerRevalidate`. */
  revalidate: [question: { conn: number; sessionId: bigint; timeoutMs: number }];
  steppedDown: [reason: string];
  /** A learner's SNAP stream is out (the leader served between its slices). */
  snapshotSent: [conn: number, sent: SnapshotSent];
  /** Quorum SASL failed on a learner connection (refused, or let through as serverRequireSasl=false allows). */
  authentication: [message: string];
}

/** Largest pending input on one connection without a whole packet. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class QuorumLeader extends EventEmitter<QuorumLeaderEvents> {
  readonly state: ReplicaState;
  /** The leader's log when no store is given. */
  readonly log: LogEntry[];
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  private readonly core: ZabLeader;
  private readonly options: QuorumLeaderOptions;
  private server: Server | null = null;
  private acceptor: PeerAcceptor | null = null;
  private readonly sockets = new Map<number, Socket>();
  /** Connections still authenticating (quorum SASL): not learners yet, closed by stop(). */
  private readonly authenticating = new Set<Socket>();
  private nextConn = 1;
  private ticker: NodeJS.Timeout | null = null;
  private drainScheduled = false;
  /** Packets of this loop iteration not yet written, per connection (see send). */
  private outbox = new Map<number, QuorumPacket[]>();
  private outboxScheduled = false;
  /** Proposals durable in the leader's log, per Ready, not yet counted as its own ACKs. */
  private selfAcks: (readonly LogEntry[])[] = [];
  /** SNAP streams under way, by connection: that learner's packets wait behind its stream. */
  private readonly snapshots = new Map<number, SnapshotSender>();
  /** The zxid the core gives the next proposal (the epoch's first counter once established). */
  private nextZxid: Zxid = -1n;
  /** Settles once every Ready held back behind an epoch write is carried out (never rejects). */
  private carriedOut: Promise<void> = Promise.resolve();
  /** Readys held back: while any is, later ones queue behind it. */
  private heldBack = 0;
  private stopped = false;
  private failed = false;

  constructor(options: QuorumLeaderOptions) {
    super();
    this.options = options;
    this.log = options.store ? [] : [...options.log];
    this.acceptedEpoch = options.acceptedEpoch;
    this.currentEpoch = options.currentEpoch;
    this.state = options.state ?? ownReplica(options);
    for (const entry of options.log) this.state.apply(entry);
    const factor = options.snapshotSizeFactor ?? DEFAULT_SNAPSHOT_SIZE_FACTOR;
    this.core = new ZabLeader({ ...options, logReads: options.store?.diffAfter !== undefined && factor >= 0 });
  }

  get tree(): DataTree {
    return this.state.tree;
  }

  /** Session id → timeout, from the snapshot and the createSession/closeSession txns applied. */
  get sessions(): Map<bigint, number> {
    return this.state.sessionTimeouts();
  }

  get epoch(): bigint | null {
    return this.core.epoch;
  }

  pendingSyncCount(): number {
    return this.core.pendingSyncCount();
  }

  /** Connected learners, synced or not. */
  learnerCount(): number {
    return this.sockets.size;
  }

  get phase(): ZabLeader['phase'] {
    return this.core.phase;
  }

  get lastCommittedZxid(): Zxid {
    return this.core.lastCommittedZxid;
  }

  syncedLearners(): bigint[] {
    return this.core.syncedLearners();
  }

  learnerSyncMode(sid: bigint): 'diff' | 'trunc' | 'snap' | null {
    return this.core.learnerSyncMode(sid);
  }

  /** Whether the learner's DIFF was read from the log (it was older than the in-memory window). */
  learnerDiffFromLog(sid: bigint): boolean {
    return this.core.learnerDiffFromLog(sid);
  }

  /** The core's in-memory committed txns: oldest and newest zxid, and how many. */
  committedLog(): { min: Zxid; max: Zxid; count: number } {
    return this.core.committedLog();
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const acceptor = (this.options.transport ?? PLAIN_TRANSPORT).acceptor((socket) => this.accept(socket));
      this.acceptor = acceptor;
      const server = createServer((socket) => acceptor.accept(socket));
      this.server = server;
      server.once('error', reject);
      server.listen(this.options.port, this.options.listenHost ?? this.options.host, () => {
        this.ticker = setInterval(() => this.run(() => this.core.tick()), this.options.tickTimeMs);
        resolve();
      });
    });
  }

  /** Closes the port and every learner; resolves once the epoch writes under way are durable. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const conn of [...this.snapshots.keys()]) this.dropSnapshot(conn);
    for (const s of this.sockets.values()) s.destroy();
    this.sockets.clear();
    this.acceptor?.close();
    for (const s of this.authenticating) s.destroy();
    this.authenticating.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await this.carriedOut;
  }

  /** Proposes a txn built for its zxid; resolves when it is committed (rejects if refused). */
  propose(makeData: (zxid: Zxid) => Buffer): Promise<Zxid> {
    let zxid: Zxid | null = null;
    this.run(() => {
      zxid = this.core.propose(makeData);
    });
    if (zxid !== null) this.nextZxid = (zxid as Zxid) + 1n;
    if (zxid === null) return Promise.reject(new Error(`not accepting proposals (phase ${this.core.phase})`));
    const wanted: Zxid = zxid;
    if (this.core.lastCommittedZxid >= wanted) return Promise.resolve(wanted);
    return new Promise((resolve, reject) => {
      const onCommit = (z: Zxid): void => {
        if (z < wanted) return;
        this.off('committed', onCommit);
        this.off('steppedDown', onDown);
        resolve(wanted);
      };
      const onDown = (reason: string): void => {
        this.off('committed', onCommit);
        reject(new Error(`stepped down before ${wanted} committed: ${reason}`));
      };
      this.on('committed', onCommit);
      this.once('steppedDown', onDown);
    });
  }

  /**
   * Proposes a txn whose bytes are built for `zxid`, the next one; false when the core refuses
   * it or would give another zxid. Its Ready runs in a later microtask, so proposals made in one
   * turn share one append, and commits never come back from within this call.
   */
  proposeAt(zxid: Zxid, data: Buffer): boolean {
    if (this.core.phase !== 'broadcast' || zxid !== this.nextZxid) return false;
    const given = this.core.propose(() => data);
    if (TRACING) stamp('l.propose', zxidToNumber(zxid));
    if (TRACING) stamp('l.link', `${requestKey(data.readBigInt64BE(0), data.readInt32BE(8))}>${zxidToNumber(zxid)}`);
    this.scheduleDrain();
    if (given === null) return false;
    this.nextZxid = given + 1n;
    return true;
  }

  answerRevalidate(conn: number, sessionId: bigint, valid: boolean): void {
    this.run(() => this.core.answerRevalidate(conn, sessionId, valid));
  }

  waitEstablished(timeoutMs: number): Promise<void> {
    if (this.core.phase === 'broadcast') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no quorum within ${timeoutMs} ms (phase ${this.core.phase})`)), timeoutMs);
      this.once('established', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const sasl = this.options.quorumSasl ?? null;
    if (sasl === null) {
      this.serve(socket, Buffer.alloc(0));
      return;
    }
    // LearnerHandler: authenticate (authServer) before reading the first packet, within initLimit.
    this.authenticating.add(socket);
    socket.on('error', () => undefined);
    authenticatePeer(socket, sasl, Buffer.alloc(0), this.options.initLimitTicks * this.options.tickTimeMs, (result) => {
      this.authenticating.delete(socket);
      if (!result.ok) this.emit('authentication', `learner ${socket.remoteAddress}:${socket.remotePort}: ${result.reason}`);
      else if (result.log !== null) this.emit('authentication', `learner ${socket.remoteAddress}:${socket.remotePort}: ${result.log}`);
      if (result.ok && socket.readable && !this.stopped) this.serve(socket, result.rest);
      else socket.destroy();
    });
  }

  /** A learner connection, from its first packet on. */
  private serve(socket: Socket, already: Buffer): void {
    // A TLS handshake may finish after stop().
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn = this.nextConn++;
    this.sockets.set(conn, socket);
    let input: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
      let bad: Error | null = null;
      // Every whole packet of the chunk goes to the core in one run: one Ready (one batch of
      // COMMITs, one self-ACK pass) for a chunk of ACKs instead of one per packet.
      this.run(() => {
        try {
          for (let len = quorumPacketLength(input); len !== null; len = quorumPacketLength(input)) {
            const packet = decodeQuorumPacket(input.subarray(0, len));
            input = input.subarray(len);
            if (TRACING) tracePacket('l.in', packet);
            this.core.step(conn, packet);
            // Dropped by the core: the Ready closes the connection, the rest of its input is moot.
            if (!this.core.hasLearner(conn)) return;
          }
          if (input.length > MAX_BUFFERED_BYTES) throw new Error(`${input.length} bytes without a whole packet`);
        } catch (err) {
          bad = err as Error;
        }
      });
      if (bad !== null) this.closeConn(conn, `bad input: ${(bad as Error).message}`);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.dropSnapshot(conn);
      if (!this.sockets.delete(conn)) return;
      this.run(() => this.core.disconnected(conn));
      this.emit('learnerClosed', conn, 'connection closed');
    });
    if (already.length > 0) onData(already);
  }

  private closeConn(conn: number, reason: string): void {
    const socket = this.sockets.get(conn);
    if (!socket) return;
    this.sockets.delete(conn);
    this.outbox.delete(conn);
    this.dropSnapshot(conn);
    socket.destroy();
    this.run(() => this.core.disconnected(conn));
    this.emit('learnerClosed', conn, reason);
  }

  private commitEntry(entry: LogEntry): void {
    if (TRACING) stamp('l.commit', zxidToNumber(entry.zxid));
    this.state.apply(entry);
    this.emit('committed', entry.zxid);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.run(() => undefined);
    });
  }

  /**
   * Packets of one loop iteration go out together: queued per connection and, once the
   * iteration's input is handled, encoded into one buffer per learner and written at once.
   * Learners that get the same packets (every follower gets the same PROPOSALs and COMMITs) share
   * one encoding. A learner being sent a snapshot gets them after it.
   */
  private send(conn: number, packet: QuorumPacket): void {
    if (!this.sockets.has(conn)) return;
    const snapshot = this.snapshots.get(conn);
    if (snapshot !== undefined) {
      // Past the limit the stream has stopped; the connection goes once this turn's work is done.
      if (!snapshot.enqueue(encodeQuorumPacket(packet))) queueMicrotask(() => this.closeConn(conn, 'too far behind while its snapshot was sent'));
      return;
    }
    const queued = this.outbox.get(conn);
    if (queued === undefined) this.outbox.set(conn, [packet]);
    else queued.push(packet);
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      // After every input of this loop iteration (the learners' ACKs, clients' and learners'
      // requests read in one poll), not after each: one write per learner per iteration.
      setImmediate(this.flushOutbox);
    }
  }

  private readonly flushOutbox = (): void => {
    this.outboxScheduled = false;
    // Taken before writing: what is sent from here on goes in the next flush, never unwritten.
    const outbox = this.outbox;
    this.outbox = new Map();
    let previous: { packets: QuorumPacket[]; bytes: Buffer } | null = null;
    for (const [conn, packets] of outbox) {
      const socket = this.sockets.get(conn);
      if (!socket) continue;
      const bytes: Buffer = previous !== null && samePackets(previous.packets, packets) ? previous.bytes : encodeQuorumPackets(packets);
      previous = { packets, bytes };
      socket.write(bytes);
      if (TRACING) for (const p of packets) tracePacket('l.out', p);
    }
  };

  /** Writes what is queued for `conn` now: bytes written to its socket otherwise must follow it. */
  private flushConn(conn: number): void {
    const packets = this.outbox.get(conn);
    if (packets === undefined) return;
    this.outbox.delete(conn);
    this.sockets.get(conn)?.write(encodeQuorumPackets(packets));
    if (TRACING) for (const p of packets) tracePacket('l.out', p);
  }

  /**
   * Streams the tree as it is now (the SNAP zxid: commits after it are applied later) to the
   * learner, from a capture that later commits do not change.
   */
  private streamSnapshot(conn: number): void {
    const socket = this.sockets.get(conn);
    if (!socket) return;
    this.flushConn(conn);
    const sender = new SnapshotSender(socket, this.state.tree.beginCapture(), this.state.sessionTimeouts(), (result) => {
      this.snapshots.delete(conn);
      if (result instanceof Error) this.closeConn(conn, `snapshot not sent: ${result.message}`);
      else this.emit('snapshotSent', conn, result);
    });
    this.snapshots.set(conn, sender);
    sender.start();
  }

  /** Ends a learner's stream, if one runs, and its capture. */
  private dropSnapshot(conn: number): void {
    this.snapshots.get(conn)?.abort();
    this.snapshots.delete(conn);
  }

  /**
   * Logs the Ready's proposals; each one's fsync is the leader's own ACK of it. The log settles
   * appends in order, so the last one's callback stands for the Ready's; the ACKs of every Ready
   * settled in one fsync batch go to the core in one run.
   */
  private logAppends(store: LeaderStore, entries: readonly LogEntry[]): void {
    const last = entries.at(-1);
    if (last === undefined) return;
    const onEarlier = (err: Error | null): void => {
      if (err && !this.stopped) this.fail(`could not log ${zxidToHex(last.zxid)}: ${err.message}`);
    };
    for (let i = 0; i < entries.length - 1; i++) store.appendThen(zxidToNumber(entries[i]!.zxid), entries[i]!.data, onEarlier);
    store.appendThen(zxidToNumber(last.zxid), last.data, (err) => {
      if (this.stopped) return;
      if (err) return this.fail(`could not log ${zxidToHex(last.zxid)}: ${err.message}`);
      if (TRACING) for (const e of entries) stamp('l.logged', zxidToNumber(e.zxid));
      this.selfAcks.push(entries);
      if (this.selfAcks.length === 1) queueMicrotask(() => this.ackLogged());
    });
  }

  private ackLogged(): void {
    const batches = this.selfAcks;
    this.selfAcks = [];
    if (this.stopped) return;
    this.run(() => {
      for (const entries of batches) for (const e of entries) this.core.logged(e.zxid);
    });
  }

  /**
   * Reads a learner's DIFF from the log (calculateTxnLogSizeLimit: the snapshot size × factor;
   * the tree's size stands in for the snapshot's) and hands it to the core; a failed read is a
   * SNAP, as in ZooKeeper.
   */
  private readLog(r: LogRead): void {
    const store = this.options.store;
    if (!store?.diffAfter) return this.run(() => this.core.logRead(r.conn, null));
    const factor = this.options.snapshotSizeFactor ?? DEFAULT_SNAPSHOT_SIZE_FACTOR;
    const limit = Math.floor(this.state.tree.approximateDataSize() * factor);
    store.diffAfter(r.after, r.through, limit > 0 ? limit : undefined).then(
      (entries) => {
        if (!this.stopped) this.run(() => this.core.logRead(r.conn, entries));
      },
      () => {
        if (!this.stopped) this.run(() => this.core.logRead(r.conn, null));
      },
    );
  }

  /** A write that failed: this leader must not acknowledge anything more, so it steps down. */
  private fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    for (const conn of [...this.sockets.keys()]) this.closeConn(conn, reason);
    this.emit('steppedDown', reason);
  }

  private async writeEpochs(store: LeaderStore, rd: LeaderReady): Promise<void> {
    if (rd.acceptedEpoch !== null) await store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null) await store.setCurrentEpoch(rd.currentEpoch);
  }

  /**
   * A Ready that writes only currentEpoch (the sync's DIFFs and NEWLEADERs) is sent while the
   * epoch is written, as ZooKeeper's learner handlers send them while Leader.lead writes it; the
   * core counts the leader's own NEWLEADER ACK once the write returns. It follows the epoch
   * writes before it (acceptedEpoch is durable before LEADERINFO went out).
   */
  private writeCurrentEpoch(store: LeaderStore, epoch: bigint): void {
    this.carriedOut = this.carriedOut
      .then(() => store.setCurrentEpoch(epoch))
      .then(
        () => {
          if (this.stopped || this.failed) return;
          this.currentEpoch = epoch;
          this.run(() => this.core.currentEpochDurable());
        },
        (err: unknown) => this.fail(`could not write the epoch: ${(err as Error).message}`),
      );
  }

  private noteEpochs(rd: LeaderReady): void {
    if (rd.acceptedEpoch !== null) this.acceptedEpoch = rd.acceptedEpoch;
    if (rd.currentEpoch !== null) this.currentEpoch = rd.currentEpoch;
  }

  /** Feeds one input to the core, then carries out its Readys in field order. */
  private run(input: () => void): void {
    if (this.failed) return;
    const wasBroadcasting = this.core.phase === 'broadcast';
    input();
    while (this.core.hasReady()) {
      const rd: LeaderReady = this.core.ready();
      const store = this.options.store;
      if (!store) {
        this.log.push(...rd.append);
        this.core.advance();
        this.noteEpochs(rd);
        this.carryOut(rd);
        continue;
      }
      this.core.advance(false);
      this.logAppends(store, rd.append);
      if (rd.acceptedEpoch === null && this.heldBack === 0) {
        this.carryOut(rd);
        if (rd.currentEpoch !== null) this.writeCurrentEpoch(store, rd.currentEpoch);
        continue;
      }
      this.heldBack++;
      this.carriedOut = this.carriedOut
        .then(() => this.writeEpochs(store, rd))
        .then(
          () => {
            this.heldBack--;
            if (this.stopped || this.failed) return;
            this.noteEpochs(rd);
            this.carryOut(rd);
            // Carrying it out may have given the core more to do (answered syncs).
            this.run(() => (rd.currentEpoch !== null ? this.core.currentEpochDurable() : undefined));
          },
          (err: unknown) => {
            this.heldBack--;
            this.fail(`could not write the epoch: ${(err as Error).message}`);
          },
        );
    }
    if (!wasBroadcasting && this.core.phase === 'broadcast') {
      this.nextZxid = makeZxid(this.core.epoch!, 1n);
      this.emit('established', this.core.epoch!);
    }
  }

  /** Everything of a durable Ready after its persistence: packets, commits, and the events. */
  private carryOut(rd: LeaderReady): void {
    // Commits are applied after the packets, except that a snapshot is taken at its zxid.
    let applied = 0;
    const applyThrough = (zxid: Zxid): void => {
      while (applied < rd.commit.length && rd.commit[applied]!.zxid <= zxid) this.commitEntry(rd.commit[applied++]!);
    };
    for (const m of rd.messages) {
      if ('packet' in m) this.send(m.conn, m.packet);
      else if ('snapshotAt' in m) {
        applyThrough(m.snapshotAt);
        this.streamSnapshot(m.conn);
      } else this.closeConn(m.conn, m.close);
    }
    applyThrough(rd.commit.at(-1)?.zxid ?? -1n);
    for (const r of rd.requests) {
      const type = r.data.readInt32BE(12);
      // Handed to the core after the requests before it were proposed (see ZabLeader.sync).
      if (type === OpCode.sync) {
        this.core.sync(r.conn);
        continue;
      }
      this.emit('request', { conn: r.conn, sessionId: r.data.readBigInt64BE(0), cxid: r.data.readInt32BE(8), type: r.data.readInt32BE(12), body: r.data.subarray(16), authinfo: r.authinfo });
    }
    for (const t of rd.touches) this.emit('touch', t.sessionId, t.timeoutMs);
    for (const q of rd.revalidations) this.emit('revalidate', q);
    for (const r of rd.logReads) this.readLog(r);
    if (rd.steppedDown !== null) {
      for (const conn of [...this.sockets.keys()]) this.closeConn(conn, 'stepped down');
      this.emit('steppedDown', rd.steppedDown);
    }
  }
}

/** A tree of the driver's own, holding the given snapshot. */
function ownReplica(options: QuorumLeaderOptions): TreeReplica {
  const replica = new TreeReplica();
  if (options.snapshot) {
    replica.tree = options.snapshot.tree;
    replica.sessions = new Map(options.snapshot.sessions);
  }
  if (options.snapshotZxid !== undefined) replica.tree.lastProcessedZxid = zxidToNumber(options.snapshotZxid);
  return replica;
}

/** Whether two learners' packets of a turn are the same, so one encoding serves both. */
function samePackets(a: readonly QuorumPacket[], b: readonly QuorumPacket[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.type !== y.type || x.zxid !== y.zxid || x.data !== y.data || x.authinfo !== null || y.authinfo !== null) return false;
  }
  return true;
}
