/**
 * A server's durable quorum state in the simulator: the real DiskQuorumStore (what an ensemble
 * member runs on) over a MemoryDisk that outlives the server's crashes, plus what the checkers
 * need to see on every write: one txn per zxid across the whole ensemble, logs in increasing
 * zxid order, and which zxids a server holds durably.
 *
 * A crash is the MemoryDisk's: what was not fsynced is lost, and the unsynced bytes of each
 * file may survive as a prefix (a torn last write). The nemesis may also arm a crash at the
 * k-th disk operation from now (a write, sync, truncate, open, rename, removal or directory
 * sync), which is how a server dies in the middle of carrying out a Ready, a truncation, a
 * SNAP install or a periodic snapshot.
 */
import { MemoryDisk } from '../io/disk.js';
import type { ZkSnapshot } from '../persistence/zkformat.js';
import type { LogEntry } from '../consensus/learner.js';
import { zxidToHex, type Zxid } from '../consensus/zxid.js';
import { DiskQuorumStore, type QuorumState } from '../server/quorum/disk-store.js';
import type { DataTree } from '../tree/datatree.js';
import type { World } from './world.js';

/** The first bytes every server logged at each zxid, shared by all stores of one run. */
export class ZxidLedger {
  private readonly data = new Map<Zxid, Buffer>();

  record(sid: number, entry: LogEntry): void {
    const known = this.data.get(entry.zxid);
    if (known === undefined) this.data.set(entry.zxid, Buffer.from(entry.data));
    else if (!known.equals(entry.data)) throw new SimViolation(`two txns at zxid ${zxidToHex(entry.zxid)}: server ${sid} logged one that differs from another server's`);
  }

  get(zxid: Zxid): Buffer | undefined {
    return this.data.get(zxid);
  }

  /** Every txn any server ever logged. */
  values(): IterableIterator<Buffer> {
    return this.data.values();
  }
}

export class SimViolation extends Error {
  override name = 'SimViolation';
}

export interface CheckedStoreOptions {
  sid: number;
  dataDir: string;
  ledger: ZxidLedger;
  world: World;
  /** ZooKeeper's snapCount: small, so that periodic snapshots happen within a run. */
  snapCount: number;
  /** False for the 'fsync-lies' sabotage: appends settle before they are durable. */
  forceSync: boolean;
}

type Tree = { tree: DataTree; sessions: Map<bigint, number> };

/**
 * The server's store across incarnations: `open()` at each boot (recovery as at a real start),
 * `crash()` when the process dies. Between the two the server has no store.
 */
export class CheckedStore {
  readonly disk = new MemoryDisk();
  private inner: DiskQuorumStore | null = null;
  /** Settles once the store of the last incarnation let go of its lock. */
  private closing: Promise<void> = Promise.resolve();
  /** Zxids logged durably after the snapshot (append done; cut at truncation and SNAP). */
  private readonly logged = new Set<Zxid>();
  private snapshotZxid: Zxid = 0n;
  /** The last zxid handed to the log, to check that it only grows. */
  private last: Zxid = 0n;
  /** currentEpoch as last made durable (kept while the server is down, for the checkers). */
  durableCurrentEpoch = 0n;
  /** What the last open repaired (DiskQuorumStore.open's warnings), for the trace. */
  warnings: string[] = [];
  /** Disk operations left before the armed crash, or null. */
  private crashIn: number | null = null;
  /** Called when an armed crash strikes, from inside the disk operation (which then fails). */
  onCrashPoint: () => void = () => undefined;

  constructor(private readonly o: CheckedStoreOptions) {
    this.disk.fault = () => this.diskOperation();
  }

  private get store(): DiskQuorumStore {
    if (this.inner === null) throw new Error(`server ${this.o.sid} has no open store`);
    return this.inner;
  }

  get isOpen(): boolean {
    return this.inner !== null;
  }

  /** Recovers the data directory as a start does: the state to serve from. */
  async open(): Promise<QuorumState> {
    await this.closing;
    const opened = await DiskQuorumStore.open(this.disk.session(), {
      dataDir: this.o.dataDir,
      preAllocSizeKb: 1,
      snapCount: this.o.snapCount,
      forceSync: this.o.forceSync,
      random: () => this.o.world.rng.next(),
    });
    this.inner = opened.store;
    this.warnings = opened.warnings;
    const state = opened.state;
    this.logged.clear();
    this.snapshotZxid = state.snapshotZxid;
    this.last = state.lastLoggedZxid;
    this.durableCurrentEpoch = state.currentEpoch;
    for await (const e of opened.store.readAfter(state.snapshotZxid)) this.logged.add(e.zxid);
    return state;
  }

  /**
   * Power loss: the disk keeps what was synced, each file perhaps a torn prefix of its unsynced
   * writes; the dead incarnation's store fails every call from now on and lets go of its lock.
   */
  crash(): void {
    const rng = this.o.world.rng;
    this.disk.crash((_path, unsynced) => (rng.bool() ? rng.int(unsynced + 1) : 0));
    this.crashIn = null;
    const dead = this.inner;
    this.inner = null;
    if (dead) {
      this.o.world.expectMicrotasks();
      this.closing = dead.close().catch(() => undefined);
    }
  }

  /** The next crash strikes at the `ops`-th disk operation from now (0: the next one); null disarms. */
  armCrash(ops: number | null): void {
    this.crashIn = ops;
  }

  get crashArmed(): boolean {
    return this.crashIn !== null;
  }

  /** Settles once the last incarnation's store is closed (its lock released). */
  closed(): Promise<void> {
    return this.closing;
  }

  private diskOperation(): string | null {
    if (this.crashIn === null) return null;
    if (this.crashIn-- > 0) return null;
    this.crashIn = null;
    this.onCrashPoint();
    return 'EIO';
  }

  /**
   * Every way into the store from an event says that promise reactions are queued; what they
   * start in turn runs in the same drain (one macrotask turn runs every microtask queued).
   */
  private call<T>(p: Promise<T>): Promise<T> {
    this.o.world.expectMicrotasks();
    return p;
  }

  // ---- the QuorumStore calls the drivers make ----

  get acceptedEpoch(): bigint {
    return this.store.acceptedEpoch;
  }

  get currentEpoch(): bigint {
    return this.store.currentEpoch;
  }

  get lastLoggedZxid(): Zxid {
    return this.store.lastLoggedZxid;
  }

  get snapshotDue(): boolean {
    return this.store.snapshotDue;
  }

  history(from?: Zxid): Promise<{ snapshotZxid: Zxid; log: LogEntry[] }> {
    return this.call(this.store.history(from));
  }

  installZkSnapshot(zxid: Zxid, snap: ZkSnapshot): Promise<Tree> {
    // Txns after the snapshot go first; until the snapshot is durable the older log holds the rest.
    for (const z of [...this.logged]) if (z > zxid) this.logged.delete(z);
    this.last = zxid;
    return this.call(
      this.store.installZkSnapshot(zxid, snap).then((installed) => {
        this.logged.clear();
        this.snapshotZxid = zxid;
        return installed;
      }),
    );
  }

  truncate(zxid: Zxid): Promise<Tree> {
    return this.call(
      this.store.truncate(zxid).then(async (left) => {
        for (const z of [...this.logged]) if (z > zxid) this.logged.delete(z);
        if (zxid < this.last) this.last = zxid;
        if (left.snapshotZxid < this.snapshotZxid) {
          // Cut below its newest snapshot, the store went back to an older one: what it holds is
          // that snapshot and the (long durable) log after it, which this view never listed.
          this.snapshotZxid = left.snapshotZxid;
          for await (const e of this.store.readAfter(left.snapshotZxid)) if (e.zxid <= zxid) this.logged.add(e.zxid);
        }
        return left;
      }),
    );
  }

  /**
   * A full sync by DIFF: the empty tree and `entries` replace the state (DiskQuorumStore.reset:
   * the first `committed` as a snapshot at the last of them, the rest logged after it).
   */
  reset(entries: readonly LogEntry[], committed: number): Promise<void> {
    const snapZxid = entries[committed - 1]?.zxid ?? 0n;
    for (const e of entries) this.o.ledger.record(this.o.sid, e);
    // The log after the new snapshot's zxid goes first; the old state keeps the rest until it is durable.
    for (const z of [...this.logged]) if (z > snapZxid) this.logged.delete(z);
    this.last = entries.at(-1)?.zxid ?? 0n;
    return this.call(
      this.store.reset(entries, committed).then(() => {
        this.logged.clear();
        for (const e of entries.slice(committed)) this.logged.add(e.zxid);
        this.snapshotZxid = snapZxid;
      }),
    );
  }

  /** A TRUNC was refused: the next sync asks for the whole state. */
  get fullSyncNeeded(): boolean {
    return this.store.fullSyncNeeded;
  }

  appendThen(zxid: Zxid, data: Buffer, done: (err: Error | null) => void): void {
    if (zxid <= this.last) throw new SimViolation(`server ${this.o.sid} logs ${zxidToHex(zxid)} after ${zxidToHex(this.last)}`);
    this.o.ledger.record(this.o.sid, { zxid, data });
    this.last = zxid;
    this.o.world.expectMicrotasks();
    this.store.appendThen(Number(zxid), data, (err) => {
      if (err === null) this.logged.add(zxid);
      // Never throw into the txn log's loop: the run stops with the error instead.
      try {
        done(err);
      } catch (thrown) {
        this.o.world.fail(thrown);
      }
    });
  }

  setAcceptedEpoch(epoch: bigint): Promise<void> {
    return this.call(this.store.setAcceptedEpoch(epoch));
  }

  setCurrentEpoch(epoch: bigint): Promise<void> {
    return this.call(
      this.store.setCurrentEpoch(epoch).then(() => {
        this.durableCurrentEpoch = epoch;
      }),
    );
  }

  beginEpochUpdate(): Promise<void> {
    return this.call(this.store.beginEpochUpdate());
  }

  whenIdle(): Promise<void> {
    return this.call(this.store.whenIdle());
  }

  diffAfter(zxid: Zxid, through: Zxid, maxBytes?: number): Promise<LogEntry[] | null> {
    return this.call(this.store.diffAfter(zxid, through, maxBytes));
  }

  snapshotLive(source: () => { tree: DataTree; sessions: ReadonlyMap<bigint, number> }): Promise<unknown> {
    return this.call(this.store.snapshotLive(source));
  }

  // ---- for the checkers ----

  /** The durable acceptedEpoch, or 0 while the server is down. */
  get accepted(): bigint {
    return this.inner?.acceptedEpoch ?? 0n;
  }

  /** Whether a crash now would keep txn `zxid` (logged and synced, or inside a snapshot). */
  holds(zxid: Zxid): boolean {
    return this.logged.has(zxid) || zxid <= this.snapshotZxid;
  }

  /** The durably logged zxids after the snapshot. */
  loggedZxids(): Zxid[] {
    return [...this.logged].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  lastHeld(): Zxid {
    const logged = this.loggedZxids();
    return logged.at(-1) ?? this.snapshotZxid;
  }
}
