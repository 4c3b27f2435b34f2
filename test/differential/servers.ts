/**
 * The two servers of the differential test, configured alike: Apache ZooKeeper as the reference,
 * and Paddock in-process (or a second ZooKeeper with DIFF_TARGET=zookeeper, to test the harness).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpCode } from '../../src/jute/index.js';
import { startServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { RawClient } from '../support/rawclient.js';
import { startZooKeeper } from '../support/zookeeper.js';
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
  stop(): Promise<void>;
}

async function adminClient(host: string, port: number): Promise<RawClient> {
  const admin = await connectWhenServing({ host, port }, MAX_SESSION_TIMEOUT);
  const r = await admin.send({ type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from(`super:${SUPER_PASSWORD}`) });
  if (r.header.err !== 0) throw new Error(`super auth failed: ${r.header.err}`);
  return admin;
}

export async function startReference(name = 'zookeeper'): Promise<RunningServer> {
  const zk = await startZooKeeper({
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
  const admin = await adminClient('127.0.0.1', zk.port);
  return {
    name,
    host: '127.0.0.1',
    port: zk.port,
    admin,
    stop: async () => {
      admin.destroy();
      await zk.stop();
    },
  };
}

export async function startPaddock(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-diff-'));
  const srv = await startServer({
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
  }, process.env.DIFF_VERBOSE === '1' ? {} : { logger: silentLogger });
  const admin = await adminClient('127.0.0.1', srv.port);
  return {
    name: 'paddock',
    host: '127.0.0.1',
    port: srv.port,
    admin,
    stop: async () => {
      admin.destroy();
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The server under test: Paddock, or with DIFF_TARGET=zookeeper a second Apache ZooKeeper. */
export function startTarget(): Promise<RunningServer> {
  return process.env.DIFF_TARGET === 'zookeeper' ? startReference('zookeeper-2') : startPaddock();
}
