/** Counters behind srvr, stat, mntr, cons, the admin API and the Prometheus endpoint. */
import { Summary } from '../admin/summary.js';
import { OpCode } from '../jute/constants.js';
import { ZK_QUANTILE_SUMMARIES, ZK_SUMMARIES, type PaddockLimitCounterName, type ZkCounterName, type ZkSummaryName } from '../admin/zk-metrics.js';

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
  /**
   * ZooKeeper's summary sets read_per_namespace and write_per_namespace: bytes read and written,
   * by top-level znode (DataTree.updateReadStat / updateWriteStat).
   */
  readonly namespaceReads = new Map<string, Summary>();
  readonly namespaceWrites = new Map<string, Summary>();
  /** Paddock's own: how often each abuse limit acted. */
  readonly limitCounters = new Map<PaddockLimitCounterName, number>();
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

  /** A reply, for the per-namespace byte counts: what ZooKeeper's DataTree counts on success. */
  recordReply(type: number, err: number, req: unknown, body: unknown): void {
    if (err !== 0) return;
    const r = req as { path?: string; data?: Uint8Array | null };
    const b = body as { data?: unknown; children?: unknown } | null;
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
      case OpCode.setData:
        return namespaceAdd(this.namespaceWrites, r.path, r.data?.length ?? 0);
      case OpCode.delete:
      case OpCode.deleteContainer:
        return namespaceAdd(this.namespaceWrites, r.path, 0);
      case OpCode.getData:
        return namespaceAdd(this.namespaceReads, r.path, byteLength(b?.data));
      case OpCode.getChildren:
      case OpCode.getChildren2:
        return namespaceAdd(this.namespaceReads, r.path, childNameBytes(b?.children));
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
    this.summaries.get(name)!.add(value);
  }

  avgLatencyMs(): number {
    return this.latencyCount === 0 ? 0 : this.totalLatencyMs / this.latencyCount;
  }

  minLatency(): number {
    return this.latencyCount === 0 ? 0 : this.minLatencyMs;
  }

  /** srst: ZooKeeper resets latency, packets and reply sizes (ServerStats.reset), not ServerMetrics. */
  reset(): void {
    this.lastResponseBytes = -1;
    this.minResponseBytes = -1;
    this.maxResponseBytes = -1;
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.minLatencyMs = Number.MAX_SAFE_INTEGER;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }
}

/** ZooKeeper's PathUtils.getTopNamespace: the first path component; "/" has none. */
function namespaceAdd(sets: Map<string, Summary>, path: string | undefined, bytes: number): void {
  if (path === undefined || path.length < 2) return;
  // Per request, so no split(): the text between the first and second slash.
  const end = path.indexOf('/', 1);
  const top = end === -1 ? path.slice(1) : path.slice(1, end);
  if (top === '') return;
  let s = sets.get(top);
  if (!s) sets.set(top, (s = new Summary(false)));
  s.add(bytes);
}

/** A stored value is a Buffer or, for text, a string (its UTF-8 bytes are what is sent). */
function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  return data instanceof Uint8Array ? data.length : 0;
}

/** The bytes of the child names: from a list, or from the encoded vector (count, then length-prefixed names). */
function childNameBytes(children: unknown): number {
  if (Array.isArray(children)) return children.reduce((n: number, c: unknown) => n + (typeof c === 'string' ? Buffer.byteLength(c) : 0), 0);
  const bytes = (children as { bytes?: unknown } | undefined)?.bytes;
  if (!(bytes instanceof Uint8Array) || bytes.length < 4) return 0;
  const count = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0);
  return count > 0 ? bytes.length - 4 - 4 * count : 0;
}
