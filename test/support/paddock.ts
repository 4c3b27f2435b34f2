/**
 * Starts a Paddock server in this process for integration and compatibility tests, and picks the
 * "target" server that compatibility tests compare against Apache ZooKeeper.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig } from '../../src/config/config.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import type { Logger } from '../../src/server/logger.js';
import { fourLetterWord, startZooKeeper, type ZooKeeperOptions, type ZooKeeperProcess } from './zookeeper.js';

export interface PaddockProcess {
  port: number;
  connectString: string;
  dataDir: string;
  /** The running server, for tests that expire sessions or drop connections. */
  server: PaddockServer;
  stop(): Promise<void>;
}

/** Tests keep the server's warnings and errors; info lines only when PADDOCK_LOG_LEVEL asks for them. */
const quietLogger: Logger = {
  debug() {},
  info() {},
  warn: (m) => process.stderr.write(`paddock WARN ${m}\n`),
  error: (m) => process.stderr.write(`paddock ERROR ${m}\n`),
};

export async function startPaddock(overrides: Partial<ServerConfig> = {}): Promise<PaddockProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'paddock-data-'));
  let server: PaddockServer;
  try {
    server = await startServer(
      {
        clientPort: 0,
        clientPortAddress: '127.0.0.1',
        dataDir,
        dataLogDir: dataDir,
        fourLetterWhitelist: new Set(['*']),
        extendedTypesEnabled: true,
        maxClientCnxns: 0,
        ...overrides,
      },
      process.env.PADDOCK_LOG_LEVEL ? {} : { logger: quietLogger },
    );
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    port: server.port,
    connectString: `127.0.0.1:${server.port}`,
    dataDir,
    server,
    stop: async () => {
      try {
        await server.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * startZooKeeper, plus a check that the server answering on its port is that very process: its
 * `conf` must show its own dataDir. (The port comes from freePort(), so another process binding
 * port 0 in between can take it; ZooKeeper then fails to bind while the other server answers the
 * readiness probe.) Retries with a new port when the check fails.
 */
export async function startVerifiedZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperProcess> {
  for (let attempt = 1; ; attempt++) {
    const zk = await startZooKeeper(options);
    const conf = await fourLetterWord(zk.port, 'conf').catch((err: Error) => err.message);
    if (conf.includes(zk.dataDir)) return zk;
    await zk.stop();
    if (attempt >= 3) throw new Error(`port ${zk.port} is answered by another server, not the ZooKeeper just started:\n${conf.slice(0, 500)}`);
    console.log(`# port ${zk.port} was taken by another server; starting ZooKeeper again`);
  }
}

export type TargetName = 'paddock' | 'zookeeper';

export interface CompatTarget {
  name: TargetName;
  port: number;
  connectString: string;
  stop(): Promise<void>;
}

/**
 * Which server compatibility tests run against (their expected transcript always comes from
 * Apache ZooKeeper): PADDOCK_COMPAT_TARGET=paddock (default) or zookeeper, the latter to check
 * the comparison machinery itself with ZooKeeper on both sides.
 */
export function compatTargetName(): TargetName {
  const env = process.env.PADDOCK_COMPAT_TARGET;
  if (env === undefined || env === '' || env === 'paddock') return 'paddock';
  if (env === 'zookeeper') return env;
  throw new Error(`PADDOCK_COMPAT_TARGET must be 'paddock' or 'zookeeper', not '${env}'`);
}

export interface CompatTargetOptions {
  /** Settings for a Paddock target. */
  paddock?: Partial<ServerConfig>;
  /** Settings for a ZooKeeper target (the same as the reference's, so both sides agree). */
  zookeeper?: ZooKeeperOptions;
}

export async function startCompatTarget(name: TargetName = compatTargetName(), options: CompatTargetOptions = {}): Promise<CompatTarget> {
  if (name === 'paddock') {
    const p = await startPaddock(options.paddock);
    return { name, port: p.port, connectString: p.connectString, stop: p.stop };
  }
  const zk = await startVerifiedZooKeeper(options.zookeeper);
  return { name, port: zk.port, connectString: zk.connectString, stop: zk.stop };
}
