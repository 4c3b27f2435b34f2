/**
 * The ZooKeeper client: one session over a sequence of TCP connections.
 *
 * State machine:  connecting -> connected -> suspended -> connected (same session, "reconnected")
 *                                         \-> expired -> connecting (new session) ...  -> closed
 * Requests are written in submission order and replies matched FIFO by xid. Requests made while
 * no connection is up wait in a queue (bounded by their own timeout or the session's end);
 * requests in flight when a connection drops fail with ConnectionLossError, since whether they
 * were applied is unknown.
 */
import { randomInt } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { DEFAULT_MAX_BUFFER, Err, EventType, OpCode, WatcherType, Xid, AddWatchMode } from '../jute/constants.js';
import { FrameDecoder } from '../jute/framing.js';
import { writeRequest, type Request } from '../jute/requests.js';
import * as C from './codec.js';
import {
  ClientClosedError,
  ConnectFailedError,
  ConnectionLossError,
  KeeperError,
  RequestTimeoutError,
  SessionExpiredError,
  TransactionError,
  keeperError,
  AuthFailedError,
} from './errors.js';
import { EventQueue } from './event-queue.js';
import { parseConnectString, prependChroot, stripChroot, validatePath, type HostPort } from './paths.js';
import { Transaction, type CreateOptions, type ReadOp, type ReadResult, type TransactionOp, type TransactionResult } from './transaction.js';
import {
  CreateMode,
  OPEN_ACL_UNSAFE,
  isSequential,
  isTtl,
  type ACL,
  type CallOptions,
  type NodeEvent,
  type PersistentWatchListener,
  type SessionEvent,
  type SessionState,
  type Stat,
  type StreamEvent,
  type WatchCallback,
  type WatchEvent,
} from './types.js';
import { WatchRegistry, type OneShotKind, type PersistentKind, type PersistentWatcher } from './watches.js';

export interface ClientOptions {
  /** Requested session timeout; the server clamps it (ZooKeeper: 2..20 ticks). Default 30000. */
  sessionTimeoutMs?: number;
  /** Time allowed for one TCP connect plus handshake. Default: session timeout / 3 / number of hosts, at least 1 s. */
  connectTimeoutMs?: number;
  /**
   * How long `connect()` waits for the first session before rejecting with ConnectFailedError,
   * which names each host tried and why it failed. Default 15000; `Infinity` waits forever.
   */
  initialConnectTimeoutMs?: number;
  /** Aborts `connect()` (and closes the client) if the first session is not up yet. */
  signal?: AbortSignal;
  /** Default `timeoutMs` for every call that gives none. Default: none (calls end with the session). */
  requestTimeoutMs?: number;
  /** Try hosts in random order (default true), as ZooKeeper's StaticHostProvider does. */
  shuffleHosts?: boolean;
  /** Delay between full rounds over the hosts: exponential from `initialMs` to `maxMs`, with jitter. */
  reconnectBackoff?: { initialMs?: number; maxMs?: number };
  /** Credentials sent at connect and re-sent on every reconnect, e.g. { scheme: 'digest', auth: 'user:pw' }. */
  auth?: { scheme: string; auth: string | Uint8Array }[];
  /** Start a new session after the old one expired (default true). Otherwise the client closes. */
  reconnectAfterExpiry?: boolean;
  /**
   * Declare the session expired on the client when no server was reachable for the whole
   * negotiated timeout since the last message heard (Curator's LOST). Default true.
   */
  clientSideExpiry?: boolean;
  /** Largest reply frame accepted. Default 4 MiB (servers cap replies at jute.maxbuffer, 1 MiB). */
  maxFrameBytes?: number;
  /** Ask for a read-only session when only a partitioned server is reachable. Default false. */
  readOnly?: boolean;
  /** Called with diagnostic lines (connection attempts, drops). */
  log?: (message: string) => void;
}

interface Pending {
  xid: number;
  opcode: number;
  body: Buffer;
  path: string | undefined;
  /** Set when the caller gave up (timeout, abort): the reply is still consumed, then dropped. */
  abandoned: boolean;
  onReply(header: C.ReplyHeader, reader: JuteReader): void;
  onError(err: Error): void;
}

interface Connection {
  socket: Socket;
  decoder: FrameDecoder;
  host: HostPort;
  /** When this attempt began (for the "no reply after N ms" of a ConnectFailedError). */
  startedMs: number;
  /** True once TCP is up (the ConnectRequest was sent). */
  tcpConnected: boolean;
  /** True once the ConnectResponse arrived and the session is live on this socket. */
  established: boolean;
  inFlight: Pending[];
  authWaiters: { resolve(): void; reject(err: Error): void; scheme: string; entry?: { scheme: string; auth: Buffer } }[];
  lastSendMs: number;
  lastRecvMs: number;
  timer: NodeJS.Timeout | null;
}

interface Session {
  id: bigint;
  passwd: Buffer;
  timeoutMs: number;
}

type Data = Uint8Array | string | null | undefined;

function toBuffer(data: Data): Buffer | null {
  if (data === null || data === undefined) return null;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function encodeRequest(req: Request): Buffer {
  const w = new JuteWriter();
  writeRequest(w, req);
  return Buffer.from(w.bytes());
}

const EMPTY_BODY = Buffer.alloc(0);
/** Default of `initialConnectTimeoutMs`: long enough for a slow server, short enough to notice. */
export const DEFAULT_INITIAL_CONNECT_TIMEOUT_MS = 15_000;
const MAX_SETWATCHES_CHARS = 128 * 1024;

/** Connects to ZooKeeper (or Paddock) and resolves once a session is established. */
export async function connect(connectString: string, options: ClientOptions = {}): Promise<ZooKeeperClient> {
  const client = new ZooKeeperClient(connectString, options);
  try {
    const timeoutMs = options.initialConnectTimeoutMs ?? DEFAULT_INITIAL_CONNECT_TIMEOUT_MS;
    await client.waitConnected({ signal: options.signal, timeoutMs });
  } catch (err) {
    await client.close();
    throw withCallerStack(err, options.signal);
  }
  return client;
}

export class ZooKeeperClient {
  readonly hosts: readonly HostPort[];
  /** The chroot from the connect string ("" for none); every path is relative to it. */
  readonly chroot: string;
  private readonly options: Required<Pick<ClientOptions, 'sessionTimeoutMs' | 'reconnectAfterExpiry' | 'clientSideExpiry' | 'maxFrameBytes'>> &
    ClientOptions;

  private stateValue: SessionState = 'connecting';
  private session: Session | null = null;
  private lastZxidValue = 0n;
  private conn: Connection | null = null;
  private readonly queue: Pending[] = [];
  private nextXid = 1;
  private hostIndex = 0;
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private lastHeardMs = 0;
  /** Reason to emit with the next `connected`/`reconnected`: resync persistent watches. */
  private resyncReason: 'expired' | 'reconnected' | null = null;
  private readonly authInfo: { scheme: string; auth: Buffer }[] = [];
  /** Failed connection attempts per host since the last established connection. */
  private readonly failures = new Map<string, { code: string; reason: string; count: number }>();
  private readonly watches = new WatchRegistry();
  private readonly sessionListeners = new Set<(e: SessionEvent) => void>();
  private readonly stateWaiters = new Set<() => void>();
  private closing: Promise<void> | null = null;

  constructor(connectString: string, options: ClientOptions = {}) {
    const parsed = parseConnectString(connectString);
    this.chroot = parsed.chroot;
    const hosts = [...parsed.hosts];
    if (options.shuffleHosts !== false) {
      for (let i = hosts.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [hosts[i], hosts[j]] = [hosts[j] as HostPort, hosts[i] as HostPort];
      }
    }
    this.hosts = hosts;
    this.options = {
      sessionTimeoutMs: 30_000,
      reconnectAfterExpiry: true,
      clientSideExpiry: true,
      maxFrameBytes: 4 * 1024 * 1024,
      ...options,
    };
    for (const a of options.auth ?? []) this.authInfo.push({ scheme: a.scheme, auth: toBuffer(a.auth) ?? Buffer.alloc(0) });
    this.startConnect();
  }

  // ---------------------------------------------------------------- session state

  /** The connection state: connecting (no session yet), connected, suspended, closed. */
  get state(): SessionState {
    return this.stateValue;
  }

  /** The current session id, or null while none is established. */
  get sessionId(): bigint | null {
    return this.session?.id ?? null;
  }

  /** The session timeout the server granted, or null before the first session. */
  get sessionTimeoutMs(): number | null {
    return this.session?.timeoutMs ?? null;
  }

  /** The session password, with `sessionId` enough to resume the session from another client. */
  get sessionPassword(): Buffer | null {
    return this.session ? Buffer.from(this.session.passwd) : null;
  }

  /** The highest zxid seen in a reply. */
  get lastZxid(): bigint {
    return this.lastZxidValue;
  }

  /** The server of the current connection, if any. */
  get currentHost(): HostPort | null {
    return this.conn?.established ? this.conn.host : null;
  }

  /** Subscribes to session events; returns the unsubscribe function. */
  onSession(listener: (event: SessionEvent) => void): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  /**
   * Session events as an async iterator, ending after `closed` or when `signal` aborts.
   * Up to `bufferSize` events are kept for a slow consumer (oldest dropped first).
   */
  sessionEvents(options: { signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<SessionEvent> {
    let unsubscribe = (): void => {};
    const onAbort = (): void => {
      unsubscribe();
      queue.end();
    };
    const queue = new EventQueue<SessionEvent>(options.bufferSize ?? 1000, undefined, () => {
      unsubscribe();
      options.signal?.removeEventListener('abort', onAbort);
    });
    if (this.stateValue === 'closed' || options.signal?.aborted) {
      queue.end();
      return queue;
    }
    unsubscribe = this.onSession((e) => {
      queue.push(e);
      if (e.type === 'closed') {
        unsubscribe();
        queue.end();
      }
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return queue;
  }

  /**
   * Resolves when a session is connected (at once if it is). A `timeoutMs` that elapses first
   * rejects with ConnectFailedError, naming each host tried since the last connection and why.
   */
  async waitConnected(options: CallOptions = {}): Promise<void> {
    if (this.stateValue === 'connected') return;
    try {
      await this.waitFor(() => this.stateValue === 'connected', options);
    } catch (err) {
      throw withCallerStack(err, options.signal);
    }
  }

  private waitFor(ready: () => boolean, options: CallOptions): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.stateValue === 'closed') return Promise.reject(new ClientClosedError());
    return new Promise<void>((resolve, reject) => {
      const cleanup = guard(options, (err) => {
        this.stateWaiters.delete(check);
        const timedOut = err instanceof RequestTimeoutError && !(options.signal?.aborted && err === options.signal.reason);
        reject(timedOut ? this.connectFailure(options.timeoutMs as number) : err);
      });
      const check = (): void => {
        if (ready()) {
          this.stateWaiters.delete(check);
          cleanup();
          resolve();
        } else if (this.stateValue === 'closed') {
          this.stateWaiters.delete(check);
          cleanup();
          reject(new ClientClosedError());
        }
      };
      this.stateWaiters.add(check);
    });
  }

  /** Why no connection came up: every host's last failure, plus the attempt still running. */
  private connectFailure(timeoutMs: number): ConnectFailedError {
    const attempts = [...this.failures].map(([host, f]) => ({ host, ...f }));
    const conn = this.conn;
    if (conn && !conn.established && !this.failures.has(hostText(conn.host))) {
      const waited = Date.now() - conn.startedMs;
      const reason = conn.tcpConnected ? `no handshake reply after ${waited} ms` : `no TCP connection after ${waited} ms`;
      attempts.push({ host: hostText(conn.host), code: 'ETIMEDOUT', reason, count: 1 });
    }
    return new ConnectFailedError(timeoutMs, attempts);
  }

  private emit(event: SessionEvent): void {
    this.options.log?.(`session: ${JSON.stringify(event, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`);
    for (const l of [...this.sessionListeners]) {
      try {
        l(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    for (const w of [...this.stateWaiters]) w();
  }

  // ---------------------------------------------------------------- connection management

  private startConnect(): void {
    if (this.stateValue === 'closed' || this.conn || this.reconnectTimer) return;
    const host = this.hosts[this.hostIndex % this.hosts.length] as HostPort;
    this.hostIndex++;
    const connectTimeoutMs =
      this.options.connectTimeoutMs ?? Math.max(1000, Math.floor(this.options.sessionTimeoutMs / 3 / this.hosts.length));
    this.options.log?.(`connecting to ${host.host}:${host.port}`);
    const socket = netConnect({ host: host.host, port: host.port });
    socket.setNoDelay(true);
    const now = Date.now();
    const conn: Connection = {
      socket,
      decoder: new FrameDecoder(this.options.maxFrameBytes),
      host,
      startedMs: now,
      tcpConnected: false,
      established: false,
      inFlight: [],
      authWaiters: [],
      lastSendMs: now,
      lastRecvMs: now,
      timer: null,
    };
    this.conn = conn;
    conn.timer = setTimeout(() => {
      const what = conn.tcpConnected ? 'no handshake reply' : 'no TCP connection';
      this.dropConnection(conn, `${what} within ${connectTimeoutMs} ms`, 'ETIMEDOUT');
    }, connectTimeoutMs);
    socket.on('connect', () => {
      conn.tcpConnected = true;
      const w = new JuteWriter();
      const at = w.beginFrame();
      C.ConnectRequest.write(w, {
        protocolVersion: 0,
        lastZxidSeen: this.lastZxidValue,
        timeOut: this.options.sessionTimeoutMs,
        sessionId: this.session?.id ?? 0n,
        passwd: this.session?.passwd ?? Buffer.alloc(16),
        readOnly: this.options.readOnly ?? false,
      });
      w.endFrame(at);
      socket.write(Buffer.from(w.bytes()));
    });
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.dropConnection(conn, err.message, err.code));
    socket.on('close', () => this.dropConnection(conn, 'connection closed', 'ECONNRESET'));
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (this.conn !== conn) return;
    let frames: Buffer[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (err) {
      this.dropConnection(conn, (err as Error).message);
      return;
    }
    conn.lastRecvMs = Date.now();
    this.lastHeardMs = conn.lastRecvMs;
    for (const frame of frames) {
      if (this.conn !== conn) return;
      try {
        if (conn.established) this.onReply(conn, frame);
        else this.onConnectResponse(conn, frame);
      } catch (err) {
        this.dropConnection(conn, `protocol error: ${(err as Error).message}`);
        return;
      }
    }
  }

  private onConnectResponse(conn: Connection, frame: Buffer): void {
    const res = C.readConnectResponse(frame);
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = null;
    if (res.timeOut <= 0) {
      // The server says our session is gone (expired, or a bad password).
      this.conn = null;
      conn.socket.destroy();
      this.expire('server');
      return;
    }
    const previous = this.session;
    const sameSession = previous !== null && previous.id === res.sessionId;
    this.session = { id: res.sessionId, passwd: Buffer.from(res.passwd), timeoutMs: res.timeOut };
    conn.established = true;
    this.failedAttempts = 0;
    this.failures.clear();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const tick = Math.max(20, Math.floor(res.timeOut / 6));
    conn.timer = setInterval(() => this.heartbeat(conn), tick);
    conn.timer.unref();
    this.stateValue = 'connected';
    const host = hostText(conn.host);
    // Auth and watches go first so every later request runs with them in place.
    for (const a of this.authInfo) this.sendAuth(conn, a.scheme, a.auth, { scheme: a.scheme, entry: a, resolve() {}, reject() {} });
    const restoring = this.sendSetWatches(conn);
    const resync = this.resyncReason;
    this.resyncReason = null;
    if (restoring && resync) this.watches.resync(resync);
    this.flushQueue();
    if (sameSession) this.emit({ type: 'reconnected', sessionId: res.sessionId, host });
    else this.emit({ type: 'connected', sessionId: res.sessionId, timeoutMs: res.timeOut, host, readOnly: res.readOnly });
  }

  private heartbeat(conn: Connection): void {
    if (this.conn !== conn || !this.session) return;
    const now = Date.now();
    const timeout = this.session.timeoutMs;
    if (now - conn.lastRecvMs >= (timeout * 2) / 3) {
      this.dropConnection(conn, `no reply from the server for ${now - conn.lastRecvMs} ms`);
      return;
    }
    if (now - conn.lastSendMs >= timeout / 3) this.writeFrame(conn, Xid.ping, OpCode.ping, EMPTY_BODY);
  }

  private writeFrame(conn: Connection, xid: number, opcode: number, body: Buffer): void {
    const header = Buffer.allocUnsafe(12);
    header.writeInt32BE(8 + body.length, 0);
    header.writeInt32BE(xid, 4);
    header.writeInt32BE(opcode, 8);
    conn.socket.write(body.length > 0 ? Buffer.concat([header, body]) : header);
    conn.lastSendMs = Date.now();
  }

  private sendAuth(conn: Connection, scheme: string, auth: Buffer, waiter: Connection['authWaiters'][number] | null): void {
    const w = new JuteWriter();
    w.int(0).string(scheme).buffer(auth);
    conn.authWaiters.push(waiter ?? { scheme, resolve() {}, reject() {} });
    this.writeFrame(conn, Xid.auth, OpCode.auth, Buffer.from(w.bytes()));
  }

  /** Re-registers every watch on a new connection; returns true when there were any. */
  private sendSetWatches(conn: Connection): boolean {
    const snap = this.watches.snapshot();
    const lists = [snap.data, snap.exist, snap.child, snap.persistent, snap.persistentRecursive].map((l) =>
      l.map((p) => prependChroot(this.chroot, p)),
    ) as [string[], string[], string[], string[], string[]];
    if (lists.every((l) => l.length === 0)) return false;
    const usePersistent = lists[3].length > 0 || lists[4].length > 0;
    // Batches of about 128 KB of path characters, as the Java client does.
    const cursors = [0, 0, 0, 0, 0];
    while (cursors.some((c, i) => c < (lists[i] as string[]).length)) {
      let chars = 0;
      const batch: string[][] = [[], [], [], [], []];
      for (let i = 0; i < 5; i++) {
        const list = lists[i] as string[];
        while ((cursors[i] as number) < list.length && chars < MAX_SETWATCHES_CHARS) {
          const p = list[cursors[i] as number] as string;
          (batch[i] as string[]).push(p);
          chars += p.length;
          cursors[i] = (cursors[i] as number) + 1;
        }
      }
      const w = new JuteWriter();
      w.long(this.lastZxidValue);
      for (let i = 0; i < (usePersistent ? 5 : 3); i++) w.stringVector(batch[i] as string[]);
      this.writeFrame(conn, Xid.setWatches, usePersistent ? OpCode.setWatches2 : OpCode.setWatches, Buffer.from(w.bytes()));
    }
    return true;
  }

  private dropConnection(conn: Connection, reason: string, code = 'ECONNRESET'): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (conn.timer) {
      clearTimeout(conn.timer);
      clearInterval(conn.timer);
    }
    conn.socket.destroy();
    this.options.log?.(`connection to ${conn.host.host}:${conn.host.port} dropped: ${reason}`);
    const lost = new ConnectionLossError(undefined, `connection lost: ${reason}`);
    for (const p of conn.inFlight.splice(0)) p.onError(lost);
    for (const a of conn.authWaiters.splice(0)) a.reject(lost);
    if (this.stateValue === 'closed' || this.closing) return;
    if (conn.established) {
      this.stateValue = 'suspended';
      this.resyncReason ??= 'reconnected';
      this.armExpiryTimer();
      this.emit({ type: 'suspended', sessionId: this.session?.id ?? 0n, reason });
    } else {
      this.failedAttempts++;
      const host = hostText(conn.host);
      this.failures.set(host, { code, reason, count: (this.failures.get(host)?.count ?? 0) + 1 });
    }
    this.scheduleReconnect();
  }

  private armExpiryTimer(): void {
    if (!this.options.clientSideExpiry || !this.session || this.expiryTimer) return;
    const remaining = Math.max(0, this.session.timeoutMs - (Date.now() - this.lastHeardMs));
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      if (this.stateValue !== 'connected' && this.stateValue !== 'closed' && this.session) this.expire('client');
    }, remaining);
    this.expiryTimer.unref();
  }

  private scheduleReconnect(): void {
    if (this.stateValue === 'closed' || this.reconnectTimer || this.conn) return;
    // Try each host once at once; after a whole round failed, back off with jitter.
    const rounds = Math.floor(this.failedAttempts / this.hosts.length);
    let delayMs = 0;
    if (this.failedAttempts > 0 && this.failedAttempts % this.hosts.length === 0) {
      const initial = this.options.reconnectBackoff?.initialMs ?? 50;
      const max = this.options.reconnectBackoff?.maxMs ?? 2000;
      const base = Math.min(max, initial * 2 ** Math.min(rounds - 1, 20));
      delayMs = Math.floor(base / 2 + Math.random() * (base / 2));
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.startConnect();
    }, delayMs);
  }

  /** The session is over: fail what depended on it, drop one-shot watches, maybe start anew. */
  private expire(detectedBy: 'server' | 'client'): void {
    if (this.stateValue === 'closed' || this.closing) return;
    const old = this.session;
    this.session = null;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.conn) {
      const conn = this.conn;
      this.conn = null;
      if (conn.timer) {
        clearTimeout(conn.timer);
        clearInterval(conn.timer);
      }
      conn.socket.destroy();
      for (const p of conn.inFlight.splice(0)) p.onError(new SessionExpiredError());
      for (const a of conn.authWaiters.splice(0)) a.reject(new SessionExpiredError());
    }
    for (const p of this.queue.splice(0)) p.onError(new SessionExpiredError(p.path));
    this.stateValue = 'connecting';
    this.resyncReason = 'expired';
    this.watches.expireOneShot();
    this.emit({ type: 'expired', sessionId: old?.id ?? 0n, detectedBy });
    if (!this.options.reconnectAfterExpiry) {
      void this.close();
      return;
    }
    this.failedAttempts = 0;
    this.scheduleReconnect();
  }

  /** Closes the session (its ephemerals go at once) and the connection. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.stateValue === 'connected' && this.conn) {
      const conn = this.conn;
      const reply = new Promise<void>((resolve) => {
        const p: Pending = {
          xid: this.allocXid(),
          opcode: OpCode.closeSession,
          body: EMPTY_BODY,
          path: undefined,
          abandoned: false,
          onReply: () => resolve(),
          onError: () => resolve(),
        };
        conn.inFlight.push(p);
        this.writeFrame(conn, p.xid, p.opcode, p.body);
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([reply, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    this.stateValue = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.reconnectTimer = null;
    this.expiryTimer = null;
    const conn = this.conn;
    this.conn = null;
    const closed = new ClientClosedError();
    if (conn) {
      if (conn.timer) {
        clearTimeout(conn.timer);
        clearInterval(conn.timer);
      }
      conn.socket.destroy();
      for (const p of conn.inFlight.splice(0)) p.onError(closed);
      for (const a of conn.authWaiters.splice(0)) a.reject(closed);
    }
    for (const p of this.queue.splice(0)) p.onError(closed);
    this.session = null;
    this.watches.closeAll();
    this.emit({ type: 'closed' });
    this.sessionListeners.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- request plumbing

  private allocXid(): number {
    const xid = this.nextXid;
    this.nextXid = this.nextXid >= 0x7fffffff ? 1 : this.nextXid + 1;
    return xid;
  }

  private flushQueue(): void {
    const conn = this.conn;
    if (!conn || !conn.established) return;
    while (this.queue.length > 0) {
      const p = this.queue.shift() as Pending;
      if (p.abandoned) continue;
      p.xid = this.allocXid();
      conn.inFlight.push(p);
      this.writeFrame(conn, p.xid, p.opcode, p.body);
    }
  }

  private onReply(conn: Connection, frame: Buffer): void {
    const r = new JuteReader(frame, 0, frame.length, this.options.maxFrameBytes);
    const header = C.ReplyHeader.read(r);
    switch (header.xid) {
      case Xid.ping:
      case Xid.setWatches:
        return;
      case Xid.notification: {
        const ev = C.WatcherEvent.read(r);
        if (ev.type === EventType.None) return;
        this.watches.dispatch(ev.type, stripChroot(this.chroot, ev.path));
        return;
      }
      case Xid.auth: {
        const waiter = conn.authWaiters.shift();
        if (header.err === Err.OK) {
          waiter?.resolve();
        } else {
          // Refused credentials are dropped, or every reconnect would be refused again.
          const i = waiter?.entry ? this.authInfo.indexOf(waiter.entry) : -1;
          if (i !== -1) this.authInfo.splice(i, 1);
          const err = new AuthFailedError(undefined, `authentication failed for scheme ${waiter?.scheme ?? '?'}`);
          waiter?.reject(err);
          this.emit({ type: 'authFailed', scheme: waiter?.scheme ?? '' });
        }
        return;
      }
    }
    const p = conn.inFlight.shift();
    if (!p || p.xid !== header.xid) {
      throw new Error(`reply xid ${header.xid} does not match the next request (${p?.xid ?? 'none'})`);
    }
    if (header.zxid > 0n && header.zxid > this.lastZxidValue) this.lastZxidValue = header.zxid;
    p.onReply(header, r);
  }

  /**
   * Sends one request; a failure's stack trace shows the caller's frames (see withCallerStack).
   * `decode` turns the reply into the result (it runs for err == 0, and for
   * errors listed in `acceptErrors`, e.g. exists' NONODE); it runs even when the caller gave up,
   * so watch registration stays consistent with the server.
   */
  private async request<T>(
    opcode: number,
    body: Buffer,
    path: string | undefined,
    options: CallOptions | undefined,
    decode: (header: C.ReplyHeader, r: JuteReader) => T,
    acceptErrors: readonly number[] = [],
  ): Promise<T> {
    try {
      return await this.send(opcode, body, path, options, decode, acceptErrors);
    } catch (err) {
      throw withCallerStack(err, options?.signal);
    }
  }

  private send<T>(
    opcode: number,
    body: Buffer,
    path: string | undefined,
    options: CallOptions | undefined,
    decode: (header: C.ReplyHeader, r: JuteReader) => T,
    acceptErrors: readonly number[],
  ): Promise<T> {
    if (this.stateValue === 'closed' || this.closing) return Promise.reject(new ClientClosedError());
    const opts: CallOptions = { timeoutMs: this.options.requestTimeoutMs, ...options };
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        xid: 0,
        opcode,
        body,
        path,
        abandoned: false,
        onReply: (header, r) => {
          cleanup();
          if (header.err !== Err.OK && !acceptErrors.includes(header.err)) {
            if (!p.abandoned) reject(keeperError(header.err, path));
            return;
          }
          let value: T;
          try {
            value = decode(header, r);
          } catch (err) {
            if (!p.abandoned) reject(err);
            return;
          }
          if (!p.abandoned) resolve(value);
        },
        onError: (err) => {
          cleanup();
          if (!p.abandoned) reject(err instanceof KeeperError && path !== undefined && err.path === undefined ? rebrand(err, path) : err);
        },
      };
      const cleanup = guard(opts, (err) => {
        p.abandoned = true;
        const i = this.queue.indexOf(p);
        if (i !== -1) this.queue.splice(i, 1);
        reject(err);
      });
      if (p.abandoned) return;
      this.queue.push(p);
      this.flushQueue();
    });
  }

  private serverPath(path: string, sequential = false): string {
    validatePath(path, sequential);
    return prependChroot(this.chroot, path);
  }

  private registerWatch(kind: OneShotKind, path: string, cb: WatchCallback | undefined): void {
    if (cb) this.watches.addOneShot(kind, path, cb);
  }

  // ---------------------------------------------------------------- operations

  /** Creates a node and returns its path (with the sequence suffix for sequential modes). */
  async create(path: string, data?: Data, options: CreateOptions = {}): Promise<string> {
    return (await this.createNode(path, data, options, false)).path;
  }

  /** Creates a node and returns its path and Stat (opcode create2; TTL and container as usual). */
  create2(path: string, data?: Data, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    return this.createNode(path, data, options, true) as Promise<{ path: string; stat: Stat }>;
  }

  private createNode(path: string, data: Data, options: CreateOptions, withStat: boolean): Promise<{ path: string; stat?: Stat }> {
    const mode = options.mode ?? 'persistent';
    let req: Request;
    try {
      req = this.createRequest({ type: 'create', path, data, mode, acl: options.acl, ttlMs: options.ttlMs }, withStat);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.request(req.type, encodeRequest(req), path, options, (_h, r) => {
      if (req.type === OpCode.create) return { path: stripChroot(this.chroot, C.CreateResponse.read(r).path) };
      const res = C.Create2Response.read(r);
      return { path: stripChroot(this.chroot, res.path), stat: res.stat };
    });
  }

  private createRequest(op: Extract<TransactionOp, { type: 'create' }>, withStat: boolean): Request {
    const mode = op.mode ?? 'persistent';
    const flags = CreateMode[mode];
    if (flags === undefined) throw keeperError(Err.BADARGUMENTS, op.path, `unknown create mode ${String(mode)}`);
    const serverPath = this.serverPath(op.path, isSequential(mode));
    const acl = [...(op.acl ?? OPEN_ACL_UNSAFE)];
    const data = toBuffer(op.data);
    if (isTtl(mode)) {
      if (op.ttlMs === undefined || op.ttlMs <= 0) throw keeperError(Err.BADARGUMENTS, op.path, 'a TTL mode needs ttlMs > 0');
      return { type: OpCode.createTTL, path: serverPath, data, acl, flags, ttl: op.ttlMs };
    }
    if (op.ttlMs !== undefined) throw keeperError(Err.BADARGUMENTS, op.path, 'ttlMs needs a TTL mode');
    if (mode === 'container') return { type: OpCode.createContainer, path: serverPath, data, acl, flags, ttl: -1 };
    return { type: withStat ? OpCode.create2 : OpCode.create, path: serverPath, data, acl, flags, ttl: -1 };
  }

  /** Deletes a node; `version` -1 (default) deletes whatever the version. */
  delete(path: string, options: CallOptions & { version?: number } = {}): Promise<void> {
    return this.simple(OpCode.delete, path, options, { path: this.serverPathOrThrow(path), version: options.version ?? -1 }, () => undefined);
  }

  /** The node's Stat, or null when it does not exist. With `watch`, the callback fires on create/delete/change. */
  exists(path: string, options: CallOptions & { watch?: WatchCallback } = {}): Promise<Stat | null> {
    return this.simple(
      OpCode.exists,
      path,
      options,
      { path: this.serverPathOrThrow(path), watch: options.watch !== undefined },
      (h, r) => {
        if (h.err === Err.NONODE) {
          this.registerWatch('exist', path, options.watch);
          return null;
        }
        this.registerWatch('data', path, options.watch);
        return C.StatResponse.read(r).stat;
      },
      [Err.NONODE],
    );
  }

  getData(path: string, options: CallOptions & { watch?: WatchCallback } = {}): Promise<{ data: Buffer; stat: Stat }> {
    return this.simple(OpCode.getData, path, options, { path: this.serverPathOrThrow(path), watch: options.watch !== undefined }, (_h, r) => {
      const res = C.GetDataResponse.read(r);
      this.registerWatch('data', path, options.watch);
      return { data: Buffer.from(res.data ?? EMPTY_BODY), stat: res.stat };
    });
  }

  setData(path: string, data: Data, options: CallOptions & { version?: number } = {}): Promise<Stat> {
    return this.simple(
      OpCode.setData,
      path,
      options,
      { path: this.serverPathOrThrow(path), data: toBuffer(data), version: options.version ?? -1 },
      (_h, r) => C.StatResponse.read(r).stat,
    );
  }

  getACL(path: string, options: CallOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    return this.simple(OpCode.getACL, path, options, { path: this.serverPathOrThrow(path) }, (_h, r) => C.GetACLResponse.read(r));
  }

  setACL(path: string, acl: readonly ACL[], options: CallOptions & { version?: number } = {}): Promise<Stat> {
    return this.simple(
      OpCode.setACL,
      path,
      options,
      { path: this.serverPathOrThrow(path), acl: [...acl], version: options.version ?? -1 },
      (_h, r) => C.StatResponse.read(r).stat,
    );
  }

  /** Child names (unsorted, as the server returns them). With `watch`, fires on child list change or delete. */
  getChildren(path: string, options: CallOptions & { watch?: WatchCallback } = {}): Promise<string[]> {
    return this.simple(OpCode.getChildren, path, options, { path: this.serverPathOrThrow(path), watch: options.watch !== undefined }, (_h, r) => {
      const res = C.GetChildrenResponse.read(r);
      this.registerWatch('child', path, options.watch);
      return res.children;
    });
  }

  getChildren2(path: string, options: CallOptions & { watch?: WatchCallback } = {}): Promise<{ children: string[]; stat: Stat }> {
    return this.simple(OpCode.getChildren2, path, options, { path: this.serverPathOrThrow(path), watch: options.watch !== undefined }, (_h, r) => {
      const res = C.GetChildren2Response.read(r);
      this.registerWatch('child', path, options.watch);
      return res;
    });
  }

  /** `exists` plus a promise of the watch's one event. */
  async existsAndWatch(path: string, options: CallOptions = {}): Promise<{ stat: Stat | null; changed: Promise<WatchEvent> }> {
    const w = oneShot();
    const stat = await this.exists(path, { ...options, watch: w.callback });
    return { stat, changed: w.promise };
  }

  async getDataAndWatch(path: string, options: CallOptions = {}): Promise<{ data: Buffer; stat: Stat; changed: Promise<WatchEvent> }> {
    const w = oneShot();
    const res = await this.getData(path, { ...options, watch: w.callback });
    return { ...res, changed: w.promise };
  }

  async getChildrenAndWatch(
    path: string,
    options: CallOptions = {},
  ): Promise<{ children: string[]; stat: Stat; changed: Promise<WatchEvent> }> {
    const w = oneShot();
    const res = await this.getChildren2(path, { ...options, watch: w.callback });
    return { ...res, changed: w.promise };
  }

  /** Waits until the server this client talks to has caught up with the leader, for `path`. */
  sync(path: string, options: CallOptions = {}): Promise<void> {
    return this.simple(OpCode.sync, path, options, { path: this.serverPathOrThrow(path) }, () => undefined);
  }

  /** Paths of this session's ephemeral nodes whose path starts with `prefix` (default: all). */
  getEphemerals(prefix = '/', options: CallOptions = {}): Promise<string[]> {
    const serverPrefix = prependChroot(this.chroot, prefix);
    return this.simple(OpCode.getEphemerals, prefix, options, { path: serverPrefix }, (_h, r) =>
      C.GetEphemeralsResponse.read(r).ephemerals.map((p: string) => stripChroot(this.chroot, p)),
    );
  }

  /** The number of all descendants of `path`. */
  getAllChildrenNumber(path: string, options: CallOptions = {}): Promise<number> {
    return this.simple(OpCode.getAllChildrenNumber, path, options, { path: this.serverPathOrThrow(path) }, (_h, r) => C.CountResponse.read(r).totalNumber);
  }

  /** The identities the server has authenticated for this session. */
  whoAmI(options: CallOptions = {}): Promise<{ scheme: string; user: string }[]> {
    return this.request(OpCode.whoAmI, EMPTY_BODY, undefined, options, (_h, r) =>
      C.WhoAmIResponse.read(r).clientInfo.map((c: { authScheme: string; user: string }) => ({ scheme: c.authScheme, user: c.user })),
    );
  }

  /** The ensemble configuration (/zookeeper/config, outside any chroot). */
  getConfig(options: CallOptions = {}): Promise<{ data: Buffer; stat: Stat }> {
    return this.request(OpCode.getData, encodeRequest({ type: OpCode.getData, path: '/zookeeper/config', watch: false }), '/zookeeper/config', options, (_h, r) => {
      const res = C.GetDataResponse.read(r);
      return { data: Buffer.from(res.data ?? EMPTY_BODY), stat: res.stat };
    });
  }

  /** Dynamic reconfiguration (needs reconfigEnabled on the server). Returns the new config. */
  reconfig(
    change: { joining?: string; leaving?: string; newMembers?: string; fromConfig?: number },
    options: CallOptions = {},
  ): Promise<{ data: Buffer; stat: Stat }> {
    const req: Request = {
      type: OpCode.reconfig,
      joiningServers: change.joining ?? '',
      leavingServers: change.leaving ?? '',
      newMembers: change.newMembers ?? '',
      curConfigId: change.fromConfig ?? -1,
    };
    return this.request(OpCode.reconfig, encodeRequest(req), undefined, options, (_h, r) => {
      const res = C.GetDataResponse.read(r);
      return { data: Buffer.from(res.data ?? EMPTY_BODY), stat: res.stat };
    });
  }

  /** Adds credentials to the session (sent again on every reconnect). Rejects with AuthFailedError. */
  async addAuth(scheme: string, auth: string | Uint8Array, options: CallOptions = {}): Promise<void> {
    try {
      await this.sendAddAuth(scheme, auth, options);
    } catch (err) {
      throw withCallerStack(err, options.signal);
    }
  }

  private sendAddAuth(scheme: string, auth: string | Uint8Array, options: CallOptions): Promise<void> {
    if (this.stateValue === 'closed') return Promise.reject(new ClientClosedError());
    const bytes = toBuffer(auth) ?? Buffer.alloc(0);
    const entry = { scheme, auth: bytes };
    this.authInfo.push(entry);
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const cleanup = guard(options, (err) => {
        done = true;
        this.stateWaiters.delete(send);
        reject(err);
      });
      const waiter = {
        scheme,
        entry,
        resolve: () => {
          if (done) return;
          done = true;
          cleanup();
          resolve();
        },
        reject: (err: Error) => {
          if (done) return;
          if (err instanceof ConnectionLossError) {
            // Re-sent with the next connection; wait for that outcome.
            this.stateWaiters.add(send);
            return;
          }
          done = true;
          cleanup();
          reject(err);
        },
      };
      const send = (): void => {
        if (done) {
          this.stateWaiters.delete(send);
          return;
        }
        if (this.stateValue === 'closed') {
          this.stateWaiters.delete(send);
          waiter.reject(new ClientClosedError());
          return;
        }
        if (this.stateValue !== 'connected' || !this.conn) return;
        this.stateWaiters.delete(send);
        // On (re)connect the auth list was already sent; track the reply to our own packet.
        this.sendAuth(this.conn, scheme, bytes, waiter);
      };
      if (this.stateValue === 'connected' && this.conn) this.sendAuth(this.conn, scheme, bytes, waiter);
      else this.stateWaiters.add(send);
    });
  }

  /** Starts a transaction builder; `commit()` sends it as one multi. */
  transaction(): Transaction {
    return new Transaction((ops, options) => this.multi(ops, options));
  }

  /** Applies every op atomically or none; rejects with TransactionError naming the failing op. */
  multi(ops: readonly TransactionOp[], options: CallOptions = {}): Promise<TransactionResult[]> {
    let reqs: Request[];
    try {
      reqs = ops.map((op): Request => {
        switch (op.type) {
          case 'create':
            return this.createRequest(op, true);
          case 'delete':
            return { type: OpCode.delete, path: this.serverPath(op.path), version: op.version ?? -1 };
          case 'setData':
            return { type: OpCode.setData, path: this.serverPath(op.path), data: toBuffer(op.data), version: op.version ?? -1 };
          case 'check':
            return { type: OpCode.check, path: this.serverPath(op.path), version: op.version };
        }
      });
    } catch (err) {
      return Promise.reject(err);
    }
    if (reqs.length === 0) return Promise.resolve([]);
    return this.request(OpCode.multi, encodeRequest({ type: OpCode.multi, ops: reqs }), undefined, options, (_h, r) => {
      const raw = C.readMultiReply(r);
      const failed = raw.findIndex((x) => x.type === OpCode.error && x.err !== Err.OK);
      if (failed !== -1) {
        const code = (raw[failed] as C.RawMultiResult).err;
        throw new TransactionError(code, failed, raw.map((x) => x.err), ops[failed]?.path);
      }
      return raw.map((x, i): TransactionResult => {
        const op = ops[i] as TransactionOp;
        switch (op.type) {
          case 'create':
            return { type: 'create', path: stripChroot(this.chroot, x.body.path), stat: x.body.stat };
          case 'delete':
            return { type: 'delete' };
          case 'setData':
            return { type: 'setData', stat: x.body.stat };
          case 'check':
            return { type: 'check' };
        }
      });
    });
  }

  /** Several reads in one round trip (ZooKeeper 3.6+); each op succeeds or fails on its own. */
  multiRead(ops: readonly ReadOp[], options: CallOptions = {}): Promise<ReadResult[]> {
    let reqs: Request[];
    try {
      reqs = ops.map((op) => ({
        type: op.type === 'getData' ? OpCode.getData : OpCode.getChildren,
        path: this.serverPath(op.path),
        watch: false,
      }));
    } catch (err) {
      return Promise.reject(err);
    }
    if (reqs.length === 0) return Promise.resolve([]);
    return this.request(OpCode.multiRead, encodeRequest({ type: OpCode.multiRead, ops: reqs }), undefined, options, (_h, r) =>
      C.readMultiReply(r).map((x, i): ReadResult => {
        const op = ops[i] as ReadOp;
        if (x.type === OpCode.error) return { type: 'error', code: x.err, path: op.path };
        if (op.type === 'getData') return { type: 'getData', data: Buffer.from(x.body.data ?? EMPTY_BODY), stat: x.body.stat };
        return { type: 'getChildren', children: x.body.children };
      }),
    );
  }

  /**
   * Adds a persistent (or persistent recursive) watch. The listener gets every change, plus a
   * `resync` event after reconnects and session loss (the watch is re-added automatically);
   * `remove()` ends it.
   */
  async addWatch(
    path: string,
    listener: PersistentWatchListener,
    options: CallOptions & { recursive?: boolean } = {},
  ): Promise<{ remove(): Promise<void> }> {
    const kind: PersistentKind = options.recursive ? 'persistentRecursive' : 'persistent';
    let ended = false;
    const watcher: PersistentWatcher = {
      event: (e) => {
        if (!ended) listener(e);
      },
      end: () => {
        ended = true;
      },
    };
    await this.addPersistentWatch(kind, path, watcher, options);
    return {
      remove: async () => {
        if (ended) return;
        ended = true;
        await this.removePersistentWatch(kind, path, watcher);
      },
    };
  }

  private async addPersistentWatch(kind: PersistentKind, path: string, watcher: PersistentWatcher, options: CallOptions): Promise<void> {
    const mode = kind === 'persistent' ? AddWatchMode.Persistent : AddWatchMode.PersistentRecursive;
    await this.simple(OpCode.addWatch, path, options, { path: this.serverPathOrThrow(path), mode }, () => {
      // Registered on the reply, before any later event is read.
      this.watches.addPersistent(kind, path, watcher);
    });
  }

  private async removePersistentWatch(kind: PersistentKind, path: string, watcher: PersistentWatcher): Promise<void> {
    const last = this.watches.removePersistent(kind, path, watcher);
    // Remove the server's watch only when nothing else of ours uses the path: WatcherType Any
    // (understood by 3.6+) also drops one-shot watches there.
    if (!last || this.watches.hasAny(path) || this.stateValue !== 'connected') return;
    await this.simple(OpCode.removeWatches, path, {}, { path: this.serverPathOrThrow(path), watcherType: WatcherType.Any }, () => undefined, [
      Err.NOWATCHER,
    ]).catch(() => {});
  }

  /**
   * Removes watches of a type on `path` from the server and locally. Local watchers get a `lost`
   * event (one-shot) or end (persistent). `local: true` removes them only locally.
   */
  async removeWatches(path: string, type: 'data' | 'children' | 'any', options: CallOptions & { local?: boolean } = {}): Promise<void> {
    const watcherType = type === 'data' ? WatcherType.Data : type === 'children' ? WatcherType.Children : WatcherType.Any;
    if (!options.local) {
      await this.simple(OpCode.removeWatches, path, options, { path: this.serverPathOrThrow(path), watcherType }, () => undefined);
    }
    this.watches.removeLocal(path, { data: type !== 'children', child: type !== 'data', persistent: type === 'any' });
  }

  /**
   * Watches `path` (and with `recursive`, its subtree) as an async iterator over a persistent
   * watch. The first event is `{ type: 'resync', reason: 'initial' }` once the watch is in
   * place; later `resync` events say events may have been missed (reconnect, new session,
   * overflow) and the state must be re-read. Ends on `signal`, `break`, or client close.
   */
  watch(path: string, options: { recursive?: boolean; signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<StreamEvent> {
    const kind: PersistentKind = options.recursive ? 'persistentRecursive' : 'persistent';
    let registered = false;
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      options.signal?.removeEventListener('abort', onAbort);
      if (registered) void this.removePersistentWatch(kind, path, watcher);
    };
    const queue = new EventQueue<StreamEvent>(
      options.bufferSize ?? 10_000,
      (buffer) => {
        // Too far behind: drop what is buffered and ask for a full re-read instead.
        buffer.length = 0;
        buffer.push({ type: 'resync', path, reason: 'overflow' });
      },
      stop,
    );
    const watcher: PersistentWatcher = {
      event: (e) => queue.push(e),
      end: () => {
        stopped = true;
        queue.end();
      },
    };
    const onAbort = (): void => {
      stop();
      queue.end();
    };
    if (options.signal?.aborted) {
      queue.end();
      return queue;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.addPersistentWatch(kind, path, watcher, { signal: options.signal }).then(
      () => {
        registered = true;
        if (stopped || queue.ended) {
          void this.removePersistentWatch(kind, path, watcher);
          return;
        }
        queue.push({ type: 'resync', path, reason: 'initial' });
      },
      (err) => {
        stop();
        if (options.signal?.aborted) queue.end();
        else queue.fail(err);
      },
    );
    return queue;
  }

  private serverPathOrThrow(path: string): string {
    return this.serverPath(path);
  }

  private simple<T>(
    opcode: number,
    path: string,
    options: CallOptions,
    fields: Record<string, unknown>,
    decode: (h: C.ReplyHeader, r: JuteReader) => T,
    acceptErrors: readonly number[] = [],
  ): Promise<T> {
    let body: Buffer;
    try {
      body = encodeRequest({ type: opcode, ...fields } as Request);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.request(opcode, body, path, options, decode, acceptErrors);
  }
}

/** A one-shot watch callback paired with the promise of its event. */
export function oneShot(): { callback: WatchCallback; promise: Promise<WatchEvent> } {
  let resolve!: (e: WatchEvent) => void;
  const promise = new Promise<WatchEvent>((r) => (resolve = r));
  return { callback: (e) => resolve(e), promise };
}

/**
 * Arms `timeoutMs` and `signal` for a call: `fail` runs once with the error if either fires
 * first. Returns the cleanup to call when the call settles by itself.
 */
export function guard(options: CallOptions, fail: (err: unknown) => void): () => void {
  const { signal, timeoutMs } = options;
  let timer: NodeJS.Timeout | null = null;
  let done = false;
  const onAbort = (): void => finish(signal?.reason ?? new DOMException('The operation was aborted', 'AbortError'));
  const finish = (err: unknown): void => {
    if (done) return;
    cleanup();
    fail(err);
  };
  const cleanup = (): void => {
    done = true;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  if (signal?.aborted) {
    queueMicrotask(onAbort);
    return cleanup;
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  if (timeoutMs !== undefined && timeoutMs !== Infinity) {
    timer = setTimeout(() => finish(new RequestTimeoutError(undefined, `timed out after ${timeoutMs} ms`)), timeoutMs);
  }
  return cleanup;
}

/**
 * Errors of a call are created in a socket callback, whose stack shows only the client's
 * internals. Called where an async function resumes after awaiting the call, a stack captured
 * here holds the awaiting callers (V8's async stack traces): it replaces the internal frames.
 * Only the client's own errors are touched, never the reason of the caller's `signal`.
 */
function withCallerStack(err: unknown, signal: AbortSignal | undefined): unknown {
  if (!(err instanceof KeeperError) && !(err instanceof ClientClosedError)) return err;
  if (signal?.aborted && err === signal.reason) return err;
  const here: { stack?: string } = {};
  Error.captureStackTrace(here, withCallerStack);
  const frames = here.stack?.split('\n').slice(1).join('\n');
  if (frames) err.stack = `${err.name}: ${err.message}\n${frames}`;
  return err;
}

/** `host:port` as written in a connect string (IPv6 in brackets). */
function hostText(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

function rebrand(err: KeeperError, path: string): KeeperError {
  const e = keeperError(err.code, path, err.message);
  return e;
}

export type { NodeEvent };
