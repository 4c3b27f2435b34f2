/**
 * startServer: wires a server together. The pipeline (src/pipeline/) decides, the network server
 * (network.ts) carries the sockets. Standalone, the database (database.ts) loads the data
 * directory and gives the durable commit log (durable-commitlog.ts); an ensemble member (server.N
 * lines) runs a QuorumPeer (quorum/peer.ts) that elects, leads or follows, and gives the
 * pipeline its role.
 */
import { randomBytes } from 'node:crypto';
import { MemoryCommitLog, type CommitLog } from '../pipeline/commitlog.js';
import { defaultConfig, isDistributed, type ServerConfig } from '../config/config.js';
import { createLogger, type Logger } from './logger.js';
import { metricsSource } from './fourletter.js';
import { AdminHttpServer } from '../admin/http.js';
import { MetricsHttpServer } from '../admin/prometheus.js';
import { timedDisk } from '../admin/timed-disk.js';
import { PROMETHEUS_PROVIDER_CLASS } from '../config/config.js';
import { NetworkServer } from './network.js';
import { loadQuorumSasl, loadServerAuth } from '../auth/load.js';
import { RequestPipeline } from '../pipeline/pipeline.js';
import { openDatabase } from './database.js';
import { newSessionSecret } from '../sessions/secret.js';
import { NodeDisk, type Disk } from '../io/disk.js';
import { PipelineReplica, QuorumPeer } from './quorum/peer.js';
import { asyncStore, isQuorumStore, MemoryLearnerStore, type LearnerStore, type QuorumStore } from './quorum/learner-driver.js';
import { DiskQuorumStore } from './quorum/disk-store.js';
import type { DataTree } from '../tree/datatree.js';
import { catchUp, TreeReplica } from './quorum/replica.js';
import { quorumTransport } from './quorum/quorum-tls.js';
import { hex } from './logger.js';

/** The CLI reads this: a zoo.cfg describing an ensemble starts a member of it. */
export const ensembleSupported = true;

export interface PaddockServer {
  /** The plain client port (0 when zoo.cfg sets only secureClientPort). */
  readonly port: number;
  readonly host: string;
  /** The TLS client port (0 without secureClientPort). */
  readonly securePort: number;
  /**
   * client.certReload: calls `listener` after each reload of the TLS stores (with the error
   * when the new ones were unusable); returns the function that removes it. Null without TLS.
   */
  readonly onTlsReload: ((listener: (error: Error | null) => void) => () => void) | null;
  /** The request pipeline behind the sockets (sessions, tree, counters). */
  readonly server: RequestPipeline;
  /** The admin HTTP server (admin.enableServer=true), to read its port or mount more routes; else null. */
  readonly admin: AdminHttpServer | null;
  /** The Prometheus endpoint (metricsProvider.className=...PrometheusMetricsProvider), else null. */
  readonly metrics: MetricsHttpServer | null;
  /** The ensemble member (elections, roles), or null for a standalone server. */
  readonly peer: QuorumPeer | null;
  /** Expires a session now, as if its timeout had passed. */
  expireSession(sessionId: bigint): boolean;
  /** Drops the connection of a session without ending the session. */
  dropConnection(sessionId: bigint): boolean;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** A commit log to use instead of the data directory (tests, simulations). */
  commitLog?: CommitLog;
  /** Keep nothing on disk: the txn log lives in memory and is lost on exit. */
  inMemory?: boolean;
  /** The disk under the data directory (a fault-injecting fake in tests). */
  disk?: Disk;
  /**
   * An ensemble member's quorum state (log, epochs, snapshot) instead of its data directory: a
   * LearnerStore is loaded at each role's start, a QuorumStore must start empty. `inMemory`
   * gives an empty memory store.
   */
  quorumStore?: LearnerStore | QuorumStore;
}

export function resolveConfig(overrides: Partial<ServerConfig>): ServerConfig {
  const cfg = { ...defaultConfig(), ...overrides };
  if (overrides.dataLogDir === undefined) cfg.dataLogDir = cfg.dataDir;
  return cfg;
}

export async function startServer(overrides: Partial<ServerConfig> = {}, options: StartOptions = {}): Promise<PaddockServer> {
  const config = resolveConfig(overrides);
  if (isDistributed(config)) return startEnsembleMember(config, options);
  const logger = options.logger ?? createLogger('server');
  // Before the data directory is opened: a bad JAAS file stops the start with nothing to undo.
  const auth = loadServerAuth(config.auth);
  const pipeline = await createPipeline(config, logger, options);
  const net = new NetworkServer(pipeline, config, logger, auth);
  try {
    await net.listen();
  } catch (err) {
    // Port in use, say: close the log so the data directory's lock is released.
    await pipeline.close().catch(() => undefined);
    throw err;
  }
  return serve(config, net, pipeline, null, logger, 'Paddock listening on', 'standalone', () => pipeline.close());
}

/**
 * An ensemble member: the client port serves once an election has given this server a role
 * (connections are closed while it looks for a leader, as ZooKeeper's are).
 */
async function startEnsembleMember(config: ServerConfig, options: StartOptions): Promise<PaddockServer> {
  const logger = options.logger ?? createLogger(`server.${config.serverId}`);
  const random = (byteCount: number): Buffer => randomBytes(byteCount);
  if (config.sessionPasswords === 'secret') {
    // Each data directory has its own secret, so a session could not move between servers.
    logger.info('session passwords use ZooKeeper\'s formula in an ensemble (the members share no secret), as a ZooKeeper ensemble\'s do');
  }
  const pipelineConfig: ServerConfig = { ...config, sessionPasswords: 'zookeeper' };
  // Before the data directory is opened: a bad JAAS file stops the start with nothing to undo.
  const auth = loadServerAuth(config.auth);
  const quorumSasl = loadQuorumSasl(config.auth, config.servers.map((s) => s.host));
  // So is a quorum key or trust store that cannot be used (sslQuorum, portUnification).
  const transport = quorumTransport(config, logger);
  const replica = new PipelineReplica({ extendedTypesEnabled: config.extendedTypesEnabled });
  const sessionSecret = newSessionSecret(random, []);
  // The stats the member's fsyncs go to exist only once the pipeline does (as in createPipeline).
  let pipeline: RequestPipeline | null = null;
  let member: MemberStore;
  try {
    member = await openMemberStore(config, options, logger, (ms, batchRecords) => {
      if (pipeline === null) return;
      recordFsync(pipeline, config, logger, ms);
      if (batchRecords > 0) pipeline.stats.observe('sync_processor_batch_size', batchRecords);
    });
  } catch (err) {
    transport.close();
    throw err;
  }
  const afterApply = (p: RequestPipeline): void => member.afterApply(p);
  const deps = { now: turnClock(), log: replica, logger, randomBytes: random, sessionSecret, afterApply };
  pipeline = new RequestPipeline(pipelineConfig, deps, member.tree, member.sessions);
  replica.attach(pipeline);
  const peer = new QuorumPeer({ config, pipeline, replica, store: member.store, logger, transport, quorumSasl });
  const net = new NetworkServer(pipeline, config, logger, auth);
  try {
    await net.listen();
  } catch (err) {
    transport.close();
    await member.close();
    throw err;
  }
  try {
    await peer.start();
  } catch (err) {
    transport.close();
    await net.close();
    await member.close();
    throw err;
  }
  return serve(config, net, pipeline, peer, logger, `Paddock server ${config.serverId} listening on`, `ensemble of ${config.servers.length}`, async () => {
    await peer.stop();
    await member.close();
  });
}

/**
 * The last steps shared by a standalone server and an ensemble member, once the client ports
 * listen: the start line, the HTTP servers, and the handle. `closeRest` ends what is behind the
 * network server (the pipeline's log, or the peer and its store).
 */
async function serve(
  config: ServerConfig, net: NetworkServer, pipeline: RequestPipeline, peer: QuorumPeer | null, logger: Logger,
  what: string, mode: string, closeRest: () => Promise<void>,
): Promise<PaddockServer> {
  const tlsPort = net.securePort === 0 ? '' : `, TLS on ${net.secureHost}:${net.securePort}`;
  logger.info(`${what} ${net.port === 0 ? 'no plain port' : `${net.host}:${net.port}`}${tlsPort} (tickTime ${config.tickTime} ms, ${mode})`);
  let http: { admin: AdminHttpServer | null; metrics: MetricsHttpServer | null };
  try {
    http = await startHttpServers(config, net, logger);
  } catch (err) {
    await net.close();
    await closeRest().catch(() => undefined);
    throw err;
  }
  return {
    port: net.port,
    host: net.host,
    securePort: net.securePort,
    onTlsReload: net.clientTls === null ? null : (listener) => net.clientTls!.onReload(listener),
    server: pipeline,
    peer,
    ...http,
    expireSession: (id) => pipeline.expireSession(id),
    dropConnection: (id) => net.dropConnection(id),
    close: async () => {
      await http.admin?.close();
      await http.metrics?.close();
      await net.close();
      await closeRest();
    },
  };
}

/** An ensemble member's durable state, what the pipeline starts from, and its upkeep. */
interface MemberStore {
  store: QuorumStore;
  tree: DataTree;
  sessions: ReadonlyMap<bigint, number>;
  /** Called after each apply: a periodic snapshot when one is due. */
  afterApply(pipeline: RequestPipeline): void;
  close(): Promise<void>;
}

/**
 * The data directory through DiskQuorumStore (tree, sessions, epochs and log as they were at the
 * last kill), converting a ZooKeeper data directory found there; a memory store only when asked.
 */
async function openMemberStore(
  config: ServerConfig, options: StartOptions, logger: Logger, onFsync: (ms: number, batchRecords: number) => void,
): Promise<MemberStore> {
  const treeOptions = { extendedTypesEnabled: config.extendedTypesEnabled };
  if (options.quorumStore || options.inMemory) {
    const given = options.quorumStore ?? new MemoryLearnerStore();
    if (!options.quorumStore) logger.warn('the quorum log is kept in memory: a restarted member is synced again from the leader, and an ensemble restarted as a whole starts empty');
    const store = isQuorumStore(given) ? given : asyncStore(given, treeOptions);
    // A LearnerStore kept by a test across restarts may hold a snapshot: start from all it holds.
    const start = new TreeReplica(treeOptions);
    if (!isQuorumStore(given)) catchUp(start, given.load(), false);
    return { store, tree: start.tree, sessions: start.sessions, afterApply: () => undefined, close: async () => undefined };
  }
  // Timed as the standalone log is (fsynctime); the batch's records are counted a turn later.
  let timed: DiskQuorumStore | null = null;
  let recordsAtLastSync = 0;
  const disk = timedDisk(options.disk ?? new NodeDisk(), (ms) => {
    setImmediate(() => {
      if (timed === null) return; // a write of the start itself
      const records = timed.txnLogStats.records;
      onFsync(ms, records - recordsAtLastSync);
      recordsAtLastSync = records;
    });
  });
  const opened = await DiskQuorumStore.open(disk, {
    dataDir: config.dataDir,
    dataLogDir: config.dataLogDir,
    forceSync: config.forceSync,
    preAllocSizeKb: config.preAllocSizeKb,
    acceptDataLoss: config.acceptDataLoss,
    snapCount: config.snapCount,
    // The leader's DIFF window: a role starts from these, held in memory, without reading the log.
    recentTxns: config.commitLogCount,
    tree: treeOptions,
  });
  for (const w of opened.warnings) logger.warn(w);
  const { store, state } = opened;
  timed = store;
  recordsAtLastSync = store.txnLogStats.records;
  logger.info(
    `loaded ${config.dataDir}: snapshot ${hex(Number(state.snapshotZxid))}, last logged zxid ${hex(Number(state.lastLoggedZxid))}, ` +
      `acceptedEpoch ${state.acceptedEpoch}, currentEpoch ${state.currentEpoch}, ${state.tree.size} znodes, ${state.sessions.size} sessions`,
  );
  let snapshotting = false;
  const afterApply = (p: RequestPipeline): void => {
    if (!store.snapshotDue || snapshotting) return;
    snapshotting = true;
    store
      .snapshotLive(() => ({ tree: p.tree, sessions: p.sessionTimeouts() }))
      .then(
        (written) => {
          if (written) logger.info(`snapshot ${written.path} written at zxid ${hex(Number(written.zxid))} (${written.bytes} bytes)`);
        },
        (err: unknown) => logger.error(`snapshot failed: ${(err as Error).message}`),
      )
      .finally(() => {
        snapshotting = false;
      });
  };
  let purgeTimer: NodeJS.Timeout | null = null;
  if (config.autopurgePurgeIntervalHours > 0) {
    purgeTimer = setInterval(() => {
      store.purge(config.autopurgeSnapRetainCount).then(
        (result) => logger.info(`autopurge: ${JSON.stringify(result)}`),
        (err: unknown) => logger.warn(`autopurge failed: ${(err as Error).message}`),
      );
    }, config.autopurgePurgeIntervalHours * 3_600_000);
    purgeTimer.unref();
  }
  return {
    store,
    tree: state.tree,
    sessions: state.sessions,
    afterApply,
    close: async () => {
      if (purgeTimer) clearInterval(purgeTimer);
      await store.close();
    },
  };
}

/** The admin and Prometheus listeners, each only when configured; a port in use fails the start. */
async function startHttpServers(config: ServerConfig, net: NetworkServer, logger: Logger): Promise<{ admin: AdminHttpServer | null; metrics: MetricsHttpServer | null }> {
  let admin: AdminHttpServer | null = null;
  let metrics: MetricsHttpServer | null = null;
  try {
    if (config.adminEnableServer) {
      const options = { address: config.adminServerAddress, port: config.adminServerPort, commandUrl: config.adminCommandUrl, idleTimeoutMs: config.adminIdleTimeoutMs };
      admin = new AdminHttpServer(options, () => net.adminContext());
      await admin.listen();
      logger.info(`AdminServer on ${admin.host}:${admin.port}, command URL ${config.adminCommandUrl}`);
    }
    if (config.metricsProviderClassName === PROMETHEUS_PROVIDER_CLASS) {
      const p = config.metricsProviderConfig;
      const port = Number(p.get('httpPort') ?? '7000');
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid metricsProvider.httpPort '${p.get('httpPort')}'`);
      const exportProcess = (p.get('exportJvmInfo') ?? 'true').trim().toLowerCase() !== 'false';
      metrics = new MetricsHttpServer({ host: p.get('httpHost') ?? '0.0.0.0', port, exportProcess }, () => metricsSource(net.fourLetterContext()));
      await metrics.listen();
      logger.info(`Prometheus metrics on http://${metrics.host}:${metrics.port}/metrics`);
    }
  } catch (err) {
    await admin?.close();
    throw err;
  }
  return { admin, metrics };
}

async function createPipeline(config: ServerConfig, logger: Logger, options: StartOptions): Promise<RequestPipeline> {
  const now = turnClock();
  const random = (byteCount: number): Buffer => randomBytes(byteCount);
  if (options.commitLog || options.inMemory) {
    const log = options.commitLog ?? new MemoryCommitLog();
    // Nothing outlives the process, so neither need its secret.
    const sessionSecret = newSessionSecret(random, []);
    return new RequestPipeline(config, { now, log, logger, randomBytes: random, sessionSecret });
  }
  // The disk is wrapped to time the txn log's fsyncs; the stats they go to exist only once the
  // pipeline does, so the observer reads them through `pipeline` (no fsync of the log happens before).
  let pipeline: RequestPipeline | null = null;
  let recordsAtLastSync = 0;
  const disk = timedDisk(options.disk ?? new NodeDisk(), (ms) => {
    if (pipeline) recordFsync(pipeline, config, logger, ms);
    // The log counts a batch's records just after its fsync returns: read them a turn later.
    setImmediate(() => {
      const records = db.commitLog.txnLogStats.records;
      if (pipeline && records > recordsAtLastSync) pipeline.stats.observe('sync_processor_batch_size', records - recordsAtLastSync);
      recordsAtLastSync = records;
    });
  });
  const openedAt = performance.now();
  const db = await openDatabase(config, logger, disk);
  const loadMs = Math.round(performance.now() - openedAt);
  const afterApply = (p: RequestPipeline): void => db.commitLog.maybeSnapshot(p.tree, () => p.sessionTimeouts());
  const deps = { now, log: db.commitLog, logger, afterApply, randomBytes: random, sessionSecret: db.sessionSecret };
  pipeline = new RequestPipeline(config, deps, db.tree, db.sessions);
  pipeline.stats.observe('dbinittime', loadMs);
  recordsAtLastSync = db.commitLog.txnLogStats.records;
  return pipeline;
}

/** fsynctime, and ZooKeeper's warning and count when one takes longer than fsync.warningthresholdms. */
function recordFsync(pipeline: RequestPipeline, config: ServerConfig, logger: Logger, ms: number): void {
  pipeline.stats.observe('fsynctime', Math.round(ms));
  if (ms <= config.fsyncWarningThresholdMs) return;
  pipeline.stats.fsyncThresholdExceedCount++;
  logger.warn(`fsync-ing the write ahead log took ${Math.round(ms)}ms which will adversely effect operation latency (fsync.warningthresholdms=${config.fsyncWarningThresholdMs})`);
}

/**
 * Date.now() read once per event-loop turn: every request of a socket read shares one reading
 * (ZooKeeper's times are milliseconds too), instead of several clock calls per request.
 */
function turnClock(): () => number {
  let cached = 0;
  let fresh = false;
  const expire = (): void => {
    fresh = false;
  };
  return () => {
    if (!fresh) {
      cached = Date.now();
      fresh = true;
      process.nextTick(expire);
    }
    return cached;
  };
}

export type { ServerConfig } from '../config/config.js';
