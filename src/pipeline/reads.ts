/**
 * Read requests, answered from the tree as it stands: ZooKeeper's FinalRequestProcessor for
 * operations that need no txn. Permission checks and watch registration happen here.
 */
import { checkAcl, type CheckAclOptions } from '../acl/index.js';
import { encodeStringVector } from '../jute/binary.js';
import { AddWatchMode, Err, OpCode, Perm, WatcherType } from '../jute/constants.js';
import { OpMap, Ops, type ReadOp } from '../jute/ops.js';
import type { ACL, Id, Stat } from '../jute/records.js';
import type { MultiResult, Request, RequestOf } from '../jute/requests.js';
import { javaConcurrentKeySetOrder, javaHashSetClone, javaIdHash } from '../lib/javahash.js';
import type { DataTree } from '../tree/index.js';
import type { WatchRegistry } from '../watches/index.js';

export class KeeperError extends Error {
  constructor(readonly code: number) {
    // An error reply, caught by the caller: capturing a stack would cost more than the read.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`keeper error ${code}`);
    Error.stackTraceLimit = limit;
  }
}

export interface ReadContext<W> {
  tree: DataTree;
  watches: WatchRegistry<W>;
  watcher: W;
  sessionId: bigint;
  authIds: readonly Id[];
  skipACL: boolean;
  /** Largest reply a multiRead may make (jute.maxbuffer: a client cannot read a larger frame). */
  maxReplyBytes: number;
}

/**
 * Answers a read: its reply body, or a KeeperError with the code to answer. The caller catches
 * it, so a read allocates no reply record of its own.
 */
export function executeRead<W>(ctx: ReadContext<W>, req: Request): unknown {
  const handler = handlers.get(req.type);
  if (handler === undefined) throw new KeeperError(Err.UNIMPLEMENTED);
  return handler(ctx as ReadContext<unknown>, req as never); // the handler was found by req.type
}

/** Answers one read opcode: its reply body, or a KeeperError. */
type ReadHandler<K extends ReadOp> = (ctx: ReadContext<unknown>, req: RequestOf<K>) => unknown;

/** Each read opcode's answer, keyed by the opcode table's read ops: a missing one does not compile. */
const handlers = new OpMap<ReadHandler<never>>({
  [OpCode.exists]: exists,
  [OpCode.getData]: (ctx, req) => getData(ctx, req.path, req.watch),
  [OpCode.getChildren]: (ctx, req) => ({ children: encodedChildren(ctx, req.path, req.watch) }),
  [OpCode.getChildren2]: (ctx, req) => {
    const children = encodedChildren(ctx, req.path, req.watch);
    return { children, stat: statOf(ctx, req.path) };
  },
  [OpCode.getACL]: (ctx, req) => getAcl(ctx, req.path),
  [OpCode.getAllChildrenNumber]: (ctx, req) => {
    requireReadable(ctx, req.path, Ops.getAllChildrenNumber.perm);
    // ZooKeeper counts the keys under `path + "/"`: for "" that includes the root itself.
    if (req.path === '') return { totalNumber: ctx.tree.countDescendants('/') + 1 };
    return { totalNumber: ctx.tree.countDescendants(req.path) };
  },
  [OpCode.sync]: (_ctx, req) => ({ path: req.path }),
  [OpCode.multiRead]: multiRead,
  [OpCode.addWatch]: (ctx, req) => {
    addWatch(ctx, req.path, req.mode);
    return { err: 0 };
  },
  [OpCode.checkWatches]: (ctx, req) => {
    // ZooKeeper walks the path's parents here and fails on a non-empty path with no '/'.
    if (req.path !== '' && !req.path.includes('/')) throw new KeeperError(Err.MARSHALLINGERROR);
    if (!ctx.watches.hasWatch(req.path, ctx.watcher, req.watcherType)) throw new KeeperError(Err.NOWATCHER);
    return null;
  },
  [OpCode.removeWatches]: (ctx, req) => {
    if (!ctx.watches.removeWatches(req.path, ctx.watcher, req.watcherType)) throw new KeeperError(Err.NOWATCHER);
    return null;
  },
  [OpCode.getEphemerals]: (ctx, req) => ({ ephemerals: ephemerals(ctx, req.path) }),
  // In the order of ZooKeeper's per-connection set of ids (a ConcurrentHashMap key set).
  [OpCode.whoAmI]: (ctx) => ({ clientInfo: javaConcurrentKeySetOrder(ctx.authIds, (id) => javaIdHash(id.scheme, id.id)).map(clientInfo) }),
} satisfies { [K in ReadOp]: ReadHandler<K> });

function exists<W>(ctx: ReadContext<W>, req: RequestOf<typeof OpCode.exists>): unknown {
  if (req.path.includes('\0')) throw new KeeperError(Err.BADARGUMENTS);
  const node = nodeAt(ctx, req.path);
  if (node) requirePerm(ctx, node.acl, Ops.exists.perm);
  // exists leaves a watch even on a missing node: that is how one waits for a create.
  if (req.watch) watchOrRefuse(ctx.watches.addDataWatch(req.path, ctx.watcher));
  if (!node) throw new KeeperError(Err.NONODE);
  return { stat: ctx.tree.statOf(node) };
}

/** The data goes out as the tree stores it (see StoredData); the codec writes it without a copy. */
function getData<W>(ctx: ReadContext<W>, path: string, watch: boolean): { data: string | Buffer | null; stat: Stat } {
  const node = requireReadable(ctx, path, Ops.getData.perm);
  if (watch) watchOrRefuse(ctx.watches.addDataWatch(path, ctx.watcher));
  return { data: node.stored, stat: ctx.tree.statOf(node) };
}

function getChildren<W>(ctx: ReadContext<W>, path: string, watch: boolean): string[] {
  return childrenRead(ctx, path, watch).childNames();
}

/** The child list already in wire form (see DataTree.encodedChildren); the reply copies it. */
function encodedChildren<W>(ctx: ReadContext<W>, path: string, watch: boolean): EncodedChildren {
  const node = childrenRead(ctx, path, watch);
  return new EncodedChildren(ctx.tree.encodedChildren(node, encodeStringVector));
}

/** The node whose children are read, after the READ check, with the child watch left if asked. */
function childrenRead<W>(ctx: ReadContext<W>, path: string, watch: boolean) {
  const node = requireReadable(ctx, path, Ops.getChildren.perm);
  if (watch) watchOrRefuse(ctx.watches.addChildWatch(path, ctx.watcher));
  return node;
}

/** A getChildren(2) reply's `children` vector, encoded. */
export class EncodedChildren {
  constructor(readonly bytes: Buffer) {}
}

function statOf<W>(ctx: ReadContext<W>, path: string): Stat {
  const node = nodeAt(ctx, path);
  if (!node) throw new KeeperError(Err.NONODE);
  return ctx.tree.statOf(node);
}

/** READ or ADMIN lets one see the ACL; without ADMIN, digest ids come back masked. */
function getAcl<W>(ctx: ReadContext<W>, path: string): { acl: ACL[]; stat: Stat } {
  const node = nodeAt(ctx, path);
  if (!node) throw new KeeperError(Err.NONODE);
  requirePerm(ctx, node.acl, Ops.getACL.perm);
  const stat = ctx.tree.statOf(node);
  if (checkAcl(node.acl, Perm.ADMIN, ctx.authIds, aclOptions(ctx))) return { acl: node.acl, stat };
  const masked = node.acl.map((a) =>
    a.id.scheme === 'digest' ? { perms: a.perms, id: { scheme: a.id.scheme, id: a.id.id.replace(/:.*/s, ':x') } } : a,
  );
  return { acl: masked, stat };
}

/** Wire sizes of a multiRead reply's parts (see writeMultiResponse). */
const REPLY_HEADER_BYTES = 16;
const MULTI_HEADER_BYTES = 9;
const ERROR_RESULT_BYTES = MULTI_HEADER_BYTES + 4;
const STAT_BYTES = 68;

/**
 * A multiRead can ask for one large value thousands of times in a small request. Its reply is
 * sized first, without side effects, stopping as soon as it passes the bound; a reply over
 * jute.maxbuffer gets MARSHALLINGERROR instead (ZooKeeper builds it, and its clients drop the
 * connection on the oversized frame).
 */
function multiRead<W>(ctx: ReadContext<W>, req: RequestOf<typeof OpCode.multiRead>): MultiResult[] {
  if (!multiReadFits(ctx, req.ops)) throw new KeeperError(Err.MARSHALLINGERROR);
  return req.ops.map((op): MultiResult => {
    try {
      if (op.type === OpCode.getData) return { type: op.type, err: 0, body: getData(ctx, op.path, op.watch) };
      if (op.type === OpCode.getChildren) {
        return { type: op.type, err: 0, body: { children: getChildren(ctx, op.path, op.watch) } };
      }
      return { type: OpCode.error, err: Err.BADARGUMENTS, body: null };
    } catch (err) {
      if (err instanceof KeeperError) return { type: OpCode.error, err: err.code, body: null };
      throw err;
    }
  });
}

function multiReadFits<W>(ctx: ReadContext<W>, ops: readonly Request[]): boolean {
  let bytes = REPLY_HEADER_BYTES + MULTI_HEADER_BYTES;
  for (const op of ops) {
    bytes += multiReadResultBytes(ctx, op);
    if (bytes > ctx.maxReplyBytes) return false;
  }
  return true;
}

/** Bytes one op's result takes in a multiRead reply. */
function multiReadResultBytes<W>(ctx: ReadContext<W>, op: Request): number {
  if (op.type !== OpCode.getData && op.type !== OpCode.getChildren) return ERROR_RESULT_BYTES;
  const node = nodeAt(ctx, op.path);
  if (!node || !checkAcl(node.acl, Perm.READ, ctx.authIds, aclOptions(ctx))) return ERROR_RESULT_BYTES;
  if (op.type === OpCode.getData) return MULTI_HEADER_BYTES + 4 + node.dataLength + STAT_BYTES;
  return MULTI_HEADER_BYTES + ctx.tree.encodedChildren(node, encodeStringVector).length;
}

/** A watch the session may not add (paddock.maxWatchesPerSession): the read fails and sets none. */
function watchOrRefuse(added: boolean): void {
  if (!added) throw new KeeperError(Err.QUOTAEXCEEDED);
}

function addWatch<W>(ctx: ReadContext<W>, path: string, mode: number): void {
  if (mode === AddWatchMode.PersistentRecursive) watchOrRefuse(ctx.watches.addPersistentRecursive(path, ctx.watcher));
  else if (mode === AddWatchMode.Persistent) watchOrRefuse(ctx.watches.addPersistent(path, ctx.watcher));
  else throw new KeeperError(Err.MARSHALLINGERROR); // ZooKeeper fails to read an unknown mode
}

function ephemerals<W>(ctx: ReadContext<W>, prefix: string): string[] {
  // ZooKeeper lists a clone of the session's set, whose table is sized anew.
  const all = javaHashSetClone(ctx.tree.ephemeralsOf(ctx.sessionId)).ordered();
  const trimmed = prefix.trim();
  if (trimmed === '' || trimmed === '/') return [...all];
  return [...all].filter((p) => p.startsWith(prefix));
}

/** ZooKeeper reports the digest user name without the hash; other schemes report the id. */
function clientInfo(id: Id): { authScheme: string; user: string } {
  const user = id.scheme === 'digest' ? (id.id.split(':')[0] ?? '') : id.id;
  return { authScheme: id.scheme, user };
}

/** ZooKeeper's node table also holds the root under "", so reads of "" see the root. */
function nodeAt<W>(ctx: ReadContext<W>, path: string) {
  return ctx.tree.getNode(path === '' ? '/' : path);
}

function requireReadable<W>(ctx: ReadContext<W>, path: string, perm: number) {
  const node = nodeAt(ctx, path);
  if (!node) throw new KeeperError(Err.NONODE);
  requirePerm(ctx, node.acl, perm);
  return node;
}

/** Shared option objects: a check per read allocates none. */
const SKIP_ACL: CheckAclOptions = { skipACL: true };
const CHECK_ACL: CheckAclOptions = { skipACL: false };

function aclOptions<W>(ctx: ReadContext<W>): CheckAclOptions {
  return ctx.skipACL ? SKIP_ACL : CHECK_ACL;
}

function requirePerm<W>(ctx: ReadContext<W>, acl: readonly ACL[], perm: number): void {
  if (!checkAcl(acl, perm, ctx.authIds, aclOptions(ctx))) throw new KeeperError(Err.NOAUTH);
}

export { WatcherType };
