/**
 * Session table with tick-bucketed expiry, as ZooKeeper's ExpiryQueue: a session expires at its
 * timeout rounded up to the next tick boundary, so expiry work happens once per tick, in batches.
 * Time comes in as `nowMs`; the tracker never reads a clock.
 */
import { assert } from '../lib/assert.js';

export interface Session {
  readonly id: bigint;
  timeoutMs: number;
  expiresAtMs: number;
  /** Set once a closeSession txn is prepared: no further requests are accepted. */
  closing: boolean;
}

export class SessionTracker {
  private readonly sessions = new Map<bigint, Session>();
  private readonly buckets = new Map<number, Set<bigint>>();
  private nextId: bigint;

  constructor(
    private readonly tickTimeMs: number,
    serverId: number,
    startMs: number,
  ) {
    assert(tickTimeMs > 0, 'tickTime must be positive');
    this.nextId = initialSessionId(serverId, startMs);
  }

  /** A fresh id: server id in the top byte, start time in the next five, a counter below. */
  allocateId(): bigint {
    let id = this.nextId;
    this.nextId = BigInt.asIntN(64, this.nextId + 1n);
    // Long.MIN_VALUE is the container marker and 0 means "new session".
    if (id === -(1n << 63n) || id === 0n) id = this.allocateId();
    return id;
  }

  private roundToTick(ms: number): number {
    return (Math.floor(ms / this.tickTimeMs) + 1) * this.tickTimeMs;
  }

  add(id: bigint, timeoutMs: number, nowMs: number): Session {
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
    if (!s || s.closing) return false;
    const expiresAt = this.roundToTick(nowMs + s.timeoutMs);
    if (expiresAt === s.expiresAtMs) return true;
    this.buckets.get(s.expiresAtMs)?.delete(id);
    s.expiresAtMs = expiresAt;
    let bucket = this.buckets.get(expiresAt);
    if (!bucket) this.buckets.set(expiresAt, (bucket = new Set()));
    bucket.add(id);
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

function initialSessionId(serverId: number, startMs: number): bigint {
  const elapsed = BigInt(Math.floor(startMs));
  const timeBits = BigInt.asUintN(64, elapsed << 24n) >> 8n;
  return BigInt.asIntN(64, timeBits | (BigInt(serverId & 0xff) << 56n));
}
