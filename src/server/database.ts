/**
 * The server's durable state: opens the data directory, loads the newest valid snapshot,
 * replays the txn log after it, and then serves as the pipeline's commit log (append with
 * group-committed fsync) and snapshot taker.
 */
import { randomBytes } from 'node:crypto';
import { NodeDisk, type Disk } from '../io/disk.js';
import { decodeTxn } from '../jute/txn.js';
import { OpCode } from '../jute/constants.js';
import { Prng } from '../lib/prng.js';
import { closeStore, openStore, PersistenceError, purgeStore, SnapshotPolicy, takeSnapshot, type OpenedStore } from '../persistence/index.js';
import { DataTree } from '../tree/index.js';
import { captureSnapshot, serializeSnapshot, SnapshotLoader, type Snapshot } from '../tree/snapshot.js';
import type { CommitLog } from './commitlog.js';
import type { ServerConfig } from '../config/config.js';
import { hex, type Logger } from './logger.js';
import type { SessionSecret } from '../sessions/password.js';
import { loadOrCreateSessionSecret } from './session-secret.js';
import type { TxnLogStats } from '../persistence/txnlog.js';

export interface Database {
  tree: DataTree;
  /** Sessions alive at the last txn: id -> timeout ms. They expire unless their clients return. */
  sessions: Map<bigint, number>;
  /** The secret session passwords derive from, kept in the data directory. */
  sessionSecret: SessionSecret;
  commitLog: DurableCommitLog;
}

export async function openDatabase(config: ServerConfig, logger: Logger, disk: Disk = new NodeDisk()): Promise<Database> {
  const loaded: { snapshot: Snapshot | null } = { snapshot: null };
  const options = {
    dataDir: config.dataDir,
    dataLogDir: config.dataLogDir,
    forceSync: config.forceSync,
    preAllocSizeKb: config.preAllocSizeKb,
    acceptDataLoss: config.acceptDataLoss,
  };
  const store = await openStore(disk, options, async (found) => {
    if (found !== null) loaded.snapshot = await loadInSlices(found.data);
  });
  for (const w of store.warnings) logger.warn(w);
  const { tree, sessions } = loaded.snapshot ?? { tree: new DataTree(), sessions: new Map<bigint, number>() };
  try {
    if (store.snapshot) logger.info(`loaded snapshot ${store.snapshot.path} at zxid ${hex(store.snapshot.zxid)}: ${tree.size} znodes, ${sessions.size} sessions`);
    else await takeSnapshot(disk, store, 0, serializeSnapshot(tree, sessions));
    replay(store, tree, sessions, logger);
    if (store.lostZxids.length > 0) await snapshotOverLoss(disk, store, tree, sessions, logger);
  } catch (err) {
    // A start that fails here must not leave the data directory locked.
    await closeStore(store).catch(() => undefined);
    throw err;
  }
  const sessionSecret = await openSessionSecret(disk, config, sessions, logger).catch(async (err: unknown) => {
    await closeStore(store).catch(() => undefined);
    throw err;
  });
  const commitLog = new DurableCommitLog(disk, store, config, logger);
  // ZooKeeper writes a snapshot of the replayed tree at every start (ZooKeeperServer.loadData),
  // and the next start reloads children from it in its order: start from the same point. (With
  // nothing replayed the loaded snapshot is that snapshot already.)
  if (store.records.length > 0) commitLog.snapshotNow(tree, sessions);
  return { tree, sessions, sessionSecret, commitLog };
}

async function openSessionSecret(disk: Disk, config: ServerConfig, sessions: Map<bigint, number>, logger: Logger): Promise<SessionSecret> {
  const loaded = await loadOrCreateSessionSecret(disk, config.dataDir, sessions.keys(), (n) => randomBytes(n));
  if (loaded.created) {
    logger.info(`created the session secret ${loaded.path}`);
    const kept = loaded.secret.zookeeperFormulaIds.size;
    if (kept > 0) logger.info(`${kept} sessions from before the secret keep their ZooKeeper-formula passwords until they end`);
  }
  return loaded.secret;
}

/**
 * After an accepted loss, a snapshot of what was recovered puts the hole behind it: the next
 * start replays from there and needs no flag (the loss is reported by this start only).
 */
async function snapshotOverLoss(disk: Disk, store: OpenedStore, tree: DataTree, sessions: Map<bigint, number>, logger: Logger): Promise<void> {
  const lost = store.lostZxids.reduce((n, gap) => n + gap.count, 0);
  const written = await takeSnapshot(disk, store, tree.lastProcessedZxid, serializeSnapshot(tree, sessions));
  logger.error(`started with ${lost} txn${lost === 1 ? '' : 's'} lost (accepted with --accept-data-loss); snapshot ${written.path} now covers the gap`);
}

/**
 * Nodes loaded between two turns of the event loop, about 1 ms of work: the log's reads advance
 * one turn at a time (fs.promises.readFile reads 512 KiB per turn), so slices must be short.
 */
const SLICE_NODES = 512;

/** Loads a snapshot in slices, letting the txn log's reads, which run meanwhile, go on in between. */
async function loadInSlices(data: Buffer): Promise<Snapshot> {
  const loader = new SnapshotLoader(data);
  while (!loader.step(SLICE_NODES)) await new Promise<void>((resolve) => setImmediate(resolve));
  return loader.result();
}

function replay(store: OpenedStore, tree: DataTree, sessions: Map<bigint, number>, logger: Logger): void {
  const total = store.records.length;
  if (total === 0) return;
  const progress = new ReplayProgress(total, logger);
  for (let i = 0; i < total; i++) {
    const record = store.records[i]!;
    let txn;
    try {
      txn = decodeTxn(record.bytes, 0x7fffffff);
    } catch (err) {
      throw new PersistenceError(
        `txn log record 0x${record.zxid.toString(16)} in ${store.logDir} has a valid checksum but does not decode as a txn ` +
          `(${(err as Error).message}); see it with paddock data dump`,
      );
    }
    tree.apply(txn);
    if (txn.body.type === OpCode.createSession) sessions.set(txn.header.sessionId, txn.body.timeOut);
    else if (txn.body.type === OpCode.closeSession) sessions.delete(txn.header.sessionId);
    progress.update(i + 1);
  }
  progress.done(tree);
}

/** A bar on a terminal, a line a second otherwise. */
class ReplayProgress {
  private lastMs = Date.now();
  private readonly startMs = Date.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly total: number,
    private readonly logger: Logger,
  ) {}

  update(done: number): void {
    if ((done & 1023) !== 0) return;
    const now = Date.now();
    if (now - this.lastMs < (this.tty ? 100 : 1000)) return;
    this.lastMs = now;
    if (this.tty) {
      const width = 30;
      const filled = Math.round((done / this.total) * width);
      process.stderr.write(`\rreplaying txn log [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}`);
    } else {
      this.logger.info(`replaying txn log: ${done}/${this.total} txns`);
    }
  }

  done(tree: DataTree): void {
    if (this.tty) process.stderr.write('\n');
    this.logger.info(`replayed ${this.total} txns in ${Date.now() - this.startMs} ms; last zxid ${hex(tree.lastProcessedZxid)}, ${tree.size} znodes`);
  }
}

/** The local txn log as the pipeline's commit log, plus snapshots and retention. */
export class DurableCommitLog implements CommitLog {
  private readonly policy: SnapshotPolicy;
  private snapshotDue = false;
  private snapshotting: Promise<void> | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly disk: Disk,
    private readonly store: OpenedStore,
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
