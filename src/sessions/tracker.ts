/**
 * Session table with tick-bucketed expiry, as ZooKeeper's ExpiryQueue: a session expires at its
 * timeout rounded up to the next tick boundary, so expiry work happens once per tick, in batches.
 * Time comes in as `nowMs`; the tracker never reads a clock.
 */
import { assert } from '../lib/assert.js';
import { CONTAINER_OWNER } from '../tree/znode.js';

export interface Session {
  readonly id: bigint;
  timeoutMs: number;
  expiresAtMs: number;
  /** Set once a closeSession txn is prepared: no further requests are accepted. */
  closing: boolean;
}

/** Random bytes from the server's edge (crypto randomness there, a seeded generator in simulations). */
export type RandomBytes = (byteCount: number) => Uint8Array;

/** Attempts before giving up on a fresh id; failing 64 draws of 56 bits means the source is broken. */
const MAX_ID_ATTEMPTS = 64;

export class SessionTracker {
  private readonly sessions = new Map<bigint, Session>();
  private readonly buckets = new Map<number, Set<bigint>>();
  /** Ids handed out whose session is not yet added (its createSession txn is in flight). */
  private readonly allocated = new Set<bigint>();
  private readonly serverBits: bigint;

  constructor(
    private readonly tickTimeMs: number,
    serverId: number,
    private readonly randomBytes: RandomBytes,
  ) {
    assert(tickTimeMs > 0, 'tickTime must be positive');
    this.serverBits = BigInt(serverId & 0xff) << 56n;
  }

  /**
   * A fresh id: the server id in the top byte, as ZooKeeper lays ids out, and 56 random bits
   * below, so ids cannot be guessed from one another. Never a live, restored or in-flight
   * session's id, nor one `isReserved` refuses. Release it if the session is never added.
   */
  allocateId(isReserved: (id: bigint) => boolean = () => false): bigint {
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = BigInt.asIntN(64, this.serverBits | this.randomLow56());
      // Long.MIN_VALUE is the container marker and 0 means "new session".
      if (id === 0n || id === CONTAINER_OWNER) continue;
      if (this.sessions.has(id) || this.allocated.has(id) || isReserved(id)) continue;
      this.allocated.add(id);
      return id;
    }
    throw new Error(`no free session id in ${MAX_ID_ATTEMPTS} random draws: the random source is broken`);
  }

  /** Forgets an allocated id whose session was never created. */
  release(id: bigint): void {
    this.allocated.delete(id);
  }

  private randomLow56(): bigint {
    const bytes = this.randomBytes(7);
    assert(bytes.length === 7, 'random source must give the bytes asked for');
    let low = 0n;
    for (const b of bytes) low = (low << 8n) | BigInt(b);
    return low;
  }

  private roundToTick(ms: number): number {
    return (Math.floor(ms / this.tickTimeMs) + 1) * this.tickTimeMs;
  }

  add(id: bigint, timeoutMs: number, nowMs: number): Session {
    this.allocated.delete(id);
    const existing = this.sessions.get(id);
    if (existing) {
      existing.timeoutMs = timeoutMs;
      this.touch(id, nowMs);
      return existing;
    }
    const session: Session = { id, timeoutMs, expiresAtMs: 0, closing: false };
    this.sessions.set(id, session);
    this.touch(id, nowMs);
    return session;
  }

  get(id: bigint): Session | undefined {
    return this.sessions.get(id);
  }

  /** Pushes the expiry out by the session's timeout; false if the session is unknown or closing. */
  touch(id: bigint, nowMs: number): boolean {
    const s = this.sessions.get(id);
    return s !== undefined && this.touchSession(s, nowMs);
  }

  /**
   * `touch` for a session object the caller kept from `get` (a connection's own), without the
   * lookup by id; false if it is closing or no longer in the table (`remove` marks it closing).
   */
  touchSession(s: Session, nowMs: number): boolean {
    if (s.closing) return false;
    const expiresAt = this.roundToTick(nowMs + s.timeoutMs);
    if (expiresAt === s.expiresAtMs) return true;
    this.buckets.get(s.expiresAtMs)?.delete(s.id);
    s.expiresAtMs = expiresAt;
    let bucket = this.buckets.get(expiresAt);
    if (!bucket) this.buckets.set(expiresAt, (bucket = new Set()));
    bucket.add(s.id);
    return true;
  }

  setClosing(id: bigint): void {
    const s = this.sessions.get(id);
    if (s) s.closing = true;
  }

  /** Undoes setClosing when the close could not be logged. */
  reopen(id: bigint, nowMs: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.closing = false;
    this.touch(id, nowMs);
  }

  remove(id: bigint): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.buckets.get(s.expiresAtMs)?.delete(id);
    this.sessions.delete(id);
    // Whoever kept the object (see touchSession) must not revive it.
    s.closing = true;
  }

  /** Sessions whose expiry time has passed; they are marked closing and must be closed by a txn. */
  expire(nowMs: number): bigint[] {
    const expired: bigint[] = [];
    for (const [at, ids] of this.buckets) {
      if (at > nowMs) continue;
      for (const id of ids) {
        const s = this.sessions.get(id);
        if (s && !s.closing) {
          s.closing = true;
          expired.push(id);
        }
      }
      this.buckets.delete(at);
    }
    return expired;
  }

  size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }
}
