/**
 * A simulated ZooKeeper client: one connection at a time to a server of its choosing, a session
 * it keeps across reconnects (sending its last seen zxid, as real clients do), pings when idle,
 * timeouts that drop a silent connection, and a random workload whose every operation goes into
 * the run's history (src/faults/history.ts) for the checkers: register writes, compare-and-set
 * (also as a multi of check + setData), reads (some setting a data watch), sequential and
 * ephemeral creates, multis creating a pair of nodes (or failing as a whole); now and then it
 * closes its session or vanishes without closing it (the session must then expire, and its
 * ephemerals with it).
 *
 * Data watches are kept across reconnects as ZooKeeper's client keeps them: the first request on
 * a new connection is setWatches with the last zxid seen. The client checks each watch as it
 * goes: an event comes only for a registered watch, once; it is for a change after the zxid the
 * watch was set at, and (while the watch stays on the server it was set on) for the first such
 * change; and no reply showing a state at or after that change comes before the event.
 *
 * Requests reach the server's RequestPipeline as decoded requests over a Pipe (FIFO, delayed);
 * replies come back the same way. The client checks FIFO order itself: replies must come in
 * request order.
 */
import { CreateMode, Err, errName, EventType, OpCode, Xid } from '../jute/constants.js';
import type { Stat } from '../jute/records.js';
import type { MultiResult, Request } from '../jute/requests.js';
import { OPEN_ACL_UNSAFE } from '../persistence/zkformat.js';
import type { Op, OpKind } from '../faults/history.js';
import { Pipe, type Network } from './net.js';
import type { EventSeen, SimLink, SimServer } from './server.js';
import type { World } from './world.js';

/** What a client reports to the simulation. */
export interface ClientHooks {
  record(op: Omit<Op, 'index'>): Op;
  /** A write (an op of the history, or a pair of creates) was acknowledged at `zxid`: it must be durable on a quorum now. */
  acked(op: Op | string, zxid: number): void;
  /** A multi creating `name` (a pair, or a doomed single) ended: ok, fail, or unknown (info). */
  pair(name: string, doomed: boolean, outcome: Op['outcome']): void;
  /** The first change of `path`'s data after `zxid` that server `sid` applied, or null. */
  firstChange(sid: number, path: string, zxid: number): number | null;
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

/** A data watch this client holds (ZooKeeper's client keeps them across reconnects). */
interface Watch {
  /** The reply zxid of the read that set it: the server's state then. */
  setZxid: number;
  /** True while it is registered on the server it was set on; false once carried by setWatches. */
  direct: boolean;
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
  private readonly watches = new Map<string, Watch>();
  /** Watch events received (for the report). */
  watchEvents = 0;
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
    if (roll < 0.22) this.write(key);
    else if (roll < 0.34) this.cas(key);
    else if (roll < 0.4) this.multiCas(key);
    else if (roll < 0.56 || !this.options.syncReads) this.read(key, rng.bool());
    else if (roll < 0.63) this.syncRead(key);
    else if (roll < 0.73) this.createSequential();
    else if (roll < 0.83) this.createEphemeral();
    else if (roll < 0.94) this.createPair(rng.bool(0.25));
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

  /** CAS as ZooKeeper users write it with multi: check the version, then set. */
  private multiCas(key: string): void {
    const value = this.nextValue();
    const expectedVersion = this.versions.get(key) ?? 0;
    const op = this.begin('cas', key, { value, expectedVersion });
    const ops: Request[] = [
      { type: OpCode.check, path: key, version: expectedVersion },
      { type: OpCode.setData, path: key, data: Buffer.from(value), version: -1 },
    ];
    this.send(OpCode.multi, { type: OpCode.multi, ops }, op, (err, zxid, body) => {
      const results = (body as MultiResult[] | null) ?? [];
      const failed = err !== Err.OK ? err : (results.find((r) => r.err !== Err.OK)?.err ?? Err.OK);
      if (failed !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(failed) });
      this.wrote(op, key, Err.OK, zxid, results[1]!.body);
    });
  }

  /**
   * A multi that creates two nodes, both or neither; a doomed one pairs a create with a check
   * that cannot hold, so that it must fail as a whole and create nothing.
   */
  private createPair(doomed: boolean): void {
    const name = `c${this.id}-${++this.counter}`;
    const create = (path: string): Request => ({ type: OpCode.create, path, data: Buffer.alloc(0), acl: OPEN_ACL_UNSAFE, flags: CreateMode.PERSISTENT, ttl: -1 });
    const second: Request = doomed ? { type: OpCode.check, path: '/pairs', version: 1_000_000 } : create(`/pairs/b-${name}`);
    this.hooks.pair(name, doomed, 'info');
    this.send(OpCode.multi, { type: OpCode.multi, ops: [create(`/pairs/a-${name}`), second] }, null, (err, zxid, body) => {
      const results = (body as MultiResult[] | null) ?? [];
      const ok = err === Err.OK && results.length === 2 && results.every((r) => r.err === Err.OK);
      this.hooks.pair(name, doomed, ok ? 'ok' : 'fail');
      if (ok) this.hooks.acked(`multi creating pair ${name}`, zxid);
    });
  }

  private read(key: string, watch = false): void {
    const op = this.begin('read', key, {});
    this.send(OpCode.getData, { type: OpCode.getData, path: key, watch }, op, (err, zxid, body) => {
      if (err !== Err.OK) return this.complete(op, 'fail', zxid, { error: errName(err) });
      // The server holds one data watch per path and connection: an armed one stays as it was set.
      if (watch && !this.watches.has(key)) this.watches.set(key, { setZxid: zxid, direct: true });
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
      this.watches.clear();
      this.sessionsEnded++;
    });
  }

  /** Leaves without closing: the session lives on at the servers until it expires. */
  private vanish(): void {
    this.drop();
    this.session = null;
    this.watches.clear();
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
        event: (type, path, seen) => this.onEvent(conn, type, path, seen),
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
      this.watches.clear();
      this.sessionsEnded++;
      return;
    }
    if (this.session === null || this.session.id !== sessionId) {
      // A new session: the old one's watches went with it.
      this.session = { id: sessionId, passwd, name: sessionHex(sessionId) };
      this.watches.clear();
    }
    conn.open = true;
    this.restoreWatches();
  }

  /** ClientCnxn's first packet on a new connection: the watches it holds, relative to the last zxid seen. */
  private restoreWatches(): void {
    if (this.watches.size === 0) return;
    for (const w of this.watches.values()) w.direct = false;
    const req: Request = { type: OpCode.setWatches, relativeZxid: this.lastZxid, dataWatches: [...this.watches.keys()], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [] };
    this.send(OpCode.setWatches, req, null, () => undefined, Xid.setWatches);
  }

  private onEvent(conn: Conn, type: number, path: string, seen: EventSeen): void {
    if (conn !== this.conn) return;
    conn.lastHeard = this.world.now;
    this.watchEvents++;
    const w = this.watches.get(path);
    const where = `client ${this.id} (session ${this.session?.name}, server ${conn.server.sid})`;
    if (w === undefined) return this.hooks.violation(`${where}: a watch event (type ${type}) for ${path}, which has no watch set (fired twice?)`);
    this.watches.delete(path);
    if (type !== EventType.NodeDataChanged) return this.hooks.violation(`${where}: event type ${type} for the data watch on ${path}`);
    if (seen.mzxid <= w.setZxid) return this.hooks.violation(`${where}: the watch on ${path} set at 0x${hex(w.setZxid)} fired for an older state (mzxid 0x${hex(seen.mzxid)})`);
    // Set on this server and still there: it fires on the first change the server applies after it.
    if (!w.direct) return;
    const first = seen.changes.find((z) => z > w.setZxid) ?? null;
    if (first !== seen.mzxid) {
      this.hooks.violation(`${where}: the watch on ${path} set at 0x${hex(w.setZxid)} fired at mzxid 0x${hex(seen.mzxid)}, not for the first change after it (${first === null ? 'none applied' : `0x${hex(first)}`})`);
    }
  }

  /** ZooKeeper's ordering: a client sees a watch's event before any state at or after the change that fires it. */
  private checkWatchOrder(conn: Conn, zxid: number): void {
    for (const [path, w] of this.watches) {
      const first = this.hooks.firstChange(conn.server.sid, path, w.setZxid);
      if (first !== null && first <= zxid) {
        this.hooks.violation(`client ${this.id} (session ${this.session?.name}, server ${conn.server.sid}): a reply at 0x${hex(zxid)} came before the event of the watch on ${path} set at 0x${hex(w.setZxid)}, changed at 0x${hex(first)}`);
      }
    }
  }

  /**
   * Watches that should have fired by now: this client is connected with nothing in flight
   * either way, and its server's copy of the node changed after the watch was set.
   */
  missedWatches(): string[] {
    const c = this.conn;
    if (c === null || !c.open || this.pending.length > 0 || !c.server.owns(c.link!) || c.pipe.inFlight(1)) return [];
    const out: string[] = [];
    for (const [path, w] of this.watches) {
      const node = c.server.pipeline.tree.getNode(path);
      if (node && node.mzxid > w.setZxid) out.push(`client ${this.id} (session ${this.session?.name}, server ${c.server.sid}): the watch on ${path} set at 0x${hex(w.setZxid)} never fired, though the node changed at 0x${hex(node.mzxid)}`);
    }
    return out;
  }

  private onReply(conn: Conn, xid: number, zxid: number, err: number, body: unknown): void {
    if (conn !== this.conn) return;
    conn.lastHeard = this.world.now;
    if (xid === Xid.ping) return;
    this.checkWatchOrder(conn, zxid);
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

function hex(zxid: number): string {
  return zxid.toString(16);
}

/** A session id as the history names it: 16 hex digits, unsigned. */
export function sessionHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}
