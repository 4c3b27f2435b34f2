/**
 * The network edge of a standalone server: listens, enforces connection limits, runs the tick
 * timer, and wires sockets to the ZkServer pipeline.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { ipAuthId } from '../acl/index.js';
import { MemoryCommitLog, type CommitLog } from './commitlog.js';
import { defaultConfig, type ServerConfig } from '../config/config.js';
import { Connection, type ConnectionHost } from './connection.js';
import { answerFourLetterWord, metricsSource, type FourLetterContext } from './fourletter.js';
import { join } from 'node:path';
import { AdminHttpServer } from '../admin/http.js';
import { DEFAULT_TRACE_MASK, type AdminContext } from '../admin/commands.js';
import { MetricsHttpServer } from '../admin/prometheus.js';
import { directorySize, newestSnapshot } from '../admin/process-stats.js';
import { PROMETHEUS_PROVIDER_CLASS } from '../config/config.js';
import { VERSION_DIR } from '../persistence/store.js';
import { createLogger, hex, type Logger } from './logger.js';
import { ZkServer } from './zkserver.js';
import { openDatabase } from './database.js';
import { newSessionSecret } from '../sessions/secret.js';
import { NodeDisk, type Disk } from '../io/disk.js';
import { timedDisk } from '../admin/timed-disk.js';

export interface PaddockServer {
  readonly port: number;
  readonly host: string;
  readonly server: ZkServer;
  /** The admin HTTP server (admin.enableServer=true), to read its port or mount more routes; else null. */
  readonly admin: AdminHttpServer | null;
  /** The Prometheus endpoint (metricsProvider.className=...PrometheusMetricsProvider), else null. */
  readonly metrics: MetricsHttpServer | null;
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
}

export function resolveConfig(overrides: Partial<ServerConfig>): ServerConfig {
  const cfg = { ...defaultConfig(), ...overrides };
  if (overrides.dataLogDir === undefined) cfg.dataLogDir = cfg.dataDir;
  return cfg;
}

export async function startServer(overrides: Partial<ServerConfig> = {}, options: StartOptions = {}): Promise<PaddockServer> {
  const config = resolveConfig(overrides);
  const logger = options.logger ?? createLogger('server');
  const zk = await createZkServer(config, logger, options);
  const net = new NetworkServer(zk, config, logger);
  try {
    await net.listen();
  } catch (err) {
    // Port in use, say: close the log so the data directory's lock is released.
    await zk.close().catch(() => undefined);
    throw err;
  }
  logger.info(`Paddock listening on ${net.host}:${net.port} (tickTime ${config.tickTime} ms, standalone)`);
  let http: { admin: AdminHttpServer | null; metrics: MetricsHttpServer | null };
  try {
    http = await startHttpServers(config, net, logger);
  } catch (err) {
    await net.close();
    await zk.close().catch(() => undefined);
    throw err;
  }
  return {
    port: net.port,
    host: net.host,
    server: zk,
    ...http,
    expireSession: (id) => zk.expireSession(id),
    dropConnection: (id) => net.dropConnection(id),
    close: async () => {
      await http.admin?.close();
      await http.metrics?.close();
      await net.close();
      await zk.close();
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

async function createZkServer(config: ServerConfig, logger: Logger, options: StartOptions): Promise<ZkServer> {
  const now = turnClock();
  const random = (byteCount: number): Buffer => randomBytes(byteCount);
  if (options.commitLog || options.inMemory) {
    const log = options.commitLog ?? new MemoryCommitLog();
    // Nothing outlives the process, so neither need its secret.
    const sessionSecret = newSessionSecret(random, []);
    return new ZkServer(config, { now, log, logger, randomBytes: random, sessionSecret });
  }
  // The disk is wrapped to time the txn log's fsyncs; the stats they go to exist only once the
  // server does, so the observer reads them through `zk` (no fsync of the log happens before).
  let zk: ZkServer | null = null;
  let recordsAtLastSync = 0;
  const disk = timedDisk(options.disk ?? new NodeDisk(), (ms) => {
    if (zk) recordFsync(zk, config, logger, ms);
    // The log counts a batch's records just after its fsync returns: read them a turn later.
    setImmediate(() => {
      const records = db.commitLog.txnLogStats.records;
      if (zk && records > recordsAtLastSync) zk.stats.observe('sync_processor_batch_size', records - recordsAtLastSync);
      recordsAtLastSync = records;
    });
  });
  const openedAt = performance.now();
  const db = await openDatabase(config, logger, disk);
  const loadMs = Math.round(performance.now() - openedAt);
  const afterApply = (server: ZkServer): void => db.commitLog.maybeSnapshot(server.tree, () => server.sessionTimeouts());
  const deps = { now, log: db.commitLog, logger, afterApply, randomBytes: random, sessionSecret: db.sessionSecret };
  zk = new ZkServer(config, deps, db.tree, db.sessions);
  zk.stats.observe('dbinittime', loadMs);
  recordsAtLastSync = db.commitLog.txnLogStats.records;
  return zk;
}

/** fsynctime, and ZooKeeper's warning and count when one takes longer than fsync.warningthresholdms. */
function recordFsync(zk: ZkServer, config: ServerConfig, logger: Logger, ms: number): void {
  zk.stats.observe('fsynctime', Math.round(ms));
  if (ms <= config.fsyncWarningThresholdMs) return;
  zk.stats.fsyncThresholdExceedCount++;
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

class NetworkServer implements ConnectionHost {
  private readonly listener: Server;
  private readonly connections = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private readonly throttled = new Set<Connection>();
  /** Unread reply bytes the kernel did not take, summed over connections (see Connection.account). */
  private outboundBytes = 0;
  private ticker: NodeJS.Timeout | null = null;
  private readonly startedAtMs = Date.now();
  private readonly traceMask = { value: DEFAULT_TRACE_MASK };
  port = 0;
  host = '';

  constructor(
    readonly server: ZkServer,
    private readonly config: ServerConfig,
    readonly logger: Logger,
  ) {
    this.listener = createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.config.clientPort, this.config.clientPortAddress, () => {
        const addr = this.listener.address();
        if (addr && typeof addr === 'object') {
          this.port = addr.port;
          this.host = addr.address;
        }
        this.listener.off('error', reject);
        this.ticker = setInterval(() => this.server.tick(), Math.max(10, Math.floor(this.config.tickTime / 2)));
        this.ticker.unref();
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    const ip = ipAuthId(socket.remoteAddress ?? '');
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.config.maxClientCnxns > 0 && fromIp >= this.config.maxClientCnxns) {
      this.logger.warn(`too many connections from ${ip} - max is ${this.config.maxClientCnxns}; connection refused`);
      this.server.stats.count('connection_rejected');
      socket.destroy();
      return;
    }
    if (this.config.maxCnxns > 0 && this.connections.size >= this.config.maxCnxns) {
      this.logger.warn(`too many connections (${this.connections.size}) - max is ${this.config.maxCnxns}; connection from ${ip} refused`);
      this.server.stats.count('connection_rejected');
      socket.destroy();
      return;
    }
    this.perIp.set(ip, fromIp + 1);
    const conn = new Connection(socket, this, {
      maxFrameBytes: this.config.juteMaxBuffer,
      maxOutboundBytes: this.config.maxOutboundBytesPerConnection,
      handshakeTimeoutMs: this.config.sessionlessCnxnTimeoutMs,
    });
    this.connections.add(conn);
  }

  fourLetterWord(word: string, _conn: Connection): string | null {
    return answerFourLetterWord(word, this.fourLetterContext());
  }

  fourLetterContext(): FourLetterContext {
    const versionDir = (dir: string): string => join(dir, VERSION_DIR);
    return {
      server: this.server,
      config: this.config,
      listeningPort: this.port,
      connections: () => this.connections,
      startedAtMs: this.startedAtMs,
      dataDirSize: () => directorySize(versionDir(this.config.dataDir)),
      logDirSize: () => directorySize(versionDir(this.config.dataLogDir)),
      resetConnectionStats: () => {
        for (const c of this.connections) {
          c.packetsReceived = 0;
          c.packetsSent = 0;
        }
      },
    };
  }

  adminContext(): AdminContext {
    return {
      ...this.fourLetterContext(),
      initialConfiguration: [...this.config.raw].map(([k, v]) => `${k}=${v}\n`).join(''),
      lastSnapshot: () => newestSnapshot(join(this.config.dataDir, VERSION_DIR)),
      traceMask: this.traceMask,
    };
  }

  frameReceived(bytes: number): void {
    this.server.stats.count('bytes_received_count', bytes);
  }

  replySized(bytes: number): void {
    this.server.stats.recordResponseBytes(bytes);
  }

  connectionClosed(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    this.throttled.delete(conn);
    const n = (this.perIp.get(conn.remoteAddress) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.remoteAddress);
    else this.perIp.set(conn.remoteAddress, n);
    this.server.disconnected(conn);
    if (conn.sessionId !== 0n) this.logger.debug(`connection for session ${hex(conn.sessionId)} from ${conn.peer()} closed`);
  }

  /** globalOutstandingLimit: stop reading from a connection while too much is in flight. */
  throttle(conn: Connection): void {
    if (this.server.outstandingRequests() <= this.config.globalOutstandingLimit) return;
    conn.pause();
    this.throttled.add(conn);
  }

  adjustOutbound(deltaBytes: number): void {
    this.outboundBytes += deltaBytes;
  }

  outboundFull(): boolean {
    return this.outboundBytes > this.config.maxOutboundBytesTotal;
  }

  replySent(): void {
    if (this.throttled.size === 0) return;
    if (this.server.outstandingRequests() > this.config.globalOutstandingLimit) return;
    // A resumed connection may be throttled again at once: it then joins a fresh set.
    const waiting = [...this.throttled];
    this.throttled.clear();
    for (const c of waiting) c.resume();
  }

  dropConnection(sessionId: bigint): boolean {
    for (const c of this.connections) {
      if (c.sessionId === sessionId) {
        c.destroy();
        return true;
      }
    }
    return false;
  }

  close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    for (const c of this.connections) c.destroy();
    return new Promise((resolve) => this.listener.close(() => resolve()));
  }
}

export type { ServerConfig } from '../config/config.js';
