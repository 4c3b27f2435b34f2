/**
 * The AdminServer's commands, as ZooKeeper 3.8 names and answers them: each has a primary name,
 * short aliases, and returns an object whose keys are ZooKeeper's; the HTTP layer adds "command"
 * and "error". Ensemble commands (leader, voting_view, zabstate, observers) answer as a
 * ZooKeeper 3.8 ensemble member does, and as a standalone one does on a standalone server.
 */
import { arch, freemem, homedir, hostname, release, tmpdir, totalmem, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { VERSION_DIR } from '../persistence/store.js';
import { metricsSource, VERSION_LINE, type FourLetterContext } from '../server/fourletter.js';
import type { Connection } from '../server/connection.js';
import type { QuorumReport } from '../pipeline/pipeline.js';
import { mntrLines } from '../server/fourletter.js';
import { zookeeperGauges } from './collect.js';

/** What the admin commands read and change, beyond the four-letter words' context. */
export interface AdminContext extends FourLetterContext {
  /** The configuration as read (zoo.cfg's key=value lines), for initial_configuration. */
  initialConfiguration: string;
  /** The newest snapshot: its zxid and when it was written (ms since the epoch), or null. */
  lastSnapshot: () => { zxid: number; writtenAtMs: number } | null;
  /** ZooKeeper's trace mask: kept and reported; Paddock's logging does not read it. */
  traceMask: { value: bigint };
}

export type CommandResult = Record<string, unknown> & { error?: string };

export interface AdminCommand {
  readonly name: string;
  readonly aliases: readonly string[];
  /** Reveals session ids or changes server state: needs credentials when admin auth is on. */
  readonly sensitive: boolean;
  /** What Paddock does differently from ZooKeeper, for the docs; '' when nothing. */
  readonly note: string;
  run(ctx: AdminContext, params: URLSearchParams): CommandResult;
}

// ZooTrace's default mask (client requests, client pings, server packets).
export const DEFAULT_TRACE_MASK = 306n;

function command(name: string, aliases: string[], run: AdminCommand['run'], extra: Partial<AdminCommand> = {}): AdminCommand {
  return { name, aliases, run, sensitive: false, note: '', ...extra };
}

export const ADMIN_COMMANDS: readonly AdminCommand[] = [
  command('configuration', ['conf', 'config'], configuration),
  command('connection_stat_reset', ['crst'], (ctx) => (ctx.resetConnectionStats(), {}), { sensitive: true }),
  command('connections', ['cons'], (ctx) => ({ connections: [...ctx.connections()].map((c) => connectionDetail(c)), secure_connections: [] }), { sensitive: true,
    note: 'last_operation, last_cxid, last_response_time and per-connection latencies are not tracked: NA, -1 and 0' }),
  command('dirs', [], (ctx) => ({ datadir_size: ctx.dataDirSize(), logdir_size: ctx.logDirSize() })),
  command('dump', [], dump, { sensitive: true, note: 'expiry times are ms since the epoch (ZooKeeper: its own clock, in ms)' }),
  command('environment', ['env', 'envi'], environment, { note: 'java.* keys carry the Node.js runtime\'s values' }),
  command('get_trace_mask', ['gtmk'], (ctx) => ({ tracemask: ctx.traceMask.value })),
  command('hash', [], () => ({ digests: [] }), { note: 'no tree digests (digest.enabled is not supported): always empty' }),
  command('initial_configuration', ['icfg'], (ctx) => ({ initial_configuration: ctx.initialConfiguration })),
  command('is_read_only', ['isro'], () => ({ read_only: false })),
  command('last_snapshot', ['lsnp'], lastSnapshot),
  command('leader', ['lead'], leader, { note: 'standalone: the error ZooKeeper standalone gives' }),
  command('monitor', ['mntr'], (ctx) => Object.fromEntries(mntrLines(ctx).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v]))),
  command('observer_connection_stat_reset', ['orst'], () => ({}), { note: 'observers keep no per-connection stats here: nothing to reset' }),
  command('observers', ['obsr'], observers, { note: 'each observer is listed by its sid only (ZooKeeper adds its LearnerHandler\'s socket and queue details)' }),
  command('ruok', [], () => ({})),
  command('server_stats', ['srvr'], serverStats),
  command('set_trace_mask', ['stmk'], setTraceMask, { sensitive: true }),
  command('stat_reset', ['srst'], (ctx) => (ctx.server.stats.reset(), {}), { sensitive: true }),
  command('stats', ['stat'], (ctx) => ({ ...serverStats(ctx), connections: [...ctx.connections()].map((c) => connectionBrief(c)), secure_connections: [] })),
  command('system_properties', ['sysp'], systemProperties, { note: 'Node.js has no system properties: the environment keys plus zookeeper.<key> for each zoo.cfg key' }),
  command('voting_view', [], votingView, { note: 'standalone: empty' }),
  command('watch_summary', ['wchs'], watchSummary),
  command('watches', ['wchc'], watchesBySession, { sensitive: true }),
  command('watches_by_path', ['wchp'], watchesByPath, { sensitive: true }),
  command('zabstate', [], zabState, { note: 'standalone: not voting' }),
];

const BY_NAME = new Map<string, AdminCommand>();
for (const c of ADMIN_COMMANDS) for (const n of [c.name, ...c.aliases]) BY_NAME.set(n, c);

export function findCommand(name: string): AdminCommand | undefined {
  return BY_NAME.get(name);
}

function configuration(ctx: AdminContext): CommandResult {
  const c = ctx.config;
  return {
    client_port: ctx.listeningPort,
    data_dir: join(c.dataDir, VERSION_DIR),
    data_log_dir: join(c.dataLogDir, VERSION_DIR),
    tick_time: c.tickTime,
    max_client_cnxns: c.maxClientCnxns,
    min_session_timeout: c.minSessionTimeout > 0 ? c.minSessionTimeout : 2 * c.tickTime,
    max_session_timeout: c.maxSessionTimeout > 0 ? c.maxSessionTimeout : 20 * c.tickTime,
    server_id: c.serverId,
    client_port_listen_backlog: -1,
  };
}

function connectionBrief(c: Connection): Record<string, unknown> {
  return {
    remote_socket_address: `${c.remoteAddress}:${c.remotePort}`,
    interest_ops: 1,
    outstanding_requests: 0,
    packets_received: c.packetsReceived,
    packets_sent: c.packetsSent,
  };
}

function connectionDetail(c: Connection): Record<string, unknown> {
  if (!c.established) return connectionBrief(c);
  return {
    ...connectionBrief(c),
    session_id: c.sessionId,
    last_operation: 'NA',
    established: c.connectedAtMs,
    session_timeout: c.timeoutMs,
    last_cxid: -1,
    last_zxid: c.lastZxidSent,
    last_response_time: 0,
    last_latency: 0,
    min_latency: 0,
    avg_latency: 0,
    max_latency: 0,
  };
}

function dump(ctx: AdminContext): CommandResult {
  const byExpiry: Record<string, bigint[]> = {};
  for (const s of ctx.server.sessions.all()) (byExpiry[String(s.expiresAtMs)] ??= []).push(s.id);
  const ephemerals: Record<string, string[]> = {};
  for (const [id, paths] of ctx.server.tree.allEphemerals()) ephemerals[id.toString()] = [...paths];
  return { expiry_time_to_session_ids: byExpiry, session_id_to_ephemeral_paths: ephemerals };
}

/** ZooKeeper's environment keys, filled with what this Node.js process has. */
export function environmentOf(): Record<string, string> {
  const heap = getHeapStatistics();
  const mb = (bytes: number): string => `${Math.round(bytes / 1048576)}MB`;
  let user = { username: '', homedir: homedir() };
  try {
    user = userInfo();
  } catch {
    // No passwd entry for this uid (some containers): leave the name empty.
  }
  return {
    'zookeeper.version': VERSION_LINE,
    'host.name': hostname(),
    'java.version': process.versions.node,
    'java.vendor': 'Node.js',
    'java.home': dirname(dirname(process.execPath)),
    'java.class.path': process.argv[1] ?? '',
    'java.library.path': '',
    'java.io.tmpdir': tmpdir(),
    'java.compiler': '<NA>',
    'os.name': process.platform === 'linux' ? 'Linux' : process.platform,
    'os.arch': arch() === 'x64' ? 'amd64' : arch(),
    'os.version': release(),
    'user.name': user.username,
    'user.home': user.homedir,
    'user.dir': process.cwd(),
    'os.memory.free': mb(Math.min(freemem(), heap.heap_size_limit - heap.used_heap_size)),
    'os.memory.max': mb(Math.min(totalmem(), heap.heap_size_limit)),
    'os.memory.total': mb(heap.total_heap_size),
  };
}

function environment(): CommandResult {
  return environmentOf();
}

function lastSnapshot(ctx: AdminContext): CommandResult {
  const snap = ctx.lastSnapshot();
  // ZooKeeper: the zxid in hex without 0x, the time in seconds.
  if (!snap) return { zxid: '0', timestamp: 0 };
  return { zxid: snap.zxid.toString(16), timestamp: Math.floor(snap.writtenAtMs / 1000) };
}

function serverStats(ctx: AdminContext): CommandResult {
  const src = metricsSource(ctx);
  const g = zookeeperGauges(src);
  const s = ctx.server.stats;
  const responses = { last_buffer_size: s.lastResponseBytes, min_buffer_size: s.minResponseBytes, max_buffer_size: s.maxResponseBytes };
  const q = ctx.server.quorumStatus?.() ?? null;
  return {
    version: VERSION_LINE,
    read_only: false,
    server_stats: {
      packets_sent: s.packetsSent,
      packets_received: s.packetsReceived,
      fsync_threshold_exceed_count: s.fsyncThresholdExceedCount,
      client_response_stats: responses,
      provider_null: false,
      data_dir_size: ctx.dataDirSize(),
      log_dir_size: ctx.logDirSize(),
      server_state: src.serverState,
      last_processed_zxid: ctx.server.lastZxid(),
      outstanding_requests: g.outstanding_requests,
      avg_latency: g.avg_latency,
      max_latency: g.max_latency,
      min_latency: g.min_latency,
      num_alive_client_connections: g.num_alive_connections,
      uptime: g.uptime,
      auth_failed_count: g.auth_failed_count,
      non_mtlsremote_conn_count: 0,
      non_mtlslocal_conn_count: 0,
    },
    client_response: responses,
    // LeaderZooKeeperServer adds its proposal sizes (BufferStats) before node_count.
    ...(q?.mode === 'leader' ? { proposal_stats: { last_buffer_size: q.proposalSizes.last, min_buffer_size: q.proposalSizes.min, max_buffer_size: q.proposalSizes.max } } : {}),
    node_count: g.znode_count,
  };
}

function setTraceMask(ctx: AdminContext, params: URLSearchParams): CommandResult {
  const text = params.get('traceMask');
  if (text === null) return { error: 'setTraceMask requires long traceMask argument' };
  const mask = /^[-+]?\d+$/.test(text) ? BigInt(text) : null;
  if (mask === null || mask < -(2n ** 63n) || mask >= 2n ** 63n) return { error: `setTraceMask requires long traceMask argument, got ${text}` };
  ctx.traceMask.value = mask;
  return { tracemask: mask };
}

function systemProperties(ctx: AdminContext): CommandResult {
  const props: Record<string, string> = { ...environmentOf() };
  for (const [key, value] of ctx.config.raw) props[key.startsWith('zookeeper.') ? key : `zookeeper.${key}`] = value;
  return Object.fromEntries(Object.entries(props).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function watchSummary(ctx: AdminContext): CommandResult {
  const sum = ctx.server.watches.summary();
  return { num_connections: sum.connections, num_paths: sum.paths, num_total_watches: sum.total };
}

function watchesBySession(ctx: AdminContext): CommandResult {
  const out: Record<string, string[]> = {};
  for (const [link, paths] of ctx.server.watches.pathsByWatcher()) out[link.sessionId.toString()] = [...paths];
  return { session_id_to_watched_paths: out };
}

function watchesByPath(ctx: AdminContext): CommandResult {
  const out: Record<string, bigint[]> = {};
  for (const [path, links] of ctx.server.watches.watchersByPath()) out[path] = links.map((l) => l.sessionId);
  return { path_to_session_ids: out };
}

// ---- ensemble commands: null quorum status means a standalone server ----

function quorumOf(ctx: AdminContext): QuorumReport | null {
  return ctx.server.quorumStatus?.() ?? null;
}

/** LeaderCommand: whether this member leads, and the leader's id and quorum host ("" while looking). */
function leader(ctx: AdminContext): CommandResult {
  const q = quorumOf(ctx);
  if (q === null) return { error: 'server is not initialized' };
  const spec = q.leaderId === null ? undefined : ctx.config.servers.find((s) => BigInt(s.id) === q.leaderId);
  return { is_leader: q.mode === 'leader', leader_id: q.leaderId === null ? -1 : Number(q.leaderId), leader_ip: spec?.host ?? '' };
}

/** VotingViewCommand: the voting members by sid; only this server's own client address is known. */
function votingView(ctx: AdminContext): CommandResult {
  if (quorumOf(ctx) === null) return { current_config: {} };
  const c = ctx.config;
  const view: Record<string, unknown> = {};
  for (const s of c.servers) {
    if (s.type !== 'participant') continue;
    view[String(s.id)] = {
      server_addresses: s.addresses.map((a) => `${a.host}:${a.quorumPort}`),
      election_addresses: s.addresses.map((a) => `${a.host}:${a.electionPort}`),
      client_address: s.id === c.serverId ? ownClientAddress(ctx) : '',
      learner_type: s.type,
    };
  }
  return { current_config: view };
}

/** ZabStateCommand: this member's addresses, whether it votes, its last applied zxid and Zab phase. */
function zabState(ctx: AdminContext): CommandResult {
  const q = quorumOf(ctx);
  if (q === null) return { voting: false, zabstate: '' };
  const c = ctx.config;
  const me = c.servers.find((s) => s.id === c.serverId);
  const zxid = BigInt(ctx.server.lastZxid());
  return {
    myid: c.serverId,
    is_leader: q.mode === 'leader',
    quorum_address: addressView((me?.addresses ?? []).map((a) => [a.host, a.quorumPort])),
    election_address: addressView((me?.addresses ?? []).map((a) => [a.host, a.electionPort])),
    client_address: ownClientAddress(ctx),
    voting: me?.type === 'participant',
    last_zxid: `0x${zxid.toString(16)}`,
    zab_epoch: Number(zxid >> 32n),
    zab_counter: Number(zxid & 0xffffffffn),
    zabstate: zabPhase(q),
  };
}

/** QuorumPeer.ZabState's name: election while looking, else the phase from the detailed peer state. */
function zabPhase(q: QuorumReport): string {
  return /- (\w+)$/.exec(q.peerState)?.[1] ?? 'election';
}

/** How Jackson renders ZooKeeper's MultipleAddresses (every bean getter, in its order). */
function addressView(addrs: [string, number][]): Record<string, unknown> {
  const all = addrs.map(([h, p]) => `${h}:${p}`);
  return {
    empty: all.length === 0,
    all_addresses: all,
    all_reachable_addresses: all,
    one: all[0] ?? '',
    reachable_address: all[0] ?? '',
    wildcard_addresses: addrs.map(([, p]) => `0.0.0.0:${p}`),
    all_ports: addrs.map(([, p]) => p),
    all_host_strings: addrs.map(([h]) => h),
    all_reachable_addresses_or_all: all,
    reachable_or_one: all[0] ?? '',
  };
}

function ownClientAddress(ctx: AdminContext): string {
  return `${ctx.config.clientPortAddress}:${ctx.listeningPort}`;
}

/** ObserverCommand: on a leader, its synced observers; elsewhere none. */
function observers(ctx: AdminContext): CommandResult {
  const q = quorumOf(ctx);
  const ids = q?.mode === 'leader' ? q.syncedObserverIds : [];
  return { synced_observers: ids.length, observers: ids.map((sid) => ({ sid: Number(sid) })) };
}
