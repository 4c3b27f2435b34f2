/**
 * The local txn log as the pipeline's commit log: appends with group-committed fsync, takes a
 * snapshot every snapCount txns (randomised, as ZooKeeper does) and purges old files.
 */
import type { Disk } from '../io/disk.js';
import { Prng } from '../lib/prng.js';
import { closeStore, purgeStore, SnapshotPolicy, takeSnapshot, type LiveStore } from '../persistence/index.js';
import type { DataTree } from '../tree/index.js';
import { captureSnapshot } from '../tree/snapshot.js';
import type { CommitLog } from '../pipeline/commitlog.js';
import type { TxnLogStats } from '../persistence/txnlog.js';
import type { ServerConfig } from '../config/config.js';
import { hex, type Logger } from './logger.js';

/** The local txn log as the pipeline's commit log, plus snapshots and retention. */
export class DurableCommitLog implements CommitLog {
  private readonly policy: SnapshotPolicy;
  private snapshotDue = false;
  private snapshotting: Promise<void> | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly disk: Disk,
    private readonly store: LiveStore,
    private readonly config: ServerConfig,
    private readonly logger: Logger,
  ) {
    const prng = new Prng(Date.now() & 0xffffffff);
    this.policy = new SnapshotPolicy({ snapCount: config.snapCount, random: () => prng.next() });
    if (config.autopurgePurgeIntervalHours > 0) {
      this.purgeTimer = setInterval(() => void this.purge(), config.autopurgePurgeIntervalHours * 3_600_000);
      this.purgeTimer.unref();
    }
  }

  /** Records and batches written so far (the admin metrics' batch sizes). */
  get txnLogStats(): Readonly<TxnLogStats> {
    return this.store.log.stats;
  }

  get lastZxid(): number {
    return this.store.log.lastZxid;
  }

  append(zxid: number, bytes: Buffer, done: (err: Error | null) => void): void {
    this.store.log.appendThen(zxid, bytes, done);
    if (this.policy.onTxnLogged(bytes.length)) this.snapshotDue = true;
  }

  /**
   * Called after each apply: when a snapshot is due, captures the tree at this zxid and writes it
   * chunk by chunk while the pipeline goes on (the tree keeps copies of what changes meanwhile).
   */
  maybeSnapshot(tree: DataTree, sessions: () => ReadonlyMap<bigint, number>): void {
    if (!this.snapshotDue || this.snapshotting) return;
    this.snapshotDue = false;
    this.snapshotNow(tree, sessions());
  }

  /** Captures the tree at its last zxid now and writes it in the background. */
  snapshotNow(tree: DataTree, sessions: ReadonlyMap<bigint, number>): void {
    if (this.snapshotting) return;
    const capture = captureSnapshot(tree, sessions);
    const zxid = capture.zxid;
    this.snapshotting = takeSnapshot(this.disk, this.store, zxid, capture.chunks).finally(() => capture.release()).then(
      (written) => {
        this.logger.info(`snapshot ${written.path} written at zxid ${hex(zxid)} (${written.bytes} bytes)`);
        this.snapshotting = null;
      },
      (err: unknown) => {
        this.logger.error(`snapshot at zxid ${hex(zxid)} failed: ${(err as Error).message}`);
        this.snapshotting = null;
      },
    );
  }

  private async purge(): Promise<void> {
    try {
      const result = await purgeStore(this.disk, this.store, this.config.autopurgeSnapRetainCount);
      this.logger.info(`autopurge: ${JSON.stringify(result)}`);
    } catch (err) {
      this.logger.warn(`autopurge failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.snapshotting;
    await closeStore(this.store);
  }
}
