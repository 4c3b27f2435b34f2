/**
 * Server configuration: ZooKeeper's zoo.cfg keys, typed, with ZooKeeper's defaults.
 *
 * `defaultConfig()` is the embedded configuration used by `npm start` / `paddock server` without a
 * zoo.cfg and by tests. It differs from what ZooKeeper would do with an empty zoo.cfg in three
 * documented ways: tickTime is 2000 (the value of ZooKeeper's sample zoo.cfg; ZooKeeper's code
 * default is 3000), dataDir is `data` (the CLI resolves it against the current directory), and the
 * four-letter words ruok, srvr, stat, mntr, conf and isro are allowed (ZooKeeper allows only srvr).
 * A zoo.cfg read by `parseZooCfg` (config-parse.ts) gets ZooKeeper's own defaults instead.
 */

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
  /** Stored only: TLS is not supported yet. */
  secureClientPort: number | null;
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
  enforceQuota: boolean;
  snapCount: number;
  preAllocSizeKb: number;
  forceSync: boolean;
  autopurgeSnapRetainCount: number;
  autopurgePurgeIntervalHours: number;
  containerCheckIntervalMs: number;
  containerMaxPerMinute: number;
  containerMaxNeverUsedIntervalMs: number;
  /** Admin HTTP server settings (stored; the admin server comes later). */
  adminEnableServer: boolean;
  adminServerAddress: string;
  adminServerPort: number;
  /** metricsProvider.className, and every other metricsProvider.* key without the prefix. */
  metricsProviderClassName: string;
  metricsProviderConfig: ReadonlyMap<string, string>;
  standaloneEnabled: boolean;
  reconfigEnabled: boolean;
  /** server.N lines, sorted by id. Empty, or one voting server with standaloneEnabled: standalone. */
  servers: readonly QuorumServerSpec[];
  peerType: 'participant' | 'observer';
  /** Bytes of replies queued for one connection before it stops being read. */
  maxOutboundBytesPerConnection: number;
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
    secureClientPort: null,
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
    enforceQuota: false,
    snapCount: 100000,
    preAllocSizeKb: 65536,
    forceSync: true,
    autopurgeSnapRetainCount: 3,
    autopurgePurgeIntervalHours: 0,
    containerCheckIntervalMs: 60000,
    containerMaxPerMinute: 10000,
    containerMaxNeverUsedIntervalMs: 0,
    adminEnableServer: true,
    adminServerAddress: '0.0.0.0',
    adminServerPort: 8080,
    metricsProviderClassName: DEFAULT_METRICS_PROVIDER,
    metricsProviderConfig: new Map(),
    standaloneEnabled: true,
    reconfigEnabled: false,
    servers: [],
    peerType: 'participant',
    maxOutboundBytesPerConnection: 8 * 1024 * 1024,
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

/**
 * The defaults with `partial` laid over them (undefined fields ignored), validated. When only
 * dataDir is given, dataLogDir follows it, as in ZooKeeper.
 */
export function configFromOverrides(partial: Partial<ServerConfig> = {}): ServerConfig {
  const defined: Partial<Record<keyof ServerConfig, unknown>> = {};
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) defined[k as keyof ServerConfig] = v;
  }
  const cfg = { ...defaultConfig(), ...(defined as Partial<ServerConfig>) };
  if (partial.dataDir !== undefined && partial.dataLogDir === undefined) cfg.dataLogDir = partial.dataDir;
  validateConfig(cfg);
  return cfg;
}

function checkPort(key: string, value: number, allowZero: boolean): void {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw new ConfigError(`invalid ${key} '${value}': a port must be an integer from ${allowZero ? 0 : 1} to 65535`);
  }
}

function checkInt(key: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`invalid ${key} '${value}': expected an integer >= ${min}`);
  }
}

/** Checks the invariants every configuration must hold; throws ConfigError. */
export function validateConfig(cfg: ServerConfig): void {
  checkInt('tickTime', cfg.tickTime, 1);
  checkInt('initLimit', cfg.initLimit, 0);
  checkInt('syncLimit', cfg.syncLimit, 0);
  if (typeof cfg.dataDir !== 'string' || cfg.dataDir === '') throw new ConfigError('dataDir is not set');
  if (typeof cfg.dataLogDir !== 'string' || cfg.dataLogDir === '') throw new ConfigError('dataLogDir is empty');
  checkPort('clientPort', cfg.clientPort, true);
  if (cfg.secureClientPort !== null) checkPort('secureClientPort', cfg.secureClientPort, false);
  checkPort('admin.serverPort', cfg.adminServerPort, true);
  checkInt('maxClientCnxns', cfg.maxClientCnxns, 0);
  checkInt('maxCnxns', cfg.maxCnxns, 0);
  checkInt('minSessionTimeout', cfg.minSessionTimeout, -1);
  checkInt('maxSessionTimeout', cfg.maxSessionTimeout, -1);
  const { min, max } = sessionTimeoutBounds(cfg);
  if (min > max) {
    throw new ConfigError(
      `minSessionTimeout (${min}) must not be larger than maxSessionTimeout (${max})` +
        (cfg.minSessionTimeout === -1 || cfg.maxSessionTimeout === -1 ? ` (defaults are 2 and 20 times tickTime ${cfg.tickTime})` : ''),
    );
  }
  checkInt('globalOutstandingLimit', cfg.globalOutstandingLimit, 1);
  checkInt('jute.maxbuffer', cfg.juteMaxBuffer, 1);
  checkInt('snapCount', cfg.snapCount, 2);
  checkInt('preAllocSize', cfg.preAllocSizeKb, 1);
  checkInt('autopurge.snapRetainCount', cfg.autopurgeSnapRetainCount, 3);
  checkInt('autopurge.purgeInterval', cfg.autopurgePurgeIntervalHours, 0);
  checkInt('znode.container.checkIntervalMs', cfg.containerCheckIntervalMs, 1);
  checkInt('znode.container.maxPerMinute', cfg.containerMaxPerMinute, 1);
  checkInt('znode.container.maxNeverUsedIntervalMs', cfg.containerMaxNeverUsedIntervalMs, 0);
  checkInt('maxOutboundBytesPerConnection', cfg.maxOutboundBytesPerConnection, 1);
  checkInt('serverId', cfg.serverId, 0);
}
