/**
 * The replicated state a quorum driver applies committed txns to. The drivers do not own a tree:
 * a test gives them a `TreeReplica` (a DataTree and a session map of their own), a running
 * server gives them the request pipeline's state (peer.ts), so a follower's commits land in the
 * tree its clients read.
 */
import { OpCode } from '../../jute/constants.js';
import { decodeTxn } from '../../jute/txn.js';
import type { ZkSnapshot } from '../../persistence/zkformat.js';
import { DataTree, type TreeOptions } from '../../tree/datatree.js';
import { LIMIT_NODE, quotaPathOf } from '../../tree/quota.js';
import { ownData, ZNode } from '../../tree/znode.js';
import { basename, parentOf } from '../../lib/paths.js';
import type { LogEntry } from '../../consensus/learner.js';
import { zxidFromNumber, zxidToNumber, type Zxid } from '../../consensus/zxid.js';

/** The part of a durable store a replica is rebuilt from (LearnerDurableState has it). */
export interface DurableTxns {
  snapshot: { zxid: Zxid; snap: ZkSnapshot } | null;
  /** Txns after the snapshot, in zxid order. */
  log: readonly LogEntry[];
}

export interface ReplicaState {
  /** The current tree; install and rebuild may replace it. */
  readonly tree: DataTree;
  /** Live sessions and their timeouts, as a snapshot records them. */
  sessionTimeouts(): Map<bigint, number>;
  /** Applies one committed txn; one at or below the tree's last zxid is skipped. */
  apply(entry: LogEntry): void;
  /** Replaces the state with a snapshot taken at `zxid`. */
  install(zxid: Zxid, snap: ZkSnapshot): void;
  /** Replaces the state with one a durable store rebuilt (after SNAP or TRUNC). */
  replace(tree: DataTree, sessions: ReadonlyMap<bigint, number>): void;
}

/** The last zxid applied to a replica. */
export function appliedZxid(state: ReplicaState): Zxid {
  return zxidFromNumber(state.tree.lastProcessedZxid);
}

/**
 * Brings a replica to what a durable store holds, as ZooKeeper's load applies its whole log:
 * from the snapshot when the replica is behind it or `fromScratch` (after a truncation the tree
 * may hold txns that are gone), then every logged txn it lacks.
 */
export function catchUp(state: ReplicaState, durable: DurableTxns, fromScratch: boolean): void {
  const snap = durable.snapshot;
  if (snap !== null && (fromScratch || appliedZxid(state) < snap.zxid)) state.install(snap.zxid, snap.snap);
  else if (fromScratch) state.install(0n, { sessions: new Map(), nodes: [] });
  for (const entry of durable.log) state.apply(entry);
}

/** A DataTree and a session map of its own: the state of a driver run outside a server. */
export class TreeReplica implements ReplicaState {
  tree: DataTree;
  sessions = new Map<bigint, number>();

  constructor(private readonly options: TreeOptions = {}) {
    this.tree = new DataTree(options);
  }

  sessionTimeouts(): Map<bigint, number> {
    return this.sessions;
  }

  apply(entry: LogEntry): void {
    if (this.tree.lastProcessedZxid >= zxidToNumber(entry.zxid)) return;
    const txn = decodeTxn(entry.data, 0x7fffffff);
    this.tree.apply(txn);
    if (txn.body.type === OpCode.createSession) this.sessions.set(txn.header.sessionId, txn.body.timeOut);
    else if (txn.body.type === OpCode.closeSession) this.sessions.delete(txn.header.sessionId);
  }

  install(zxid: Zxid, snap: ZkSnapshot): void {
    this.tree = snap.nodes.length === 0 ? new DataTree(this.options) : treeFromZkSnapshot(snap, this.options);
    this.tree.lastProcessedZxid = zxidToNumber(zxid);
    this.sessions = new Map(snap.sessions);
  }

  replace(tree: DataTree, sessions: ReadonlyMap<bigint, number>): void {
    this.tree = tree;
    this.sessions = new Map(sessions);
  }
}

/** Builds a tree from a ZooKeeper snapshot (nodes in preorder, parents first). */
export function treeFromZkSnapshot(snap: ZkSnapshot, options: TreeOptions = {}): DataTree {
  const tree = new DataTree(options);
  tree.clear();
  for (const n of snap.nodes) {
    const st = n.stat;
    tree.insert(n.path, new ZNode(ownData(n.data), tree.internAcl(n.acl), st.czxid, st.mzxid, st.ctime, st.mtime, st.version, st.cversion, st.aversion, st.ephemeralOwner, st.pzxid));
    if (n.path !== '/' && basename(n.path) === LIMIT_NODE) {
      const quota = quotaPathOf(parentOf(n.path));
      if (quota !== null) tree.addQuotaPath(quota);
    }
  }
  return tree;
}
