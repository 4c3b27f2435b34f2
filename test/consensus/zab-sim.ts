/**
 * A deterministic, seeded simulation of the Zab cores: N servers, each with a durable disk
 * (acceptedEpoch, currentEpoch, log), a ZabLeader or ZabLearner when active, connections with
 * random delays (FIFO within a connection, as TCP is; reordered across connections), dropped
 * connections, partitions, crashes (also in the middle of carrying out a Ready, losing what was
 * not yet durable) and restarts. Every live server runs the FastLeaderElection core, its
 * notifications on the same network (delayed, lost across a cut or to a down server); a
 * decision makes the server lead or connect to the leader (retrying while the leader has not
 * started, as Learner.connectToLeader does). The 'vote-order' option instead picks the best
 * vote (currentEpoch, last logged zxid, sid) among a connected quorum of looking servers.
 *
 * Checkers, after every event: one txn per zxid on every disk; commits go out in increasing
 * zxid order; a learner applies (once serving) only committed txns; a leader that starts
 * broadcasting holds every txn committed before it; at the end, after healing, every server's
 * log equals the leader's and holds every committed txn.
 */
import { FastLeaderElection } from '../../src/consensus/election.js';
import { ZabLeader, type LeaderReady } from '../../src/consensus/leader.js';
import { ZabLearner, type LearnerReady, type LogEntry } from '../../src/consensus/learner.js';
import { MajorityQuorum } from '../../src/consensus/members.js';
import { ServerState, type Notification, type QuorumPacket } from '../../src/consensus/wire.js';
import { zxidToHex, type Zxid } from '../../src/consensus/zxid.js';
import { Prng } from '../../src/lib/prng.js';

export interface SimOptions {
  servers: number;
  seed: number;
  /** Most time units a packet spends on the wire. */
  maxDelay?: number;
  /** Per-event probabilities. */
  crashRate?: number;
  midReadyCrashRate?: number;
  dropRate?: number;
  partitionRate?: number;
  proposeRate?: number;
  /** Keep only this many txns in a leader's history; older learners get SNAP. */
  historyLimit?: number;
  /**
   * 'fle' runs the FastLeaderElection core on every server, its notifications on the same
   * faulty network; 'vote-order' picks the best vote among a connected quorum directly.
   */
  election?: 'fle' | 'vote-order';
}

interface Disk {
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  log: LogEntry[];
}

type Role =
  | { kind: 'down'; until: number }
  | { kind: 'looking' }
  | { kind: 'leading'; core: ZabLeader }
  | { kind: 'following'; core: ZabLearner<LogEntry[]>; leader: number; conn: number };

interface Server {
  sid: number;
  disk: Disk;
  role: Role;
  /** The election core, alive while the server is up (it answers late joiners when decided). */
  fle: FastLeaderElection | null;
  /** zxids applied in this incarnation, in order. */
  applied: Zxid[];
}

interface InFlight {
  at: number;
  seq: number;
  conn: number;
  toLeader: boolean;
  item: { packet: QuorumPacket } | { snapshot: LogEntry[] };
}

interface Conn {
  id: number;
  opened: number;
  leader: number;
  learner: number;
  lastAt: [number, number];
}

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
}

/** Time units (milliseconds) per Zab tick. */
const TICK = 100;
/** FLE timings scaled to the simulation's tick (ZooKeeper: tickTime 2000, finalizeWait 200). */
const FLE_TIMING = { finalizeWaitMs: 20, minNotificationIntervalMs: 20, maxNotificationIntervalMs: 800 };

export class ZabSim {
  readonly servers: Server[] = [];
  readonly committed = new Map<Zxid, string>();
  /** Sync modes seen by learners, for tests that want TRUNC or SNAP to have happened. */
  readonly syncModes = new Map<string, number>();
  readonly trace: string[] = [];
  now = 0;
  private readonly rng: Prng;
  private readonly quorum: MajorityQuorum;
  private readonly members: { sid: bigint; type: 'participant' }[];
  private electionInflight: { at: number; seq: number; from: number; to: number; n: Notification }[] = [];
  private readonly zxidData = new Map<Zxid, string>();
  private maxCommitted: Zxid = -1n;
  private inflight: InFlight[] = [];
  private seq = 0;
  private nextConn = 1;
  private readonly conns = new Map<number, Conn>();
  private readonly cut = new Set<string>();
  private readonly o: Required<SimOptions>;
  private txnCounter = 0;
  faultsOn = true;

  constructor(options: SimOptions) {
    this.o = {
      maxDelay: 15,
      election: 'fle',
      crashRate: 0.0004,
      midReadyCrashRate: 0.01,
      dropRate: 0.0003,
      partitionRate: 0.0003,
      proposeRate: 0.01,
      historyLimit: 1_000_000,
      ...options,
    };
    this.rng = new Prng(options.seed);
    const members = [];
    for (let sid = 1; sid <= options.servers; sid++) {
      this.servers.push({ sid, disk: { acceptedEpoch: 0n, currentEpoch: 0n, log: [] }, role: { kind: 'looking' }, applied: [], fle: null });
      members.push({ sid: BigInt(sid), type: 'participant' as const });
    }
    this.members = members;
    this.quorum = new MajorityQuorum(members);
    for (const s of this.servers) this.startElection(s);
  }

  /** Runs `units` time units of random events. */
  run(units: number): void {
    const end = this.now + units;
    while (this.now < end) this.stepOnce();
  }

  /** Heals everything, restarts every server, and runs until all of them follow one broadcasting leader that committed a new txn. */
  settle(maxUnits: number): void {
    this.faultsOn = false;
    for (const key of this.cut) {
      const [a, b] = key.split('-').map(Number) as [number, number];
      this.electionLink(a, b, true);
    }
    this.cut.clear();
    for (const s of this.servers) if (s.role.kind === 'down') this.restart(s);
    const end = this.now + maxUnits;
    let mark: Zxid | null = null;
    while (this.now < end) {
      this.stepOnce();
      const leader = this.servers.find((s) => s.role.kind === 'leading' && s.role.core.phase === 'broadcast');
      if (!leader || leader.role.kind !== 'leading') continue;
      const core = leader.role.core;
      if (this.servers.some((s) => s.disk.acceptedEpoch > core.epoch!)) {
        // A server that accepted a later epoch (from a leader that died in discovery) is
        // refused by this leader for good (Learner.registerWithLeader, in ZooKeeper too):
        // restart the leader so that the next election counts that epoch.
        this.trace.push(`${this.now}: settle restarts sid ${leader.sid}, behind an accepted epoch`);
        this.crash(leader);
        this.restart(leader);
        continue;
      }
      if (core.syncedLearners().length !== this.servers.length - 1) continue;
      if (mark === null) {
        mark = this.propose(leader);
        continue;
      }
      const all = this.servers.every((s) => s.disk.log.at(-1)?.zxid === leader.disk.log.at(-1)?.zxid && s.applied.at(-1) === mark);
      if (core.lastCommittedZxid >= mark && all) return this.checkConverged(leader);
    }
    throw new SafetyViolation(`no progress within ${maxUnits} units after healing\n${this.describe()}`);
  }

  describe(): string {
    return this.servers
      .map((s) => `sid ${s.sid}: ${s.role.kind}${s.role.kind === 'leading' ? ` ${s.role.core.phase} e${s.role.core.epoch}` : ''}${s.role.kind === 'following' ? ` ${s.role.core.phase} of ${s.role.leader}` : ''} epochs ${s.disk.acceptedEpoch}/${s.disk.currentEpoch} last ${zxidToHex(s.disk.log.at(-1)?.zxid ?? 0n)} (${s.disk.log.length})`)
      .join('\n');
  }

  // ---- the event loop ----

  private stepOnce(): void {
    this.now++;
    this.deliverDue();
    this.deliverElection();
    for (const s of this.servers) {
      const deadline = s.fle?.nextDeadline();
      if (s.fle && deadline !== null && deadline !== undefined && this.now >= deadline) {
        s.fle.tick(this.now);
        this.flushElection(s);
      }
    }
    if (this.now % TICK === 0) this.tickAll();
    if (!this.faultsOn) return;
    this.faults();
    for (const s of this.servers) {
      if (s.role.kind === 'leading' && this.rng.bool(this.o.proposeRate)) this.propose(s);
    }
  }

  private deliverDue(): void {
    this.inflight.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (this.inflight.length > 0 && this.inflight[0]!.at <= this.now) {
      const m = this.inflight.shift()!;
      const c = this.conns.get(m.conn);
      if (!c) continue;
      const target = this.servers[(m.toLeader ? c.leader : c.learner) - 1]!;
      if (m.toLeader) {
        if (target.role.kind !== 'leading' && target.role.kind !== 'down' && this.now - c.opened < 10 * TICK) {
          // Learner.connectToLeader retries while the elected server has not started leading.
          this.inflight.push({ ...m, at: this.now + TICK, seq: this.seq++ });
          continue;
        }
        if (target.role.kind !== 'leading' || !('packet' in m.item)) {
          this.breakConn(c.id);
          continue;
        }
        target.role.core.step(c.id, m.item.packet);
        this.flushLeader(target);
      } else {
        if (target.role.kind !== 'following' || target.role.conn !== c.id) continue;
        if ('packet' in m.item) target.role.core.step(m.item.packet);
        else target.role.core.snapshot(m.item.snapshot);
        this.flushLearner(target);
      }
    }
  }

  private tickAll(): void {
    for (const s of this.servers) {
      if (s.role.kind === 'leading') {
        s.role.core.tick();
        this.flushLeader(s);
      } else if (s.role.kind === 'following') {
        s.role.core.tick();
        this.flushLearner(s);
      } else if (s.role.kind === 'down' && this.faultsOn && this.now >= s.role.until) {
        this.restart(s);
      }
    }
    if (this.o.election === 'vote-order') this.elect();
    for (const s of [...this.retryLooking]) {
      this.retryLooking.delete(s);
      if (s.role.kind === 'looking') this.toLooking(s);
    }
  }

  private faults(): void {
    if (this.rng.bool(this.o.crashRate)) {
      const s = this.rng.pick(this.servers);
      if (s.role.kind !== 'down') this.crash(s);
    }
    if (this.rng.bool(this.o.dropRate) && this.conns.size > 0) {
      this.breakConn(this.rng.pick([...this.conns.keys()]));
    }
    if (this.rng.bool(this.o.partitionRate)) {
      const a = 1 + this.rng.int(this.servers.length);
      const b = 1 + this.rng.int(this.servers.length);
      if (a !== b) {
        const key = pairKey(a, b);
        if (this.cut.has(key)) {
          this.cut.delete(key);
          this.electionLink(a, b, true);
        } else {
          this.electionLink(a, b, false);
          this.cut.add(key);
          for (const c of [...this.conns.values()]) if (pairKey(c.leader, c.learner) === key) this.breakConn(c.id);
        }
      }
    }
  }

  // ---- roles ----

  /**
   * FLE's outcome without its messages: looking servers follow a reachable active leader;
   * otherwise the best vote among a connected quorum of looking servers leads it.
   */
  private elect(): void {
    const looking = this.servers.filter((s) => s.role.kind === 'looking');
    if (looking.length === 0) return;
    const leaders = this.servers.filter((s) => s.role.kind === 'leading');
    for (const s of looking) {
      const reachable = leaders.filter((l) => !this.cut.has(pairKey(l.sid, s.sid)));
      if (reachable.length > 0) this.follow(s, reachable.sort((a, b) => compareVotes(b, a))[0]!);
    }
    const still = this.servers.filter((s) => s.role.kind === 'looking');
    const candidates = [...still].sort((a, b) => compareVotes(b, a));
    for (const c of candidates) {
      const group = still.filter((s) => s === c || !this.cut.has(pairKey(s.sid, c.sid)));
      if (!this.quorum.containsQuorum(group.map((s) => BigInt(s.sid)))) continue;
      if (group.some((s) => compareVotes(s, c) > 0)) continue;
      this.lead(c);
      for (const s of group) if (s !== c) this.follow(s, c);
      return;
    }
  }

  private lead(s: Server): void {
    const limit = this.o.historyLimit;
    const cutAt = Math.max(0, s.disk.log.length - limit);
    const snapshotZxid = cutAt > 0 ? s.disk.log[cutAt - 1]!.zxid : 0n;
    const core = new ZabLeader({
      myId: BigInt(s.sid),
      quorum: this.quorum,
      acceptedEpoch: s.disk.acceptedEpoch,
      currentEpoch: s.disk.currentEpoch,
      log: s.disk.log.slice(cutAt),
      snapshotZxid,
      config: Buffer.from('version=0'),
      initLimitTicks: 10,
      syncLimitTicks: 5,
    });
    s.role = { kind: 'leading', core };
    this.trace.push(`${this.now}: sid ${s.sid} leads`);
  }

  private follow(s: Server, leader: Server): void {
    const core = new ZabLearner<LogEntry[]>({
      myId: BigInt(s.sid),
      acceptedEpoch: s.disk.acceptedEpoch,
      currentEpoch: s.disk.currentEpoch,
      lastLoggedZxid: s.disk.log.at(-1)?.zxid ?? 0n,
      initLimitTicks: 10,
      syncLimitTicks: 5,
    });
    if (leader === s || this.cut.has(pairKey(leader.sid, s.sid)) || leader.role.kind === 'down') return this.toLookingLater(s);
    const conn: Conn = { id: this.nextConn++, opened: this.now, leader: leader.sid, learner: s.sid, lastAt: [0, 0] };
    this.conns.set(conn.id, conn);
    s.role = { kind: 'following', core, leader: leader.sid, conn: conn.id };
    core.start();
    this.flushLearner(s);
  }

  private propose(s: Server): Zxid | null {
    if (s.role.kind !== 'leading') return null;
    const n = ++this.txnCounter;
    const zxid = s.role.core.propose((z) => Buffer.from(`txn ${n} at ${zxidToHex(z)} by ${s.sid}`));
    this.flushLeader(s);
    return zxid;
  }

  private crash(s: Server): void {
    // Down first, so breaking its connections does not run its core again.
    s.role = { kind: 'down', until: this.now + 2 * TICK + this.rng.int(20 * TICK) };
    s.fle = null;
    for (const o of this.servers) if (o !== s) o.fle?.connectionDown(BigInt(s.sid));
    for (const c of [...this.conns.values()]) if (c.leader === s.sid || c.learner === s.sid) this.breakConn(c.id);
    s.applied = [];
    this.trace.push(`${this.now}: sid ${s.sid} crashes`);
  }

  private restart(s: Server): void {
    this.toLooking(s);
  }

  /**
   * Leaving a role, ZooKeeper fast-forwards its database over the whole log
   * (ZKDatabase.fastForwardDataBase), as a restart replays it: logged txns count as applied.
   */
  private toLooking(s: Server): void {
    s.applied = s.disk.log.map((e) => e.zxid);
    s.role = { kind: 'looking' };
    if (s.fle === null) return this.startElection(s);
    s.fle.lookForLeader(this.now, this.history(s));
    this.flushElection(s);
  }

  /** A leader that cannot be reached: look again at the next tick (Follower.connectToLeader gives up). */
  private toLookingLater(s: Server): void {
    s.role = { kind: 'looking' };
    this.retryLooking.add(s);
  }

  private readonly retryLooking = new Set<Server>();

  // ---- the election ----

  private history(s: Server): { lastLoggedZxid: Zxid; currentEpoch: bigint } {
    return { lastLoggedZxid: s.disk.log.at(-1)?.zxid ?? 0n, currentEpoch: s.disk.currentEpoch };
  }

  private startElection(s: Server): void {
    if (this.o.election !== 'fle') return;
    s.fle = new FastLeaderElection({ myId: BigInt(s.sid), members: this.members, config: Buffer.from('version=0'), ...FLE_TIMING }, this.now, this.history(s));
    for (const o of this.servers) {
      if (o === s || o.fle === null || this.cut.has(pairKey(o.sid, s.sid))) continue;
      s.fle.connectionUp(BigInt(o.sid));
      o.fle.connectionUp(BigInt(s.sid));
    }
    this.flushElection(s);
  }

  private electionLink(a: number, b: number, up: boolean): void {
    const [x, y] = [this.servers[a - 1]!, this.servers[b - 1]!];
    if (x.fle === null || y.fle === null) return;
    if (up) {
      x.fle.connectionUp(BigInt(b));
      y.fle.connectionUp(BigInt(a));
    } else {
      x.fle.connectionDown(BigInt(b));
      y.fle.connectionDown(BigInt(a));
    }
  }

  private flushElection(s: Server): void {
    while (s.fle !== null && s.fle.hasReady()) {
      const rd = s.fle.ready();
      s.fle.advance();
      for (const m of rd.messages) {
        const to = Number(m.to);
        if (this.cut.has(pairKey(s.sid, to))) continue;
        this.electionInflight.push({ at: this.now + 1 + this.rng.int(this.o.maxDelay), seq: this.seq++, from: s.sid, to, n: m.notification });
      }
      if (rd.decision && s.role.kind === 'looking') {
        if (rd.decision.state === ServerState.LEADING) this.lead(s);
        else this.follow(s, this.servers[Number(rd.decision.vote.leader) - 1]!);
      }
    }
  }

  private deliverElection(): void {
    if (this.electionInflight.length === 0) return;
    this.electionInflight.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (this.electionInflight.length > 0 && this.electionInflight[0]!.at <= this.now) {
      const m = this.electionInflight.shift()!;
      const target = this.servers[m.to - 1]!;
      if (target.fle === null || this.cut.has(pairKey(m.from, m.to))) continue;
      target.fle.step(this.now, BigInt(m.from), m.n);
      this.flushElection(target);
    }
  }

  private breakConn(id: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.conns.delete(id);
    const leader = this.servers[c.leader - 1]!;
    if (leader.role.kind === 'leading') {
      leader.role.core.disconnected(id);
      this.flushLeader(leader);
    }
    const learner = this.servers[c.learner - 1]!;
    if (learner.role.kind === 'following' && learner.role.conn === id) this.toLooking(learner);
  }

  private send(connId: number, toLeader: boolean, item: InFlight['item']): void {
    const c = this.conns.get(connId);
    if (!c) return;
    const dir = toLeader ? 0 : 1;
    const at = Math.max(this.now + 1 + this.rng.int(this.o.maxDelay), c.lastAt[dir]);
    c.lastAt[dir] = at;
    this.inflight.push({ at, seq: this.seq++, conn: connId, toLeader, item });
  }

  // ---- carrying out Readys ----

  /** Crash point inside a Ready: how many of its durable steps happen before the crash, or null. */
  private crashPoint(steps: number): number | null {
    if (!this.faultsOn || !this.rng.bool(this.o.midReadyCrashRate)) return null;
    return this.rng.int(steps + 1);
  }

  private flushLeader(s: Server): void {
    while (s.role.kind === 'leading' && s.role.core.hasReady()) {
      const core = s.role.core;
      const rd: LeaderReady = core.ready();
      const crashAt = this.crashPoint(rd.append.length + 2);
      const durable = crashAt ?? Infinity;
      this.appendDurably(s, rd.append.slice(0, Math.min(durable, rd.append.length)));
      if (rd.acceptedEpoch !== null && durable > rd.append.length) s.disk.acceptedEpoch = rd.acceptedEpoch;
      if (rd.currentEpoch !== null && durable > rd.append.length + 1) s.disk.currentEpoch = rd.currentEpoch;
      if (crashAt !== null) return this.crash(s);
      core.advance();
      for (const m of rd.messages) {
        if ('packet' in m) this.send(m.conn, false, { packet: m.packet });
        else if ('snapshotAt' in m) this.send(m.conn, false, { snapshot: s.disk.log.filter((e) => e.zxid <= m.snapshotAt) });
        else this.breakConn(m.conn);
      }
      for (const e of rd.commit) this.recordCommit(s, e);
      if (rd.steppedDown !== null) {
        this.trace.push(`${this.now}: sid ${s.sid} steps down: ${rd.steppedDown}`);
        for (const c of [...this.conns.values()]) if (c.leader === s.sid) this.breakConn(c.id);
        this.toLooking(s);
        return;
      }
      if (core.phase === 'broadcast' && !this.checkedLeaders.has(core)) this.checkNewLeader(s, core);
    }
  }

  private readonly checkedLeaders = new WeakSet<ZabLeader>();

  private flushLearner(s: Server): void {
    while (s.role.kind === 'following' && s.role.core.hasReady()) {
      const { core, conn } = s.role;
      const rd: LearnerReady<LogEntry[]> = core.ready();
      const crashAt = this.crashPoint(rd.append.length + 3);
      const durable = crashAt ?? Infinity;
      if (rd.snapshot && durable > 0) {
        s.disk.log = [];
        this.appendDurably(s, rd.snapshot.state);
        s.applied = rd.snapshot.state.map((e) => e.zxid);
      }
      if (rd.truncateTo !== null && durable > 0) {
        s.disk.log = s.disk.log.filter((e) => e.zxid <= rd.truncateTo!);
        s.applied = s.disk.log.map((e) => e.zxid);
      }
      this.appendDurably(s, rd.append.slice(0, Math.max(0, Math.min(durable - 1, rd.append.length))));
      if (rd.acceptedEpoch !== null && durable > rd.append.length + 1) s.disk.acceptedEpoch = rd.acceptedEpoch;
      if (rd.currentEpoch !== null && durable > rd.append.length + 2) s.disk.currentEpoch = rd.currentEpoch;
      if (crashAt !== null) return this.crash(s);
      core.advance();
      for (const p of rd.messages) this.send(conn, true, { packet: p });
      for (const e of rd.commit) this.applyOnLearner(s, core, e);
      if (rd.closed !== null) {
        this.breakConn(conn);
        this.toLooking(s);
        return;
      }
      if (core.phase === 'broadcast' && core.syncMode) {
        const key = `${s.sid}:${conn}`;
        if (!this.seenSync.has(key)) {
          this.seenSync.add(key);
          s.fle?.updateElectionVote(core.currentEpoch);
          this.syncModes.set(core.syncMode, (this.syncModes.get(core.syncMode) ?? 0) + 1);
        }
      }
    }
  }

  private readonly seenSync = new Set<string>();

  // ---- checkers ----

  private appendDurably(s: Server, entries: readonly LogEntry[]): void {
    for (const e of entries) {
      const text = e.data.toString();
      const known = this.zxidData.get(e.zxid);
      if (known !== undefined && known !== text) throw this.violation(`two txns at ${zxidToHex(e.zxid)}: "${known}" and "${text}" (sid ${s.sid})`);
      this.zxidData.set(e.zxid, text);
      const last = s.disk.log.at(-1)?.zxid ?? -1n;
      if (e.zxid <= last) throw this.violation(`sid ${s.sid} logs ${zxidToHex(e.zxid)} after ${zxidToHex(last)}`);
      s.disk.log.push(e);
    }
  }

  private recordCommit(s: Server, e: LogEntry): void {
    if (e.zxid <= this.maxCommitted) throw this.violation(`sid ${s.sid} commits ${zxidToHex(e.zxid)} after ${zxidToHex(this.maxCommitted)}`);
    this.maxCommitted = e.zxid;
    this.committed.set(e.zxid, e.data.toString());
    s.applied.push(e.zxid);
  }

  /** A leader that starts broadcasting holds every committed txn; its history is committed now. */
  private checkNewLeader(s: Server, core: ZabLeader): void {
    this.checkedLeaders.add(core);
    const logged = new Map(s.disk.log.map((e) => [e.zxid, e.data.toString()]));
    for (const [zxid, text] of this.committed) {
      if (logged.get(zxid) !== text) throw this.violation(`new leader sid ${s.sid} (epoch ${core.epoch}) lacks committed ${zxidToHex(zxid)}`);
    }
    for (const e of s.disk.log) {
      this.committed.set(e.zxid, e.data.toString());
      if (e.zxid > this.maxCommitted) this.maxCommitted = e.zxid;
    }
    this.trace.push(`${this.now}: sid ${s.sid} broadcasts in epoch ${core.epoch}`);
    s.fle?.updateElectionVote(core.epoch!);
  }

  private applyOnLearner(s: Server, core: ZabLearner<LogEntry[]>, e: LogEntry): void {
    const last = s.applied.at(-1) ?? -1n;
    if (e.zxid <= last) throw this.violation(`sid ${s.sid} applies ${zxidToHex(e.zxid)} after ${zxidToHex(last)}`);
    if (!s.disk.log.some((x) => x.zxid === e.zxid)) throw this.violation(`sid ${s.sid} applies ${zxidToHex(e.zxid)} before logging it`);
    if (core.phase === 'broadcast' && this.committed.get(e.zxid) !== e.data.toString()) {
      throw this.violation(`sid ${s.sid} applies ${zxidToHex(e.zxid)}, which no leader committed`);
    }
    s.applied.push(e.zxid);
  }

  private checkConverged(leader: Server): void {
    const reference = leader.disk.log.map((e) => `${e.zxid}:${e.data.toString()}`).join('\n');
    for (const s of this.servers) {
      const mine = s.disk.log.map((e) => `${e.zxid}:${e.data.toString()}`).join('\n');
      if (mine !== reference) throw this.violation(`sid ${s.sid}'s log differs from leader ${leader.sid}'s after healing`);
    }
    const logged = new Set(leader.disk.log.map((e) => e.zxid));
    for (const zxid of this.committed.keys()) {
      if (!logged.has(zxid)) throw this.violation(`committed ${zxidToHex(zxid)} lost after healing`);
    }
  }

  private violation(message: string): SafetyViolation {
    return new SafetyViolation(`seed ${this.o.seed}: ${message} at time ${this.now}\n${this.describe()}\n${this.trace.slice(-15).join('\n')}`);
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** FLE's totalOrderPredicate over (currentEpoch, last logged zxid, sid). */
function compareVotes(a: Server, b: Server): number {
  const ae = a.disk.currentEpoch;
  const be = b.disk.currentEpoch;
  if (ae !== be) return ae > be ? 1 : -1;
  const az = a.disk.log.at(-1)?.zxid ?? 0n;
  const bz = b.disk.log.at(-1)?.zxid ?? 0n;
  if (az !== bz) return az > bz ? 1 : -1;
  return a.sid - b.sid;
}
