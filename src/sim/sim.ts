/**
 * The deterministic ensemble simulator (issue 12, reference/testing.md §3): N servers (sim
 * server.ts: real election and Zab cores, request pipeline, replica glue and quorum store), M
 * clients, one fake clock and one network, all driven by one seed. A run has three phases:
 *
 * 1. setup: the ensemble elects a leader and the first client creates the workload's nodes;
 * 2. faults: clients run their workload while the nemesis crashes servers (also in the middle
 *    of a Ready, keeping only what was durable), restarts them, partitions the network
 *    (isolating one server, splitting in halves, a bridge, one-way cuts), heals, and breaks
 *    quorum and client connections; messages are delayed, reordered across connections, and
 *    election messages repeated on reconnection;
 * 3. healing: every cut is healed and every server restarted; a quorum must then elect, sync
 *    every server and acknowledge a new write within a bound (liveness), and every server must
 *    converge.
 *
 * Checkers run as it goes (one txn per zxid on every server's log; a txn applied anywhere is the
 * one logged at its zxid; one leader per epoch; a new leader holds every committed txn; every
 * acknowledged write durable on a quorum when acknowledged; per-session FIFO replies) and at the
 * end over the recorded history (src/faults/check.ts: linearizable register writes, per-session
 * monotonic reads, no lost acknowledged write, unique and complete sequential names, ephemerals
 * gone with their sessions, identical trees on every server).
 */
import { createHash } from 'node:crypto';
import type { MemoryDisk } from '../io/disk.js';
import { resolveConfig } from '../server/index.js';
import { CreateMode, OpCode } from '../jute/constants.js';
import { decodeTxn } from '../jute/txn.js';
import type { Request } from '../jute/requests.js';
import { OPEN_ACL_UNSAFE } from '../persistence/zkformat.js';
import type { LogEntry } from '../consensus/learner.js';
import { MajorityQuorum, quorumConfigText, type QuorumServerSpec } from '../consensus/members.js';
import { zxidToHex, type Zxid } from '../consensus/zxid.js';
import { checkRun, type Verdict } from '../faults/check.js';
import type { DataTree } from '../tree/datatree.js';
import type { Op } from '../faults/history.js';
import { sessionHex, SimClient } from './client.js';
import { Network } from './net.js';
import { SimServer, type Ensemble, type Sabotage } from './server.js';
import { CheckedStore, SimViolation, ZxidLedger } from './store.js';
import { World } from './world.js';

export interface SimOptions {
  seed: number;
  /** Voting members (3 or 5 in CI). */
  servers: number;
  /** Observers besides them (default: 1 on every third seed, else none). */
  observers?: number;
  clients?: number;
  /** Simulated milliseconds of the fault phase. */
  faultMs?: number;
  /** Liveness bound: simulated milliseconds after healing within which the ensemble must recover. */
  settleMs?: number;
  /** Most milliseconds a message usually spends on the wire (spikes reach 8 times that). */
  maxDelay?: number;
  /** Mean simulated milliseconds between nemesis actions. */
  faultEveryMs?: number;
  /** Chance that a server crashes while carrying out one Ready during the fault phase. */
  midReadyCrashRate?: number;
  /** Keep the trace (every role change and fault) for the report. */
  trace?: boolean;
  /**
   * Committed txns a leader keeps in memory for DIFF (default: 10 on every third seed, so that
   * learners are synced from the on-disk log or by SNAP; else ZooKeeper's 500).
   */
  commitLogCount?: number;
  /** DIFF from the on-disk log while under this × the tree's size (default 0.33; -1 on every sixth seed: SNAP instead). */
  snapshotSizeFactor?: number;
  /** ZooKeeper's snapCount for the servers' periodic snapshots (default 100, so that they happen). */
  snapCount?: number;
  /** Clients also issue sync+getData reads, which the linearizability checker takes (default true). */
  syncReads?: boolean;
  /** A deliberate bug the checkers must catch (their own tests). */
  sabotage?: Sabotage | null;
  /**
   * Compute SimResult.fingerprint: a hash of everything the run did (see runFingerprint), to
   * prove that a change to the simulator's speed did not change what it simulates. Keeps the
   * trace (it is part of the hash).
   */
  fingerprint?: boolean;
}

export interface SimResult {
  seed: number;
  servers: number;
  ok: boolean;
  /** Readable sentences; empty when ok. */
  violations: string[];
  /** The exact command that replays this run. */
  replay: string;
  stats: { simMs: number; events: number; ops: number; acked: number; leaders: number; crashes: number; partitions: number; syncs: Record<string, number>; watchEvents: number; pairsCreated: number };
  trace: string[];
  /** Every client operation, as the checkers saw it. */
  history: Op[];
  /** With options.fingerprint: a hex digest of the whole run (see runFingerprint). */
  fingerprint?: string;
}

const TICK_MS = 100;
const KEYS = ['/r/k0', '/r/k1', '/r/k2'];

/** Runs one seed and checks it; never throws for a violation, only reports it. */
export function runSimulation(options: SimOptions): Promise<SimResult> {
  const sim = new Simulation(options);
  return sim.run();
}

/** The command line that replays a run exactly. */
export function replayCommand(o: SimOptions): string {
  // Only the options given: defaults are part of the code, like the seed's meaning.
  const extra = [
    o.clients !== undefined ? `--clients ${o.clients}` : '',
    o.faultMs !== undefined ? `--fault-ms ${o.faultMs}` : '',
    o.settleMs !== undefined ? `--settle-ms ${o.settleMs}` : '',
    o.faultEveryMs !== undefined ? `--fault-every ${o.faultEveryMs}` : '',
    o.observers !== undefined ? `--observers ${o.observers}` : '',
    o.sabotage ? `--sabotage ${o.sabotage}` : '',
    o.syncReads === false ? '--no-sync-reads' : '',
  ].filter((s) => s !== '');
  return ['npm run sim --', `--seed ${o.seed}`, `--servers ${o.servers}`, ...extra, '--trace'].join(' ');
}

class Simulation implements Ensemble {
  readonly world: World;
  readonly net: Network;
  readonly servers: SimServer[] = [];
  readonly members: QuorumServerSpec[];
  readonly quorum: MajorityQuorum;
  readonly configText: string;
  private readonly ledger = new ZxidLedger();
  private readonly clients: SimClient[] = [];
  private readonly ops: Op[] = [];
  private readonly committed = new Map<Zxid, Buffer>();
  /**
   * Server -> path -> the zxids of the data changes it applied since its tree was last loaded or
   * replaced, ascending: what its watches fire on (for the watch checks).
   */
  private readonly changes = new Map<number, Map<string, number[]>>();
  private readonly changedByZxid = new Map<Zxid, readonly string[]>();
  /** Pair multis by name: doomed (must create nothing) and the outcome the client saw. */
  private readonly pairs = new Map<string, { doomed: boolean; outcome: Op['outcome'] }>();
  /** Ops whose connection was lost in flight, by their request (session and xid). */
  private readonly unresolved: { op: Op; key: string }[] = [];
  private readonly epochLeaders = new Map<bigint, number>();
  private readonly traceLines: string[] = [];
  private readonly o: Required<SimOptions>;
  private faulting = false;
  get commitLogCount(): number {
    return this.o.commitLogCount;
  }

  get snapshotSizeFactor(): number {
    return this.o.snapshotSizeFactor;
  }

  get sabotage(): Sabotage | null {
    return this.o.sabotage;
  }

  private acked = 0;
  private crashes = 0;
  private partitions = 0;

  constructor(private readonly given: SimOptions) {
    const options = given;
    this.o = { fingerprint: false, clients: 4, faultMs: 6000, settleMs: 30_000, maxDelay: 10, faultEveryMs: 400, midReadyCrashRate: 0.001, sabotage: null, syncReads: true, commitLogCount: options.seed % 3 === 0 ? 10 : 500, snapshotSizeFactor: options.seed % 6 === 0 ? -1 : 0.33, snapCount: 100, observers: options.seed % 3 === 1 ? 1 : 0, ...options, trace: options.trace === true || options.fingerprint === true };
    this.world = new World(options.seed);
    this.net = new Network(this.world, this.o.maxDelay);
    this.members = [];
    const total = options.servers + this.o.observers;
    for (let sid = 1; sid <= total; sid++) {
      const type = sid <= options.servers ? 'participant' : 'observer';
      this.members.push({ sid: BigInt(sid), type, host: `10.0.0.${sid}`, quorumPort: 2888, electionPort: 3888 });
    }
    this.quorum = new MajorityQuorum(this.members);
    this.configText = quorumConfigText(this.members, 0n);
    for (let sid = 1; sid <= total; sid++) {
      const config = resolveConfig({ dataDir: `/data/${sid}`, serverId: sid, tickTime: TICK_MS, initLimit: 10, syncLimit: 5, sessionPasswords: 'zookeeper' });
      const store = new CheckedStore({ sid, dataDir: config.dataDir, ledger: this.ledger, world: this.world, snapCount: this.o.snapCount, forceSync: this.o.sabotage !== 'fsync-lies' });
      this.servers.push(new SimServer(sid, config, store, this, sid > options.servers));
    }
    const hooks = {
      record: (op: Omit<Op, 'index'>) => this.record(op),
      acked: (op: Op | string, zxid: number) => this.onAcked(op, zxid),
      pair: (name: string, doomed: boolean, outcome: Op['outcome']) => void this.pairs.set(name, { doomed, outcome }),
      firstChange: (sid: number, path: string, zxid: number) => this.firstChange(sid, path, zxid),
      unknown: (op: Op, sessionId: bigint, xid: number) => this.unresolved.push({ op, key: requestKey(sessionId, xid) }),
      violation: (m: string) => this.fail(m),
    };
    for (let id = 1; id <= this.o.clients + 1; id++) {
      this.clients.push(new SimClient(id, this.world, this.net, this.servers, hooks, { sessionTimeoutMs: 1500, keys: KEYS, maxInFlight: 3, syncReads: this.o.syncReads }));
    }
  }

  async run(): Promise<SimResult> {
    const violations: string[] = [];
    try {
      await this.setup();
      await this.faultPhase();
      await this.heal();
      violations.push(...this.finalChecks());
    } catch (err) {
      violations.push(err instanceof SimViolation ? err.message : `server code threw: ${(err as Error).stack ?? String(err)}`);
    }
    const live = this.o.fingerprint ? this.liveFingerprint() : [];
    // The data directories' locks are process-wide: the next run in this process takes them again.
    for (const s of this.servers) s.store.crash();
    await Promise.all(this.servers.map((s) => s.store.closed()));
    const leaders = this.epochLeaders.size;
    const result: SimResult = {
      seed: this.o.seed,
      servers: this.o.servers,
      ok: violations.length === 0,
      violations,
      replay: replayCommand(this.given),
      stats: { simMs: this.world.now, events: this.world.steps, ops: this.ops.length, acked: this.acked, leaders, crashes: this.crashes, partitions: this.partitions, syncs: this.syncCounts(), watchEvents: this.clients.reduce((n, c) => n + c.watchEvents, 0), pairsCreated: [...this.pairs.values()].filter((p) => p.outcome === 'ok').length },
      trace: this.traceLines,
      history: this.ops,
    };
    if (this.o.fingerprint) result.fingerprint = await this.runFingerprint(result, live);
    return result;
  }

  /** Each server's role, tree and disk counters when the run ends (before the closing crash). */
  private liveFingerprint(): string[] {
    return this.servers.map((s) => {
      const tree = s.up && s.role.kind !== 'starting' ? JSON.stringify(treeDigest(s)) : 'no tree';
      // Not bytesWritten: the lock file holds the process id, whose length varies (the files' bytes are hashed below).
      const { writes, syncs, dirSyncs } = s.store.disk.stats;
      return `server ${s.sid} ${s.describe()} ${s.lastLogged()} ${s.store.loggedZxids().join(',')} writes ${writes} syncs ${syncs} dirSyncs ${dirSyncs} ${tree}`;
    });
  }

  /**
   * A digest of what the run did: events run and simulated time, the PRNG's next draw (every
   * random choice moves it), the stats, verdict, history and trace, each server's final state and
   * every byte left on its disk. Two runs of a seed with the same fingerprint did the same thing.
   */
  private async runFingerprint(result: SimResult, live: string[]): Promise<string> {
    const hash = createHash('sha256');
    const add = (s: string): void => void hash.update(s).update('\n');
    add(`steps ${this.world.steps} now ${this.world.now} rng ${this.world.rng.next()}`);
    add(JSON.stringify(result.stats));
    add(JSON.stringify(result.violations));
    for (const op of result.history) add(JSON.stringify(op));
    for (const line of result.trace) add(line);
    for (const line of live) add(line);
    for (const s of this.servers) {
      for (const path of await filesUnder(s.store.disk, s.config.dataDir)) {
        // The lock holds the process id and a nonce, which differ on every run.
        if (path.endsWith('.lock')) continue;
        add(path);
        hash.update(await s.store.disk.readFile(path));
      }
    }
    return hash.digest('hex').slice(0, 24);
  }

  private syncCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.servers) for (const [mode, n] of s.syncModes) out[mode] = (out[mode] ?? 0) + n;
    return out;
  }

  // ---- phases ----

  private async setup(): Promise<void> {
    for (const s of this.servers) s.boot();
    const first = this.clients[0]!;
    first.script = setupRequests();
    first.start();
    if (!(await this.world.runUntil(this.world.now + this.o.settleMs, () => first.scriptDone))) {
      this.fail(`no leader served the setup writes within ${this.o.settleMs} ms\n${this.describe()}`);
    }
    this.trace(`setup done`);
  }

  private async faultPhase(): Promise<void> {
    this.faulting = true;
    const end = this.world.now + this.o.faultMs;
    for (const c of this.clients.slice(1)) {
      c.working = true;
      c.start();
    }
    this.scheduleFault(end);
    await this.world.runUntil(end);
    this.faulting = false;
    // A crash armed for a disk operation that never came does not strike after the fault phase.
    for (const s of this.servers) s.store.armCrash(null);
    for (const c of this.clients) c.working = false;
  }

  private async heal(): Promise<void> {
    this.trace('heal: every cut healed, every server up');
    this.setCuts([]);
    for (const s of this.servers) if (!s.up) s.boot();
    const probe = this.clients[0]!;
    probe.script = [{ type: OpCode.setData, path: '/probe', data: Buffer.from('after healing'), version: -1 }];
    probe.scriptDone = false;
    const end = this.world.now + this.o.settleMs;
    let settled = false;
    const check = (): void => {
      settled = this.converged(probe);
      if (!settled) this.world.after(50, check);
    };
    this.world.after(50, check);
    if (!(await this.world.runUntil(end, () => settled))) {
      this.fail(`no progress within ${this.o.settleMs} ms after healing (probe write ${probe.scriptDone ? 'done' : 'not done'})\n${this.describe()}`);
    }
  }

  /** A broadcasting leader with every server synced, the probe write done, every tree caught up. */
  private converged(probe: SimClient): boolean {
    const leader = this.servers.find((s) => s.leaderCore()?.phase === 'broadcast');
    const core = leader?.leaderCore();
    if (!leader || !core) return false;
    if (this.servers.some((s) => s.store.accepted > core.epoch!)) {
      // A server that accepted a later epoch (from a leader that died in discovery) is refused
      // by this leader for good, in ZooKeeper too: restart the leader so the next election counts it.
      this.trace(`settle restarts server ${leader.sid}, behind an accepted epoch`);
      leader.crash();
      leader.boot();
      return false;
    }
    if (core.syncedLearners().length !== this.servers.length - 1) return false;
    if (!probe.scriptDone) return false;
    const last = leader.pipeline.lastZxid();
    return this.clients.every((c) => c.idle) && this.servers.every((s) => s.pipeline.lastZxid() === last && s.pipeline.outstandingRequests() === 0);
  }

  // ---- the nemesis ----

  private scheduleFault(end: number): void {
    const rng = this.world.rng;
    const at = this.world.now + 1 + rng.int(2 * this.o.faultEveryMs);
    if (at >= end) return;
    this.world.at(at, () => {
      this.fault();
      this.scheduleFault(end);
    });
  }

  private fault(): void {
    const rng = this.world.rng;
    const roll = rng.next();
    const up = this.servers.filter((s) => s.up);
    if (roll < 0.1 && up.length > 0) this.crashFor(rng.pick(up));
    else if (roll < 0.18) {
      const leader = this.servers.find((s) => s.leaderCore() !== null);
      if (leader) this.crashFor(leader);
    } else if (roll < 0.55) this.partition();
    else if (roll < 0.7) {
      this.trace('nemesis: heal partitions');
      this.setCuts([]);
    } else if (roll < 0.85) this.breakQuorumConnection();
    else this.breakClientConnection();
  }

  private crashFor(s: SimServer): void {
    this.crashes++;
    s.crash();
    this.restartLater(s);
  }

  private restartLater(s: SimServer): void {
    const inc = s.incarnation;
    this.world.after(200 + this.world.rng.int(1500), () => {
      if (!s.up && s.incarnation === inc) s.boot();
    });
  }

  private partition(): void {
    const rng = this.world.rng;
    const ids = this.servers.map((s) => s.sid);
    const shuffled = [...ids].sort(() => rng.next() - 0.5);
    const cuts: [number, number][] = [];
    const cutBetween = (a: number[], b: number[], oneWay = false): void => {
      for (const x of a) for (const y of b) {
        cuts.push([x, y]);
        if (!oneWay) cuts.push([y, x]);
      }
    };
    const kind = rng.int(4);
    if (kind === 0) cutBetween([shuffled[0]!], shuffled.slice(1));
    else if (kind === 1) {
      const k = 1 + rng.int(ids.length - 1);
      cutBetween(shuffled.slice(0, k), shuffled.slice(k));
    } else if (kind === 2) {
      // A bridge: two sides that only the bridge server hears both of.
      const rest = shuffled.slice(1);
      const k = Math.max(1, Math.floor(rest.length / 2));
      cutBetween(rest.slice(0, k), rest.slice(k));
    } else cutBetween([shuffled[0]!], rng.bool() ? shuffled.slice(1) : [shuffled[1]!], true);
    this.partitions++;
    this.setCuts(cuts);
    this.trace(`nemesis: ${['isolate', 'halves', 'bridge', 'one-way'][kind]} partition: ${this.net.describeCuts()}`);
  }

  private setCuts(cuts: [number, number][]): void {
    const before = this.servers.map((a) => this.servers.map((b) => this.net.severed(a.sid, b.sid)));
    this.net.setCuts(cuts);
    for (const a of this.servers) {
      for (const b of this.servers) {
        if (a === b) continue;
        const now = this.net.severed(a.sid, b.sid);
        if (now !== before[a.sid - 1]![b.sid - 1]) a.electionLink(b, !now);
      }
    }
  }

  private breakQuorumConnection(): void {
    const followers = this.servers.filter((s) => s.role.kind === 'following' && s.role.conn !== null);
    if (followers.length === 0) return;
    const s = this.world.rng.pick(followers);
    this.trace(`nemesis: break server ${s.sid}'s connection to its leader`);
    s.dropLeaderConnection();
  }

  private breakClientConnection(): void {
    const links = this.servers.filter((s) => s.up).flatMap((s) => [...s.pipeline.allLinks()]);
    if (links.length === 0) return;
    this.world.rng.pick(links).close('network error');
  }

  // ---- Ensemble: hooks for the servers ----

  crashPoint(server: SimServer, steps: number): number | null {
    if (!this.faulting || !this.world.rng.bool(this.o.midReadyCrashRate)) return null;
    this.crashes++;
    // A durable step is a few disk operations (write, sync; open, rename, directory sync).
    const at = this.world.rng.int(3 * steps + 1);
    this.trace(`nemesis: server ${server.sid} will crash at its disk operation ${at} from now (${steps} durable steps to go)`);
    // After the crash, it restarts like any other.
    const inc = server.incarnation;
    const restart = (): void => {
      if (server.incarnation !== inc || !server.up) this.restartLater(server);
      else if (server.store.crashArmed) this.world.after(10, restart);
    };
    this.world.soon(restart);
    return at;
  }

  trace(line: string): void {
    if (this.o.trace) this.traceLines.push(`${String(this.world.now).padStart(6)} ${line}`);
  }

  onApply(sid: number, entry: LogEntry): void {
    const logged = this.ledger.get(entry.zxid);
    if (logged === undefined) this.fail(`server ${sid} applies ${zxidToHex(entry.zxid)}, which no server logged`);
    else if (!logged.equals(entry.data)) this.fail(`server ${sid} applies a txn at ${zxidToHex(entry.zxid)} that differs from the one logged there`);
    else this.indexChanges(sid, entry);
  }

  onCommit(sid: number, entry: LogEntry): void {
    const known = this.committed.get(entry.zxid);
    if (known !== undefined && !known.equals(entry.data)) this.fail(`server ${sid} commits a txn at ${zxidToHex(entry.zxid)} other than the one committed there before`);
    this.markCommitted(entry.zxid, entry.data);
  }

  private markCommitted(zxid: Zxid, data: Buffer): void {
    this.committed.set(zxid, data);
  }

  /** Indexes the data changes a server applies, by path (only the watched registers). */
  private indexChanges(sid: number, entry: LogEntry): void {
    const paths = this.registersChanged(entry);
    if (paths.length === 0) return;
    let byPath = this.changes.get(sid);
    if (byPath === undefined) this.changes.set(sid, (byPath = new Map()));
    for (const path of paths) {
      const list = byPath.get(path) ?? [];
      const z = Number(entry.zxid);
      if ((list.at(-1) ?? -1) < z) list.push(z);
      byPath.set(path, list);
    }
  }

  /** The registers whose data the txn at this zxid sets, decoded once for all servers (one txn per zxid). */
  private registersChanged(entry: LogEntry): readonly string[] {
    const known = this.changedByZxid.get(entry.zxid);
    if (known !== undefined) return known;
    const txn = decodeTxn(entry.data, 0x7fffffff);
    const bodies = txn.body.type === OpCode.multi ? txn.body.txns : [txn.body];
    const paths = bodies.flatMap((b) => (b.type === OpCode.setData && KEYS.includes(b.path) ? [b.path] : []));
    this.changedByZxid.set(entry.zxid, paths);
    return paths;
  }

  onTreeReplaced(sid: number): void {
    this.changes.delete(sid);
  }

  changesOf(sid: number, path: string): readonly number[] {
    return [...(this.changes.get(sid)?.get(path) ?? [])];
  }

  /** The first change of `path` after `zxid` that server `sid` applied, or null. */
  private firstChange(sid: number, path: string, zxid: number): number | null {
    for (const z of this.changes.get(sid)?.get(path) ?? []) if (z > zxid) return z;
    return null;
  }

  onEstablished(server: SimServer, epoch: bigint): void {
    const other = this.epochLeaders.get(epoch);
    if (other !== undefined && other !== server.sid) this.fail(`two leaders in epoch ${epoch}: servers ${other} and ${server.sid}`);
    this.epochLeaders.set(epoch, server.sid);
    if (server.observer) this.fail(`observer ${server.sid} leads epoch ${epoch}`);
    // NEWLEADER was acknowledged by a quorum of voters, each with currentEpoch durable first.
    const voters = this.servers.filter((s) => !s.observer && s.store.durableCurrentEpoch >= epoch).map((s) => BigInt(s.sid));
    if (!this.quorum.containsQuorum(voters)) this.fail(`leader ${server.sid} established epoch ${epoch} with currentEpoch durable only on voters [${voters.join(', ')}]`);
    for (const zxid of this.committed.keys()) {
      if (!server.store.holds(zxid)) this.fail(`new leader ${server.sid} (epoch ${epoch}) lacks committed txn ${zxidToHex(zxid)}`);
    }
    // What the new leader synced to a quorum is committed from now on.
    for (const zxid of server.store.loggedZxids()) {
      const data = this.ledger.get(zxid);
      if (data) this.markCommitted(zxid, data);
    }
  }

  // ---- checkers ----

  private record(op: Omit<Op, 'index'>): Op {
    const full = { ...op, index: this.ops.length } as Op;
    this.ops.push(full);
    return full;
  }

  private onAcked(op: Op | string, zxid: number): void {
    this.acked++;
    const z = BigInt(zxid);
    // Observers may hold it too, but only voters count toward the quorum.
    const holders = this.servers.filter((s) => !s.observer && s.store.holds(z)).map((s) => s.sid);
    if (!this.quorum.containsQuorum(holders.map(BigInt))) {
      const what = typeof op === 'string' ? op : `op #${op.index} (${op.kind} ${op.key})`;
      this.fail(`${what} acknowledged at ${zxidToHex(z)} but durable only on servers [${holders.join(', ')}]\n${this.describe()}`);
    }
    const data = this.ledger.get(z);
    if (data) this.markCommitted(z, data);
  }

  private fail(message: string): never {
    throw new SimViolation(`${message} (at ${this.world.now} ms)`);
  }

  /**
   * An op whose outcome the client never learned may have taken effect at any time after its
   * invocation (it stays 'info'), unless its request (session, xid) never became a txn that
   * changes anything: no server ever logged it, or only as an error txn. Those ops leave the
   * history: they changed nothing and told nobody anything, and the linearizability search need
   * not place them. (Every txn any server logged counts, committed or not: a txn inside a SNAP
   * is committed without this simulator seeing its commit.)
   */
  private withoutIneffectiveOps(): Op[] {
    const effective = new Set<string>();
    for (const data of this.ledger.values()) {
      const txn = decodeTxn(data, 0x7fffffff);
      if (txn.header.type !== OpCode.error) effective.add(requestKey(txn.header.sessionId, txn.header.cxid));
    }
    const ineffective = new Set<Op>();
    for (const { op, key } of this.unresolved) if (!effective.has(key)) ineffective.add(op);
    return this.ops.filter((op) => !ineffective.has(op));
  }

  /** Multis are atomic: a pair is both nodes or neither, an acknowledged one both, a failed or doomed one neither. */
  private pairViolations(tree: DataTree): string[] {
    const out: string[] = [];
    const present = new Set(tree.childrenOf('/pairs'));
    for (const [name, p] of this.pairs) {
      const a = present.has(`a-${name}`);
      const b = present.has(`b-${name}`);
      if (p.doomed && a) out.push(`multi: the doomed multi ${name} created /pairs/a-${name}`);
      else if (!p.doomed && a !== b) out.push(`multi: pair ${name} is half there (a ${a}, b ${b})`);
      else if (p.outcome === 'ok' && !a) out.push(`multi: the acknowledged pair ${name} is missing`);
      else if (p.outcome === 'fail' && a) out.push(`multi: pair ${name} failed but exists`);
    }
    for (const child of present) if (!this.pairs.has(child.slice(2))) out.push(`multi: /pairs/${child} was never asked for`);
    return out;
  }

  private finalChecks(): string[] {
    const out0: string[] = [];
    const leader = this.servers.find((s) => s.leaderCore() !== null)!;
    const tree = leader.pipeline.tree;
    const registers: Record<string, { value: string | null; version: number }> = {};
    for (const key of KEYS) {
      const node = tree.getNode(key);
      if (node) registers[key] = { value: node.data?.toString() ?? null, version: node.version };
    }
    const now = this.world.now;
    const finalOp = (kind: Op['kind'], key: string, extra: Partial<Op>): void => {
      this.record({ client: 0, session: null, kind, key, invokeMs: now, completeMs: now, outcome: 'ok', ...extra });
    };
    finalOp('list-seq', '/seq', { children: tree.childrenOf('/seq') });
    const owners: Record<string, string> = {};
    for (const name of tree.childrenOf('/eph')) owners[name] = sessionHex(tree.getNode(`/eph/${name}`)!.ephemeralOwner);
    finalOp('list-eph', '/eph', { owners });
    const liveSessions = [...leader.pipeline.sessionTimeouts().keys()].map(sessionHex);
    const trees: Record<string, Record<string, string>> = {};
    for (const s of this.servers) trees[String(s.sid)] = treeDigest(s);
    // A step bound, not a time bound, so that a seed's verdict never depends on the machine.
    const limits = { maxSteps: 5_000_000, maxCacheEntries: 2_000_000, maxMillis: Number.MAX_SAFE_INTEGER };
    out0.push(...this.pairViolations(tree), ...this.clients.flatMap((c) => c.missedWatches()));
    const verdict: Verdict = checkRun({ ops: this.withoutIneffectiveOps(), faults: [], startedAt: 0 }, { registers, counters: {}, liveSessions, trees }, limits);
    const out = [...out0, ...verdict.violations.map((v) => `${v.checker}: ${v.message}`)];
    for (const k of verdict.linearizability.keys) if (k.result === 'unknown') out.push(`linearizability undecided for ${k.key}: ${k.reason}`);
    return out;
  }

  describe(): string {
    return this.servers.map((s) => `server ${s.sid}: ${s.describe()}, epochs ${s.store.accepted}, last logged ${s.lastLogged()}`).join('\n') + `\ncuts: ${this.net.describeCuts()}`;
  }
}

/** Every file under `dir` on a MemoryDisk, depth first, in name order. */
async function filesUnder(disk: MemoryDisk, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await disk.list(dir)) {
    const path = `${dir}/${name}`;
    if ((await disk.stat(path))?.isDirectory) out.push(...(await filesUnder(disk, path)));
    else out.push(path);
  }
  return out;
}

function requestKey(sessionId: bigint, xid: number): string {
  return `${sessionId}/${xid}`;
}

/** The setup writes: the registers at "0" (what the linearizability checker starts from) and the parents. */
function setupRequests(): Request[] {
  const create = (path: string, data: string): Request => ({ type: OpCode.create, path, data: Buffer.from(data), acl: OPEN_ACL_UNSAFE, flags: CreateMode.PERSISTENT, ttl: -1 });
  return [create('/r', ''), ...KEYS.map((k) => create(k, '0')), create('/seq', ''), create('/eph', ''), create('/pairs', ''), create('/probe', '')];
}

/** path -> what must agree across servers (data, versions, zxids, owner); /zookeeper is local. */
function treeDigest(s: SimServer): Record<string, string> {
  const tree = s.pipeline.tree;
  const out: Record<string, string> = {};
  const walk = (path: string): void => {
    const node = tree.getNode(path);
    if (!node) return;
    out[path] = `${node.data?.toString('hex') ?? '-'} v${node.version} c${node.czxid} m${node.mzxid} p${node.pzxid} o${node.ephemeralOwner}`;
    for (const name of tree.childrenOf(path)) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      if (child !== '/zookeeper') walk(child);
    }
  };
  walk('/');
  return out;
}
