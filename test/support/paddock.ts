/**
 * Starts a Paddock server in this process for integration and compatibility tests, and picks the
 * "target" server that compatibility tests compare against Apache ZooKeeper.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from '../../src/server/config.js';
import { fourLetterWord, startZooKeeper, type ZooKeeperOptions, type ZooKeeperProcess } from './zookeeper.js';

export interface PaddockProcess {
  port: number;
  connectString: string;
  dataDir: string;
  stop(): Promise<void>;
}

interface ServerModule {
  startServer(overrides?: Partial<ServerConfig>): Promise<{ port: number; close(): Promise<void> }>;
}

// Compiled to dist/test/support/paddock.js; the server is dist/src/server/index.js.
const SERVER_MODULE = new URL('../../src/server/index.js', import.meta.url);

/** Why the Paddock server cannot be started, or null when it can. */
export function paddockMissing(): string | null {
  return existsSync(fileURLToPath(SERVER_MODULE)) ? null : `Paddock server module not built (${fileURLToPath(SERVER_MODULE)})`;
}

export async function startPaddock(overrides: Partial<ServerConfig> = {}): Promise<PaddockProcess> {
  // A computed specifier, so this file compiles before src/server/index.ts exists.
  const mod = (await import(SERVER_MODULE.href)) as ServerModule;
  const dataDir = mkdtempSync(join(tmpdir(), 'paddock-data-'));
  let server: { port: number; close(): Promise<void> };
  try {
    server = await mod.startServer({
      clientPort: 0,
      clientPortAddress: '127.0.0.1',
      dataDir,
      dataLogDir: dataDir,
      fourLetterWhitelist: new Set(['*']),
      extendedTypesEnabled: true,
      maxClientCnxns: 0,
      ...overrides,
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    port: server.port,
    connectString: `127.0.0.1:${server.port}`,
    dataDir,
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
 * Apache ZooKeeper): PADDOCK_COMPAT_TARGET=zookeeper|paddock. Default: paddock; if the server
 * module is not built yet (and not under CI) a second Apache ZooKeeper stands in, with a note.
 */
export function compatTargetName(): TargetName {
  const env = process.env.PADDOCK_COMPAT_TARGET;
  if (env === 'zookeeper' || env === 'paddock') return env;
  if (env) throw new Error(`PADDOCK_COMPAT_TARGET must be 'paddock' or 'zookeeper', not '${env}'`);
  const missing = paddockMissing();
  if (missing) {
    if (process.env.CI) throw new Error(`required under CI: ${missing}`);
    console.log(`# ${missing}: using a second Apache ZooKeeper as the target`);
    return 'zookeeper';
  }
  return 'paddock';
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
