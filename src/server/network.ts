/**
 * The network server of a standalone server: listens on the client port and the TLS client
 * port, accepts sockets within the connection limits, keeps the book of open connections (per
 * IP, throttled, unread reply bytes), runs the tick timer, and hands each socket to a
 * Connection bound to the pipeline. TLS itself (handshakes, client certificates, reloads) is
 * in ClientTlsPort; both ports feed accepted sockets through the same admission.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ipAuthId } from '../acl/index.js';
import { NETTY_CNXN_FACTORY, type ServerConfig } from '../config/config.js';
import { createServerAuth, type ServerAuth } from '../auth/sasl-server.js';
import type { Id } from '../jute/records.js';
import { ConnectionAdmission, perSecondBucket, type TokenBucket } from './limits.js';
import { ClientTlsPort } from './tls-port.js';
import { Connection, EventFrames, type ConnectionHost } from './connection.js';
import { answerFourLetterWord, type FourLetterContext } from './fourletter.js';
import { join } from 'node:path';
import { DEFAULT_TRACE_MASK, type AdminContext } from '../admin/commands.js';
import { directorySize, newestSnapshot } from '../admin/process-stats.js';
import { VERSION_DIR } from '../persistence/store.js';
import { hex, type Logger } from './logger.js';
import type { RequestPipeline } from '../pipeline/pipeline.js';

export class NetworkServer implements ConnectionHost {
  /** The plain client port; null when zoo.cfg sets only secureClientPort. */
  private readonly listener: Server | null;
  /** The TLS client port, and TLS on the plain port with client.portUnification. */
  private tls: ClientTlsPort | null = null;
  private readonly admission: ConnectionAdmission;
  /** paddock.requestRatePerSession: each connection's bucket. */
  private readonly requestBuckets = new WeakMap<Connection, TokenBucket>();
  private throttleTimer: NodeJS.Timeout | null = null;
  private readonly connections = new Set<Connection>();
  /** Sockets from each IP and in all, from accept to close (maxClientCnxns, maxCnxns). */
  private readonly perIp = new Map<string, number>();
  private openSockets = 0;
  private readonly throttled = new Set<Connection>();
  /** Unread reply bytes the kernel did not take, summed over connections (see Connection.account). */
  private outboundBytes = 0;
  private ticker: NodeJS.Timeout | null = null;
  private readonly startedAtMs = Date.now();
  private readonly traceMask = { value: DEFAULT_TRACE_MASK };
  readonly eventFrames = new EventFrames();
  private connectionIds = 0;
  /**
   * Read per request, so taken from the config once: paddock.requestRatePerSession (0: off), and
   * the outstanding count from which reading stops (past globalOutstandingLimit, or at
   * request_throttle_max_requests when set).
   */
  private readonly requestRatePerSession: number;
  private readonly overloadedAt: number;
  /** The plain client port (0 when there is none) and its address. */
  port = 0;
  host = '';
  /** The TLS client port (0 when there is none) and its address. */
  securePort = 0;
  secureHost = '';

  constructor(
    readonly server: RequestPipeline,
    private readonly config: ServerConfig,
    readonly logger: Logger,
    readonly auth: ServerAuth = createServerAuth(config.auth, null),
  ) {
    this.listener = config.clientPortEnabled ? createServer((socket) => this.acceptPlain(socket)) : null;
    this.admission = new ConnectionAdmission(config, Date.now());
    this.requestRatePerSession = config.requestRatePerSession;
    const max = config.requestThrottleMaxRequests;
    this.overloadedAt = max > 0 ? Math.min(max, config.globalOutstandingLimit + 1) : config.globalOutstandingLimit + 1;
  }

  /** The TLS port's hooks (reload notifications), or null without TLS. */
  get clientTls(): ClientTlsPort | null {
    return this.tls;
  }

  /** Reads the TLS material (a bad store fails here), then opens the ports. */
  async listen(): Promise<void> {
    const wantsTls = this.config.secureClientPort !== null || (this.listener !== null && this.config.clientPortUnification);
    if (wantsTls) {
      if (this.config.secureClientPort !== null && this.config.serverCnxnFactory !== NETTY_CNXN_FACTORY) {
        this.logger.warn(`secureClientPort is set without serverCnxnFactory=${NETTY_CNXN_FACTORY}: ZooKeeper would not start; Paddock serves TLS anyway`);
      }
      this.tls = new ClientTlsPort(this.config, this, (socket, ids) => this.serve(socket, ids));
    }
    try {
      if (this.listener !== null) {
        const addr = await listenOn(this.listener, this.config.clientPort, this.config.clientPortAddress);
        [this.port, this.host] = [addr.port, addr.address];
      }
      if (this.tls !== null && this.config.secureClientPort !== null) {
        const addr = await this.tls.listen(this.config.secureClientPort, this.config.secureClientPortAddress, (socket) => this.admit(socket));
        [this.securePort, this.secureHost] = [addr.port, addr.address];
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.ticker = setInterval(() => this.server.tick(), Math.max(10, Math.floor(this.config.tickTime / 2)));
    this.ticker.unref();
  }

  private acceptPlain(socket: Socket): void {
    if (!this.admit(socket)) return;
    if (this.tls !== null && this.config.clientPortUnification) this.tls.detect(socket, () => this.serve(socket, []));
    else this.serve(socket, []);
  }

  /**
   * The connection limits, checked at accept for both ports (a TLS connection counts from
   * its TCP accept, so handshakes in progress count too). Its slot is freed when the socket closes.
   */
  private admit(socket: Socket): boolean {
    const ip = ipAuthId(socket.remoteAddress ?? '');
    const refuse = (why: string): false => {
      this.logger.warn(`${why}; connection from ${ip} refused`);
      this.server.stats.count('connection_rejected');
      socket.destroy();
      return false;
    };
    // A reset before a Connection or TLS takes the socket must not become an uncaught error.
    socket.on('error', () => undefined);
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.config.maxClientCnxns > 0 && fromIp >= this.config.maxClientCnxns) return refuse(`too many connections from ${ip} - max is ${this.config.maxClientCnxns}`);
    if (this.config.maxCnxns > 0 && this.openSockets >= this.config.maxCnxns) return refuse(`too many connections (${this.openSockets}) - max is ${this.config.maxCnxns}`);
    const admission = this.admission.admit(ip, Date.now());
    if (admission === 'ip-rate') {
      this.server.stats.countLimit('connections_rate_limited');
      return refuse(`more than ${this.config.connectionRatePerIp} new connections per second from ${ip} (paddock.connectionRatePerIp)`);
    }
    if (admission === 'throttled') return refuse('connection throttled (connection_throttle_tokens)');
    this.perIp.set(ip, fromIp + 1);
    this.openSockets++;
    socket.once('close', () => {
      this.openSockets--;
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    });
    return true;
  }

  /** A socket past admission (and TLS, with the ids its certificate gave) becomes a Connection. */
  private serve(socket: Socket | TLSSocket, ids: readonly Id[]): void {
    const conn = new Connection(socket, this, {
      maxFrameBytes: this.config.juteMaxBuffer,
      maxOutboundBytes: this.config.maxOutboundBytesPerConnection,
      handshakeTimeoutMs: this.config.sessionlessCnxnTimeoutMs,
    });
    for (const id of ids) conn.authIds.push(id);
    this.connections.add(conn);
    // A socket whose first bytes were looked at was paused: reading goes on now.
    socket.resume();
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
    this.server.disconnected(conn);
    if (conn.sessionId !== 0n) this.logger.debug(`connection for session ${hex(conn.sessionId)} from ${conn.peer()} closed`);
  }

  /**
   * After each request: paddock.requestRatePerSession holds this connection back until its
   * bucket has a token; globalOutstandingLimit and request_throttle_max_requests (ZooKeeper's
   * RequestThrottler) stop reading connections while too much is in process. Throttling delays
   * reading, as in ZooKeeper; no request is answered with an error.
   */
  throttle(conn: Connection): void {
    if (this.requestRatePerSession > 0 && this.rateLimited(conn)) return;
    if (!this.overloaded()) return;
    if (this.config.requestThrottleMaxRequests > 0) this.server.stats.count('request_throttle_wait_count');
    conn.pause();
    this.throttled.add(conn);
    this.armStallTimer();
  }

  private overloaded(): boolean {
    return this.server.outstandingRequests() >= this.overloadedAt;
  }

  /** True when the connection used its request budget: it is paused until a token is due. */
  private rateLimited(conn: Connection): boolean {
    const perSecond = this.requestRatePerSession;
    const now = Date.now();
    let bucket = this.requestBuckets.get(conn);
    if (bucket === undefined) this.requestBuckets.set(conn, (bucket = perSecondBucket(perSecond, now)));
    bucket.take(now);
    const waitMs = bucket.msUntilToken(now);
    if (waitMs === 0) return false;
    this.server.stats.countLimit('requests_rate_delayed');
    conn.pause();
    setTimeout(() => conn.resume(), waitMs).unref();
    return true;
  }

  /**
   * request_throttle_stall_time: stalled connections look again at least this often, as
   * ZooKeeper's throttler wakes from its wait, in case no reply comes to resume them.
   */
  private armStallTimer(): void {
    if (this.throttleTimer !== null || this.config.requestThrottleMaxRequests === 0) return;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      this.replySent();
      if (this.throttled.size > 0) this.armStallTimer();
    }, this.config.requestThrottleStallTimeMs);
    this.throttleTimer.unref();
  }

  adjustOutbound(deltaBytes: number): void {
    this.outboundBytes += deltaBytes;
  }

  outboundFull(): boolean {
    return this.outboundBytes > this.config.maxOutboundBytesTotal;
  }

  replySent(): void {
    if (this.throttled.size === 0) return;
    if (this.overloaded()) return;
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

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    for (const c of this.connections) c.destroy();
    const listener = this.listener;
    await Promise.all([
      listener?.listening ? new Promise<void>((resolve) => listener.close(() => resolve())) : undefined,
      this.tls?.close(),
    ]);
  }
}

/** Listens, resolving with the bound address (port 0 picks one). */
export function listenOn(server: Server, port: number, host: string): Promise<{ port: number; address: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr !== 'object') return reject(new Error('listener has no address'));
      resolve({ port: addr.port, address: addr.address });
    });
  });
}
