/**
 * The two servers of the differential test, configured alike: Apache ZooKeeper as the reference,
 * and Paddock in-process (or a second ZooKeeper with DIFF_TARGET=zookeeper, to test the harness).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpCode } from '../../src/jute/index.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { RawClient } from '../support/rawclient.js';
import { startZooKeeper, type ZooKeeperProcess } from '../support/zookeeper.js';
import { digestId } from './generator.js';
import { connectWhenServing } from './harness.js';

export const TICK_TIME = 200;
export const MIN_SESSION_TIMEOUT = 400;
export const MAX_SESSION_TIMEOUT = 60_000;
/** Containers and TTL nodes are reaped on a timer; it must never fire during a run. */
const NEVER_MS = 2_000_000_000;
export const SUPER_PASSWORD = 'superpw';
export const SUPER_DIGEST = digestId('super', SUPER_PASSWORD);

export interface RunningServer {
  name: string;
  host: string;
  port: number;
  /** An authenticated super-user session for cleanup. */
  admin: RawClient;
  /**
   * Stops the server and starts it again on the same data directory (Apache ZooKeeper is killed,
   * Paddock closed); `port` and `admin` are then the new ones.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function adminClient(host: string, port: number): Promise<RawClient> {
  const admin = await connectWhenServing({ host, port }, MAX_SESSION_TIMEOUT);
  const r = await admin.send({ type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from(`super:${SUPER_PASSWORD}`) });
  if (r.header.err !== 0) throw new Error(`super auth failed: ${r.header.err}`);
  return admin;
}

export async function startReference(name = 'zookeeper'): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'zk-diff-'));
  const start = (): Promise<ZooKeeperProcess> =>
    startZooKeeper({
      dataDir: dir,
      tickTime: TICK_TIME,
      config: {
        minSessionTimeout: String(MIN_SESSION_TIMEOUT),
        maxSessionTimeout: String(MAX_SESSION_TIMEOUT),
        forceSync: 'no',
        extendedTypesEnabled: 'true',
      },
      properties: {
        'znode.container.checkIntervalMs': String(NEVER_MS),
        'zookeeper.DigestAuthenticationProvider.superDigest': SUPER_DIGEST,
      },
    });
  let zk = await start();
  const server: RunningServer = {
    name,
    host: '127.0.0.1',
    port: zk.port,
    admin: await adminClient('127.0.0.1', zk.port),
    restart: async () => {
      await server.admin.close(MAX_SESSION_TIMEOUT).catch(() => server.admin.destroy());
      await zk.stop();
      zk = await start();
      server.port = zk.port;
      server.admin = await adminClient('127.0.0.1', zk.port);
    },
    stop: async () => {
      server.admin.destroy();
      await zk.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export async function startPaddock(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-diff-'));
  const start = (): Promise<PaddockServer> =>
    startServer(
      {
        clientPort: 0,
        clientPortAddress: '127.0.0.1',
        dataDir: dir,
        dataLogDir: dir,
        tickTime: TICK_TIME,
        minSessionTimeout: MIN_SESSION_TIMEOUT,
        maxSessionTimeout: MAX_SESSION_TIMEOUT,
        extendedTypesEnabled: true,
        maxClientCnxns: 0,
        fourLetterWhitelist: new Set(['*']),
        containerCheckIntervalMs: NEVER_MS,
        superDigest: SUPER_DIGEST,
        forceSync: false,
      },
      process.env.DIFF_VERBOSE === '1' ? {} : { logger: silentLogger },
    );
  let srv = await start();
  const server: RunningServer = {
    name: 'paddock',
    host: '127.0.0.1',
    port: srv.port,
    admin: await adminClient('127.0.0.1', srv.port),
    restart: async () => {
      await server.admin.close(MAX_SESSION_TIMEOUT).catch(() => server.admin.destroy());
      await srv.close();
      srv = await start();
      server.port = srv.port;
      server.admin = await adminClient('127.0.0.1', srv.port);
    },
    stop: async () => {
      server.admin.destroy();
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The server under test: Paddock, or with DIFF_TARGET=zookeeper a second Apache ZooKeeper. */
export function startTarget(): Promise<RunningServer> {
  return process.env.DIFF_TARGET === 'zookeeper' ? startReference('zookeeper-2') : startPaddock();
}
