/**
 * The client's connection state machine: one session over a sequence of TCP connections, with
 * no socket, timer or clock of its own, so that every path through it can be tested by feeding
 * it inputs and reading what it asks for.
 *
 *   connecting -> connected -> suspended -> connected (same session, "reconnected")
 *                           \-> expired -> connecting (new session) ...  -> closed
 *
 * Inputs are method calls, each with the current time: socket connected / bytes / closed, a
 * timer fired, a request submitted, credentials added, close requested. Outputs queue up until
 * the driver takes them with `takeOutputs()`: sockets to open, bytes to write, sockets to
 * destroy, named timers to set and clear (I/O, done by src/client/transport.ts), and session
 * events, replies, failures, watch notifications and auth results (for the API in client.ts).
 *
 * Requests are written in submission order and replies matched FIFO by xid. Requests made while
 * no connection is up wait in a queue (bounded by the caller's timeout or the session's end);
 * requests in flight when a connection drops fail with ConnectionLossError, since whether they
 * were applied is unknown.
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { Err, EventType, OpCode, Xid } from '../jute/constants.js';
import { FrameDecoder } from '../jute/framing.js';
import * as C from './codec.js';
import { AuthFailedError, ClientClosedError, ConnectFailedError, ConnectionLossError, SessionExpiredError } from './errors.js';
import type { HostPort } from './paths.js';
import type { SessionEvent, SessionState } from './types.js';

/** The machine's timers; at most one of each is armed at a time. */
export type TimerName =
  /** TCP connect plus handshake of the current attempt. */
  | 'connect'
  /** Pings and the read deadline of an established connection. */
  | 'heartbeat'
  /** The delay before the next connection attempt. */
  | 'reconnect'
  /** Client-side expiry while no server is reachable. */
  | 'expiry'
  /** How long close() waits for the closeSession reply. */
  | 'close';

/** A request as the machine sees it: an opcode and its encoded body. The API attaches the rest. */
export interface OutboundRequest {
  readonly opcode: number;
  readonly body: Buffer;
  /** The caller's path, named by the SessionExpiredError of a request that never left the queue. */
  readonly path?: string | undefined;
}

/** Credentials for the session: sent when added and again on every new connection. */
export interface AuthRequest {
  readonly scheme: string;
  readonly auth: Buffer;
}

/** Server paths (chroot included) of every registered watch, for setWatches on reconnect. */
export interface WatchedPaths {
  data: readonly string[];
  exist: readonly string[];
  child: readonly string[];
  persistent: readonly string[];
  persistentRecursive: readonly string[];
}

/** What the driver does: sockets and timers. `connection` numbers each socket the machine opened. */
export type IoOutput =
  | { type: 'open'; connection: number; host: HostPort }
  | { type: 'write'; connection: number; bytes: Buffer }
  | { type: 'destroy'; connection: number }
  | { type: 'setTimer'; timer: TimerName; delayMs: number }
  | { type: 'clearTimer'; timer: TimerName };

/** What the API does: deliver events and settle calls. */
export type ApplicationOutput<R extends OutboundRequest> =
  | { type: 'session'; event: SessionEvent }
  /** The reply of `request`, its header read; `reader` is positioned at the body. */
  | { type: 'reply'; request: R; header: C.ReplyHeader; reader: JuteReader }
  | { type: 'failed'; request: R; error: Error }
  /** A watch notification; `path` is the server's (chroot included). */
  | { type: 'notification'; eventType: number; path: string }
  /** Persistent watches were re-added after a reconnect or on a new session: events may be missed. */
  | { type: 'resyncWatches'; reason: 'reconnected' | 'expired' }
  /** The session ended: one-shot watches will never fire. */
  | { type: 'expireWatches' }
  /** The client closed: every watch ends. */
  | { type: 'closeWatches' }
  /** The server's answer to credentials (null: accepted), or why none will come. */
  | { type: 'auth'; auth: AuthRequest; error: Error | null };

export type ConnectionOutput<R extends OutboundRequest> = IoOutput | ApplicationOutput<R>;

export interface ConnectionConfig {
  /** Hosts from the connect string. */
  hosts: readonly HostPort[];
  /** Try hosts in random order, as ZooKeeper's StaticHostProvider does. */
  shuffleHosts: boolean;
  /** Requested session timeout. */
  sessionTimeoutMs: number;
  /** Time allowed for one TCP connect plus handshake; default session timeout / 3 / hosts, at least 1 s. */
  connectTimeoutMs?: number | undefined;
  reconnectBackoff?: { initialMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** Credentials sent on every new connection. */
  auth: readonly AuthRequest[];
  reconnectAfterExpiry: boolean;
  clientSideExpiry: boolean;
  maxFrameBytes: number;
  readOnly: boolean;
  /** Uniform in [0, 1): host shuffling and backoff jitter. */
  random(): number;
  /** The watches to re-register on a new connection. */
  watchedPaths(): WatchedPaths;
  log?: ((message: string) => void) | undefined;
}

interface InFlight<R> {
  xid: number;
  /** null for the machine's own closeSession. */
  request: R | null;
}

interface Attempt<R> {
  id: number;
  host: HostPort;
  decoder: FrameDecoder;
  /** When this attempt began (for the "no reply after N ms" of a ConnectFailedError). */
  startedMs: number;
  /** True once TCP is up (the ConnectRequest was sent). */
  tcpConnected: boolean;
  /** True once the ConnectResponse arrived and the session is live on this socket. */
  established: boolean;
  inFlight: InFlight<R>[];
  /** Auth packets awaiting their reply, in order (the server answers them with xid -4). */
  authInFlight: AuthRequest[];
  lastSendMs: number;
  lastRecvMs: number;
}

interface Session {
  id: bigint;
  passwd: Buffer;
  timeoutMs: number;
}

const EMPTY_BODY = Buffer.alloc(0);
/** setWatches batches of about 128 KB of path characters, as the Java client sends. */
const MAX_SETWATCHES_CHARS = 128 * 1024;
/** How long close() waits for the server to confirm closeSession. */
export const CLOSE_REPLY_WAIT_MS = 2000;

export class ClientConnection<R extends OutboundRequest = OutboundRequest> {
  /** The hosts in the order they are tried (shuffled once, then rotated). */
  readonly hosts: readonly HostPort[];

  private stateValue: SessionState = 'connecting';
  /** close() was called (or the session ended with no reconnect): no new requests. */
  private closingValue = false;
  private session: Session | null = null;
  private lastZxidValue = 0n;
  private conn: Attempt<R> | null = null;
  private connections = 0;
  private readonly queue: R[] = [];
  private nextXid = 1;
  private hostIndex = 0;
  private failedAttempts = 0;
  private lastHeardMs = 0;
  /** Why persistent watches must resync with the next connection, if they must. */
  private resyncReason: 'expired' | 'reconnected' | null = null;
  private readonly authInfo: AuthRequest[];
  /** Failed connection attempts per host since the last established connection. */
  private readonly failures = new Map<string, { code: string; reason: string; count: number }>();
  private readonly armed = new Set<TimerName>();
  /** The time of the input being handled. */
  private nowMs = 0;
  private outputs: ConnectionOutput<R>[] = [];

  constructor(private readonly config: ConnectionConfig) {
    const hosts = [...config.hosts];
    if (config.shuffleHosts) {
      for (let i = hosts.length - 1; i > 0; i--) {
        const j = Math.floor(config.random() * (i + 1));
        [hosts[i], hosts[j]] = [hosts[j] as HostPort, hosts[i] as HostPort];
      }
    }
    this.hosts = hosts;
    this.authInfo = [...config.auth];
  }

  // ---------------------------------------------------------------- queries

  get state(): SessionState {
    return this.stateValue;
  }

  /** True from close() on (and once closed): requests are refused. */
  get closing(): boolean {
    return this.closingValue || this.stateValue === 'closed';
  }

  get sessionId(): bigint | null {
    return this.session?.id ?? null;
  }

  get sessionTimeoutMs(): number | null {
    return this.session?.timeoutMs ?? null;
  }

  get sessionPassword(): Buffer | null {
    return this.session ? Buffer.from(this.session.passwd) : null;
  }

  get lastZxid(): bigint {
    return this.lastZxidValue;
  }

  /** The server of the established connection, if any. */
  get currentHost(): HostPort | null {
    return this.conn?.established ? this.conn.host : null;
  }

  /** The timers armed now (for tests and diagnostics). */
  get armedTimers(): ReadonlySet<TimerName> {
    return this.armed;
  }

  /** Why no connection came up: every host's last failure, plus the attempt still running. */
  connectFailure(timeoutMs: number, now: number): ConnectFailedError {
    const attempts = [...this.failures].map(([host, f]) => ({ host, ...f }));
    const conn = this.conn;
    if (conn && !conn.established && !this.failures.has(hostText(conn.host))) {
      const waited = now - conn.startedMs;
      const reason = conn.tcpConnected ? `no handshake reply after ${waited} ms` : `no TCP connection after ${waited} ms`;
      attempts.push({ host: hostText(conn.host), code: 'ETIMEDOUT', reason, count: 1 });
    }
    return new ConnectFailedError(timeoutMs, attempts);
  }

  /** Everything asked for since the last call, in order. */
  takeOutputs(): ConnectionOutput<R>[] {
    const taken = this.outputs;
    this.outputs = [];
    return taken;
  }

  // ---------------------------------------------------------------- inputs

  /** Begins connecting to the first host. */
  start(now: number): void {
    this.nowMs = now;
    this.startConnect();
  }

  socketConnected(connection: number, now: number): void {
    this.nowMs = now;
    const conn = this.conn;
    if (conn?.id !== connection) return;
    conn.tcpConnected = true;
    const w = new JuteWriter();
    const at = w.beginFrame();
    C.ConnectRequest.write(w, {
      protocolVersion: 0,
      lastZxidSeen: this.lastZxidValue,
      timeOut: this.config.sessionTimeoutMs,
      sessionId: this.session?.id ?? 0n,
      passwd: this.session?.passwd ?? Buffer.alloc(16),
      readOnly: this.config.readOnly,
    });
    w.endFrame(at);
    this.output({ type: 'write', connection: conn.id, bytes: Buffer.from(w.bytes()) });
    conn.lastSendMs = now;
  }

  bytesReceived(connection: number, chunk: Buffer, now: number): void {
    this.nowMs = now;
    const conn = this.conn;
    if (conn?.id !== connection) return;
    let frames: Buffer[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (err) {
      this.dropConnection(conn, (err as Error).message);
      return;
    }
    conn.lastRecvMs = now;
    this.lastHeardMs = now;
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

  /** The socket failed or closed; `code` is the error's (ECONNREFUSED, ENOTFOUND...). */
  socketClosed(connection: number, reason: string, code: string | undefined, now: number): void {
    this.nowMs = now;
    const conn = this.conn;
    if (conn?.id !== connection) return;
    this.dropConnection(conn, reason, code ?? 'ECONNRESET');
  }

  timerFired(timer: TimerName, now: number): void {
    this.nowMs = now;
    if (!this.armed.delete(timer)) return;
    switch (timer) {
      case 'connect':
        return this.connectTimedOut();
      case 'heartbeat':
        return this.heartbeat();
      case 'reconnect':
        return this.startConnect();
      case 'expiry':
        if (this.stateValue !== 'connected' && this.stateValue !== 'closed' && this.session) this.expire('client');
        return;
      case 'close':
        return this.finishClose();
    }
  }

  /** Queues a request; it is written at once when a session is up. Refused (false) once closing. */
  submit(request: R, now: number): boolean {
    this.nowMs = now;
    if (this.closing) return false;
    this.queue.push(request);
    this.flushQueue();
    return true;
  }

  /** The caller gave up: drops the request if it is still queued (a written one gets its reply). No outputs. */
  cancel(request: R): void {
    const i = this.queue.indexOf(request);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /**
   * Adds credentials: sent now when connected, and with every later connection. The answer
   * comes as an `auth` output; a connection loss only delays it.
   */
  addAuth(auth: AuthRequest, now: number): void {
    this.nowMs = now;
    if (this.stateValue === 'closed') {
      this.output({ type: 'auth', auth, error: new ClientClosedError() });
      return;
    }
    this.authInfo.push(auth);
    if (this.stateValue === 'connected' && this.conn) this.sendAuth(this.conn, auth);
  }

  /**
   * Closes the session: when connected, sends closeSession and finishes on its reply, on the
   * connection's loss, or after CLOSE_REPLY_WAIT_MS; otherwise at once. Idempotent.
   */
  close(now: number): void {
    this.nowMs = now;
    if (this.closing) return;
    this.closingValue = true;
    const conn = this.conn;
    if (this.stateValue === 'connected' && conn) {
      const xid = this.allocXid();
      conn.inFlight.push({ xid, request: null });
      this.writeFrame(conn, xid, OpCode.closeSession, EMPTY_BODY);
      this.setTimer('close', CLOSE_REPLY_WAIT_MS);
      return;
    }
    this.finishClose();
  }

  // ---------------------------------------------------------------- connection management

  private output(o: ConnectionOutput<R>): void {
    this.outputs.push(o);
  }

  private emit(event: SessionEvent): void {
    this.output({ type: 'session', event });
  }

  private setTimer(timer: TimerName, delayMs: number): void {
    this.armed.add(timer);
    this.output({ type: 'setTimer', timer, delayMs });
  }

  private clearTimer(timer: TimerName): void {
    if (this.armed.delete(timer)) this.output({ type: 'clearTimer', timer });
  }

  private connectTimeoutMs(): number {
    return this.config.connectTimeoutMs ?? Math.max(1000, Math.floor(this.config.sessionTimeoutMs / 3 / this.hosts.length));
  }

  private startConnect(): void {
    if (this.stateValue === 'closed' || this.conn || this.armed.has('reconnect')) return;
    const host = this.hosts[this.hostIndex % this.hosts.length] as HostPort;
    this.hostIndex++;
    this.config.log?.(`connecting to ${host.host}:${host.port}`);
    const conn: Attempt<R> = {
      id: ++this.connections,
      host,
      decoder: new FrameDecoder(this.config.maxFrameBytes),
      startedMs: this.nowMs,
      tcpConnected: false,
      established: false,
      inFlight: [],
      authInFlight: [],
      lastSendMs: this.nowMs,
      lastRecvMs: this.nowMs,
    };
    this.conn = conn;
    this.output({ type: 'open', connection: conn.id, host });
    this.setTimer('connect', this.connectTimeoutMs());
  }

  private connectTimedOut(): void {
    const conn = this.conn;
    if (!conn || conn.established) return;
    const what = conn.tcpConnected ? 'no handshake reply' : 'no TCP connection';
    this.dropConnection(conn, `${what} within ${this.connectTimeoutMs()} ms`, 'ETIMEDOUT');
  }

  private onConnectResponse(conn: Attempt<R>, frame: Buffer): void {
    const res = C.readConnectResponse(frame);
    this.clearTimer('connect');
    if (res.timeOut <= 0) {
      // The server says our session is gone (expired, or a bad password).
      this.conn = null;
      this.output({ type: 'destroy', connection: conn.id });
      this.expire('server');
      return;
    }
    const previous = this.session;
    const sameSession = previous !== null && previous.id === res.sessionId;
    this.session = { id: res.sessionId, passwd: Buffer.from(res.passwd), timeoutMs: res.timeOut };
    conn.established = true;
    this.failedAttempts = 0;
    this.failures.clear();
    this.clearTimer('expiry');
    this.setTimer('heartbeat', this.heartbeatMs());
    this.stateValue = 'connected';
    const host = hostText(conn.host);
    // Auth and watches go first so every later request runs with them in place.
    for (const a of this.authInfo) this.sendAuth(conn, a);
    const restoring = this.sendSetWatches(conn);
    const resync = this.resyncReason;
    this.resyncReason = null;
    if (restoring && resync) this.output({ type: 'resyncWatches', reason: resync });
    this.flushQueue();
    if (sameSession) this.emit({ type: 'reconnected', sessionId: res.sessionId, host });
    else this.emit({ type: 'connected', sessionId: res.sessionId, timeoutMs: res.timeOut, host, readOnly: res.readOnly });
  }

  /** Six heartbeats per session timeout: a ping after a third of it idle, a drop after two thirds silent. */
  private heartbeatMs(): number {
    return Math.max(20, Math.floor((this.session?.timeoutMs ?? 0) / 6));
  }

  private heartbeat(): void {
    const conn = this.conn;
    if (!conn?.established || !this.session) return;
    const now = this.nowMs;
    const timeout = this.session.timeoutMs;
    if (now - conn.lastRecvMs >= (timeout * 2) / 3) {
      this.dropConnection(conn, `no reply from the server for ${now - conn.lastRecvMs} ms`);
      return;
    }
    if (now - conn.lastSendMs >= timeout / 3) this.writeFrame(conn, Xid.ping, OpCode.ping, EMPTY_BODY);
    this.setTimer('heartbeat', this.heartbeatMs());
  }

  private writeFrame(conn: Attempt<R>, xid: number, opcode: number, body: Buffer): void {
    const header = Buffer.allocUnsafe(12);
    header.writeInt32BE(8 + body.length, 0);
    header.writeInt32BE(xid, 4);
    header.writeInt32BE(opcode, 8);
    this.output({ type: 'write', connection: conn.id, bytes: body.length > 0 ? Buffer.concat([header, body]) : header });
    conn.lastSendMs = this.nowMs;
  }

  private sendAuth(conn: Attempt<R>, auth: AuthRequest): void {
    const w = new JuteWriter();
    w.int(0).string(auth.scheme).buffer(auth.auth);
    conn.authInFlight.push(auth);
    this.writeFrame(conn, Xid.auth, OpCode.auth, Buffer.from(w.bytes()));
  }

  /** Re-registers every watch on a new connection; returns true when there were any. */
  private sendSetWatches(conn: Attempt<R>): boolean {
    const snap = this.config.watchedPaths();
    const lists = [snap.data, snap.exist, snap.child, snap.persistent, snap.persistentRecursive];
    if (lists.every((l) => l.length === 0)) return false;
    const usePersistent = snap.persistent.length > 0 || snap.persistentRecursive.length > 0;
    const cursors = [0, 0, 0, 0, 0];
    while (cursors.some((c, i) => c < (lists[i] as readonly string[]).length)) {
      let chars = 0;
      const batch: string[][] = [[], [], [], [], []];
      for (let i = 0; i < 5; i++) {
        const list = lists[i] as readonly string[];
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

  /** Forgets the connection: clears its timers and asks for its socket to be destroyed. */
  private detach(conn: Attempt<R>): void {
    this.conn = null;
    this.clearTimer('connect');
    this.clearTimer('heartbeat');
    this.output({ type: 'destroy', connection: conn.id });
  }

  private dropConnection(conn: Attempt<R>, reason: string, code = 'ECONNRESET'): void {
    if (this.conn !== conn) return;
    this.detach(conn);
    this.config.log?.(`connection to ${conn.host.host}:${conn.host.port} dropped: ${reason}`);
    const lost = new ConnectionLossError(undefined, `connection lost: ${reason}`);
    let closeAnswered = false;
    for (const p of conn.inFlight.splice(0)) {
      if (p.request) this.output({ type: 'failed', request: p.request, error: lost });
      else closeAnswered = true;
    }
    // Credentials in flight stay in authInfo: they go again with the next connection.
    conn.authInFlight.length = 0;
    if (this.stateValue === 'closed') return;
    if (this.closingValue) {
      if (closeAnswered) this.finishClose();
      return;
    }
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
    if (!this.config.clientSideExpiry || !this.session || this.armed.has('expiry')) return;
    this.setTimer('expiry', Math.max(0, this.session.timeoutMs - (this.nowMs - this.lastHeardMs)));
  }

  private scheduleReconnect(): void {
    if (this.stateValue === 'closed' || this.armed.has('reconnect') || this.conn) return;
    // Try each host once at once; after a whole round failed, back off with jitter.
    const hosts = this.hosts.length;
    const rounds = Math.floor(this.failedAttempts / hosts);
    let delayMs = 0;
    if (this.failedAttempts > 0 && this.failedAttempts % hosts === 0) {
      // Short at first: an ensemble between leaders serves again within a few hundred ms.
      const initial = this.config.reconnectBackoff?.initialMs ?? 10;
      const max = this.config.reconnectBackoff?.maxMs ?? 2000;
      const base = Math.min(max, initial * 2 ** Math.min(rounds - 1, 20));
      delayMs = Math.floor(base / 2 + this.config.random() * (base / 2));
    }
    this.setTimer('reconnect', delayMs);
  }

  /** The session is over: fail what depended on it, drop one-shot watches, maybe start anew. */
  private expire(detectedBy: 'server' | 'client'): void {
    if (this.closing) return;
    const old = this.session;
    this.session = null;
    this.clearTimer('expiry');
    const conn = this.conn;
    if (conn) {
      this.detach(conn);
      for (const p of conn.inFlight.splice(0)) if (p.request) this.output({ type: 'failed', request: p.request, error: new SessionExpiredError() });
      for (const auth of conn.authInFlight.splice(0)) this.output({ type: 'auth', auth, error: new SessionExpiredError() });
    }
    for (const p of this.queue.splice(0)) this.output({ type: 'failed', request: p, error: new SessionExpiredError(p.path) });
    this.stateValue = 'connecting';
    this.resyncReason = 'expired';
    this.output({ type: 'expireWatches' });
    this.emit({ type: 'expired', sessionId: old?.id ?? 0n, detectedBy });
    if (!this.config.reconnectAfterExpiry) {
      this.close(this.nowMs);
      return;
    }
    this.failedAttempts = 0;
    this.scheduleReconnect();
  }

  /** The end: every timer cleared, every waiting call failed, watches ended, `closed` emitted. */
  private finishClose(): void {
    if (this.stateValue === 'closed') return;
    this.closingValue = true;
    this.stateValue = 'closed';
    for (const timer of [...this.armed]) this.clearTimer(timer);
    const closed = new ClientClosedError();
    const conn = this.conn;
    if (conn) {
      this.detach(conn);
      for (const p of conn.inFlight.splice(0)) if (p.request) this.output({ type: 'failed', request: p.request, error: closed });
      for (const auth of conn.authInFlight.splice(0)) this.output({ type: 'auth', auth, error: closed });
    }
    for (const p of this.queue.splice(0)) this.output({ type: 'failed', request: p, error: closed });
    this.session = null;
    this.output({ type: 'closeWatches' });
    this.emit({ type: 'closed' });
  }

  // ---------------------------------------------------------------- requests and replies

  private allocXid(): number {
    const xid = this.nextXid;
    this.nextXid = this.nextXid >= 0x7fffffff ? 1 : this.nextXid + 1;
    return xid;
  }

  private flushQueue(): void {
    const conn = this.conn;
    if (!conn?.established) return;
    while (this.queue.length > 0) {
      const request = this.queue.shift() as R;
      const xid = this.allocXid();
      conn.inFlight.push({ xid, request });
      this.writeFrame(conn, xid, request.opcode, request.body);
    }
  }

  private onReply(conn: Attempt<R>, frame: Buffer): void {
    const r = new JuteReader(frame, 0, frame.length, this.config.maxFrameBytes);
    const header = C.ReplyHeader.read(r);
    switch (header.xid) {
      case Xid.ping:
      case Xid.setWatches:
        return;
      case Xid.notification: {
        const ev = C.WatcherEvent.read(r);
        if (ev.type !== EventType.None) this.output({ type: 'notification', eventType: ev.type, path: ev.path });
        return;
      }
      case Xid.auth:
        return this.onAuthReply(conn, header.err);
    }
    // Left in place on a mismatch, so that dropping the connection fails it with the rest.
    const p = conn.inFlight[0];
    if (!p || p.xid !== header.xid) {
      throw new Error(`reply xid ${header.xid} does not match the next request (${p?.xid ?? 'none'})`);
    }
    conn.inFlight.shift();
    if (header.zxid > 0n && header.zxid > this.lastZxidValue) this.lastZxidValue = header.zxid;
    if (p.request) this.output({ type: 'reply', request: p.request, header, reader: r });
    else this.finishClose();
  }

  private onAuthReply(conn: Attempt<R>, err: number): void {
    const auth = conn.authInFlight.shift();
    if (!auth) return;
    if (err === Err.OK) {
      this.output({ type: 'auth', auth, error: null });
      return;
    }
    // Refused credentials are dropped, or every reconnect would be refused again.
    const i = this.authInfo.indexOf(auth);
    if (i !== -1) this.authInfo.splice(i, 1);
    this.output({ type: 'auth', auth, error: new AuthFailedError(undefined, `authentication failed for scheme ${auth.scheme}`) });
    this.emit({ type: 'authFailed', scheme: auth.scheme });
  }
}

/** `host:port` as written in a connect string (IPv6 in brackets). */
export function hostText(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}
