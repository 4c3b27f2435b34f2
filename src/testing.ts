/**
 * An in-process Paddock server for users' own tests: ephemeral port, no files, and helpers to
 * expire a session, drop a connection or cut the server off the way a real outage would.
 *
 * ```ts
 * import { startTestServer } from 'paddock/testing';
 * await using server = await startTestServer();
 * // connect any ZooKeeper client to server.connectString
 * server.partition(); // the server stops answering; sessions expire on both sides
 * server.heal();
 * ```
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { silentLogger } from './server/logger.js';
import { startServer, type PaddockServer } from './server/index.js';
import type { ServerConfig } from './config/config.js';

export interface TestServer {
  /** The port clients connect to (a relay in front of the server, so it can be cut off). */
  readonly port: number;
  /** `127.0.0.1:<port>`, for any ZooKeeper client. */
  readonly connectString: string;
  /** Ends a session as its timeout would: its ephemerals go, its client sees Expired. */
  expireSession(sessionId: bigint): boolean;
  /** Cuts a session's connection; the session survives and the client may reconnect. */
  dropConnection(sessionId: bigint): boolean;
  /**
   * Starts a network partition between every client and the server: connections stay open but
   * nothing gets through either way, and new connections are accepted but never answered. The
   * server keeps running, so sessions whose clients cannot ping expire.
   */
  partition(): void;
  /**
   * Ends the partition. Connections that lived through it are reset (as a long outage leaves
   * TCP connections broken); clients reconnect and new connections reach the server again.
   */
  heal(): void;
  /** The server object, for assertions in tests. */
  readonly server: PaddockServer;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
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
  let relay: Relay;
  try {
    relay = await Relay.start(server.host, server.port);
  } catch (err) {
    await server.close();
    throw err;
  }
  const close = async (): Promise<void> => {
    await relay.close();
    await server.close();
  };
  return {
    port: relay.port,
    connectString: `127.0.0.1:${relay.port}`,
    expireSession: (id) => server.expireSession(id),
    dropConnection: (id) => server.dropConnection(id),
    partition: () => relay.partition(),
    heal: () => relay.heal(),
    server,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** One client connection and its connection to the server. */
interface Link {
  client: Socket;
  upstream: Socket | null;
  /** Set while a partition cuts this link: bytes and closes are not passed across. */
  cut: boolean;
}

/** A TCP relay to the server that can stop passing bytes without closing anything. */
class Relay {
  private readonly links = new Set<Link>();
  private partitioned = false;
  port = 0;

  private constructor(
    private readonly listener: Server,
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  static async start(upstreamHost: string, upstreamPort: number): Promise<Relay> {
    const listener = createServer({ allowHalfOpen: true });
    const relay = new Relay(listener, upstreamHost, upstreamPort);
    listener.on('connection', (socket) => relay.accept(socket));
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    relay.port = (listener.address() as { port: number }).port;
    return relay;
  }

  partition(): void {
    this.partitioned = true;
    for (const link of this.links) link.cut = true;
  }

  heal(): void {
    this.partitioned = false;
    for (const link of [...this.links]) if (link.cut) this.destroy(link);
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) this.destroy(link);
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: null, cut: this.partitioned };
    this.links.add(link);
    client.on('error', () => undefined);
    // A connection made during a partition is accepted and then ignored, like a black hole.
    if (link.cut) return;
    const upstream = connect({ host: this.upstreamHost, port: this.upstreamPort, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.on('error', () => undefined);
    this.forward(link, client, upstream);
    this.forward(link, upstream, client);
  }

  /** Passes bytes and ends from `from` to `to` while the link is not cut. */
  private forward(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!link.cut) to.write(chunk);
    });
    from.on('end', () => {
      if (!link.cut) to.end();
    });
    from.on('close', (hadError: boolean) => {
      if (link.cut) return;
      // end() lets what is already written (a four-letter word's answer) reach the peer.
      if (hadError) to.destroy();
      else if (!to.destroyed) to.end();
      if (link.client.destroyed && (link.upstream?.destroyed ?? true)) this.links.delete(link);
    });
  }

  private destroy(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }
}
