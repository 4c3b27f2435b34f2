/**
 * The Prometheus endpoint of metricsProvider.className=...PrometheusMetricsProvider: /metrics in
 * the text exposition format (0.0.4), with ZooKeeper's names and types (its provider exports
 * gauges, counters, and summaries with quantiles 0.5, or 0.5/0.9/0.99 for the advanced ones),
 * then the process_* metrics its JVM exporter would give, then Paddock's own, prefixed paddock_.
 */
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { opName } from '../jute/constants.js';
import { namespaceSets, zookeeperGauges, type MetricsSource } from './collect.js';
import { closeServer, listenOn, sendText } from './http.js';
import { maxFileDescriptorCount, openFileDescriptorCount } from './process-stats.js';
import type { Summary } from './summary.js';
import { PADDOCK_LIMIT_COUNTERS, ZK_COUNTERS, ZK_GAUGES, ZK_QUANTILE_SUMMARIES, ZK_SUMMARIES, type PaddockLimitCounterName } from './zk-metrics.js';


const BASIC_QUANTILES = [0.5];
const ADVANCED_QUANTILES = [0.5, 0.9, 0.99];

/** Renders the exposition text. `loopDelay` is the event-loop delay histogram (ns), if sampled. */
export function renderMetrics(src: MetricsSource, options: { exportProcess: boolean; loopDelay: IntervalHistogram | null }): string {
  const out: string[] = [];
  const gauges = zookeeperGauges(src);
  for (const name of ZK_GAUGES) scalar(out, name, 'gauge', gauges[name]);
  for (const name of ZK_COUNTERS) scalar(out, name, 'counter', src.stats.counters.get(name) ?? 0);
  for (const name of ZK_SUMMARIES) summary(out, name, src.stats.summaries.get(name)!, BASIC_QUANTILES);
  for (const name of ZK_QUANTILE_SUMMARIES) summary(out, name, src.stats.summaries.get(name)!, ADVANCED_QUANTILES);
  for (const [set, byKey] of namespaceSets(src)) summarySet(out, set, byKey);
  if (options.exportProcess) processMetrics(out);
  paddockMetrics(out, src, options.loopDelay);
  return out.join('\n') + '\n';
}

function scalar(out: string[], name: string, type: 'gauge' | 'counter', value: number, help = name): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${number(value)}`);
}

function summary(out: string[], name: string, s: Summary, quantiles: number[], help = name): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
  for (const q of quantiles) out.push(`${name}{quantile="${q}"} ${number(s.count === 0 ? NaN : quantileOf(s, q))}`);
  out.push(`${name}_count ${number(s.count)}`, `${name}_sum ${number(s.sum)}`);
}

/** Basic summaries keep no samples: their median is reported as the mean, the best they know. */
function quantileOf(s: Summary, q: number): number {
  return s.withQuantiles ? s.quantile(q) : s.avg();
}

/** A summary set as ZooKeeper's provider exports it: one summary, labelled key="<namespace>". */
function summarySet(out: string[], name: string, byKey: ReadonlyMap<string, Summary>): void {
  if (byKey.size === 0) return;
  out.push(`# HELP ${name} ${name}`, `# TYPE ${name} summary`);
  for (const [key, s] of byKey) {
    const l = `key="${escapeLabel(key)}"`;
    out.push(`${name}{${l},quantile="0.5"} ${number(s.avg())}`, `${name}_count{${l}} ${number(s.count)}`, `${name}_sum{${l}} ${number(s.sum)}`);
  }
}

function labelledSummaries(out: string[], name: string, help: string, rows: [Record<string, string>, Summary][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
  for (const [labels, s] of rows) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    for (const q of ADVANCED_QUANTILES) out.push(`${name}{${l},quantile="${q}"} ${number(s.quantile(q))}`);
    out.push(`${name}_count{${l}} ${number(s.count)}`, `${name}_sum{${l}} ${number(s.sum)}`);
  }
}

function processMetrics(out: string[]): void {
  const cpu = process.cpuUsage();
  scalar(out, 'process_cpu_seconds_total', 'counter', (cpu.user + cpu.system) / 1e6, 'Total user and system CPU time spent in seconds.');
  scalar(out, 'process_start_time_seconds', 'gauge', Math.floor((Date.now() - process.uptime() * 1000) / 1000), 'Start time of the process since unix epoch in seconds.');
  scalar(out, 'process_open_fds', 'gauge', openFileDescriptorCount(), 'Number of open file descriptors.');
  scalar(out, 'process_max_fds', 'gauge', maxFileDescriptorCount(), 'Maximum number of open file descriptors.');
  scalar(out, 'process_resident_memory_bytes', 'gauge', process.memoryUsage().rss, 'Resident memory size in bytes.');
}

function paddockMetrics(out: string[], src: MetricsSource, loopDelay: IntervalHistogram | null): void {
  const mem = process.memoryUsage();
  scalar(out, 'paddock_heap_used_bytes', 'gauge', mem.heapUsed, 'V8 heap in use, in bytes.');
  const fsync = src.stats.summaries.get('fsynctime')!;
  summary(out, 'paddock_fsync_time_ms', fsync, [0.5], 'Duration of txn log write+fsync batches, in ms.');
  summary(out, 'paddock_txnlog_batch_size', src.stats.summaries.get('sync_processor_batch_size')!, [0.5], 'Txns made durable per fsync.');
  if (loopDelay) {
    out.push('# HELP paddock_event_loop_delay_seconds Event-loop scheduling delay (perf_hooks.monitorEventLoopDelay).', '# TYPE paddock_event_loop_delay_seconds summary');
    for (const q of ADVANCED_QUANTILES) out.push(`paddock_event_loop_delay_seconds{quantile="${q}"} ${number(loopDelay.percentile(q * 100) / 1e9)}`);
    out.push(`paddock_event_loop_delay_seconds_count ${number(loopDelay.count)}`, `paddock_event_loop_delay_seconds_sum ${number((loopDelay.mean * loopDelay.count) / 1e9)}`);
  }
  for (const [name, help] of Object.entries(PADDOCK_LIMIT_COUNTERS)) {
    scalar(out, `paddock_${name}_total`, 'counter', src.stats.limitCounters.get(name as PaddockLimitCounterName) ?? 0, help);
  }
  const perOp = [...src.stats.opLatency].sort(([a], [b]) => a - b).map(([type, s]): [Record<string, string>, Summary] => [{ op: opName(type) }, s]);
  labelledSummaries(out, 'paddock_request_latency_ms', 'Request latency by opcode, in ms.', perOp);
}

/** Prometheus' number syntax: NaN, +Inf, -Inf, or a float (ZooKeeper's client prints 0.0). */
function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** metricsProvider.exportJvmInfo: also export the process_* metrics. */
  exportProcess: boolean;
}

/** The HTTP listener of the Prometheus provider: /metrics answers, anything else is 404. */
export class MetricsHttpServer {
  private readonly http: Server;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  port = 0;
  host = '';

  constructor(
    private readonly options: MetricsServerOptions,
    source: () => MetricsSource,
  ) {
    this.http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://metrics').pathname;
      if (path !== '/metrics') return sendText(res, 404, 'text/plain', 'Not Found\n');
      const body = renderMetrics(source(), { exportProcess: this.options.exportProcess, loopDelay: this.loopDelay });
      sendText(res, 200, 'text/plain; version=0.0.4; charset=utf-8', body);
    });
  }

  async listen(): Promise<void> {
    const addr = await listenOn(this.http, this.options.port, this.options.host);
    this.port = addr.port;
    this.host = addr.address;
    this.loopDelay.enable();
  }

  close(): Promise<void> {
    this.loopDelay.disable();
    return closeServer(this.http);
  }
}
