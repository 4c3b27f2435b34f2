/**
 * Prep: turns a write request into an idempotent txn, validating it against the tree plus the
 * writes still in flight (ZooKeeper's outstanding changes), so a second create of the same path
 * fails before the first one commits. Failures become error txns: like ZooKeeper, a failed write
 * still takes a zxid and is logged.
 */
import { checkAcl, fixupAcl } from '../acl/index.js';
import { CreateMode, DEFAULT_MAX_BUFFER, Err, OpCode } from '../jute/constants.js';
import { OpMap, Ops, type WriteOp } from '../jute/ops.js';
import type { ACL, Id } from '../jute/records.js';
import type { Request, RequestOf } from '../jute/requests.js';
import type { Txn, TxnBody, TxnHeader } from '../jute/txn.js';
import { javaHashSetClone } from '../lib/javahash.js';
import { parentOf, validatePath } from '../lib/paths.js';
import type { DataTree } from '../tree/index.js';
import { closeSessionEntryBytes, SPECIAL_PATHS } from '../tree/datatree.js';
import { CONTAINER_OWNER, MAX_TTL, kindOfOwner, ttlOwner } from '../tree/znode.js';

/** What ZooKeeper calls EphemeralType.NORMAL: owned by a session (not a container or TTL marker). */
export function isSessionOwner(owner: bigint, extendedTypesEnabled: boolean): boolean {
  return kindOfOwner(owner, extendedTypesEnabled) === 'ephemeral';
}

/** A failed write as ZooKeeper logs it: the request's header, typed error, and the error code. */
export function errorTxn(header: TxnHeader, err: number): Txn {
  return { header: { ...header, type: OpCode.error }, body: { type: OpCode.error, err } };
}

export class PrepError extends Error {
  constructor(readonly code: number, readonly path = '') {
    // A failed check is an answer, caught in prepare: capturing a stack would cost more than the check.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`prep failed with ${code} on ${path}`);
    Error.stackTraceLimit = limit;
  }
}

/** An op that fails its whole request, not just its slot in a multi (ZooKeeper: a non-Keeper exception). */
class WholeRequestError extends PrepError {}

/** The state of one node as prep sees it: the tree's node updated by writes in flight. */
interface ChangeRecord {
  zxid: number;
  path: string;
  /** null when the pending change deletes the node. */
  node: PendingNode | null;
}

interface PendingNode {
  version: number;
  storedCversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  childCount: number;
  dataLength: number;
  acl: ACL[];
}

export interface PrepOptions {
  extendedTypesEnabled: boolean;
  enforceQuota: boolean;
  skipACL: boolean;
  /**
   * Most bytes a session's ephemeral paths may take in its CloseSessionTxn (the vector, count
   * included). An ephemeral create past it fails with QUOTAEXCEEDED, so closing or expiring a
   * session always makes a txn the log can hold and a server can read back. Default: 0xfffff,
   * ZooKeeper's jute.maxbuffer.
   */
  maxCloseSessionBytes?: number;
}

/** A CloseSessionTxn's vector is its 4-byte count plus one entry per path. */
const CLOSE_SESSION_VECTOR_BYTES = 4;

/** An ephemeral create in flight, counted against its session until it commits or fails. */
interface PendingEphemeral {
  zxid: number;
  sessionId: bigint;
  bytes: number;
}

/** Makes the txn body of one write opcode (or throws PrepError). */
type PrepHandler<K extends WriteOp> = (prep: Prep, req: RequestOf<K>, ctx: WriteContext) => TxnBody;

export interface WriteContext {
  sessionId: bigint;
  cxid: number;
  zxid: number;
  timeMs: number;
  authIds: readonly Id[];
}

export class Prep {
  private readonly pending = new Map<string, ChangeRecord>();
  /** Change records in zxid order; those before `head` are committed and only await compaction. */
  private readonly outstanding: ChangeRecord[] = [];
  private head = 0;
  /** Ephemeral creates in flight, in zxid order, and their bytes per session. */
  private readonly pendingEphemerals: PendingEphemeral[] = [];
  private readonly pendingEphemeralBytes = new Map<bigint, number>();
  private readonly maxCloseSessionBytes: number;

  constructor(
    private readonly tree: DataTree,
    private readonly options: PrepOptions,
  ) {
    this.maxCloseSessionBytes = options.maxCloseSessionBytes ?? DEFAULT_MAX_BUFFER;
  }

  /** Builds the txn for a write request; never throws a KeeperException, returns an error txn. */
  prepare(req: Request, ctx: WriteContext): Txn {
    const header = { sessionId: ctx.sessionId, cxid: ctx.cxid, zxid: ctx.zxid, time: ctx.timeMs, type: req.type as number };
    try {
      return { header, body: this.prepareOp(req, ctx) };
    } catch (err) {
      if (!(err instanceof PrepError)) throw err;
      return errorTxn(header, err.code);
    }
  }

  prepareCreateSession(sessionId: bigint, timeOut: number, zxid: number, timeMs: number): Txn {
    return {
      header: { sessionId, cxid: 0, zxid, time: timeMs, type: OpCode.createSession },
      body: { type: OpCode.createSession, timeOut },
    };
  }

  /**
   * The close deletes the session's ephemerals, including ones whose creates are still in flight,
   * listed in the order ZooKeeper's clone of its HashSet yields them (it fixes the event order).
   */
  prepareCloseSession(sessionId: bigint, cxid: number, zxid: number, timeMs: number): Txn {
    const paths = javaHashSetClone(this.tree.ephemeralsOf(sessionId));
    for (let i = this.head; i < this.outstanding.length; i++) {
      const c = this.outstanding[i] as ChangeRecord;
      if (c.node === null) paths.delete(c.path);
      else if (c.node.ephemeralOwner === sessionId) paths.add(c.path);
    }
    const paths2Delete = paths.ordered();
    let listBytes = CLOSE_SESSION_VECTOR_BYTES;
    for (const path of paths2Delete) {
      const parentPath = parentOf(path);
      const parent = this.recordOrNull(parentPath);
      if (parent) this.add(zxid, parentPath, changed(parent, { childCount: parent.childCount - 1 }));
      this.add(zxid, path, null);
      listBytes += closeSessionEntryBytes(path);
    }
    // A session from before the create-time limit (or a lowered jute.maxbuffer) may own more
    // than a txn can list. The list is then left out, as ZooKeeper does with
    // closeSessionTxn.enabled=false: apply removes the session's remaining ephemerals anyway.
    const listed = listBytes <= this.maxCloseSessionBytes ? paths2Delete : [];
    return {
      header: { sessionId, cxid, zxid, time: timeMs, type: OpCode.closeSession },
      body: { type: OpCode.closeSession, paths2Delete: listed },
    };
  }

  /** Drops the change records of every txn up to `zxid`, which the tree now reflects. */
  committed(zxid: number): void {
    const list = this.outstanding;
    while (this.head < list.length && (list[this.head] as ChangeRecord).zxid <= zxid) {
      const c = list[this.head++] as ChangeRecord;
      if (this.pending.get(c.path) === c) this.pending.delete(c.path);
    }
    // Most commits have no ephemeral create in flight: no closure for them.
    if (this.pendingEphemerals.length > 0) this.dropPendingEphemerals((e) => e.zxid <= zxid);
    // Compact now and then rather than shifting the array once per record.
    if (this.head === list.length) {
      list.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= list.length) {
      list.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Forgets every pending change: the txns behind them will never be applied. */
  reset(): void {
    this.pending.clear();
    this.outstanding.length = 0;
    this.head = 0;
    this.pendingEphemerals.length = 0;
    this.pendingEphemeralBytes.clear();
  }

  pendingCount(): number {
    return this.outstanding.length - this.head;
  }

  /** Each write opcode's prep, from the opcode table's write kind: a missing one does not compile. */
  private static readonly handlers = new OpMap<PrepHandler<never>>({
    [OpCode.create]: (p, req, ctx) => p.prepareCreate(req, ctx),
    [OpCode.create2]: (p, req, ctx) => p.prepareCreate(req, ctx),
    [OpCode.createContainer]: (p, req, ctx) => p.prepareCreate(req, ctx),
    [OpCode.createTTL]: (p, req, ctx) => p.prepareCreate(req, ctx),
    [OpCode.delete]: (p, req, ctx) => p.prepareDelete(req, ctx),
    [OpCode.deleteContainer]: (p, req, ctx) => p.prepareDeleteContainer(req.path, ctx.zxid),
    [OpCode.setData]: (p, req, ctx) => p.prepareSetData(req, ctx),
    [OpCode.setACL]: (p, req, ctx) => p.prepareSetAcl(req, ctx),
    [OpCode.check]: (p, req, ctx) => p.prepareCheck(req, ctx),
    [OpCode.multi]: (p, req, ctx) => p.prepareMulti(req, ctx),
    // Standalone with reconfigEnabled=false, as ZooKeeper's default.
    [OpCode.reconfig]: () => {
      throw new PrepError(Err.RECONFIGDISABLED);
    },
  } satisfies { [K in WriteOp]: PrepHandler<K> });

  private prepareOp(req: Request, ctx: WriteContext): TxnBody {
    const handler = Prep.handlers.get(req.type);
    if (handler === undefined) throw new PrepError(Err.UNIMPLEMENTED);
    return handler(this, req as never, ctx); // the handler was found by req.type
  }

  private prepareCreate(req: RequestOf<typeof OpCode.create | typeof OpCode.create2 | typeof OpCode.createContainer | typeof OpCode.createTTL>, ctx: WriteContext): TxnBody {
    if (Number.isNaN(req.ttl)) throw new WholeRequestError(Err.MARSHALLINGERROR, req.path);
    const mode = req.flags;
    if (mode < CreateMode.PERSISTENT || mode > CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL) throw new PrepError(Err.BADARGUMENTS, req.path);
    const isTtl = mode === CreateMode.PERSISTENT_WITH_TTL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
    const isSequential = mode === CreateMode.PERSISTENT_SEQUENTIAL || mode === CreateMode.EPHEMERAL_SEQUENTIAL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
    const isEphemeral = mode === CreateMode.EPHEMERAL || mode === CreateMode.EPHEMERAL_SEQUENTIAL;
    if (isTtl && !this.options.extendedTypesEnabled) throw new PrepError(Err.UNIMPLEMENTED, req.path);
    if (isTtl ? !(req.ttl > 0 && req.ttl <= MAX_TTL) : req.ttl >= 0) throw new PrepError(Err.BADARGUMENTS, req.path);
    let path = req.path;
    const parentPath = parentOrBadArguments(path);
    const acl = this.fixup(req.acl, ctx.authIds, path);
    const parent = this.record(parentPath);
    this.requirePerm(parent.acl, Ops.create.perm, ctx.authIds);
    if (isSequential) path += formatSequence(parent.storedCversion);
    if (validatePath(path) !== null) throw new PrepError(Err.BADARGUMENTS, path);
    if (this.recordOrNull(path)) throw new PrepError(Err.NODEEXISTS, path);
    if (isSessionOwner(parent.ephemeralOwner, this.options.extendedTypesEnabled)) throw new PrepError(Err.NOCHILDRENFOREPHEMERALS, path);
    const dataLength = req.data?.length ?? 0;
    if (this.options.enforceQuota && !this.tree.checkQuota(path, dataLength, 1)) throw new PrepError(Err.QUOTAEXCEEDED, path);
    const parentCVersion = parent.storedCversion + 1;
    const owner = mode === CreateMode.CONTAINER ? CONTAINER_OWNER : isTtl ? ttlOwner(req.ttl) : isEphemeral ? ctx.sessionId : 0n;
    if (isEphemeral) this.reserveEphemeral(ctx, path);
    this.add(ctx.zxid, parentPath, changed(parent, { childCount: parent.childCount + 1, storedCversion: parentCVersion }));
    this.add(ctx.zxid, path, pendingNode(0, 0, 0, owner, 0, dataLength, acl));
    const base = { path, data: req.data, acl, parentCVersion };
    if (req.type === OpCode.createContainer) return { type: OpCode.createContainer, ...base };
    if (req.type === OpCode.createTTL) return { type: OpCode.createTTL, ...base, ttl: req.ttl };
    return { type: req.type, ...base, ephemeral: isEphemeral };
  }

  /**
   * Counts an ephemeral create against its session's CloseSessionTxn: what the tree holds, what
   * is in flight, and this path must fit. Deletes in flight are not subtracted (a brief
   * overcount, never an undercount).
   */
  private reserveEphemeral(ctx: WriteContext, path: string): void {
    const bytes = closeSessionEntryBytes(path);
    const held = this.tree.ephemeralBytesOf(ctx.sessionId) + (this.pendingEphemeralBytes.get(ctx.sessionId) ?? 0);
    if (CLOSE_SESSION_VECTOR_BYTES + held + bytes > this.maxCloseSessionBytes) throw new PrepError(Err.QUOTAEXCEEDED, path);
    this.pendingEphemerals.push({ zxid: ctx.zxid, sessionId: ctx.sessionId, bytes });
    this.pendingEphemeralBytes.set(ctx.sessionId, (this.pendingEphemeralBytes.get(ctx.sessionId) ?? 0) + bytes);
  }

  /** Forgets in-flight ephemeral creates from the oldest on while `done` holds. */
  private dropPendingEphemerals(done: (e: PendingEphemeral) => boolean): void {
    const list = this.pendingEphemerals;
    let n = 0;
    while (n < list.length && done(list[n] as PendingEphemeral)) {
      const e = list[n++] as PendingEphemeral;
      this.releaseEphemeral(e);
    }
    if (n > 0) list.splice(0, n);
  }

  private prepareDelete(req: RequestOf<typeof OpCode.delete>, ctx: WriteContext): TxnBody {
    const parentPath = this.parentForDelete(req.path);
    const parent = this.record(parentPath);
    this.requirePerm(parent.acl, Ops.delete.perm, ctx.authIds);
    const node = this.record(req.path);
    checkVersion(node.version, req.version, req.path);
    if (node.childCount > 0) throw new PrepError(Err.NOTEMPTY, req.path);
    this.add(ctx.zxid, parentPath, changed(parent, { childCount: parent.childCount - 1 }));
    this.add(ctx.zxid, req.path, null);
    return { type: OpCode.delete, path: req.path };
  }

  private prepareDeleteContainer(path: string, zxid: number): TxnBody {
    const parentPath = this.parentForDelete(path);
    const node = this.record(path);
    if (node.childCount > 0) throw new PrepError(Err.NOTEMPTY, path);
    if (isSessionOwner(node.ephemeralOwner, this.options.extendedTypesEnabled)) throw new PrepError(Err.BADVERSION, path);
    const parent = this.record(parentPath);
    this.add(zxid, parentPath, changed(parent, { childCount: parent.childCount - 1 }));
    this.add(zxid, path, null);
    return { type: OpCode.deleteContainer, path };
  }

  private prepareSetData(req: RequestOf<typeof OpCode.setData>, ctx: WriteContext): TxnBody {
    if (validatePath(req.path) !== null) throw new PrepError(Err.BADARGUMENTS, req.path);
    const node = this.record(req.path);
    this.requirePerm(node.acl, Ops.setData.perm, ctx.authIds);
    const dataLength = req.data?.length ?? 0;
    if (this.options.enforceQuota && !this.tree.checkQuota(req.path, dataLength - node.dataLength, 0)) {
      throw new PrepError(Err.QUOTAEXCEEDED, req.path);
    }
    const version = checkVersion(node.version, req.version, req.path);
    this.add(ctx.zxid, req.path, changed(node, { version, dataLength }));
    return { type: OpCode.setData, path: req.path, data: req.data, version };
  }

  private prepareSetAcl(req: RequestOf<typeof OpCode.setACL>, ctx: WriteContext): TxnBody {
    if (validatePath(req.path) !== null) throw new PrepError(Err.BADARGUMENTS, req.path);
    const acl = this.fixup(req.acl, ctx.authIds, req.path);
    const node = this.record(req.path);
    this.requirePerm(node.acl, Ops.setACL.perm, ctx.authIds);
    const aversion = checkVersion(node.aversion, req.version, req.path);
    this.add(ctx.zxid, req.path, changed(node, { aversion, acl }));
    return { type: OpCode.setACL, path: req.path, acl, version: aversion };
  }

  private prepareCheck(req: RequestOf<typeof OpCode.check>, ctx: WriteContext): TxnBody {
    if (validatePath(req.path) !== null) throw new PrepError(Err.BADARGUMENTS, req.path);
    const node = this.record(req.path);
    this.requirePerm(node.acl, Ops.check.perm, ctx.authIds);
    return { type: OpCode.check, path: req.path, version: checkVersion(node.version, req.version, req.path) };
  }

  /** All ops share one zxid; after the first failure the rest become RUNTIMEINCONSISTENCY. */
  private prepareMulti(req: RequestOf<typeof OpCode.multi>, ctx: WriteContext): TxnBody {
    const saved = this.savePending(req.ops);
    const txns: TxnBody[] = [];
    let failed = false;
    for (const op of req.ops) {
      if (failed) {
        txns.push({ type: OpCode.error, err: Err.RUNTIMEINCONSISTENCY });
        continue;
      }
      try {
        if (op.type === OpCode.multi) throw new PrepError(Err.UNIMPLEMENTED); // multis do not nest
        txns.push(this.prepareOp(op, ctx));
      } catch (err) {
        if (err instanceof WholeRequestError) this.rollback(ctx.zxid, saved);
        if (!(err instanceof PrepError) || err instanceof WholeRequestError) throw err;
        failed = true;
        txns.push({ type: OpCode.error, err: err.code });
        this.rollback(ctx.zxid, saved);
      }
    }
    return { type: OpCode.multi, txns };
  }

  private savePending(ops: readonly Request[]): Map<string, ChangeRecord> {
    const saved = new Map<string, ChangeRecord>();
    for (const op of ops) {
      if (!('path' in op)) continue;
      this.keepPending(saved, op.path);
      this.keepPending(saved, parentOf(op.path));
    }
    return saved;
  }

  private keepPending(saved: Map<string, ChangeRecord>, path: string): void {
    const c = this.pending.get(path);
    if (c) saved.set(path, c);
  }

  private rollback(zxid: number, saved: Map<string, ChangeRecord>): void {
    this.dropNewestPendingEphemerals(zxid);
    while (this.outstanding.length > this.head && (this.outstanding[this.outstanding.length - 1] as ChangeRecord).zxid === zxid) {
      const c = this.outstanding.pop() as ChangeRecord;
      if (this.pending.get(c.path) === c) this.pending.delete(c.path);
    }
    for (const [path, c] of saved) this.pending.set(path, c);
  }

  private releaseEphemeral(e: PendingEphemeral): void {
    const left = (this.pendingEphemeralBytes.get(e.sessionId) ?? 0) - e.bytes;
    if (left > 0) this.pendingEphemeralBytes.set(e.sessionId, left);
    else this.pendingEphemeralBytes.delete(e.sessionId);
  }

  /** Forgets the in-flight ephemeral creates of a multi being rolled back (the newest ones). */
  private dropNewestPendingEphemerals(zxid: number): void {
    const list = this.pendingEphemerals;
    while (list.length > 0 && (list[list.length - 1] as PendingEphemeral).zxid === zxid) {
      const e = list.pop() as PendingEphemeral;
      this.releaseEphemeral(e);
    }
  }

  /** ZooKeeper's DataTree.isSpecialPath: deleting one of these is BADARGUMENTS, before any other check. */
  private parentForDelete(path: string): string {
    if (SPECIAL_PATHS.has(path)) throw new PrepError(Err.BADARGUMENTS, path);
    return parentOrBadArguments(path);
  }

  private fixup(acl: readonly ACL[], authIds: readonly Id[], path: string): ACL[] {
    const fixed = fixupAcl(acl, authIds);
    if (fixed === null) throw new PrepError(Err.INVALIDACL, path);
    return fixed;
  }

  private requirePerm(acl: readonly ACL[], perm: number, authIds: readonly Id[]): void {
    if (!checkAcl(acl, perm, authIds, { skipACL: this.options.skipACL })) throw new PrepError(Err.NOAUTH);
  }

  private add(zxid: number, path: string, node: PendingNode | null): void {
    const c: ChangeRecord = { zxid, path, node };
    this.outstanding.push(c);
    this.pending.set(path, c);
  }

  private record(path: string): PendingNode {
    const node = this.recordOrNull(path);
    if (!node) throw new PrepError(Err.NONODE, path);
    return node;
  }

  private recordOrNull(path: string): PendingNode | null {
    const c = this.pending.get(path);
    if (c) return c.node;
    const n = this.tree.getNode(path);
    if (!n) return null;
    return pendingNode(n.version, n.storedCversion, n.aversion, n.ephemeralOwner, n.numChildren, n.dataLength, n.acl);
  }
}

/** Every PendingNode is built here, so they all share one shape (object spreads made several). */
function pendingNode(
  version: number,
  storedCversion: number,
  aversion: number,
  ephemeralOwner: bigint,
  childCount: number,
  dataLength: number,
  acl: ACL[],
): PendingNode {
  return { version, storedCversion, aversion, ephemeralOwner, childCount, dataLength, acl };
}

/** A copy of `n` with some fields replaced. */
function changed(n: PendingNode, c: Partial<PendingNode>): PendingNode {
  return pendingNode(
    c.version ?? n.version,
    c.storedCversion ?? n.storedCversion,
    c.aversion ?? n.aversion,
    c.ephemeralOwner ?? n.ephemeralOwner,
    c.childCount ?? n.childCount,
    c.dataLength ?? n.dataLength,
    c.acl ?? n.acl,
  );
}

/** ZooKeeper's getParentPathAndValidate: BADARGUMENTS for a path with no '/' or a NUL. */
function parentOrBadArguments(path: string): string {
  if (!path.includes('/') || path.includes('\0')) throw new PrepError(Err.BADARGUMENTS, path);
  return parentOf(path);
}

function checkVersion(current: number, expected: number, path: string): number {
  if (expected !== -1 && expected !== current) throw new PrepError(Err.BADVERSION, path);
  return (current + 1) | 0;
}

/** String.format("%010d") of a signed int: zero-padded to ten digits, sign first. */
export function formatSequence(n: number): string {
  return n < 0 ? '-' + String(-n).padStart(9, '0') : String(n).padStart(10, '0');
}
