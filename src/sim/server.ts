/**
 * One simulated ensemble member: the real FastLeaderElection, ZabLeader and ZabLearner cores, the
 * real RequestPipeline with the real PipelineReplica glue between them, and the real
 * MemoryLearnerStore (wrapped by CheckedStore), driven by the simulator's clock and network
 * instead of sockets and timers. What QuorumPeer, QuorumLeader and QuorumLearner do with
 * sockets is done here with Pipes, in the same order (see docs/consensus.md, "the Ready
 * contract"); a crash may strike in the middle of carrying out a Ready, keeping only the
 * durable steps before it (a torn append keeps a prefix of its txns).
 */
import { JuteReader } from '../jute/binary.js';
import type { Id } from '../jute/records.js';
import { OpCode } from '../jute/constants.js';
import type { ServerConfig } from '../config/config.js';
import { silentLogger } from '../server/logger.js';
import { RequestPipeline, type LeaderChannel } from '../pipeline/pipeline.js';
import { readZkSnapshotBody, type ZkSnapshot } from '../persistence/zkformat.js';
import { FastLeaderElection } from '../consensus/election.js';
import { ZabLeader, type LeaderReady } from '../consensus/leader.js';
import { ZabLearner, type LearnerReady, type LogEntry } from '../consensus/learner.js';
import type { MajorityQuorum, QuorumServerSpec } from '../consensus/members.js';
import { decodeQuorumPacket, encodeQuorumPacket, ServerState, type Notification } from '../consensus/wire.js';
import { makeZxid, zxidToNumber, type Zxid } from '../consensus/zxid.js';
import { PipelineReplica } from '../server/quorum/peer.js';
import { catchUp, type ReplicaState } from '../server/quorum/replica.js';
import { lastLoggedZxid, TruncateRefusedError } from '../server/quorum/learner-driver.js';
import { SNAP_SIGNATURE, writeZkSnapshotStream } from '../server/quorum/zk-snapshot-stream.js';
import type { Network } from './net.js';
import { Pipe } from './net.js';
import type { CheckedStore } from './store.js';
import type { World } from './world.js';

/** FLE timings scaled to the simulation's tickTime of 100 ms (ZooKeeper: tickTime 2000, finalizeWait 200). */
const FLE_TIMING = { finalizeWaitMs: 20, minNotificationIntervalMs: 20, maxNotificationIntervalMs: 800 };
/** Learner.connectToLeader's pause between attempts, scaled. */
const CONNECT_RETRY_MS = 50;

/** What a server needs from the simulation around it. */
export interface Ensemble {
  readonly world: World;
  readonly net: Network;
  readonly servers: readonly SimServer[];
  readonly members: readonly QuorumServerSpec[];
  readonly quorum: MajorityQuorum;
  readonly configText: string;
  /** How many of a Ready's `steps` durable steps happen before a crash, or null for no crash. */
  crashPoint(server: SimServer, steps: number): number | null;
  trace(line: string): void;
  /**
   * Most txns of its log a new leader keeps as history for DIFF; learners behind that get SNAP.
   * (QuorumPeer passes the whole log; ZooKeeper keeps 500 proposals in memory and may SNAP.)
   */
  readonly historyLimit: number;
  /** A deliberate bug, to prove that the checkers catch one (see Sabotage). */
  readonly sabotage: Sabotage | null;
  /** Checkers: a txn applied to a server's tree, committed by a leader, a leader established. */
  onApply(sid: number, entry: LogEntry): void;
  onCommit(sid: number, entry: LogEntry): void;
  onEstablished(server: SimServer, epoch: bigint): void;
}

/**
 * Deliberate bugs for the checkers' own tests: 'learner-skips-log' acknowledges proposals it never
 * logged; 'fsync-lies' loses a server's last logged txn when it crashes.
 */
export type Sabotage = 'learner-skips-log' | 'fsync-lies';

/** A quorum-port connection from a learner (node a) to its leader (node b). */
interface QuorumConn {
  id: number;
  pipe: Pipe;
  learner: SimServer;
  leader: SimServer;
}

type Role =
  | { kind: 'down' }
  | { kind: 'looking' }
  | { kind: 'leading'; core: ZabLeader; conns: Map<number, QuorumConn>; pendingSyncs: { conn: number; zxid: Zxid }[]; nextZxid: Zxid; drainQueued: boolean }
  | { kind: 'following'; leader: number; core: ZabLearner<ZkSnapshot> | null; conn: QuorumConn | null; synced: boolean };

/** A server-side client connection (ClientLink) over a Pipe whose node a is the client (0). */
export class SimLink {
  sessionId = 0n;
  readonly authIds: Id[] = [];
  closed = false;

  constructor(
    readonly id: number,
    readonly remoteAddress: string,
    readonly pipe: Pipe,
    private readonly server: SimServer,
    readonly incarnation: number,
    readonly toClient: {
      reply(xid: number, zxid: number, err: number, type: number, body: unknown): void;
      connected(timeOut: number, sessionId: bigint, passwd: Buffer): void;
      closed(reason: string): void;
    },
  ) {}

  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void {
    if (!this.closed) this.pipe.send(1, () => this.toClient.reply(xid, zxid, err, type, body));
  }

  sendEvent(): void {
    // Watches are not part of the simulated workload.
  }

  sendConnectResponse(timeOut: number, sessionId: bigint, passwd: Buffer): void {
    if (!this.closed) this.pipe.send(1, () => this.toClient.connected(timeOut, sessionId, Buffer.from(passwd)));
  }

  /** The client hung up: the pipeline forgets the link, as on a socket's close. */
  peerClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.server.incarnation === this.incarnation) this.server.pipeline.disconnected(this);
  }

  backedUp(): boolean {
    return false;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.pipe.close(1, () => this.toClient.closed(reason));
    // The socket's close reaches the pipeline after this call returns, as the network layer's does.
    this.server.world.soon(() => {
      if (this.server.incarnation === this.incarnation) this.server.pipeline.disconnected(this);
    });
  }
}

export class SimServer {
  role: Role = { kind: 'down' };
  incarnation = 0;
  pipeline!: RequestPipeline;
  replica!: PipelineReplica;
  fle: FastLeaderElection | null = null;
  private nextConnId = 1;
  private nextLinkId = 1;
  /** The last election message sent to each peer: a new connection repeats it (QuorumCnxManager). */
  private readonly lastSent = new Map<number, Notification>();
  /** How this server was synced each time: diff, trunc, snap. */
  readonly syncModes = new Map<string, number>();

  constructor(
    readonly sid: number,
    readonly config: ServerConfig,
    readonly store: CheckedStore,
    private readonly ens: Ensemble,
  ) {}

  get world(): World {
    return this.ens.world;
  }

  get up(): boolean {
    return this.role.kind !== 'down';
  }

  // ---- life cycle ----

  /** Starts (or restarts) from what the store holds, as a process does from its data directory. */
  boot(): void {
    this.incarnation++;
    const inc = this.incarnation;
    const world = this.world;
    this.replica = new PipelineReplica({ extendedTypesEnabled: this.config.extendedTypesEnabled }, (fn) => world.soon(() => inc === this.incarnation && fn()));
    const rng = world.rng;
    this.pipeline = new RequestPipeline(this.config, {
      now: () => world.now,
      log: this.replica,
      logger: silentLogger,
      randomBytes: (n) => Uint8Array.from({ length: n }, () => rng.int(256)),
      sessionSecret: { key: new Uint8Array(32), zookeeperFormulaIds: new Set() },
    });
    this.replica.attach(this.pipeline);
    this.replica.configText = this.ens.configText;
    this.replica.writeConfigNode();
    catchUp(this.checkedReplica(), this.store.load(), false);
    this.pipeline.setMode('looking');
    this.role = { kind: 'looking' };
    this.ens.trace(`server ${this.sid} boots at ${this.lastLogged()}`);
    this.every(this.config.tickTime, () => this.tick());
    this.every(Math.floor(this.config.tickTime / 2), () => this.sendTouches());
    this.startElection();
  }

  /** The process dies: memory is gone, sockets close (the kernel sends their FINs). */
  crash(): void {
    if (!this.up) return;
    this.ens.trace(`server ${this.sid} crashes (${this.role.kind})`);
    const role = this.role;
    this.role = { kind: 'down' };
    this.incarnation++;
    this.fle = null;
    if (this.ens.sabotage === 'fsync-lies') this.loseLastTxn();
    for (const s of this.ens.servers) if (s !== this && s.fle) s.fle.connectionDown(BigInt(this.sid));
    if (role.kind === 'leading') for (const c of role.conns.values()) this.closeFromLeader(c);
    if (role.kind === 'following' && role.conn) this.closeFromLearner(role.conn);
    for (const link of [...this.pipeline.allLinks()]) (link as SimLink).close('server crashed');
  }

  private loseLastTxn(): void {
    const durable = this.store.load();
    if (durable.log.length === 0) return;
    this.store.truncate(durable.log.at(-2)?.zxid ?? durable.snapshot?.zxid ?? 0n);
  }

  private every(ms: number, fn: () => void): void {
    const inc = this.incarnation;
    const loop = (): void => {
      if (inc !== this.incarnation) return;
      fn();
      this.world.after(ms, loop);
    };
    this.world.after(ms, loop);
  }

  private tick(): void {
    this.pipeline.tick();
    const role = this.role;
    if (role.kind === 'leading') this.runLeader(role, () => role.core.tick());
    else if (role.kind === 'following' && role.core) {
      role.core.tick();
      this.flushLearner(role);
    }
  }

  private sendTouches(): void {
    const role = this.role;
    if (role.kind !== 'following' || !role.core || !role.synced) return;
    for (const [id, timeout] of this.pipeline.takeTouches()) role.core.touch(id, timeout);
  }

  lastLogged(): string {
    return `0x${lastLoggedZxid(this.store.load()).toString(16)}`;
  }

  private history(): { lastLoggedZxid: Zxid; currentEpoch: bigint } {
    const durable = this.store.load();
    return { lastLoggedZxid: lastLoggedZxid(durable), currentEpoch: durable.currentEpoch };
  }

  /** The pipeline's replica with the checkers in front of apply. */
  private checkedReplica(): ReplicaState {
    const replica = this.replica;
    return {
      get tree() {
        return replica.tree;
      },
      sessionTimeouts: () => replica.sessionTimeouts(),
      apply: (entry) => {
        this.ens.onApply(this.sid, entry);
        replica.apply(entry);
      },
      install: (zxid, snap) => replica.install(zxid, snap),
      replace: (tree, sessions) => replica.replace(tree, sessions),
    };
  }

  /** A role ended (connection lost, stepped down): serve nobody and look for a leader again. */
  private endRole(reason: string): void {
    const role = this.role;
    if (role.kind === 'down' || role.kind === 'looking') return;
    this.ens.trace(`server ${this.sid} stops ${role.kind}: ${reason}`);
    if (role.kind === 'leading') {
      this.replica.stopProposing();
      for (const c of [...role.conns.values()]) this.closeFromLeader(c);
      role.conns.clear();
    } else if (role.conn) this.closeFromLearner(role.conn);
    this.role = { kind: 'looking' };
    this.pipeline.setMode('looking');
    if (this.fle) {
      this.fle.lookForLeader(this.world.now, this.history());
      this.flushElection();
    }
  }

  // ---- the election ----

  private startElection(): void {
    this.fle = new FastLeaderElection({ myId: BigInt(this.sid), members: this.ens.members, config: Buffer.from(this.ens.configText), ...FLE_TIMING }, this.world.now, this.history());
    for (const o of this.ens.servers) {
      if (o === this || !o.fle || this.ens.net.severed(o.sid, this.sid)) continue;
      this.fle.connectionUp(BigInt(o.sid));
      o.fle.connectionUp(BigInt(this.sid));
    }
    this.flushElection();
    this.scheduleElectionTimer();
  }

  /** The election port's link to `peer` came up or went down (partition changes). */
  electionLink(peer: SimServer, up: boolean): void {
    if (!this.fle || !peer.fle) return;
    if (!up) return this.fle.connectionDown(BigInt(peer.sid));
    this.fle.connectionUp(BigInt(peer.sid));
    // A new connection repeats the last message sent on it: the peer may get it twice.
    const last = this.lastSent.get(peer.sid);
    if (last) this.sendNotification(peer.sid, last);
  }

  private scheduleElectionTimer(): void {
    const inc = this.incarnation;
    const fle = this.fle;
    const deadline = fle?.nextDeadline();
    if (!fle || deadline === null || deadline === undefined) return;
    this.world.at(deadline, () => {
      if (inc !== this.incarnation || this.fle !== fle) return;
      const due = fle.nextDeadline();
      if (due === null) return;
      if (this.world.now >= due) {
        fle.tick(this.world.now);
        this.flushElection();
      } else this.scheduleElectionTimer();
    });
  }

  private flushElection(): void {
    while (this.fle && this.fle.hasReady()) {
      const rd = this.fle.ready();
      this.fle.advance();
      for (const m of rd.messages) this.sendNotification(Number(m.to), m.notification);
      if (rd.decision && this.role.kind === 'looking') {
        if (rd.decision.state === ServerState.LEADING) this.lead();
        else this.follow(Number(rd.decision.vote.leader));
      }
    }
    this.scheduleElectionTimer();
  }

  private sendNotification(to: number, n: Notification): void {
    this.lastSent.set(to, n);
    const net = this.ens.net;
    if (net.blocked(this.sid, to)) return;
    const target = this.ens.servers[to - 1]!;
    const inc = target.incarnation;
    this.world.after(net.delay(), () => {
      if (target.incarnation !== inc || !target.fle || net.blocked(this.sid, to)) return;
      target.fle.step(this.world.now, BigInt(this.sid), n);
      target.flushElection();
    });
  }

  // ---- leading (QuorumPeer.lead + QuorumLeader) ----

  private lead(): void {
    const durable = this.store.load();
    // ZooKeeper's leader has applied its whole log before it leads.
    catchUp(this.checkedReplica(), durable, false);
    const cut = Math.max(0, durable.log.length - this.ens.historyLimit);
    const core = new ZabLeader({
      myId: BigInt(this.sid),
      quorum: this.ens.quorum,
      acceptedEpoch: durable.acceptedEpoch,
      currentEpoch: durable.currentEpoch,
      log: durable.log.slice(cut),
      snapshotZxid: cut > 0 ? durable.log[cut - 1]!.zxid : durable.snapshot?.zxid,
      config: Buffer.from(this.ens.configText),
      initLimitTicks: this.config.initLimit,
      syncLimitTicks: this.config.syncLimit,
    });
    this.role = { kind: 'leading', core, conns: new Map(), pendingSyncs: [], nextZxid: -1n, drainQueued: false };
    this.ens.trace(`server ${this.sid} leads (epochs ${durable.acceptedEpoch}/${durable.currentEpoch}, last ${this.lastLogged()})`);
  }

  /** A learner connects: the leader's accept. False when it cannot (not leading, cut off). */
  accept(conn: QuorumConn): boolean {
    if (this.role.kind !== 'leading') return false;
    this.role.conns.set(conn.id, conn);
    return true;
  }

  /** Feeds one input to the leader core, then carries out its Readys in field order. */
  private runLeader(role: Extract<Role, { kind: 'leading' }>, input: () => void): void {
    if (this.role !== role) return;
    const core = role.core;
    const wasBroadcasting = core.phase === 'broadcast';
    input();
    while (this.role === role && core.hasReady()) {
      const rd: LeaderReady = core.ready();
      if (!this.persistLeader(rd)) return this.crash();
      core.advance();
      this.carryOutLeader(role, rd);
    }
    if (this.role === role && !wasBroadcasting && core.phase === 'broadcast') this.established(role);
  }

  /** The durable part of a leader's Ready; false if the server crashed part way. */
  private persistLeader(rd: LeaderReady): boolean {
    const crashAt = this.ens.crashPoint(this, rd.append.length + 2);
    const budget = crashAt ?? Infinity;
    this.store.append(rd.append.slice(0, Math.min(budget, rd.append.length)));
    if (rd.acceptedEpoch !== null && budget > rd.append.length) this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null && budget > rd.append.length + 1) this.store.setCurrentEpoch(rd.currentEpoch);
    return crashAt === null;
  }

  private carryOutLeader(role: Extract<Role, { kind: 'leading' }>, rd: LeaderReady): void {
    let applied = 0;
    const applyThrough = (zxid: Zxid): void => {
      while (applied < rd.commit.length && rd.commit[applied]!.zxid <= zxid) {
        const entry = rd.commit[applied++]!;
        this.ens.onCommit(this.sid, entry);
        this.checkedReplica().apply(entry);
      }
    };
    for (const m of rd.messages) {
      const conn = role.conns.get(m.conn);
      if ('packet' in m) {
        const bytes = encodeQuorumPacket(m.packet);
        conn?.pipe.send(1, () => conn.learner.fromLeader(conn, { bytes }));
      } else if ('snapshotAt' in m) {
        applyThrough(m.snapshotAt);
        const snap = writeZkSnapshotStream(this.replica.tree, this.replica.sessionTimeouts());
        conn?.pipe.send(1, () => conn.learner.fromLeader(conn, { snapshot: snap }));
      } else if (conn) {
        role.conns.delete(conn.id);
        this.closeFromLeader(conn);
        role.core.disconnected(conn.id);
      }
    }
    applyThrough(rd.commit.at(-1)?.zxid ?? -1n);
    for (const r of rd.requests) {
      const type = r.data.readInt32BE(12);
      if (type === OpCode.sync) {
        role.pendingSyncs.push({ conn: r.conn, zxid: role.nextZxid - 1n });
        continue;
      }
      const sessionId = r.data.readBigInt64BE(0);
      this.pipeline.prepForwarded({ sessionId, cxid: r.data.readInt32BE(8), type, body: r.data.subarray(16), authIds: r.authinfo ?? [] });
    }
    for (const t of rd.touches) this.pipeline.touchedElsewhere(t.sessionId);
    while (role.pendingSyncs.length > 0 && role.pendingSyncs[0]!.zxid <= role.core.lastCommittedZxid) {
      const { conn } = role.pendingSyncs.shift()!;
      if (role.conns.has(conn)) role.core.syncDone(conn);
    }
    for (const q of rd.revalidations) role.core.answerRevalidate(q.conn, q.sessionId, this.pipeline.revalidate(q.sessionId));
    if (rd.steppedDown !== null) this.endRole(`stepped down: ${rd.steppedDown}`);
  }

  private established(role: Extract<Role, { kind: 'leading' }>): void {
    const epoch = role.core.epoch!;
    role.nextZxid = makeZxid(epoch, 1n);
    this.pipeline.setMode('leader');
    // After setMode, which restarts the allocator at the tree's last zxid.
    this.pipeline.restartZxids(zxidToNumber(makeZxid(epoch, 0n)));
    this.replica.proposeWith((zxid, data) => this.proposeAt(role, zxid, data));
    this.fle?.updateElectionVote(epoch);
    this.ens.trace(`server ${this.sid} established epoch ${epoch}`);
    this.ens.onEstablished(this, epoch);
  }

  /** QuorumLeader.proposeAt: the Ready runs after the current event, so one turn's proposals share it. */
  private proposeAt(role: Extract<Role, { kind: 'leading' }>, zxid: Zxid, data: Buffer): boolean {
    if (this.role !== role || role.core.phase !== 'broadcast' || zxid !== role.nextZxid) return false;
    const given = role.core.propose(() => data);
    if (!role.drainQueued) {
      role.drainQueued = true;
      this.world.soon(() => {
        role.drainQueued = false;
        this.runLeader(role, () => undefined);
      });
    }
    if (given === null) return false;
    role.nextZxid = given + 1n;
    return true;
  }

  /** A packet from a learner arrived on `conn`. */
  fromLearner(conn: QuorumConn, bytes: Buffer): void {
    const role = this.role;
    if (role.kind !== 'leading' || !role.conns.has(conn.id)) return;
    this.runLeader(role, () => role.core.step(conn.id, decodeQuorumPacket(bytes)));
  }

  /** The learner's side of `conn` closed (its FIN arrived). */
  learnerClosed(conn: QuorumConn): void {
    const role = this.role;
    if (role.kind !== 'leading' || !role.conns.delete(conn.id)) return;
    this.runLeader(role, () => role.core.disconnected(conn.id));
  }

  private closeFromLeader(conn: QuorumConn): void {
    conn.pipe.close(1, () => conn.learner.leaderClosed(conn));
  }

  // ---- following (QuorumPeer.follow + QuorumLearner) ----

  private follow(leader: number): void {
    const role: Extract<Role, { kind: 'following' }> = { kind: 'following', leader, core: null, conn: null, synced: false };
    this.role = role;
    this.connectToLeader(role, this.world.now + this.config.initLimit * this.config.tickTime);
  }

  /** Learner.connectToLeader: the leader may not be listening yet; retry within initLimit. */
  private connectToLeader(role: Extract<Role, { kind: 'following' }>, deadline: number): void {
    if (this.role !== role) return;
    const leader = this.ens.servers[role.leader - 1]!;
    if (leader !== this && !this.ens.net.severed(this.sid, leader.sid)) {
      const conn: QuorumConn = { id: this.nextConnId++ * 100 + this.sid, pipe: new Pipe(this.world, this.ens.net, this.sid, leader.sid), learner: this, leader };
      if (leader.accept(conn)) return this.startLearner(role, conn);
    }
    if (this.world.now >= deadline) return this.endRole(`cannot reach leader ${role.leader}`);
    this.world.after(CONNECT_RETRY_MS, () => this.connectToLeader(role, deadline));
  }

  private startLearner(role: Extract<Role, { kind: 'following' }>, conn: QuorumConn): void {
    const durable = this.store.load();
    catchUp(this.checkedReplica(), durable, false);
    role.conn = conn;
    role.core = new ZabLearner<ZkSnapshot>({
      myId: BigInt(this.sid),
      acceptedEpoch: durable.acceptedEpoch,
      currentEpoch: durable.currentEpoch,
      lastLoggedZxid: lastLoggedZxid(durable),
      initLimitTicks: this.config.initLimit,
      syncLimitTicks: this.config.syncLimit,
      fullSync: durable.fullSyncNeeded === true,
    });
    role.core.start();
    this.flushLearner(role);
  }

  /** A packet or the snapshot stream from the leader arrived on `conn`. */
  fromLeader(conn: QuorumConn, item: { bytes: Buffer } | { snapshot: Buffer }): void {
    const role = this.role;
    if (role.kind !== 'following' || role.conn !== conn || !role.core) return;
    const core = role.core;
    if ('snapshot' in item) {
      if (core.phase !== 'snapshot') return this.endRole('a snapshot stream outside SNAP');
      core.snapshot(parseSnapshotStream(item.snapshot));
    } else core.step(decodeQuorumPacket(item.bytes));
    this.flushLearner(role);
  }

  /** The leader's side of `conn` closed. */
  leaderClosed(conn: QuorumConn): void {
    const role = this.role;
    if (role.kind === 'following' && role.conn === conn) {
      role.conn = null;
      this.endRole('the leader closed the connection');
    }
  }

  private closeFromLearner(conn: QuorumConn): void {
    conn.pipe.close(0, () => conn.leader.learnerClosed(conn));
  }

  /** Carries out the learner core's Readys in their field order (see learner.ts). */
  private flushLearner(role: Extract<Role, { kind: 'following' }>): void {
    const core = role.core!;
    while (this.role === role && core.hasReady()) {
      const rd = core.ready();
      const persisted = this.persistLearner(rd);
      if (persisted === 'crashed') return this.crash();
      // The store asks the next leader for its whole state (QuorumLearner ends the connection too).
      if (persisted === 'refused') return this.endRole(`TRUNC to 0x${rd.truncateTo!.toString(16)} refused by the store`);
      core.advance();
      const conn = role.conn!;
      for (const p of rd.messages) {
        const bytes = encodeQuorumPacket(p);
        conn.pipe.send(0, () => conn.leader.fromLearner(conn, bytes));
      }
      for (const entry of rd.commit) this.checkedReplica().apply(entry);
      for (const r of rd.revalidations) this.pipeline.revalidated(r.sessionId, r.valid);
      if (rd.syncs > 0) this.pipeline.syncsDone(rd.syncs);
      if (rd.closed !== null) return this.endRole(rd.closed);
      if (!role.synced && core.phase === 'broadcast') this.synced(role);
    }
  }

  /** The durable part of a learner's Ready: whether the server crashed part way or the store refused a TRUNC. */
  private persistLearner(rd: LearnerReady<ZkSnapshot>): 'done' | 'crashed' | 'refused' {
    // A reset and its appends are one step: the store replaces its state at once.
    const steps = (rd.snapshot ? 1 : 0) + (rd.truncateTo !== null ? 1 : 0) + (rd.reset ? 1 : rd.append.length) + 2;
    const crashAt = this.ens.crashPoint(this, steps);
    let budget = crashAt ?? Infinity;
    if (rd.snapshot && budget-- > 0) {
      this.store.installSnapshot(rd.snapshot.zxid, rd.snapshot.state);
      this.replica.install(rd.snapshot.zxid, rd.snapshot.state);
    }
    if (rd.truncateTo !== null && budget-- > 0) {
      try {
        this.store.truncate(rd.truncateTo);
      } catch (err) {
        if (err instanceof TruncateRefusedError) return 'refused';
        throw err;
      }
      // The tree may hold txns that are gone: rebuild it from what is durable.
      catchUp(this.checkedReplica(), this.store.load(), true);
    }
    if (rd.reset && budget-- > 0) {
      this.store.reset(rd.append);
      // This Ready's commits are then applied to the empty tree.
      this.replica.install(0n, { sessions: new Map(), nodes: [] });
    }
    const appended = rd.reset ? 0 : Math.max(0, Math.min(budget, rd.append.length));
    if (appended > 0 && this.ens.sabotage !== 'learner-skips-log') this.store.append(rd.append.slice(0, appended));
    budget -= appended;
    if (rd.acceptedEpoch !== null && budget-- > 0) this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null && budget-- > 0) this.store.setCurrentEpoch(rd.currentEpoch);
    return crashAt === null ? 'done' : 'crashed';
  }

  private synced(role: Extract<Role, { kind: 'following' }>): void {
    role.synced = true;
    const core = role.core!;
    this.fle?.updateElectionVote(core.currentEpoch);
    this.ens.trace(`server ${this.sid} synced with ${role.leader} (${core.syncMode})`);
    this.syncModes.set(core.syncMode!, (this.syncModes.get(core.syncMode!) ?? 0) + 1);
    const channel: LeaderChannel = {
      forward: (sessionId, cxid, type, body, authIds) => {
        if (this.role !== role) return;
        core.forward(sessionId, cxid, type, body, authIds.length > 0 ? (authIds as Id[]) : null);
        this.flushLearner(role);
      },
      revalidate: (sessionId, timeoutMs) => {
        if (this.role !== role) return;
        core.revalidate(sessionId, timeoutMs);
        this.flushLearner(role);
      },
    };
    this.pipeline.setMode('follower', channel);
  }

  // ---- clients ----

  /** A client connects: the pipeline gets a link, or the connection is refused (server down). */
  connectClient(pipe: Pipe, toClient: SimLink['toClient']): SimLink | null {
    if (!this.up) return null;
    return new SimLink(this.nextLinkId++, `client@${this.sid}`, pipe, this, this.incarnation, toClient);
  }

  /** The link is open and belongs to the incarnation running now. */
  owns(link: SimLink): boolean {
    return this.up && !link.closed && link.incarnation === this.incarnation;
  }

  /** The nemesis breaks the connection to the leader (the learner's side sees the error first). */
  dropLeaderConnection(): void {
    if (this.role.kind === 'following' && this.role.conn) this.endRole('connection to the leader broken');
  }

  /** Whether this server answers clients now, and the leader it is synced with. */
  describe(): string {
    const r = this.role;
    if (r.kind === 'leading') return `leading ${r.core.phase} e${r.core.epoch ?? '?'} (${r.conns.size} learners)`;
    if (r.kind === 'following') return `following ${r.leader} ${r.core?.phase ?? 'connecting'}`;
    return r.kind;
  }

  /** Zab leader core, when leading. */
  leaderCore(): ZabLeader | null {
    return this.role.kind === 'leading' ? this.role.core : null;
  }
}

/** The SNAP stream as QuorumLearner reads it: the snapshot body, then the signature. */
function parseSnapshotStream(bytes: Buffer): ZkSnapshot {
  const r = new JuteReader(bytes, 0, bytes.length, 0x7fffffff);
  const snap = readZkSnapshotBody(r);
  if (r.string() !== SNAP_SIGNATURE) throw new Error('snapshot stream without its signature');
  return snap;
}
