/**
 * The request pipeline of one server: session check -> prep -> txn -> commit log -> apply ->
 * watches -> reply, with per-session FIFO replies. It owns no sockets, files or timers: the
 * network layer calls it with decoded requests and a link to answer on; time comes from `now()`.
 */
import { checkAcl } from '../acl/index.js';
import { Err, EventType, OpCode, Perm } from '../jute/constants.js';
import type { ACL, ConnectRequest, Id } from '../jute/records.js';
import { isClientOp, isWriteOp, OpMap, opSpec, type LocalOp, type OpOfKind } from '../jute/ops.js';
import { readRequest, writeRequest, type MultiResult, type Request, type RequestOf } from '../jute/requests.js';
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { encodeTxn, type Txn, type TxnBody, type TxnOf } from '../jute/txn.js';
import { assert } from '../lib/assert.js';
import { normalizeMultiOps } from '../prep/multi.js';
import { errorTxn, Prep, type PrepOptions } from '../prep/prep.js';
import { ZxidAllocator } from '../prep/zxids.js';
import { SessionPasswords, type SessionSecret } from '../sessions/password.js';
import { SessionTracker, type RandomBytes, type Session } from '../sessions/tracker.js';
import { replayTxn, type SessionTable } from '../sessions/replay.js';
import { MAX_RECORD_BYTES } from '../persistence/logformat.js';
import { DataTree, type ApplyResult } from '../tree/index.js';
import { WatchRegistry } from '../watches/index.js';
import type { CommitLog } from './commitlog.js';
import { sessionTimeoutBounds, type ServerConfig } from '../config/config.js';
import { hex } from '../lib/hex.js';
import type { Logger } from '../lib/log.js';
import { executeRead, KeeperError, type ReadContext } from './reads.js';
import { ServerStats } from './stats.js';

/** The server's view of one client connection. */
export interface ClientLink {
  readonly id: number;
  readonly remoteAddress: string;
  readonly authIds: Id[];
  sessionId: bigint;
  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void;
  sendEvent(type: number, path: string): void;
  sendConnectResponse(timeOut: number, sessionId: bigint, passwd: Buffer): void;
  /** True while the client has not read enough of its replies: its queued reads wait. */
  backedUp(): boolean;
  /** Closes after what is queued has been written. */
  close(reason: string): void;
}

interface Slot {
  xid: number;
  type: number;
  req: Request;
  receivedAtMs: number;
  write: boolean;
  /** Prepped and logged: at once, or, behind a read that may be held, when it reaches the head. */
  started: boolean;
  done: boolean;
  zxid: number;
  err: number;
  body: unknown;
}

interface LinkState {
  slots: Slot[];
  pendingWrites: number;
  /**
   * Reads queued but not yet executed. A read waits behind an earlier write, or for a client
   * that is not reading. A later write starts at once only while a write of the session is in
   * flight: that write's flush runs every read before the later one applies (see flush).
   * Otherwise the later write waits for the reads, so a held read never sees it.
   */
  waitingReads: number;
  closing: boolean;
  /** Built at the link's first read and reused: the session and auth list are fixed objects. */
  readContext: ReadContext<ClientLink> | null;
  /** The link's session in the tracker, kept so a request touches it without a lookup by id. */
  session: Session | null;
}

/** What a committed (or failed) txn did, for the reply. */
export interface Applied {
  zxid: number;
  err: number;
  result: ApplyResult | null;
  txn: Txn;
}

interface CommitEntry {
  txn: Txn;
  durable: boolean;
  onApplied: (applied: Applied) => void;
}

export interface PipelineDeps {
  now: () => number;
  log: CommitLog;
  logger: Logger;
  /** Runs after each txn is applied (the durable log takes snapshots here). */
  afterApply?: (server: RequestPipeline) => void;
  /** Crypto randomness at the edge: new session ids are drawn from it. */
  randomBytes: RandomBytes;
  /** The data directory's secret, which session passwords derive from. */
  sessionSecret: SessionSecret;
}



/**
 * The server's part in an ensemble. 'standalone' and 'leader' prep writes themselves (a
 * leader's commit log is quorum broadcast); a 'follower' or 'observer' forwards them to the
 * leader and answers when the committed txn comes back; 'looking' serves no client.
 */
export type ServingMode = 'standalone' | 'leader' | 'follower' | 'observer' | 'looking';

/** A learner's channel to its leader (Learner.request, Learner.revalidate). */
export interface LeaderChannel {
  /** Sends a write, sync or session request to the leader, to be prepped there as this session. */
  forward(sessionId: bigint, cxid: number, type: number, body: Buffer, authIds: readonly Id[]): void;
  /** Asks the leader whether a session may move here; the answer comes to `revalidated`. */
  revalidate(sessionId: bigint, timeoutMs: number): void;
}

/** What srvr, stat and mntr say of an ensemble member. */
export interface QuorumReport {
  mode: 'leader' | 'follower' | 'observer' | 'looking';
  /** ZooKeeper's detailed peer state, e.g. "leading - broadcast". */
  peerState: string;
  /** Voting members. */
  quorumSize: number;
  learners: number;
  syncedFollowers: number;
  syncedObservers: number;
  pendingSyncs: number;
  /** Ms since this server became leader (0 otherwise). */
  leaderUptimeMs: number;
  /** Bytes of the last, smallest and largest proposal made as leader; -1 before any. */
  proposalSizes: { last: number; min: number; max: number };
  /** The server id of the leader this member leads or follows; null while looking. */
  leaderId: bigint | null;
  /** Leader only: the sids of the learners in broadcast, followers and observers apart. */
  syncedFollowerIds: bigint[];
  syncedObserverIds: bigint[];
}

/** A request a learner forwarded to this leader. */
export interface ForwardedRequest {
  sessionId: bigint;
  cxid: number;
  type: number;
  body: Buffer;
  authIds: readonly Id[];
}

/** Records the ACLs of the nodes a txn body of type K will delete. */
type Deletions<K extends TxnBody['type']> = (server: RequestPipeline, sessionId: bigint, body: TxnOf<K>, acls: Map<string, ACL[]>) => void;

/** Answers one of the pipeline's own opcodes (ping, setWatches); the reply has no body. */
type LocalHandler<K extends LocalOp> = (server: RequestPipeline, link: ClientLink, req: RequestOf<K>) => void;

export class RequestPipeline {
  tree: DataTree;
  readonly watches = new WatchRegistry<ClientLink>();
  readonly sessions: SessionTracker;
  readonly stats = new ServerStats();
  mode: ServingMode = 'standalone';
  /** An ensemble member's report for srvr/stat/mntr (set by the quorum peer); null standalone. */
  quorumStatus: (() => QuorumReport) | null = null;
  private prep: Prep;
  private readonly prepOptions: PrepOptions;
  private leader: LeaderChannel | null = null;
  /** Learner: forwarded requests waiting for their committed txn, by session and cxid. */
  private readonly forwarded = new ForwardedWrites();
  /** Learner: forwarded syncs, answered in order as the leader's SYNCs arrive. */
  private readonly forwardedSyncs: (() => void)[] = [];
  /** Learner: sessions moving here, waiting for the leader's answer. */
  private readonly revalidating = new Map<bigint, ((valid: boolean) => void)[]>();
  /** Learner: sessions touched since the leader last heard of them (sent with PING replies). */
  private readonly touched = new Map<bigint, number>();
  private readonly passwords: SessionPasswords;
  private readonly zxids: ZxidAllocator;
  private readonly commitQueue: CommitEntry[] = [];
  private readonly owners = new Map<bigint, ClientLink>();
  private readonly links = new Map<ClientLink, LinkState>();
  /** The first check comes one interval after the start, as ZooKeeper's ContainerManager schedules it. */
  private lastContainerCheckMs: number;
  private queuedSlots = 0;
  /** Set when the log cannot accept writes; reads go on. */
  writeFailure: string | null = null;
  private writeRetryAtMs = 0;

  constructor(
    readonly config: ServerConfig,
    private readonly deps: PipelineDeps,
    tree = new DataTree({ extendedTypesEnabled: config.extendedTypesEnabled }),
    restoredSessions: ReadonlyMap<bigint, number> = new Map(),
  ) {
    this.tree = tree;
    this.watches.limitPerWatcher(config.maxWatchesPerSession, () => this.stats.countLimit('watches_refused'));
    this.lastContainerCheckMs = deps.now();
    this.zxids = new ZxidAllocator(tree.lastProcessedZxid);
    this.sessions = new SessionTracker(config.tickTime, config.serverId, deps.randomBytes);
    this.passwords = new SessionPasswords(config.sessionPasswords, deps.sessionSecret);
    // Restored sessions get a full timeout to come back, then expire as in ZooKeeper.
    for (const [id, timeout] of restoredSessions) this.sessions.add(id, timeout, deps.now());
    this.prepOptions = {
      extendedTypesEnabled: config.extendedTypesEnabled,
      enforceQuota: config.enforceQuota,
      skipACL: config.skipACL,
      maxCloseSessionBytes: maxLoggableBytes(config),
    };
    this.prep = new Prep(this.tree, this.prepOptions);
  }

  /** The expiry tracker as the table committed session txns change (see applySessionTxn). */
  private readonly sessionTable: SessionTable = {
    set: (id, timeoutMs) => this.sessions.add(id, timeoutMs, this.deps.now()),
    delete: (id) => this.sessions.remove(id),
  };

  /** Live sessions and their timeouts, as snapshots record them. */
  sessionTimeouts(): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const s of this.sessions.all()) out.set(s.id, s.timeoutMs);
    return out;
  }

  close(): Promise<void> {
    return this.deps.log.close();
  }

  lastZxid(): number {
    return this.tree.lastProcessedZxid;
  }

  /** Requests received and not yet answered, across all connections. */
  outstandingRequests(): number {
    return this.queuedSlots;
  }

  connectionCount(): number {
    return this.links.size;
  }

  allLinks(): IterableIterator<ClientLink> {
    return this.links.keys();
  }

  // ---- roles ----

  /**
   * Changes the server's part in the ensemble. Every client connection is closed, as ZooKeeper
   * shuts its server down between roles, and what was in flight is dropped: those txns may still
   * commit in the next epoch, and their clients read the outcome after reconnecting.
   */
  setMode(mode: ServingMode, leader: LeaderChannel | null = null): void {
    for (const link of [...this.links.keys()]) {
      link.close(`the server is now ${mode}`);
      this.disconnected(link);
    }
    this.commitQueue.length = 0;
    this.writeFailure = null;
    this.forwarded.clear();
    this.forwardedSyncs.length = 0;
    this.revalidating.clear();
    this.touched.clear();
    this.prep.reset();
    this.zxids.restartAfter(this.lastZxid());
    this.mode = mode;
    this.leader = leader;
    if (mode === 'leader') this.restartSessionClocks();
  }

  /** A new leader gives every session a full timeout from now, as ZooKeeper's does. */
  private restartSessionClocks(): void {
    const now = this.deps.now();
    for (const s of [...this.sessions.all()]) {
      if (s.closing) this.sessions.reopen(s.id, now);
      else this.sessions.touch(s.id, now);
    }
  }

  /** Leader: proposals of this epoch take zxids after `zxid` (the epoch's first). */
  restartZxids(zxid: number): void {
    this.zxids.restartAfter(zxid);
  }

  /** Replaces the tree and the session table (a learner installing the leader's snapshot). */
  replaceState(tree: DataTree, sessions: ReadonlyMap<bigint, number>): void {
    this.tree = tree;
    this.prep = new Prep(tree, this.prepOptions);
    for (const s of [...this.sessions.all()]) this.sessions.remove(s.id);
    for (const [id, timeoutMs] of sessions) this.sessions.add(id, timeoutMs, this.deps.now());
    this.zxids.restartAfter(tree.lastProcessedZxid);
    for (const state of this.links.values()) state.readContext = null;
  }

  private serving(): boolean {
    return this.mode !== 'looking' && !(this.mode === 'leader' && !this.config.leaderServes);
  }

  /**
   * Keeps a session alive; false if it is unknown or closing. A learner reports the touch to
   * the leader and never refuses: the leader decides (its prep answers SESSIONEXPIRED), and the
   * session may be one this server has not applied yet.
   */
  private touchSession(sessionId: bigint): boolean {
    const alive = this.sessions.touch(sessionId, this.deps.now());
    if (this.leader === null) return alive;
    this.touched.set(sessionId, this.sessions.get(sessionId)?.timeoutMs ?? 0);
    return true;
  }

  /** touchSession for a link's request: standalone or leader, through the session kept on the link. */
  private touchLinkSession(link: ClientLink, state: LinkState, now: number): boolean {
    if (this.leader !== null) return this.touchSession(link.sessionId);
    const s = state.session;
    if (s !== null && s.id === link.sessionId && this.sessions.touchSession(s, now)) return true;
    // First request, or the kept session is closing or gone: ask the table, keep what it has.
    const alive = this.sessions.touch(link.sessionId, now);
    state.session = alive ? (this.sessions.get(link.sessionId) ?? null) : null;
    return alive;
  }

  /** Learner: the sessions touched since the last call, for the next PING reply. */
  takeTouches(): Map<bigint, number> {
    const out = new Map(this.touched);
    this.touched.clear();
    return out;
  }

  // ---- connections and sessions ----

  connect(link: ClientLink, req: ConnectRequest): void {
    this.stats.count('connection_request_count');
    if (!this.serving()) {
      // ZooKeeper closes the socket ("ZooKeeperServer not running"): the client retries elsewhere.
      link.close(`not serving clients while ${this.mode}`);
      return;
    }
    this.links.set(link, { slots: [], pendingWrites: 0, waitingReads: 0, closing: false, readContext: null, session: null });
    if (req.lastZxidSeen > this.lastZxid()) {
      this.deps.logger.warn(
        `refusing session request from ${link.remoteAddress}: client has seen zxid ${hex(req.lastZxidSeen)}, our last zxid is ${hex(this.lastZxid())}`,
      );
      link.close('client is ahead of this server');
      return;
    }
    const { min, max } = sessionTimeoutBounds(this.config);
    const timeOut = Math.min(Math.max(req.timeOut, min), max);
    if (req.sessionId === 0n) this.createSession(link, timeOut);
    else this.reopenSession(link, req, timeOut);
  }

  private createSession(link: ClientLink, timeOut: number): void {
    if (this.refuseWrite(link)) return;
    const sessionId = this.sessions.allocateId((id) => this.passwords.isReserved(id));
    const created = (applied: Applied): void => {
      if (applied.result === null) {
        this.sessions.release(sessionId);
        link.close('the txn log refused the session');
        return;
      }
      if (!this.links.has(link)) return; // the client left before its session was made
      this.bindSession(link, sessionId);
      this.deps.logger.info(`session ${hex(sessionId)} created for ${link.remoteAddress} with timeout ${timeOut} ms`);
      link.sendConnectResponse(timeOut, sessionId, this.passwords.passwordFor(sessionId));
    };
    if (this.leader !== null) {
      // The leader makes the session (its createSession REQUEST carries the timeout).
      const body = Buffer.alloc(4);
      body.writeInt32BE(timeOut);
      this.forwarded.set(sessionId, 0, created);
      this.leader.forward(sessionId, 0, OpCode.createSession, body, []);
      return;
    }
    const txn = this.prep.prepareCreateSession(sessionId, timeOut, this.zxids.next(), this.deps.now());
    this.submitTxn(txn, created);
  }

  /**
   * A client returning to its session. A wrong password gets ZooKeeper's "session expired" reply
   * and touches nothing: the session, its current connection, ephemerals and watches stay.
   */
  private reopenSession(link: ClientLink, req: ConnectRequest, timeOut: number): void {
    const session = this.sessions.get(req.sessionId);
    const passwordOk = this.passwords.matches(req.sessionId, req.passwd);
    // A learner asks the leader even when it has not applied the session yet (ZooKeeper's
    // learners do not check sessions themselves).
    const askLeader = this.leader !== null && passwordOk;
    if (!askLeader && (!session || session.closing || !passwordOk)) {
      const why = !passwordOk && session ? 'bad password' : 'expired';
      this.deps.logger.info(`refusing to reopen session ${hex(req.sessionId)} for ${link.remoteAddress}: ${why}`);
      link.sendConnectResponse(0, 0n, Buffer.alloc(16));
      link.close(`session ${why}`);
      return;
    }
    if (askLeader) {
      // Only the leader knows whether the session is still alive (Learner.revalidate).
      this.awaitRevalidation(req.sessionId, (valid) => {
        if (!this.links.has(link)) return;
        if (!valid) {
          this.deps.logger.info(`refusing to reopen session ${hex(req.sessionId)} for ${link.remoteAddress}: expired on the leader`);
          link.sendConnectResponse(0, 0n, Buffer.alloc(16));
          link.close('session expired');
          return;
        }
        this.sessionReopened(link, req.sessionId, timeOut);
      });
      this.leader!.revalidate(req.sessionId, timeOut);
      return;
    }
    this.sessionReopened(link, req.sessionId, timeOut);
  }

  private sessionReopened(link: ClientLink, sessionId: bigint, timeOut: number): void {
    const session = this.sessions.get(sessionId);
    if (session) session.timeoutMs = timeOut;
    this.touchSession(sessionId);
    const previous = this.owners.get(sessionId);
    if (previous && previous !== link) previous.close('session moved to another connection');
    this.bindSession(link, sessionId);
    this.deps.logger.info(`session ${hex(sessionId)} reopened by ${link.remoteAddress}`);
    link.sendConnectResponse(timeOut, sessionId, this.passwords.passwordFor(sessionId));
  }

  private bindSession(link: ClientLink, sessionId: bigint): void {
    link.sessionId = sessionId;
    this.owners.set(sessionId, link);
  }

  private awaitRevalidation(sessionId: bigint, answer: (valid: boolean) => void): void {
    const waiting = this.revalidating.get(sessionId);
    if (waiting) waiting.push(answer);
    else this.revalidating.set(sessionId, [answer]);
  }

  /** Learner: the leader's answer to a REVALIDATE. */
  revalidated(sessionId: bigint, valid: boolean): void {
    const waiting = this.revalidating.get(sessionId);
    if (!waiting) return;
    this.revalidating.delete(sessionId);
    for (const answer of waiting) answer(valid);
  }

  /** Leader: whether a session may move to a learner (it lives and is not closing); touches it. */
  revalidate(sessionId: bigint): boolean {
    return this.sessions.touch(sessionId, this.deps.now());
  }

  /** Leader: a learner's clients used the session. */
  touchedElsewhere(sessionId: bigint): void {
    this.sessions.touch(sessionId, this.deps.now());
  }

  /** The socket is gone: watches go with it; the session lives on until it expires. */
  disconnected(link: ClientLink): void {
    const state = this.links.get(link);
    if (state) {
      // Nobody is left to answer: in-flight writes still apply, their replies are dropped.
      this.queuedSlots -= state.slots.length;
      state.slots.length = 0;
      state.closing = true;
    }
    this.links.delete(link);
    this.watches.removeWatcher(link);
    if (this.owners.get(link.sessionId) === link) this.owners.delete(link.sessionId);
  }

  /** Expires sessions and removes empty containers and expired TTL nodes. Call every tick. */
  tick(): void {
    const now = this.deps.now();
    if (this.writeFailure !== null && now >= this.writeRetryAtMs) {
      this.deps.logger.info(`retrying writes after log failure: ${this.writeFailure}`);
      this.writeFailure = null;
    }
    // Only a server that preps writes expires sessions: a learner's leader decides.
    if (!this.prepsWrites()) return;
    for (const id of this.sessions.expire(now)) {
      this.deps.logger.info(`session ${hex(id)} expired`);
      this.closeSession(id, 0, null);
    }
    if (now - this.lastContainerCheckMs >= this.config.containerCheckIntervalMs) {
      this.lastContainerCheckMs = now;
      this.removeContainers(now);
    }
  }

  private prepsWrites(): boolean {
    return this.mode === 'standalone' || this.mode === 'leader';
  }

  expireSession(sessionId: bigint): boolean {
    if (!this.prepsWrites()) return false;
    const s = this.sessions.get(sessionId);
    if (!s || s.closing) return false;
    this.sessions.setClosing(sessionId);
    this.deps.logger.info(`session ${hex(sessionId)} expired on request`);
    this.closeSession(sessionId, 0, null);
    return true;
  }

  private removeContainers(now: number): void {
    const candidates = this.tree.containerCandidates(now, this.config.containerMaxNeverUsedIntervalMs);
    for (const path of candidates.slice(0, this.config.containerMaxPerMinute)) {
      const txn = this.prep.prepare({ type: OpCode.deleteContainer, path, version: -1 }, this.writeContext(0n, 0));
      this.submitTxn(txn, () => undefined);
    }
  }

  private closeSession(sessionId: bigint, cxid: number, onApplied: ((a: Applied) => void) | null): void {
    this.sessions.setClosing(sessionId);
    const txn = this.prep.prepareCloseSession(sessionId, cxid, this.zxids.next(), this.deps.now());
    this.submitTxn(txn, (applied) => {
      if (applied.result === null) {
        // Not logged: the session lives on and will expire (or close) again later.
        this.sessions.reopen(sessionId, this.deps.now());
        onApplied?.(applied);
        return;
      }
      const owner = this.owners.get(sessionId);
      onApplied?.(applied);
      if (owner && !onApplied) owner.close('session expired');
      this.owners.delete(sessionId);
    });
  }

  // ---- requests ----

  /** A request from an established session. Replies go out in request order. */
  request(link: ClientLink, xid: number, type: number, req: Request): void {
    const state = this.links.get(link);
    if (!state || state.closing) return;
    this.stats.packetsReceived++;
    const now = this.deps.now();
    if (!this.touchLinkSession(link, state, now)) {
      link.close('session expired');
      return;
    }
    if (!isClientOp(type)) return this.failRequest(link, state, xid, type, Err.UNIMPLEMENTED);
    // By opcode, not `'ops' in req`: a property test on requests of many shapes is slower.
    if (req.type === OpCode.multi || req.type === OpCode.multiRead) {
      const ops = normalizeMultiOps(req.type, req.ops);
      if (ops === null) return this.failRequest(link, state, xid, type, Err.MARSHALLINGERROR);
      req = { type: req.type, ops };
    }
    // A learner's sync goes to the leader and waits in line like a write.
    const write = isWriteOp(type) || (type === OpCode.sync && this.leader !== null);
    const slot: Slot = { xid, type, req, receivedAtMs: now, write, started: false, done: false, zxid: 0, err: 0, body: null };
    state.slots.push(slot);
    this.queuedSlots++;
    if (!write) state.waitingReads++;
    // Writes of one session are logged together (one fsync) unless a read of it is held.
    else if (state.waitingReads === 0 || state.pendingWrites > 0) this.startWrite(link, state, slot);
    this.flush(link, state);
  }

  /**
   * A request that could not be decoded or is not supported: its error reply keeps its place in
   * line. A write that fails this way is still logged as an error txn and takes a zxid, as in
   * ZooKeeper, whose prep allocates the zxid before it reads the request.
   */
  requestFailed(link: ClientLink, xid: number, type: number, err: number): void {
    const state = this.links.get(link);
    if (!state || state.closing) return;
    this.stats.packetsReceived++;
    this.touchSession(link.sessionId);
    this.failRequest(link, state, xid, type, err);
  }

  private failRequest(link: ClientLink, state: LinkState, xid: number, type: number, err: number): void {
    const spec = opSpec(type);
    const write = spec !== undefined && spec.kind === 'write' && spec.client;
    const slot: Slot = { xid, type, req: { type: OpCode.ping }, receivedAtMs: this.deps.now(), write, started: true, done: false, zxid: 0, err: 0, body: null };
    state.slots.push(slot);
    this.queuedSlots++;
    // A learner answers at once: the leader never sees requests it could not decode.
    if (write && this.writeFailure === null && this.leader === null) {
      state.pendingWrites++;
      const txn = errorTxn({ sessionId: link.sessionId, cxid: xid, zxid: this.zxids.next(), time: this.deps.now(), type }, err);
      this.submitTxn(txn, (applied) => {
        state.pendingWrites--;
        this.finish(slot, applied.zxid, applied.result === null ? applied.err : err, null);
        this.flush(link, state);
      });
    } else {
      this.finish(slot, this.lastZxid(), err, null);
    }
    this.flush(link, state);
  }

  private startWrite(link: ClientLink, state: LinkState, slot: Slot): void {
    slot.started = true;
    if (this.writeFailure !== null) {
      this.finish(slot, this.lastZxid(), Err.NOTREADONLY, null);
      return;
    }
    state.pendingWrites++;
    const onApplied = (applied: Applied): void => {
      state.pendingWrites--;
      // A failed multi still answers OK: the per-op results carry the errors.
      const err = applied.result && applied.result.multi !== null ? Err.OK : applied.err;
      const body = applied.result && err === Err.OK ? replyBody(slot.type, applied.result, applied.txn.body) : null;
      this.finish(slot, applied.zxid, err, body);
      this.flush(link, state);
    };
    if (this.leader !== null) return this.forwardWrite(link, state, slot, onApplied);
    if (opSpec(slot.type)?.kind === 'session') {
      state.closing = true;
      const sessionId = link.sessionId;
      // Logged when applied: the client may be gone before its reply goes out.
      this.closeSession(sessionId, slot.xid, (applied) => {
        if (applied.result !== null) this.deps.logger.info(`session ${hex(sessionId)} closed by client`);
        onApplied(applied);
      });
      return;
    }
    const txn = this.prep.prepare(slot.req, this.writeContext(link.sessionId, slot.xid, link.authIds));
    this.submitTxn(txn, onApplied);
  }

  /** Learner: the leader preps the request; its committed txn (or the leader's SYNC) answers it. */
  private forwardWrite(link: ClientLink, state: LinkState, slot: Slot, onApplied: (applied: Applied) => void): void {
    const sessionId = link.sessionId;
    if (slot.type === OpCode.sync) {
      const path = (slot.req as RequestOf<typeof OpCode.sync>).path;
      this.forwardedSyncs.push(() => {
        state.pendingWrites--;
        this.finish(slot, this.lastZxid(), Err.OK, { path });
        this.flush(link, state);
      });
    } else {
      if (opSpec(slot.type)?.kind === 'session') state.closing = true;
      this.forwarded.set(sessionId, slot.xid, onApplied);
    }
    this.leader!.forward(sessionId, slot.xid, slot.type, encodeRequest(slot.req), link.authIds);
  }

  /** Learner: the leader answered `count` forwarded syncs, oldest first. */
  syncsDone(count: number): void {
    for (let i = 0; i < count; i++) this.forwardedSyncs.shift()?.();
  }

  /**
   * Leader: a request a learner forwarded, prepped as its session; the learner answers it when
   * the txn commits. A request for an unknown or closing session becomes an error txn, as
   * ZooKeeper's prep makes one for SESSIONEXPIRED.
   */
  prepForwarded(r: ForwardedRequest): void {
    const now = this.deps.now();
    const header = { sessionId: r.sessionId, cxid: r.cxid, zxid: 0, time: now, type: r.type };
    if (r.type === OpCode.createSession) {
      const timeOut = r.body.length >= 4 ? r.body.readInt32BE(0) : sessionTimeoutBounds(this.config).min;
      return this.submitTxn(this.prep.prepareCreateSession(r.sessionId, timeOut, this.zxids.next(), now), ignoreApplied);
    }
    if (!this.sessions.touch(r.sessionId, now)) {
      return this.submitTxn(errorTxn({ ...header, zxid: this.zxids.next() }, Err.SESSIONEXPIRED), ignoreApplied);
    }
    if (r.type === OpCode.closeSession) return this.closeSession(r.sessionId, r.cxid, ignoreApplied);
    const req = decodeForwarded(r);
    if (typeof req === 'number') return this.submitTxn(errorTxn({ ...header, zxid: this.zxids.next() }, req), ignoreApplied);
    this.submitTxn(this.prep.prepare(req, this.writeContext(r.sessionId, r.cxid, r.authIds)), ignoreApplied);
  }

  /**
   * A txn the quorum committed that this server did not prep (a learner's txns; a leader's log
   * replayed at start): applied like any other, it completes the request this server forwarded
   * with that session and cxid, and a closeSession ends the session's connection here.
   */
  applyReplicated(txn: Txn): void {
    this.applyCommitted({ txn, durable: true, onApplied: (applied) => this.completeForwarded(applied) });
  }

  private completeForwarded(applied: Applied): void {
    const { sessionId, cxid } = applied.txn.header;
    const done = this.forwarded.take(sessionId, cxid);
    if (done) done(applied);
    if (applied.txn.body.type !== OpCode.closeSession) return;
    const owner = this.owners.get(sessionId);
    this.owners.delete(sessionId);
    if (owner && !done) owner.close('session expired');
  }

  private writeContext(sessionId: bigint, cxid: number, authIds: readonly Id[] = []) {
    return { sessionId, cxid, zxid: this.zxids.next(), timeMs: this.deps.now(), authIds };
  }

  private finish(slot: Slot, zxid: number, err: number, body: unknown): void {
    slot.done = true;
    slot.zxid = zxid;
    slot.err = err;
    slot.body = err === Err.OK ? body : null;
  }

  /** Sends every reply at the head of the queue that is ready; a read waits for earlier writes. */
  private flush(link: ClientLink, state: LinkState): void {
    while (state.slots.length > 0) {
      const slot = state.slots[0] as Slot;
      if (!slot.done) {
        if (slot.write) {
          // A write held behind a read starts once it reaches the head (every read before it ran).
          // It completes later (the commit log never calls back from within append), unless the
          // disk has failed, which answers at once.
          if (!slot.started) this.startWrite(link, state, slot);
          if (!slot.done) return;
        } else {
          // A read waits while the client is not reading its replies (linkDrained resumes it),
          // unless a later write of the session is in flight: it runs now, before that applies.
          if (state.pendingWrites === 0 && link.backedUp()) return;
          state.waitingReads--;
          this.executeRead(link, state, slot);
        }
      }
      state.slots.shift();
      this.queuedSlots--;
      this.stats.recordLatency(this.deps.now() - slot.receivedAtMs, slot.type, slot.write);
      this.stats.recordReply(slot.type, slot.err, slot.req, slot.body);
      this.stats.packetsSent++;
      link.sendReply(slot.xid, slot.zxid, slot.err, slot.type, slot.body);
      if (slot.write && opSpec(slot.type)?.kind === 'session') {
        link.close('client closed the session');
        return;
      }
    }
  }

  /** The client has read its replies: reads held back by flush go on. */
  linkDrained(link: ClientLink): void {
    const state = this.links.get(link);
    if (state && !state.closing) this.flush(link, state);
  }

  private executeRead(link: ClientLink, state: LinkState, slot: Slot): void {
    const zxid = this.lastZxid();
    const local = RequestPipeline.localOps.get(slot.type);
    if (local !== undefined) {
      local(this, link, slot.req as never); // the handler was found by slot.type
      return this.finish(slot, zxid, Err.OK, null);
    }
    let body: unknown;
    try {
      body = executeRead(this.readContext(link, state), slot.req);
    } catch (err) {
      if (!(err instanceof KeeperError)) throw err;
      return this.finish(slot, zxid, err.code, null);
    }
    this.finish(slot, zxid, Err.OK, body);
  }

  /** Opcodes the pipeline answers itself, in line, without the tree's read handlers. */
  private static readonly localOps = new OpMap<LocalHandler<never>>({
    [OpCode.ping]: () => undefined,
    [OpCode.setWatches]: (server, link, req) => server.setWatches(link, req),
    [OpCode.setWatches2]: (server, link, req) => server.setWatches(link, req),
  } satisfies { [K in LocalOp]: LocalHandler<K> });

  private readContext(link: ClientLink, state: LinkState): ReadContext<ClientLink> {
    const ctx = state.readContext;
    if (ctx !== null && ctx.sessionId === link.sessionId) return ctx;
    state.readContext = { tree: this.tree, watches: this.watches, watcher: link, sessionId: link.sessionId, authIds: link.authIds, skipACL: this.config.skipACL, maxReplyBytes: this.config.juteMaxBuffer };
    return state.readContext;
  }

  /** Re-registers a reconnecting client's watches, firing those that missed a change meanwhile. */
  private setWatches(link: ClientLink, req: RequestOf<typeof OpCode.setWatches>): void {
    const rel = req.relativeZxid;
    for (const path of req.dataWatches) {
      const node = this.tree.getNode(path);
      if (!node) this.notify(link, EventType.NodeDeleted, path, null);
      else if (node.mzxid > rel) this.notify(link, EventType.NodeDataChanged, path, node.acl);
      else this.watches.addDataWatch(path, link);
    }
    for (const path of req.existWatches) {
      const node = this.tree.getNode(path);
      if (node) this.notify(link, EventType.NodeCreated, path, node.acl);
      else this.watches.addDataWatch(path, link);
    }
    for (const path of req.childWatches) {
      const node = this.tree.getNode(path);
      if (!node) this.notify(link, EventType.NodeDeleted, path, null);
      else if (node.pzxid > rel) this.notify(link, EventType.NodeChildrenChanged, path, node.acl);
      else this.watches.addChildWatch(path, link);
    }
    for (const path of req.persistentWatches) this.watches.addPersistent(path, link);
    for (const path of req.persistentRecursiveWatches) this.watches.addPersistentRecursive(path, link);
  }

  private refuseWrite(link: ClientLink): boolean {
    if (this.writeFailure === null) return false;
    link.close(`writes are disabled: ${this.writeFailure}`);
    return true;
  }

  // ---- commit and apply ----

  private submitTxn(txn: Txn, onApplied: (applied: Applied) => void): void {
    let bytes = encodeTxn(txn);
    if (bytes.length > MAX_RECORD_BYTES) {
      // Only a jute.maxbuffer near the record limit lets a request get here; the write fails
      // rather than the log. (Prep keeps closeSession txns within maxLoggableBytes.)
      txn = errorTxn(txn.header, Err.BADARGUMENTS);
      bytes = encodeTxn(txn);
    }
    const entry: CommitEntry = { txn, durable: false, onApplied };
    this.commitQueue.push(entry);
    this.deps.log.append(txn.header.zxid, bytes, (err) => {
      if (err !== null) return this.logFailed(entry, err);
      entry.durable = true;
      this.drainCommits();
    });
  }

  private drainCommits(): void {
    while (this.commitQueue.length > 0 && (this.commitQueue[0] as CommitEntry).durable) {
      const entry = this.commitQueue.shift() as CommitEntry;
      this.applyCommitted(entry);
    }
  }

  private applyCommitted(entry: CommitEntry): void {
    const { txn } = entry;
    const deletedAcls = this.aclsOfDeletions(txn);
    const result = replayTxn(this.tree, this.sessionTable, txn);
    assert(this.tree.lastProcessedZxid === txn.header.zxid, 'apply must advance lastProcessedZxid to the txn zxid');
    this.prep.committed(txn.header.zxid);
    this.deliver(result.events, deletedAcls);
    entry.onApplied({ zxid: txn.header.zxid, err: result.err, result, txn });
    this.deps.afterApply?.(this);
  }

  /**
   * The log refused a txn (disk full, I/O error): it and every txn queued after it fail with
   * NOTREADONLY (the server is read-only until the disk recovers), prep forgets their pending
   * changes, and writes are refused until the next tick retries the disk; reads go on.
   */
  private logFailed(entry: CommitEntry, err: unknown): void {
    const at = this.commitQueue.indexOf(entry);
    if (at === -1) return; // already failed along with an earlier txn
    const reason = err instanceof Error ? err.message : String(err);
    this.writeFailure = reason;
    // The next tick lets writes try the disk again.
    this.writeRetryAtMs = this.deps.now() + this.config.tickTime;
    this.deps.logger.error(`txn log failed; refusing writes, still serving reads: ${reason}`);
    const failed = this.commitQueue.splice(at);
    this.prep.reset();
    // Txns still queued before the failed one keep their zxids (a leader has proposed them).
    this.zxids.restartAfter(this.commitQueue.at(-1)?.txn.header.zxid ?? this.lastZxid());
    for (const entry of failed) {
      entry.onApplied({ zxid: this.lastZxid(), err: Err.NOTREADONLY, result: null, txn: entry.txn });
    }
  }

  /** Deleted nodes' ACLs, captured before apply, so NodeDeleted delivery can check READ. */
  private aclsOfDeletions(txn: Txn): Map<string, ACL[]> {
    if (RequestPipeline.deletions.get(txn.body.type) == null) return NO_DELETIONS;
    const acls = new Map<string, ACL[]>();
    this.rememberDeletions(txn.header.sessionId, txn.body, acls);
    return acls;
  }

  private rememberDeletions(sessionId: bigint, body: TxnBody, acls: Map<string, ACL[]>): void {
    RequestPipeline.deletions.get(body.type)?.(this, sessionId, body as never, acls); // found by body.type
  }

  /** The nodes each txn type deletes, keyed by the txn types; null: none. */
  private static readonly deletions = new OpMap<Deletions<never> | null>({
    [OpCode.delete]: (server, _sessionId, body, acls) => server.rememberAcl(acls, body.path),
    [OpCode.deleteContainer]: (server, _sessionId, body, acls) => server.rememberAcl(acls, body.path),
    [OpCode.closeSession]: (server, sessionId, body, acls) => {
      // apply removes the listed paths and then whatever ephemerals the session still has.
      for (const p of body.paths2Delete) server.rememberAcl(acls, p);
      for (const p of server.tree.ephemeralsOf(sessionId)) server.rememberAcl(acls, p);
    },
    [OpCode.multi]: (server, sessionId, body, acls) => {
      for (const sub of body.txns) server.rememberDeletions(sessionId, sub, acls);
    },
    [OpCode.create]: null,
    [OpCode.create2]: null,
    [OpCode.createContainer]: null,
    [OpCode.createTTL]: null,
    [OpCode.setData]: null,
    [OpCode.reconfig]: null,
    [OpCode.setACL]: null,
    [OpCode.check]: null,
    [OpCode.createSession]: null,
    [OpCode.error]: null,
  } satisfies { [K in TxnBody['type']]: Deletions<K> | null });

  private rememberAcl(acls: Map<string, ACL[]>, path: string): void {
    const node = this.tree.getNode(path);
    if (node) acls.set(path, node.acl);
  }

  private deliver(events: readonly { type: number; path: string }[], deletedAcls: Map<string, ACL[]>): void {
    for (const ev of events) {
      const watchers = this.watches.trigger(ev.type as EventType, ev.path);
      if (watchers.length === 0) continue;
      const acl = deletedAcls.get(ev.path) ?? this.tree.getNode(ev.path)?.acl ?? null;
      for (const link of watchers) this.notify(link, ev.type, ev.path, acl);
    }
  }

  /** Watch events go only to connections that may READ the node. */
  private notify(link: ClientLink, type: number, path: string, acl: ACL[] | null): void {
    if (acl && !checkAcl(acl, Perm.READ, link.authIds, { skipACL: this.config.skipACL })) return;
    link.sendEvent(type, path);
  }
}

/**
 * Learner: forwarded requests waiting for their committed txn, by session then cxid (a string
 * key per request cost a BigInt's decimal conversion on every forwarded write).
 */
class ForwardedWrites {
  private readonly bySession = new Map<bigint, Map<number, (applied: Applied) => void>>();

  set(sessionId: bigint, cxid: number, done: (applied: Applied) => void): void {
    let waiting = this.bySession.get(sessionId);
    if (waiting === undefined) {
      waiting = new Map();
      this.bySession.set(sessionId, waiting);
    }
    waiting.set(cxid, done);
  }

  /** The request waiting for (sessionId, cxid), no longer waiting; undefined if none is. */
  take(sessionId: bigint, cxid: number): ((applied: Applied) => void) | undefined {
    const waiting = this.bySession.get(sessionId);
    const done = waiting?.get(cxid);
    if (done === undefined) return undefined;
    waiting!.delete(cxid);
    if (waiting!.size === 0) this.bySession.delete(sessionId);
    return done;
  }

  clear(): void {
    this.bySession.clear();
  }
}

function ignoreApplied(): void {}

/** A request's bytes as a client sent them (without the header), for a REQUEST packet. */
function encodeRequest(req: Request): Buffer {
  const w = new JuteWriter(64);
  writeRequest(w, req);
  return Buffer.from(w.bytes());
}

/** A forwarded write's request, or the error code of the txn that answers it. */
function decodeForwarded(r: ForwardedRequest): Request | number {
  const spec = opSpec(r.type);
  if (spec === undefined || spec.kind !== 'write' || !spec.client) return Err.UNIMPLEMENTED;
  let req: Request;
  try {
    req = readRequest(r.type, new JuteReader(r.body, 0, r.body.length, 0x7fffffff));
  } catch {
    return Err.MARSHALLINGERROR;
  }
  if (!('ops' in req)) return req;
  const ops = normalizeMultiOps(req.type, req.ops);
  return ops === null ? Err.MARSHALLINGERROR : { type: req.type, ops };
}

/** Room a txn header and the log's record framing take beside the body. */
const RECORD_OVERHEAD_BYTES = 1024;

/** The largest closeSession body a txn-log record holds: jute.maxbuffer, within the record limit. */
function maxLoggableBytes(config: ServerConfig): number {
  return Math.min(config.juteMaxBuffer, MAX_RECORD_BYTES - RECORD_OVERHEAD_BYTES);
}

/** What aclsOfDeletions returns for txns that delete nothing; never written to. */
const NO_DELETIONS: Map<string, ACL[]> = new Map();

/** Builds a write's reply body from its apply result (and its txn body). */
type ReplyHandler = (r: ApplyResult, body: TxnBody) => unknown;

const pathReply: ReplyHandler = (r) => ({ path: r.path });
const createdReply: ReplyHandler = (r) => ({ path: r.path, stat: r.stat });
const statReply: ReplyHandler = (r) => ({ stat: r.stat });
const noReply: ReplyHandler = () => null;

/** Each logged opcode's reply, keyed by the opcode table's write and session ops. */
const replies = new OpMap<ReplyHandler>({
  [OpCode.create]: pathReply,
  [OpCode.create2]: createdReply,
  [OpCode.createContainer]: createdReply,
  [OpCode.createTTL]: createdReply,
  [OpCode.setData]: statReply,
  [OpCode.setACL]: statReply,
  [OpCode.multi]: (r, body) => ('txns' in body ? multiResults(r, body.txns) : []),
  [OpCode.delete]: noReply,
  [OpCode.deleteContainer]: noReply,
  [OpCode.check]: noReply,
  [OpCode.reconfig]: noReply,
  [OpCode.closeSession]: noReply,
  [OpCode.createSession]: noReply,
} satisfies { [K in OpOfKind<'write' | 'session'>]: ReplyHandler });

/** The reply body of a write, from its apply result. */
function replyBody(type: number, r: ApplyResult, body: TxnBody): unknown {
  return (replies.get(type) ?? noReply)(r, body);
}

/** In a failed multi every result is an error: 0 before the failing op, its code, then -2. */
function multiResults(r: ApplyResult, txns: readonly TxnBody[]): MultiResult[] {
  const subs = r.multi ?? [];
  const failed = subs.some((s) => s.err !== Err.OK);
  return subs.map((sub, i): MultiResult => {
    const subTxn = txns[i] as TxnBody;
    if (failed) return { type: OpCode.error, err: sub.err, body: null };
    const type = opSpec(subTxn.type)?.multiResultType ?? subTxn.type;
    return { type, err: Err.OK, body: replyBody(type, sub, subTxn) };
  });
}
