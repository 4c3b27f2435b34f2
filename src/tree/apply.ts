/**
 * apply(txn): the one way a committed transaction changes the tree (DataTree.processTxn).
 * It trusts the txn (prep validated it) and is idempotent for replay over a snapshot: a create
 * of an existing node or a delete of a missing one fails without change, and cversion/pzxid only
 * move up.
 */
import { Err, OpCode, type EventType } from '../jute/constants.js';
import type { ACL, Stat } from '../jute/records.js';
import { OpMap } from '../jute/ops.js';
import type { TxnBody, TxnHeader, TxnOf, Txn } from '../jute/txn.js';
import { parentOf } from '../lib/paths.js';
import { CONTAINER_OWNER, ttlOwner, type ZNode } from './znode.js';

/** A watch event a txn causes: its type and the node's path. */
export interface TreeEvent {
  type: EventType;
  path: string;
}

/**
 * The tree's primitive mutations that apply composes, each as ZooKeeper's DataTree has it.
 * DataTree implements them and owns apply (its apply method); this file never imports it.
 */
export interface TreeMutations {
  lastProcessedZxid: number;
  getNode(path: string): ZNode | undefined;
  statOf(node: ZNode): Stat;
  createNode(path: string, data: Buffer | null, acl: readonly ACL[], owner: bigint, parentCVersion: number, zxid: number, time: number, events: TreeEvent[]): number;
  deleteNode(path: string, zxid: number, events: TreeEvent[]): number;
  setData(path: string, data: Buffer | null, version: number, zxid: number, time: number, events: TreeEvent[]): ZNode | null;
  setAcl(path: string, acl: readonly ACL[], aversion: number): ZNode | null;
  raiseCversion(path: string, newCversion: number, zxid: number): number;
  deleteEphemerals(sessionId: bigint, zxid: number, events: TreeEvent[]): void;
}

export interface ApplyResult {
  /** The txn's type; for the ops of a failed multi, OpCode.error. */
  type: number;
  /** 0, or the error the txn carries (error txn, failed multi) or replay hit. */
  err: number;
  /** The node the op touched (create, delete, setData, setACL, check), else null. */
  path: string | null;
  /** The node's Stat after the op (creates, setData, setACL), else null. */
  stat: Stat | null;
  /** Per-op results of a multi, else null. */
  multi: ApplyResult[] | null;
  /**
   * Watch events, in order. For a multi, all of its events are here on the top-level result
   * and its per-op results carry none.
   */
  events: TreeEvent[];
}

export function applyTxn(tree: TreeMutations, txn: Txn): ApplyResult {
  const events: TreeEvent[] = [];
  const result = applyBody(tree, txn.header, txn.body, events);
  result.events = events;
  if (txn.header.zxid > tree.lastProcessedZxid) tree.lastProcessedZxid = txn.header.zxid;
  return result;
}

/** Applies one txn body of type K; events collects the watch events it causes. */
type ApplyHandler<K extends TxnBody['type']> = (tree: TreeMutations, header: TxnHeader, body: TxnOf<K>, events: TreeEvent[]) => ApplyResult;

/** Each txn type's apply, keyed by the opcode table's txn types: a missing one does not compile. */
const handlers = new OpMap<ApplyHandler<never>>({
  [OpCode.create]: (tree, header, body, events) => applyCreate(tree, header, body, body.ephemeral ? header.sessionId : 0n, events),
  [OpCode.create2]: (tree, header, body, events) => applyCreate(tree, header, body, body.ephemeral ? header.sessionId : 0n, events),
  [OpCode.createContainer]: (tree, header, body, events) => applyCreate(tree, header, body, CONTAINER_OWNER, events),
  [OpCode.createTTL]: (tree, header, body, events) => applyCreate(tree, header, body, ttlOwner(body.ttl), events),
  [OpCode.delete]: applyDelete,
  [OpCode.deleteContainer]: applyDelete,
  [OpCode.setData]: applySetData,
  [OpCode.reconfig]: applySetData,
  [OpCode.setACL]: (tree, _header, body) => nodeResult(tree, body.type, body.path, tree.setAcl(body.path, body.acl, body.version)),
  [OpCode.check]: (_tree, _header, body) => result(body.type, Err.OK, body.path),
  [OpCode.createSession]: (_tree, _header, body) => result(body.type, Err.OK, null),
  [OpCode.closeSession]: (tree, header, body, events) => {
    for (const path of body.paths2Delete) tree.deleteNode(path, header.zxid, events);
    tree.deleteEphemerals(header.sessionId, header.zxid, events);
    return result(body.type, Err.OK, null);
  },
  [OpCode.error]: (_tree, _header, body) => result(body.type, body.err, null),
  [OpCode.multi]: (tree, header, body, events) => applyMulti(tree, header, body.txns, events),
} satisfies { [K in TxnBody['type']]: ApplyHandler<K> });

function applyBody(tree: TreeMutations, header: TxnHeader, body: TxnBody, events: TreeEvent[]): ApplyResult {
  const handler = handlers.get(body.type);
  if (handler === undefined) return result(body.type, Err.BADARGUMENTS, null); // decodeTxn reads no other type
  return handler(tree, header, body as never, events); // the handler was found by body.type
}

function applyDelete(tree: TreeMutations, header: TxnHeader, body: TxnOf<typeof OpCode.delete>, events: TreeEvent[]): ApplyResult {
  return result(body.type, tree.deleteNode(body.path, header.zxid, events), body.path);
}

function applySetData(tree: TreeMutations, header: TxnHeader, body: TxnOf<typeof OpCode.setData>, events: TreeEvent[]): ApplyResult {
  return nodeResult(tree, body.type, body.path, tree.setData(body.path, body.data, body.version, header.zxid, header.time, events));
}

type CreateBody = Extract<TxnBody, { parentCVersion: number }>;

function applyCreate(tree: TreeMutations, header: TxnHeader, body: CreateBody, owner: bigint, events: TreeEvent[]): ApplyResult {
  const { path, parentCVersion } = body;
  let err = tree.createNode(path, body.data, body.acl, owner, parentCVersion, header.zxid, header.time, events);
  if (err === Err.NODEEXISTS && body.type === OpCode.create && path !== '/') {
    // Replay of a create whose node was deleted and re-created by another session inside the
    // fuzzy range: ZooKeeper still raises the parent's cversion/pzxid (create only, not create2).
    const raised = tree.raiseCversion(parentOf(path), parentCVersion, header.zxid);
    if (raised !== Err.OK) err = raised;
  }
  const node = err === Err.OK ? tree.getNode(path) : undefined;
  return { type: body.type, err, path, stat: node === undefined ? null : tree.statOf(node), multi: null, events: [] };
}

/**
 * A multi applies its ops in order. If any op is an error txn, the multi failed in prep: no op
 * is applied, the ops before the failing one report 0 and those after it RUNTIMEINCONSISTENCY.
 */
function applyMulti(tree: TreeMutations, header: TxnHeader, txns: TxnBody[], events: TreeEvent[]): ApplyResult {
  const failed = txns.some((t) => t.type === OpCode.error);
  let pastFailure = false;
  let err: number = Err.OK;
  const results: ApplyResult[] = [];
  for (const sub of txns) {
    if (sub.type === OpCode.error) pastFailure = true;
    let r: ApplyResult;
    if (failed && sub.type !== OpCode.error) {
      r = result(OpCode.error, pastFailure ? Err.RUNTIMEINCONSISTENCY : Err.OK, null);
    } else if (sub.type === OpCode.multi || sub.type === OpCode.createSession || sub.type === OpCode.closeSession) {
      r = result(sub.type, Err.BADARGUMENTS, null); // never produced by prep
    } else {
      r = applyBody(tree, { ...header, type: sub.type }, sub, events);
    }
    results.push(r);
    if (r.err !== Err.OK && err === Err.OK) err = r.err;
  }
  return { type: OpCode.multi, err, path: null, stat: null, multi: results, events: [] };
}

function result(type: number, err: number, path: string | null): ApplyResult {
  return { type, err, path, stat: null, multi: null, events: [] };
}

function nodeResult(tree: TreeMutations, type: number, path: string, node: ZNode | null): ApplyResult {
  if (node === null) return result(type, Err.NONODE, path);
  // One literal of result's shape, not a spread of it: one write per setData/setACL.
  return { type, err: Err.OK, path, stat: tree.statOf(node), multi: null, events: [] };
}
