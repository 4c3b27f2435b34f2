/**
 * What a ZooKeeper 3.8 leader streams after SNAP (ZKDatabase.serializeSnapshot, then the
 * signature): int sessionCount + (long id, int timeout)*, the ACL table as int count +
 * (long key, vector<ACL>)*, every node in preorder as (ustring path, buffer data, long aclKey,
 * StatPersisted) with the root's path "", the path "/" to end, then ustring "BenWasHere".
 * `readZkSnapshotBody` (src/persistence/zkformat.ts) reads the same bytes.
 *
 * The stream is made a slice at a time from a copy-on-write capture of the tree
 * (DataTree.beginCapture), so that a leader sends a large tree while it goes on serving:
 * `SnapshotSender` writes one slice per event-loop turn, waits for 'drain' when the socket's
 * buffer is full, and holds the packets that follow SNAP until the stream is out.
 */
import type { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { JuteWriter } from '../../jute/binary.js';
import { ACLs, type ACL } from '../../jute/records.js';
import type { DataTree, TreeCapture } from '../../tree/datatree.js';

export const SNAP_SIGNATURE = 'BenWasHere';

/** Bytes of stream one slice makes (plus one node at most): a few milliseconds of work. */
export const SNAP_SLICE_BYTES = 64 * 1024;
/** Nodes one slice of the first pass (numbering the ACL lists) visits. */
const SNAP_SLICE_NODES = 4096;
/** Most bytes of packets held behind a stream before the learner is given up. */
export const SNAP_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** The whole stream of the tree as it is now, in one buffer (the simulator and tests use it). */
export function writeZkSnapshotStream(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Buffer {
  const capture = tree.beginCapture();
  try {
    return Buffer.concat([...zkSnapshotSlices(capture, [...sessions], Number.POSITIVE_INFINITY)]);
  } finally {
    capture.end();
  }
}

/**
 * The stream of `capture`, slice by slice. The ACL table comes before the nodes and numbers the
 * distinct lists (the tree interns them, so identity finds them) from 1 in order of first use,
 * as ReferenceCountedACLCache's keys start at 1; so a first pass walks the captured tree and
 * its slices yield empty buffers. Then each slice yields about `sliceBytes` of the stream.
 * Children come in the order of each node's child set, as the nodes were added.
 */
export function* zkSnapshotSlices(capture: TreeCapture, sessions: readonly (readonly [bigint, number])[], sliceBytes = SNAP_SLICE_BYTES): Generator<Buffer> {
  const keys = new Map<ACL[], number>();
  const order: string[] = [];
  for (const path of preorder(capture)) {
    const node = capture.node(path)!;
    order.push(path);
    if (!keys.has(node.acl)) keys.set(node.acl, keys.size + 1);
    if (order.length % SNAP_SLICE_NODES === 0) yield EMPTY;
  }
  // Room for a slice and a typical node past it, so the buffer rarely grows (a copy).
  const bufferBytes = Math.min(sliceBytes, SNAP_SLICE_BYTES) + 64 * 1024;
  let w = new JuteWriter(bufferBytes);
  w.int(sessions.length);
  for (const [id, timeout] of sessions) w.long(id).int(timeout);
  w.int(keys.size);
  for (const [acl, key] of keys) {
    w.longNumber(key);
    ACLs.write(w, acl);
  }
  for (const path of order) {
    const n = capture.node(path)!;
    w.string(path === '/' ? '' : path).buffer(n.stored).longNumber(keys.get(n.acl)!);
    w.longNumber(n.czxid).longNumber(n.mzxid).longNumber(n.ctime).longNumber(n.mtime);
    w.int(n.version).int(n.storedCversion).int(n.aversion).long(n.ephemeralOwner).longNumber(n.pzxid);
    if (w.offset >= sliceBytes) {
      yield w.bytes();
      w = new JuteWriter(bufferBytes);
    }
  }
  w.string('/');
  w.string(SNAP_SIGNATURE);
  yield w.bytes();
}

const EMPTY = Buffer.alloc(0);

/**
 * Paths of the captured tree in preorder. Each open node's children are copied when it is
 * visited: the live child set may change between slices, the captured node's may not.
 */
function* preorder(capture: TreeCapture): Generator<string> {
  const frames: string[][] = [];
  const next: number[] = [];
  yield '/';
  frames.push([...capture.node('/')!.childPaths]);
  next.push(0);
  while (frames.length > 0) {
    const d = frames.length - 1;
    const siblings = frames[d]!;
    if (next[d] === siblings.length) {
      frames.pop();
      next.pop();
      continue;
    }
    const path = siblings[next[d]!++]!;
    yield path;
    const children = capture.node(path)!.childPaths;
    if (children.size > 0) {
      frames.push([...children]);
      next.push(0);
    }
  }
}

/** How a stream went, for the leader's log. */
export interface SnapshotSent {
  bytes: number;
  slices: number;
  elapsedMs: number;
  /** Time spent making and writing slices, in all: what sending the stream in one go would have held the leader for. */
  busyMs: number;
  /** The longest the leader spent making and writing one slice (its event loop was held that long). */
  longestSliceMs: number;
}

/**
 * Streams a capture to one learner's socket, one slice per event-loop turn, and ends the
 * capture however the stream ends. The packets the leader sends that learner meanwhile
 * (`enqueue`) go out after the stream, in order. `onEnd` is called once, from a turn of its own,
 * with the stream's figures or the reason it failed; not after `abort()` or a refused `enqueue`.
 */
export class SnapshotSender {
  private readonly slices: Generator<Buffer>;
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  private next: NodeJS.Immediate | null = null;
  private ended = false;
  private readonly startedAt = performance.now();
  private readonly sent: SnapshotSent = { bytes: 0, slices: 0, elapsedMs: 0, busyMs: 0, longestSliceMs: 0 };

  constructor(
    private readonly out: Writable,
    private readonly capture: TreeCapture,
    sessions: ReadonlyMap<bigint, number>,
    private readonly onEnd: (result: SnapshotSent | Error) => void,
    private readonly maxQueuedBytes = SNAP_MAX_QUEUED_BYTES,
  ) {
    // The session table is copied now: it changes with the tree.
    this.slices = zkSnapshotSlices(capture, [...sessions]);
  }

  /** Sends the first slice on the next turn (after the packets of this one, SNAP among them). */
  start(): void {
    this.next = setImmediate(this.slice);
  }

  /**
   * Holds a packet for after the stream. False once past the limit: the stream then stops as by
   * `abort()` (the caller gives the learner up), and every later packet is refused too.
   */
  enqueue(bytes: Buffer): boolean {
    if (this.ended) return false;
    this.queuedBytes += bytes.length;
    if (this.queuedBytes > this.maxQueuedBytes) {
      this.release();
      return false;
    }
    this.queued.push(bytes);
    return true;
  }

  /** The learner is gone or the leader stops: the capture ends, nothing more is written. */
  abort(): void {
    this.release();
  }

  private readonly slice = (): void => {
    this.next = null;
    if (this.ended) return;
    if (this.out.destroyed) return this.stop(new Error('connection closed during the snapshot'));
    const began = performance.now();
    let writable = true;
    let done = false;
    try {
      const step = this.slices.next();
      done = step.done === true;
      if (!done && step.value.length > 0) {
        writable = this.out.write(step.value);
        this.sent.bytes += step.value.length;
      }
    } catch (err) {
      return this.stop(err as Error);
    }
    const sliceMs = performance.now() - began;
    this.sent.slices++;
    this.sent.busyMs += sliceMs;
    this.sent.longestSliceMs = Math.max(this.sent.longestSliceMs, sliceMs);
    if (done) return this.finish();
    if (writable) this.next = setImmediate(this.slice);
    else this.out.once('drain', this.resume);
  };

  private readonly resume = (): void => {
    if (!this.ended) this.next = setImmediate(this.slice);
  };

  private finish(): void {
    const queued = this.queued.splice(0);
    this.release();
    this.out.cork();
    for (const bytes of queued) this.out.write(bytes);
    this.out.uncork();
    this.sent.elapsedMs = performance.now() - this.startedAt;
    this.onEnd(this.sent);
  }

  private stop(err: Error): void {
    this.release();
    this.onEnd(err);
  }

  private release(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.next !== null) clearImmediate(this.next);
    this.next = null;
    this.out.off('drain', this.resume);
    this.queued.length = 0;
    this.capture.end();
  }
}
