/**
 * startServer: wires a standalone server together. The pipeline (src/pipeline/) decides, the
 * database (database.ts) loads the data directory and gives the durable commit log
 * (durable-commitlog.ts), and the network server (network.ts) carries the sockets.
 */
import { randomBytes } from 'node:crypto';
import { MemoryCommitLog, type CommitLog } from '../pipeline/commitlog.js';
import { defaultConfig, type ServerConfig } from '../config/config.js';
import { createLogger, type Logger } from './logger.js';
import { NetworkServer } from './network.js';
import { RequestPipeline } from '../pipeline/pipeline.js';
import { openDatabase } from './database.js';
import { newSessionSecret } from '../sessions/secret.js';
import type { Disk } from '../io/disk.js';

export interface PaddockServer {
  readonly port: number;
  readonly host: string;
  /** The request pipeline behind the sockets (sessions, tree, counters). */
  readonly server: RequestPipeline;
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
  const pipeline = await createPipeline(config, logger, options);
  const net = new NetworkServer(pipeline, config, logger);
  try {
    await net.listen();
  } catch (err) {
    // Port in use, say: close the log so the data directory's lock is released.
    await pipeline.close().catch(() => undefined);
    throw err;
  }
  logger.info(`Paddock listening on ${net.host}:${net.port} (tickTime ${config.tickTime} ms, standalone)`);
  return {
    port: net.port,
    host: net.host,
    server: pipeline,
    expireSession: (id) => pipeline.expireSession(id),
    dropConnection: (id) => net.dropConnection(id),
    close: async () => {
      await net.close();
      await pipeline.close();
    },
  };
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
  const db = await openDatabase(config, logger, options.disk);
  const afterApply = (p: RequestPipeline): void => db.commitLog.maybeSnapshot(p.tree, () => p.sessionTimeouts());
  const deps = { now, log: db.commitLog, logger, afterApply, randomBytes: random, sessionSecret: db.sessionSecret };
  return new RequestPipeline(config, deps, db.tree, db.sessions);
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
