/**
 * A learner on the quorum port: connects to the elected leader, drives the pure ZabLearner core
 * with the packets it reads, keeps the learner's durable state in a LearnerStore and applies
 * committed txns to a DataTree. Packets are QuorumPacket jute records with no length prefix
 * (Learner.writePacket); after SNAP the leader streams its database as
 * ZKDatabase.serializeSnapshot writes it (sessions, ACL table, nodes up to "/"), then the string
 * "BenWasHere".
 *
 * Committed txns go to a ReplicaState: a tree of the learner's own by default (interop tests), the
 * request pipeline's state in a running server (peer.ts).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { authenticateToPeer, type QuorumSasl } from './quorum-sasl.js';
import { JuteReader } from '../../jute/binary.js';
import type { Id } from '../../jute/records.js';
import { readZkSnapshotBody, type ZkSnapshot } from '../../persistence/zkformat.js';
import type { DataTree, TreeOptions } from '../../tree/datatree.js';
import { ZabLearner, type LearnerRole, type LearnerReady, type LogEntry, type SyncMode } from '../../consensus/learner.js';
import { decodeQuorumPacket, encodeQuorumPackets, PacketType, quorumPacketLength, type QuorumPacket } from '../../consensus/wire.js';
import { SNAP_SIGNATURE } from './zk-snapshot-stream.js';
import { epochOf, zxidToHex, zxidToNumber, type Zxid } from '../../consensus/zxid.js';
import { catchUp, TreeReplica, type ReplicaState } from './replica.js';
import { PLAIN_TRANSPORT, type QuorumTransport } from './quorum-tls.js';
import { stamp, TRACING } from '../../io/trace.js';
import { tracePacket } from './trace-packet.js';

export { treeFromZkSnapshot } from './replica.js';

/** Packets a learner sends that say nothing about its log: they need not wait for an fsync. */
const UNLOGGED = new Set<number>([PacketType.REQUEST, PacketType.REVALIDATE, PacketType.PING]);
type AnyReady = LearnerReady<unknown>;

/**
 * A broadcast Ready carryOutNow can take: it changes nothing durable but the log's tail, and
 * its ACKs acknowledge its own appends.
 */
function broadcastOnly(rd: AnyReady): boolean {
  if (!nothingDurable(rd)) return false;
  let acks = 0;
  for (const m of rd.messages) {
    if (m.type === PacketType.ACK) acks++;
    else if (!UNLOGGED.has(m.type)) return false;
  }
  return acks === 0 || rd.append.length > 0;
}

/** A Ready with nothing to persist or apply, whose packets say nothing about the log. */
function sendsOnly(rd: AnyReady): boolean {
  return nothingDurable(rd) && rd.append.length === 0 && reportsNothing(rd) && rd.messages.every((m) => UNLOGGED.has(m.type));
}

/** A Ready that logs proposals and sends their ACKs, nothing else (the broadcast PROPOSAL). */
function acknowledgesOnly(rd: AnyReady): boolean {
  return nothingDurable(rd) && reportsNothing(rd) && rd.messages.every((m) => m.type === PacketType.ACK);
}

function reportsNothing(rd: AnyReady): boolean {
  return rd.commit.length === 0 && rd.revalidations.length === 0 && rd.syncs === 0 && rd.closed === null;
}

/** A Ready that applies commits (or reports SYNCs and revalidations) and nothing else. */
function appliesOnly(rd: AnyReady): boolean {
  return nothingDurable(rd) && rd.append.length === 0 && rd.messages.length === 0 && rd.closed === null;
}

/**
 * A Ready of a sync that makes history durable of an epoch newer than the durable currentEpoch:
 * a SNAP (installed when it arrives), or NEWLEADER's txns (logged before currentEpoch). A crash
 * before currentEpoch is written would leave a log ahead of it, so the `updatingEpoch` marker
 * is made durable first (persistence/epochs.ts); writing currentEpoch removes it. A sync whose
 * txns are all of `durableCurrentEpoch` or older (a follower a few txns behind a leader that
 * died: the usual failover) needs no marker, and saves its two directory syncs.
 */
export function writesAheadOfEpoch(rd: AnyReady, durableCurrentEpoch: bigint): boolean {
  if (rd.snapshot === null && (rd.currentEpoch === null || (!rd.reset && rd.append.length === 0))) return false;
  const snapZxid = rd.snapshot?.zxid ?? -1n;
  const lastAppended = rd.append.at(-1)?.zxid ?? -1n;
  const newest = snapZxid > lastAppended ? snapZxid : lastAppended;
  return newest >= 0n && epochOf(newest) > durableCurrentEpoch;
}

function nothingDurable(rd: AnyReady): boolean {
  return rd.snapshot === null && rd.truncateTo === null && !rd.reset && rd.acceptedEpoch === null && rd.currentEpoch === null;
}

/** What a learner keeps across restarts. */
export interface LearnerDurableState {
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  snapshot: { zxid: Zxid; snap: ZkSnapshot } | null;
  /** Txns after the snapshot, in zxid order, committed or not (a restart replays them all, as ZooKeeper does). */
  log: LogEntry[];
  /** A TRUNC was refused: the next sync asks the leader for its whole state (see `fullSync` in learner.ts). */
  fullSyncNeeded?: boolean;
}

/**
 * A store refused a TRUNC, before changing anything, because it cannot rebuild the state at that
 * zxid (it lies below a snapshot the store installed). The store remembers it (`fullSyncNeeded`)
 * until a SNAP or a full sync replaces its state.
 */
export class TruncateRefusedError extends Error {
  override name = 'TruncateRefusedError';
}

/**
 * The learner's durable store. Each call returns once its effect is durable (the memory store
 * is durable for the life of the process, which is what a restart of the learner in a test
 * needs).
 */
export interface LearnerStore {
  load(): LearnerDurableState;
  installSnapshot(zxid: Zxid, snap: ZkSnapshot): void;
  /** Throws TruncateRefusedError (and sets `fullSyncNeeded`) when it cannot cut back to `zxid`. */
  truncate(zxid: Zxid): void;
  /** A full sync by DIFF: the empty tree at zxid 0 followed by `entries` replaces the whole state, in one step. */
  reset(entries: readonly LogEntry[]): void;
  append(entries: readonly LogEntry[]): void;
  setAcceptedEpoch(epoch: bigint): void;
  setCurrentEpoch(epoch: bigint): void;
}

export class MemoryLearnerStore implements LearnerStore {
  private state: LearnerDurableState = { acceptedEpoch: 0n, currentEpoch: 0n, snapshot: null, log: [] };

  load(): LearnerDurableState {
    return { ...this.state, log: [...this.state.log] };
  }

  installSnapshot(zxid: Zxid, snap: ZkSnapshot): void {
    this.state = { ...this.state, snapshot: { zxid, snap }, log: [], fullSyncNeeded: false };
  }

  truncate(zxid: Zxid): void {
    const snapZxid = this.state.snapshot?.zxid ?? 0n;
    if (zxid < snapZxid) {
      this.state.fullSyncNeeded = true;
      throw new TruncateRefusedError(`cannot truncate to ${zxidToHex(zxid)}, below the snapshot at ${zxidToHex(snapZxid)}`);
    }
    this.state.log = this.state.log.filter((e) => e.zxid <= zxid);
  }

  reset(entries: readonly LogEntry[]): void {
    this.state = { ...this.state, snapshot: null, log: [...entries], fullSyncNeeded: false };
  }

  append(entries: readonly LogEntry[]): void {
    this.state.log.push(...entries);
  }

  setAcceptedEpoch(epoch: bigint): void {
    this.state.acceptedEpoch = epoch;
  }

  setCurrentEpoch(epoch: bigint): void {
    this.state.currentEpoch = epoch;
  }
}

/**
 * A member's durable store as the drivers use it: every call settles once its effect is durable,
 * so a driver sends what depends on it only then. DiskQuorumStore (disk-store.ts) is one;
 * `asyncStore` wraps a LearnerStore (memory) as one.
 */
export interface QuorumStore {
  readonly acceptedEpoch: bigint;
  readonly currentEpoch: bigint;
  /** The last durable logged txn, else the snapshot's zxid. */
  readonly lastLoggedZxid: Zxid;
  /** A TRUNC was refused: the next sync asks for the leader's whole state. */
  readonly fullSyncNeeded: boolean;
  /**
   * Every logged txn after `snapshotZxid`, which is at or before `from` (default: the snapshot a
   * restart starts from): a store may return only its newest txns when they reach back to `from`.
   */
  history(from?: Zxid): Promise<{ snapshotZxid: Zxid; log: LogEntry[] }>;
  /** SNAP: the snapshot replaces the whole durable state; returns the state it holds. */
  installZkSnapshot(zxid: Zxid, snap: ZkSnapshot): Promise<{ tree: DataTree; sessions: Map<bigint, number> }>;
  /**
   * TRUNC: drops every txn after `zxid`; returns the state rebuilt from what is left. Rejects with
   * TruncateRefusedError, having changed nothing but `fullSyncNeeded`, when it cannot.
   */
  truncate(zxid: Zxid): Promise<{ tree: DataTree; sessions: Map<bigint, number> }>;
  /**
   * A full sync by DIFF: the empty tree at zxid 0 followed by `entries` (the first `committed` of
   * them committed) replaces the whole durable state. The old state stays until the new one is
   * durable, so a crash part way restarts from one or the other.
   */
  reset(entries: readonly LogEntry[], committed: number): Promise<void>;
  /** Logs one txn; `done` is called once it is durable (fsyncs are group-committed). */
  appendThen(zxid: number, bytes: Buffer, done: (err: Error | null) => void): void;
  setAcceptedEpoch(epoch: bigint): Promise<void>;
  setCurrentEpoch(epoch: bigint): Promise<void>;
  /**
   * Marks durably that history possibly ahead of currentEpoch is about to be written (ZooKeeper's
   * `updatingEpoch` file), so that a crash before currentEpoch is written does not stop the
   * restart; setCurrentEpoch removes the mark.
   */
  beginEpochUpdate(): Promise<void>;
  /** Resolves once every append queued so far has settled: what the next role reads is all there. */
  whenIdle(): Promise<void>;
}

/** A LearnerStore as a QuorumStore: its calls are durable at once, so they settle at once. */
export function asyncStore(store: LearnerStore, treeOptions: TreeOptions = {}): QuorumStore {
  const rebuilt = (): { tree: DataTree; sessions: Map<bigint, number> } => {
    const replica = new TreeReplica(treeOptions);
    catchUp(replica, store.load(), true);
    return { tree: replica.tree, sessions: replica.sessions };
  };
  return {
    get acceptedEpoch() {
      return store.load().acceptedEpoch;
    },
    get currentEpoch() {
      return store.load().currentEpoch;
    },
    get lastLoggedZxid() {
      return lastLoggedZxid(store.load());
    },
    get fullSyncNeeded() {
      return store.load().fullSyncNeeded === true;
    },
    history: async () => {
      const state = store.load();
      return { snapshotZxid: state.snapshot?.zxid ?? 0n, log: state.log };
    },
    installZkSnapshot: async (zxid, snap) => {
      store.installSnapshot(zxid, snap);
      return rebuilt();
    },
    truncate: async (zxid) => {
      store.truncate(zxid);
      return rebuilt();
    },
    reset: async (entries) => store.reset(entries),
    appendThen: (zxid, bytes, done) => {
      try {
        store.append([{ zxid: BigInt(zxid), data: bytes }]);
      } catch (err) {
        queueMicrotask(() => done(err as Error));
        return;
      }
      queueMicrotask(() => done(null));
    },
    setAcceptedEpoch: async (epoch) => store.setAcceptedEpoch(epoch),
    setCurrentEpoch: async (epoch) => store.setCurrentEpoch(epoch),
    // A LearnerStore checks no epoch against its log at load: nothing to mark.
    beginEpochUpdate: async () => undefined,
    whenIdle: async () => undefined,
  };
}

/** A QuorumStore, not a LearnerStore: the state it holds is already in the replica. */
export function isQuorumStore(store: LearnerStore | QuorumStore): store is QuorumStore {
  return 'appendThen' in store;
}

/** The last zxid a store holds: its last logged txn, else its snapshot's. */
export function lastLoggedZxid(state: LearnerDurableState): Zxid {
  return state.log.at(-1)?.zxid ?? state.snapshot?.zxid ?? 0n;
}

const SIGNATURE_BYTES = Buffer.from(SNAP_SIGNATURE);

/** Largest snapshot stream accepted, in bytes. */
export const MAX_SNAPSHOT_STREAM_BYTES = 1024 * 1024 * 1024;
/** Largest pending input outside a snapshot: one packet at most, plus what follows it. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface QuorumLearnerOptions {
  myId: bigint;
  leader: { host: string; port: number };
  /**
   * A LearnerStore is loaded into the replica at start; a QuorumStore's state must already be
   * in `state` (a server loads its data directory before it elects).
   */
  store: LearnerStore | QuorumStore;
  role?: LearnerRole;
  tickTimeMs: number;
  initLimit: number;
  syncLimit: number;
  connectTimeoutMs?: number;
  /** Where committed txns go; by default a tree of the learner's own. */
  state?: ReplicaState;
  /** How the leader is reached: plain TCP by default, TLS with sslQuorum. */
  transport?: QuorumTransport;
  /** Quorum SASL (quorum.auth.enableSasl), or none. */
  quorumSasl?: QuorumSasl | null;
}

export interface QuorumLearnerEvents {
  /** UPTODATE arrived: the learner serves from here on. */
  synced: [mode: SyncMode];
  applied: [zxid: Zxid];
  /** The connection ended (error, timeout, the leader went away, or stop()). */
  closed: [reason: string];
  /** The leader answered a REVALIDATE. */
  revalidated: [sessionId: bigint, valid: boolean];
  /** SYNC packets arrived: each completes the oldest forwarded sync. */
  syncs: [count: number];
}

export class QuorumLearner extends EventEmitter<QuorumLearnerEvents> {
  readonly myId: bigint;
  readonly state: ReplicaState;
  private readonly options: QuorumLearnerOptions;
  private readonly store: QuorumStore;
  private readonly core: ZabLearner<ZkSnapshot>;
  /** Settles once every Ready taken so far is persisted, sent and applied (never rejects). */
  private carriedOut: Promise<void> = Promise.resolve();
  /** Settles once the commits (and reports) of every Ready taken so far are delivered. */
  private appliedBefore: Promise<void> = Promise.resolve();
  /** Settles once the last Ready that changes more than the log's tail is durable: appends wait for it. */
  private appendsAfter: Promise<void> = Promise.resolve();
  private socket: Socket | null = null;
  private input: Buffer = Buffer.alloc(0);
  private snapshotAttemptBytes = 0;
  /**
   * Chunks of a snapshot stream not yet joined to `input`: joined only when a parse is due, as
   * joining each chunk as it came copied the whole stream so far each time.
   */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private ticker: NodeJS.Timeout | null = null;
  private closedReason: string | null = null;
  private syncedEmitted = false;
  /** Readys queued on the promise chains and not yet carried out (see flush). */
  private chained = 0;
  /** carryOutNow's appends not yet settled, and who waits for none to be. */
  private appendsInFlight = 0;
  private readonly appendWaiters: (() => void)[] = [];
  /** Packets of this turn not yet written (see write). */
  private outbox: QuorumPacket[] = [];

  constructor(options: QuorumLearnerOptions) {
    super();
    this.options = options;
    this.myId = options.myId;
    this.state = options.state ?? new TreeReplica();
    if (isQuorumStore(options.store)) {
      this.store = options.store;
    } else {
      catchUp(this.state, options.store.load(), false);
      this.store = asyncStore(options.store);
    }
    this.core = new ZabLearner<ZkSnapshot>({
      myId: options.myId,
      role: options.role,
      acceptedEpoch: this.store.acceptedEpoch,
      currentEpoch: this.store.currentEpoch,
      lastLoggedZxid: this.store.lastLoggedZxid,
      initLimitTicks: options.initLimit,
      syncLimitTicks: options.syncLimit,
      fullSync: this.store.fullSyncNeeded,
    });
  }

  /** The tree committed txns are applied to. */
  get tree(): DataTree {
    return this.state.tree;
  }

  /** Session id → timeout, as the snapshot and createSession/closeSession txns say. */
  get sessions(): Map<bigint, number> {
    return this.state.sessionTimeouts();
  }

  get phase(): ZabLearner['phase'] {
    return this.core.phase;
  }

  get syncMode(): SyncMode | null {
    return this.core.syncMode;
  }

  get currentEpoch(): bigint {
    return this.core.currentEpoch;
  }

  get lastLoggedZxid(): Zxid {
    return this.core.lastLoggedZxid;
  }

  /** Connects to the leader and opens discovery; resolves once connected. */
  start(): Promise<void> {
    const { host, port } = this.options.leader;
    return new Promise((resolve, reject) => {
      const begin = (rest: Buffer): void => {
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        this.ticker = setInterval(() => this.onTick(), this.options.tickTimeMs);
        this.core.start();
        this.flush();
        resolve();
        if (rest.length > 0) this.onData(rest);
      };
      // Ready once connected (and with TLS, handshaken and the leader's certificate checked).
      const socket = (this.options.transport ?? PLAIN_TRANSPORT).connect(host, port, () => {
        clearTimeout(timer);
        const sasl = this.options.quorumSasl ?? null;
        // Learner.connectToLeader: authenticate (authLearner) before the first packet.
        if (sasl === null) begin(Buffer.alloc(0));
        else authenticateToPeer(socket, sasl, this.options.initLimit * this.options.tickTimeMs, (result) => {
          if (result.ok) {
            begin(result.rest);
            return;
          }
          reject(new Error(result.reason));
          socket.destroy();
        });
      });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${host}:${port} within the connect timeout`)), this.options.connectTimeoutMs ?? 5000);
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.finish(`socket error: ${err.message}`);
      });
      socket.on('close', () => {
        // A TLS refusal may end the connection before it was ready.
        clearTimeout(timer);
        reject(new Error(`the connection to ${host}:${port} closed`));
        this.finish('the leader closed the connection');
      });
    });
  }

  /** Forwards a client request to the leader (Learner.request). */
  forward(sessionId: bigint, cxid: number, type: number, body: Buffer, authinfo: Id[] | null): void {
    if (this.closedReason !== null) return;
    this.core.forward(sessionId, cxid, type, body, authinfo);
    this.flush();
  }

  /** Asks the leader whether a session that moved here is still valid; answered by 'revalidated'. */
  revalidate(sessionId: bigint, timeoutMs: number): void {
    if (this.closedReason !== null) return;
    this.core.revalidate(sessionId, timeoutMs);
    this.flush();
  }

  /** A session touched here since the last PING: the leader hears of it in the next PING reply. */
  touch(sessionId: bigint, timeoutMs: number): void {
    this.core.touch(sessionId, timeoutMs);
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Ends the connection; resolves once what it was persisting is durable (the next role reads the store). */
  async stop(): Promise<void> {
    this.finish('stopped');
    await this.carriedOut;
    await this.appendsSettled();
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Resolves when a txn at or past `zxid` is applied. */
  waitForZxid(zxid: number, timeoutMs: number): Promise<void> {
    return this.waitFor(() => this.state.tree.lastProcessedZxid >= zxid, 'applied', timeoutMs, `zxid 0x${zxid.toString(16)}`);
  }

  waitForSynced(timeoutMs: number): Promise<void> {
    return this.waitFor(() => this.core.phase === 'broadcast', 'synced', timeoutMs, 'UPTODATE');
  }

  private waitFor(done: () => boolean, event: 'applied' | 'synced', timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (done()) return resolve();
      if (this.closedReason !== null) return reject(new Error(`learner closed before ${what}: ${this.closedReason}`));
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off(event, check);
        this.off('closed', onClosed);
      };
      const check = (): void => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const onClosed = (reason: string): void => {
        cleanup();
        reject(new Error(`learner closed before ${what}: ${reason}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} within ${timeoutMs} ms (phase ${this.core.phase})`));
      }, timeoutMs);
      this.on(event, check);
      this.on('closed', onClosed);
    });
  }

  private onTick(): void {
    this.core.tick();
    this.flush();
  }

  private onData(chunk: Buffer): void {
    if (this.closedReason !== null) return;
    if (this.core.phase === 'snapshot' && !this.snapshotDue(chunk)) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    this.input = this.input.length === 0 && this.held.length === 0 ? chunk : Buffer.concat([this.input, ...this.held, chunk]);
    this.held = [];
    this.heldBytes = 0;
    try {
      this.drainInput(chunk.length);
    } catch (err) {
      this.finish(`bad input from the leader: ${(err as Error).message}`);
    }
    this.flush();
  }

  private drainInput(lastChunkBytes: number): void {
    for (;;) {
      if (this.core.phase === 'closed') return;
      if (this.core.phase === 'snapshot') {
        if (!this.trySnapshot(lastChunkBytes)) return;
        continue;
      }
      const length = quorumPacketLength(this.input);
      if (length === null) {
        if (this.input.length > MAX_BUFFERED_BYTES) throw new Error(`${this.input.length} bytes without a whole packet`);
        return;
      }
      const packet = decodeQuorumPacket(this.input.subarray(0, length));
      this.input = this.input.subarray(length);
      if (TRACING) tracePacket('f.in', packet);
      this.core.step(packet);
      // While broadcasting, the packets of one chunk share one Ready (one batch of appends, one
      // write of their ACKs), taken by onData; discovery and sync take each packet's on its own.
      if (!this.broadcasting()) this.flush();
    }
  }

  /** Whether trySnapshot would parse once `chunk` is joined (or fail on the size): its tests, before the copy. */
  private snapshotDue(chunk: Buffer): boolean {
    const total = this.input.length + this.heldBytes + chunk.length;
    if (total > MAX_SNAPSHOT_STREAM_BYTES || total >= 2 * this.snapshotAttemptBytes) return true;
    const before = this.held.at(-1) ?? this.input;
    const seam = Buffer.concat([before.subarray(Math.max(0, before.length - SIGNATURE_BYTES.length)), chunk.subarray(0, SIGNATURE_BYTES.length)]);
    return chunk.includes(SIGNATURE_BYTES) || seam.includes(SIGNATURE_BYTES);
  }

  /** Synced, and the sync's last Ready delivered: broadcast Readys may take the fast path. */
  private broadcasting(): boolean {
    return this.core.phase === 'broadcast' && this.syncedEmitted;
  }

  /**
   * The snapshot stream has no length, so it is parsed when enough may have arrived: whenever
   * the buffer doubled since the last try, or the last chunk holds the closing signature (the
   * leader then waits for NEWLEADER's ACK). Not on every short chunk: a leader that streams a
   * slice per turn (Paddock's) sends many, and each try parses the whole buffer again. A
   * malformed stream therefore waits until initLimit ends the connection.
   */
  private trySnapshot(lastChunkBytes: number): boolean {
    if (this.input.length > MAX_SNAPSHOT_STREAM_BYTES) throw new Error('snapshot stream too large');
    const signed = this.input.includes(SIGNATURE_BYTES, Math.max(0, this.input.length - lastChunkBytes - SIGNATURE_BYTES.length));
    if (!signed && this.input.length < 2 * this.snapshotAttemptBytes) return false;
    this.snapshotAttemptBytes = this.input.length;
    const r = new JuteReader(this.input, 0, this.input.length, 0x7fffffff);
    let snap: ZkSnapshot;
    try {
      snap = readZkSnapshotBody(r);
      if (r.string() !== SNAP_SIGNATURE) throw new Error('snapshot stream without its signature');
    } catch {
      return false;
    }
    this.input = this.input.subarray(r.offset);
    this.snapshotAttemptBytes = 0;
    this.core.snapshot(snap);
    this.flush();
    return true;
  }

  /**
   * Takes the core's Ready and queues it: Readys are carried out one after another in the order
   * taken, each in its field order (see learner.ts), and nothing of one is sent or applied before
   * its state is durable. A Ready that only appends (the broadcast path) starts its appends at
   * once, so the fsyncs of several Readys are group-committed; one that installs, truncates or
   * writes an epoch waits for every Ready before it. A failed write ends the connection: the
   * learner never acknowledges what it could not log.
   *
   * Two kinds of broadcast Ready depend on nothing being persisted, so they do not wait behind
   * the fsyncs of earlier proposals: one that only sends REQUEST, REVALIDATE or PING (forwarded
   * writes reach the leader at once), and one that only applies COMMITs (and reports SYNCs and
   * revalidations), which waits only for the commits before it. A COMMIT means a quorum has
   * logged the txn, so this member's own fsync of it is not what makes it safe to apply; its ACK
   * still waits for that fsync. ZooKeeper's follower does the same: FollowerZooKeeperServer.commit
   * hands the txn to the CommitProcessor whatever its SyncRequestProcessor is doing.
   *
   * Once broadcasting with nothing left on those chains, a Ready (all the packets of one chunk)
   * is carried out at once by carryOutNow, with callbacks instead of promises: the same order,
   * at a fraction of the cost per txn.
   */
  private flush(): void {
    if (!this.core.hasReady()) return;
    const rd = this.core.ready();
    this.core.advance();
    // From the delivery of UPTODATE's Ready on: nothing of the sync is left to overtake (the
    // leader drops a learner whose next packet after NEWLEADER is not its ACK).
    const broadcasting = this.broadcasting();
    if (broadcasting && this.chained === 0 && broadcastOnly(rd)) return this.carryOutNow(rd);
    this.chain(rd, broadcasting);
  }

  /**
   * A broadcast Ready once every earlier Ready is carried out, without a promise: REQUEST,
   * REVALIDATE and PING replies go now, the appends start now and their ACKs go from the last
   * append's callback (the log settles appends in order, so all of them are durable then), and
   * the COMMITs are applied now, for the reasons given at flush.
   */
  private carryOutNow(rd: LearnerReady<ZkSnapshot>): void {
    if (this.closedReason !== null) return;
    const acks: QuorumPacket[] = [];
    for (const p of rd.messages) {
      if (p.type === PacketType.ACK) acks.push(p);
      else this.write(p);
    }
    if (rd.append.length > 0) this.logThenAck(rd.append, acks);
    try {
      for (const entry of rd.commit) this.applyEntry(entry);
    } catch (err) {
      return this.finish(`could not apply: ${(err as Error).message}`);
    }
    for (const r of rd.revalidations) this.emit('revalidated', r.sessionId, r.valid);
    if (rd.syncs > 0) this.emit('syncs', rd.syncs);
    if (rd.closed !== null) this.finish(rd.closed);
  }

  /** Logs a Ready's proposals and sends their ACKs once the last one is durable. */
  private logThenAck(entries: readonly LogEntry[], acks: readonly QuorumPacket[]): void {
    const fail = (err: Error): void => this.finish(`could not persist: ${err.message}`);
    const onEarlier = (err: Error | null): void => void (err && fail(err));
    const last = entries.at(-1)!;
    this.appendsInFlight++;
    const onLast = (err: Error | null): void => {
      if (TRACING) stamp('f.logged', zxidToNumber(last.zxid));
      if (--this.appendsInFlight === 0) for (const w of this.appendWaiters.splice(0)) w();
      if (err) return fail(err);
      if (this.closedReason === null) for (const a of acks) this.write(a);
    };
    try {
      for (let i = 0; i < entries.length - 1; i++) this.store.appendThen(zxidToNumber(entries[i]!.zxid), entries[i]!.data, onEarlier);
      this.store.appendThen(zxidToNumber(last.zxid), last.data, onLast);
    } catch (err) {
      // A zxid the log refuses (not after its last one): the leader sent a history we cannot log.
      onLast(err as Error);
    }
  }

  /** Settles once every append of carryOutNow has settled. */
  private appendsSettled(): Promise<void> {
    if (this.appendsInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.appendWaiters.push(resolve));
  }

  /** The Ready queued behind every earlier one (see flush). */
  private chain(rd: LearnerReady<ZkSnapshot>, broadcasting: boolean): void {
    this.chained++;
    const settled = (): void => void this.chained--;
    if (broadcasting && sendsOnly(rd)) {
      if (this.closedReason === null) for (const p of rd.messages) this.write(p);
      settled();
      return;
    }
    if (broadcasting && appliesOnly(rd)) {
      const applied = this.appliedBefore.then(() => this.deliver(rd)).catch((err: unknown) => this.finish(`could not apply: ${(err as Error).message}`));
      this.appliedBefore = applied;
      this.carriedOut = Promise.all([this.carriedOut, applied]).then(settled);
      return;
    }
    const logOnly = rd.snapshot === null && rd.truncateTo === null && !rd.reset && rd.acceptedEpoch === null && rd.currentEpoch === null;
    let persisted: Promise<void>;
    if (logOnly) {
      persisted = rd.append.length === 0 ? Promise.resolve() : this.appendsAfter.then(() => this.appendAll(rd.append));
    } else {
      persisted = this.carriedOut.then(() => this.appendsSettled()).then(() => this.persist(rd));
      this.appendsAfter = persisted;
    }
    this.carriedOut = Promise.all([this.carriedOut, persisted])
      .then(
        () => this.deliver(rd),
        (err: unknown) => this.finish(`could not persist: ${(err as Error).message}`),
      )
      .then(settled);
    // Later commits are applied after this Ready's, unless it only logs and acknowledges.
    if (!logOnly || !acknowledgesOnly(rd)) this.appliedBefore = this.carriedOut;
  }

  private deliver(rd: LearnerReady<ZkSnapshot>): void {
    if (this.closedReason !== null) return;
    for (const p of rd.messages) this.write(p);
    for (const entry of rd.commit) this.applyEntry(entry);
    for (const r of rd.revalidations) this.emit('revalidated', r.sessionId, r.valid);
    if (rd.syncs > 0) this.emit('syncs', rd.syncs);
    if (rd.closed !== null) this.finish(rd.closed);
    else this.maybeSynced();
  }

  private maybeSynced(): void {
    if (this.syncedEmitted || this.core.phase !== 'broadcast') return;
    this.syncedEmitted = true;
    this.emit('synced', this.core.syncMode!);
  }

  /**
   * snapshot → truncate → append (or reset and append in one step) → acceptedEpoch →
   * currentEpoch, each durable before the next. A refused TRUNC ends the connection; the store
   * then asks the next leader for its whole state.
   */
  private async persist(rd: LearnerReady<ZkSnapshot>): Promise<void> {
    // A connection that ended changes nothing more (its Readys are not acknowledged either).
    if (this.closedReason !== null) return;
    if (writesAheadOfEpoch(rd, this.store.currentEpoch)) await this.store.beginEpochUpdate();
    if (rd.snapshot) {
      const installed = await this.store.installZkSnapshot(rd.snapshot.zxid, rd.snapshot.state);
      this.state.replace(installed.tree, installed.sessions);
    }
    if (rd.truncateTo !== null) {
      // The tree may hold txns that are gone: it is rebuilt from what is durable.
      const left = await this.store.truncate(rd.truncateTo);
      this.state.replace(left.tree, left.sessions);
    }
    if (rd.reset) {
      await this.store.reset(rd.append, rd.commit.length);
      // The commits of this Ready are applied to the empty tree once it is delivered.
      this.state.install(0n, { sessions: new Map(), nodes: [] });
    } else {
      await this.appendAll(rd.append);
    }
    if (rd.acceptedEpoch !== null) await this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null) await this.store.setCurrentEpoch(rd.currentEpoch);
  }

  /** Logs txns in order; settles once all are durable (their fsyncs shared with other appends). */
  private appendAll(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let left = entries.length;
      const done = (err: Error | null): void => {
        if (err) return reject(err);
        if (--left === 0) resolve();
      };
      try {
        for (const e of entries) this.store.appendThen(zxidToNumber(e.zxid), e.data, done);
      } catch (err) {
        // A zxid the log refuses (not after its last one): the leader sent a history we cannot log.
        reject(err as Error);
      }
    });
  }

  private applyEntry(entry: LogEntry): void {
    if (TRACING) stamp('f.apply', zxidToNumber(entry.zxid));
    this.state.apply(entry);
    this.emit('applied', entry.zxid);
  }

  /** Packets of one loop iteration go out together, in one buffer. */
  private write(p: QuorumPacket): void {
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    this.outbox.push(p);
    if (this.outbox.length > 1) return;
    // After every input of this loop iteration: the ACKs of each fsync batch that settled and
    // the requests of every client read in one poll go out in one write.
    setImmediate(() => {
      const packets = this.outbox;
      this.outbox = [];
      if (TRACING) for (const p of packets) tracePacket('f.out', p);
      if (!socket.destroyed) socket.write(encodeQuorumPackets(packets));
    });
  }

  private finish(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.socket?.destroy();
    this.emit('closed', reason);
  }
}
