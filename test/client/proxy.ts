/**
 * A TCP proxy for fault injection between a client and a server: drop every connection,
 * black-hole traffic (a partition: connections hang, new ones are accepted but go nowhere),
 * and re-point it at a restarted server on another port.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export class FaultProxy {
  private server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  private blackhole = false;
  port = 0;

  private constructor(private upstreamPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(upstreamPort: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(upstreamPort);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    const addr = proxy.server.address();
    proxy.port = typeof addr === 'object' && addr ? addr.port : 0;
    return proxy;
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    this.pairs.add(pair);
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', close);
    client.on('close', close);
    if (this.blackhole) return; // accepted, never forwarded: looks like a dead network
    const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort });
    pair.upstream = upstream;
    upstream.on('error', close);
    upstream.on('close', close);
    client.on('data', (d) => {
      if (!this.blackhole) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!this.blackhole) client.write(d);
    });
  }

  /** Closes every current connection (clients see a reset and reconnect). */
  dropAll(): void {
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** Starts or ends a partition: bytes are silently discarded both ways. */
  setBlackhole(on: boolean): void {
    this.blackhole = on;
  }

  /** Points new connections at another upstream port (after a server restart). */
  setUpstream(port: number): void {
    this.upstreamPort = port;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
