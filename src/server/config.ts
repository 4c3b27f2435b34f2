/** Server configuration: ZooKeeper's zoo.cfg keys, typed, with ZooKeeper's defaults. */

export interface ServerConfig {
  tickTime: number;
  dataDir: string;
  dataLogDir: string;
  clientPort: number;
  clientPortAddress: string;
  /** Per client IP; 0 = unlimited. */
  maxClientCnxns: number;
  /** Total connections; 0 = unlimited. */
  maxCnxns: number;
  minSessionTimeout: number;
  maxSessionTimeout: number;
  globalOutstandingLimit: number;
  /** Four-letter words allowed; '*' allows all. */
  fourLetterWhitelist: ReadonlySet<string>;
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
  /** Bytes of replies queued for one connection before it stops being read. */
  maxOutboundBytesPerConnection: number;
  /** Server id (myid); 0 when standalone without a myid file. */
  serverId: number;
  /** Every key=value of the file, known or not, as read. */
  raw: ReadonlyMap<string, string>;
}

export function defaultConfig(): ServerConfig {
  return {
    tickTime: 2000,
    dataDir: 'data',
    dataLogDir: 'data',
    clientPort: 2181,
    clientPortAddress: '0.0.0.0',
    maxClientCnxns: 60,
    maxCnxns: 0,
    minSessionTimeout: -1,
    maxSessionTimeout: -1,
    globalOutstandingLimit: 1000,
    fourLetterWhitelist: new Set(['srvr']),
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
    maxOutboundBytesPerConnection: 8 * 1024 * 1024,
    serverId: 0,
    raw: new Map(),
  };
}

/** Effective session timeout bounds: -1 means 2x and 20x tickTime, as in ZooKeeper. */
export function sessionTimeoutBounds(cfg: ServerConfig): { min: number; max: number } {
  const min = cfg.minSessionTimeout === -1 ? cfg.tickTime * 2 : cfg.minSessionTimeout;
  const max = cfg.maxSessionTimeout === -1 ? cfg.tickTime * 20 : cfg.maxSessionTimeout;
  return { min, max };
}
