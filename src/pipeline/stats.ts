/** Counters behind srvr, stat, mntr, cons, the admin API and the Prometheus endpoint. */
import { Summary } from '../admin/summary.js';
import { OpCode } from '../jute/constants.js';
import { ZK_QUANTILE_SUMMARIES, ZK_SUMMARIES, type PaddockLimitCounterName, type ZkCounterName, type ZkSummaryName } from '../admin/zk-metrics.js';

export class ServerStats {
  packetsReceived = 0;
  packetsSent = 0;
  private minLatencyMs = Number.MAX_SAFE_INTEGER;
  private maxLatencyMsSeen = 0;
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
  private readonly summaryMap = new Map<ZkSummaryName, Summary>();
  /**
   * ZooKeeper's summary sets read_per_namespace and write_per_namespace: bytes read and written,
   * by top-level znode (DataTree.updateReadStat / updateWriteStat).
   */
  readonly namespaceReads = new Map<string, Summary>();
  readonly namespaceWrites = new Map<string, Summary>();
  private readonly reads = new NamespaceTotals(this.namespaceReads);
  private readonly writes = new NamespaceTotals(this.namespaceWrites);
  private readonly opLatencyMap = new Map<number, Summary>();
  /** The summaries every reply updates, held directly: no lookup by name per request. */
  private readonly readLatency: Summary;
  private readonly updateLatency: Summary;
  /** The last opcode's latency summary (a connection's requests mostly share an opcode). */
  private lastOp = NaN;
  private lastOpLatency: Summary | null = null;
  /**
   * Replies of one event-loop turn mostly share opcode and latency (the clock is read once per
   * turn), so equal latencies are counted as a run and added to the summaries when the run ends
   * or a reader looks: the same observations in the same order, one summary update per run.
   */
  private runMs = 0;
  private runType = 0;
  private runWrite = false;
  private runCount = 0;
  /** Paddock's own: how often each abuse limit acted. */
  readonly limitCounters = new Map<PaddockLimitCounterName, number>();

  constructor() {
    for (const name of ZK_SUMMARIES) this.summaryMap.set(name, new Summary(false));
    for (const name of ZK_QUANTILE_SUMMARIES) this.summaryMap.set(name, new Summary(true));
    this.readLatency = this.summaryMap.get('readlatency')!;
    this.updateLatency = this.summaryMap.get('updatelatency')!;
  }

  /** ZooKeeper's ServerMetrics summaries, by name. */
  get summaries(): ReadonlyMap<ZkSummaryName, Summary> {
    this.endLatencyRun();
    return this.summaryMap;
  }

  /** Paddock's own: latency per opcode (ms), keyed by opcode number. */
  get opLatency(): ReadonlyMap<number, Summary> {
    this.endLatencyRun();
    return this.opLatencyMap;
  }

  /** The largest latency (ms) since the last reset. */
  get maxLatencyMs(): number {
    this.endLatencyRun();
    return this.maxLatencyMsSeen;
  }

  /**
   * A reply sent `ms` after its request arrived; `type` is the opcode, `write` whether it changed
   * state. A reply that continues the run costs a comparison and an increment: the totals,
   * min and max take the run when it ends.
   */
  recordLatency(ms: number, type?: number, write?: boolean): void {
    if (type === undefined) return this.addLatencies(ms, 1);
    const isWrite = write === true;
    if (this.runCount > 0 && ms === this.runMs && type === this.runType && isWrite === this.runWrite) {
      this.runCount++;
      return;
    }
    this.endLatencyRun();
    this.runMs = ms;
    this.runType = type;
    this.runWrite = isWrite;
    this.runCount = 1;
  }

  private addLatencies(ms: number, n: number): void {
    this.latencyCount += n;
    this.totalLatencyMs += ms * n;
    if (ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMsSeen) this.maxLatencyMsSeen = ms;
  }

  private endLatencyRun(): void {
    const n = this.runCount;
    if (n === 0) return;
    this.runCount = 0;
    this.addLatencies(this.runMs, n);
    (this.runWrite ? this.updateLatency : this.readLatency).addRepeated(this.runMs, n);
    this.opSummary(this.runType).addRepeated(this.runMs, n);
  }

  private opSummary(type: number): Summary {
    if (type === this.lastOp) return this.lastOpLatency!;
    let perOp = this.opLatencyMap.get(type);
    if (!perOp) this.opLatencyMap.set(type, (perOp = new Summary(true)));
    this.lastOp = type;
    this.lastOpLatency = perOp;
    return perOp;
  }

  /** A reply, for the per-namespace byte counts: what ZooKeeper's DataTree counts on success. */
  recordReply(type: number, err: number, req: unknown, body: unknown): void {
    if (err !== 0) return;
    const r = req as { path?: string; data?: Uint8Array | null };
    const b = body as { data?: unknown; children?: unknown } | null;
    switch (type) {
      // The commonest first: reads of data.
      case OpCode.getData:
        return this.reads.add(r.path, byteLength(b?.data));
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
      case OpCode.setData:
        return this.writes.add(r.path, r.data?.length ?? 0);
      case OpCode.delete:
      case OpCode.deleteContainer:
        return this.writes.add(r.path, 0);
      case OpCode.getChildren:
      case OpCode.getChildren2:
        return this.reads.add(r.path, childNameBytes(b?.children));
      default:
    }
  }

  /** A reply of `bytes` (without its length prefix): ZooKeeper's client_response_stats. */
  recordResponseBytes(bytes: number): void {
    this.lastResponseBytes = bytes;
    if (this.minResponseBytes < 0 || bytes < this.minResponseBytes) this.minResponseBytes = bytes;
    if (bytes > this.maxResponseBytes) this.maxResponseBytes = bytes;
  }

  count(name: ZkCounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  countLimit(name: PaddockLimitCounterName): void {
    this.limitCounters.set(name, (this.limitCounters.get(name) ?? 0) + 1);
  }

  observe(name: ZkSummaryName, value: number): void {
    this.summaryMap.get(name)!.add(value);
  }

  avgLatencyMs(): number {
    this.endLatencyRun();
    return this.latencyCount === 0 ? 0 : this.totalLatencyMs / this.latencyCount;
  }

  minLatency(): number {
    this.endLatencyRun();
    return this.latencyCount === 0 ? 0 : this.minLatencyMs;
  }

  /** srst: ZooKeeper resets latency, packets and reply sizes (ServerStats.reset), not ServerMetrics. */
  reset(): void {
    // The run in progress still reaches the summaries, which srst leaves alone.
    this.endLatencyRun();
    this.lastResponseBytes = -1;
    this.minResponseBytes = -1;
    this.maxResponseBytes = -1;
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.minLatencyMs = Number.MAX_SAFE_INTEGER;
    this.maxLatencyMsSeen = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }
}

/**
 * Bytes by ZooKeeper's PathUtils.getTopNamespace: the first path component; "/" has none. Runs
 * per request, so the last namespace is remembered and compared in place: requests mostly share
 * one, and a sliced key would be a new string to hash on every lookup.
 */
class NamespaceTotals {
  private lastTop = '';
  private last: Summary | null = null;

  constructor(private readonly byTop: Map<string, Summary>) {}

  add(path: string | undefined, bytes: number): void {
    if (path === undefined || path.length < 2) return;
    const n = this.lastTop.length;
    if (this.last !== null && path.startsWith(this.lastTop, 1) && (path.length === n + 1 || path.charCodeAt(n + 1) === SLASH)) {
      this.last.add(bytes);
      return;
    }
    const end = path.indexOf('/', 1);
    const top = end === -1 ? path.slice(1) : path.slice(1, end);
    if (top === '') return;
    let s = this.byTop.get(top);
    if (!s) this.byTop.set(top, (s = new Summary(false)));
    this.lastTop = top;
    this.last = s;
    s.add(bytes);
  }
}

const SLASH = 0x2f;

/** A stored value is a Buffer or a string of its bytes, one per char (see StoredData). */
function byteLength(data: unknown): number {
  return typeof data === 'string' || data instanceof Uint8Array ? data.length : 0;
}

/** The bytes of the child names: from a list, or from the encoded vector (count, then length-prefixed names). */
function childNameBytes(children: unknown): number {
  if (Array.isArray(children)) return children.reduce((n: number, c: unknown) => n + (typeof c === 'string' ? Buffer.byteLength(c) : 0), 0);
  const bytes = (children as { bytes?: unknown } | undefined)?.bytes;
  if (!(bytes instanceof Uint8Array) || bytes.length < 4) return 0;
  const count = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0);
  return count > 0 ? bytes.length - 4 - 4 * count : 0;
}
