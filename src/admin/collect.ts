/**
 * Every metric a server reports, in one list: ZooKeeper's names first (mntr, /commands/monitor,
 * Prometheus), then Paddock's own (Prometheus only). Values are read at the moment of asking.
 */
import type { ServerStats } from '../pipeline/stats.js';
import { maxFileDescriptorCount, openFileDescriptorCount } from './process-stats.js';
import type { Summary } from './summary.js';
import { ZK_COUNTERS, ZK_GAUGES, ZK_QUANTILE_SUMMARIES, ZK_SUMMARIES } from './zk-metrics.js';

/** What the metrics read from a running server. */
export interface MetricsSource {
  version: string;
  serverState: string;
  stats: ServerStats;
  connectionCount: number;
  outstandingRequests: number;
  znodeCount: number;
  watchCount: number;
  ephemeralsCount: number;
  approximateDataSize: number;
  globalSessions: number;
  uptimeMs: number;
}

export function zookeeperGauges(src: MetricsSource): Record<(typeof ZK_GAUGES)[number], number> {
  const s = src.stats;
  return {
    ephemerals_count: src.ephemeralsCount,
    num_alive_connections: src.connectionCount,
    avg_latency: s.avgLatencyMs(),
    outstanding_requests: src.outstandingRequests,
    znode_count: src.znodeCount,
    global_sessions: src.globalSessions,
    // No TLS client port, so no connection is an mTLS one; ZooKeeper counts these only with TLS.
    non_mtls_remote_conn_count: 0,
    non_mtls_local_conn_count: 0,
    last_client_response_size: s.lastResponseBytes,
    max_client_response_size: s.maxResponseBytes,
    min_client_response_size: s.minResponseBytes,
    packets_sent: s.packetsSent,
    packets_received: s.packetsReceived,
    // zookeeper.connection_throttle_* is not implemented: nothing is dropped.
    connection_drop_probability: 0,
    watch_count: src.watchCount,
    auth_failed_count: s.authFailedCount,
    min_latency: s.minLatency(),
    max_latency: s.maxLatencyMs,
    max_file_descriptor_count: maxFileDescriptorCount(),
    open_file_descriptor_count: openFileDescriptorCount(),
    approximate_data_size: src.approximateDataSize,
    // Local sessions (localSessionsEnabled) are not supported: every session is global.
    local_sessions: 0,
    uptime: src.uptimeMs,
    outstanding_tls_handshake: 0,
  };
}

/** The mntr rows, in order: version and state (text), then every ZooKeeper metric. */
export function mntrRows(src: MetricsSource): [string, string | number][] {
  const rows: [string, string | number][] = [
    ['version', src.version],
    ['server_state', src.serverState],
  ];
  const gauges = zookeeperGauges(src);
  for (const name of ZK_GAUGES) rows.push([name, formatNumber(name, gauges[name])]);
  for (const name of ZK_COUNTERS) rows.push([name, src.stats.counters.get(name) ?? 0]);
  for (const name of [...ZK_SUMMARIES, ...ZK_QUANTILE_SUMMARIES]) {
    const sum = src.stats.summaries.get(name)!;
    rows.push([`avg_${name}`, decimal(sum.avg())], [`min_${name}`, sum.min], [`max_${name}`, sum.max], [`cnt_${name}`, sum.count], [`sum_${name}`, sum.sum]);
    if (sum.withQuantiles) for (const [label, q] of QUANTILE_LABELS) rows.push([`${label}_${name}`, sum.quantile(q)]);
  }
  for (const [set, byKey] of namespaceSets(src)) {
    for (const [key, sum] of byKey) {
      const name = `${key}_${set}`;
      rows.push([`avg_${name}`, decimal(sum.avg())], [`min_${name}`, sum.min], [`max_${name}`, sum.max], [`cnt_${name}`, sum.count], [`sum_${name}`, sum.sum]);
    }
  }
  return rows;
}

/** ZooKeeper's summary sets (a summary per key): bytes per top-level namespace. */
export function namespaceSets(src: MetricsSource): [string, ReadonlyMap<string, Summary>][] {
  return [
    ['read_per_namespace', src.stats.namespaceReads],
    ['write_per_namespace', src.stats.namespaceWrites],
  ];
}

export const QUANTILE_LABELS: readonly [string, number][] = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
  ['p999', 0.999],
];

/** ZooKeeper prints doubles with a decimal point (0.0); its avg_latency and drop probability are doubles. */
function formatNumber(name: string, value: number): string | number {
  return name === 'avg_latency' || name === 'connection_drop_probability' ? decimal(value) : value;
}

function decimal(value: number): string {
  const text = String(Math.round(value * 10_000) / 10_000);
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}
