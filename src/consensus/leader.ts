/**
 * The leader side of Zab (ZooKeeper 3.8's Leader and LearnerHandler) as a pure state machine for
 * one epoch of leadership: discovery, sync of every learner, broadcast.
 *
 * Learner connections are named by the driver (`conn`, any number); the sid comes from
 * FOLLOWERINFO/OBSERVERINFO. Inputs: `step(conn, packet)`, `disconnected(conn)`, `propose()`,
 * `tick()` once per tickTime. `ready()` is carried out in field order, as for the learner:
 *   1. `append` to the leader's own log and fsync (its own ACK counts only after `advance()`),
 *   2. `acceptedEpoch`, then `currentEpoch`, durably (a driver may send the messages of a Ready
 *      that writes only `currentEpoch` while it writes it: see `currentEpochDurable`),
 *   3. `messages` in order per connection; `{snapshotAt}` means "stream your database as of this
 *      zxid here" (what follows SNAP), `{close}` ends that connection,
 *   4. apply `commit` in order,
 *   5. hand `requests`, `touches` and `revalidations` to the proposer and session tracker,
 *   6. read each of `logReads` from the log (asynchronously) and hand the txns to `logRead`.
 * `steppedDown` set means leadership is over: close every connection and look for a leader.
 *
 * The leader's own log at the start is its history (ZooKeeper applies its whole log at load),
 * and it counts as committed once a quorum has acknowledged NEWLEADER. Of it, and of what it
 * commits, the core keeps the last `commitLogCount` txns (ZKDatabase.committedLog): learners
 * inside that window get a DIFF from memory; older ones a DIFF from the log when the driver can
 * read it (`logReads`), else SNAP.
 */
import { JuteWriter } from '../jute/binary.js';
import type { LogEntry } from './learner.js';
import type { MajorityQuorum } from './members.js';
import {
  decodeIntPayload,
  decodeLearnerInfo,
  encodeIntPayload,
  LEARNER_PROTOCOL_VERSION,
  PacketType,
  packetTypeName,
  type QuorumPacket,
} from './wire.js';
import { counterOf, epochOf, makeZxid, MAX_COUNTER, zxidToHex, type Zxid } from './zxid.js';

export interface LeaderOptions {
  myId: bigint;
  quorum: MajorityQuorum;
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  /** The durable log after `snapshotZxid`, in zxid order. */
  log: readonly LogEntry[];
  /** Zxid of the leader's snapshot; learners behind it get SNAP. 0 when the log starts at the beginning. */
  snapshotZxid?: Zxid;
  /** NEWLEADER's data: the quorum config text. */
  config: Buffer;
  initLimitTicks: number;
  syncLimitTicks: number;
  /** Committed txns kept in memory for DIFFs (ZooKeeper's commitLogCount); default 500. */
  commitLogCount?: number;
  /**
   * The driver can read committed txns from its log: a learner older than the in-memory window
   * is asked for in `logReads` instead of getting SNAP at once. Default false.
   */
  logReads?: boolean;
}

/** ZooKeeper's DEFAULT_COMMIT_LOG_COUNT. */
export const DEFAULT_COMMIT_LOG_COUNT = 500;

/**
 * A learner older than the in-memory window: the driver reads the log's txns after `after`
 * through `through` and hands them to `logRead(conn, ...)`, or null when the log cannot give
 * them (not logged, a hole, or larger than its size limit), which means SNAP.
 */
export interface LogRead {
  conn: number;
  after: Zxid;
  through: Zxid;
}

export type LeaderPhase = 'discovery' | 'sync' | 'broadcast' | 'closed';

export type LeaderMessage =
  | { conn: number; packet: QuorumPacket }
  | { conn: number; snapshotAt: Zxid }
  | { conn: number; close: string };

export interface LeaderReady {
  append: LogEntry[];
  acceptedEpoch: bigint | null;
  currentEpoch: bigint | null;
  messages: LeaderMessage[];
  commit: LogEntry[];
  /** REQUEST packets: a learner forwarded a client request (long sessionId, int cxid, int type, bytes). */
  requests: { conn: number; data: Buffer; authinfo: QuorumPacket['authinfo'] }[];
  /** Session touches from PING replies. */
  touches: { sessionId: bigint; timeoutMs: number }[];
  /** REVALIDATE questions; answer with `answerRevalidate`. */
  revalidations: { conn: number; sessionId: bigint; timeoutMs: number }[];
  logReads: LogRead[];
  steppedDown: string | null;
}

type LearnerStage = 'info' | 'ackepoch' | 'log-read' | 'newleader-ack' | 'uptodate' | 'broadcast';

interface LearnerState {
  conn: number;
  sid: bigint;
  observer: boolean;
  stage: LearnerStage;
  acceptedEpoch: bigint;
  /** From ACKEPOCH. */
  lastZxid: Zxid;
  ticksSilent: number;
  /** How this learner was synced, for tests and 4lw. */
  syncMode: 'diff' | 'trunc' | 'snap' | null;
  /** While its log read is under way: the read ends here, memory has the rest. */
  logThrough: Zxid | null;
  /** Whether its DIFF came from the log (for tests and the driver's log line). */
  diffFromLog: boolean;
}

interface Outstanding {
  entry: LogEntry;
  /**
   * Who acknowledged it: sid -> the connection the ACK came on (SELF for the leader). An ACK
   * counts only while that connection is open and is its sid's newest: a learner that comes
   * back is synced again and may be TRUNCated below this proposal before it logs it anew, so
   * its old ACK no longer stands for a durable copy (the simulator found a write acknowledged
   * while only a minority held it: npm run sim -- --seed 40020 --servers 5 --clients 8
   * --fault-ms 8000 --fault-every 200). The learner ACKs the proposal again after its sync.
   */
  ackSids: bigint[];
  /** ackConns[i] is the connection ackSids[i] acknowledged on (a pair of arrays: no Map per proposal). */
  ackConns: number[];
}

/** The connection number the leader's own ACKs are recorded with. */
const SELF = -1;

/** Most proposals waiting for a quorum: past it propose() refuses (the caller backs off). */
export const MAX_OUTSTANDING_PROPOSALS = 10_000;

export class ZabLeader {
  readonly myId: bigint;
  phase: LeaderPhase = 'discovery';
  /** The epoch being established (null until a quorum of FOLLOWERINFO). */
  epoch: bigint | null = null;
  acceptedEpoch: bigint;
  currentEpoch: bigint;

  private readonly quorum: MajorityQuorum;
  private readonly config: Buffer;
  private readonly initLimitTicks: number;
  private readonly syncLimitTicks: number;
  /**
   * The last committed txns (the log at start plus what was committed since), at most
   * commitLogCount of them unless a log read under way needs more.
   */
  private history: LogEntry[];
  /** Where the window starts in `history` (the array is cut now and then, not at every commit). */
  private head = 0;
  /** The zxid just before the window: a learner at it or after is DIFFed from memory. */
  private historyBase: Zxid;
  private readonly commitLogCount: number;
  private readonly logReads: boolean;
  /** The zxid of the leader's own last logged txn at start (its ACKEPOCH state). */
  private readonly startZxid: Zxid;
  private lastProposed: Zxid;
  private lastCommitted: Zxid;
  private readonly outstanding: Outstanding[] = [];
  /** Forwarded syncs by the zxid whose COMMIT they follow (see syncAfter), in zxid order. */
  private pendingSyncs: { conn: number; zxid: Zxid }[] = [];
  /** Appends handed out in the current Ready: the leader ACKs them itself on advance(). */
  private selfAckPending: Zxid[] = [];
  private readonly learners = new Map<number, LearnerState>();
  /** Each learner sid's newest connection: ACKs from an older one no longer count. */
  private readonly newestConn = new Map<bigint, number>();
  /**
   * The voters' FOLLOWERINFO, ACKEPOCH and NEWLEADER ACK, by sid, with the connection each came
   * on (SELF for the leader). Like a proposal's ACK, each counts towards its quorum only while
   * that connection is open and newest for its sid: a learner that acknowledged this epoch and
   * left may since have joined a newer leader (the simulator found epoch 5 established on an
   * ACK from a server already leading epoch 6: npm run sim -- --seed 12040 --servers 5).
   */
  private readonly epochVoters = new Map<bigint, { acceptedEpoch: bigint; conn: number }>();
  private readonly epochAcks = new Map<bigint, number>();
  private readonly newLeaderAcks = new Map<bigint, number>();
  private ticksInPhase = 0;
  private out: LeaderReady = emptyReady();

  constructor(options: LeaderOptions) {
    this.myId = options.myId;
    this.quorum = options.quorum;
    this.config = options.config;
    this.initLimitTicks = options.initLimitTicks;
    this.syncLimitTicks = options.syncLimitTicks;
    this.acceptedEpoch = options.acceptedEpoch;
    this.currentEpoch = options.currentEpoch;
    this.commitLogCount = Math.max(1, options.commitLogCount ?? DEFAULT_COMMIT_LOG_COUNT);
    this.logReads = options.logReads ?? false;
    this.history = [...options.log];
    this.historyBase = options.snapshotZxid ?? 0n;
    this.startZxid = this.history.at(-1)?.zxid ?? this.historyBase;
    this.trimHistory();
    this.lastProposed = this.startZxid;
    this.lastCommitted = this.startZxid;
    this.epochVoters.set(this.myId, { acceptedEpoch: this.acceptedEpoch, conn: SELF });
    this.epochAcks.set(this.myId, SELF);
    // The leader's own NEWLEADER ACK counts once its currentEpoch is durable (currentEpochDurable).
  }

  /** The learners past NEWLEADER's ACK, by sid (ZooKeeper's synced followers). */
  syncedLearners(): bigint[] {
    return [...this.learners.values()].filter((l) => l.stage === 'uptodate' || l.stage === 'broadcast').map((l) => l.sid);
  }

  learnerSyncMode(sid: bigint): 'diff' | 'trunc' | 'snap' | null {
    for (const l of this.learners.values()) if (l.sid === sid) return l.syncMode;
    return null;
  }

  /** Whether the learner's DIFF was read from the log rather than memory. */
  learnerDiffFromLog(sid: bigint): boolean {
    for (const l of this.learners.values()) if (l.sid === sid) return l.diffFromLog;
    return false;
  }

  get lastCommittedZxid(): Zxid {
    return this.lastCommitted;
  }

  /**
   * The in-memory window (ZooKeeper's minCommittedLog, maxCommittedLog and committedLog size);
   * min = max = the start zxid while it is empty.
   */
  committedLog(): { min: Zxid; max: Zxid; count: number } {
    const min = this.history[this.head]?.zxid ?? this.historyBase;
    return { min, max: this.history.at(-1)?.zxid ?? min, count: this.history.length - this.head };
  }

  /**
   * Proposes a txn; `makeData` builds the txn bytes for its zxid. Null when not broadcasting,
   * when too many proposals wait, or when the epoch's counter is used up (ZooKeeper then forces
   * a new election: so does this, by stepping down).
   */
  propose(makeData: (zxid: Zxid) => Buffer): Zxid | null {
    if (this.phase !== 'broadcast' || this.outstanding.length >= MAX_OUTSTANDING_PROPOSALS) return null;
    if (counterOf(this.lastProposed) === MAX_COUNTER) {
      this.stepDown('zxid counter exhausted: a new epoch is needed');
      return null;
    }
    const zxid = this.lastProposed + 1n;
    const entry = { zxid, data: makeData(zxid) };
    this.lastProposed = zxid;
    this.outstanding.push({ entry, ackSids: [], ackConns: [] });
    this.out.append.push(entry);
    this.selfAckPending.push(zxid);
    // One packet object for every learner: it is only read from here on.
    const packet: QuorumPacket = { type: PacketType.PROPOSAL, zxid, data: entry.data, authinfo: null };
    for (const l of this.learners.values()) {
      if (!l.observer && this.forwarding(l)) this.out.messages.push({ conn: l.conn, packet });
    }
    return zxid;
  }

  answerRevalidate(conn: number, sessionId: bigint, valid: boolean): void {
    const w = new JuteWriter(9).long(sessionId).bool(valid);
    this.send(conn, PacketType.REVALIDATE, 0n, Buffer.from(w.bytes()));
  }

  /**
   * A learner's forwarded sync, handed over once every request that learner forwarded before it
   * has been proposed. SYNC goes to it right after the COMMIT of the last proposal made so far (at
   * once when none waits) and before any later COMMIT, as Leader.processSync and tryToCommit send
   * it. A ZooKeeper follower matches the COMMITs and SYNCs it receives to its forwarded requests
   * in order: a SYNC behind the COMMIT of a request forwarded after the sync leaves that request
   * unanswered, and its commit processor waiting on it for good.
   */
  sync(conn: number): void {
    if (this.outstanding.length === 0) this.send(conn, PacketType.SYNC, this.lastCommitted, null);
    else this.pendingSyncs.push({ conn, zxid: this.lastProposed });
  }

  /** Forwarded syncs waiting for their proposal to commit. */
  pendingSyncCount(): number {
    return this.pendingSyncs.length;
  }

  /** Whether `conn` is a learner the core holds: false before its first packet and once dropped. */
  hasLearner(conn: number): boolean {
    return this.learners.has(conn);
  }

  disconnected(conn: number): void {
    this.learners.delete(conn);
    if (this.pendingSyncs.some((p) => p.conn === conn)) this.pendingSyncs = this.pendingSyncs.filter((p) => p.conn !== conn);
  }

  tick(): void {
    if (this.phase === 'closed') return;
    this.ticksInPhase++;
    if (this.phase !== 'broadcast' && this.ticksInPhase > this.initLimitTicks) {
      return this.stepDown(`no quorum for ${this.phase === 'discovery' ? 'the new epoch' : 'NEWLEADER'} within initLimit (${this.initLimitTicks} ticks)`);
    }
    for (const l of [...this.learners.values()]) {
      l.ticksSilent++;
      const limit = l.stage === 'broadcast' || l.stage === 'uptodate' ? this.syncLimitTicks : this.initLimitTicks;
      if (l.ticksSilent > limit) this.dropLearner(l, `nothing from sid ${l.sid} for ${l.ticksSilent} ticks (limit ${limit})`);
    }
    if (this.phase !== 'broadcast') return;
    // Leader.lead: every tick the synced voters (and the leader) must still be a quorum.
    const synced = [this.myId, ...this.syncedLearners()];
    if (!this.quorum.containsQuorum(synced)) return this.stepDown(`only synced with ${synced.join(',')}: no quorum`);
    for (const l of this.learners.values()) {
      if (l.stage === 'uptodate' || l.stage === 'broadcast') this.send(l.conn, PacketType.PING, this.lastProposed, null);
    }
  }

  step(conn: number, p: QuorumPacket): void {
    if (this.phase === 'closed') return;
    const learner = this.learners.get(conn);
    if (learner === undefined) return this.first(conn, p);
    learner.ticksSilent = 0;
    switch (learner.stage) {
      case 'info':
        return this.dropLearner(learner, `${packetTypeName(p.type)} before LEADERINFO was sent`);
      case 'ackepoch':
        return this.ackEpoch(learner, p);
      case 'log-read':
        return this.dropLearner(learner, `${packetTypeName(p.type)} while its sync is read from the log`);
      case 'newleader-ack':
        return this.newLeaderAck(learner, p);
      case 'uptodate':
      case 'broadcast':
        return this.broadcastPacket(learner, p);
    }
  }

  hasReady(): boolean {
    const o = this.out;
    return (
      o.append.length > 0 || o.acceptedEpoch !== null || o.currentEpoch !== null || o.messages.length > 0 || o.commit.length > 0 ||
      o.requests.length > 0 || o.touches.length > 0 || o.revalidations.length > 0 || o.logReads.length > 0 || o.steppedDown !== null
    );
  }

  ready(): LeaderReady {
    return this.out;
  }

  /**
   * The Ready was carried out: the leader's own appends are durable, so it ACKs them. A driver
   * whose log settles later passes `appendsDurable = false` and calls `logged` for each append
   * once its fsync returns.
   */
  advance(appendsDurable = true): void {
    const acked = this.selfAckPending;
    const wroteCurrentEpoch = this.out.currentEpoch !== null;
    this.selfAckPending = [];
    this.out = emptyReady();
    if (appendsDurable && wroteCurrentEpoch) this.currentEpochDurable();
    if (appendsDurable) for (const zxid of acked) this.ack(this.myId, zxid, SELF);
  }

  /**
   * The new `currentEpoch` is durable: from now on the leader's own NEWLEADER ACK counts (a
   * driver that passes `advance(false)` calls this once its write returns). As in Leader.lead,
   * which calls setCurrentEpoch and then waitForNewLeaderAck while the learner handlers already
   * send DIFF and NEWLEADER: the epoch's write need not delay the sync, only the establishment.
   */
  currentEpochDurable(): void {
    if (this.phase !== 'sync' || this.newLeaderAcks.has(this.myId)) return;
    this.newLeaderAcks.set(this.myId, SELF);
    this.tryEstablish();
  }

  /** The leader's own append of `zxid` is durable: its ACK counts from now on. */
  logged(zxid: Zxid): void {
    this.ack(this.myId, zxid, SELF);
  }

  // ---- discovery ----

  private first(conn: number, p: QuorumPacket): void {
    if (p.type !== PacketType.FOLLOWERINFO && p.type !== PacketType.OBSERVERINFO) {
      this.out.messages.push({ conn, close: `first packet ${packetTypeName(p.type)} is not FOLLOWERINFO or OBSERVERINFO` });
      return;
    }
    const info = decodeLearnerInfo(p.data);
    if ('error' in info) {
      this.out.messages.push({ conn, close: info.error });
      return;
    }
    if (info.protocolVersion < LEARNER_PROTOCOL_VERSION) {
      this.out.messages.push({ conn, close: `learner protocol ${info.protocolVersion} (pre-3.4) is not supported` });
      return;
    }
    const observer = p.type === PacketType.OBSERVERINFO;
    const learner: LearnerState = {
      conn, sid: info.serverid, observer, stage: 'info', acceptedEpoch: epochOf(p.zxid), lastZxid: 0n, ticksSilent: 0, syncMode: null, logThrough: null, diffFromLog: false,
    };
    this.learners.set(conn, learner);
    this.newestConn.set(info.serverid, conn);
    if (this.epoch === null) {
      if (!observer && this.quorum.isVoter(info.serverid)) this.epochVoters.set(info.serverid, { acceptedEpoch: learner.acceptedEpoch, conn });
      this.tryDecideEpoch();
    } else {
      this.sendLeaderInfo(learner);
    }
  }

  /**
   * Leader.getEpochToPropose: once a quorum of connected voters reported, the new epoch is the
   * highest accepted + 1 (a report from a connection since closed still raises it).
   */
  private tryDecideEpoch(): void {
    if (this.epoch !== null) return;
    const standing = this.standing([...this.epochVoters].map(([sid, v]) => [sid, v.conn]));
    if (!this.quorum.containsQuorum(standing)) return;
    let max = 0n;
    for (const v of this.epochVoters.values()) if (v.acceptedEpoch > max) max = v.acceptedEpoch;
    this.epoch = max + 1n;
    this.acceptedEpoch = this.epoch;
    this.out.acceptedEpoch = this.epoch;
    for (const l of this.learners.values()) if (l.stage === 'info') this.sendLeaderInfo(l);
  }

  private sendLeaderInfo(l: LearnerState): void {
    this.send(l.conn, PacketType.LEADERINFO, makeZxid(this.epoch!, 0n), encodeIntPayload(LEARNER_PROTOCOL_VERSION));
    l.stage = 'ackepoch';
  }

  /** Leader.waitForEpochAck: a learner more recent than the leader must not be led by it. */
  private ackEpoch(l: LearnerState, p: QuorumPacket): void {
    if (p.type !== PacketType.ACKEPOCH) return this.dropLearner(l, `expected ACKEPOCH, got ${packetTypeName(p.type)}`);
    const peerEpoch = decodeIntPayload(p.data);
    if (typeof peerEpoch !== 'number') return this.dropLearner(l, `ACKEPOCH: ${peerEpoch.error}`);
    l.lastZxid = p.zxid;
    if (peerEpoch !== -1) {
      const epoch = BigInt(peerEpoch);
      const moreRecent = epoch > this.currentEpoch || (epoch === this.currentEpoch && p.zxid > this.startZxid);
      if (moreRecent && this.phase === 'discovery') {
        return this.stepDown(`sid ${l.sid} (epoch ${epoch}, ${zxidToHex(p.zxid)}) is more recent than this leader`);
      }
      if (moreRecent) return this.dropLearner(l, `sid ${l.sid} is more recent than this leader`);
      if (!l.observer && this.quorum.isVoter(l.sid)) this.epochAcks.set(l.sid, l.conn);
    }
    l.stage = 'newleader-ack';
    if (this.phase === 'discovery') {
      if (!this.quorum.containsQuorum(this.standing(this.epochAcks))) return;
      // Leader.lead sets currentEpoch once a quorum acknowledged the epoch.
      this.phase = 'sync';
      this.ticksInPhase = 0;
      // The epoch's first zxid; proposals start after it (Leader.lead: zk.setZxid).
      this.lastProposed = makeZxid(this.epoch!, 0n);
      this.currentEpoch = this.epoch!;
      this.out.currentEpoch = this.epoch!;
      for (const waiting of this.learners.values()) if (waiting.stage === 'newleader-ack') this.syncLearner(waiting);
      return;
    }
    this.syncLearner(l);
  }

  // ---- sync ----

  /**
   * LearnerHandler.syncFollower: DIFF when the peer is at our last zxid or inside the in-memory
   * window, TRUNC when it is ahead of it (or diverged inside it: TRUNC to the last common zxid,
   * then the rest as DIFF), a DIFF read from the log when it is older than the window (if the
   * driver reads logs; `logRead` finishes it), else SNAP. Then every proposal still outstanding,
   * then NEWLEADER; from here the learner gets every new PROPOSAL and COMMIT.
   */
  private syncLearner(l: LearnerState): void {
    const peer = l.lastZxid;
    const last = this.lastCommitted;
    const newEpochZxid = counterOf(peer) === 0n;
    if (peer === last) {
      l.syncMode = 'diff';
      this.send(l.conn, PacketType.DIFF, peer, null);
    } else if (peer > last && !newEpochZxid) {
      l.syncMode = 'trunc';
      this.send(l.conn, PacketType.TRUNC, last, null);
    } else if (peer >= this.historyBase && peer < last) {
      this.diffFromHistory(l, peer);
    } else if (this.logReads && peer < this.historyBase) {
      // The log has what memory no longer holds; memory keeps everything after `through`.
      l.stage = 'log-read';
      l.logThrough = this.historyBase;
      this.out.logReads.push({ conn: l.conn, after: peer, through: this.historyBase });
      return;
    } else {
      this.sendSnap(l);
    }
    this.finishSync(l);
  }

  /**
   * The log's txns for a learner waiting on `logReads`: after its zxid through the read's end,
   * or null (SNAP). The DIFF goes on with the in-memory window after them.
   */
  logRead(conn: number, entries: readonly LogEntry[] | null): void {
    const l = this.learners.get(conn);
    if (this.phase === 'closed' || l === undefined || l.stage !== 'log-read' || l.logThrough === null) return;
    const through = l.logThrough;
    l.logThrough = null;
    if (entries === null || !readCovers(entries, l.lastZxid, through)) {
      this.sendSnap(l);
    } else {
      l.syncMode = 'diff';
      l.diffFromLog = true;
      this.send(l.conn, PacketType.DIFF, this.lastCommitted, null);
      for (const e of entries) this.sendCommitted(l.conn, e);
      for (let i = this.head; i < this.history.length; i++) {
        const e = this.history[i]!;
        if (e.zxid > through) this.sendCommitted(l.conn, e);
      }
    }
    this.finishSync(l);
    this.trimHistory();
  }

  private finishSync(l: LearnerState): void {
    // Only participants get the proposals still outstanding (Leader.startForwarding): an observer
    // is INFORMed of each when it commits, and a PROPOSAL before it would make that INFORM stale.
    if (!l.observer) for (const o of this.outstanding) this.send(l.conn, PacketType.PROPOSAL, o.entry.zxid, o.entry.data);
    this.send(l.conn, PacketType.NEWLEADER, makeZxid(this.epoch!, 0n), this.config);
    l.stage = 'newleader-ack';
  }

  private sendSnap(l: LearnerState): void {
    l.syncMode = 'snap';
    this.send(l.conn, PacketType.SNAP, this.lastCommitted, null);
    this.out.messages.push({ conn: l.conn, snapshotAt: this.lastCommitted });
  }

  private sendCommitted(conn: number, e: LogEntry): void {
    this.send(conn, PacketType.PROPOSAL, e.zxid, e.data);
    this.send(conn, PacketType.COMMIT, e.zxid, null);
  }

  /** queueCommittedProposals over the in-memory window. */
  private diffFromHistory(l: LearnerState, peer: Zxid): void {
    let prev = this.historyBase;
    let opSent = peer === this.historyBase || counterOf(peer) === 0n;
    if (opSent) {
      l.syncMode = 'diff';
      this.send(l.conn, PacketType.DIFF, this.lastCommitted, null);
    }
    for (let i = this.head; i < this.history.length; i++) {
      const e = this.history[i]!;
      if (e.zxid < peer) {
        prev = e.zxid;
        continue;
      }
      if (!opSent) {
        opSent = true;
        if (e.zxid === peer) {
          l.syncMode = 'diff';
          this.send(l.conn, PacketType.DIFF, this.lastCommitted, null);
          continue;
        }
        // The peer logged a zxid we never had: cut it back to the last one we share.
        l.syncMode = 'trunc';
        this.send(l.conn, PacketType.TRUNC, prev, null);
      }
      if (e.zxid === peer) continue;
      this.sendCommitted(l.conn, e);
    }
  }

  /**
   * ZKDatabase.addCommittedProposal's cap: drop the oldest txns past commitLogCount, but none
   * after the end of a log read under way (its learner gets those from memory).
   */
  private trimHistory(): void {
    let floor: Zxid | null = null;
    for (const l of this.learners.values()) {
      if (l.logThrough !== null && (floor === null || l.logThrough < floor)) floor = l.logThrough;
    }
    const start = this.head;
    while (this.history.length - this.head > this.commitLogCount && (floor === null || this.history[this.head]!.zxid <= floor)) this.head++;
    if (this.head === start) return;
    this.historyBase = this.history[this.head - 1]!.zxid;
    // Cutting the array once per commitLogCount commits keeps a commit's cost constant.
    if (this.head >= this.commitLogCount) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }

  private newLeaderAck(l: LearnerState, p: QuorumPacket): void {
    if (p.type !== PacketType.ACK) return this.dropLearner(l, `expected NEWLEADER's ACK, got ${packetTypeName(p.type)}`);
    if (p.zxid !== makeZxid(this.epoch!, 0n)) return this.dropLearner(l, `NEWLEADER ACK for ${zxidToHex(p.zxid)}`);
    l.stage = 'uptodate';
    if (!l.observer && this.quorum.isVoter(l.sid)) this.newLeaderAcks.set(l.sid, l.conn);
    if (this.phase === 'sync') return this.tryEstablish();
    if (this.phase === 'broadcast') this.sendUpToDate(l);
  }

  /** A quorum acknowledged NEWLEADER (the leader's own ACK included): broadcast, and UPTODATE to every acknowledged learner. */
  private tryEstablish(): void {
    if (this.phase !== 'sync' || !this.quorum.containsQuorum(this.standing(this.newLeaderAcks))) return;
    this.phase = 'broadcast';
    this.ticksInPhase = 0;
    for (const waiting of this.learners.values()) if (waiting.stage === 'uptodate') this.sendUpToDate(waiting);
  }

  private sendUpToDate(l: LearnerState): void {
    this.send(l.conn, PacketType.UPTODATE, -1n, null);
    l.stage = 'broadcast';
  }

  // ---- broadcast ----

  /** Synced learners get every later PROPOSAL and COMMIT (Leader.startForwarding). */
  private forwarding(l: LearnerState): boolean {
    return l.syncMode !== null;
  }

  private broadcastPacket(l: LearnerState, p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.ACK:
        // The ACK of UPTODATE carries the epoch's first zxid; it counts for nothing.
        if (counterOf(p.zxid) === 0n || l.observer) return;
        return this.ack(l.sid, p.zxid, l.conn);
      case PacketType.PING:
        return this.touches(l, p.data);
      case PacketType.REQUEST:
        if (p.data === null || p.data.length < 16) return this.dropLearner(l, `REQUEST of ${p.data?.length ?? 'null'} bytes`);
        this.out.requests.push({ conn: l.conn, data: p.data, authinfo: p.authinfo });
        return;
      case PacketType.REVALIDATE:
        if (p.data === null || p.data.length < 12) return this.dropLearner(l, `REVALIDATE of ${p.data?.length ?? 'null'} bytes`);
        this.out.revalidations.push({ conn: l.conn, sessionId: p.data.readBigInt64BE(0), timeoutMs: p.data.readInt32BE(8) });
        return;
      default:
        return this.dropLearner(l, `unexpected ${packetTypeName(p.type)}`);
    }
  }

  private touches(l: LearnerState, data: Buffer | null): void {
    if (data === null) return;
    if (data.length % 12 !== 0) return this.dropLearner(l, `PING with ${data.length} bytes of touches`);
    for (let at = 0; at < data.length; at += 12) {
      this.out.touches.push({ sessionId: data.readBigInt64BE(at), timeoutMs: data.readInt32BE(at + 8) });
    }
  }

  /** Leader.processAck: count the ACK, then commit in zxid order while the head has a quorum. */
  private ack(sid: bigint, zxid: Zxid, conn: number): void {
    if (this.phase !== 'broadcast' || zxid <= this.lastCommitted) return;
    const o = this.outstandingAt(zxid);
    if (o === undefined) return;
    if (this.quorum.isVoter(sid)) {
      const at = o.ackSids.indexOf(sid);
      if (at < 0) {
        o.ackSids.push(sid);
        o.ackConns.push(conn);
      } else {
        o.ackConns[at] = conn;
      }
    }
    let committed = false;
    while (this.outstanding.length > 0 && this.acknowledged(this.outstanding[0]!)) {
      const head = this.outstanding.shift()!;
      this.lastCommitted = head.entry.zxid;
      this.history.push(head.entry);
      this.out.commit.push(head.entry);
      committed = true;
      let commit: QuorumPacket | null = null;
      for (const l of this.learners.values()) {
        if (!this.forwarding(l)) continue;
        if (l.observer) this.send(l.conn, PacketType.INFORM, head.entry.zxid, head.entry.data);
        else this.out.messages.push({ conn: l.conn, packet: (commit ??= { type: PacketType.COMMIT, zxid: head.entry.zxid, data: null, authinfo: null }) });
      }
      this.releaseSyncs();
    }
    // Once per ACK, not per commit: the window's cap is kept in steps anyway.
    if (committed) this.trimHistory();
  }

  /** SYNC to each learner whose forwarded sync waited for what is now committed. */
  private releaseSyncs(): void {
    let released = 0;
    for (const p of this.pendingSyncs) {
      if (p.zxid > this.lastCommitted) break;
      released++;
      if (this.learners.has(p.conn)) this.send(p.conn, PacketType.SYNC, this.lastCommitted, null);
    }
    if (released > 0) this.pendingSyncs = this.pendingSyncs.slice(released);
  }

  /** The outstanding proposal of `zxid`: they are consecutive zxids of this epoch, so found by offset. */
  private outstandingAt(zxid: Zxid): Outstanding | undefined {
    const first = this.outstanding[0];
    if (first === undefined || zxid < first.entry.zxid) return undefined;
    const o = this.outstanding[Number(zxid - first.entry.zxid)];
    return o?.entry.zxid === zxid ? o : this.outstanding.find((x) => x.entry.zxid === zxid);
  }

  /** Of (sid, connection it spoke on) pairs, the sids whose connection is open and newest for it. */
  private standing(from: Iterable<readonly [bigint, number]>): bigint[] {
    const out: bigint[] = [];
    for (const [sid, conn] of from) if (this.stands(sid, conn)) out.push(sid);
    return out;
  }

  /** An ACK from `sid` on `conn` counts: the leader's own, or on the open connection newest for its sid. */
  private stands(sid: bigint, conn: number): boolean {
    return conn === SELF || (this.learners.get(conn)?.sid === sid && this.newestConn.get(sid) === conn);
  }

  /** Whether the ACKs of a proposal that still stand are a quorum. */
  private acknowledged(o: Outstanding): boolean {
    // Every ACK was first counted (ackSids holds voters only), so most proposals have a
    // quorum of standing ones; the array is built only when some do not stand.
    const { ackSids, ackConns } = o;
    let allStand = true;
    for (let i = 0; i < ackSids.length && allStand; i++) allStand = this.stands(ackSids[i]!, ackConns[i]!);
    if (allStand) return this.quorum.containsQuorum(ackSids);
    const standing: bigint[] = [];
    for (let i = 0; i < ackSids.length; i++) if (this.stands(ackSids[i]!, ackConns[i]!)) standing.push(ackSids[i]!);
    return this.quorum.containsQuorum(standing);
  }

  private dropLearner(l: LearnerState, reason: string): void {
    this.learners.delete(l.conn);
    this.out.messages.push({ conn: l.conn, close: reason });
  }

  private stepDown(reason: string): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.out.steppedDown = reason;
    for (const l of this.learners.values()) this.out.messages.push({ conn: l.conn, close: 'the leader stepped down' });
    this.learners.clear();
  }

  private send(conn: number, type: number, zxid: Zxid, data: Buffer | null): void {
    this.out.messages.push({ conn, packet: { type, zxid, data, authinfo: null } });
  }
}

function emptyReady(): LeaderReady {
  return { append: [], acceptedEpoch: null, currentEpoch: null, messages: [], commit: [], requests: [], touches: [], revalidations: [], logReads: [], steppedDown: null };
}

/** The txns after `after` through `through`, in order with no gap in their counters within an epoch. */
function readCovers(entries: readonly LogEntry[], after: Zxid, through: Zxid): boolean {
  let prev = after;
  for (const e of entries) {
    if (e.zxid <= prev) return false;
    if (epochOf(e.zxid) === epochOf(prev) && e.zxid !== prev + 1n) return false;
    prev = e.zxid;
  }
  return prev === through;
}
