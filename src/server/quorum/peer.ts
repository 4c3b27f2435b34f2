/**
 * QuorumPeer: one ensemble member, as ZooKeeper's QuorumPeer.run loop. It elects (FLE over the
 * election port), then leads (QuorumLeader on the quorum port) or follows/observes
 * (QuorumLearner), and when that role ends it looks for a leader again. The request pipeline
 * that serves clients is given roles, not copies: the drivers apply committed txns to its tree
 * and session table (PipelineReplica), a leader's pipeline proposes through the quorum (its
 * commit log), and a learner's pipeline forwards writes to the leader and answers them when
 * their txns come back committed.
 */
import { EventEmitter } from 'node:events';
import { decodeTxn } from '../../jute/txn.js';
import type { Id } from '../../jute/records.js';
import type { ServerConfig } from '../../config/config.js';
import type { Logger } from '../../lib/log.js';
import type { ZkSnapshot } from '../../persistence/zkformat.js';
import type { CommitLog } from '../../pipeline/commitlog.js';
import type { LeaderChannel, QuorumReport, RequestPipeline, ServingMode } from '../../pipeline/pipeline.js';
import { DataTree } from '../../tree/datatree.js';
import type { LogEntry } from '../../consensus/learner.js';
import { MajorityQuorum, quorumConfigText, type QuorumServerSpec } from '../../consensus/members.js';
import { ServerState, type ServerState as ServerStateValue } from '../../consensus/wire.js';
import { makeZxid, zxidToHex, zxidToNumber, type Zxid } from '../../consensus/zxid.js';
import type { Decision } from '../../consensus/election.js';
import { ElectionDriver } from './election-driver.js';
import { QuorumLeader } from './leader-driver.js';
import { QuorumLearner, type QuorumStore } from './learner-driver.js';
import { appliedZxid, treeFromZkSnapshot, type ReplicaState } from './replica.js';
import { PLAIN_TRANSPORT, type QuorumTransport } from './quorum-tls.js';
import type { QuorumSasl } from './quorum-sasl.js';

export interface QuorumPeerOptions {
  config: ServerConfig;
  pipeline: RequestPipeline;
  replica: PipelineReplica;
  /** The member's durable state; the pipeline's tree already holds what it had at start. */
  store: QuorumStore;
  logger: Logger;
  /** Connections to and from the other members (quorumTransport(config) for sslQuorum); closed by stop(). Plain TCP by default. */
  transport?: QuorumTransport;
  /** Quorum SASL (loadQuorumSasl), or none. */
  quorumSasl?: QuorumSasl | null;
}

export interface QuorumPeerEvents {
  /** The member's part changed (looking, leader, follower, observer). */
  mode: [mode: ServingMode];
}

/**
 * Pauses between attempts to reach a leader that is not listening yet (Learner.connectToLeader
 * sleeps 1 s): a leader elected in the same instant listens within a millisecond or two (its
 * start reads nothing from disk), so the first pauses are short; a refused connect costs little.
 */
const CONNECT_RETRY_MS = { first: 1, last: 20 };

const NO_IDS: readonly Id[] = [];

/** The consensus layer's view of the config's server.N lines. */
export function quorumMembers(config: ServerConfig): QuorumServerSpec[] {
  return config.servers.map((s) => ({
    sid: BigInt(s.id),
    type: s.type,
    host: s.host,
    quorumPort: s.quorumPort,
    electionPort: s.electionPort,
    ...(s.clientPort !== null ? { clientAddress: { host: s.clientPortAddress ?? '0.0.0.0', port: s.clientPort } } : {}),
  }));
}

export class QuorumPeer extends EventEmitter<QuorumPeerEvents> {
  private readonly config: ServerConfig;
  private readonly pipeline: RequestPipeline;
  private readonly replica: PipelineReplica;
  private readonly store: QuorumStore;
  private readonly logger: Logger;
  private readonly quorumSasl: QuorumSasl | null;
  private readonly members: QuorumServerSpec[];
  private readonly myId: bigint;
  private readonly configText: string;
  private readonly election: ElectionDriver;
  private readonly transport: QuorumTransport;
  private leader: QuorumLeader | null = null;
  private learner: QuorumLearner | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private leadingSince = 0;
  /** The leader of the role being played, for status(); null while looking. */
  private leaderId: bigint | null = null;
  /** Ends the role being played (stop, a step-down, a closed leader connection). */
  private endRole: ((reason: string) => void) | null = null;

  constructor(options: QuorumPeerOptions) {
    super();
    this.config = options.config;
    this.pipeline = options.pipeline;
    this.replica = options.replica;
    this.store = options.store;
    this.logger = options.logger;
    this.transport = options.transport ?? PLAIN_TRANSPORT;
    this.quorumSasl = options.quorumSasl ?? null;
    this.members = quorumMembers(options.config);
    this.myId = BigInt(options.config.serverId);
    this.configText = quorumConfigText(this.members, 0n);
    this.replica.configText = this.configText;
    this.replica.writeConfigNode();
    this.election = new ElectionDriver({
      myId: this.myId,
      servers: this.members,
      history: this.history(),
      connectTimeoutMs: this.config.cnxTimeoutMs,
      // A crashed leader's followers elect the next one at once instead of 200 ms later.
      finalizeEarly: true,
      ...(this.config.quorumListenOnAllIPs ? { listenHost: '0.0.0.0' } : {}),
      transport: this.transport,
      quorumSasl: this.quorumSasl,
    });
    this.election.on('rejected', (reason) => this.logger.debug(`election port: ${reason}`));
    // For tracing a failover (PADDOCK_LOG_LEVEL=debug): what the election waited on.
    this.election.on('connection', (sid, up) => this.logger.debug(`election connection with server ${sid} ${up ? 'up' : 'down'}`));
    this.election.on('notification', (from, n) => this.logger.debug(`election notification from ${from}: state ${n.state}, leader ${n.leader}, zxid ${zxidToHex(n.zxid)}, round ${n.electionEpoch}`));
    this.election.on('authentication', (sid, message) => this.logger.warn(`election connection with server ${sid}: ${message}`));
    this.pipeline.quorumStatus = () => this.status();
  }

  get mode(): ServingMode {
    return this.pipeline.mode;
  }

  /** Listens on the election port and starts the first round; roles follow in the background. */
  async start(): Promise<void> {
    this.pipeline.setMode('looking');
    await this.election.start();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endRole?.('stopped');
    await this.election.stop();
    await this.loop;
    this.transport.close();
    this.pipeline.setMode('looking');
  }

  status(): QuorumReport {
    const mode = this.pipeline.mode;
    const leader = this.leader;
    const base: QuorumReport = {
      mode: mode === 'standalone' ? 'looking' : mode,
      peerState: peerState(mode, leader?.phase ?? this.learner?.phase ?? null),
      quorumSize: this.members.filter((m) => m.type === 'participant').length,
      learners: 0,
      syncedFollowers: 0,
      syncedObservers: 0,
      pendingSyncs: 0,
      leaderUptimeMs: 0,
      proposalSizes: this.replica.proposalSizes,
      leaderId: mode === 'looking' || mode === 'standalone' ? null : this.leaderId,
      syncedFollowerIds: [],
      syncedObserverIds: [],
    };
    if (mode !== 'leader' || leader === null) return base;
    const synced = leader.syncedLearners();
    const voters = new Set(this.members.filter((m) => m.type === 'participant').map((m) => m.sid));
    const followers = synced.filter((sid) => voters.has(sid));
    const observers = synced.filter((sid) => !voters.has(sid));
    return {
      ...base,
      learners: leader.learnerCount(),
      syncedFollowers: followers.length,
      syncedObservers: observers.length,
      syncedFollowerIds: followers,
      syncedObserverIds: observers,
      pendingSyncs: leader.pendingSyncCount(),
      leaderUptimeMs: Date.now() - this.leadingSince,
    };
  }

  /** What the vote carries: the last logged zxid and currentEpoch, as durable. */
  private history(): { lastLoggedZxid: Zxid; currentEpoch: bigint } {
    return { lastLoggedZxid: this.store.lastLoggedZxid, currentEpoch: this.store.currentEpoch };
  }

  /**
   * Applies every logged txn the tree lacks, committed or not, as ZooKeeper reloads its database
   * (snapshot and whole log) for each role: a leader that stepped down may have logged proposals
   * it never applied. A new leader's TRUNC removes what was never committed. The store holds its
   * newest txns in memory, so this reads no log unless the tree is far behind it.
   */
  private async applyLogged(): Promise<{ snapshotZxid: Zxid; log: LogEntry[] }> {
    const history = await this.store.history(appliedZxid(this.replica));
    for (const entry of history.log) this.replica.apply(entry);
    return history;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const decision = await this.nextDecision();
      if (decision === null) break;
      this.leaderId = decision.vote.leader;
      this.logger.info(`server ${this.myId} elected: ${stateName(decision.state)} ${decision.vote.leader}`);
      try {
        if (decision.state === ServerState.LEADING) await this.lead();
        else await this.follow(decision.vote.leader, decision.state);
      } catch (err) {
        this.logger.warn(`${stateName(decision.state)} ended: ${(err as Error).message}`);
      }
      this.setMode('looking');
      if (this.stopped) break;
      // The vote and the next role read the log: the ended role's appends must have settled.
      await this.store.whenIdle();
      this.election.lookForLeader(this.history());
    }
  }

  private async nextDecision(): Promise<Decision | null> {
    while (!this.stopped) {
      try {
        // Bounded so stop() is noticed; an election may take longer and simply goes on.
        return await this.election.waitForDecision(this.config.tickTime * 10);
      } catch {
        // no decision yet
      }
    }
    return null;
  }

  private setMode(mode: ServingMode, channel: LeaderChannel | null = null): void {
    if (this.pipeline.mode === mode) return;
    this.pipeline.setMode(mode, channel);
    this.logger.info(`server ${this.myId} is now ${mode}`);
    this.emit('mode', mode);
  }

  /**
   * Resolves with the reason once `endRole` is called. Clients are let go at that moment, not
   * once the role's connections are closed: ZooKeeper shuts its server down on leaving a role,
   * and a stale leader serving meanwhile would answer SESSIONEXPIRED for the sessions the new
   * leader made.
   */
  private roleEnds(): Promise<string> {
    return new Promise((resolve) => {
      this.endRole = (reason) => {
        this.endRole = null;
        this.replica.stopProposing();
        this.setMode('looking');
        resolve(reason);
      };
    });
  }

  // ---- leading ----

  private async lead(): Promise<void> {
    // ZooKeeper's leader has applied its whole log before it leads; its history is that log.
    const history = await this.applyLogged();
    const me = this.members.find((m) => m.sid === this.myId)!;
    const quorum = new MajorityQuorum(this.members);
    const leader = new QuorumLeader({
      myId: this.myId,
      quorum,
      acceptedEpoch: this.store.acceptedEpoch,
      currentEpoch: this.store.currentEpoch,
      log: history.log,
      snapshotZxid: history.snapshotZxid,
      config: Buffer.from(this.configText),
      initLimitTicks: this.config.initLimit,
      syncLimitTicks: this.config.syncLimit,
      commitLogCount: this.config.commitLogCount,
      snapshotSizeFactor: this.config.snapshotSizeFactor,
      host: me.host,
      port: me.quorumPort,
      tickTimeMs: this.config.tickTime,
      state: this.replica,
      store: this.store,
      ...(this.config.quorumListenOnAllIPs ? { listenHost: '0.0.0.0' } : {}),
      transport: this.transport,
      quorumSasl: this.quorumSasl,
    });
    this.leader = leader;
    leader.on('authentication', (message) => this.logger.warn(`quorum port: ${message}`));
    const ended = this.roleEnds();
    leader.on('steppedDown', (reason) => this.endRole?.(`stepped down: ${reason}`));
    leader.on('snapshotSent', (_conn, s) => this.logger.info(`snapshot sent to a learner: ${s.bytes} bytes in ${s.slices} slices over ${s.elapsedMs.toFixed(0)} ms, ${s.busyMs.toFixed(0)} ms of it serializing and writing (longest slice ${s.longestSliceMs.toFixed(1)} ms)`));
    // The core checks its quorum at its next tick; a leader resumed after a pause finds its
    // followers' connections closed before that tick and must not serve clients until then.
    leader.on('learnerClosed', () => {
      const synced = [this.myId, ...leader.syncedLearners()];
      if (this.mode !== 'leader' || leader.phase !== 'broadcast' || quorum.containsQuorum(synced)) return;
      this.endRole?.(`lost its quorum: synced with ${synced.join(',')} only`);
    });
    leader.on('established', (epoch) => this.established(leader, epoch));
    leader.on('request', (r) => this.pipeline.prepForwarded({ sessionId: r.sessionId, cxid: r.cxid, type: r.type, body: r.body, authIds: r.authinfo ?? NO_IDS }));
    leader.on('touch', (sessionId) => this.pipeline.touchedElsewhere(sessionId));
    leader.on('revalidate', (q) => leader.answerRevalidate(q.conn, q.sessionId, this.pipeline.revalidate(q.sessionId)));
    try {
      await leader.start();
      this.logger.info(`server ${this.myId} leading: waiting for a quorum of followers on ${me.host}:${me.quorumPort}`);
      const reason = await ended;
      this.logger.info(`server ${this.myId} stopped leading: ${reason}`);
    } finally {
      this.endRole = null;
      this.replica.stopProposing();
      this.leader = null;
      await leader.stop();
    }
  }

  private established(leader: QuorumLeader, epoch: bigint): void {
    this.leadingSince = Date.now();
    this.setMode('leader');
    // After setMode, which restarts the allocator at the tree's last zxid.
    this.pipeline.restartZxids(zxidToNumber(makeZxid(epoch, 0n)));
    this.replica.proposeWith((zxid, data) => leader.proposeAt(zxid, data));
    this.election.updateElectionVote(epoch);
  }

  // ---- following and observing ----

  private async follow(leaderId: bigint, state: ServerStateValue): Promise<void> {
    const spec = this.members.find((m) => m.sid === leaderId);
    if (!spec) throw new Error(`elected leader ${leaderId} is not in the configuration`);
    const role = state === ServerState.OBSERVING ? 'observer' : 'follower';
    await this.applyLogged();
    const learner = await this.connectToLeader(spec, role);
    this.logger.info(`server ${this.myId} connected to leader ${leaderId}`);
    this.learner = learner;
    const ended = this.roleEnds();
    learner.once('closed', (reason) => this.endRole?.(reason));
    if (learner.closed) this.endRole?.('the connection to the leader closed at once');
    learner.on('revalidated', (sessionId, valid) => this.pipeline.revalidated(sessionId, valid));
    learner.on('syncs', (count) => this.pipeline.syncsDone(count));
    learner.once('synced', (mode) => {
      this.election.updateElectionVote(learner.currentEpoch);
      this.logger.info(`server ${this.myId} synced with leader ${leaderId} (${mode})`);
      this.setMode(role, channelTo(learner));
    });
    // Sessions used here reach the leader with the next PING reply.
    const toucher = setInterval(() => {
      for (const [id, timeout] of this.pipeline.takeTouches()) learner.touch(id, timeout);
    }, Math.max(10, Math.floor(this.config.tickTime / 2)));
    try {
      const reason = await ended;
      this.logger.info(`server ${this.myId} stopped following ${leaderId}: ${reason}`);
    } finally {
      clearInterval(toucher);
      this.endRole = null;
      this.learner = null;
      await learner.stop();
    }
  }

  /** Learner.connectToLeader: the leader may not listen yet; retry within initLimit. */
  private async connectToLeader(spec: QuorumServerSpec, role: 'follower' | 'observer'): Promise<QuorumLearner> {
    const deadline = Date.now() + this.config.initLimit * this.config.tickTime;
    for (let pauseMs = CONNECT_RETRY_MS.first; ; pauseMs = Math.min(pauseMs * 2, CONNECT_RETRY_MS.last)) {
      const learner = new QuorumLearner({
        myId: this.myId,
        leader: { host: spec.host, port: spec.quorumPort },
        store: this.store,
        role,
        tickTimeMs: this.config.tickTime,
        initLimit: this.config.initLimit,
        syncLimit: this.config.syncLimit,
        connectTimeoutMs: this.config.cnxTimeoutMs,
        state: this.replica,
        transport: this.transport,
        quorumSasl: this.quorumSasl,
      });
      try {
        await learner.start();
        return learner;
      } catch (err) {
        await learner.stop();
        if (this.stopped || Date.now() >= deadline) throw new Error(`cannot reach leader ${spec.sid} at ${spec.host}:${spec.quorumPort}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    }
  }
}

/** QuorumPeer.getDetailedPeerState: "leading - broadcast", "following - synchronization", ... */
function peerState(mode: ServingMode, phase: string | null): string {
  const state = mode === 'leader' ? 'leading' : mode === 'follower' ? 'following' : mode === 'observer' ? 'observing' : 'looking';
  if (state === 'looking') return 'looking - election';
  const zab = phase === 'broadcast' ? 'broadcast' : phase === 'discovery' ? 'discovery' : 'synchronization';
  return `${state} - ${zab}`;
}

function channelTo(learner: QuorumLearner): LeaderChannel {
  return {
    forward: (sessionId, cxid, type, body, authIds) => learner.forward(sessionId, cxid, type, body, authIds.length > 0 ? (authIds as Id[]) : null),
    revalidate: (sessionId, timeoutMs) => learner.revalidate(sessionId, timeoutMs),
  };
}

function stateName(state: ServerStateValue): string {
  return state === ServerState.LEADING ? 'leading' : state === ServerState.OBSERVING ? 'observing' : 'following';
}

/**
 * The request pipeline as the drivers' replicated state, and, on a leader, the pipeline's commit
 * log: an append is proposed to the quorum and done when it commits, which is when the leader
 * driver "applies" it; the pipeline then applies it itself, in order.
 */
export class PipelineReplica implements ReplicaState, CommitLog {
  private pipeline: RequestPipeline | null = null;
  private propose: ((zxid: Zxid, data: Buffer) => boolean) | null = null;
  /**
   * Appends proposed and not yet committed, oldest first from `waitingHead`: proposals commit in
   * zxid order, so the next commit is at the head (a queue, not a Map keyed by zxid per txn).
   */
  private waiting: { zxid: number; done: (err: Error | null) => void }[] = [];
  private waitingHead = 0;
  configText = '';
  /** Sizes of the proposals made as leader, for srvr and mntr. */
  readonly proposalSizes = { last: -1, min: -1, max: -1 };

  /**
   * `defer` runs a refused append's callback later (the CommitLog contract: never from within
   * append); the simulator passes its own queue so that this happens at a deterministic point,
   * and its clock (`now`, for /zookeeper/config's mtime) so that a seed's snapshots are the same bytes.
   */
  constructor(
    private readonly treeOptions: { extendedTypesEnabled: boolean },
    private readonly defer: (fn: () => void) => void = queueMicrotask,
    private readonly now: () => number = Date.now,
  ) {}

  attach(pipeline: RequestPipeline): void {
    this.pipeline = pipeline;
  }

  private get p(): RequestPipeline {
    if (this.pipeline === null) throw new Error('PipelineReplica used before its pipeline was attached');
    return this.pipeline;
  }

  get tree(): DataTree {
    return this.p.tree;
  }

  sessionTimeouts(): Map<bigint, number> {
    return this.p.sessionTimeouts();
  }

  proposeWith(propose: (zxid: Zxid, data: Buffer) => boolean): void {
    this.propose = propose;
  }

  /** Leadership is over: appends still waiting never complete here (their clients are gone). */
  stopProposing(): void {
    this.propose = null;
    this.waiting = [];
    this.waitingHead = 0;
  }

  append(zxid: number, bytes: Buffer, done: (err: Error | null) => void): void {
    const propose = this.propose;
    if (propose === null || !propose(BigInt(zxid), bytes)) {
      this.defer(() => done(new Error('not leading: the txn was not proposed')));
      return;
    }
    this.waiting.push({ zxid, done });
    const sizes = this.proposalSizes;
    sizes.last = bytes.length;
    sizes.min = sizes.min === -1 ? bytes.length : Math.min(sizes.min, bytes.length);
    sizes.max = Math.max(sizes.max, bytes.length);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  apply(entry: LogEntry): void {
    // Compared as numbers: a BigInt of the tree's zxid per txn is an allocation.
    const zxid = zxidToNumber(entry.zxid);
    if (this.p.tree.lastProcessedZxid >= zxid) return;
    const done = this.takeWaiting(zxid);
    if (done) {
      // The pipeline prepped this txn: committing it applies it there, with its reply.
      done(null);
      return;
    }
    this.p.applyReplicated(decodeTxn(entry.data, 0x7fffffff));
  }

  /** The append of `zxid` if it waits at the head (older ones never commit through here now). */
  private takeWaiting(zxid: number): ((err: Error | null) => void) | null {
    const waiting = this.waiting;
    while (this.waitingHead < waiting.length && waiting[this.waitingHead]!.zxid < zxid) this.waitingHead++;
    const head = waiting[this.waitingHead];
    if (head === undefined || head.zxid !== zxid) return null;
    this.waitingHead++;
    // Cut the consumed prefix now and then, not at every commit.
    if (this.waitingHead >= 1024 && this.waitingHead * 2 >= waiting.length) {
      this.waiting = waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
    return head.done;
  }

  install(zxid: Zxid, snap: ZkSnapshot): void {
    const tree = snap.nodes.length === 0 ? new DataTree(this.treeOptions) : treeFromZkSnapshot(snap, this.treeOptions);
    tree.lastProcessedZxid = zxidToNumber(zxid);
    this.replace(tree, snap.sessions);
  }

  replace(tree: DataTree, sessions: ReadonlyMap<bigint, number>): void {
    this.p.replaceState(tree, sessions);
    this.writeConfigNode();
  }

  /** /zookeeper/config holds the membership, as ZKDatabase.initConfigInZKDatabase writes it. */
  writeConfigNode(): void {
    this.p.tree.setData('/zookeeper/config', Buffer.from(this.configText), -1, 0, this.now(), []);
  }
}
