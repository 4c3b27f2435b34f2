/**
 * Opening a data directory for a server: lock, newest valid snapshot, log records after it.
 * The server wires the bytes to its DataTree; this module knows only bytes and zxids.
 *
 * Layout: <dataDir>/paddock.lock, <dataDir>/version-2/snapshot.<hex>,
 * <dataLogDir>/version-2/log.<hex> (dataLogDir defaults to dataDir).
 */
import * as nodePath from 'node:path';
import type { Disk } from '../io/disk.js';
import { dataDirError, PersistenceError, ZxidGapError } from './errors.js';
import { acquireDataDirLock, type DataDirLock, type LockOptions } from './lock.js';
import type { LogRecord } from './logformat.js';
import { purge, type PurgeResult } from './purge.js';
import { loadNewestValidSnapshot, removeSnapshotTemps, writeSnapshot, type LoadedSnapshot } from './snapshots.js';
import { listSegments, TxnLog, type TxnLogOpenResult, type TxnLogOptions } from './txnlog.js';
import { describeZxidGap, findZxidGaps, gapPlace, type ZxidGap } from './zxidgaps.js';

export const VERSION_DIR = 'version-2';

export interface StoreOptions extends Omit<TxnLogOptions, 'replayAfterZxid'>, LockOptions {
  dataDir: string;
  /** Default dataDir. */
  dataLogDir?: string;
  /**
   * Start from an empty tree when logs exist but no valid snapshot does (ZooKeeper's
   * snapshot.trust.empty). Off: that situation is an error, since history may be missing.
   */
  trustEmptySnapshot?: boolean;
  /**
   * Start even when zxids are missing between the snapshot and the log or between segments
   * (a lost segment): the records after each gap are replayed over a tree that lacks the
   * missing txns. Off: such a gap is a ZxidGapError.
   */
  acceptDataLoss?: boolean;
}

export interface OpenedStore {
  readonly lock: DataDirLock;
  readonly log: TxnLog;
  /** The snapshot to load into the tree, or null for an empty tree. */
  readonly snapshot: LoadedSnapshot | null;
  /** Log records after the snapshot, to apply in order. */
  readonly records: LogRecord[];
  /** Gaps accepted with acceptDataLoss (empty otherwise): txns lost for good. */
  readonly lostZxids: ZxidGap[];
  /** Repairs and skipped files, one line each, to log at startup. */
  readonly warnings: string[];
  readonly snapDir: string;
  readonly logDir: string;
}

/** What a running server keeps of an opened store once it has replayed it. */
export type LiveStore = Pick<OpenedStore, 'lock' | 'log' | 'snapDir' | 'logDir'>;

/**
 * The live parts of an opened store, in a new object: holding it instead of the OpenedStore
 * lets the replayed records and the snapshot's bytes (whole files read at startup) be freed.
 */
export function liveStore(store: OpenedStore): LiveStore {
  return { lock: store.lock, log: store.log, snapDir: store.snapDir, logDir: store.logDir };
}

/** The version-2 directories for a dataDir/dataLogDir pair. */
export function storeDirs(dataDir: string, dataLogDir = dataDir): { snapDir: string; logDir: string } {
  return { snapDir: nodePath.join(dataDir, VERSION_DIR), logDir: nodePath.join(dataLogDir, VERSION_DIR) };
}

/**
 * Called with the snapshot openStore found (null: none) while it opens the txn log, so the
 * caller can load the snapshot meanwhile: the log's reads then overlap the loading.
 */
export type WhileLogOpens = (snapshot: LoadedSnapshot | null) => Promise<void>;

/**
 * Locks the data dir and recovers it. Throws DataDirLockedError, DataDirUnusableError,
 * CorruptDataError (damage in the middle of the log: file and offset named), ZxidGapError (txns
 * missing after the snapshot, unless acceptDataLoss), or PersistenceError (logs without a
 * snapshot); a rejection of `whileLogOpens` rejects it too, after closing the log.
 */
export async function openStore(disk: Disk, options: StoreOptions, whileLogOpens?: WhileLogOpens): Promise<OpenedStore> {
  const { snapDir, logDir } = storeDirs(options.dataDir, options.dataLogDir);
  const { lock, warnings } = await acquireDataDirLock(disk, options.dataDir, options);
  try {
    for (const dir of [snapDir, logDir]) {
      await disk.mkdirp(dir).catch((err: unknown) => {
        throw dataDirError(dir, err);
      });
    }
    for (const tmp of await removeSnapshotTemps(disk, snapDir)) warnings.push(`removed unfinished snapshot ${tmp}`);
    const loaded = await loadNewestValidSnapshot(disk, snapDir);
    warnings.push(...loaded.warnings);
    if (!loaded.snapshot && !options.trustEmptySnapshot && (await listSegments(disk, logDir)).length > 0) {
      throw new PersistenceError(
        `no valid snapshot in ${snapDir} but txn logs exist in ${logDir}: refusing to start from an empty tree (history may be missing)`,
      );
    }
    const opened = await openLogWhile(
      TxnLog.open(disk, logDir, { ...options, replayAfterZxid: loaded.snapshot?.zxid ?? -1 }),
      whileLogOpens?.(loaded.snapshot),
    );
    warnings.push(...opened.warnings);
    // Without a snapshot (trusted empty) the log is all there is: only holes inside it count.
    const lostZxids = findZxidGaps(loaded.snapshot?.zxid ?? null, opened.records.map((r) => r.zxid));
    if (lostZxids.length > 0) {
      const segments = await listSegments(disk, logDir);
      const snapshot = loaded.snapshot && { name: nodePath.basename(loaded.snapshot.path), zxid: loaded.snapshot.zxid };
      const where = lostZxids.map((gap) => gapPlace(gap, segments, snapshot, logDir));
      if (!options.acceptDataLoss) {
        await opened.log.close().catch(() => undefined);
        throw new ZxidGapError(lostZxids, where);
      }
      lostZxids.forEach((gap, i) => warnings.push(`accepted the loss of ${describeZxidGap(gap)} missing ${where[i]}`));
    }
    return { lock, log: opened.log, snapshot: loaded.snapshot, records: opened.records, lostZxids, warnings, snapDir, logDir };
  } catch (err) {
    await lock.release().catch(() => undefined);
    throw err;
  }
}

/** Waits for both; on any failure, closes the log if it opened and throws the first error. */
async function openLogWhile(opening: Promise<TxnLogOpenResult>, meanwhile: Promise<void> | undefined): Promise<TxnLogOpenResult> {
  const [log, other] = await Promise.allSettled([opening, meanwhile]);
  if (log.status === 'rejected') throw log.reason;
  if (other.status === 'rejected') {
    await log.value.log.close().catch(() => undefined);
    throw other.reason;
  }
  return log.value;
}

/**
 * Writes a snapshot of the tree as of `zxid` and rolls the log, so retention can later drop
 * the segments before it. `zxid` must be the last txn applied to the serialized tree.
 */
export async function takeSnapshot(
  disk: Disk,
  store: Pick<OpenedStore, 'log' | 'snapDir'>,
  zxid: number,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<{ path: string; bytes: number }> {
  const written = await writeSnapshot(disk, store.snapDir, zxid, chunks);
  store.log.roll();
  return written;
}

export function purgeStore(disk: Disk, store: Pick<OpenedStore, 'snapDir' | 'logDir'>, retainCount: number): Promise<PurgeResult> {
  return purge(disk, { snapDir: store.snapDir, logDir: store.logDir, retainCount });
}

/** Flushes and closes the log, then releases the lock. */
export async function closeStore(store: Pick<OpenedStore, 'lock' | 'log'>): Promise<void> {
  try {
    await store.log.close();
  } finally {
    await store.lock.release();
  }
}
