/**
 * A mergeable latency histogram: log-spaced buckets 1% wide from 1 µs to ~100 s, so several
 * load-generator processes can add their histograms and percentiles stay within 1%.
 */
const GROWTH = Math.log(1.01);
const BUCKETS = 1900; // 1.01^1900 µs ≈ 160 s

export interface HistogramData {
  counts: number[];
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  /** Records one latency in milliseconds. */
  recordMs(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / GROWTH));
    this.counts[i]++;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The latency in ms below which a fraction q of samples fall (upper bucket edge). */
  percentileMs(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.min(Math.exp(i * GROWTH), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  meanMs(): number {
    return this.count === 0 ? NaN : this.sumUs / this.count / 1000;
  }

  merge(other: Histogram | HistogramData): void {
    const counts = other.counts;
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += counts[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  toJSON(): HistogramData {
    // Sparse-friendly but simple: the full array, trimmed of trailing zeros.
    let last = BUCKETS - 1;
    while (last >= 0 && this.counts[last] === 0) last--;
    return {
      counts: Array.from(this.counts.subarray(0, last + 1)),
      count: this.count,
      sumUs: this.sumUs,
      minUs: this.minUs === Infinity ? 0 : this.minUs,
      maxUs: this.maxUs,
    };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    const padded = new Float64Array(BUCKETS);
    padded.set(data.counts.slice(0, BUCKETS));
    h.merge({ ...data, counts: Array.from(padded) });
    return h;
  }
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export function summarize(h: Histogram): LatencySummary {
  return {
    count: h.count,
    meanMs: h.meanMs(),
    p50Ms: h.percentileMs(0.5),
    p99Ms: h.percentileMs(0.99),
    p999Ms: h.percentileMs(0.999),
    maxMs: h.maxUs / 1000,
  };
}

/** The median of a run of measurements (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
