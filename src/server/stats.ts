/** Counters behind srvr, stat, mntr, cons, the admin API and the Prometheus endpoint. */
import { Summary } from '../admin/summary.js';
import { ZK_QUANTILE_SUMMARIES, ZK_SUMMARIES, type ZkCounterName, type ZkSummaryName } from '../admin/zk-metrics.js';

export class ServerStats {
  packetsReceived = 0;
  packetsSent = 0;
  minLatencyMs = Number.MAX_SAFE_INTEGER;
  maxLatencyMs = 0;
  private totalLatencyMs = 0;
  private latencyCount = 0;
  /** Reply sizes (ZooKeeper's client_response_stats): -1 until a reply is measured. */
  lastResponseBytes = -1;
  minResponseBytes = -1;
  maxResponseBytes = -1;
  /** Failed authentications (addauth with a scheme that rejects the credentials). */
  authFailedCount = 0;
  /** Txn log fsyncs slower than fsync.warningthresholdms. */
  fsyncThresholdExceedCount = 0;
  /** ZooKeeper's ServerMetrics counters that Paddock counts; the others stay 0. */
  readonly counters = new Map<ZkCounterName, number>();
  /** ZooKeeper's ServerMetrics summaries, by name. */
  readonly summaries = new Map<ZkSummaryName, Summary>();
  /** Paddock's own: latency per opcode (ms), keyed by opcode number. */
  readonly opLatency = new Map<number, Summary>();

  constructor() {
    for (const name of ZK_SUMMARIES) this.summaries.set(name, new Summary(false));
    for (const name of ZK_QUANTILE_SUMMARIES) this.summaries.set(name, new Summary(true));
  }

  /** A reply sent `ms` after its request arrived; `type` is the opcode, `write` whether it changed state. */
  recordLatency(ms: number, type?: number, write?: boolean): void {
    this.latencyCount++;
    this.totalLatencyMs += ms;
    if (ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
    if (type === undefined) return;
    this.observe(write ? 'updatelatency' : 'readlatency', ms);
    let perOp = this.opLatency.get(type);
    if (!perOp) this.opLatency.set(type, (perOp = new Summary(true)));
    perOp.add(ms);
  }

  count(name: ZkCounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  observe(name: ZkSummaryName, value: number): void {
    this.summaries.get(name)!.add(value);
  }

  avgLatencyMs(): number {
    return this.latencyCount === 0 ? 0 : this.totalLatencyMs / this.latencyCount;
  }

  minLatency(): number {
    return this.latencyCount === 0 ? 0 : this.minLatencyMs;
  }

  /** srst: ZooKeeper resets the latency and packet counters (ServerStats.reset), not ServerMetrics. */
  reset(): void {
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.minLatencyMs = Number.MAX_SAFE_INTEGER;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }
}
