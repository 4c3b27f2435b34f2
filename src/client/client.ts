/**
 * The ZooKeeper client's API: one session over a sequence of TCP connections.
 *
 * Three parts: this class (calls, promises, watches, listeners), the connection state machine
 * (src/client/connection-state.ts: handshake, pings, reconnect, expiry, the request queue and
 * FIFO reply matching, with no socket or timer) and the transport (src/client/transport.ts:
 * the socket and the timers that feed the machine).
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { Err, OpCode, WatcherType, AddWatchMode } from '../jute/constants.js';
import { writeRequest, type Request } from '../jute/requests.js';
import * as C from './codec.js';
import { ClientConnection, type ApplicationOutput, type AuthRequest, type OutboundRequest, type WatchedPaths } from './connection-state.js';
import { ClientClosedError, KeeperError, RequestTimeoutError, TransactionError, keeperError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { parseConnectString, prependChroot, stripChroot, validatePath, type HostPort } from './paths.js';
import { Transaction, type CreateOptions, type ReadOp, type ReadResult, type TransactionOp, type TransactionResult } from './transaction.js';
import { Transport } from './transport.js';
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


/** A call on its way: what the machine sends, plus how its caller is answered. */
interface Pending extends OutboundRequest {
  readonly path: string | undefined;
  onReply(header: C.ReplyHeader, reader: JuteReader): void;
  onError(err: Error): void;
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
  private readonly options: ClientOptions;
  private readonly machine: ClientConnection<Pending>;
  private readonly transport: Transport<Pending>;
  private readonly watches = new WatchRegistry();
  private readonly sessionListeners = new Set<(e: SessionEvent) => void>();
  private readonly stateWaiters = new Set<(event: SessionEvent) => void>();
  /** addAuth calls waiting for the server's answer. */
  private readonly authCalls = new Map<AuthRequest, (err: Error | null) => void>();
  private readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(connectString: string, options: ClientOptions = {}) {
    const parsed = parseConnectString(connectString);
    this.chroot = parsed.chroot;
    this.options = options;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.machine = new ClientConnection<Pending>({
      hosts: parsed.hosts,
      shuffleHosts: options.shuffleHosts !== false,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs,
      reconnectBackoff: options.reconnectBackoff,
      auth: (options.auth ?? []).map((a) => ({ scheme: a.scheme, auth: toBuffer(a.auth) ?? Buffer.alloc(0) })),
      reconnectAfterExpiry: options.reconnectAfterExpiry ?? true,
      clientSideExpiry: options.clientSideExpiry ?? true,
      maxFrameBytes: options.maxFrameBytes ?? 4 * 1024 * 1024,
      readOnly: options.readOnly ?? false,
      random: Math.random,
      watchedPaths: () => this.watchedPaths(),
      log: options.log,
    });
    this.hosts = this.machine.hosts;
    this.transport = new Transport(this.machine, (o) => this.deliver(o));
    this.transport.feed((m, now) => m.start(now));
  }

  // ---------------------------------------------------------------- session state

  /** The connection state: connecting (no session yet), connected, suspended, closed. */
  get state(): SessionState {
    return this.machine.state;
  }

  /** The current session id, or null while none is established. */
  get sessionId(): bigint | null {
    return this.machine.sessionId;
  }

  /** The session timeout the server granted, or null before the first session. */
  get sessionTimeoutMs(): number | null {
    return this.machine.sessionTimeoutMs;
  }

  /** The session password, with `sessionId` enough to resume the session from another client. */
  get sessionPassword(): Buffer | null {
    return this.machine.sessionPassword;
  }

  /** The highest zxid seen in a reply. */
  get lastZxid(): bigint {
    return this.machine.lastZxid;
  }

  /** The server of the current connection, if any. */
  get currentHost(): HostPort | null {
    return this.machine.currentHost;
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
    if (this.machine.state === 'closed' || options.signal?.aborted) {
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
    if (this.machine.state === 'connected') return;
    try {
      // The event counts, not only the state: a connection can come and go in one batch.
      await this.waitFor((e) => this.machine.state === 'connected' || e?.type === 'connected' || e?.type === 'reconnected', options);
    } catch (err) {
      throw withCallerStack(err, options.signal);
    }
  }

  private waitFor(ready: (event?: SessionEvent) => boolean, options: CallOptions): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.machine.state === 'closed') return Promise.reject(new ClientClosedError());
    return new Promise<void>((resolve, reject) => {
      const cleanup = guard(options, (err) => {
        this.stateWaiters.delete(check);
        const timedOut = err instanceof RequestTimeoutError && !(options.signal?.aborted && err === options.signal.reason);
        reject(timedOut ? this.machine.connectFailure(options.timeoutMs as number, Date.now()) : err);
      });
      const check = (event: SessionEvent): void => {
        if (ready(event)) {
          this.stateWaiters.delete(check);
          cleanup();
          resolve();
        } else if (this.machine.state === 'closed') {
          this.stateWaiters.delete(check);
          cleanup();
          reject(new ClientClosedError());
        }
      };
      this.stateWaiters.add(check);
    });
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
    for (const w of [...this.stateWaiters]) w(event);
  }


  /** Carries out what the connection machine reports, in its order. */
  private deliver(output: ApplicationOutput<Pending>): void {
    switch (output.type) {
      case 'session':
        return this.onSessionEvent(output.event);
      case 'reply':
        return output.request.onReply(output.header, output.reader);
      case 'failed':
        return output.request.onError(output.error);
      case 'notification':
        return this.watches.dispatch(output.eventType, stripChroot(this.chroot, output.path));
      case 'resyncWatches':
        return this.watches.resync(output.reason);
      case 'expireWatches':
        return this.watches.expireOneShot();
      case 'closeWatches':
        return this.watches.closeAll();
      case 'auth': {
        const settle = this.authCalls.get(output.auth);
        this.authCalls.delete(output.auth);
        return settle?.(output.error);
      }
    }
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event.type === 'closed') {
      // addAuth calls still waiting for a connection will never get one.
      for (const settle of [...this.authCalls.values()]) settle(new ClientClosedError());
      this.authCalls.clear();
    }
    this.emit(event);
    if (event.type === 'closed') {
      this.sessionListeners.clear();
      this.resolveClosed();
    }
  }

  /** Server paths of every watch, for setWatches on a new connection. */
  private watchedPaths(): WatchedPaths {
    const snap = this.watches.snapshot();
    const server = (paths: string[]): string[] => paths.map((p) => prependChroot(this.chroot, p));
    return {
      data: server(snap.data),
      exist: server(snap.exist),
      child: server(snap.child),
      persistent: server(snap.persistent),
      persistentRecursive: server(snap.persistentRecursive),
    };
  }

  /** Closes the session (its ephemerals go at once) and the connection. Idempotent. */
  close(): Promise<void> {
    this.transport.feed((m, now) => m.close(now));
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- request plumbing

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
    if (this.machine.closing) return Promise.reject(new ClientClosedError());
    const opts: CallOptions = { timeoutMs: this.options.requestTimeoutMs, ...options };
    return new Promise<T>((resolve, reject) => {
      /** Set when the caller gave up (timeout, abort): the reply is still consumed, then dropped. */
      let abandoned = false;
      const p: Pending = {
        opcode,
        body,
        path,
        onReply: (header, r) => {
          cleanup();
          if (header.err !== Err.OK && !acceptErrors.includes(header.err)) {
            if (!abandoned) reject(keeperError(header.err, path));
            return;
          }
          let value: T;
          try {
            value = decode(header, r);
          } catch (err) {
            if (!abandoned) reject(err);
            return;
          }
          if (!abandoned) resolve(value);
        },
        onError: (err) => {
          cleanup();
          if (!abandoned) reject(err instanceof KeeperError && path !== undefined && err.path === undefined ? rebrand(err, path) : err);
        },
      };
      const cleanup = guard(opts, (err) => {
        abandoned = true;
        this.machine.cancel(p);
        reject(err);
      });
      this.transport.feed((m, now) => m.submit(p, now));
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
    if (this.machine.state === 'closed') return Promise.reject(new ClientClosedError());
    const request: AuthRequest = { scheme, auth: toBuffer(auth) ?? Buffer.alloc(0) };
    return new Promise<void>((resolve, reject) => {
      const cleanup = guard(options, (err) => {
        this.authCalls.delete(request);
        reject(err);
      });
      // Settled by the server's answer; a lost connection re-sends the credentials and waits on.
      this.authCalls.set(request, (err) => {
        cleanup();
        if (err) reject(err);
        else resolve();
      });
      this.transport.feed((m, now) => m.addAuth(request, now));
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
    if (!last || this.watches.hasAny(path) || this.machine.state !== 'connected') return;
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


function rebrand(err: KeeperError, path: string): KeeperError {
  const e = keeperError(err.code, path, err.message);
  return e;
}

export type { NodeEvent };
