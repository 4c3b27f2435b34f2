/**
 * An in-process Paddock server for users' own tests: ephemeral port, no files, and helpers to
 * expire a session or drop a connection the way a real outage would.
 *
 * ```ts
 * import { startTestServer } from 'paddock/testing';
 * const server = await startTestServer();
 * // connect any ZooKeeper client to server.connectString
 * await server.close();
 * ```
 */
import { silentLogger } from './server/logger.js';
import { startServer, type PaddockServer } from './server/index.js';
import type { ServerConfig } from './config/config.js';

export interface TestServer {
  readonly port: number;
  /** `127.0.0.1:<port>`, for any ZooKeeper client. */
  readonly connectString: string;
  /** Ends a session as its timeout would: its ephemerals go, its client sees Expired. */
  expireSession(sessionId: bigint): boolean;
  /** Cuts a session's connection; the session survives and the client may reconnect. */
  dropConnection(sessionId: bigint): boolean;
  /** The server object, for assertions in tests. */
  readonly server: PaddockServer;
  close(): Promise<void>;
}

export interface TestServerOptions extends Partial<ServerConfig> {
  /** Log to standard error (default: silent). */
  verbose?: boolean;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { verbose, ...overrides } = options;
  const server = await startServer(
    {
      clientPort: 0,
      clientPortAddress: '127.0.0.1',
      maxClientCnxns: 0,
      tickTime: 500,
      extendedTypesEnabled: true,
      fourLetterWhitelist: new Set(['*']),
      ...overrides,
    },
    { inMemory: overrides.dataDir === undefined, ...(verbose ? {} : { logger: silentLogger }) },
  );
  return {
    port: server.port,
    connectString: `127.0.0.1:${server.port}`,
    expireSession: (id) => server.expireSession(id),
    dropConnection: (id) => server.dropConnection(id),
    server,
    close: () => server.close(),
  };
}
