/**
 * The request pipeline of one server: session check -> prep -> txn -> commit log -> apply ->
 * watches -> reply, with per-session FIFO replies. It owns no sockets, files or timers: the
 * network layer calls it with decoded requests and a link to answer on; time comes from `now()`.
 */
import { checkAcl } from '../acl/index.js';
import { Err, EventType, OpCode, Perm } from '../jute/constants.js';
import type { ACL, ConnectRequest, Id } from '../jute/records.js';
import { isClientOp, isWriteOp, OpMap, opSpec, type LocalOp, type OpOfKind } from '../jute/ops.js';
import type { MultiResult, Request, RequestOf } from '../jute/requests.js';
import { encodeTxn, type Txn, type TxnBody, type TxnOf } from '../jute/txn.js';
import { assert } from '../lib/assert.js';
import { normalizeMultiOps } from '../prep/multi.js';
import { errorTxn, Prep } from '../prep/prep.js';
import { ZxidAllocator } from '../prep/zxids.js';
import { SessionPasswords, type SessionSecret } from '../sessions/password.js';
import { SessionTracker, type RandomBytes } from '../sessions/tracker.js';
import { replayTxn, type SessionTable } from '../sessions/replay.js';
import { MAX_RECORD_BYTES } from '../persistence/logformat.js';
import { DataTree, type ApplyResult } from '../tree/index.js';
import { WatchRegistry } from '../watches/index.js';
import type { CommitLog } from './commitlog.js';
import { sessionTimeoutBounds, type ServerConfig } from '../config/config.js';
import { hex } from '../lib/hex.js';
import type { Logger } from '../lib/log.js';
import { executeRead, type ReadContext } from './reads.js';
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



/** Records the ACLs of the nodes a txn body of type K will delete. */
type Deletions<K extends TxnBody['type']> = (server: RequestPipeline, sessionId: bigint, body: TxnOf<K>, acls: Map<string, ACL[]>) => void;

/** Answers one of the pipeline's own opcodes (ping, setWatches); the reply has no body. */
type LocalHandler<K extends LocalOp> = (server: RequestPipeline, link: ClientLink, req: RequestOf<K>) => void;

export class RequestPipeline {
  readonly tree: DataTree;
  readonly watches = new WatchRegistry<ClientLink>();
  readonly sessions: SessionTracker;
  readonly stats = new ServerStats();
  private readonly prep: Prep;
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
    this.prep = new Prep(this.tree, {
      extendedTypesEnabled: config.extendedTypesEnabled,
      enforceQuota: config.enforceQuota,
      skipACL: config.skipACL,
      maxCloseSessionBytes: maxLoggableBytes(config),
    });
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

  // ---- connections and sessions ----

  connect(link: ClientLink, req: ConnectRequest): void {
    this.stats.count('connection_request_count');
    this.links.set(link, { slots: [], pendingWrites: 0, waitingReads: 0, closing: false, readContext: null });
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
    const txn = this.prep.prepareCreateSession(sessionId, timeOut, this.zxids.next(), this.deps.now());
    this.submitTxn(txn, (applied) => {
      if (applied.result === null) {
        this.sessions.release(sessionId);
        link.close('the txn log refused the session');
        return;
      }
      if (!this.links.has(link)) return; // the client left before its session was made
      this.bindSession(link, sessionId);
      this.deps.logger.info(`session ${hex(sessionId)} created for ${link.remoteAddress} with timeout ${timeOut} ms`);
      link.sendConnectResponse(timeOut, sessionId, this.passwords.passwordFor(sessionId));
    });
  }

  /**
   * A client returning to its session. A wrong password gets ZooKeeper's "session expired" reply
   * and touches nothing: the session, its current connection, ephemerals and watches stay.
   */
  private reopenSession(link: ClientLink, req: ConnectRequest, timeOut: number): void {
    const session = this.sessions.get(req.sessionId);
    const passwordOk = this.passwords.matches(req.sessionId, req.passwd);
    if (!session || session.closing || !passwordOk) {
      const why = !passwordOk && session ? 'bad password' : 'expired';
      this.deps.logger.info(`refusing to reopen session ${hex(req.sessionId)} for ${link.remoteAddress}: ${why}`);
      link.sendConnectResponse(0, 0n, Buffer.alloc(16));
      link.close(`session ${why}`);
      return;
    }
    session.timeoutMs = timeOut;
    this.sessions.touch(req.sessionId, this.deps.now());
    const previous = this.owners.get(req.sessionId);
    if (previous && previous !== link) previous.close('session moved to another connection');
    this.bindSession(link, req.sessionId);
    this.deps.logger.info(`session ${hex(req.sessionId)} reopened by ${link.remoteAddress}`);
    link.sendConnectResponse(timeOut, req.sessionId, this.passwords.passwordFor(req.sessionId));
  }

  private bindSession(link: ClientLink, sessionId: bigint): void {
    link.sessionId = sessionId;
    this.owners.set(sessionId, link);
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
    for (const id of this.sessions.expire(now)) {
      this.deps.logger.info(`session ${hex(id)} expired`);
      this.closeSession(id, 0, null);
    }
    if (now - this.lastContainerCheckMs >= this.config.containerCheckIntervalMs) {
      this.lastContainerCheckMs = now;
      this.removeContainers(now);
    }
  }

  expireSession(sessionId: bigint): boolean {
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
    if (!this.sessions.touch(link.sessionId, this.deps.now())) {
      link.close('session expired');
      return;
    }
    if (!isClientOp(type)) return this.failRequest(link, state, xid, type, Err.UNIMPLEMENTED);
    if ('ops' in req) {
      const ops = normalizeMultiOps(req.type, req.ops);
      if (ops === null) return this.failRequest(link, state, xid, type, Err.MARSHALLINGERROR);
      req = { type: req.type, ops };
    }
    const write = isWriteOp(type);
    const slot: Slot = { xid, type, req, receivedAtMs: this.deps.now(), write, started: false, done: false, zxid: 0, err: 0, body: null };
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
    this.sessions.touch(link.sessionId, this.deps.now());
    this.failRequest(link, state, xid, type, err);
  }

  private failRequest(link: ClientLink, state: LinkState, xid: number, type: number, err: number): void {
    const spec = opSpec(type);
    const write = spec !== undefined && spec.kind === 'write' && spec.client;
    const slot: Slot = { xid, type, req: { type: OpCode.ping }, receivedAtMs: this.deps.now(), write, started: true, done: false, zxid: 0, err: 0, body: null };
    state.slots.push(slot);
    this.queuedSlots++;
    if (write && this.writeFailure === null) {
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
    const reply = executeRead(this.readContext(link, state), slot.req);
    this.finish(slot, zxid, reply.err, reply.body);
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
    this.zxids.restartAfter(this.lastZxid());
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
