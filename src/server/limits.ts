/**
 * Rate limits against abusive clients, as plain state over explicit times (no clock, no
 * timers): ZooKeeper's connection token bucket (connection_throttle_*), Paddock's per-IP
 * connection rate and per-session request rate. The network server asks them and acts.
 */

/**
 * A token bucket: starts full with `capacity` tokens, gains `fillCount` every `fillTimeMs`
 * up to `capacity` (ZooKeeper's BlueThrottle without its random drops).
 */
export class TokenBucket {
  private tokens: number;
  private lastFillMs: number;

  constructor(
    private readonly capacity: number,
    private readonly fillCount: number,
    private readonly fillTimeMs: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.lastFillMs = nowMs;
  }

  /** Takes a token if there is one. */
  take(nowMs: number): boolean {
    this.fill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Ms until a token is available (0 when one is). */
  msUntilToken(nowMs: number): number {
    this.fill(nowMs);
    if (this.tokens >= 1) return 0;
    return Math.max(1, this.lastFillMs + this.fillTimeMs - nowMs);
  }

  /** True when the bucket is full: nothing is remembered by keeping it. */
  full(nowMs: number): boolean {
    this.fill(nowMs);
    return this.tokens >= this.capacity;
  }

  private fill(nowMs: number): void {
    if (nowMs <= this.lastFillMs) return;
    const periods = Math.floor((nowMs - this.lastFillMs) / this.fillTimeMs);
    if (periods === 0) return;
    this.tokens = Math.min(this.capacity, this.tokens + periods * this.fillCount);
    this.lastFillMs += periods * this.fillTimeMs;
    if (this.tokens === this.capacity) this.lastFillMs = nowMs;
  }
}

/** A bucket of `perSecond` tokens filled one by one over the second: bursts up to `perSecond`. */
export function perSecondBucket(perSecond: number, nowMs: number): TokenBucket {
  return new TokenBucket(perSecond, 1, Math.max(1, Math.floor(1000 / perSecond)), nowMs);
}

export interface AdmissionLimits {
  /** connection_throttle_tokens (0 = off), _fill_count, _fill_time (ms). */
  connectionThrottleTokens: number;
  connectionThrottleFillCount: number;
  connectionThrottleFillTimeMs: number;
  /** paddock.connectionRatePerIp (0 = off). */
  connectionRatePerIp: number;
}

export type Admission = 'admitted' | 'throttled' | 'ip-rate';

/** Buckets of IPs are forgotten once full; past this many, the sweep runs on every admission. */
const SWEEP_AT_IPS = 1024;

/** Whether a new connection may be accepted, by the server-wide bucket and its IP's bucket. */
export class ConnectionAdmission {
  private readonly global: TokenBucket | null;
  private readonly perIp = new Map<string, TokenBucket>();
  private sweepAt = SWEEP_AT_IPS;

  constructor(private readonly limits: AdmissionLimits, nowMs: number) {
    this.global = limits.connectionThrottleTokens > 0
      ? new TokenBucket(limits.connectionThrottleTokens, limits.connectionThrottleFillCount, limits.connectionThrottleFillTimeMs, nowMs)
      : null;
  }

  admit(ip: string, nowMs: number): Admission {
    if (this.limits.connectionRatePerIp > 0) {
      let bucket = this.perIp.get(ip);
      if (bucket === undefined) {
        this.sweep(nowMs);
        bucket = perSecondBucket(this.limits.connectionRatePerIp, nowMs);
        this.perIp.set(ip, bucket);
      }
      if (!bucket.take(nowMs)) return 'ip-rate';
    }
    if (this.global !== null && !this.global.take(nowMs)) return 'throttled';
    return 'admitted';
  }

  /** IPs tracked, for tests of the bound. */
  trackedIps(): number {
    return this.perIp.size;
  }

  /** Drops the buckets that refilled: the map holds only IPs that connected within the last second or so. */
  private sweep(nowMs: number): void {
    if (this.perIp.size < this.sweepAt) return;
    for (const [ip, bucket] of this.perIp) if (bucket.full(nowMs)) this.perIp.delete(ip);
    // Many busy IPs: sweep again only once the map has doubled, so admission stays O(1) amortized.
    this.sweepAt = Math.max(SWEEP_AT_IPS, this.perIp.size * 2);
  }
}
