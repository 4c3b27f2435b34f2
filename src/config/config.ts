/**
 * Server configuration: ZooKeeper's zoo.cfg keys, typed, with ZooKeeper's defaults.
 *
 * `defaultConfig()` is the embedded configuration used by `npm start` / `paddock server` without a
 * zoo.cfg and by tests. It differs from what ZooKeeper would do with an empty zoo.cfg in three
 * documented ways: tickTime is 2000 (the value of ZooKeeper's sample zoo.cfg; ZooKeeper's code
 * default is 3000), dataDir is `data` (the CLI resolves it against the current directory), and the
 * four-letter words ruok, srvr, stat, mntr, conf and isro are allowed (ZooKeeper allows only srvr).
 * A zoo.cfg read by `parseZooCfg` (zoo-cfg.ts) gets ZooKeeper's own defaults instead.
 */
import { defaultAuthConfig, type AuthConfig } from '../auth/config.js';

/** One `server.N=host:quorumPort:electionPort[:type][;[clientAddr:]clientPort]` line. */
export interface QuorumServerAddress {
  host: string;
  quorumPort: number;
  electionPort: number;
}

export interface QuorumServerSpec {
  /** N of `server.N`. */
  id: number;
  /** First (usually only) address; more are given with `|` (multiAddress). */
  host: string;
  quorumPort: number;
  electionPort: number;
  addresses: readonly QuorumServerAddress[];
  type: 'participant' | 'observer';
  /** From the `;[addr:]port` part, or null when absent. */
  clientPortAddress: string | null;
  clientPort: number | null;
}

export interface ServerConfig {
  tickTime: number;
  /** Ticks a follower may take to connect and sync to a leader; 0 = not set (standalone). */
  initLimit: number;
  /** Ticks a follower may lag behind a leader; 0 = not set (standalone). */
  syncLimit: number;
  dataDir: string;
  dataLogDir: string;
  /** 0 = pick a free port (tests); a zoo.cfg must set it. */
  clientPort: number;
  clientPortAddress: string;
  /** False when zoo.cfg sets only secureClientPort: no plain client port is opened. */
  clientPortEnabled: boolean;
  /** Port of TLS client connections (see src/server/tls.ts), or null for none. */
  secureClientPort: number | null;
  secureClientPortAddress: string;
  /** client.portUnification: the plain client port accepts TLS connections too. */
  clientPortUnification: boolean;
  /** client.certReload: key and trust stores are read again when their files change. */
  clientCertReload: boolean;
  /** The ssl.* settings of the client port by name without the prefix (keyStore.location, ...), as written. */
  ssl: ReadonlyMap<string, string>;
  /** zookeeper.X509AuthenticationProvider.superUser: the certificate subject that passes every ACL check. */
  x509SuperUser: string | null;
  /** serverCnxnFactory, as written (ZooKeeper needs NettyServerCnxnFactory for TLS; Paddock has one network layer). */
  serverCnxnFactory: string;
  /** request_throttle_max_requests: requests in process before connections stop being read (0 = off). */
  requestThrottleMaxRequests: number;
  /** request_throttle_stall_time: longest wait before a stalled connection checks the throttle again. */
  requestThrottleStallTimeMs: number;
  /** connection_throttle_tokens / fill_time / fill_count: ZooKeeper's token bucket of new connections (0 tokens = off). */
  connectionThrottleTokens: number;
  connectionThrottleFillTimeMs: number;
  connectionThrottleFillCount: number;
  /** paddock.connectionRatePerIp: new connections per second one IP address may open (0 = no limit). */
  connectionRatePerIp: number;
  /** paddock.requestRatePerSession: requests per second one connection may send before it is read more slowly (0 = no limit). */
  requestRatePerSession: number;
  /** paddock.maxWatchesPerSession: watches one connection may hold (0 = no limit). */
  maxWatchesPerSession: number;
  /** Per client IP; 0 = unlimited. */
  maxClientCnxns: number;
  /** Total connections; 0 = unlimited. */
  maxCnxns: number;
  minSessionTimeout: number;
  maxSessionTimeout: number;
  globalOutstandingLimit: number;
  /** Four-letter words allowed; '*' allows all. */
  fourLetterWhitelist: ReadonlySet<string>;
  /** readonlymode.enabled: adds isro to the whitelist. */
  readOnlyModeEnabled: boolean;
  extendedTypesEnabled: boolean;
  /** Largest frame and data size accepted (jute.maxbuffer). */
  juteMaxBuffer: number;
  /** `super:<base64 sha1>` from zookeeper.DigestAuthenticationProvider.superDigest, or null. */
  superDigest: string | null;
  skipACL: boolean;
  /** SASL (JAAS, DIGEST-MD5) and enforced authentication: see src/auth/config.ts. */
  auth: AuthConfig;
  /**
   * paddock.sessionPasswords: 'secret' derives session passwords from the data directory's secret;
   * 'zookeeper' uses ZooKeeper's public formula, only for ensembles shared with ZooKeeper servers.
   */
  sessionPasswords: 'secret' | 'zookeeper';
  enforceQuota: boolean;
  snapCount: number;
  /** Committed txns an ensemble leader keeps in memory to DIFF learners from (ZooKeeper's commitLogCount). */
  commitLogCount: number;
  /** A learner older than those is DIFFed from the log when its txns are under this × the tree's size; negative: never. */
  snapshotSizeFactor: number;
  preAllocSizeKb: number;
  forceSync: boolean;
  autopurgeSnapRetainCount: number;
  autopurgePurgeIntervalHours: number;
  containerCheckIntervalMs: number;
  containerMaxPerMinute: number;
  containerMaxNeverUsedIntervalMs: number;
  /** The admin HTTP server (src/admin). */
  /** fsync.warningthresholdms: a slower txn log fsync is logged and counted. */
  fsyncWarningThresholdMs: number;
  adminEnableServer: boolean;
  adminServerAddress: string;
  adminServerPort: number;
  /** admin.commandURL: the path the commands answer under. */
  adminCommandUrl: string;
  /** admin.idleTimeout (ms): idle admin HTTP connections are closed. */
  adminIdleTimeoutMs: number;
  /** metricsProvider.className, and every other metricsProvider.* key without the prefix. */
  metricsProviderClassName: string;
  metricsProviderConfig: ReadonlyMap<string, string>;
  standaloneEnabled: boolean;
  /** leaderServes: whether the leader of an ensemble accepts client connections. */
  leaderServes: boolean;
  /** cnxTimeout (ms): opening an election connection and reading its preamble. */
  cnxTimeoutMs: number;
  /** quorumListenOnAllIPs: listen on the quorum and election ports on every address. */
  quorumListenOnAllIPs: boolean;
  /** sslQuorum: the election and quorum ports speak TLS (src/server/quorum/quorum-tls.ts). */
  sslQuorum: boolean;
  /** sslQuorumReloadCertFiles: the ssl.quorum.* stores are read again when their files change. */
  sslQuorumReloadCertFiles: boolean;
  /** portUnification: the election and quorum ports accept TLS and plain connections. */
  quorumPortUnification: boolean;
  /** The ssl.quorum.* settings by name without the prefix (keyStore.location, ...), as written. */
  sslQuorumSettings: ReadonlyMap<string, string>;
  reconfigEnabled: boolean;
  /** server.N lines, sorted by id. Empty, or one voting server with standaloneEnabled: standalone. */
  servers: readonly QuorumServerSpec[];
  peerType: 'participant' | 'observer';
  /** Bytes of replies queued for one connection before it stops being read. */
  maxOutboundBytesPerConnection: number;
  /** Bytes of unread replies across all connections before the ones holding them stop being read. */
  maxOutboundBytesTotal: number;
  /**
   * Ms a connection may take from accept to a completed handshake before it is closed
   * (zookeeper.nio.sessionlessCnxnTimeout).
   */
  sessionlessCnxnTimeoutMs: number;
  /** Server id (myid); 0 when standalone without a myid file. */
  serverId: number;
  /**
   * Start although txns are missing from the data directory (a lost log segment), replaying
   * what is left. Set by `paddock server --accept-data-loss` for one start, never by zoo.cfg.
   */
  acceptDataLoss: boolean;
  /** Every key=value of the file, known or not, as read. */
  raw: ReadonlyMap<string, string>;
}

/** Thrown for an invalid configuration; the message names the key and the bad value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.impl.DefaultMetricsProvider';
export const PROMETHEUS_PROVIDER_CLASS = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';

export const NIO_CNXN_FACTORY = 'org.apache.zookeeper.server.NIOServerCnxnFactory';
export const NETTY_CNXN_FACTORY = 'org.apache.zookeeper.server.NettyServerCnxnFactory';
/** Enough for a client caching a large tree; a watch costs the server roughly 100-200 bytes. */
export const DEFAULT_MAX_WATCHES_PER_SESSION = 1_000_000;

/** Every four-letter word ZooKeeper knows. */
export const FOUR_LETTER_WORDS: readonly string[] = [
  'conf', 'cons', 'crst', 'dirs', 'dump', 'envi', 'gtmk', 'ruok', 'stmk', 'srst', 'srvr', 'stat',
  'wchc', 'wchp', 'wchs', 'mntr', 'isro', 'hash',
];

/** The embedded whitelist (ZooKeeper's own default is srvr only). */
export const EMBEDDED_FOUR_LETTER_WHITELIST: readonly string[] = ['ruok', 'srvr', 'stat', 'mntr', 'conf', 'isro'];

export function defaultConfig(): ServerConfig {
  return {
    tickTime: 2000,
    initLimit: 0,
    syncLimit: 0,
    dataDir: 'data',
    dataLogDir: 'data',
    clientPort: 2181,
    clientPortAddress: '0.0.0.0',
    clientPortEnabled: true,
    secureClientPort: null,
    secureClientPortAddress: '0.0.0.0',
    clientPortUnification: false,
    clientCertReload: false,
    ssl: new Map(),
    x509SuperUser: null,
    serverCnxnFactory: NIO_CNXN_FACTORY,
    requestThrottleMaxRequests: 0,
    requestThrottleStallTimeMs: 100,
    connectionThrottleTokens: 0,
    connectionThrottleFillTimeMs: 1,
    connectionThrottleFillCount: 1,
    connectionRatePerIp: 0,
    requestRatePerSession: 0,
    maxWatchesPerSession: DEFAULT_MAX_WATCHES_PER_SESSION,
    maxClientCnxns: 60,
    maxCnxns: 0,
    minSessionTimeout: -1,
    maxSessionTimeout: -1,
    globalOutstandingLimit: 1000,
    fourLetterWhitelist: new Set(EMBEDDED_FOUR_LETTER_WHITELIST),
    readOnlyModeEnabled: false,
    extendedTypesEnabled: false,
    juteMaxBuffer: 0xfffff,
    superDigest: null,
    skipACL: false,
    auth: defaultAuthConfig(),
    sessionPasswords: 'secret',
    enforceQuota: false,
    snapCount: 100000,
    commitLogCount: 500,
    snapshotSizeFactor: 0.33,
    preAllocSizeKb: 65536,
    forceSync: true,
    autopurgeSnapRetainCount: 3,
    autopurgePurgeIntervalHours: 0,
    containerCheckIntervalMs: 60000,
    containerMaxPerMinute: 10000,
    containerMaxNeverUsedIntervalMs: 0,
    fsyncWarningThresholdMs: 1000,
    // ZooKeeper starts its AdminServer unless told not to; Paddock only when asked (see
    // docs/compatibility.md: an unauthenticated port on every address, and 8080 collides).
    adminEnableServer: false,
    adminServerAddress: '0.0.0.0',
    adminServerPort: 8080,
    adminCommandUrl: '/commands',
    adminIdleTimeoutMs: 30000,
    metricsProviderClassName: DEFAULT_METRICS_PROVIDER,
    metricsProviderConfig: new Map(),
    standaloneEnabled: true,
    leaderServes: true,
    cnxTimeoutMs: 5000,
    quorumListenOnAllIPs: false,
    sslQuorum: false,
    sslQuorumReloadCertFiles: false,
    quorumPortUnification: false,
    sslQuorumSettings: new Map(),
    reconfigEnabled: false,
    servers: [],
    peerType: 'participant',
    maxOutboundBytesPerConnection: 8 * 1024 * 1024,
    maxOutboundBytesTotal: 32 * 1024 * 1024,
    sessionlessCnxnTimeoutMs: 10000,
    serverId: 0,
    acceptDataLoss: false,
    raw: new Map(),
  };
}

/** Effective session timeout bounds: -1 means 2x and 20x tickTime, as in ZooKeeper. */
export function sessionTimeoutBounds(cfg: ServerConfig): { min: number; max: number } {
  const min = cfg.minSessionTimeout === -1 ? cfg.tickTime * 2 : cfg.minSessionTimeout;
  const max = cfg.maxSessionTimeout === -1 ? cfg.tickTime * 20 : cfg.maxSessionTimeout;
  return { min, max };
}

/** True when the configuration describes an ensemble (ZooKeeper's QuorumPeerConfig.isDistributed). */
export function isDistributed(cfg: ServerConfig): boolean {
  if (cfg.servers.length === 0) return false;
  const voting = cfg.servers.filter((s) => s.type === 'participant').length;
  return !cfg.standaloneEnabled || voting > 1;
}

/** Whether a four-letter word may run under this configuration. */
export function fourLetterWordAllowed(cfg: ServerConfig, word: string): boolean {
  return cfg.fourLetterWhitelist.has('*') || cfg.fourLetterWhitelist.has(word);
}
