/**
 * The console's charts: a ring of per-interval samples (ops/s, mean latency, connections) made
 * from the server's running totals. Pure: the caller reads the totals and the clock and calls
 * `record`; the ring has a fixed size, so memory stays bounded however long the server runs.
 */

/** Running totals as read from the server at one moment. */
export interface Totals {
  /** Replies sent to requests (reads and writes, pings excluded) since start or the last srst. */
  requests: number;
  /** Sum of those replies' latencies, ms. */
  latencySumMs: number;
  connections: number;
}

export interface Sample {
  /** End of the interval, ms since the epoch. */
  atMs: number;
  opsPerSecond: number;
  /** Mean latency of the interval's replies, ms (0 when there were none). */
  latencyMs: number;
  connections: number;
}

export class MetricsHistory {
  private readonly ring: Sample[] = [];
  private next = 0;
  private last: { atMs: number; totals: Totals } | null = null;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** Adds the interval since the previous call; the first call only sets the baseline. */
  record(atMs: number, totals: Totals): void {
    const prev = this.last;
    this.last = { atMs, totals: { ...totals } };
    if (prev === null || atMs <= prev.atMs) return;
    // A stats reset (srst) makes the totals go down: count that interval from zero.
    const requests = totals.requests >= prev.totals.requests ? totals.requests - prev.totals.requests : totals.requests;
    const latencySum = totals.latencySumMs >= prev.totals.latencySumMs ? totals.latencySumMs - prev.totals.latencySumMs : totals.latencySumMs;
    const sample: Sample = {
      atMs,
      opsPerSecond: round2((requests * 1000) / (atMs - prev.atMs)),
      latencyMs: requests === 0 ? 0 : round2(latencySum / requests),
      connections: totals.connections,
    };
    if (this.ring.length < this.capacity) this.ring.push(sample);
    else this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The samples, oldest first. */
  samples(): Sample[] {
    if (this.ring.length < this.capacity) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
