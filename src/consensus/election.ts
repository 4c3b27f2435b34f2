/**
 * ZooKeeper 3.8's Fast Leader Election (FastLeaderElection.java) as a pure state machine.
 *
 * Inputs: notifications received (`step`), time (`tick`), connection events, and `lookForLeader`
 * to begin a round. Outputs, collected by `ready()` and acknowledged by `advance()`: the
 * notifications to send, whether to reconnect to every peer, and the decision of a round.
 *
 * ZooKeeper runs the election in three threads (a receiver that answers some notifications at
 * once, a sender, and lookForLeader's loop over a queue); here all three are one sequence of
 * calls, in the order the threads would see them when nothing races. Time comes only as the
 * `now` arguments (milliseconds on any monotonic clock).
 */
import { assert } from '../lib/assert.js';
import { MajorityQuorum, type QuorumMember } from './members.js';
import { isServerState, NOTIFICATION_VERSION, ServerState, type Notification } from './wire.js';
import { LONG_MIN } from './zxid.js';

/** FastLeaderElection.finalizeWait: silence needed after a quorum agrees before deciding. */
export const FINALIZE_WAIT_MS = 200;
/** zookeeper.fastleader.minNotificationInterval's default (= finalizeWait). */
export const MIN_NOTIFICATION_INTERVAL_MS = 200;
/** zookeeper.fastleader.maxNotificationInterval's default. */
export const MAX_NOTIFICATION_INTERVAL_MS = 60_000;
/** Self-addressed notifications handled per call; more means a loop that cannot end. */
const MAX_LOOPBACK_PER_CALL = 1000;

export interface ElectionOptions {
  myId: bigint;
  members: readonly QuorumMember[];
  /** The QuorumVerifier text sent in every notification (see quorumConfigText). */
  config: Buffer;
  finalizeWaitMs?: number;
  /**
   * Decide without the finalize wait once every other voter has either voted for the proposal
   * in this round or lost its connection to this server (see noVoteLeftToWaitFor).
   * Default false: wait, as ZooKeeper 3.8 always does.
   */
  finalizeEarly?: boolean;
  minNotificationIntervalMs?: number;
  maxNotificationIntervalMs?: number;
}

/** What this server brings to a round, read from its disk by the driver. */
export interface LocalHistory {
  lastLoggedZxid: bigint;
  currentEpoch: bigint;
}

export interface Vote {
  leader: bigint;
  zxid: bigint;
  electionEpoch: bigint;
  peerEpoch: bigint;
}

/** A vote as kept in recvset/outofelection: with the sender's state and message version. */
export interface TrackedVote extends Vote {
  state: ServerState;
  version: number;
}

export interface Outgoing {
  to: bigint;
  notification: Notification;
}

export interface Decision {
  /** LEADING, FOLLOWING or OBSERVING. */
  state: ServerState;
  vote: Vote;
}

export interface ElectionReady {
  messages: Outgoing[];
  /** Nothing was delivered for a whole notification interval: reconnect to every peer. */
  connectAll: boolean;
  /** Set by the call that ended a round. */
  decision: Decision | null;
}

export class FastLeaderElection {
  readonly myId: bigint;
  private readonly quorum: MajorityQuorum;
  private readonly config: Buffer;
  private readonly isParticipant: boolean;
  private readonly finalizeWaitMs: number;
  private readonly finalizeEarly: boolean;
  private readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;

  private peerState: ServerState = ServerState.LOOKING;
  /** The round number (logicalclock); only grows. */
  private logicalClock = 0n;
  private proposal: Vote;
  /** The vote this server answers with outside a round (QuorumPeer.currentVote). */
  private currentVoteValue: Vote;
  private history: LocalHistory;
  /** LOOKING votes of this round, and FOLLOWING/LEADING ones carrying this round's epoch. */
  private recvset = new Map<bigint, TrackedVote>();
  /** FOLLOWING/LEADING votes of any round: how a late server finds an established leader. */
  private outOfElection = new Map<bigint, TrackedVote>();
  private notificationIntervalMs: number;
  /** When the loop's poll for a notification times out; null outside a round. */
  private notificationDeadline: number | null = null;
  /** While a quorum agrees: when the finalize wait ends without a better vote. */
  private finalizeDeadline: number | null = null;
  private readonly connected = new Set<bigint>();
  /** Peers whose connection went down and has not come back (a crashed leader, say). */
  private readonly lost = new Set<bigint>();
  private readonly loopback: Notification[] = [];
  private handling = false;

  private outbox: Outgoing[] = [];
  private connectAllWanted = false;
  private decision: Decision | null = null;

  constructor(options: ElectionOptions, now: number, history: LocalHistory) {
    this.myId = options.myId;
    this.quorum = new MajorityQuorum(options.members);
    this.config = options.config;
    this.isParticipant = this.quorum.isVoter(options.myId);
    this.finalizeWaitMs = options.finalizeWaitMs ?? FINALIZE_WAIT_MS;
    this.finalizeEarly = options.finalizeEarly ?? false;
    this.minIntervalMs = options.minNotificationIntervalMs ?? MIN_NOTIFICATION_INTERVAL_MS;
    this.maxIntervalMs = options.maxNotificationIntervalMs ?? MAX_NOTIFICATION_INTERVAL_MS;
    this.notificationIntervalMs = this.minIntervalMs;
    this.history = history;
    this.proposal = this.initialVote();
    // QuorumPeer.startLeaderElection: the current vote starts as our own, with no round.
    this.currentVoteValue = { ...this.proposal, electionEpoch: -1n };
    this.lookForLeader(now, history);
  }

  get state(): ServerState {
    return this.peerState;
  }

  get round(): bigint {
    return this.logicalClock;
  }

  get currentVote(): Vote {
    return { ...this.currentVoteValue };
  }

  get proposedVote(): Vote {
    return { ...this.proposal, electionEpoch: this.logicalClock };
  }

  /** Begins a round: the server has no leader (at start, or after leading/following failed). */
  lookForLeader(now: number, history: LocalHistory): void {
    this.history = history;
    this.peerState = ServerState.LOOKING;
    this.recvset = new Map();
    this.outOfElection = new Map();
    this.notificationIntervalMs = this.minIntervalMs;
    this.finalizeDeadline = null;
    this.logicalClock += 1n;
    this.proposal = this.initialVote();
    this.sendNotifications();
    this.notificationDeadline = now + this.notificationIntervalMs;
    this.drainLoopback(now);
  }

  /**
   * QuorumPeer.updateElectionVote: once discovery settles the new epoch, the vote this server
   * answers looking peers with carries it (ZOOKEEPER-1732), so a late server's vote tracker
   * matches the leader's and followers' answers.
   */
  updateElectionVote(newEpoch: bigint): void {
    this.currentVoteValue = { ...this.currentVoteValue, peerEpoch: newEpoch };
  }

  /** A notification received from `from` (already decoded; see decodeNotification). */
  step(now: number, from: bigint, n: Notification): void {
    assert(!this.handling, 'step re-entered');
    this.receive(now, from, n);
    this.drainLoopback(now);
  }

  tick(now: number): void {
    if (this.peerState !== ServerState.LOOKING) return;
    if (this.finalizeDeadline !== null) {
      if (now >= this.finalizeDeadline) this.decide(this.proposal.leader, this.proposedVote);
      return;
    }
    if (this.notificationDeadline === null || now < this.notificationDeadline) return;
    // Nothing arrived for a whole interval: say our vote again if the transport delivers at
    // all, else ask for connections; then back off (QuorumCnxManager.haveDelivered).
    if (this.connected.size > 0) this.sendNotifications();
    else this.connectAllWanted = true;
    this.notificationIntervalMs = Math.min(this.notificationIntervalMs * 2, this.maxIntervalMs);
    this.notificationDeadline = now + this.notificationIntervalMs;
    this.drainLoopback(now);
  }

  /** The next time `tick` has something to do, or null when only a message can change things. */
  nextDeadline(): number | null {
    if (this.peerState !== ServerState.LOOKING) return null;
    return this.finalizeDeadline ?? this.notificationDeadline;
  }

  connectionUp(sid: bigint): void {
    this.connected.add(sid);
    this.lost.delete(sid);
  }

  /**
   * The connection to `sid` closed. `peerGone` is false when this server closed it itself to
   * replace it (the larger-sid rule): the peer is still there.
   */
  connectionDown(sid: bigint, peerGone = true): void {
    this.connected.delete(sid);
    if (!peerGone) return;
    this.lost.add(sid);
    // The vote we were waiting on may have been this peer's: it will not come now.
    if (this.peerState === ServerState.LOOKING && this.finalizeDeadline !== null && this.noVoteLeftToWaitFor()) {
      this.decide(this.proposal.leader, this.proposedVote);
    }
  }

  ready(): ElectionReady {
    return { messages: this.outbox, connectAll: this.connectAllWanted, decision: this.decision };
  }

  hasReady(): boolean {
    return this.outbox.length > 0 || this.connectAllWanted || this.decision !== null;
  }

  advance(): void {
    this.outbox = [];
    this.connectAllWanted = false;
    this.decision = null;
  }

  // -------------------------------------------------------------------------------------------
  // The receiver thread (WorkerReceiver): answers at once, queues the rest for the round.

  private receive(now: number, from: bigint, n: Notification): void {
    if (!this.quorum.isVoter(from)) {
      // An observer or non-voting server gets our current vote straight back.
      const v = this.currentVoteValue;
      this.send(from, { leader: v.leader, zxid: v.zxid, electionEpoch: this.logicalClock, peerEpoch: v.peerEpoch });
      return;
    }
    if (!isServerState(n.state)) return;
    if (this.peerState === ServerState.LOOKING) {
      if (n.state === ServerState.LOOKING && n.electionEpoch < this.logicalClock) {
        // A peer in an older round: tell it about ours so it catches up.
        this.send(from, this.proposedVote);
      }
      this.handle(now, from, n);
    } else if (n.state === ServerState.LOOKING) {
      // Decided already: tell a looking peer who leads, so it can join.
      this.send(from, this.currentVoteValue);
    }
  }

  // -------------------------------------------------------------------------------------------
  // lookForLeader's loop: one queued notification.

  private handle(now: number, from: bigint, n: Notification): void {
    if (this.finalizeDeadline !== null) {
      if (!this.betterThanProposal(n)) {
        // Not better: dropped, and the finalize wait starts over (each poll waits afresh),
        // unless it was the last reachable voter's agreeing vote.
        if (this.agreesInRound(from, n)) {
          this.recvset.set(from, { ...voteOf(n), electionEpoch: n.electionEpoch, state: ServerState.LOOKING, version: 0 });
          if (this.noVoteLeftToWaitFor()) return this.decide(this.proposal.leader, this.proposedVote);
        } else {
          this.answerWorseVote(from, n);
        }
        this.finalizeDeadline = now + this.finalizeWaitMs;
        return;
      }
      this.finalizeDeadline = null;
    }
    this.notificationDeadline = now + this.notificationIntervalMs;
    if (!this.quorum.isVoter(from) || !this.quorum.isVoter(n.leader)) return;
    switch (n.state) {
      case ServerState.LOOKING:
        this.handleLooking(now, from, n);
        return;
      case ServerState.FOLLOWING:
      case ServerState.LEADING:
        this.handleEstablished(from, n);
        return;
      default:
        // OBSERVING: observers do not take part.
        return;
    }
  }

  private handleLooking(now: number, from: bigint, n: Notification): void {
    if (this.history.lastLoggedZxid === -1n || n.zxid === -1n) return;
    const own = this.initialVote();
    if (n.electionEpoch > this.logicalClock) {
      // A later round: join it, starting again from the better of its vote and our own.
      this.logicalClock = n.electionEpoch;
      this.recvset = new Map();
      this.proposal = this.precedes(n.leader, n.zxid, n.peerEpoch, own) ? voteOf(n) : own;
      this.sendNotifications();
    } else if (n.electionEpoch < this.logicalClock) {
      return;
    } else if (this.betterThanProposal(n)) {
      this.proposal = voteOf(n);
      this.sendNotifications();
    } else {
      this.answerWorseVote(from, n);
    }
    this.recvset.set(from, { ...voteOf(n), electionEpoch: n.electionEpoch, state: ServerState.LOOKING, version: 0 });
    const target: TrackedVote = { ...this.proposedVote, state: ServerState.LOOKING, version: 0 };
    if (!this.hasQuorumFor(this.recvset, target)) return;
    if (this.noVoteLeftToWaitFor()) this.decide(this.proposal.leader, this.proposedVote);
    else this.finalizeDeadline = now + this.finalizeWaitMs;
  }

  /**
   * finalizeWait gives a better vote time to arrive once a quorum agrees (ZooKeeper 3.8 always
   * waits it out; 3.4 stopped early once it had heard from every voter). After a leader crashes
   * the survivors know it is gone (its connection dropped), so once every other voter has voted
   * for our proposal in this round, or is such a lost peer, no vote is left to wait for. A voter
   * never connected yet (an ensemble starting) is waited for as ZooKeeper waits. A lost peer that
   * comes back with a better history is handled as after any decision (a learner more recent
   * than the new leader makes it step down in discovery). Deciding early changes only when, not
   * what is safe: the decision still needs a quorum agreeing on the vote.
   */
  private noVoteLeftToWaitFor(): boolean {
    if (!this.finalizeEarly) return false;
    const target: TrackedVote = { ...this.proposedVote, state: ServerState.LOOKING, version: 0 };
    if (!this.hasQuorumFor(this.recvset, target)) return false;
    for (const sid of this.quorum.voters) {
      if (sid !== this.myId && this.lost.has(sid)) continue;
      const vote = this.recvset.get(sid);
      if (vote === undefined || !votesEqual(target, vote)) return false;
    }
    return true;
  }

  /**
   * With finalizeEarly: a voter looking in this round for a candidate worse than ours has not
   * seen our vote (it came while that voter was still following, which drops it, as ZooKeeper's
   * receiver does), so it is sent again to that voter at once; otherwise both would wait a whole
   * notification interval (200 ms) before either repeated itself. An extra notification is one
   * a lost packet or a reconnect would cause too; the voter switches and its next vote agrees.
   */
  private answerWorseVote(from: bigint, n: Notification): void {
    if (!this.finalizeEarly || from === this.myId || n.state !== ServerState.LOOKING || n.electionEpoch !== this.logicalClock) return;
    if (n.leader === this.proposal.leader && n.zxid === this.proposal.zxid && n.peerEpoch === this.proposal.peerEpoch) return;
    this.send(from, this.proposedVote);
  }

  /** A LOOKING voter's notification in this round for the vote this server proposes. */
  private agreesInRound(from: bigint, n: Notification): boolean {
    return (
      this.finalizeEarly && n.state === ServerState.LOOKING && n.electionEpoch === this.logicalClock && this.quorum.isVoter(from) &&
      n.leader === this.proposal.leader && n.zxid === this.proposal.zxid && n.peerEpoch === this.proposal.peerEpoch
    );
  }

  /** receivedFollowingNotification (LEADING differs only by the 2-node oracle, not supported). */
  private handleEstablished(from: bigint, n: Notification): void {
    const state = n.state as ServerState;
    const target: TrackedVote = { ...voteOf(n), electionEpoch: n.electionEpoch, state, version: n.version };
    if (n.electionEpoch === this.logicalClock) {
      this.recvset.set(from, { ...target, version: 0 });
      if (this.hasQuorumFor(this.recvset, target) && this.leaderConfirmed(this.recvset, n.leader, n.electionEpoch)) {
        this.decide(n.leader, { ...voteOf(n), electionEpoch: n.electionEpoch });
        return;
      }
    }
    // Before joining an established ensemble, check that a quorum follows the same leader
    // (ZOOKEEPER-1732: this map holds this round's votes too).
    this.outOfElection.set(from, target);
    if (this.hasQuorumFor(this.outOfElection, target) && this.leaderConfirmed(this.outOfElection, n.leader, n.electionEpoch)) {
      this.logicalClock = n.electionEpoch;
      this.decide(n.leader, { ...voteOf(n), electionEpoch: n.electionEpoch });
    }
  }

  /** checkLeader: a leader other than us must itself say it is LEADING; we must be in its round. */
  private leaderConfirmed(votes: Map<bigint, TrackedVote>, leader: bigint, electionEpoch: bigint): boolean {
    if (leader !== this.myId) return votes.get(leader)?.state === ServerState.LEADING;
    return this.logicalClock === electionEpoch;
  }

  private hasQuorumFor(votes: Map<bigint, TrackedVote>, target: TrackedVote): boolean {
    const acks: bigint[] = [];
    for (const [sid, vote] of votes) if (votesEqual(target, vote)) acks.push(sid);
    return this.quorum.containsQuorum(acks);
  }

  private decide(leader: bigint, vote: Vote): void {
    this.peerState = leader === this.myId ? ServerState.LEADING : this.isParticipant ? ServerState.FOLLOWING : ServerState.OBSERVING;
    this.currentVoteValue = { ...vote };
    this.decision = { state: this.peerState, vote: { ...vote } };
    this.finalizeDeadline = null;
    this.notificationDeadline = null;
    // leaveInstance: what was queued for this round is dropped.
    this.loopback.length = 0;
  }

  // -------------------------------------------------------------------------------------------
  // Votes

  /** getInitId / getInitLastLoggedZxid / getPeerEpoch: observers vote with Long.MIN_VALUE. */
  private initialVote(): Vote {
    return {
      leader: this.isParticipant ? this.myId : LONG_MIN,
      zxid: this.isParticipant ? this.history.lastLoggedZxid : LONG_MIN,
      electionEpoch: this.logicalClock,
      peerEpoch: this.isParticipant ? this.history.currentEpoch : LONG_MIN,
    };
  }

  private betterThanProposal(n: Notification): boolean {
    return this.precedes(n.leader, n.zxid, n.peerEpoch, this.proposal);
  }

  /** totalOrderPredicate: higher peerEpoch, then higher zxid, then higher sid; weight 0 never. */
  private precedes(leader: bigint, zxid: bigint, peerEpoch: bigint, current: Vote): boolean {
    if (this.quorum.weight(leader) === 0) return false;
    if (peerEpoch !== current.peerEpoch) return peerEpoch > current.peerEpoch;
    if (zxid !== current.zxid) return zxid > current.zxid;
    return leader > current.leader;
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private sendNotifications(): void {
    for (const sid of this.quorum.voters) this.send(sid, this.proposedVote);
  }

  private send(to: bigint, vote: Vote): void {
    const notification: Notification = {
      state: this.peerState,
      leader: vote.leader,
      zxid: vote.zxid,
      electionEpoch: vote.electionEpoch,
      peerEpoch: vote.peerEpoch,
      version: NOTIFICATION_VERSION,
      config: this.config,
    };
    // QuorumCnxManager.toSend hands a message to ourselves straight to our receive queue.
    if (to === this.myId) this.loopback.push(notification);
    else this.outbox.push({ to, notification });
  }

  private drainLoopback(now: number): void {
    this.handling = true;
    try {
      for (let i = 0; this.loopback.length > 0; i++) {
        assert(i < MAX_LOOPBACK_PER_CALL, 'self-addressed notifications did not settle');
        this.receive(now, this.myId, this.loopback.shift()!);
      }
    } finally {
      this.handling = false;
    }
  }
}

function voteOf(n: Notification): Vote {
  return { leader: n.leader, zxid: n.zxid, electionEpoch: n.electionEpoch, peerEpoch: n.peerEpoch };
}

/**
 * Vote.equals: with a LOOKING side, every field but the state; between two established votes,
 * only the leader and its epoch (ZOOKEEPER-1805), and only the leader when exactly one side
 * comes from a pre-ZOOKEEPER-1732 server (version 0).
 */
export function votesEqual(a: TrackedVote, b: TrackedVote): boolean {
  if (a.state === ServerState.LOOKING || b.state === ServerState.LOOKING) {
    return a.leader === b.leader && a.zxid === b.zxid && a.electionEpoch === b.electionEpoch && a.peerEpoch === b.peerEpoch;
  }
  if (a.version > 0 !== b.version > 0) return a.leader === b.leader;
  return a.leader === b.leader && a.peerEpoch === b.peerEpoch;
}
