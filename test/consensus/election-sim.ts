/**
 * A seeded, single-threaded world for FastLeaderElection cores: a fake clock, per-message
 * delays, links that can be cut, servers that start late. It mimics what the election driver
 * does with QuorumCnxManager's rules: a message to an unreachable peer waits in a one-slot
 * queue (newest wins) and goes out when the link comes up, otherwise the last message sent is
 * repeated then.
 */
import { FastLeaderElection, type Decision, type LocalHistory } from '../../src/consensus/election.js';
import { quorumConfigText, type QuorumMember } from '../../src/consensus/members.js';
import { type Notification } from '../../src/consensus/wire.js';
import { Prng } from '../../src/lib/prng.js';

export interface SimServer {
  sid: bigint;
  history: LocalHistory;
  type?: 'participant' | 'observer';
  /** When the server starts its first round (ms). */
  startAt?: number;
}

interface InFlight {
  at: number;
  seq: number;
  from: bigint;
  to: bigint;
  n: Notification;
}

export interface TraceEntry {
  at: number;
  sid: bigint;
  decision: Decision;
}

export class ElectionSim {
  now = 0;
  readonly cores = new Map<bigint, FastLeaderElection>();
  readonly decisions = new Map<bigint, Decision>();
  readonly trace: TraceEntry[] = [];
  messagesDelivered = 0;
  private readonly prng: Prng;
  private readonly members: QuorumMember[];
  private readonly config: Buffer;
  private readonly cut = new Set<string>();
  private readonly pending = new Map<string, Notification>();
  private readonly lastSent = new Map<string, Notification>();
  private readonly linksUp = new Set<string>();
  private inflight: InFlight[] = [];
  private seq = 0;

  constructor(
    readonly servers: readonly SimServer[],
    seed: number,
    /** Delivery delay range in ms, drawn per message. */
    readonly delayMs: readonly [number, number] = [1, 20],
  ) {
    this.prng = new Prng(seed);
    this.members = servers.map((s) => ({ sid: s.sid, type: s.type ?? 'participant' }));
    this.config = Buffer.from(
      quorumConfigText(
        servers.map((s, i) => ({ ...this.members[i]!, host: '127.0.0.1', quorumPort: 2000 + i, electionPort: 3000 + i })),
        0n,
      ),
    );
  }

  /** Cuts (or heals) the links between every server of `a` and every server of `b`. */
  partition(a: readonly bigint[], b: readonly bigint[], isCut = true): void {
    for (const x of a) {
      for (const y of b) {
        for (const key of [`${x}>${y}`, `${y}>${x}`]) {
          if (isCut) this.cut.add(key);
          else this.cut.delete(key);
        }
      }
    }
    this.refreshConnections();
    this.flushPending();
  }

  /** Runs until `done` holds or `untilMs` passes; returns whether `done` held. */
  run(untilMs: number, done: () => boolean = () => false): boolean {
    this.startDue();
    for (let steps = 0; steps < 1_000_000; steps++) {
      this.collect();
      if (done()) return true;
      const next = this.nextEventTime();
      if (next === null || next > untilMs) {
        this.now = Math.max(this.now, untilMs);
        return done();
      }
      this.now = Math.max(this.now, next);
      this.startDue();
      this.deliverDue();
      for (const core of this.cores.values()) core.tick(this.now);
    }
    throw new Error('simulation did not settle in a million steps');
  }

  /** Starts a new round on `sid` (its leader or followers were lost). */
  restart(sid: bigint, history?: LocalHistory): void {
    const core = this.cores.get(sid)!;
    this.decisions.delete(sid);
    core.lookForLeader(this.now, history ?? this.servers.find((s) => s.sid === sid)!.history);
  }

  leaders(): Set<bigint> {
    return new Set([...this.decisions.values()].map((d) => d.vote.leader));
  }

  private reachable(from: bigint, to: bigint): boolean {
    return this.cores.has(from) && this.cores.has(to) && !this.cut.has(`${from}>${to}`);
  }

  private startDue(): void {
    for (const s of this.servers) {
      if (this.cores.has(s.sid) || (s.startAt ?? 0) > this.now) continue;
      this.cores.set(s.sid, new FastLeaderElection({ myId: s.sid, members: this.members, config: this.config }, this.now, s.history));
      this.refreshConnections();
      this.flushPending();
    }
  }

  private refreshConnections(): void {
    for (const [sid, core] of this.cores) {
      for (const peer of this.servers) {
        if (peer.sid === sid) continue;
        if (this.reachable(sid, peer.sid) && this.reachable(peer.sid, sid)) core.connectionUp(peer.sid);
        else core.connectionDown(peer.sid);
      }
    }
  }

  /** On a new connection QuorumCnxManager sends what waits, else repeats the last message. */
  private flushPending(): void {
    for (const from of this.cores.keys()) {
      for (const { sid: to } of this.servers) {
        if (from === to) continue;
        const key = `${from}>${to}`;
        if (!this.reachable(from, to)) {
          this.linksUp.delete(key);
          continue;
        }
        if (this.linksUp.has(key)) continue;
        this.linksUp.add(key);
        const n = this.pending.get(key) ?? this.lastSent.get(key);
        this.pending.delete(key);
        if (n) this.schedule(from, to, n);
      }
    }
  }

  private collect(): void {
    for (const [sid, core] of this.cores) {
      if (!core.hasReady()) continue;
      const ready = core.ready();
      for (const m of ready.messages) {
        const key = `${sid}>${m.to}`;
        if (this.reachable(sid, m.to)) this.schedule(sid, m.to, m.notification);
        else this.pending.set(key, m.notification);
      }
      if (ready.decision) {
        this.decisions.set(sid, ready.decision);
        this.trace.push({ at: this.now, sid, decision: ready.decision });
      }
      core.advance();
    }
  }

  private schedule(from: bigint, to: bigint, n: Notification): void {
    this.lastSent.set(`${from}>${to}`, n);
    const [lo, hi] = this.delayMs;
    this.inflight.push({ at: this.now + lo + this.prng.int(hi - lo + 1), seq: this.seq++, from, to, n });
  }

  private nextEventTime(): number | null {
    let next: number | null = null;
    const consider = (t: number | null): void => {
      if (t !== null && (next === null || t < next)) next = t;
    };
    for (const m of this.inflight) consider(m.at);
    for (const core of this.cores.values()) consider(core.nextDeadline());
    for (const s of this.servers) if (!this.cores.has(s.sid)) consider(s.startAt ?? 0);
    return next;
  }

  private deliverDue(): void {
    const due = this.inflight.filter((m) => m.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.inflight = this.inflight.filter((m) => m.at > this.now);
    for (const m of due) {
      // A message on a link cut while it was in flight is lost with the connection.
      if (!this.reachable(m.from, m.to)) continue;
      this.messagesDelivered++;
      this.cores.get(m.to)!.step(this.now, m.from, m.n);
      this.collect();
    }
  }
}
