/**
 * Paddock ensembles in the test process: N servers started with startServer from the same
 * server.N membership on loopback ports, each an independent member (own pipeline, peer, store).
 */
import { join } from 'node:path';
import { freePort } from '../support/ports.js';
import { startServer, type PaddockServer, type StartOptions } from '../../src/server/index.js';
import type { QuorumMemberPorts } from '../consensus/zk-quorum.js';
import type { QuorumServerSpec, ServerConfig } from '../../src/config/config.js';
import { silentLogger, type Logger } from '../../src/lib/log.js';
import { MemoryLearnerStore } from '../../src/server/quorum/learner-driver.js';
import type { ServingMode } from '../../src/pipeline/pipeline.js';

export const TICK_MS = 200;

export interface Member {
  id: number;
  clientPort: number;
  /** Kept across restarts of the member, as a data directory would be. */
  store: MemoryLearnerStore;
  server: PaddockServer | null;
}

export interface Cluster {
  members: Member[];
  servers: QuorumServerSpec[];
  /** "127.0.0.1:p1,127.0.0.1:p2,..." over every member. */
  connectString: string;
  start(id: number): Promise<PaddockServer>;
  stop(id: number): Promise<void>;
  close(): Promise<void>;
}

/** Ports and configs for `count` members; none started. */
/** PADDOCK_TEST_LOG=1 prints every member's log to stderr. */
function testLogger(id: number): Logger {
  if (process.env.PADDOCK_TEST_LOG !== '1') return silentLogger;
  const line = (level: string) => (msg: string): void => void process.stderr.write(`[${id} ${level}] ${msg}\n`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/**
 * `observers`: how many of the last members are observers. `dataDir`: member N keeps its state
 * in `dataDir`/dataN (DiskQuorumStore, kept across restarts) instead of its memory store.
 */
export async function makeCluster(count: number, extra: Partial<ServerConfig> = {}, logger: (id: number) => Logger = testLogger, observers = 0, dataDir?: string): Promise<Cluster> {
  const servers: QuorumServerSpec[] = [];
  const members: Member[] = [];
  for (let id = 1; id <= count; id++) {
    const quorumPort = await freePort();
    const electionPort = await freePort();
    const clientPort = await freePort();
    servers.push({ id, host: '127.0.0.1', quorumPort, electionPort, addresses: [{ host: '127.0.0.1', quorumPort, electionPort }], type: id > count - observers ? 'observer' : 'participant', clientPortAddress: null, clientPort: null });
    members.push({ id, clientPort, store: new MemoryLearnerStore(), server: null });
  }
  const configOf = (m: Member): Partial<ServerConfig> => ({
    serverId: m.id,
    servers,
    clientPort: m.clientPort,
    clientPortAddress: '127.0.0.1',
    peerType: servers[m.id - 1]!.type,
    tickTime: TICK_MS,
    initLimit: 25,
    syncLimit: 10,
    sessionPasswords: 'zookeeper',
    ...extra,
  });
  const cluster: Cluster = {
    members,
    servers,
    connectString: members.map((m) => `127.0.0.1:${m.clientPort}`).join(','),
    async start(id) {
      const m = members[id - 1]!;
      m.server = dataDir === undefined
        ? await startServer(configOf(m), { quorumStore: m.store, logger: logger(id) })
        : await startServer({ ...configOf(m), dataDir: join(dataDir, `data${id}`), dataLogDir: join(dataDir, `data${id}`) }, { logger: logger(id) });
      return m.server;
    },
    async stop(id) {
      const m = members[id - 1]!;
      const s = m.server;
      m.server = null;
      await s?.close();
    },
    async close() {
      await Promise.all(members.map((m) => cluster.stop(m.id)));
    },
  };
  return cluster;
}

/** Starts every member and resolves once one leads and every other one follows. */
export async function startCluster(count: number, extra: Partial<ServerConfig> = {}, observers = 0): Promise<Cluster> {
  // The quorum ports are picked free before the members bind them, so another test may take one
  // in between: such a start is closed and made again on new ports. Any other failure closes what
  // started, so that no server outlives the test that failed.
  for (let attempt = 1; ; attempt++) {
    const cluster = await makeCluster(count, extra, testLogger, observers);
    try {
      // Every start settles before any failure is acted on, so that close() finds every server.
      const started = await Promise.allSettled(cluster.members.map((m) => cluster.start(m.id)));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      await waitForRoles(cluster, 30_000);
      return cluster;
    } catch (err) {
      await cluster.close().catch(() => undefined);
      if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

export function running(cluster: Cluster): PaddockServer[] {
  return cluster.members.flatMap((m) => (m.server ? [m.server] : []));
}

export function modeOf(s: PaddockServer): ServingMode {
  return s.server.mode;
}

export function leaderOf(cluster: Cluster): Member | null {
  return cluster.members.find((m) => m.server !== null && modeOf(m.server) === 'leader') ?? null;
}

/** Waits until the running members have one leader and the rest follow. */
export function waitForRoles(cluster: Cluster, timeoutMs: number): Promise<void> {
  return waitForPeers(cluster, timeoutMs, 'one leader, the others following', () => {
    const modes = running(cluster).map(modeOf);
    return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m === 'leader' || m === 'follower' || m === 'observer');
  });
}

/** Re-checks `done` whenever a member changes role, until it holds or the time is up. */
export function waitForPeers(cluster: Cluster, timeoutMs: number, what: string, done: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const peers = running(cluster).map((s) => s.peer!);
    const check = (): void => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const p of peers) p.off('mode', check);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not ${what} within ${timeoutMs} ms: ${running(cluster).map((s) => modeOf(s)).join(', ')}`));
    }, timeoutMs);
    for (const p of peers) p.on('mode', check);
    check();
  });
}

/**
 * Starts Paddock as member `index` of a mixed ensemble whose other members are ZooKeeper peers
 * (zk-quorum.ts), with the same tick and limits as those peers; `extra` adds to its config.
 */
export function startPaddockAmongZooKeepers(members: readonly QuorumMemberPorts[], index: number, tickTimeMs: number, extra: Partial<ServerConfig>, options: StartOptions): Promise<PaddockServer> {
  const me = members[index]!;
  return startServer(
    {
      serverId: Number(me.sid),
      servers: members.map((m) => ({
        id: Number(m.sid), host: m.host, quorumPort: m.quorumPort, electionPort: m.electionPort,
        addresses: [{ host: m.host, quorumPort: m.quorumPort, electionPort: m.electionPort }], type: 'participant', clientPortAddress: null, clientPort: null,
      })),
      clientPort: me.clientPort,
      clientPortAddress: '127.0.0.1',
      tickTime: tickTimeMs,
      initLimit: 100,
      syncLimit: 10,
      sessionPasswords: 'zookeeper',
      ...extra,
    },
    options,
  );
}
