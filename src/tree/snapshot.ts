/**
 * Paddock's own snapshot format (not ZooKeeper's): compact, canonical (ACL lists numbered by
 * first use, sessions sorted), so serialize(deserialize(x)) is x byte for byte. Children come in
 * ZooKeeper's order, as its serializeNode walks them: loading re-adds them in file order into
 * fresh sets, as its deserialize does, so a restart reorders children exactly as ZooKeeper's.
 * Integrity (checksums) is the caller's job.
 *
 *   int magic 'PDSN', int version 1, long lastProcessedZxid
 *   int sessionCount, then (long id, int timeout) per session
 *   int nodeCount, then nodes in preorder, each:
 *     ustring name ('' for the root), int childCount, buffer data,
 *     int aclIndex (-1 = a new list follows as vector<ACL>, numbered next),
 *     long czxid, long mzxid, long ctime, long mtime, int version, int storedCversion,
 *     int aversion, long ephemeralOwner, long pzxid
 *   int magic 'PDSN' again, as an end marker
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { ACLs, type ACL } from '../jute/records.js';
import { assert } from '../lib/assert.js';
import { DataTree, type TreeCapture, type TreeOptions } from './datatree.js';
import { NodeLoader, SnapshotError } from './snapshotload.js';
import type { ZNode } from './znode.js';
import { basename } from '../lib/paths.js';

const MAGIC = 0x5044534e; // 'PDSN'
const VERSION = 1;
const CHUNK_BYTES = 1 << 20;

export { SnapshotError };

export interface Snapshot {
  tree: DataTree;
  /** Session id -> timeout (ms). */
  sessions: Map<bigint, number>;
}

/** The snapshot as ~1 MB chunks; concatenated they are the snapshot. */
export function serializeSnapshot(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Buffer[] {
  const capture = captureSnapshot(tree, sessions);
  try {
    return [...capture.chunks];
  } finally {
    capture.release();
  }
}

export interface SnapshotCapture {
  readonly zxid: number;
  /** ~1 MB chunks, produced one at a time; writes may go on between them. */
  readonly chunks: Iterable<Buffer>;
  /** Ends the capture; call it once the chunks are consumed or abandoned. */
  release(): void;
}

/**
 * Captures the tree as it is now and serializes it lazily, chunk by chunk: the tree records the
 * old state of whatever changes meanwhile (copy-on-write), so the snapshot is exactly the tree
 * at `zxid` although writes are not stopped while it is written.
 */
export function captureSnapshot(tree: DataTree, sessions: ReadonlyMap<bigint, number>): SnapshotCapture {
  const view = tree.beginCapture();
  const zxid = view.zxid;
  const size = tree.size;
  const sessionList = [...sessions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    view.end();
  };
  function* chunks(): Generator<Buffer> {
    const out = new ChunkWriter();
    out.w.int(MAGIC).int(VERSION).longNumber(zxid);
    out.w.int(sessionList.length);
    for (const [id, timeout] of sessionList) out.w.long(id).int(timeout);
    out.w.int(size);
    yield* writeNodes(view, out);
    out.w.int(MAGIC);
    yield* out.finish();
  }
  return { zxid, chunks: chunks(), release };
}

/**
 * Preorder, children in ZooKeeper's order. The walk keeps one frame per open node (its child paths,
 * the next one to write) rather than a path per pending node, so a leaf costs its lookup and
 * its bytes only. Child paths are the tree's own key strings: no path is built here.
 */
function* writeNodes(view: TreeCapture, out: ChunkWriter): Generator<Buffer> {
  const aclIndex = new Map<readonly ACL[], number>();
  const frames: (readonly string[])[] = [];
  const next: number[] = [];
  let depth = 0;
  const root = view.node('/')!;
  const rootChildren = root.orderedChildPaths();
  writeNode(out.w, '', rootChildren.length, root, aclIndex);
  if (rootChildren.length > 0) {
    frames[0] = rootChildren;
    next[0] = 0;
    depth = 1;
  }
  while (depth > 0) {
    const d = depth - 1;
    const siblings = frames[d]!;
    if (next[d] === siblings.length) {
      depth--;
      continue;
    }
    const path = siblings[next[d]!++]!;
    const node = view.node(path)!;
    const children = node.orderedChildPaths();
    writeNode(out.w, basename(path), children.length, node, aclIndex);
    if (children.length > 0) {
      frames[depth] = children;
      next[depth] = 0;
      depth++;
    }
    const full = out.takeFull();
    if (full !== null) yield full;
  }
}

function writeNode(w: JuteWriter, name: string, childCount: number, node: ZNode, aclIndex: Map<readonly ACL[], number>): void {
  w.string(name).int(childCount).buffer(node.stored);
  const index = aclIndex.get(node.acl);
  if (index === undefined) {
    aclIndex.set(node.acl, aclIndex.size);
    w.int(-1);
    ACLs.write(w, node.acl);
  } else {
    w.int(index);
  }
  w.longNumber(node.czxid).longNumber(node.mzxid).longNumber(node.ctime).longNumber(node.mtime);
  w.int(node.version).int(node.storedCversion).int(node.aversion);
  w.long(node.ephemeralOwner).longNumber(node.pzxid);
}

/** A chunk's buffer holds a chunk plus one typical node, so it rarely has to grow (a copy). */
const CHUNK_BUFFER_BYTES = CHUNK_BYTES + 64 * 1024;

class ChunkWriter {
  w = new JuteWriter(CHUNK_BUFFER_BYTES);

  /** The bytes written so far once they reach a chunk's size, else null. */
  takeFull(): Buffer | null {
    if (this.w.offset < CHUNK_BYTES) return null;
    const chunk = this.w.bytes();
    this.w = new JuteWriter(CHUNK_BUFFER_BYTES);
    return chunk;
  }

  finish(): Buffer[] {
    return this.w.offset > 0 ? [this.w.bytes()] : [];
  }
}

/** Rebuilds a tree and session table; throws SnapshotError on anything malformed. */
export function deserializeSnapshot(bytes: Buffer | readonly Buffer[], options: TreeOptions = {}): Snapshot {
  const loader = new SnapshotLoader(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes as Buffer[]), options);
  while (!loader.step(Number.POSITIVE_INFINITY));
  return loader.result();
}

/**
 * Loads a snapshot a slice of nodes at a time, so that a driver can let I/O run in between (the
 * server opens its txn log meanwhile). Throws SnapshotError on anything malformed.
 */
export class SnapshotLoader {
  private readonly r: JuteReader;
  private readonly tree: DataTree;
  private readonly lastProcessedZxid: number;
  private readonly sessions: Map<bigint, number>;
  private readonly count: number;
  private readonly nodes: NodeLoader;
  private loaded = 0;
  private done = false;

  constructor(buf: Buffer, options: TreeOptions = {}) {
    this.tree = new DataTree(options);
    this.r = new JuteReader(buf, 0, buf.length, 0x7fffffff);
    const r = this.r;
    try {
      if (r.int() !== MAGIC) throw new SnapshotError('not a Paddock snapshot (bad magic)');
      const version = r.int();
      if (version !== VERSION) throw new SnapshotError(`unsupported snapshot version ${version}`);
      this.lastProcessedZxid = r.longNumber();
      this.sessions = readSessions(r);
      this.count = checkedCount(r, 64);
    } catch (e) {
      throw asSnapshotError(e);
    }
    this.tree.clear();
    this.nodes = new NodeLoader(buf, r.offset, r.end, this.tree);
  }

  /** Loads up to `maxNodes` more nodes; true once the whole snapshot is loaded. */
  step(maxNodes: number): boolean {
    if (this.done) return true;
    const stop = Math.min(this.count, this.loaded + maxNodes);
    try {
      for (; this.loaded < stop; this.loaded++) this.nodes.next(this.loaded);
      if (this.loaded === this.count) this.end();
    } catch (e) {
      throw asSnapshotError(e);
    }
    return this.done;
  }

  /** The loaded tree and sessions, once step() has returned true. */
  result(): Snapshot {
    assert(this.done, 'snapshot not fully loaded');
    return { tree: this.tree, sessions: this.sessions };
  }

  private end(): void {
    this.nodes.finish(this.count);
    const r = this.r;
    r.offset = this.nodes.at;
    if (r.int() !== MAGIC) throw new SnapshotError('snapshot end marker missing');
    if (r.remaining() !== 0) throw new SnapshotError(`${r.remaining()} trailing bytes after snapshot`);
    this.tree.lastProcessedZxid = this.lastProcessedZxid;
    this.done = true;
  }
}

function asSnapshotError(e: unknown): SnapshotError {
  return e instanceof SnapshotError ? e : new SnapshotError(`malformed snapshot: ${(e as Error).message}`);
}

function readSessions(r: JuteReader): Map<bigint, number> {
  const count = checkedCount(r, 12);
  const sessions = new Map<bigint, number>();
  for (let i = 0; i < count; i++) {
    const id = r.long();
    sessions.set(id, r.int());
  }
  return sessions;
}

function checkedCount(r: JuteReader, minBytesEach: number): number {
  const count = r.int();
  if (count < 0 || count * minBytesEach > r.remaining()) throw new SnapshotError(`bad count ${count}`);
  return count;
}
