/**
 * The in-memory znode tree (ZooKeeper's DataTree): nodes by path, the indexes that must move
 * with them (ephemerals by session, containers, TTL nodes, quotas, ACL cache, data size), and
 * the primitive mutations that apply() composes. Pure: no clock, no I/O.
 */
import { EventType, Err } from '../jute/constants.js';
import type { ACL, Stat } from '../jute/records.js';
import { OPEN_ACL_UNSAFE, READ_ACL_UNSAFE } from '../acl/ids.js';
import { assert } from '../lib/assert.js';
import { JavaHashSet } from '../lib/javahash.js';
import { basename, childPath, parentOf } from '../lib/paths.js';
import { AclCache } from './aclcache.js';
import { applyTxn, type ApplyResult, type TreeEvent, type TreeMutations } from './apply.js';
import {
  LIMIT_NODE,
  QuotaIndex,
  STAT_NODE,
  StatsTrack,
  limitPath,
  quotaPathOf,
  statPath,
  withinQuota,
} from './quota.js';
import { statOf } from './stat.js';
import { ZNode, kindOfOwner, ownData, ttlOfOwner, type StoredData } from './znode.js';
import type { Txn } from '../jute/txn.js';


/** Paths ZooKeeper creates itself and never lets clients delete. */
export const SPECIAL_PATHS: ReadonlySet<string> = new Set(['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']);

/** Child lists at least this long have their encoding cached (see encodedChildren). */
const CHILD_LIST_CACHE_MIN = 64;
/** Most bytes of cached child-list encodings; past it the cache starts over. */
const CHILD_LIST_CACHE_BYTES = 64 * 1024 * 1024;

export interface TreeOptions {
  /**
   * Whether a stored owner with a 0xFF high byte marks a TTL node (ZooKeeper's
   * extendedTypesEnabled). Default true, so offline tools see TTL nodes as TTL nodes; a server
   * passes its configuration.
   */
  extendedTypesEnabled?: boolean;
}

/** The tree as it was at one zxid, read while the live tree goes on changing (DataTree.beginCapture). */
export interface TreeCapture {
  /** The tree's last applied zxid when the capture began. */
  readonly zxid: number;
  /**
   * The node at `path` as it was when the capture began, for a path that existed then (a walk
   * from the root asks for no other: it follows the captured children of captured nodes).
   */
  node(path: string): ZNode | undefined;
  /** Ends the capture (once; later calls do nothing): changes are no longer saved for it. */
  end(): void;
}

export class DataTree implements TreeMutations {
  readonly extendedTypesEnabled: boolean;
  private readonly nodes = new Map<string, ZNode>();
  private readonly acls = new AclCache();
  /**
   * Ephemeral paths by owner, as ZooKeeper's HashSets (so listed in its order). A session's set
   * lives, with its table size, until the session closes, as in ZooKeeper.
   */
  private readonly ephemerals = new Map<bigint, JavaHashSet>();
  /** Per session, the bytes its ephemeral paths take in a CloseSessionTxn (4 + UTF-8 length each). */
  private readonly ephemeralBytes = new Map<bigint, number>();
  private readonly containers = new Set<string>();
  private readonly ttls = new Set<string>();
  private readonly quotas = new QuotaIndex();
  /** Sum of path length (UTF-16 units) and data length over all nodes, as ZooKeeper counts it. */
  private dataSize = 0;
  /** Highest zxid applied; a snapshot of this tree covers every txn up to it. */
  lastProcessedZxid = 0;
  /**
   * The running captures' saved nodes (see beginCapture). Several may run at once: a snapshot
   * written to disk and a SNAP streamed to each learner that needs one, each from its own zxid.
   */
  private readonly captures: Map<string, ZNode>[] = [];
  /**
   * Wire encodings of large child lists, dropped whenever the list changes: a getChildren of a
   * node with thousands of children is then a copy instead of thousands of string encodings.
   */
  private readonly childLists = new Map<ZNode, Buffer>();
  private childListBytes = 0;

  /** A fresh tree as ZooKeeper 3.8 standalone starts: /, /zookeeper, /zookeeper/quota, /zookeeper/config. */
  constructor(options: TreeOptions = {}) {
    this.extendedTypesEnabled = options.extendedTypesEnabled ?? true;
    const open = this.acls.intern(OPEN_ACL_UNSAFE);
    this.insert('/', new ZNode('', open, 0, 0, 0, 0, 0, 0, 0, 0n, 0));
    for (const path of ['/zookeeper', '/zookeeper/quota']) {
      this.insert(path, new ZNode('', this.acls.intern(OPEN_ACL_UNSAFE), 0, 0, 0, 0, 0, 0, 0, 0n, 0));
    }
    // ZooKeeper sets the config node's ACL with version -1, so its aversion reads -1.
    const config = new ZNode('', this.acls.intern(READ_ACL_UNSAFE), 0, 0, 0, 0, 0, 0, -1, 0n, 0);
    this.insert('/zookeeper/config', config);
  }

  /** Applies one committed txn; see apply.ts. */
  apply(txn: Txn): ApplyResult {
    return applyTxn(this, txn);
  }

  // ---- queries ----

  getNode(path: string): ZNode | undefined {
    return this.nodes.get(path);
  }

  /**
   * Starts a copy-on-write capture of the tree as it is now: while it runs, the first change to
   * a path that existed keeps the node as it was, so the capture reads the tree of one zxid
   * across any number of turns while writes go on. Paths created meanwhile need no entry: a walk
   * from the root follows captured child lists, which do not hold them. End it once done.
   */
  beginCapture(): TreeCapture {
    const saved = new Map<string, ZNode>();
    this.captures.push(saved);
    let ended = false;
    return {
      zxid: this.lastProcessedZxid,
      // Nothing changed yet: the live node is the captured one.
      node: (path) => (saved.size === 0 ? this.nodes.get(path) : (saved.get(path) ?? this.nodes.get(path))),
      end: () => {
        if (ended) return;
        ended = true;
        this.captures.splice(this.captures.indexOf(saved), 1);
      },
    };
  }

  /** Captures begun and not ended yet. */
  get runningCaptures(): number {
    return this.captures.length;
  }

  /**
   * Called before anything about `path` changes: keeps its current state for every running
   * capture that has none for it yet. A node that exists is then the one from that capture's
   * start, since every change or removal of a node touches it first. Saved nodes are never
   * changed, so captures share them.
   */
  private touch(path: string): void {
    if (this.captures.length === 0) return;
    const node = this.nodes.get(path);
    if (node === undefined) return;
    let copy: ZNode | undefined;
    for (const saved of this.captures) {
      if (!saved.has(path)) saved.set(path, (copy ??= node.clone()));
    }
  }

  statOf(node: ZNode): Stat {
    return statOf(node, this.extendedTypesEnabled);
  }

  /** Stat of the node at `path`, or null if there is none. */
  statAt(path: string): Stat | null {
    const node = this.nodes.get(path);
    return node === undefined ? null : statOf(node, this.extendedTypesEnabled);
  }

  /**
   * `encode(children)` for `node`, cached until its children change when it has at least
   * CHILD_LIST_CACHE_MIN of them (smaller lists are cheaper to encode than to keep).
   */
  encodedChildren(node: ZNode, encode: (names: readonly string[]) => Buffer): Buffer {
    if (node.numChildren < CHILD_LIST_CACHE_MIN) return encode(node.childNames());
    const cached = this.childLists.get(node);
    if (cached !== undefined) return cached;
    const bytes = encode(node.childNames());
    if (this.childListBytes + bytes.length > CHILD_LIST_CACHE_BYTES) this.dropChildLists();
    this.childLists.set(node, bytes);
    this.childListBytes += bytes.length;
    return bytes;
  }

  private childrenChanged(parent: ZNode): void {
    const cached = this.childLists.get(parent);
    if (cached === undefined) return;
    this.childLists.delete(parent);
    this.childListBytes -= cached.length;
  }

  private dropChildLists(): void {
    this.childLists.clear();
    this.childListBytes = 0;
  }

  childrenOf(path: string): string[] {
    const node = this.nodes.get(path);
    return node === undefined ? [] : node.childNames();
  }

  /** Number of znodes, root included. */
  get size(): number {
    return this.nodes.size;
  }

  /**
   * zk_znode_count / srvr "Node count" as ZooKeeper reports it: its node map holds the root
   * twice (as "" and "/"), so this is one more than the number of znodes.
   */
  nodeCount(): number {
    return this.nodes.size + 1;
  }

  /** zk_approximate_data_size: path lengths plus data lengths. */
  approximateDataSize(): number {
    return this.dataSize;
  }

  /** Paths of `sessionId`'s ephemeral nodes, in ZooKeeper's order. */
  ephemeralsOf(sessionId: bigint): string[] {
    const set = this.ephemerals.get(sessionId);
    return set === undefined ? [] : set.ordered();
  }

  /** Bytes the paths of `sessionId`'s ephemerals take in a CloseSessionTxn's vector. */
  ephemeralBytesOf(sessionId: bigint): number {
    return this.ephemeralBytes.get(sessionId) ?? 0;
  }

  /**
   * Each session's ephemeral paths in ZooKeeper's order, including sessions whose ephemerals are
   * all gone (ZooKeeper's `dump` lists those too, until the session closes).
   */
  allEphemerals(): Map<bigint, string[]> {
    const out = new Map<bigint, string[]>();
    for (const [session, paths] of this.ephemerals) out.set(session, paths.ordered());
    return out;
  }

  /** zk_ephemerals_count. */
  ephemeralCount(): number {
    let n = 0;
    for (const paths of this.ephemerals.values()) n += paths.size;
    return n;
  }

  /** getAllChildrenNumber: every descendant of `path` (0 for a missing node). */
  countDescendants(path: string): number {
    if (path === '/') return this.nodes.size - 1;
    if (!this.nodes.has(path)) return 0;
    let count = 0;
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      for (const child of this.nodes.get(p)!.childPaths) {
        count++;
        stack.push(child);
      }
    }
    return count;
  }

  /** Number of distinct ACL lists stored. */
  aclCacheSize(): number {
    return this.acls.size();
  }

  /** Paths in preorder, parents before children (children in ZooKeeper's order). */
  *paths(): Generator<string> {
    const stack = ['/'];
    while (stack.length > 0) {
      const p = stack.pop()!;
      yield p;
      const kids = this.nodes.get(p)!.orderedChildPaths();
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
    }
  }

  // ---- containers and TTL ----

  /**
   * Nodes the container manager should delete now (ContainerManager.getCandidates): empty
   * containers that once had a child (or were never used for longer than
   * maxNeverUsedIntervalMs, when that is > 0), and empty TTL nodes unmodified for longer than
   * their TTL.
   */
  containerCandidates(nowMs: number, maxNeverUsedIntervalMs: number): string[] {
    const out: string[] = [];
    for (const path of this.containers) {
      const node = this.nodes.get(path);
      if (node === undefined || node.numChildren > 0) continue;
      const neverUsedTooLong = maxNeverUsedIntervalMs !== 0 && nowMs - node.mtime > maxNeverUsedIntervalMs;
      if (node.storedCversion > 0 || neverUsedTooLong) out.push(path);
    }
    for (const path of this.ttls) {
      const node = this.nodes.get(path);
      if (node === undefined || node.numChildren > 0) continue;
      const ttl = ttlOfOwner(node.ephemeralOwner);
      if (ttl !== 0 && nowMs - node.mtime > ttl) out.push(path);
    }
    return out;
  }

  containerPaths(): string[] {
    return [...this.containers];
  }

  ttlPaths(): string[] {
    return [...this.ttls];
  }

  // ---- quotas ----

  /** Quota paths (the nodes that have a zookeeper_limits node). */
  quotaPaths(): string[] {
    return this.quotas.all();
  }

  /** The deepest quota path covering `path`, or null. */
  quotaPrefixOf(path: string): string | null {
    return this.quotas.maxPrefix(path);
  }

  /**
   * False when adding `addedBytes` and `addedCount` nodes at `path` would cross a hard quota
   * limit (QUOTAEXCEEDED when enforceQuota is on). Soft limits never fail, as in ZooKeeper.
   */
  checkQuota(path: string, addedBytes: number, addedCount: number): boolean {
    const prefix = this.quotas.maxPrefix(path);
    if (prefix === null) return true;
    const limits = this.nodes.get(limitPath(prefix));
    const usage = this.nodes.get(statPath(prefix));
    if (limits === undefined || usage === undefined) return true;
    return withinQuota(StatsTrack.fromBytes(limits.data), StatsTrack.fromBytes(usage.data), addedBytes, addedCount);
  }

  // ---- primitive mutations (used by apply.ts and snapshot loading) ----

  /**
   * DataTree.createNode. Returns OK, NONODE (no parent) or NODEEXISTS; on success appends the
   * events. parentCVersion -1 means "one more than now"; cversion and pzxid only move up.
   */
  createNode(
    path: string,
    data: Buffer | null,
    acl: readonly ACL[],
    owner: bigint,
    parentCVersion: number,
    zxid: number,
    time: number,
    events: TreeEvent[],
  ): number {
    if (path === '/') return Err.NODEEXISTS;
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (parent === undefined) return Err.NONODE;
    if (this.nodes.has(path)) return Err.NODEEXISTS;
    this.touch(parentPath);
    const newCversion = parentCVersion === -1 ? parent.storedCversion + 1 : parentCVersion;
    if (newCversion > parent.storedCversion) {
      parent.storedCversion = newCversion;
      parent.pzxid = zxid;
    }
    const stored = ownData(data);
    this.attach(parent, path, ZNode.created(stored, this.acls.intern(acl), owner, zxid, time));
    this.afterCreateQuota(path, parentPath, stored);
    events.push({ type: EventType.NodeCreated, path }, { type: EventType.NodeChildrenChanged, path: parentPath });
    return Err.OK;
  }

  /**
   * DataTree.deleteNode. The parent's pzxid is raised even when the child is already gone,
   * as ZooKeeper does for fuzzy-snapshot replay. Returns OK, NONODE, or NOTEMPTY / BADARGUMENTS
   * for deletes that would break the tree (prep never sends those).
   */
  deleteNode(path: string, zxid: number, events: TreeEvent[]): number {
    if (path === '/') return Err.BADARGUMENTS;
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (parent === undefined) return Err.NONODE;
    const node = this.nodes.get(path);
    if (node !== undefined && node.numChildren > 0) return Err.NOTEMPTY;
    this.touch(parentPath);
    this.touch(path);
    if (zxid > parent.pzxid) parent.pzxid = zxid;
    if (node === undefined) return Err.NONODE;
    parent.removeChild(path);
    this.childrenChanged(parent);
    this.remove(path, node);
    this.afterDeleteQuota(path, parentPath, node);
    events.push({ type: EventType.NodeDeleted, path }, { type: EventType.NodeChildrenChanged, path: parentPath });
    return Err.OK;
  }

  /** DataTree.setData: `version` is the new version. Returns the node, or null for NONODE. */
  setData(path: string, data: Buffer | null, version: number, zxid: number, time: number, events: TreeEvent[]): ZNode | null {
    const node = this.nodes.get(path);
    if (node === undefined) return null;
    this.touch(path);
    const oldLength = node.dataLength;
    this.replaceData(node, ownData(data));
    node.mtime = time;
    node.mzxid = zxid;
    node.version = version;
    const prefix = this.quotas.maxPrefix(path);
    if (prefix !== null) this.updateQuotaStat(prefix, node.dataLength - oldLength, 0);
    events.push({ type: EventType.NodeDataChanged, path });
    return node;
  }

  /** DataTree.setACL: `aversion` is the new ACL version; mzxid/mtime stay. */
  setAcl(path: string, acl: readonly ACL[], aversion: number): ZNode | null {
    const node = this.nodes.get(path);
    if (node === undefined) return null;
    this.touch(path);
    this.acls.release(node.acl);
    node.acl = this.acls.intern(acl);
    node.aversion = aversion;
    return node;
  }

  /** DataTree.setCversionPzxid: raises a node's stored cversion (and pzxid with it) only upwards. */
  raiseCversion(path: string, newCversion: number, zxid: number): number {
    const node = this.nodes.get(path);
    if (node === undefined) return Err.NONODE;
    this.touch(path);
    const target = newCversion === -1 ? node.storedCversion + 1 : newCversion;
    if (target > node.storedCversion) {
      node.storedCversion = target;
      node.pzxid = zxid;
    }
    return Err.OK;
  }

  /** Removes every remaining ephemeral of a closed session, in ZooKeeper's order (killSession). */
  deleteEphemerals(sessionId: bigint, zxid: number, events: TreeEvent[]): void {
    const paths = this.ephemeralsOf(sessionId);
    this.ephemerals.delete(sessionId);
    this.ephemeralBytes.delete(sessionId);
    for (const path of paths) this.deleteNode(path, zxid, events);
  }

  /**
   * Adds a node whose parent already exists, updating every index. Used by the constructor and
   * by snapshot loading; apply goes through createNode.
   */
  insert(path: string, node: ZNode): void {
    this.touch(path);
    if (path === '/') {
      this.attach(null, path, node);
      return;
    }
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (parent === undefined) throw new Error(`no parent for ${path}`);
    this.touch(parentPath);
    this.attach(parent, path, node);
  }

  /** Links `node` in at `path` as a child of `parent` (null for the root) and indexes it. */
  private attach(parent: ZNode | null, path: string, node: ZNode): void {
    if (parent !== null) {
      parent.addChild(path);
      this.childrenChanged(parent);
    }
    this.nodes.set(path, node);
    this.dataSize += path.length + node.dataLength;
    if (node.ephemeralOwner !== 0n) this.indexOwner(path, node.ephemeralOwner, true);
  }

  /**
   * Snapshot loading: adds `node` at `path`, the child `name` of `parent` (already in the tree),
   * with the indexes insert keeps. The loader holds the parent, so no path is parsed or looked
   * up here, and no capture can be running on a tree being loaded. False when `path` was
   * already present (the loader then throws the tree away).
   */
  loadChild(parent: ZNode, name: string, path: string, node: ZNode): boolean {
    assert(this.captures.length === 0, 'loading into a tree under capture');
    const before = this.nodes.size;
    this.nodes.set(path, node);
    if (this.nodes.size === before) return false;
    parent.addChild(path);
    this.childrenChanged(parent);
    this.dataSize += path.length + node.dataLength;
    if (node.ephemeralOwner !== 0n) this.indexOwner(path, node.ephemeralOwner, true);
    if (name === LIMIT_NODE) {
      const quotaPath = quotaPathOf(parentOf(path));
      if (quotaPath !== null) this.quotas.add(quotaPath);
    }
    return true;
  }

  /** Takes a reference in this tree's ACL cache (snapshot loading builds nodes with it). */
  internAcl(acl: readonly ACL[]): ACL[] {
    return this.acls.intern(acl);
  }

  /** Adds `refs` references to a list internAcl returned (bulk loading counts them first). */
  retainAcl(acl: readonly ACL[], refs: number): void {
    this.acls.retain(acl, refs);
  }

  /** Registers a quota path without touching nodes (snapshot loading). */
  addQuotaPath(path: string): void {
    this.quotas.add(path);
  }

  /** Drops everything, root included (snapshot loading refills it). */
  clear(): void {
    this.nodes.clear();
    this.ephemerals.clear();
    this.ephemeralBytes.clear();
    this.containers.clear();
    this.ttls.clear();
    this.quotas.clear();
    this.dropChildLists();
    this.dataSize = 0;
    this.lastProcessedZxid = 0;
  }

  private remove(path: string, node: ZNode): void {
    this.nodes.delete(path);
    this.acls.release(node.acl);
    this.dataSize -= path.length + node.dataLength;
    this.indexOwner(path, node.ephemeralOwner, false);
  }

  private indexOwner(path: string, owner: bigint, add: boolean): void {
    if (owner === 0n) return;
    const kind = kindOfOwner(owner, this.extendedTypesEnabled);
    if (kind === 'container') toggle(this.containers, path, add);
    else if (kind === 'ttl') toggle(this.ttls, path, add);
    else this.indexEphemeral(owner, path, add);
  }

  private indexEphemeral(session: bigint, path: string, add: boolean): void {
    let set = this.ephemerals.get(session);
    if (add) {
      // ZooKeeper's `new HashSet<String>()`: 16 buckets.
      if (set === undefined) this.ephemerals.set(session, (set = new JavaHashSet(16)));
      if (set.has(path)) return;
      set.add(path);
      this.ephemeralBytes.set(session, (this.ephemeralBytes.get(session) ?? 0) + closeSessionEntryBytes(path));
    } else if (set !== undefined && set.delete(path)) {
      // The set itself stays until the session closes, as in ZooKeeper; only the byte count goes.
      const left = (this.ephemeralBytes.get(session) ?? 0) - closeSessionEntryBytes(path);
      if (left === 0) this.ephemeralBytes.delete(session);
      else this.ephemeralBytes.set(session, left);
    }
  }

  private replaceData(node: ZNode, data: StoredData): void {
    this.dataSize += (data === null ? 0 : data.length) - node.dataLength;
    node.stored = data;
  }

  // ---- quota bookkeeping (DataTree.createNode/deleteNode/setData tails) ----

  private afterCreateQuota(path: string, parentPath: string, data: StoredData): void {
    const quotaPath = quotaPathOf(parentPath);
    if (quotaPath !== null) {
      const name = basename(path);
      if (name === LIMIT_NODE) this.quotas.add(quotaPath);
      if (name === STAT_NODE) this.recomputeQuota(quotaPath);
    }
    const prefix = this.quotas.maxPrefix(path);
    if (prefix !== null) this.updateQuotaStat(prefix, data === null ? 0 : data.length, 1);
  }

  private afterDeleteQuota(path: string, parentPath: string, node: ZNode): void {
    const quotaPath = quotaPathOf(parentPath);
    if (quotaPath !== null && basename(path) === LIMIT_NODE) this.quotas.delete(quotaPath);
    const prefix = this.quotas.maxPrefix(path);
    if (prefix !== null) this.updateQuotaStat(prefix, -node.dataLength, -1);
  }

  /** Adds to a quota's usage; the stats node's data changes but not its Stat, as in ZooKeeper. */
  private updateQuotaStat(quotaPath: string, bytesDiff: number, countDiff: number): void {
    const node = this.nodes.get(statPath(quotaPath));
    if (node === undefined) return;
    this.touch(statPath(quotaPath));
    const usage = StatsTrack.fromBytes(node.data);
    usage.set('count', usage.count + countDiff);
    usage.set('bytes', usage.bytes + bytesDiff);
    this.replaceData(node, ownData(usage.toBytes()));
  }

  /** Sets a quota's usage from a walk of its subtree (when its stats node is created). */
  private recomputeQuota(quotaPath: string): void {
    const node = this.nodes.get(statPath(quotaPath));
    if (node === undefined) return;
    this.touch(statPath(quotaPath));
    let count = 0;
    let bytes = 0;
    if (this.nodes.has(quotaPath)) {
      const stack = [quotaPath];
      while (stack.length > 0) {
        const p = stack.pop()!;
        const n = this.nodes.get(p)!;
        count++;
        bytes += n.dataLength;
        for (const child of n.childPaths) stack.push(child);
      }
    }
    const usage = new StatsTrack();
    usage.set('count', count);
    usage.set('bytes', bytes);
    this.replaceData(node, ownData(usage.toBytes()));
  }
}

function toggle(set: Set<string>, path: string, add: boolean): void {
  if (add) set.add(path);
  else set.delete(path);
}

/** Bytes one path takes in a CloseSessionTxn's paths2Delete vector: its length prefix and UTF-8. */
export function closeSessionEntryBytes(path: string): number {
  return 4 + Buffer.byteLength(path, 'utf8');
}
