/**
 * One simulated ensemble member: the real FastLeaderElection, ZabLeader and ZabLearner cores, the
 * real RequestPipeline with the real PipelineReplica glue between them, and the real
 * DiskQuorumStore over a MemoryDisk (wrapped by CheckedStore), driven by the simulator's clock
 * and network instead of sockets and timers. What QuorumPeer, QuorumLeader and QuorumLearner do
 * with sockets is done here with Pipes, in the same order and with the same waits for the store
 * (see docs/consensus.md, "the Ready contract" and "Durable state"): a learner carries out its
 * Readys one after another, each durable before it is sent or applied; a leader sends its
 * PROPOSALs while it logs them and counts its own ACK when the fsync returns; a Ready that
 * writes an epoch holds back the ones after it. A crash may strike at any disk operation,
 * keeping only what the disk synced (and perhaps a torn prefix of the rest).
 */
import { JuteReader } from '../jute/binary.js';
import type { Id } from '../jute/records.js';
import { OpCode } from '../jute/constants.js';
import type { ServerConfig } from '../config/config.js';
import { silentLogger } from '../server/logger.js';
import { RequestPipeline, type LeaderChannel } from '../pipeline/pipeline.js';
import { readZkSnapshotBody, type ZkSnapshot } from '../persistence/zkformat.js';
import type { QuorumState } from '../server/quorum/disk-store.js';
import { FastLeaderElection } from '../consensus/election.js';
import { ZabLeader, type LeaderReady, type LogRead } from '../consensus/leader.js';
import { ZabLearner, type LearnerReady, type LogEntry } from '../consensus/learner.js';
import type { MajorityQuorum, QuorumServerSpec } from '../consensus/members.js';
import { decodeQuorumPacket, encodeQuorumPacket, ServerState, type Notification } from '../consensus/wire.js';
import { makeZxid, zxidFromNumber, zxidToHex, zxidToNumber, type Zxid } from '../consensus/zxid.js';
import { PipelineReplica } from '../server/quorum/peer.js';
import type { ReplicaState } from '../server/quorum/replica.js';
import { writesAheadOfEpoch } from '../server/quorum/learner-driver.js';
import { SNAP_SIGNATURE, writeZkSnapshotStream } from '../server/quorum/zk-snapshot-stream.js';
import type { Network } from './net.js';
import { Pipe } from './net.js';
import { SimViolation, type CheckedStore } from './store.js';
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
  /**
   * When the server should die in the middle of what it is about to make durable (`steps`
   * durable steps): the number of disk operations from now at which it crashes, or null.
   */
  crashPoint(server: SimServer, steps: number): number | null;
  trace(line: string): void;
  /** Committed txns a leader keeps in memory for DIFF (ZooKeeper's commitLogCount). */
  readonly commitLogCount: number;
  /** DIFFs from the on-disk log up to this × the tree's size; negative: never (SNAP instead). */
  readonly snapshotSizeFactor: number;
  /** A deliberate bug, to prove that the checkers catch one (see Sabotage). */
  readonly sabotage: Sabotage | null;
  /** Checkers: a txn applied to a server's tree, committed by a leader, a leader established. */
  onApply(sid: number, entry: LogEntry): void;
  /** The server's tree was loaded or replaced as a whole (boot, SNAP, TRUNC): not by applies. */
  onTreeReplaced(sid: number): void;
  /** The data changes of `path` server `sid` applied since its tree was last loaded or replaced. */
  changesOf(sid: number, path: string): readonly number[];
  onCommit(sid: number, entry: LogEntry): void;
  onEstablished(server: SimServer, epoch: bigint): void;
}

/**
 * Deliberate bugs for the checkers' own tests: 'learner-skips-log' acknowledges proposals it never
 * logged; 'fsync-lies' makes the txn log settle appends without fsync (forceSync=no), so a crash
 * loses what the server acknowledged.
 */
export type Sabotage = 'learner-skips-log' | 'fsync-lies';

/** A quorum-port connection from a learner (node a) to its leader (node b). */
interface QuorumConn {
  id: number;
  pipe: Pipe;
  learner: SimServer;
  leader: SimServer;
}

interface Leading {
  kind: 'leading';
  core: ZabLeader;
  conns: Map<number, QuorumConn>;
  nextZxid: Zxid;
  drainQueued: boolean;
  /** Readys held back behind an epoch write; later ones queue behind them (QuorumLeader). */
  heldBack: number;
  carriedOut: Promise<void>;
  /** A write failed or the role ended: nothing more is carried out. */
  over: boolean;
}

interface Following {
  kind: 'following';
  leader: number;
  learnerRole: 'follower' | 'observer';
  core: ZabLearner<ZkSnapshot> | null;
  conn: QuorumConn | null;
  synced: boolean;
  /** Settles once every Ready taken so far is persisted, sent and applied (QuorumLearner). */
  carriedOut: Promise<void>;
  /** Settles once the last Ready that changes more than the log's tail is durable. */
  appendsAfter: Promise<void>;
  closed: string | null;
}

type Role =
  | { kind: 'down' }
  /** Opening the data directory, or loading the log before a role (no client is served). */
  | { kind: 'starting' }
  | { kind: 'looking' }
  | Leading
  | Following;

export interface EventSeen {
  zxid: number;
  mzxid: number;
  changes: readonly number[];
}

/** What a client hears from a server (over its Pipe). */
export interface ToClient {
  reply(xid: number, zxid: number, err: number, type: number, body: unknown): void;
  connected(timeOut: number, sessionId: bigint, passwd: Buffer): void;
  /**
   * A watch event. `seen` is the simulator's own instrument, not on the wire: the zxid of the
   * server's state, the node's mzxid (-1 if gone) and the changes of the node the server had
   * applied since its tree was last replaced, when the event was sent (a replacement while the
   * event is on its way must not change what it is checked against).
   */
  event(type: number, path: string, seen: EventSeen): void;
  closed(reason: string): void;
}

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
    readonly toClient: ToClient,
  ) {}

  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void {
    if (!this.closed) this.pipe.send(1, () => this.toClient.reply(xid, zxid, err, type, body));
  }

  sendEvent(type: number, path: string): void {
    if (this.closed) return;
    const tree = this.server.pipeline.tree;
    const seen = { zxid: tree.lastProcessedZxid, mzxid: tree.getNode(path)?.mzxid ?? -1, changes: this.server.changesOf(path) };
    this.pipe.send(1, () => this.toClient.event(type, path, seen));
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
  private snapshotting = false;
  /** The last election message sent to each peer: a new connection repeats it (QuorumCnxManager). */
  private readonly lastSent = new Map<number, Notification>();
  /** How this server was synced each time: diff, trunc, snap. */
  readonly syncModes = new Map<string, number>();
  /** Why the last role ended (for the report of a seed that made no progress). */
  lastRoleEnd = '';
  private checked: { replica: PipelineReplica; state: ReplicaState } | null = null;

  constructor(
    readonly sid: number,
    readonly config: ServerConfig,
    readonly store: CheckedStore,
    private readonly ens: Ensemble,
    readonly observer = false,
  ) {
    store.onCrashPoint = () => this.crash();
  }

  get world(): World {
    return this.ens.world;
  }

  get up(): boolean {
    return this.role.kind !== 'down';
  }

  /**
   * Runs a promise chain of this incarnation's: the world drains it before the next event, and
   * an error in it stops the run, unless the process died meanwhile (its disk fails every call).
   */
  private background(p: Promise<unknown>): void {
    const inc = this.incarnation;
    this.world.expectMicrotasks();
    p.catch((err: unknown) => {
      if (inc === this.incarnation) this.world.fail(err);
    });
  }

  // ---- life cycle ----

  /** Starts (or restarts) from its data directory, as a process does (DiskQuorumStore.open). */
  boot(): void {
    this.incarnation++;
    const inc = this.incarnation;
    this.role = { kind: 'starting' };
    this.background(
      this.store.open().then(
        (state) => {
          if (inc === this.incarnation) this.start(state);
        },
        (err: unknown) => {
          if (inc === this.incarnation) throw new SimViolation(`server ${this.sid} cannot start from its data directory: ${(err as Error).message}`);
        },
      ),
    );
  }

  /** startEnsembleMember once the data directory is loaded: the pipeline serves from its tree. */
  private start(state: QuorumState): void {
    const inc = this.incarnation;
    const world = this.world;
    this.replica = new PipelineReplica({ extendedTypesEnabled: this.config.extendedTypesEnabled }, (fn) => world.soon(() => inc === this.incarnation && fn()), () => world.now);
    const rng = world.rng;
    this.pipeline = new RequestPipeline(
      this.config,
      {
        now: () => world.now,
        log: this.replica,
        logger: silentLogger,
        randomBytes: (n) => Uint8Array.from({ length: n }, () => rng.int(256)),
        sessionSecret: { key: new Uint8Array(32), zookeeperFormulaIds: new Set() },
        afterApply: (p) => this.afterApply(p),
      },
      state.tree,
      state.sessions,
    );
    this.replica.attach(this.pipeline);
    this.ens.onTreeReplaced(this.sid);
    this.replica.configText = this.ens.configText;
    this.replica.writeConfigNode();
    this.pipeline.setMode('looking');
    this.role = { kind: 'looking' };
    this.ens.trace(`server ${this.sid} boots at ${this.lastLogged()}`);
    for (const w of this.store.warnings) if (w.includes('updatingEpoch')) this.ens.trace(`server ${this.sid}: ${w}`);
    this.every(this.config.tickTime, () => this.tick());
    this.every(Math.floor(this.config.tickTime / 2), () => this.sendTouches());
    this.startElection();
  }

  /** The member's periodic snapshot (openMemberStore's afterApply): when due, of the live tree. */
  private afterApply(p: RequestPipeline): void {
    if (this.snapshotting || !this.store.isOpen || !this.store.snapshotDue) return;
    const inc = this.incarnation;
    this.snapshotting = true;
    const crashAt = this.ens.crashPoint(this, 2);
    if (crashAt !== null) this.store.armCrash(crashAt);
    this.background(
      this.store
        .snapshotLive(() => ({ tree: p.tree, sessions: p.sessionTimeouts() }))
        .catch((err: unknown) => {
          // A dead incarnation's disk fails every call; anything else is a bug.
          if (inc === this.incarnation) throw err;
        })
        .finally(() => {
          if (inc === this.incarnation) this.snapshotting = false;
        }),
    );
  }

  /** The process dies: memory is gone, unsynced writes with it; sockets close (the kernel sends their FINs). */
  crash(): void {
    if (!this.up) return;
    this.ens.trace(`server ${this.sid} crashes (${this.role.kind})`);
    const role = this.role;
    this.role = { kind: 'down' };
    this.incarnation++;
    this.snapshotting = false;
    this.fle = null;
    this.store.crash();
    for (const s of this.ens.servers) if (s !== this && s.fle) s.fle.connectionDown(BigInt(this.sid));
    if (role.kind === 'leading') {
      role.over = true;
      for (const c of role.conns.values()) this.closeFromLeader(c);
    }
    if (role.kind === 'following') {
      role.closed = 'crashed';
      if (role.conn) this.closeFromLearner(role.conn);
    }
    if (this.pipeline) for (const link of [...this.pipeline.allLinks()]) (link as SimLink).close('server crashed');
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
    return this.store.isOpen ? zxidToHex(this.store.lastLoggedZxid) : `${zxidToHex(this.store.lastHeld())} (down)`;
  }

  /** What the vote carries: the last logged zxid and currentEpoch, as durable. */
  private history(): { lastLoggedZxid: Zxid; currentEpoch: bigint } {
    return { lastLoggedZxid: this.store.lastLoggedZxid, currentEpoch: this.store.currentEpoch };
  }

  /** The pipeline's replica with the checkers in front of apply (one per replica). */
  private checkedReplica(): ReplicaState {
    const replica = this.replica;
    if (this.checked?.replica === replica) return this.checked.state;
    const state: ReplicaState = {
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
    this.checked = { replica, state };
    return state;
  }

  /**
   * QuorumPeer.applyLogged: every logged txn the tree lacks, committed or not, as ZooKeeper
   * reloads its database for each role (a new leader's TRUNC removes what was never committed).
   */
  private async applyLogged(): Promise<{ snapshotZxid: Zxid; log: LogEntry[] }> {
    const history = await this.store.history(zxidFromNumber(this.replica.tree.lastProcessedZxid));
    const replica = this.checkedReplica();
    for (const entry of history.log) replica.apply(entry);
    return history;
  }

  /** A role ended (connection lost, stepped down): serve nobody and look for a leader again. */
  private endRole(reason: string): void {
    const role = this.role;
    if (role.kind !== 'leading' && role.kind !== 'following') return;
    this.ens.trace(`server ${this.sid} stops ${role.kind}: ${reason}`);
    this.lastRoleEnd = reason;
    if (role.kind === 'leading') {
      role.over = true;
      this.replica.stopProposing();
      for (const c of [...role.conns.values()]) this.closeFromLeader(c);
      role.conns.clear();
    } else {
      role.closed ??= reason;
      if (role.conn) this.closeFromLearner(role.conn);
    }
    const looking: Role = { kind: 'looking' };
    this.role = looking;
    this.pipeline.setMode('looking');
    // As QuorumPeer.run: the ended role's writes settle (its stop()), then the vote reads the store.
    this.background(
      role.carriedOut
        .then(() => this.store.whenIdle())
        .then(() => {
          if (this.role !== looking || !this.fle) return;
          this.fle.lookForLeader(this.world.now, this.history());
          this.flushElection();
        }),
    );
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
        const state = rd.decision.state;
        if (state === ServerState.LEADING) this.lead();
        else this.follow(Number(rd.decision.vote.leader), state === ServerState.OBSERVING ? 'observer' : 'follower');
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

  // ---- leading (QuorumPeer.lead + QuorumLeader with a store) ----

  private lead(): void {
    const starting: Role = { kind: 'starting' };
    this.role = starting;
    this.background(
      // ZooKeeper's leader has applied its whole log before it leads; its history is that log.
      this.applyLogged().then((history) => {
        if (this.role !== starting) return;
        const core = new ZabLeader({
          myId: BigInt(this.sid),
          quorum: this.ens.quorum,
          acceptedEpoch: this.store.acceptedEpoch,
          currentEpoch: this.store.currentEpoch,
          log: history.log,
          snapshotZxid: history.snapshotZxid,
          config: Buffer.from(this.ens.configText),
          initLimitTicks: this.config.initLimit,
          syncLimitTicks: this.config.syncLimit,
          commitLogCount: this.ens.commitLogCount,
          logReads: this.ens.snapshotSizeFactor >= 0,
        });
        this.role = { kind: 'leading', core, conns: new Map(), nextZxid: -1n, drainQueued: false, heldBack: 0, carriedOut: Promise.resolve(), over: false };
        this.ens.trace(`server ${this.sid} leads (epochs ${this.store.acceptedEpoch}/${this.store.currentEpoch}, last ${this.lastLogged()})`);
      }),
    );
  }

  /** A learner connects: the leader's accept. False when it cannot (not leading, cut off). */
  accept(conn: QuorumConn): boolean {
    if (this.role.kind !== 'leading' || this.role.over) return false;
    this.role.conns.set(conn.id, conn);
    return true;
  }

  /** QuorumLeader.run: feeds one input to the core, then carries out its Readys in field order. */
  private runLeader(role: Leading, input: () => void): void {
    if (this.role !== role || role.over) return;
    const core = role.core;
    const wasBroadcasting = core.phase === 'broadcast';
    input();
    while (this.role === role && !role.over && core.hasReady()) {
      const rd: LeaderReady = core.ready();
      const epochs = (rd.acceptedEpoch !== null ? 1 : 0) + (rd.currentEpoch !== null ? 1 : 0);
      const crashAt = rd.append.length + epochs > 0 ? this.ens.crashPoint(this, rd.append.length + epochs) : null;
      if (crashAt !== null) this.store.armCrash(crashAt);
      // The leader's own ACK of each proposal counts when its fsync returns (logged(zxid)).
      core.advance(false);
      this.logAppends(role, rd.append);
      if (this.role !== role) return;
      if (rd.acceptedEpoch === null && role.heldBack === 0) {
        this.carryOutLeader(role, rd);
        // currentEpoch alone: the sync goes out while it is written (QuorumLeader.writeCurrentEpoch).
        if (rd.currentEpoch !== null) this.writeCurrentEpoch(role, rd.currentEpoch);
        continue;
      }
      // A Ready that writes an epoch sends nothing before the file is durable; later ones wait their turn.
      role.heldBack++;
      role.carriedOut = role.carriedOut
        .then(() => this.writeEpochs(rd))
        .then(
          () => {
            role.heldBack--;
            if (this.role !== role || role.over) return;
            this.carryOutLeader(role, rd);
            this.runLeader(role, () => (rd.currentEpoch !== null ? core.currentEpochDurable() : undefined));
          },
          (err: unknown) => {
            role.heldBack--;
            this.leaderFailed(role, `could not write the epoch: ${(err as Error).message}`);
          },
        );
      this.background(role.carriedOut);
    }
    if (this.role === role && !role.over && !wasBroadcasting && core.phase === 'broadcast') this.established(role);
  }

  private writeCurrentEpoch(role: Leading, epoch: bigint): void {
    role.carriedOut = role.carriedOut
      .then(() => this.store.setCurrentEpoch(epoch))
      .then(
        () => {
          if (this.role === role && !role.over) this.runLeader(role, () => role.core.currentEpochDurable());
        },
        (err: unknown) => this.leaderFailed(role, `could not write the epoch: ${(err as Error).message}`),
      );
    this.background(role.carriedOut);
  }

  private async writeEpochs(rd: LeaderReady): Promise<void> {
    if (rd.acceptedEpoch !== null) await this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null) await this.store.setCurrentEpoch(rd.currentEpoch);
  }

  private logAppends(role: Leading, entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (this.role !== role) return;
      this.store.appendThen(e.zxid, e.data, (err) => {
        if (this.role !== role || role.over) return;
        if (err) return this.leaderFailed(role, `could not log ${zxidToHex(e.zxid)}: ${err.message}`);
        this.runLeader(role, () => role.core.logged(e.zxid));
      });
    }
  }

  /** A write failed: this leader must not acknowledge anything more, so it steps down. */
  private leaderFailed(role: Leading, reason: string): void {
    if (this.role === role) this.endRole(`stepped down: ${reason}`);
  }

  /**
   * QuorumLeader.readLog: a learner's DIFF from the on-disk log, limited to snapshotSizeFactor ×
   * the tree's size; a failed read is a SNAP.
   */
  private readLog(role: Leading, r: LogRead): void {
    const limit = Math.floor(this.pipeline.tree.approximateDataSize() * this.ens.snapshotSizeFactor);
    this.background(
      this.store.diffAfter(r.after, r.through, limit > 0 ? limit : undefined).then(
        (entries) => this.runLeader(role, () => role.core.logRead(r.conn, entries)),
        () => this.runLeader(role, () => role.core.logRead(r.conn, null)),
      ),
    );
  }

  private carryOutLeader(role: Leading, rd: LeaderReady): void {
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
      // Handed to the core after the requests before it were proposed (see ZabLeader.sync).
      if (type === OpCode.sync) {
        role.core.sync(r.conn);
        continue;
      }
      const sessionId = r.data.readBigInt64BE(0);
      this.pipeline.prepForwarded({ sessionId, cxid: r.data.readInt32BE(8), type, body: r.data.subarray(16), authIds: r.authinfo ?? [] });
    }
    for (const t of rd.touches) this.pipeline.touchedElsewhere(t.sessionId);
    for (const q of rd.revalidations) role.core.answerRevalidate(q.conn, q.sessionId, this.pipeline.revalidate(q.sessionId));
    for (const r of rd.logReads) this.readLog(role, r);
    if (rd.steppedDown !== null) this.endRole(`stepped down: ${rd.steppedDown}`);
  }

  private established(role: Leading): void {
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
  private proposeAt(role: Leading, zxid: Zxid, data: Buffer): boolean {
    if (this.role !== role || role.over || role.core.phase !== 'broadcast' || zxid !== role.nextZxid) return false;
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

  // ---- following and observing (QuorumPeer.follow + QuorumLearner with a store) ----

  private follow(leader: number, learnerRole: 'follower' | 'observer'): void {
    const starting: Role = { kind: 'starting' };
    this.role = starting;
    const deadline = this.world.now + this.config.initLimit * this.config.tickTime;
    this.background(
      this.applyLogged().then(() => {
        if (this.role !== starting) return;
        const role: Following = { kind: 'following', leader, learnerRole, core: null, conn: null, synced: false, carriedOut: Promise.resolve(), appendsAfter: Promise.resolve(), closed: null };
        this.role = role;
        this.connectToLeader(role, deadline);
      }),
    );
  }

  /** Learner.connectToLeader: the leader may not be listening yet; retry within initLimit. */
  private connectToLeader(role: Following, deadline: number): void {
    if (this.role !== role) return;
    const leader = this.ens.servers[role.leader - 1]!;
    if (leader !== this && !this.ens.net.severed(this.sid, leader.sid)) {
      const conn: QuorumConn = { id: this.nextConnId++ * 100 + this.sid, pipe: new Pipe(this.world, this.ens.net, this.sid, leader.sid), learner: this, leader };
      if (leader.accept(conn)) return this.startLearner(role, conn);
    }
    if (this.world.now >= deadline) return this.endRole(`cannot reach leader ${role.leader}`);
    this.world.after(CONNECT_RETRY_MS, () => this.connectToLeader(role, deadline));
  }

  private startLearner(role: Following, conn: QuorumConn): void {
    role.conn = conn;
    role.core = new ZabLearner<ZkSnapshot>({
      myId: BigInt(this.sid),
      role: role.learnerRole,
      acceptedEpoch: this.store.acceptedEpoch,
      currentEpoch: this.store.currentEpoch,
      lastLoggedZxid: this.store.lastLoggedZxid,
      initLimitTicks: this.config.initLimit,
      syncLimitTicks: this.config.syncLimit,
      fullSync: this.store.fullSyncNeeded,
    });
    role.core.start();
    this.flushLearner(role);
  }

  /** A packet or the snapshot stream from the leader arrived on `conn`. */
  fromLeader(conn: QuorumConn, item: { bytes: Buffer } | { snapshot: Buffer }): void {
    const role = this.role;
    if (role.kind !== 'following' || role.conn !== conn || !role.core || role.closed !== null) return;
    const core = role.core;
    if (core.phase === 'closed') return;
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

  /**
   * QuorumLearner.flush: takes the core's Ready and queues it. Readys are carried out in the
   * order taken, each in its field order, and nothing of one is sent or applied before its state
   * is durable. A Ready that only appends starts its appends at once (group commit); one that
   * installs, truncates or writes an epoch waits for every Ready before it. A failed write ends
   * the connection unacknowledged.
   */
  private flushLearner(role: Following): void {
    const core = role.core!;
    if (role.closed !== null || !core.hasReady()) return;
    const rd = core.ready();
    core.advance();
    const logOnly = rd.snapshot === null && rd.truncateTo === null && !rd.reset && rd.acceptedEpoch === null && rd.currentEpoch === null;
    // A reset is one step more (its snapshot before the appends), the updatingEpoch marker two.
    const steps = (rd.snapshot ? 1 : 0) + (rd.truncateTo !== null ? 1 : 0) + (rd.reset ? 1 : 0) + rd.append.length + (logOnly ? 0 : 2) + (writesAheadOfEpoch(rd, this.store.currentEpoch) ? 2 : 0);
    const crashAt = steps > 0 ? this.ens.crashPoint(this, steps) : null;
    if (crashAt !== null) this.store.armCrash(crashAt);
    let persisted: Promise<void>;
    if (logOnly) {
      persisted = rd.append.length === 0 ? Promise.resolve() : role.appendsAfter.then(() => this.appendAll(rd.append));
    } else {
      persisted = role.carriedOut.then(() => this.persistLearner(role, rd));
      role.appendsAfter = persisted;
    }
    role.carriedOut = Promise.all([role.carriedOut, persisted]).then(
      () => this.deliver(role, rd),
      (err: unknown) => this.learnerFailed(role, `could not persist: ${(err as Error).message}`),
    );
    this.background(role.carriedOut);
  }

  private deliver(role: Following, rd: LearnerReady<ZkSnapshot>): void {
    if (role.closed !== null || this.role !== role) return;
    const conn = role.conn!;
    for (const p of rd.messages) {
      const bytes = encodeQuorumPacket(p);
      conn.pipe.send(0, () => conn.leader.fromLearner(conn, bytes));
    }
    const replica = this.checkedReplica();
    for (const entry of rd.commit) replica.apply(entry);
    for (const r of rd.revalidations) this.pipeline.revalidated(r.sessionId, r.valid);
    if (rd.syncs > 0) this.pipeline.syncsDone(rd.syncs);
    if (rd.closed !== null) return this.endRole(rd.closed);
    if (!role.synced && role.core!.phase === 'broadcast') this.synced(role);
  }

  private learnerFailed(role: Following, reason: string): void {
    if (this.role !== role) return;
    this.ens.trace(`server ${this.sid}: ${reason}`);
    this.endRole(reason);
  }

  /** This server's applied changes of `path` (the checkers' record), for a watch event it sends. */
  changesOf(path: string): readonly number[] {
    return this.ens.changesOf(this.sid, path);
  }

  /**
   * snapshot → truncate → append (or reset and append) → acceptedEpoch → currentEpoch, each
   * durable before the next; the updatingEpoch marker first when they may write history ahead
   * of currentEpoch (SNAP, NEWLEADER), removed by the store once currentEpoch is written. A TRUNC the store refuses rejects (learnerFailed ends the
   * connection); the store's fullSyncNeeded makes the next sync ask for the whole state.
   */
  private async persistLearner(role: Following, rd: LearnerReady<ZkSnapshot>): Promise<void> {
    // A connection that ended changes nothing more (its Readys are not acknowledged either).
    if (role.closed !== null) return;
    if (writesAheadOfEpoch(rd, this.store.currentEpoch)) await this.store.beginEpochUpdate();
    if (rd.snapshot) {
      const installed = await this.store.installZkSnapshot(rd.snapshot.zxid, rd.snapshot.state);
      this.replica.replace(installed.tree, installed.sessions);
      this.ens.onTreeReplaced(this.sid);
    }
    if (rd.truncateTo !== null) {
      // The tree may hold txns that are gone: it is rebuilt from what is durable.
      const left = await this.store.truncate(rd.truncateTo);
      this.replica.replace(left.tree, left.sessions);
      this.ens.onTreeReplaced(this.sid);
    }
    if (rd.reset) {
      await this.store.reset(rd.append, rd.commit.length);
      // This Ready's commits are then applied to the empty tree when it is delivered.
      this.replica.install(0n, { sessions: new Map(), nodes: [] });
      this.ens.onTreeReplaced(this.sid);
    } else {
      await this.appendAll(rd.append);
    }
    if (rd.acceptedEpoch !== null) await this.store.setAcceptedEpoch(rd.acceptedEpoch);
    if (rd.currentEpoch !== null) await this.store.setCurrentEpoch(rd.currentEpoch);
  }

  /** Logs txns in order; settles once all are durable (their fsyncs shared with other appends). */
  private appendAll(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0 || this.ens.sabotage === 'learner-skips-log') return Promise.resolve();
    return new Promise((resolve, reject) => {
      let left = entries.length;
      const done = (err: Error | null): void => {
        if (err) return reject(err);
        if (--left === 0) resolve();
      };
      for (const e of entries) this.store.appendThen(e.zxid, e.data, done);
    });
  }

  private synced(role: Following): void {
    role.synced = true;
    const core = role.core!;
    this.fle?.updateElectionVote(core.currentEpoch);
    this.ens.trace(`server ${this.sid} synced with ${role.leader} (${core.syncMode}) as ${role.learnerRole}`);
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
    this.pipeline.setMode(role.learnerRole, channel);
  }

  // ---- clients ----

  /** A client connects: the pipeline gets a link, or the connection is refused (server down or starting). */
  connectClient(pipe: Pipe, toClient: ToClient): SimLink | null {
    if (this.role.kind === 'down' || this.role.kind === 'starting' || !this.pipeline) return null;
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
    const ended = this.lastRoleEnd ? `; last role ended: ${this.lastRoleEnd}` : '';
    if (r.kind === 'leading') return `leading ${r.core.phase} e${r.core.epoch ?? '?'} (${r.conns.size} learners)${ended}`;
    if (r.kind === 'following') return `${r.learnerRole === 'observer' ? 'observing' : 'following'} ${r.leader} ${r.core?.phase ?? 'connecting'}${ended}`;
    return `${r.kind}${ended}`;
  }

  /** Zab leader core, when leading. */
  leaderCore(): ZabLeader | null {
    return this.role.kind === 'leading' ? this.role.core : null;
  }

  /** The learner core, when following or observing. */
  learnerCore(): ZabLearner<ZkSnapshot> | null {
    return this.role.kind === 'following' ? this.role.core : null;
  }
}

/** The SNAP stream as QuorumLearner reads it: the snapshot body, then the signature. */
function parseSnapshotStream(bytes: Buffer): ZkSnapshot {
  const r = new JuteReader(bytes, 0, bytes.length, 0x7fffffff);
  const snap = readZkSnapshotBody(r);
  if (r.string() !== SNAP_SIGNATURE) throw new Error('snapshot stream without its signature');
  return snap;
}
