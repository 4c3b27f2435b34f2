/**
 * The server's durable state: opens the data directory, loads the newest valid snapshot,
 * replays the txn log after it, and hands over the store as the pipeline's durable commit log
 * (durable-commitlog.ts).
 */
import { randomBytes } from 'node:crypto';
import { NodeDisk, type Disk } from '../io/disk.js';
import { decodeTxn } from '../jute/txn.js';
import { closeStore, liveStore, openStore, PersistenceError, takeSnapshot, type OpenedStore } from '../persistence/index.js';
import { DataTree, type TreeOptions } from '../tree/index.js';
import { serializeSnapshot, SnapshotLoader, type Snapshot } from '../tree/snapshot.js';
import { DurableCommitLog } from './durable-commitlog.js';
import type { ServerConfig } from '../config/config.js';
import { hex, type Logger } from './logger.js';
import type { SessionSecret } from '../sessions/password.js';
import { loadOrCreateSessionSecret } from './session-secret.js';
import { replayTxn } from '../sessions/replay.js';

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
  const treeOptions = { extendedTypesEnabled: config.extendedTypesEnabled };
  const options = {
    dataDir: config.dataDir,
    dataLogDir: config.dataLogDir,
    forceSync: config.forceSync,
    preAllocSizeKb: config.preAllocSizeKb,
    acceptDataLoss: config.acceptDataLoss,
  };
  const store = await openStore(disk, options, async (found) => {
    if (found !== null) loaded.snapshot = await loadInSlices(found.data, treeOptions);
  });
  for (const w of store.warnings) logger.warn(w);
  const { tree, sessions } = loaded.snapshot ?? { tree: new DataTree(treeOptions), sessions: new Map<bigint, number>() };
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
  // The commit log keeps only the live store: the replayed records and snapshot bytes go.
  const replayed = store.records.length;
  const commitLog = new DurableCommitLog(disk, liveStore(store), config, logger);
  // ZooKeeper writes a snapshot of the replayed tree at every start (ZooKeeperServer.loadData),
  // and the next start reloads children from it in its order: start from the same point. (With
  // nothing replayed the loaded snapshot is that snapshot already.)
  if (replayed > 0) commitLog.snapshotNow(tree, sessions);
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
async function loadInSlices(data: Buffer, options: TreeOptions): Promise<Snapshot> {
  const loader = new SnapshotLoader(data, options);
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
        `txn log record ${hex(record.zxid)} in ${store.logDir} has a valid checksum but does not decode as a txn ` +
          `(${(err as Error).message}); see it with paddock data dump`,
      );
    }
    replayTxn(tree, sessions, txn);
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
