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
import { answerFourLetterWord } from './fourletter.js';
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
  return {
    port: net.port,
    host: net.host,
    server: zk,
    expireSession: (id) => zk.expireSession(id),
    dropConnection: (id) => net.dropConnection(id),
    close: async () => {
      await net.close();
      await zk.close();
    },
  };
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
      socket.destroy();
      return;
    }
    if (this.config.maxCnxns > 0 && this.connections.size >= this.config.maxCnxns) {
      this.logger.warn(`too many connections (${this.connections.size}) - max is ${this.config.maxCnxns}; connection from ${ip} refused`);
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
    return answerFourLetterWord(word, {
      server: this.server,
      config: this.config,
      listeningPort: this.port,
      connections: () => this.connections,
      startedAtMs: this.startedAtMs,
      dataDirSize: () => 0,
      logDirSize: () => 0,
      resetConnectionStats: () => {
        for (const c of this.connections) {
          c.packetsReceived = 0;
          c.packetsSent = 0;
        }
      },
    });
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
