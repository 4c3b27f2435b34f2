/**
 * The network server of a standalone server: listens on the client port, accepts sockets within
 * the connection limits, keeps the book of open connections (per IP, throttled, unread reply
 * bytes), runs the tick timer, and hands each socket to a Connection bound to the pipeline.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ipAuthId } from '../acl/index.js';
import type { ServerConfig } from '../config/config.js';
import { createServerAuth, type ServerAuth } from '../auth/sasl-server.js';
import { Connection, EventFrames, type ConnectionHost } from './connection.js';
import { answerFourLetterWord, type FourLetterContext } from './fourletter.js';
import { join } from 'node:path';
import { DEFAULT_TRACE_MASK, type AdminContext } from '../admin/commands.js';
import { directorySize, newestSnapshot } from '../admin/process-stats.js';
import { VERSION_DIR } from '../persistence/store.js';
import { hex, type Logger } from './logger.js';
import type { RequestPipeline } from '../pipeline/pipeline.js';

export class NetworkServer implements ConnectionHost {
  private readonly listener: Server;
  private readonly connections = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private readonly throttled = new Set<Connection>();
  /** Unread reply bytes the kernel did not take, summed over connections (see Connection.account). */
  private outboundBytes = 0;
  private ticker: NodeJS.Timeout | null = null;
  private readonly startedAtMs = Date.now();
  private readonly traceMask = { value: DEFAULT_TRACE_MASK };
  readonly eventFrames = new EventFrames();
  private connectionIds = 0;
  port = 0;
  host = '';

  constructor(
    readonly server: RequestPipeline,
    private readonly config: ServerConfig,
    readonly logger: Logger,
    readonly auth: ServerAuth = createServerAuth(config.auth, null),
  ) {
    this.listener = createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.config.clientPort, this.config.clientPortAddress, () => {
        const addr = this.listener.address();
        if (addr && typeof addr === 'object') {
          this.port = addr.port;
          this.host = addr.address;
        }
        this.listener.off('error', reject);
        this.ticker = setInterval(() => this.server.tick(), Math.max(10, Math.floor(this.config.tickTime / 2)));
        this.ticker.unref();
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    const ip = ipAuthId(socket.remoteAddress ?? '');
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.config.maxClientCnxns > 0 && fromIp >= this.config.maxClientCnxns) {
      this.logger.warn(`too many connections from ${ip} - max is ${this.config.maxClientCnxns}; connection refused`);
      this.server.stats.count('connection_rejected');
      socket.destroy();
      return;
    }
    if (this.config.maxCnxns > 0 && this.connections.size >= this.config.maxCnxns) {
      this.logger.warn(`too many connections (${this.connections.size}) - max is ${this.config.maxCnxns}; connection from ${ip} refused`);
      this.server.stats.count('connection_rejected');
      socket.destroy();
      return;
    }
    this.perIp.set(ip, fromIp + 1);
    const conn = new Connection(socket, this, {
      maxFrameBytes: this.config.juteMaxBuffer,
      maxOutboundBytes: this.config.maxOutboundBytesPerConnection,
      handshakeTimeoutMs: this.config.sessionlessCnxnTimeoutMs,
    });
    this.connections.add(conn);
  }

  nextConnectionId(): number {
    return ++this.connectionIds;
  }

  fourLetterWord(word: string, _conn: Connection): string | null {
    return answerFourLetterWord(word, this.fourLetterContext());
  }

  fourLetterContext(): FourLetterContext {
    const versionDir = (dir: string): string => join(dir, VERSION_DIR);
    return {
      server: this.server,
      config: this.config,
      listeningPort: this.port,
      connections: () => this.connections,
      startedAtMs: this.startedAtMs,
      dataDirSize: () => directorySize(versionDir(this.config.dataDir)),
      logDirSize: () => directorySize(versionDir(this.config.dataLogDir)),
      resetConnectionStats: () => {
        for (const c of this.connections) {
          c.packetsReceived = 0;
          c.packetsSent = 0;
        }
      },
    };
  }

  adminContext(): AdminContext {
    return {
      ...this.fourLetterContext(),
      initialConfiguration: [...this.config.raw].map(([k, v]) => `${k}=${v}\n`).join(''),
      lastSnapshot: () => newestSnapshot(join(this.config.dataDir, VERSION_DIR)),
      traceMask: this.traceMask,
    };
  }

  framesReceived(bytes: number): void {
    this.server.stats.count('bytes_received_count', bytes);
  }

  replySized(bytes: number): void {
    this.server.stats.recordResponseBytes(bytes);
  }

  connectionClosed(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    this.throttled.delete(conn);
    const n = (this.perIp.get(conn.remoteAddress) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.remoteAddress);
    else this.perIp.set(conn.remoteAddress, n);
    this.server.disconnected(conn);
    if (conn.sessionId !== 0n) this.logger.debug(`connection for session ${hex(conn.sessionId)} from ${conn.peer()} closed`);
  }

  /** globalOutstandingLimit: stop reading from a connection while too much is in flight. */
  throttle(conn: Connection): void {
    if (this.server.outstandingRequests() <= this.config.globalOutstandingLimit) return;
    conn.pause();
    this.throttled.add(conn);
  }

  adjustOutbound(deltaBytes: number): void {
    this.outboundBytes += deltaBytes;
  }

  outboundFull(): boolean {
    return this.outboundBytes > this.config.maxOutboundBytesTotal;
  }

  replySent(): void {
    if (this.throttled.size === 0) return;
    if (this.server.outstandingRequests() > this.config.globalOutstandingLimit) return;
    // A resumed connection may be throttled again at once: it then joins a fresh set.
    const waiting = [...this.throttled];
    this.throttled.clear();
    for (const c of waiting) c.resume();
  }

  dropConnection(sessionId: bigint): boolean {
    for (const c of this.connections) {
      if (c.sessionId === sessionId) {
        c.destroy();
        return true;
      }
    }
    return false;
  }

  close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    for (const c of this.connections) c.destroy();
    return new Promise((resolve) => this.listener.close(() => resolve()));
  }
}
