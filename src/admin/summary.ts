/**
 * A summary of observed values as ZooKeeper's metrics report them: count, sum, min, max, and
 * quantiles over the most recent observations (ZooKeeper samples a 1028-value reservoir; a
 * ring of the last RESERVOIR_SIZE values keeps the same bound on memory and favours recent load).
 */
const RESERVOIR_SIZE = 1024;

export const QUANTILES = [0.5, 0.95, 0.99, 0.999] as const;

export class Summary {
  count = 0;
  sum = 0;
  min = 0;
  max = 0;
  private readonly recent: number[] = [];
  private next = 0;

  /** `withQuantiles`: ZooKeeper's "advanced" summaries, which also report p50..p999. */
  constructor(readonly withQuantiles: boolean) {}

  add(value: number): void {
    this.addRepeated(value, 1);
  }

  /** `n` observations of one value, as n calls of add. */
  addRepeated(value: number, n: number): void {
    if (this.count === 0 || value < this.min) this.min = value;
    if (this.count === 0 || value > this.max) this.max = value;
    this.count += n;
    this.sum += value * n;
    if (!this.withQuantiles) return;
    // Only the last RESERVOIR_SIZE of them can stay in the ring.
    for (let i = Math.max(0, n - RESERVOIR_SIZE); i < n; i++) this.remember(value);
  }

  private remember(value: number): void {
    if (this.recent.length < RESERVOIR_SIZE) this.recent.push(value);
    else this.recent[this.next] = value;
    if (++this.next === RESERVOIR_SIZE) this.next = 0;
  }

  avg(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The value at quantile q (0..1) of the recent observations; 0 when there are none. */
  quantile(q: number): number {
    if (this.recent.length === 0) return 0;
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[at]!;
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = 0;
    this.max = 0;
    this.recent.length = 0;
    this.next = 0;
  }
}
