/**
 * A simulated ZooKeeper client: one connection at a time to a server of its choosing, a session
 * it keeps across reconnects (sending its last seen zxid, as real clients do), pings when idle,
 * timeouts that drop a silent connection, and a random workload whose every operation goes into
 * the run's history (src/faults/history.ts) for the checkers: register writes, compare-and-set,
 * reads, sequential and ephemeral creates; now and then it closes its session or vanishes
 * without closing it (the session must then expire, and its ephemerals with it).
 *
 * Requests reach the server's RequestPipeline as decoded requests over a Pipe (FIFO, delayed);
 * replies come back the same way. The client checks FIFO order itself: replies must come in
 * request order.
 */
import { CreateMode, Err, errName, OpCode, Xid } from '../jute/constants.js';
import type { Stat } from '../jute/records.js';
import type { Request } from '../jute/requests.js';
import { OPEN_ACL_UNSAFE } from '../persistence/zkformat.js';
import type { Op, OpKind } from '../faults/history.js';
import { Pipe, type Network } from './net.js';
import type { SimLink, SimServer } from './server.js';
import type { World } from './world.js';

/** What a client reports to the simulation. */
export interface ClientHooks {
  record(op: Omit<Op, 'index'>): Op;
  /** A write was acknowledged at `zxid`: it must be durable on a quorum now. */
  acked(op: Op, zxid: number): void;
  /** The connection was lost with `op` in flight as request `xid` of `sessionId`: its outcome is unknown. */
  unknown(op: Op, sessionId: bigint, xid: number): void;
  violation(message: string): void;
}

export interface ClientOptions {
  sessionTimeoutMs: number;
  keys: readonly string[];
  /** Most requests in flight on one connection. */
  maxInFlight: number;
  /** Issue sync+getData reads, checked for linearizability (see docs/testing.md on stale leaders). */
  syncReads: boolean;
}

interface Pending {
  xid: number;
  op: Op | null;
  done(err: number, zxid: number, body: unknown): void;
}

interface Conn {
  pipe: Pipe;
  server: SimServer;
  link: SimLink | null;
  open: boolean;
  openedAt: number;
  lastHeard: number;
  lastSent: number;
}

export class SimClient {
  /** False once the workload should stop (healing): in-flight requests still finish. */
  working = false;
  /** Setup requests run before the workload (the simulation's first client creates the nodes). */
  script: Request[] = [];
  scriptDone = false;
  private conn: Conn | null = null;
  private session: { id: bigint; passwd: Buffer; name: string } | null = null;
  private lastZxid = 0;
  private readonly pending: Pending[] = [];
  private nextXid = 1;
  private counter = 0;
  private readonly versions = new Map<string, number>();
  /** Sessions this client opened that it closed or abandoned (for the report). */
  sessionsEnded = 0;

  constructor(
    readonly id: number,
    private readonly world: World,
    private readonly net: Network,
    private readonly servers: readonly SimServer[],
    private readonly hooks: ClientHooks,
    private readonly options: ClientOptions,
  ) {}

  start(): void {
    this.world.after(1 + this.world.rng.int(20), () => this.step());
  }

  /** The session this client holds now (hex), if any. */
  get sessionName(): string | null {
    return this.session?.name ?? null;
  }

  get idle(): boolean {
    return this.pending.length === 0;
  }

  private step(): void {
    this.checkTimeouts();
    const rng = this.world.rng;
    if (this.conn === null) this.connect(rng.pick(this.servers));
    else if (this.conn.open && this.session) this.act();
    this.world.after(5 + rng.int(40), () => this.step());
  }

  private checkTimeouts(): void {
    const c = this.conn;
    if (c === null) return;
    const now = this.world.now;
    const t = this.options.sessionTimeoutMs;
    if (!c.open && now - c.openedAt > t / 3) return this.drop();
    // ZooKeeper's client gives up on a connection silent for 2/3 of the session timeout.
    if (now - c.lastHeard > (2 * t) / 3) return this.drop();
    if (c.open && now - c.lastSent > t / 3) this.send(OpCode.ping, { type: OpCode.ping }, null, () => undefined, Xid.ping);
  }

  private act(): void {
    if (this.script.length > 0) return this.runScript();
    if (!this.working || this.pending.length >= this.options.maxInFlight) return;
    const rng = this.world.rng;
    const roll = rng.next();
    const key = rng.pick(this.options.keys);
    if (roll < 0.25) this.write(key);
    else if (roll < 0.45) this.cas(key);
    else if (roll < 0.62 || !this.options.syncReads) this.read(key);
    else if (roll < 0.7) this.syncRead(key);
    else if (roll < 0.82) this.createSequential();
    else if (roll < 0.94) this.createEphemeral();
    else if (roll < 0.97) this.closeSession();
    else this.vanish();
  }

  private runScript(): void {
    if (this.pending.length > 0) return;
    const req = this.script[0]!;
    this.send(req.type, req, null, (err) => {
      if (err !== Err.OK && err !== Err.NODEEXISTS) return;
      this.script.shift();
      if (this.script.length === 0) this.scriptDone = true;
    });
  }

  // ---- the workload ----

  private write(key: string): void {
    const value = this.nextValue();
    const op = this.begin('write', key, { value });
    this.send(OpCode.setData, { type: OpCode.setData, path: key, data: Buffer.from(value), version: -1 }, op, (err, zxid, body) => this.wrote(op, key, err, zxid, body));
  }

  private cas(key: string): void {
    const value = this.nextValue();
    const expectedVersion = this.versions.get(key) ?? 0;
    const op = this.begin('cas', key, { value, expectedVersion });
    this.send(OpCode.setData, { type: OpCode.setData, path: key, data: Buffer.from(value), version: expectedVersion }, op, (err, zxid, body) => this.wrote(op, key, err, zxid, body));
  }

  private wrote(op: Op, key: string, err: number, zxid: number, body: unknown): void {
    if (err !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(err) });
    const stat = (body as { stat: Stat }).stat;
    this.versions.set(key, stat.version);
    this.complete(op, 'ok', zxid, { version: stat.version, mzxid: String(stat.mzxid) });
    this.hooks.acked(op, zxid);
  }

  private read(key: string): void {
    const op = this.begin('read', key, {});
    this.send(OpCode.getData, { type: OpCode.getData, path: key, watch: false }, op, (err, zxid, body) => {
      if (err !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(err) });
      const { data, stat } = body as { data: string | Buffer | null; stat: Stat };
      this.versions.set(key, stat.version);
      const readValue = data === null ? null : data.toString();
      this.complete(op, 'ok', zxid, { readValue, version: stat.version, mzxid: String(stat.mzxid) });
    });
  }

  /** sync then getData, pipelined: FIFO makes the read wait for the sync (a linearizable read). */
  private syncRead(key: string): void {
    const op = this.begin('sync-read', key, {});
    let synced = false;
    this.send(OpCode.sync, { type: OpCode.sync, path: key }, op, (err) => {
      synced = err === Err.OK;
    });
    this.send(OpCode.getData, { type: OpCode.getData, path: key, watch: false }, op, (err, zxid, body) => {
      if (!synced || err !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(err) });
      const { data, stat } = body as { data: string | Buffer | null; stat: Stat };
      this.complete(op, 'ok', zxid, { readValue: data === null ? null : data.toString(), version: stat.version, mzxid: String(stat.mzxid) });
    });
  }

  private createSequential(): void {
    const op = this.begin('create-seq', '/seq', {});
    const req: Request = { type: OpCode.create, path: '/seq/s-', data: Buffer.alloc(0), acl: OPEN_ACL_UNSAFE, flags: CreateMode.PERSISTENT_SEQUENTIAL, ttl: -1 };
    this.send(OpCode.create, req, op, (err, zxid, body) => this.created(op, err, zxid, body));
  }

  private createEphemeral(): void {
    const path = `/eph/c${this.id}-${++this.counter}`;
    const op = this.begin('create-eph', '/eph', {});
    const req: Request = { type: OpCode.create, path, data: Buffer.alloc(0), acl: OPEN_ACL_UNSAFE, flags: CreateMode.EPHEMERAL, ttl: -1 };
    this.send(OpCode.create, req, op, (err, zxid, body) => this.created(op, err, zxid, body));
  }

  private created(op: Op, err: number, zxid: number, body: unknown): void {
    if (err !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(err) });
    this.complete(op, 'ok', zxid, { created: (body as { path: string }).path });
    this.hooks.acked(op, zxid);
  }

  private closeSession(): void {
    if (this.pending.length > 0) return;
    this.send(OpCode.closeSession, { type: OpCode.closeSession }, null, (err) => {
      if (err !== Err.OK) return;
      this.session = null;
      this.sessionsEnded++;
    });
  }

  /** Leaves without closing: the session lives on at the servers until it expires. */
  private vanish(): void {
    this.drop();
    this.session = null;
    this.sessionsEnded++;
  }

  private nextValue(): string {
    return `c${this.id}-${++this.counter}`;
  }

  private begin(kind: OpKind, key: string, extra: Partial<Op>): Op {
    return this.hooks.record({ client: this.id, session: this.session?.name ?? null, kind, key, invokeMs: this.world.now, completeMs: null, outcome: 'info', server: String(this.conn?.server.sid), ...extra });
  }

  private complete(op: Op, outcome: Op['outcome'], zxid: number, extra: Partial<Op>): void {
    Object.assign(op, { outcome, completeMs: this.world.now, lastZxid: String(zxid), ...extra });
  }

  // ---- the connection ----

  private connect(server: SimServer): void {
    const pipe = new Pipe(this.world, this.net, 0, server.sid);
    const now = this.world.now;
    const conn: Conn = { pipe, server, link: null, open: false, openedAt: now, lastHeard: now, lastSent: now };
    this.conn = conn;
    const session = this.session;
    const req = { protocolVersion: 0, lastZxidSeen: this.lastZxid, timeOut: this.options.sessionTimeoutMs, sessionId: session?.id ?? 0n, passwd: session?.passwd ?? Buffer.alloc(16), readOnly: false };
    pipe.send(0, () => {
      const link = server.connectClient(pipe, {
        reply: (xid, zxid, err, _type, body) => this.onReply(conn, xid, zxid, err, body),
        connected: (timeOut, sessionId, passwd) => this.onConnected(conn, timeOut, sessionId, passwd),
        event: () => undefined,
        closed: () => this.onClosed(conn),
      });
      if (link === null) return pipe.close(1, () => this.onClosed(conn));
      conn.link = link;
      server.pipeline.connect(link, req);
    });
  }

  private onConnected(conn: Conn, timeOut: number, sessionId: bigint, passwd: Buffer): void {
    if (conn !== this.conn) return;
    conn.lastHeard = this.world.now;
    if (timeOut <= 0) {
      // The session expired: what was in flight in it is unknown, and a new session starts.
      this.drop();
      this.session = null;
      this.sessionsEnded++;
      return;
    }
    if (this.session === null || this.session.id !== sessionId) this.session = { id: sessionId, passwd, name: sessionHex(sessionId) };
    conn.open = true;
  }

  private onReply(conn: Conn, xid: number, zxid: number, err: number, body: unknown): void {
    if (conn !== this.conn) return;
    conn.lastHeard = this.world.now;
    if (xid === Xid.ping) return;
    const head = this.pending.shift();
    if (!head || head.xid !== xid) {
      this.hooks.violation(`client ${this.id}: reply for xid ${xid} while the oldest request in flight is ${head ? `xid ${head.xid}` : 'none'} (per-session FIFO broken, server ${conn.server.sid})`);
      return;
    }
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    head.done(err, zxid, body);
  }

  private onClosed(conn: Conn): void {
    if (conn !== this.conn) return;
    this.lost();
  }

  /** The client hangs up (timeout, expiry, vanishing); the server sees the connection close. */
  private drop(): void {
    const conn = this.conn;
    if (conn === null) return;
    conn.pipe.close(0, () => {
      const link = conn.link;
      if (link && conn.server.owns(link)) link.peerClosed();
    });
    this.lost();
  }

  /** The connection is gone: requests in flight have unknown outcomes (they stay 'info'). */
  private lost(): void {
    this.conn = null;
    for (const p of this.pending) if (p.op && p.op.outcome === 'info' && this.session) this.hooks.unknown(p.op, this.session.id, p.xid);
    this.pending.length = 0;
  }

  private send(type: number, req: Request, op: Op | null, done: Pending['done'], xid = this.nextXid++): void {
    const conn = this.conn;
    if (conn === null || !conn.open) return;
    conn.lastSent = this.world.now;
    if (xid !== Xid.ping) this.pending.push({ xid, op, done });
    conn.pipe.send(0, () => {
      const link = conn.link;
      if (link && conn.server.owns(link)) conn.server.pipeline.request(link, xid, type, req);
    });
  }
}

/** A session id as the history names it: 16 hex digits, unsigned. */
export function sessionHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}
