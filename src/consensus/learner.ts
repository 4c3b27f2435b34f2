/**
 * The learner side of Zab (ZooKeeper 3.8's Learner, Follower and Observer) as a pure state
 * machine for one connection to one leader: discovery, sync and broadcast.
 *
 * Inputs: `start()` once, `step(packet)` for every packet read from the leader, `snapshot(state)`
 * for the snapshot stream that follows SNAP (the driver parses it; the core keeps it opaque),
 * `tick()` once per tickTime. Outputs come from `ready()`, acknowledged by `advance()`. The
 * driver carries out a Ready in field order, which is what makes the protocol safe:
 *   1. install `snapshot` durably (it replaces the tree and the log),
 *   2. `truncateTo`: drop every logged txn after that zxid,
 *   3. `append` to the log and fsync; with `reset`, the append replaces the whole durable state
 *      (the empty tree at zxid 0, then `append`) in one step: the old state stays until the new
 *      one is durable, and `commit` then starts from the empty tree,
 *   4. write `acceptedEpoch`, then `currentEpoch` (each durably),
 *   5. send `messages` in order,
 *   6. apply `commit` in order (every one of them was appended in this or an earlier Ready),
 *   7. report `revalidations` and `syncs` to the request front.
 * Persisting before sending is the whole contract: an ACK leaves only for a logged txn, and
 * NEWLEADER's ACK only after the sync's txns and then the new currentEpoch are durable.
 *
 * One deliberate difference from 3.8.0: txns received during sync are logged (and fsynced)
 * before currentEpoch is written and before NEWLEADER is acknowledged, and nothing is applied
 * before it is logged. 3.8.0 applies DIFF txns in memory only and writes currentEpoch first, so
 * a crash right after could leave a server whose epoch claims txns its log lacks
 * (ZOOKEEPER-4643/4646, fixed upstream after 3.8.0; the fix persists the committed txns first).
 * Proposals ACKed before NEWLEADER's ACK made 3.8.0 leaders give up (ZOOKEEPER-4685); here every
 * proposal of the sync is acknowledged after UPTODATE, as the fix does.
 *
 * A second one: a store that cannot honour a TRUNC (the zxid is below a snapshot it installed
 * from a leader whose epoch never established) makes ZooKeeper 3.8 exit. Here the driver ends the
 * connection and the next one starts with `fullSync`: ACKEPOCH reports zxid 0, which any leader
 * (ZooKeeper's LearnerHandler.syncFollower or ZabLeader) answers with SNAP, or with a DIFF (or a
 * TRUNC to 0) of its whole history when that history starts at the beginning. Such a DIFF
 * replaces the learner's state at NEWLEADER (`reset`), never before.
 */
import { JuteWriter } from '../jute/binary.js';
import {
  decodeIntPayload,
  encodeIntPayload,
  encodeLearnerInfo,
  LEARNER_PROTOCOL_VERSION,
  PacketType,
  packetTypeName,
  type QuorumPacket,
} from './wire.js';
import { epochOf, makeZxid, zxidToHex, type Zxid } from './zxid.js';

/** One txn as the log keeps it: its zxid and the PROPOSAL's data (TxnHeader, record, digest). */
export interface LogEntry {
  zxid: Zxid;
  data: Buffer;
}

export type LearnerRole = 'follower' | 'observer';

export type LearnerPhase = 'idle' | 'discovery' | 'sync-start' | 'snapshot' | 'sync' | 'sync-acked' | 'broadcast' | 'closed';

/** How the leader chose to sync us (QuorumPeer.SyncMode), null before its first sync packet. */
export type SyncMode = 'diff' | 'trunc' | 'snap';

export interface LearnerOptions {
  myId: bigint;
  role?: LearnerRole;
  /** The durable state this connection starts from. */
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  lastLoggedZxid: Zxid;
  /** The quorum config version sent in LearnerInfo (0 without dynamic reconfig). */
  configVersion?: bigint;
  /** Ticks without a packet from the leader before giving up: initLimit during discovery and sync, syncLimit after. */
  initLimitTicks: number;
  syncLimitTicks: number;
  /**
   * Ask for the leader's whole state: the store could not be cut back to what a leader asked
   * (see the header). Whatever the leader sends replaces the state, none of it is kept.
   */
  fullSync?: boolean;
}

export interface LearnerReady<S> {
  snapshot: { zxid: Zxid; state: S } | null;
  truncateTo: Zxid | null;
  /** `append` replaces the whole state, from the empty tree at zxid 0 (a full sync by DIFF); `commit` is a prefix of it. */
  reset: boolean;
  append: LogEntry[];
  acceptedEpoch: bigint | null;
  currentEpoch: bigint | null;
  messages: QuorumPacket[];
  commit: LogEntry[];
  /** REVALIDATE answers: whether the leader still knows the session. */
  revalidations: { sessionId: bigint; valid: boolean }[];
  /** SYNC packets received: each completes the oldest pending client sync. */
  syncs: number;
  /** Set once: the connection is over (error or timeout); the driver closes it and looks again. */
  closed: string | null;
}

/** Most proposals held between PROPOSAL and COMMIT: a leader that sends more is broken or hostile. */
export const MAX_PENDING_PROPOSALS = 100_000;

export class ZabLearner<S = unknown> {
  readonly myId: bigint;
  readonly role: LearnerRole;
  phase: LearnerPhase = 'idle';
  syncMode: SyncMode | null = null;
  /** The epoch LEADERINFO proposed; null before it. */
  newEpoch: bigint | null = null;
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  /** Highest zxid handed to the driver to log (durable once the Ready is carried out). */
  lastLoggedZxid: Zxid;
  /** Highest zxid handed to the driver to apply. */
  lastCommittedZxid: Zxid;

  private readonly configVersion: bigint;
  private readonly initLimitTicks: number;
  private readonly syncLimitTicks: number;
  private readonly fullSync: boolean;
  /** A full sync by DIFF: the state is replaced at NEWLEADER. */
  private resetAtNewLeader = false;
  private ticksSilent = 0;
  /** SNAP's zxid: what the snapshot stream that follows it covers. */
  private snapZxid: Zxid = 0n;
  /** Proposals not yet committed, in zxid order; `logged` of them are handed to the log. */
  private pending: LogEntry[] = [];
  private logged = 0;
  /** COMMITs received while syncing, applied at NEWLEADER (before it) or UPTODATE (after). */
  private commitsHeld: Zxid[] = [];
  private readonly touches = new Map<bigint, number>();
  private out: LearnerReady<S> = emptyReady();

  constructor(options: LearnerOptions) {
    this.myId = options.myId;
    this.role = options.role ?? 'follower';
    this.acceptedEpoch = options.acceptedEpoch;
    this.currentEpoch = options.currentEpoch;
    this.lastLoggedZxid = options.lastLoggedZxid;
    this.lastCommittedZxid = options.lastLoggedZxid;
    this.configVersion = options.configVersion ?? 0n;
    this.initLimitTicks = options.initLimitTicks;
    this.syncLimitTicks = options.syncLimitTicks;
    this.fullSync = options.fullSync ?? false;
  }

  /** Opens discovery: FOLLOWERINFO (OBSERVERINFO) with our accepted epoch. */
  start(): void {
    if (this.phase !== 'idle') return;
    this.phase = 'discovery';
    const type = this.role === 'observer' ? PacketType.OBSERVERINFO : PacketType.FOLLOWERINFO;
    const info = encodeLearnerInfo({ serverid: this.myId, protocolVersion: LEARNER_PROTOCOL_VERSION, configVersion: this.configVersion });
    this.send(type, makeZxid(this.acceptedEpoch, 0n), info);
  }

  /** A session touched on this server since the last PING (sent with the next PING reply). */
  touch(sessionId: bigint, timeoutMs: number): void {
    this.touches.set(sessionId, timeoutMs);
  }

  /** Asks the leader whether a session that reconnected here is still valid. */
  revalidate(sessionId: bigint, timeoutMs: number): void {
    const w = new JuteWriter(12).long(sessionId).int(timeoutMs);
    this.send(PacketType.REVALIDATE, 0n, Buffer.from(w.bytes()));
  }

  /** Forwards a client write (or sync) to the leader: long sessionId, int cxid, int type, request bytes. */
  forward(sessionId: bigint, cxid: number, type: number, request: Buffer, authinfo: QuorumPacket['authinfo']): void {
    const w = new JuteWriter(16 + request.length).long(sessionId).int(cxid).int(type);
    const head = Buffer.from(w.bytes());
    this.out.messages.push({ type: PacketType.REQUEST, zxid: 0n, data: Buffer.concat([head, request]), authinfo });
  }

  tick(): void {
    if (this.phase === 'idle' || this.phase === 'closed') return;
    this.ticksSilent++;
    const limit = this.phase === 'broadcast' || this.phase === 'sync-acked' ? this.syncLimitTicks : this.initLimitTicks;
    if (this.ticksSilent > limit) this.close(`nothing from the leader for ${this.ticksSilent} ticks (limit ${limit}) in ${this.phase}`);
  }

  step(p: QuorumPacket): void {
    if (this.phase === 'closed' || this.phase === 'idle') return;
    this.ticksSilent = 0;
    switch (this.phase) {
      case 'discovery':
        return this.stepDiscovery(p);
      case 'sync-start':
        return this.stepSyncStart(p);
      case 'snapshot':
        return this.close(`${packetTypeName(p.type)} where the snapshot stream was expected`);
      case 'sync':
      case 'sync-acked':
        return this.stepSync(p);
      case 'broadcast':
        return this.stepBroadcast(p);
    }
  }

  /** The snapshot stream after SNAP, parsed by the driver. */
  snapshot(state: S): void {
    if (this.phase !== 'snapshot') return this.close('a snapshot arrived without SNAP');
    this.ticksSilent = 0;
    const zxid = this.snapZxid;
    this.out.snapshot = { zxid, state };
    this.lastLoggedZxid = zxid;
    this.lastCommittedZxid = zxid;
    this.phase = 'sync';
  }

  hasReady(): boolean {
    const o = this.out;
    return (
      o.snapshot !== null || o.truncateTo !== null || o.reset || o.append.length > 0 || o.acceptedEpoch !== null || o.currentEpoch !== null ||
      o.messages.length > 0 || o.commit.length > 0 || o.revalidations.length > 0 || o.syncs > 0 || o.closed !== null
    );
  }

  ready(): LearnerReady<S> {
    return this.out;
  }

  advance(): void {
    this.out = emptyReady();
  }

  // ---- discovery ----

  private stepDiscovery(p: QuorumPacket): void {
    if (p.type !== PacketType.LEADERINFO) {
      // A pre-1.0 leader answers NEWLEADER here; 3.4+ leaders all send LEADERINFO.
      return this.close(`expected LEADERINFO, got ${packetTypeName(p.type)}`);
    }
    const version = decodeIntPayload(p.data);
    if (typeof version !== 'number') return this.close(`LEADERINFO: ${version.error}`);
    const newEpoch = epochOf(p.zxid);
    let ackedEpoch: number;
    if (newEpoch > this.acceptedEpoch) {
      ackedEpoch = Number(this.currentEpoch);
      this.acceptedEpoch = newEpoch;
      this.out.acceptedEpoch = newEpoch;
    } else if (newEpoch === this.acceptedEpoch) {
      // Already acknowledged this epoch to someone: -1 says "do not count this as an ack",
      // yet the leader still learns our last zxid to sync us.
      ackedEpoch = -1;
    } else {
      return this.close(`leader's epoch ${newEpoch} is below our accepted epoch ${this.acceptedEpoch}`);
    }
    this.newEpoch = newEpoch;
    // Zxid 0 makes any leader send its whole state (SNAP, or a DIFF from the start).
    this.send(PacketType.ACKEPOCH, this.fullSync ? 0n : this.lastLoggedZxid, encodeIntPayload(ackedEpoch));
    this.phase = 'sync-start';
  }

  // ---- sync ----

  private stepSyncStart(p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.DIFF:
        this.syncMode = 'diff';
        if (this.fullSync) this.startReset();
        this.phase = 'sync';
        return;
      case PacketType.TRUNC:
        this.syncMode = 'trunc';
        if (this.fullSync) {
          // We reported zxid 0: only a TRUNC to 0 (the leader's history from the start) makes sense.
          if (p.zxid !== 0n) return this.close(`TRUNC to ${zxidToHex(p.zxid)} after reporting zxid 0`);
          this.startReset();
          this.phase = 'sync';
          return;
        }
        this.out.truncateTo = p.zxid;
        this.lastLoggedZxid = p.zxid;
        this.lastCommittedZxid = p.zxid;
        this.phase = 'sync';
        return;
      case PacketType.SNAP:
        this.syncMode = 'snap';
        this.snapZxid = p.zxid;
        this.phase = 'snapshot';
        return;
      default:
        return this.close(`expected DIFF, TRUNC or SNAP, got ${packetTypeName(p.type)}`);
    }
  }

  /** The sync's txns start from the empty tree; the durable state is replaced only at NEWLEADER. */
  private startReset(): void {
    this.resetAtNewLeader = true;
    this.lastLoggedZxid = 0n;
    this.lastCommittedZxid = 0n;
  }

  private stepSync(p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.PROPOSAL:
        return this.receiveProposal(p, this.phase === 'sync-acked');
      case PacketType.COMMIT:
        return this.holdCommit(p.zxid);
      case PacketType.INFORM:
        this.receiveProposal(p, false);
        return this.holdCommit(p.zxid);
      case PacketType.NEWLEADER:
        return this.newLeader(p);
      case PacketType.UPTODATE:
        return this.upToDate();
      case PacketType.COMMITANDACTIVATE:
      case PacketType.INFORMANDACTIVATE:
        return this.close(`${packetTypeName(p.type)}: dynamic reconfiguration is not supported`);
      default:
        // Learner.syncWithLeader ignores anything else (PINGs among them) until UPTODATE.
        return;
    }
  }

  private holdCommit(zxid: Zxid): void {
    if (this.phase === 'sync' || this.phase === 'sync-acked') this.commitsHeld.push(zxid);
  }

  /**
   * NEWLEADER: everything of the sync goes to the log, committed txns are applied, and only
   * then currentEpoch is written and the ACK sent (Ready's field order guarantees it).
   */
  private newLeader(p: QuorumPacket): void {
    if (this.phase === 'sync-acked') return this.close('a second NEWLEADER');
    if (this.newEpoch === null || epochOf(p.zxid) !== this.newEpoch) {
      return this.close(`NEWLEADER ${zxidToHex(p.zxid)} is not of epoch ${this.newEpoch}`);
    }
    this.out.reset = this.resetAtNewLeader;
    this.resetAtNewLeader = false;
    this.logPending();
    this.applyHeldCommits();
    this.currentEpoch = this.newEpoch;
    this.out.currentEpoch = this.newEpoch;
    this.send(PacketType.ACK, p.zxid, null);
    this.phase = 'sync-acked';
  }

  private upToDate(): void {
    if (this.phase !== 'sync-acked') return this.close('UPTODATE before NEWLEADER');
    // The leader counts this ACK as "up to date"; its zxid is the new epoch's first.
    this.send(PacketType.ACK, makeZxid(this.newEpoch!, 0n), null);
    this.applyHeldCommits();
    // Every proposal of the sync still uncommitted is logged by now: acknowledge it, as
    // the fixed Learner does when it logs packetsNotLogged after UPTODATE.
    if (this.role === 'follower') for (const p of this.pending) this.send(PacketType.ACK, p.zxid, null);
    this.phase = 'broadcast';
  }

  private applyHeldCommits(): void {
    for (const zxid of this.commitsHeld) this.commitNext(zxid);
    this.commitsHeld = [];
  }

  // ---- broadcast ----

  private stepBroadcast(p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.PING:
        return this.pingReply(p);
      case PacketType.PROPOSAL:
        if (this.role === 'observer') return this.close('an observer got a PROPOSAL');
        return this.receiveProposal(p, true);
      case PacketType.COMMIT:
        return this.commitNext(p.zxid);
      case PacketType.INFORM:
        this.receiveProposal(p, false);
        return this.commitNext(p.zxid);
      case PacketType.REVALIDATE:
        return this.revalidated(p);
      case PacketType.SYNC:
        this.out.syncs++;
        return;
      case PacketType.UPTODATE:
        // Follower.processPacket logs an error and carries on.
        return;
      case PacketType.COMMITANDACTIVATE:
      case PacketType.INFORMANDACTIVATE:
        return this.close(`${packetTypeName(p.type)}: dynamic reconfiguration is not supported`);
      default:
        return;
    }
  }

  /** PING: echo type, zxid and authinfo with our session touches (long id, int timeout)*. */
  private pingReply(p: QuorumPacket): void {
    const w = new JuteWriter(12 * this.touches.size + 4);
    for (const [id, timeout] of this.touches) w.long(id).int(timeout);
    this.touches.clear();
    this.out.messages.push({ type: PacketType.PING, zxid: p.zxid, data: Buffer.from(w.bytes()), authinfo: p.authinfo });
  }

  private revalidated(p: QuorumPacket): void {
    if (p.data === null || p.data.length < 9) return this.close(`REVALIDATE of ${p.data?.length ?? 'null'} bytes`);
    this.out.revalidations.push({ sessionId: p.data.readBigInt64BE(0), valid: p.data[8] !== 0 });
  }

  /**
   * A proposal. During sync (before NEWLEADER) it is held; after NEWLEADER it is logged at
   * once, and its ACK goes out in this Ready (broadcast) or after UPTODATE (sync).
   */
  private receiveProposal(p: QuorumPacket, ack: boolean): void {
    if (p.data === null) return this.close(`${packetTypeName(p.type)} ${zxidToHex(p.zxid)} without a txn`);
    const last = this.pending.at(-1)?.zxid ?? this.lastLoggedZxid;
    if (p.zxid <= last) return this.close(`${packetTypeName(p.type)} ${zxidToHex(p.zxid)} is not after ${zxidToHex(last)}`);
    if (this.pending.length >= MAX_PENDING_PROPOSALS) return this.close(`more than ${MAX_PENDING_PROPOSALS} uncommitted proposals`);
    this.pending.push({ zxid: p.zxid, data: p.data });
    if (this.phase === 'sync') return;
    this.logPending();
    if (!ack || this.role === 'observer') return;
    // During sync the ACK waits for UPTODATE (upToDate acknowledges every pending proposal).
    if (this.phase === 'broadcast') this.send(PacketType.ACK, p.zxid, null);
  }

  private logPending(): void {
    for (let i = this.logged; i < this.pending.length; i++) {
      this.out.append.push(this.pending[i]!);
      this.lastLoggedZxid = this.pending[i]!.zxid;
    }
    this.logged = this.pending.length;
  }

  /**
   * COMMIT of the oldest pending proposal. ZooKeeper's follower exits on any other zxid
   * (FollowerZooKeeperServer.commit); here the connection ends and the next sync repairs it.
   * A COMMIT at or below what we applied is a repeat and is ignored.
   */
  private commitNext(zxid: Zxid): void {
    if (zxid <= this.lastCommittedZxid) return;
    const head = this.pending[0];
    if (head === undefined || head.zxid !== zxid) {
      return this.close(`COMMIT ${zxidToHex(zxid)} but the next proposal is ${head ? zxidToHex(head.zxid) : 'none'}`);
    }
    this.pending.shift();
    this.logged--;
    this.lastCommittedZxid = zxid;
    this.out.commit.push(head);
  }

  private send(type: number, zxid: Zxid, data: Buffer | null): void {
    this.out.messages.push({ type, zxid, data, authinfo: null });
  }

  private close(reason: string): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.out.closed = reason;
  }
}

function emptyReady<S>(): LearnerReady<S> {
  return {
    snapshot: null,
    truncateTo: null,
    reset: false,
    append: [],
    acceptedEpoch: null,
    currentEpoch: null,
    messages: [],
    commit: [],
    revalidations: [],
    syncs: 0,
    closed: null,
  };
}
