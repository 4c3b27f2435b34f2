/**
 * The node section of a snapshot (format in snapshot.ts), loaded straight into a tree. Restart
 * time is mostly this loop, so it skips the per-node work of the generic tree.insert: the open
 * ancestors sit in parallel arrays (no per-node records, no parent lookup by path), ASCII paths
 * are built as flat strings from a byte buffer (no concatenations to flatten when hashed),
 * fields are read in place, and ACL references are counted and added once per list.
 * test/tree/snapshotload.test.ts checks that it builds exactly what tree.insert builds.
 */
import { JuteReader } from '../jute/binary.js';
import { ACLs, type ACL } from '../jute/records.js';
import { childPath } from '../lib/paths.js';
import type { DataTree } from './datatree.js';
import { STRING_DATA_MAX, ZNode, ownData, type StoredData } from './znode.js';

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Bytes of a node after its ACL: czxid, mzxid, ctime, mtime, 3 ints, ephemeralOwner, pzxid. */
const NODE_TAIL_BYTES = 60;
const SLASH = 0x2f;
const SLASH_IN_NAME = -2;
const TWO_32 = 4294967296;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads nodes in preorder from `buf` at `offset` into `tree` (cleared: no nodes): call next(i)
 * for i = 0, 1, ... count - 1, then finish(count); `at` is then the offset after the nodes.
 * Throws SnapshotError on anything malformed.
 */
export class NodeLoader {
  at: number;
  /** Interned ACL lists by snapshot index, and how many nodes use each. */
  private readonly acls: ACL[][] = [];
  private readonly aclUses: number[] = [];
  /** The open ancestors of the next node, root first: node, path, children still to come. */
  private depth = 0;
  private readonly parents: ZNode[] = [];
  private readonly parentPaths: string[] = [];
  private readonly childrenLeft: number[] = [];
  /** Length of each open ancestor's path in `pathBytes`, or -1 when that path is not ASCII. */
  private readonly pathLengths: number[] = [];
  private pathBytes = Buffer.allocUnsafe(1024);

  constructor(
    private readonly buf: Buffer,
    offset: number,
    private readonly end: number,
    private readonly tree: DataTree,
  ) {
    this.at = offset;
  }

  next(i: number): void {
    while (this.depth > 0 && this.childrenLeft[this.depth - 1] === 0) this.depth--;
    if ((this.depth === 0) !== (i === 0)) throw new SnapshotError(`node ${i} has no place in the tree`);
    // A null name (-1) reads as '', as JuteReader.string() does.
    const nameLength = this.length('name');
    const nameAt = this.take(nameLength);
    if ((i === 0) !== (nameLength <= 0)) throw new SnapshotError(`bad node name at node ${i}`);
    const childCount = this.int();
    if (i === 0) {
      const root = this.readNode();
      this.tree.insert('/', root);
      this.open(root, '/', 0, childCount);
      return;
    }
    const d = this.depth - 1;
    const pathLength = this.asciiPath(this.pathLengths[d]!, nameAt, nameLength);
    // A '/' in a name would put the node somewhere its path does not say.
    if (pathLength === SLASH_IN_NAME) throw new SnapshotError(`bad node name at node ${i}`);
    let path: string;
    let name: string;
    if (pathLength >= 0) {
      path = this.pathBytes.toString('latin1', 0, pathLength);
      name = path.substring(pathLength - nameLength);
    } else {
      name = decodeName(this.buf, nameAt, nameLength);
      if (name.includes('/')) throw new SnapshotError(`bad node name at node ${i}`);
      path = childPath(this.parentPaths[d]!, name);
    }
    const node = this.readNode();
    if (!this.tree.loadChild(this.parents[d]!, name, path, node)) throw new SnapshotError(`duplicate node ${path}`);
    this.childrenLeft[d]!--;
    this.open(node, path, pathLength, childCount);
  }

  finish(count: number): void {
    if (count === 0) throw new SnapshotError('snapshot tree is incomplete');
    for (let d = 0; d < this.depth; d++) {
      if (this.childrenLeft[d] !== 0) throw new SnapshotError('snapshot tree is incomplete');
    }
    // Each list was interned with one reference at its first use.
    for (let i = 0; i < this.acls.length; i++) this.tree.retainAcl(this.acls[i]!, this.aclUses[i]! - 1);
  }

  /** Makes `node` the innermost open ancestor. */
  private open(node: ZNode, path: string, pathLength: number, childCount: number): void {
    if (childCount < 0) throw new SnapshotError(`bad child count at ${path}`);
    const d = this.depth++;
    this.parents[d] = node;
    this.parentPaths[d] = path;
    this.childrenLeft[d] = childCount;
    this.pathLengths[d] = pathLength;
  }

  /**
   * Writes parent path + '/' + name into pathBytes and returns its length; -1 (having written
   * part of it) when the parent path or the name is not ASCII, SLASH_IN_NAME when the name
   * holds a '/'.
   */
  private asciiPath(parentLength: number, nameAt: number, nameLength: number): number {
    if (parentLength < 0) return -1;
    const length = parentLength + 1 + nameLength;
    if (length > this.pathBytes.length) this.growPathBytes(length);
    const out = this.pathBytes;
    const buf = this.buf;
    out[parentLength] = SLASH;
    for (let k = 0, o = parentLength + 1; k < nameLength; k++, o++) {
      const c = buf[nameAt + k]!;
      if (c >= 0x80) return -1;
      if (c === SLASH) return SLASH_IN_NAME;
      out[o] = c;
    }
    return length;
  }

  private growPathBytes(length: number): void {
    const next = Buffer.allocUnsafe(Math.max(length, this.pathBytes.length * 2));
    this.pathBytes.copy(next);
    this.pathBytes = next;
  }

  /** A node from its data on (name and child count are read). */
  private readNode(): ZNode {
    const data = this.readData();
    const acl = this.readAcl();
    this.need(NODE_TAIL_BYTES);
    const buf = this.buf;
    const at = this.at;
    this.at += NODE_TAIL_BYTES;
    return new ZNode(
      data,
      acl,
      this.longAt(at),
      this.longAt(at + 8),
      this.longAt(at + 16),
      this.longAt(at + 24),
      buf.readInt32BE(at + 32),
      buf.readInt32BE(at + 36),
      buf.readInt32BE(at + 40),
      // Most nodes are persistent: share the constant instead of decoding a BigInt each.
      buf.readInt32BE(at + 44) === 0 && buf.readInt32BE(at + 48) === 0 ? 0n : buf.readBigInt64BE(at + 44),
      this.longAt(at + 52),
    );
  }

  /** The node's data as the tree stores it: what ownData makes of it, without a view first. */
  private readData(): StoredData {
    const len = this.length('buffer');
    const at = this.take(len);
    if (len === -1) return null;
    if (len === 0) return '';
    if (len < STRING_DATA_MAX) return this.buf.toString('latin1', at, at + len);
    return ownData(this.buf.subarray(at, at + len));
  }

  /** The interned list for the node's ACL index (-1: a new list follows, numbered next). */
  private readAcl(): ACL[] {
    const index = this.int();
    if (index === -1) {
      const r = new JuteReader(this.buf, this.at, this.end, 0x7fffffff);
      let list: ACL[];
      try {
        list = ACLs.read(r);
      } catch (e) {
        throw new SnapshotError(`malformed snapshot: ${(e as Error).message}`);
      }
      this.at = r.offset;
      this.acls.push(this.tree.internAcl(list));
      this.aclUses.push(1);
      return this.acls[this.acls.length - 1]!;
    }
    if (index < 0 || index >= this.acls.length) throw new SnapshotError(`bad ACL index ${index}`);
    this.aclUses[index]!++;
    return this.acls[index]!;
  }

  /** A long within ±2^53 (zxids, times), as JuteReader.longNumber reads it. */
  private longAt(at: number): number {
    const hi = this.buf.readInt32BE(at);
    if (hi > 0x1fffff || hi < -0x200000) throw new SnapshotError(`malformed snapshot: long out of safe range at offset ${at}`);
    return hi * TWO_32 + this.buf.readUInt32BE(at + 4);
  }

  private int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** A length prefix: -1 (null) or more. */
  private length(what: string): number {
    const len = this.int();
    if (len < -1) throw new SnapshotError(`malformed snapshot: negative ${what} length ${len}`);
    return len;
  }

  /** Skips `len` bytes (none for -1) and returns where they start. */
  private take(len: number): number {
    const start = this.at;
    if (len > 0) {
      this.need(len);
      this.at += len;
    }
    return start;
  }

  private need(bytes: number): void {
    if (bytes > this.end - this.at) {
      throw new SnapshotError(`malformed snapshot: record truncated: need ${bytes} bytes at offset ${this.at}, have ${this.end - this.at}`);
    }
  }
}

function decodeName(buf: Buffer, at: number, length: number): string {
  try {
    return utf8.decode(buf.subarray(at, at + length));
  } catch {
    throw new SnapshotError(`malformed snapshot: invalid UTF-8 in string at offset ${at}`);
  }
}
