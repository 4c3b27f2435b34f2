/** Four-letter words: text answers to a command sent as the first four bytes of a connection. */
import { join } from 'node:path';
import type { ServerConfig } from '../config/config.js';
import { confWord } from '../config/keys.js';
import { VERSION_DIR } from '../persistence/store.js';
import type { Connection } from './connection.js';
import { hex } from './logger.js';
import { mntrRows, type MetricsSource } from '../admin/collect.js';
import type { RequestPipeline } from '../pipeline/pipeline.js';
import { quorumConfigText } from '../consensus/members.js';
import { quorumMembers } from './quorum/peer.js';

export const FOUR_LETTER_WORDS = new Set([
  'ruok', 'srvr', 'stat', 'conf', 'cons', 'envi', 'mntr', 'wchs', 'wchc', 'wchp', 'dump', 'isro', 'crst', 'srst', 'dirs', 'gtmk', 'stmk', 'hash',
]);

export const PADDOCK_VERSION = '0.1.0';
/** Tools parse this line; keep ZooKeeper's shape and say which server it really is. */
export const VERSION_LINE = `3.8.0-paddock-${PADDOCK_VERSION}, built on 2026-11-22 00:00 UTC`;

export interface FourLetterContext {
  server: RequestPipeline;
  config: ServerConfig;
  /** The port the server listens on (clientPort 0 picks one). */
  listeningPort: number;
  connections: () => Iterable<Connection>;
  startedAtMs: number;
  dataDirSize: () => number;
  logDirSize: () => number;
  resetConnectionStats: () => void;
}

export function answerFourLetterWord(word: string, ctx: FourLetterContext): string | null {
  if (!FOUR_LETTER_WORDS.has(word)) return null;
  const wl = ctx.config.fourLetterWhitelist;
  if (!wl.has('*') && !wl.has(word)) return `${word} is not executed because it is not in the whitelist.\n`;
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return 'rw';
    case 'srvr':
      return notServing(ctx) ?? serverStats(ctx, false);
    case 'stat':
      return notServing(ctx) ?? serverStats(ctx, true);
    case 'conf':
      return confWord({ ...ctx.config, clientPort: ctx.listeningPort }, {
        snapDir: join(ctx.config.dataDir, VERSION_DIR),
        logDir: join(ctx.config.dataLogDir, VERSION_DIR),
        dataDirSize: ctx.dataDirSize(),
        dataLogSize: ctx.logDirSize(),
      }) + quorumConf(ctx);
    case 'cons':
      return [...ctx.connections()].map((c) => connectionLine(c, true)).join('') + '\n';
    case 'envi':
      return envi();
    case 'mntr':
      return notServing(ctx) ?? mntr(ctx);
    case 'wchs':
      return wchs(ctx);
    case 'wchc':
      return wchc(ctx);
    case 'wchp':
      return wchp(ctx);
    case 'dump':
      return dump(ctx);
    case 'crst':
      ctx.resetConnectionStats();
      return 'Connection stats reset.\n';
    case 'srst':
      ctx.server.stats.reset();
      return 'Server stats reset.\n';
    case 'dirs':
      return `datadir_size: ${ctx.dataDirSize()}\nlogdir_size: ${ctx.logDirSize()}\n`;
    case 'gtmk':
      return '0\n';
    case 'stmk':
      return '0\n';
    case 'hash':
      return 'Digest in use: not supported\n';
    default:
      return null;
  }
}

function serverStats(ctx: FourLetterContext, withClients: boolean): string {
  const s = ctx.server;
  const lines = [`Zookeeper version: ${VERSION_LINE}`];
  if (withClients) {
    lines.push('Clients:');
    for (const c of ctx.connections()) lines.push(connectionLine(c, false).trimEnd());
    lines.push('');
  }
  lines.push(
    `Latency min/avg/max: ${s.stats.minLatency()}/${s.stats.avgLatencyMs().toFixed(4)}/${s.stats.maxLatencyMs}`,
    `Received: ${s.stats.packetsReceived}`,
    `Sent: ${s.stats.packetsSent}`,
    // ZooKeeper counts every open connection, the one asking included, as the list above shows.
    `Connections: ${countOf(ctx.connections())}`,
    `Outstanding: ${s.outstandingRequests()}`,
    `Zxid: ${hex(s.lastZxid())}`,
    `Mode: ${serverState(ctx)}`,
    `Node count: ${s.tree.nodeCount()}`,
  );
  const q = s.quorumStatus?.();
  if (q?.mode === 'leader') lines.push(`Proposal sizes last/min/max: ${q.proposalSizes.last}/${q.proposalSizes.min}/${q.proposalSizes.max}`);
  return lines.join('\n') + '\n';
}

/** What an ensemble member's conf adds (QuorumPeer's part of ZooKeeper's conf command). */
function quorumConf(ctx: FourLetterContext): string {
  if (ctx.server.quorumStatus === null) return '';
  const c = ctx.config;
  const me = c.servers.find((s) => s.id === c.serverId);
  const lines = [
    `initLimit=${c.initLimit}`,
    `syncLimit=${c.syncLimit}`,
    'electionAlg=3',
    `electionPort=${me?.electionPort ?? -1}`,
    `quorumPort=${me?.quorumPort ?? -1}`,
    `peerType=${c.peerType === 'observer' ? 1 : 0}`,
    'membership: ',
    quorumConfigText(quorumMembers(c), 0n),
  ];
  return lines.join('\n') + '\n';
}

/** What ZooKeeper answers while it has no role (looking for a leader). */
function notServing(ctx: FourLetterContext): string | null {
  return ctx.server.mode === 'looking' ? 'This ZooKeeper instance is not currently serving requests\n' : null;
}

/** standalone, leader, follower, observer (looking while electing). */
function serverState(ctx: FourLetterContext): string {
  return ctx.server.quorumStatus?.().mode ?? 'standalone';
}

function countOf(items: Iterable<unknown>): number {
  let n = 0;
  for (const _ of items) n++;
  return n;
}

function connectionLine(c: Connection, detailed: boolean): string {
  const base = ` /${c.remoteAddress}:${c.remotePort}[${c.established ? 1 : 0}](queued=0,recved=${c.packetsReceived},sent=${c.packetsSent}`;
  if (!detailed || !c.established) return base + ')\n';
  return `${base},sid=${hex(c.sessionId)},lop=NA,est=${c.connectedAtMs},to=${c.timeoutMs},lzxid=${hex(c.lastZxidSent)})\n`;
}

function envi(): string {
  const lines = [
    'Environment:',
    `zookeeper.version=${VERSION_LINE}`,
    `host.name=${process.env.HOSTNAME ?? 'localhost'}`,
    `node.version=${process.version}`,
    `os.name=${process.platform}`,
    `os.arch=${process.arch}`,
    `user.dir=${process.cwd()}`,
    `process.pid=${process.pid}`,
    `os.memory.rss=${Math.round(process.memoryUsage().rss / 1048576)}MB`,
  ];
  return lines.join('\n') + '\n';
}

/** The MetricsSource of a running server, shared by mntr, the admin API and Prometheus. */
export function metricsSource(ctx: FourLetterContext): MetricsSource {
  const s = ctx.server;
  let ephemerals = 0;
  for (const paths of s.tree.allEphemerals().values()) ephemerals += paths.length;
  return {
    version: VERSION_LINE,
    serverState: serverState(ctx),
    stats: s.stats,
    connectionCount: countOf(ctx.connections()),
    outstandingRequests: s.outstandingRequests(),
    znodeCount: s.tree.nodeCount(),
    watchCount: s.watches.watchCount(),
    ephemeralsCount: ephemerals,
    approximateDataSize: s.tree.approximateDataSize(),
    globalSessions: s.sessions.size(),
    uptimeMs: Date.now() - ctx.startedAtMs,
  };
}

function mntr(ctx: FourLetterContext): string {
  return mntrLines(ctx).map(([k, v]) => `zk_${k}\t${v}`).join('\n') + '\n';
}

/** Every mntr row (without the zk_ prefix); the admin monitor command answers the same keys. */
export function mntrLines(ctx: FourLetterContext): [string, string | number][] {
  const rows = mntrRows(metricsSource(ctx));
  const q = ctx.server.quorumStatus?.();
  // An ensemble member's state detail follows server_state, as ZooKeeper prints it.
  if (q) rows.splice(2, 0, ['peer_state', q.peerState]);
  return [...rows, ...quorumRows(ctx)];
}

/** An ensemble member's rows; the leader's (LeaderZooKeeperServer) beside them. */
function quorumRows(ctx: FourLetterContext): [string, number][] {
  const q = ctx.server.quorumStatus?.();
  if (!q) return [];
  if (q.mode !== 'leader') return [['quorum_size', q.quorumSize]];
  return [
    ['quorum_size', q.quorumSize],
    ['learners', q.learners],
    ['synced_followers', q.syncedFollowers],
    ['synced_non_voting_followers', 0],
    ['synced_observers', q.syncedObservers],
    ['pending_syncs', q.pendingSyncs],
    ['leader_uptime', q.leaderUptimeMs],
    ['last_proposal_size', q.proposalSizes.last],
    ['min_proposal_size', q.proposalSizes.min],
    ['max_proposal_size', q.proposalSizes.max],
  ];
}

function wchs(ctx: FourLetterContext): string {
  const sum = ctx.server.watches.summary();
  return `${sum.connections} connections watching ${sum.paths} paths\nTotal watches:${sum.total}\n`;
}

function wchc(ctx: FourLetterContext): string {
  const out: string[] = [];
  for (const [link, paths] of ctx.server.watches.pathsByWatcher()) {
    out.push(hex(link.sessionId), ...paths.map((p) => `\t${p}`));
  }
  return out.join('\n') + '\n';
}

function wchp(ctx: FourLetterContext): string {
  const out: string[] = [];
  for (const [path, links] of ctx.server.watches.watchersByPath()) {
    out.push(path, ...links.map((l) => `\t${hex(l.sessionId)}`));
  }
  return out.join('\n') + '\n';
}

function dump(ctx: FourLetterContext): string {
  const s = ctx.server;
  const sessions = [...s.sessions.all()];
  const lines = ['SessionTracker dump:', `Global Sessions(${sessions.length}):`];
  for (const sess of sessions) lines.push(`${hex(sess.id)}\t${sess.timeoutMs}ms`);
  const eph = s.tree.allEphemerals();
  lines.push('ephemeral nodes dump:', `Sessions with Ephemerals (${eph.size}):`);
  for (const [id, paths] of eph) lines.push(`${hex(id)}:`, ...paths.map((p) => `\t${p}`));
  lines.push('Connections dump:', `Connections Sets (${s.connectionCount()}):`);
  return lines.join('\n') + '\n';
}

