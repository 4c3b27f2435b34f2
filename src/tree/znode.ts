/**
 * One znode: ZooKeeper's DataNode plus StatPersisted, flattened into one small object. The path
 * is not stored (it is the tree map's key) and the child set is only allocated once needed.
 */
import type { ACL } from '../jute/records.js';
import { JavaHashSet } from '../lib/javahash.js';
import { basename } from '../lib/paths.js';

/** Stored ephemeralOwner of a container (Long.MIN_VALUE). */
export const CONTAINER_OWNER = -0x8000000000000000n;
const EXTENDED_MASK = 0xff00000000000000n;
const TTL_VALUE_MASK = 0x000000ffffffffffn;
/** -(2^56): the lowest signed 64-bit value whose top byte is 0xff (EXTENDED_MASK). */
const LOWEST_TTL_OWNER = -(1n << 56n);
/** Largest TTL ZooKeeper accepts: 40 bits of milliseconds. */
export const MAX_TTL = 0xffffffffff;

export type NodeKind = 'persistent' | 'ephemeral' | 'container' | 'ttl';

/** Stored ephemeralOwner of a TTL node: 0xFF in the high byte, the TTL in the low 40 bits. */
export function ttlOwner(ttl: number): bigint {
  return BigInt.asIntN(64, EXTENDED_MASK | (BigInt(ttl) & TTL_VALUE_MASK));
}

/**
 * What a stored ephemeralOwner means. A 0xFF high byte is read as TTL only when
 * extendedTypesEnabled is on, as ZooKeeper does: server ids are then limited to 254, and
 * without it a server with id 255 makes session ids with that high byte.
 */
export function kindOfOwner(owner: bigint, extendedTypesEnabled: boolean): NodeKind {
  if (owner === 0n) return 'persistent';
  if (owner === CONTAINER_OWNER) return 'container';
  // A signed 64-bit owner whose top byte is 0xff: compared, not masked, so no BigInt is made.
  if (extendedTypesEnabled && owner < 0n && owner >= LOWEST_TTL_OWNER) return 'ttl';
  return 'ephemeral';
}

/** The TTL in ms of a TTL node's stored owner. */
export function ttlOfOwner(owner: bigint): number {
  return Number(BigInt.asUintN(64, owner) & TTL_VALUE_MASK);
}

/** Shared zero-length data. */
export const EMPTY_DATA = Buffer.alloc(0);

/**
 * A node's data as stored. Small values are kept as one-byte (latin1) strings: a string costs its
 * length plus a small header, where a Buffer per node costs an object and pins a slice of a
 * shared pool, and a reply is encoded from it without a copy. Large values stay Buffers, which
 * copy faster and whose object cost no longer matters.
 */
export type StoredData = string | Buffer | null;

/** Values from this size on are stored as Buffers (each with its own memory, outside the pool). */
export const STRING_DATA_MAX = 4096;

/** A private copy of txn or snapshot data (they are views into larger frames). */
export function ownData(data: Buffer | null): StoredData {
  if (data === null) return null;
  if (data.length === 0) return '';
  return data.length < STRING_DATA_MAX ? data.toString('latin1') : Buffer.from(data);
}

const NO_CHILDREN: ReadonlySet<string> = new Set();
const NO_PATHS: readonly string[] = [];

/** ZooKeeper's DataNode makes its child set on the first addChild as `new HashSet<>(8)`. */
const CHILD_SET_CAPACITY = 8;

export class ZNode {
  /**
   * Full paths of the children, the very strings the tree's map uses as keys (a set of names
   * would hold a second string per znode), hashed by name as ZooKeeper's HashSet of names is, so
   * that they list in its order. Null while there are none and the set would be a fresh one.
   */
  private kids: JavaHashSet | null = null;

  constructor(
    /** See StoredData; `data` gives it back as a Buffer. */
    public stored: StoredData,
    /** Shared through the tree's ACL cache: never mutate it. */
    public acl: ACL[],
    public czxid: number,
    public mzxid: number,
    public ctime: number,
    public mtime: number,
    public version: number,
    /** Count of child creates (ZooKeeper's stored cversion); the wire value is derived. */
    public storedCversion: number,
    public aversion: number,
    /** Stored value: session id, CONTAINER_OWNER, ttlOwner(ttl), or 0. */
    public ephemeralOwner: bigint,
    public pzxid: number,
  ) {}

  /** A node as created at `zxid`/`time`: every version 0. */
  static created(data: StoredData, acl: ACL[], owner: bigint, zxid: number, time: number): ZNode {
    return new ZNode(data, acl, zxid, zxid, time, time, 0, 0, 0, owner, zxid);
  }

  /** The children's full paths, in no particular order (see orderedChildPaths). */
  get childPaths(): ReadonlySet<string> {
    return this.kids ?? NO_CHILDREN;
  }

  /** The children's full paths in ZooKeeper's order (its HashSet's iteration order). */
  orderedChildPaths(): readonly string[] {
    return this.kids === null || this.kids.size === 0 ? NO_PATHS : this.kids.ordered();
  }

  /** The children's names (last path segments), in ZooKeeper's order. */
  childNames(): string[] {
    return this.orderedChildPaths().map(basename);
  }

  /** Buckets of ZooKeeper's child set for this node (0 before it has one). */
  get childTableSize(): number {
    return this.kids === null ? 0 : this.kids.tableSize;
  }

  get numChildren(): number {
    return this.kids === null ? 0 : this.kids.size;
  }

  /** The data as a new Buffer (a copy). Replies encode `stored` directly instead. */
  get data(): Buffer | null {
    if (this.stored === null) return null;
    return typeof this.stored === 'string' ? Buffer.from(this.stored, 'latin1') : Buffer.from(this.stored);
  }

  get dataLength(): number {
    return this.stored === null ? 0 : this.stored.length;
  }

  /** A copy that later changes to this node do not touch (snapshot capture). */
  clone(): ZNode {
    const copy = new ZNode(this.stored, this.acl, this.czxid, this.mzxid, this.ctime, this.mtime, this.version, this.storedCversion, this.aversion, this.ephemeralOwner, this.pzxid);
    copy.kids = this.kids === null ? null : this.kids.copy();
    return copy;
  }

  /** `path`: the child's full path (pass the string the tree keys the child by). */
  addChild(path: string): void {
    (this.kids ??= new JavaHashSet(CHILD_SET_CAPACITY, path.lastIndexOf('/') + 1)).add(path);
  }

  /** The child set keeps its table size, as ZooKeeper's does; only a fresh-sized one is dropped. */
  removeChild(path: string): boolean {
    if (this.kids === null || !this.kids.delete(path)) return false;
    if (this.kids.size === 0 && this.kids.tableSize === CHILD_SET_CAPACITY) this.kids = null;
    return true;
  }
}
