/**
 * The durable state of an ensemble member, over the data directory as a standalone server lays
 * it out (<dataDir>/version-2: snapshot.<hex>, log.<hex> in Paddock's formats, plus ZooKeeper's
 * acceptedEpoch and currentEpoch files), so an ensemble member survives kill -9 and restarts as
 * ZooKeeper's does.
 *
 * It is the disk behind the learner's store (`LearnerStore` in learner-driver.ts: install a
 * snapshot, truncate, append, the two epochs) and the leader's reads (its history after the
 * newest snapshot, the log after a zxid for a DIFF). Unlike the memory store every call is
 * asynchronous: its promise settles once the effect is durable, so the driver must wait for it
 * before it sends what depends on it (persist before send).
 *
 * Crash safety rests on doing every change in an order whose every prefix is a state the server
 * could have been in: see `truncate` and `installSnapshot`.
 */
import * as nodePath from 'node:path';
import type { Disk } from '../../io/disk.js';
import { assert } from '../../lib/assert.js';
import { hex } from '../../lib/hex.js';
import { decodeTxn } from '../../jute/txn.js';
import type { LogEntry } from '../../consensus/learner.js';
import { zxidFromNumber, zxidToNumber, type Zxid } from '../../consensus/zxid.js';
import { ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, loadEpochs, removeUpdatingEpochMarker, writeEpochFile, writeUpdatingEpochMarker } from '../../persistence/epochs.js';
import { PersistenceError, ZxidGapError } from '../../persistence/errors.js';
import { acquireDataDirLock, type LockOptions } from '../../persistence/lock.js';
import { listSnapshots, loadNewestValidSnapshot, removeSnapshotTemps, verifySnapshot, writeSnapshot, SnapshotPolicy } from '../../persistence/snapshots.js';
import { closeStore, liveStore, openStore, purgeStore, storeDirs, type LiveStore } from '../../persistence/store.js';
import type { PurgeResult } from '../../persistence/purge.js';
import { listSegments, TxnLog, type AppendDone, type TxnLogStats } from '../../persistence/txnlog.js';
import type { ZkSnapshot } from '../../persistence/zkformat.js';
import { findZxidGaps, gapPlace, zxidFollows, type ZxidGap } from '../../persistence/zxidgaps.js';
import { replayTxn } from '../../sessions/replay.js';
import { DataTree, type TreeOptions } from '../../tree/datatree.js';
import { captureSnapshot, deserializeSnapshot } from '../../tree/snapshot.js';
import { treeFromZkSnapshot, TruncateRefusedError } from './learner-driver.js';
import { RecentTxns } from './recent-txns.js';
import { DEFAULT_COMMIT_LOG_COUNT } from '../../consensus/leader.js';
import { moveAside, newestValidZkSnapshot, ZK_BACKUP_DIR, zkTxnsAfter, zooKeeperFilesIn } from '../../persistence/zkmigrate.js';

export interface DiskQuorumStoreOptions extends LockOptions {
  dataDir: string;
  /** Default dataDir. */
  dataLogDir?: string;
  /** fsync before an append settles (ZooKeeper's forceSync). Default true. */
  forceSync?: boolean;
  preAllocSizeKb?: number;
  /** Start over zxids missing in the history (reported as warnings); off: ZxidGapError. */
  acceptDataLoss?: boolean;
  tree?: TreeOptions;
  /** ZooKeeper's snapCount for `snapshotDue` (default 100000). */
  snapCount?: number;
  /** Uniform in [0, 1) for the snapshot policy's spread (default Math.random). */
  random?: () => number;
  /**
   * How many of the newest logged txns `history` returns from memory (at least; default
   * ZooKeeper's commitLogCount, 500): a leader's DIFF window needs no more.
   */
  recentTxns?: number;
}

/** What the member starts from: the tree of its snapshot plus every logged txn, and its epochs. */
export interface QuorumState {
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  tree: DataTree;
  /** Session id -> timeout ms. */
  sessions: Map<bigint, number>;
  /** Zxid of the snapshot the tree was loaded from. */
  snapshotZxid: Zxid;
  /** The last logged txn, else the snapshot's zxid: what ACKEPOCH reports and votes carry. */
  lastLoggedZxid: Zxid;
}

export interface OpenedQuorumStore {
  store: DiskQuorumStore;
  state: QuorumState;
  /** Repairs, created epoch files, an import from ZooKeeper: one line each, to log at start. */
  warnings: string[];
  /** Set when this start converted a ZooKeeper 3.x data directory. */
  imported: ZooKeeperImport | null;
}

/**
 * LearnerStore's operations (learner-driver.ts) for a driver that waits for each to be durable:
 * what DiskQuorumStore offers the learner. `truncate` returns the state rebuilt from what is
 * left, `installZkSnapshot` the tree it built, so the driver need not build them again.
 */
export interface AsyncLearnerStore {
  installZkSnapshot(zxid: Zxid, snap: ZkSnapshot): Promise<{ tree: DataTree; sessions: Map<bigint, number> }>;
  truncate(zxid: Zxid): Promise<QuorumState>;
  reset(entries: readonly LogEntry[], committed: number): Promise<void>;
  append(entries: readonly LogEntry[]): Promise<void>;
  setAcceptedEpoch(epoch: bigint): Promise<void>;
  setCurrentEpoch(epoch: bigint): Promise<void>;
  beginEpochUpdate(): Promise<void>;
}

export class DiskQuorumStore implements AsyncLearnerStore {
  private acceptedEpochValue: bigint;
  private currentEpochValue: bigint;
  private snapshotZxidValue: Zxid;
  private readonly policy: SnapshotPolicy;
  private closed = false;
  /** The last of the operations that replace or cut the history (truncate, SNAP, snapshots, purge): they run one at a time. */
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  /** Bumped by every truncation and SNAP install: a snapshot asked for before one is not taken. */
  private generation = 0;
  /** True when enough has been logged since the last snapshot (snapCount, randomised). */
  snapshotDue = false;
  /**
   * A TRUNC was refused: the next sync asks the leader for its whole state. Kept in memory only:
   * after a restart the next refused TRUNC sets it again.
   */
  fullSyncNeeded = false;
  /** This incarnation created the `updatingEpoch` marker and has not written currentEpoch since. */
  private updatingEpoch = false;
  /** The marker's removal after a currentEpoch write, under way (never rejects). */
  private markerRemoval: Promise<void> = Promise.resolve();
  /** The newest logged txns, so that `history` need not read the log. */
  private readonly recent: RecentTxns;

  private constructor(
    private readonly disk: Disk,
    private readonly live: LiveStore,
    private readonly options: DiskQuorumStoreOptions,
    epochs: { acceptedEpoch: bigint; currentEpoch: bigint },
    snapshotZxid: Zxid,
    recent: { base: Zxid; log: LogEntry[] },
  ) {
    this.acceptedEpochValue = epochs.acceptedEpoch;
    this.currentEpochValue = epochs.currentEpoch;
    this.snapshotZxidValue = snapshotZxid;
    this.recent = new RecentTxns(recent.base, recentTxnsKept(options));
    this.recent.reset(recent.base, recent.log);
    this.policy = new SnapshotPolicy({ snapCount: options.snapCount ?? 100_000, random: options.random ?? Math.random });
  }

  /**
   * Locks and recovers the data directory (torn log tails cut, unfinished snapshots removed),
   * converting it first if it holds Apache ZooKeeper files (importZooKeeperDataDir), and loads the tree
   * and the epochs. Only the live log is kept afterwards: the replayed records and the
   * snapshot's bytes are dropped. Throws as openStore does, and EpochFileError for a damaged
   * or contradictory epoch file.
   */
  static async open(disk: Disk, options: DiskQuorumStoreOptions): Promise<OpenedQuorumStore> {
    const imported = await importZooKeeperDataDir(disk, options);
    const loaded: { snapshot: { tree: DataTree; sessions: Map<bigint, number> } | null } = { snapshot: null };
    const opened = await openStore(disk, { ...options }, async (found) => {
      if (found !== null) loaded.snapshot = deserializeSnapshot(found.data, options.tree);
    });
    const warnings = [...(imported?.warnings ?? []), ...opened.warnings];
    try {
      const { tree, sessions } = loaded.snapshot ?? { tree: new DataTree(options.tree), sessions: new Map<bigint, number>() };
      let snapshotZxid = opened.snapshot?.zxid ?? 0;
      // An empty start writes the empty tree at zxid 0, as a standalone start does, so that the
      // log always has a snapshot to be replayed over.
      if (!opened.snapshot) await writeTreeSnapshot(disk, opened.snapDir, tree, sessions);
      for (const record of opened.records) replayRecord(tree, sessions, record.zxid, record.bytes, opened.logDir);
      if (opened.lostZxids.length > 0) {
        // Put the hole behind a snapshot, so the next start needs no flag (as a standalone start does).
        snapshotZxid = tree.lastProcessedZxid;
        await writeTreeSnapshot(disk, opened.snapDir, tree, sessions);
        opened.log.roll();
      }
      const lastLogged = zxidFromNumber(Math.max(opened.log.lastZxid, snapshotZxid));
      const epochs = await loadEpochs(disk, opened.snapDir, lastLogged);
      warnings.push(...epochs.warnings);
      const store = new DiskQuorumStore(disk, liveStore(opened), options, epochs, zxidFromNumber(snapshotZxid), newestRecords(opened, snapshotZxid, recentTxnsKept(options)));
      const { acceptedEpoch, currentEpoch } = epochs;
      const state: QuorumState = { acceptedEpoch, currentEpoch, tree, sessions, snapshotZxid: zxidFromNumber(snapshotZxid), lastLoggedZxid: lastLogged };
      return { store, state, warnings, imported };
    } catch (err) {
      await closeStore(opened).catch(() => undefined);
      throw err;
    }
  }

  get acceptedEpoch(): bigint {
    return this.acceptedEpochValue;
  }

  get currentEpoch(): bigint {
    return this.currentEpochValue;
  }

  /** The zxid of the snapshot a restart starts from (its txns need not be in the log). */
  get snapshotZxid(): Zxid {
    return this.snapshotZxidValue;
  }

  /** The last durable logged txn, else the snapshot's zxid. */
  get lastLoggedZxid(): Zxid {
    return zxidFromNumber(Math.max(this.live.log.lastZxid, zxidToNumber(this.snapshotZxidValue)));
  }

  get snapDir(): string {
    return this.live.snapDir;
  }

  /** Records and batches the log has written so far (mntr's sync_processor_batch_size). */
  get txnLogStats(): Readonly<TxnLogStats> {
    return this.live.log.stats;
  }

  get logDir(): string {
    return this.live.logDir;
  }

  /** Writes `acceptedEpoch` durably (before ACKEPOCH is sent). */
  async setAcceptedEpoch(epoch: bigint): Promise<void> {
    await writeEpochFile(this.disk, this.live.snapDir, ACCEPTED_EPOCH_FILE, epoch);
    this.acceptedEpochValue = epoch;
  }

  /**
   * Writes `currentEpoch` durably (before NEWLEADER is acknowledged), then drops the updatingEpoch
   * marker in the background: once currentEpoch covers the log the marker changes nothing at a
   * restart (loadEpochs), so the ACK need not wait for its removal.
   */
  async setCurrentEpoch(epoch: bigint): Promise<void> {
    await writeEpochFile(this.disk, this.live.snapDir, CURRENT_EPOCH_FILE, epoch);
    this.currentEpochValue = epoch;
    if (this.updatingEpoch) {
      this.updatingEpoch = false;
      this.markerRemoval = removeUpdatingEpochMarker(this.disk, this.live.snapDir).catch(() => undefined);
    }
  }

  /**
   * Creates the `updatingEpoch` marker durably, before a sync writes history that may be of an
   * epoch newer than currentEpoch (a SNAP, or NEWLEADER's txns): a crash before currentEpoch is
   * written then restarts with currentEpoch raised to the last zxid's epoch (loadEpochs)
   * instead of refusing to start. setCurrentEpoch removes it.
   */
  async beginEpochUpdate(): Promise<void> {
    this.assertOpen();
    // A removal still under way would otherwise delete the marker made now.
    await this.markerRemoval;
    if (this.updatingEpoch) return;
    await writeUpdatingEpochMarker(this.disk, this.live.snapDir);
    this.updatingEpoch = true;
  }

  /** Logs txns in zxid order; settles once all are durable (one group-committed fsync). */
  append(entries: readonly LogEntry[]): Promise<void> {
    return Promise.all(
      entries.map(
        (e) => new Promise<void>((resolve, reject) => this.appendThen(zxidToNumber(e.zxid), e.data, (err) => (err ? reject(err) : resolve()))),
      ),
    ).then(() => undefined);
  }

  /** One txn, with a callback instead of a promise (the broadcast hot path). */
  appendThen(zxid: number, bytes: Buffer, done: AppendDone): void {
    this.live.log.appendThen(zxid, bytes, (err) => {
      if (err) this.recent.forget();
      done(err);
    });
    this.recent.add({ zxid: zxidFromNumber(zxid), data: bytes });
    if (this.policy.onTxnLogged(bytes.length)) this.snapshotDue = true;
  }

  /**
   * Drops every logged txn after `zxid` (TRUNC), and every snapshot after it, then rebuilds the
   * state from what is left. Refused (TruncateRefusedError, and `fullSyncNeeded` is set), before
   * anything changes, when what is left could not reproduce the history up to `zxid`: no valid
   * snapshot at or before it, or a log that stops short of `zxid` while the disk holds more after
   * it (ZooKeeper would load its newest snapshot and carry on; that state would hold the txns the
   * leader told it to drop). A hole in the log between that snapshot and `zxid` is damage:
   * ZxidGapError, unless acceptDataLoss.
   *
   * Order: newer snapshots go first, then the log is cut from its newest segment down. A crash
   * part way restarts from the older snapshot and a log that still reaches at least `zxid`: the
   * state before the truncation, or a part of it.
   */
  truncate(zxid: Zxid): Promise<QuorumState> {
    return this.exclusive(() => this.truncateNow(zxid));
  }

  private async truncateNow(zxid: Zxid): Promise<QuorumState> {
    this.assertOpen();
    this.generation++;
    const z = zxidToNumber(zxid);
    const snaps = await listSnapshots(this.disk, this.live.snapDir);
    const base = await newestValidAtOrBefore(this.disk, this.live.snapDir, snaps, z);
    if (base === null) throw this.refuse(`cannot truncate to zxid ${hex(z)}: no valid snapshot at or before it in ${this.live.snapDir}`);
    const logged = await this.loggedZxids(base.zxid, z);
    const gaps = findZxidGaps(base.zxid, logged);
    if (gaps.length > 0 && !this.options.acceptDataLoss) throw await this.gapError(gaps, base);
    // The leader truncates to a zxid of the history both share: not having it means the state
    // left would not be that history (say, the log before an installed snapshot is gone).
    const reached = logged.at(-1) ?? base.zxid;
    if (reached !== z && (this.live.log.lastZxid > z || snaps.some((s) => s.zxid > z))) {
      throw this.refuse(`cannot truncate to zxid ${hex(z)}: the history on disk reaches only ${hex(reached)} before it (snapshot ${base.name} and the log after it)`);
    }
    const newer = snaps.filter((s) => s.zxid > z).reverse();
    // Until the cut is done the log holds an unknown part of what is cut.
    this.recent.forget();
    for (const s of newer) await this.disk.remove(nodePath.join(this.live.snapDir, s.name));
    if (newer.length > 0) await this.disk.syncDir(this.live.snapDir);
    await this.live.log.truncateAfter(z);
    return this.load();
  }

  private refuse(message: string): TruncateRefusedError {
    this.fullSyncNeeded = true;
    return new TruncateRefusedError(message);
  }

  /**
   * Makes the snapshot a leader sent (SNAP) the whole durable state: `tree` (with `sessions`)
   * must be the state at `zxid` exactly. Order: logged txns after `zxid` go (the leader's
   * history ends at `zxid`, so none of them is committed), the snapshot is written (tmp, fsync,
   * rename, fsync dir), then snapshots after `zxid` go, newest first, and last every log segment
   * (the history before `zxid` may differ from the leader's and must not be replayed or sent in
   * a DIFF). A crash before the snapshot is durable restarts from the old state, or the part of
   * it up to `zxid`; after, from the newest snapshot left, with no log after it: an older state
   * of its own (its newer snapshot was not yet removed) or the new one. Removing a newer snapshot
   * first could leave an older one with txns the log no longer holds: less than was acknowledged.
   */
  installSnapshot(zxid: Zxid, tree: DataTree, sessions: ReadonlyMap<bigint, number>): Promise<void> {
    return this.exclusive(() => this.installSnapshotNow(zxid, tree, sessions));
  }

  private async installSnapshotNow(zxid: Zxid, tree: DataTree, sessions: ReadonlyMap<bigint, number>): Promise<void> {
    this.assertOpen();
    this.generation++;
    const z = zxidToNumber(zxid);
    assert(tree.lastProcessedZxid === z, () => `the tree is at ${hex(tree.lastProcessedZxid)}, not at the snapshot's ${hex(z)}`);
    this.recent.forget();
    await this.live.log.truncateAfter(z);
    await writeTreeSnapshot(this.disk, this.live.snapDir, tree, sessions);
    const newer = (await listSnapshots(this.disk, this.live.snapDir)).filter((s) => s.zxid > z).reverse();
    for (const s of newer) await this.disk.remove(nodePath.join(this.live.snapDir, s.name));
    if (newer.length > 0) await this.disk.syncDir(this.live.snapDir);
    await this.live.log.resetAfter(z);
    this.recent.reset(zxid);
    this.snapshotZxidValue = zxid;
    this.snapshotDue = false;
    this.fullSyncNeeded = false;
  }

  /**
   * A full sync by DIFF (the leader's whole history, asked for after a refused TRUNC): the empty
   * tree followed by `entries` replaces the whole state. The first `committed` entries are
   * applied to an empty tree and installed as a snapshot at the last of them (installSnapshot's
   * order: the old state stays until the snapshot is durable), then the rest are logged after
   * it: they are not committed yet, and a later TRUNC may cut them.
   */
  reset(entries: readonly LogEntry[], committed: number): Promise<void> {
    assert(committed >= 0 && committed <= entries.length, () => `${committed} of ${entries.length} entries committed`);
    return this.exclusive(async () => {
      const tree = new DataTree(this.options.tree);
      const sessions = new Map<bigint, number>();
      for (const e of entries.slice(0, committed)) replayRecord(tree, sessions, zxidToNumber(e.zxid), e.data, this.live.logDir);
      await this.installSnapshotNow(entries[committed - 1]?.zxid ?? 0n, tree, sessions);
      await this.append(entries.slice(committed));
    });
  }

  /** installSnapshot for a snapshot in ZooKeeper's form (what the SNAP stream carries); returns the tree built. */
  async installZkSnapshot(zxid: Zxid, snap: ZkSnapshot): Promise<{ tree: DataTree; sessions: Map<bigint, number> }> {
    const tree = snap.nodes.length === 0 ? new DataTree(this.options.tree) : treeFromZkSnapshot(snap, this.options.tree);
    tree.lastProcessedZxid = zxidToNumber(zxid);
    const sessions = new Map(snap.sessions);
    await this.installSnapshot(zxid, tree, sessions);
    return { tree, sessions };
  }

  /**
   * A periodic snapshot of the live tree at its last applied zxid, written while the tree goes
   * on changing (copy-on-write capture); the log rolls so retention can drop older segments.
   * The tree must hold only logged txns (apply after append).
   */
  takeSnapshot(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Promise<{ path: string; bytes: number; zxid: Zxid }> {
    return this.exclusive(() => this.snapshotNow(tree, sessions));
  }

  /**
   * The periodic snapshot of a running member: `source` (the live tree and sessions) is read when
   * no truncation, SNAP install or purge is under way. Null, and the snapshot stays due, when
   * that state is not one the disk's history can follow: a truncation or SNAP came between
   * (the tree may be about to be replaced), the tree is ahead of the durable log (a leader
   * applies a commit its own fsync has not reached yet), or behind the snapshot a SNAP installed.
   */
  snapshotLive(source: () => { tree: DataTree; sessions: ReadonlyMap<bigint, number> }): Promise<{ path: string; bytes: number; zxid: Zxid } | null> {
    const asked = this.generation;
    return this.exclusive(async () => {
      if (this.closed || asked !== this.generation) return null;
      const { tree, sessions } = source();
      const z = zxidFromNumber(tree.lastProcessedZxid);
      if (z > this.lastLoggedZxid || z < this.snapshotZxidValue) return null;
      return this.snapshotNow(tree, sessions);
    });
  }

  /** Retention (autopurge): keeps the newest `retainCount` snapshots and the logs they need. */
  purge(retainCount: number): Promise<PurgeResult> {
    return this.exclusive(async () => {
      this.assertOpen();
      return purgeStore(this.disk, this.live, retainCount);
    });
  }

  /** Runs `op` once the operations before it are done, whatever their outcome. */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.exclusiveTail.then(op, op);
    this.exclusiveTail = run.catch(() => undefined);
    return run;
  }

  private async snapshotNow(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Promise<{ path: string; bytes: number; zxid: Zxid }> {
    this.assertOpen();
    this.snapshotDue = false;
    const capture = captureSnapshot(tree, sessions);
    try {
      assert(capture.zxid <= this.live.log.lastZxid || capture.zxid === zxidToNumber(this.snapshotZxidValue), () => `tree at ${hex(capture.zxid)} is ahead of the log`);
      const written = await writeSnapshot(this.disk, this.live.snapDir, capture.zxid, capture.chunks);
      this.live.log.roll();
      if (BigInt(capture.zxid) > this.snapshotZxidValue) this.snapshotZxidValue = zxidFromNumber(capture.zxid);
      return { ...written, zxid: zxidFromNumber(capture.zxid) };
    } finally {
      capture.release();
    }
  }

  /**
   * Rebuilds the state from disk: the newest valid snapshot, then the log after it read a page at
   * a time (no record is kept once applied). Throws ZxidGapError on a hole unless acceptDataLoss.
   */
  async load(): Promise<QuorumState> {
    this.assertOpen();
    const found = await loadNewestValidSnapshot(this.disk, this.live.snapDir);
    if (found.snapshot === null) throw new PersistenceError(`no valid snapshot in ${this.live.snapDir}`);
    const { tree, sessions } = deserializeSnapshot(found.snapshot.data, this.options.tree);
    const snapZxid = found.snapshot.zxid;
    const gaps: ZxidGap[] = [];
    let prev = snapZxid;
    const newest = new RecentTxns(zxidFromNumber(snapZxid), recentTxnsKept(this.options));
    for await (const r of this.live.log.readAfter(snapZxid)) {
      if (!zxidFollows(prev, r.zxid)) gaps.push(...findZxidGaps(prev, [r.zxid]));
      replayRecord(tree, sessions, r.zxid, r.bytes, this.live.logDir);
      newest.add({ zxid: zxidFromNumber(r.zxid), data: Buffer.from(r.bytes) });
      prev = r.zxid;
    }
    if (gaps.length > 0 && !this.options.acceptDataLoss) throw await this.gapError(gaps, found.snapshot);
    const held = newest.held();
    if (held) this.recent.reset(held.base, held.log);
    else this.recent.forget();
    this.snapshotZxidValue = zxidFromNumber(snapZxid);
    return {
      acceptedEpoch: this.acceptedEpochValue,
      currentEpoch: this.currentEpochValue,
      tree,
      sessions,
      snapshotZxid: this.snapshotZxidValue,
      lastLoggedZxid: this.lastLoggedZxid,
    };
  }

  /** Durable logged txns after `zxid` (up to `through`), oldest first, a page at a time. */
  async *readAfter(zxid: Zxid, through?: Zxid): AsyncGenerator<LogEntry> {
    this.assertOpen();
    const options = through === undefined ? {} : { through: zxidToNumber(through) };
    for await (const r of this.live.log.readAfter(zxid < 0n ? -1 : zxidToNumber(zxid), options)) {
      yield { zxid: zxidFromNumber(r.zxid), data: r.bytes };
    }
  }

  /**
   * The history a role starts from, as ZabLeader takes it: every logged txn after `snapshotZxid`
   * and that zxid, which is at or before `from` (default: the snapshot a restart starts from).
   * The newest txns are held in memory, so this is usually the last few hundred of them (the
   * leader's DIFF window needs no more; older DIFFs are read with diffAfter) and costs no read;
   * when memory does not reach back to `from` (a tree far behind its log, or after a TRUNC) the
   * log after the snapshot is read from disk.
   */
  async history(from: Zxid = this.snapshotZxidValue): Promise<{ snapshotZxid: Zxid; log: LogEntry[] }> {
    await this.whenIdle();
    const held = this.recent.after(from);
    if (held !== null) return { snapshotZxid: held.base, log: held.log };
    const log: LogEntry[] = [];
    for await (const e of this.readAfter(this.snapshotZxidValue)) log.push(e);
    this.recent.reset(this.snapshotZxidValue, log);
    return { snapshotZxid: this.snapshotZxidValue, log };
  }

  /**
   * The txns a learner at `zxid` lacks, up to `through`, for a DIFF from the on-disk log
   * (LearnerHandler's getProposalsFromTxnLog), or null when the log cannot serve one and the
   * learner needs SNAP: `zxid` is neither a logged txn nor this store's snapshot point, the log
   * has a hole or ends before `through`, or the txns exceed `maxBytes` (ZooKeeper's
   * snapshotSizeFactor bounds a DIFF by the snapshot's size).
   */
  async diffAfter(zxid: Zxid, through: Zxid, maxBytes = Number.POSITIVE_INFINITY): Promise<LogEntry[] | null> {
    this.assertOpen();
    if (zxid > through) return null;
    const z = zxidToNumber(zxid);
    let known = zxid === this.snapshotZxidValue;
    const out: LogEntry[] = [];
    let bytes = 0;
    let prev = z;
    for await (const r of this.live.log.readAfter(z - 1, { through: zxidToNumber(through) })) {
      if (r.zxid === z) {
        known = true;
        continue;
      }
      if (!known || !zxidFollows(prev, r.zxid)) return null;
      bytes += r.bytes.length;
      if (bytes > maxBytes) return null;
      // A copy: the page the record views may be large, and the DIFF may be held a while.
      out.push({ zxid: zxidFromNumber(r.zxid), data: Buffer.from(r.bytes) });
      prev = r.zxid;
    }
    return known && prev === zxidToNumber(through) ? out : null;
  }

  /** Resolves once every append queued so far has settled (durable or failed). */
  whenIdle(): Promise<void> {
    return this.live.log.whenIdle();
  }

  /** Waits for appends, syncs and closes the log, releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusiveTail;
    await this.markerRemoval;
    await closeStore(this.live);
  }

  private assertOpen(): void {
    assert(!this.closed, 'quorum store is closed');
  }

  /** The zxids logged in (after, through]: numbers only, for a continuity check. */
  private async loggedZxids(after: number, through: number): Promise<number[]> {
    const zxids: number[] = [];
    for await (const r of this.live.log.readAfter(after, { through })) zxids.push(r.zxid);
    return zxids;
  }

  private async gapError(gaps: ZxidGap[], snapshot: { zxid: number; path?: string; name?: string }): Promise<ZxidGapError> {
    const segments = await listSegments(this.disk, this.live.logDir);
    const name = snapshot.name ?? nodePath.basename(snapshot.path ?? '');
    return new ZxidGapError(gaps, gaps.map((gap) => gapPlace(gap, segments, { name, zxid: snapshot.zxid }, this.live.logDir)));
  }
}

function recentTxnsKept(options: DiskQuorumStoreOptions): number {
  return Math.max(1, options.recentTxns ?? DEFAULT_COMMIT_LOG_COUNT);
}

/** The newest `keep` records replayed at open (copied: they view whole pages of the log). */
function newestRecords(opened: { records: readonly { zxid: number; bytes: Buffer }[]; lostZxids: readonly unknown[] }, snapshotZxid: number, keep: number): { base: Zxid; log: LogEntry[] } {
  // A hole was put behind a new snapshot: nothing after it is logged yet.
  if (opened.lostZxids.length > 0) return { base: zxidFromNumber(snapshotZxid), log: [] };
  const from = Math.max(0, opened.records.length - keep);
  const base = from === 0 ? snapshotZxid : opened.records[from - 1]!.zxid;
  return { base: zxidFromNumber(base), log: opened.records.slice(from).map((r) => ({ zxid: zxidFromNumber(r.zxid), data: Buffer.from(r.bytes) })) };
}

/** The data directories a store opened with `options` uses (for tests and tools). */
export function quorumStoreDirs(options: Pick<DiskQuorumStoreOptions, 'dataDir' | 'dataLogDir'>): { snapDir: string; logDir: string } {
  return storeDirs(options.dataDir, options.dataLogDir);
}

/**
 * Writes the tree as a snapshot at its last zxid, serialized chunk by chunk as the file is
 * written (no whole copy in memory); the tree keeps copies of what changes meanwhile.
 */
async function writeTreeSnapshot(disk: Disk, dir: string, tree: DataTree, sessions: ReadonlyMap<bigint, number>): Promise<{ path: string; bytes: number }> {
  const capture = captureSnapshot(tree, sessions);
  try {
    return await writeSnapshot(disk, dir, capture.zxid, capture.chunks);
  } finally {
    capture.release();
  }
}

function replayRecord(tree: DataTree, sessions: Map<bigint, number>, zxid: number, bytes: Buffer, logDir: string): void {
  let txn;
  try {
    txn = decodeTxn(bytes, 0x7fffffff);
  } catch (err) {
    throw new PersistenceError(`txn log record ${hex(zxid)} in ${logDir} has a valid checksum but does not decode as a txn (${(err as Error).message})`);
  }
  replayTxn(tree, sessions, txn);
}

/** The newest snapshot with zxid <= `zxid` whose file verifies, or null. */
async function newestValidAtOrBefore(
  disk: Disk,
  dir: string,
  snaps: readonly { name: string; zxid: number }[],
  zxid: number,
): Promise<{ name: string; zxid: number } | null> {
  for (const s of snaps.filter((x) => x.zxid <= zxid).reverse()) {
    const v = verifySnapshot(await disk.readFile(nodePath.join(dir, s.name)));
    if (!('error' in v) && v.zxid === s.zxid) return s;
  }
  return null;
}

/** A ZooKeeper data directory converted at start. */
export interface ZooKeeperImport {
  /** The ZooKeeper snapshot's zxid: the Paddock snapshot written. */
  snapshotZxid: number;
  snapshotPath: string;
  /** ZooKeeper txns after the snapshot, now in the Paddock log. */
  txns: number;
  /** The last of them (the snapshot's zxid when none). */
  lastZxid: number;
  znodes: number;
  sessions: number;
  /** Where ZooKeeper's files now are (kept: a rollback is starting ZooKeeper on them again). */
  backupDirs: string[];
  warnings: string[];
}

/**
 * Converts a data directory that Apache ZooKeeper 3.x wrote, keeping its epochs and its whole
 * history after its newest snapshot: ZooKeeper's log.* and snapshot.* move to
 * version-2-zookeeper/ (in dataDir and in dataLogDir), the txns ZooKeeper logged after its newest
 * valid snapshot are appended to a Paddock log, and last that snapshot is written as a Paddock
 * snapshot. The snapshot is the commit point: until it is durable the conversion is redone from
 * the backup at the next start (files still in version-2 are moved first). Null when there is
 * nothing to convert. Damage in ZooKeeper's logs is refused unless acceptDataLoss; a hole in the
 * history is found by the recovery that follows, as for any data dir.
 */
async function importZooKeeperDataDir(disk: Disk, options: DiskQuorumStoreOptions): Promise<ZooKeeperImport | null> {
  const dataLogDir = options.dataLogDir ?? options.dataDir;
  const { snapDir, logDir } = storeDirs(options.dataDir, dataLogDir);
  const snapBackup = nodePath.join(options.dataDir, ZK_BACKUP_DIR);
  const logBackup = nodePath.join(dataLogDir, ZK_BACKUP_DIR);
  const inSnapDir = await zooKeeperFilesIn(disk, snapDir);
  const inLogDir = logDir === snapDir ? [] : await zooKeeperFilesIn(disk, logDir);
  const pending = inSnapDir.length + inLogDir.length > 0 || ((await zooKeeperFilesIn(disk, snapBackup)).length > 0 && (await loadNewestValidSnapshot(disk, snapDir)).snapshot === null);
  if (!pending) return null;
  // Under the lock, so two Paddock servers started on one directory cannot both convert it.
  const { lock } = await acquireDataDirLock(disk, options.dataDir, options);
  try {
    await moveAside(disk, snapDir, snapBackup, inSnapDir);
    await moveAside(disk, logDir, logBackup, inLogDir);
    const converted = await convertZooKeeper(disk, options, { snapDir, logDir, snapBackup, logBackup });
    const backupDirs = snapBackup === logBackup ? [snapBackup] : [snapBackup, logBackup];
    const line =
      `converted the Apache ZooKeeper data in ${backupDirs.join(' and ')} (moved there from version-2): snapshot ${hex(converted.snapshotZxid)} ` +
      `(${converted.znodes} znodes, ${converted.sessions} sessions) and ${converted.txns} txns after it, to ${hex(converted.lastZxid)}`;
    return { ...converted, backupDirs, warnings: [line, ...converted.warnings] };
  } finally {
    await lock.release();
  }
}

async function convertZooKeeper(
  disk: Disk,
  options: DiskQuorumStoreOptions,
  dirs: { snapDir: string; logDir: string; snapBackup: string; logBackup: string },
): Promise<Omit<ZooKeeperImport, 'backupDirs'>> {
  const warnings: string[] = [];
  const found = await newestValidZkSnapshot(disk, dirs.snapBackup, warnings);
  if (found === null) {
    throw new PersistenceError(`${dirs.snapBackup}: no valid Apache ZooKeeper snapshot to convert${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`);
  }
  // With no Paddock snapshot yet, Paddock files here are what a conversion cut short left.
  await removeSnapshotTemps(disk, dirs.snapDir);
  const leftovers = await listSegments(disk, dirs.logDir);
  for (const seg of leftovers.reverse()) await disk.remove(nodePath.join(dirs.logDir, seg.name));
  if (leftovers.length > 0) await disk.syncDir(dirs.logDir);
  const { log } = await TxnLog.open(disk, dirs.logDir, { forceSync: false, preAllocSizeKb: options.preAllocSizeKb, replayAfterZxid: found.zxid });
  let failed: Error | null = null;
  let txns = 0;
  let lastZxid = found.zxid;
  try {
    for await (const txn of zkTxnsAfter(disk, dirs.logBackup, found.zxid, options.acceptDataLoss === true, warnings)) {
      log.appendThen(txn.zxid, txn.bytes, (err) => void (failed ??= err));
      txns++;
      lastZxid = txn.zxid;
      // One ZooKeeper log at a time in memory: wait for the queue now and then.
      if (txns % 10_000 === 0) await log.whenIdle();
    }
  } finally {
    // close() syncs the last segment: every txn is durable before the snapshot is written.
    await log.close();
  }
  if (failed) throw failed;
  const tree = treeFromZkSnapshot(found.snapshot);
  tree.lastProcessedZxid = found.zxid;
  const sessions = new Map(found.snapshot.sessions);
  const written = await writeTreeSnapshot(disk, dirs.snapDir, tree, sessions);
  return { snapshotZxid: found.zxid, snapshotPath: written.path, txns, lastZxid, znodes: tree.size, sessions: sessions.size, warnings };
}
