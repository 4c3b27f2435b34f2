/**
 * Which servers the client and recipe suites run against. PADDOCK_TEST_TARGET selects:
 * `zookeeper` (Apache ZooKeeper 3.8 from Debian's package), `paddock` (the in-tree server), or
 * `both`. The default is `both` once src/server/index.ts exists, `zookeeper` before that.
 * Every test name starts with `[target]` so the output says which server it ran against.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { startZooKeeper, zookeeperMissing } from '../support/zookeeper.js';

export interface RunningServer {
  target: TargetName;
  port: number;
  connectString: string;
  /** Stops the server, keeping its data directory. */
  stop(): Promise<void>;
  /** Starts it again on the same data directory (the port may change). */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

export type TargetName = 'zookeeper' | 'paddock';

export interface StartOptions {
  /** Server tick; sessions may last 2..20 ticks. Default 200 ms so expiry tests stay fast. */
  tickTime?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/server/index.js, relative to dist/test/client/. */
const paddockEntry = join(here, '..', '..', 'src', 'server', 'index.js');

function paddockMissing(): string | null {
  return existsSync(paddockEntry) ? null : 'the Paddock server (src/server/index.ts) is not built yet';
}

export function selectedTargets(): TargetName[] {
  const env = process.env.PADDOCK_TEST_TARGET;
  if (env === 'zookeeper' || env === 'paddock') return [env];
  if (env === 'both') return ['zookeeper', 'paddock'];
  return paddockMissing() ? ['zookeeper'] : ['zookeeper', 'paddock'];
}

/** Why a target cannot run here, or null. Under CI a missing target is an error, not a skip. */
export function targetMissing(target: TargetName): string | null {
  const why = target === 'zookeeper' ? zookeeperMissing() : paddockMissing();
  if (why && process.env.CI) throw new Error(`required under CI: ${why}`);
  return why;
}

/** Session timeouts the test servers grant at most (ZooKeeper's default would be 20 ticks). */
export const MAX_SESSION_TIMEOUT_MS = 30_000;

export async function startTarget(target: TargetName, options: StartOptions = {}): Promise<RunningServer> {
  const tickTime = options.tickTime ?? 200;
  const dataDir = mkdtempSync(join(tmpdir(), `client-test-${target}-`));
  if (target === 'zookeeper') {
    // A higher session cap than 20 ticks lets restart tests outlast a JVM restart under load.
    const start = () => startZooKeeper({ tickTime, dataDir, config: { maxSessionTimeout: String(MAX_SESSION_TIMEOUT_MS) } });
    let zk = await start();
    const server: RunningServer = {
      target,
      port: zk.port,
      connectString: zk.connectString,
      stop: () => zk.stop(),
      restart: async () => {
        await zk.stop();
        zk = await start();
        server.port = zk.port;
        server.connectString = zk.connectString;
      },
      dispose: async () => {
        await zk.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return server;
  }
  const mod = (await import(paddockEntry)) as {
    startServer(overrides?: Record<string, unknown>): Promise<{ port: number; close(): Promise<void> }>;
  };
  const start = () =>
    mod.startServer({
      clientPort: 0,
      clientPortAddress: '127.0.0.1',
      dataDir,
      dataLogDir: dataDir,
      extendedTypesEnabled: true,
      maxClientCnxns: 0,
      tickTime,
      maxSessionTimeout: MAX_SESSION_TIMEOUT_MS,
    });
  let srv = await start();
  let stopped = false;
  const server: RunningServer = {
    target,
    port: srv.port,
    connectString: `127.0.0.1:${srv.port}`,
    stop: async () => {
      if (!stopped) await srv.close();
      stopped = true;
    },
    restart: async () => {
      if (!stopped) await srv.close();
      srv = await start();
      stopped = false;
      server.port = srv.port;
      server.connectString = `127.0.0.1:${srv.port}`;
    },
    dispose: async () => {
      if (!stopped) await srv.close();
      stopped = true;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * Declares one suite per selected target: `body` gets a function returning the shared server,
 * which is started once before the suite's tests and disposed after them.
 */
export function forEachTarget(
  suiteName: string,
  body: (ctx: { target: TargetName; server: () => RunningServer; name: (n: string) => string }) => void,
  options: StartOptions = {},
): void {
  for (const target of selectedTargets()) {
    const missing = targetMissing(target);
    void test(`[${target}] ${suiteName}`, { skip: missing ?? false, concurrency: false }, async (t: TestContext) => {
      const server = await startTarget(target, options);
      try {
        const tests: { name: string; fn: () => Promise<void>; timeoutMs: number }[] = [];
        collecting = tests;
        body({ target, server: () => server, name: (n) => `[${target}] ${n}` });
        collecting = null;
        for (const c of tests) await t.test(`[${target}] ${c.name}`, { timeout: c.timeoutMs }, c.fn);
      } finally {
        await server.dispose();
      }
    });
  }
}

let collecting: { name: string; fn: () => Promise<void>; timeoutMs: number }[] | null = null;

/** A test inside `forEachTarget`. */
export function it(name: string, fn: () => Promise<void>, timeoutMs = 60_000): void {
  if (!collecting) throw new Error('it() outside forEachTarget');
  collecting.push({ name, fn, timeoutMs });
}
