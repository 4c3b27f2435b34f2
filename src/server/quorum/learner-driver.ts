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
import { connect, type Socket } from 'node:net';
import { JuteReader } from '../../jute/binary.js';
import type { Id } from '../../jute/records.js';
import { readZkSnapshotBody, type ZkSnapshot } from '../../persistence/zkformat.js';
import type { DataTree } from '../../tree/datatree.js';
import { ZabLearner, type LearnerRole, type LearnerReady, type LogEntry, type SyncMode } from '../../consensus/learner.js';
import { decodeQuorumPacket, encodeQuorumPacket, quorumPacketLength, type QuorumPacket } from '../../consensus/wire.js';
import { SNAP_SIGNATURE } from './zk-snapshot-stream.js';
import type { Zxid } from '../../consensus/zxid.js';
import { catchUp, TreeReplica, type ReplicaState } from './replica.js';

export { treeFromZkSnapshot } from './replica.js';

/** What a learner keeps across restarts. */
export interface LearnerDurableState {
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  snapshot: { zxid: Zxid; snap: ZkSnapshot } | null;
  /** Txns after the snapshot, in zxid order, committed or not (a restart replays them all, as ZooKeeper does). */
  log: LogEntry[];
}

/**
 * The learner's durable store. Each call returns once its effect is durable (the memory store
 * is durable for the life of the process, which is what a restart of the learner in a test
 * needs).
 */
export interface LearnerStore {
  load(): LearnerDurableState;
  installSnapshot(zxid: Zxid, snap: ZkSnapshot): void;
  truncate(zxid: Zxid): void;
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
    this.state.snapshot = { zxid, snap };
    this.state.log = [];
  }

  truncate(zxid: Zxid): void {
    const snapZxid = this.state.snapshot?.zxid ?? 0n;
    if (zxid < snapZxid) throw new Error(`cannot truncate to ${zxid}, below the snapshot at ${snapZxid}`);
    this.state.log = this.state.log.filter((e) => e.zxid <= zxid);
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

/** The last zxid a store holds: its last logged txn, else its snapshot's. */
export function lastLoggedZxid(state: LearnerDurableState): Zxid {
  return state.log.at(-1)?.zxid ?? state.snapshot?.zxid ?? 0n;
}

/** Largest snapshot stream accepted, in bytes. */
export const MAX_SNAPSHOT_STREAM_BYTES = 1024 * 1024 * 1024;
/** Largest pending input outside a snapshot: one packet at most, plus what follows it. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface QuorumLearnerOptions {
  myId: bigint;
  leader: { host: string; port: number };
  store: LearnerStore;
  role?: LearnerRole;
  tickTimeMs: number;
  initLimit: number;
  syncLimit: number;
  connectTimeoutMs?: number;
  /** Where committed txns go; by default a tree of the learner's own. */
  state?: ReplicaState;
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
  private readonly store: LearnerStore;
  private readonly core: ZabLearner<ZkSnapshot>;
  private socket: Socket | null = null;
  private input: Buffer = Buffer.alloc(0);
  private snapshotAttemptBytes = 0;
  private ticker: NodeJS.Timeout | null = null;
  private closedReason: string | null = null;
  private syncedEmitted = false;
  private corked = false;

  constructor(options: QuorumLearnerOptions) {
    super();
    this.options = options;
    this.myId = options.myId;
    this.store = options.store;
    const state = this.store.load();
    this.state = options.state ?? new TreeReplica();
    catchUp(this.state, state, false);
    this.core = new ZabLearner<ZkSnapshot>({
      myId: options.myId,
      role: options.role,
      acceptedEpoch: state.acceptedEpoch,
      currentEpoch: state.currentEpoch,
      lastLoggedZxid: lastLoggedZxid(state),
      initLimitTicks: options.initLimit,
      syncLimitTicks: options.syncLimit,
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
      const socket = connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${host}:${port} within the connect timeout`)), this.options.connectTimeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.ticker = setInterval(() => this.onTick(), this.options.tickTimeMs);
        this.core.start();
        this.flush();
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.finish(`socket error: ${err.message}`);
      });
      socket.on('close', () => this.finish('the leader closed the connection'));
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

  stop(): Promise<void> {
    this.finish('stopped');
    return new Promise((resolve) => setImmediate(resolve));
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
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    try {
      this.drainInput(chunk.length);
    } catch (err) {
      this.finish(`bad input from the leader: ${(err as Error).message}`);
    }
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
      this.core.step(packet);
      this.flush();
    }
  }

  /**
   * The snapshot stream has no length, so it is parsed when enough may have arrived: whenever
   * the buffer doubled since the last try, or a short chunk suggests the sender paused. A
   * malformed stream therefore waits until initLimit ends the connection.
   */
  private trySnapshot(lastChunkBytes: number): boolean {
    if (this.input.length > MAX_SNAPSHOT_STREAM_BYTES) throw new Error('snapshot stream too large');
    if (this.input.length < 2 * this.snapshotAttemptBytes && lastChunkBytes >= 16 * 1024) return false;
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

  /** Carries out the core's Ready in its field order (see learner.ts). */
  private flush(): void {
    if (!this.core.hasReady()) return;
    const rd = this.core.ready();
    this.core.advance();
    this.persist(rd);
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

  private persist(rd: LearnerReady<ZkSnapshot>): void {
    if (rd.snapshot) {
      this.store.installSnapshot(rd.snapshot.zxid, rd.snapshot.state);
      this.state.install(rd.snapshot.zxid, rd.snapshot.state);
    }
    if (rd.truncateTo !== null) {
      this.store.truncate(rd.truncateTo);
      // The tree may hold txns that are gone: rebuild it from what is durable.
      catchUp(this.state, this.store.load(), true);
    }
    if (rd.append.length > 0) this.store.append(rd.append);
    if (rd.acceptedEpoch !== null) this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null) this.store.setCurrentEpoch(rd.currentEpoch);
  }

  private applyEntry(entry: LogEntry): void {
    this.state.apply(entry);
    this.emit('applied', entry.zxid);
  }

  /** Packets of one turn (ACKs of a batch of proposals) go out together. */
  private write(p: QuorumPacket): void {
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(encodeQuorumPacket(p));
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
