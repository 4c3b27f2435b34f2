/**
 * The one table of zoo.cfg keys. Each key ZooKeeper 3.8 reads from zoo.cfg (its own keys, and
 * every `zookeeper.K` system property, which zoo.cfg sets by naming K) is declared here once:
 * its type, ZooKeeper's default, the accepted range, what it does, and what Paddock does with
 * it. The parser (zoo-cfg.ts), its warnings and refusals, the `conf` four-letter word and the
 * table in docs/compatibility.md all read this table. Adding a key means adding one entry (and,
 * for a key Paddock honours, its ServerConfig field and default in config.ts), then
 * `npm run docs:config`.
 *
 * What Paddock does with a key (`use`):
 * - honoured: Paddock does what ZooKeeper does with it.
 * - ensemble: an ensemble setting Paddock does not implement; it has no effect, and a warning says so.
 * - ignored: accepted, not acted on; a warning at start names it.
 * - refused: acting without it would make the server less safe than the operator asked for
 *   (TLS, authentication, data directory checks), so the server does not start.
 * `when` narrows ignored and refused keys to the values that ask for something: other values
 * describe what Paddock does anyway, and pass silently.
 */
import {
  ConfigError, DEFAULT_MAX_WATCHES_PER_SESSION, DEFAULT_METRICS_PROVIDER, NETTY_CNXN_FACTORY, NIO_CNXN_FACTORY, PROMETHEUS_PROVIDER_CLASS,
  type QuorumServerSpec, type ServerConfig,
} from './config.js';
import { SASL_PROVIDER_CLASS } from '../auth/config.js';
import { parseServerLine } from './servers.js';
import { parseDecodedInt, parseIntValue, parsePort, parseTrueFalse, parseYesNo } from './values.js';

export type KeyUse = 'honoured' | 'ensemble' | 'ignored' | 'refused';

/** The values of a key for which its `use` applies; other values pass silently. */
export interface KeyCondition {
  /** For the docs: "when true", "unless false", ... */
  readonly text: string;
  readonly test: (value: string) => boolean;
}

/** What parsing has gathered so far; keys write into it, zoo-cfg.ts finishes it. */
export interface ParseState {
  readonly cfg: ServerConfig;
  readonly warnings: string[];
  dataDirText: string | null;
  dataLogDirText: string | null;
  clientPortAddressText: string | null;
  whitelistText: string | null;
  peerTypeSet: boolean;
  /** dynamicConfigFile as written; the caller reads that file's server lines (parseZooCfg). */
  dynamicConfigFileText: string | null;
  readonly servers: Map<number, QuorumServerSpec>;
  readonly metrics: Map<string, string>;
}

export interface ConfigKey {
  /** The name in zoo.cfg; a family is written with its variable part (`server.N`). */
  readonly key: string;
  /** The names of a family. */
  readonly pattern?: RegExp;
  /** The members of a family, when ZooKeeper has a fixed list of them (used for suggestions). */
  readonly names?: readonly string[];
  /** Other spellings read the same way. */
  readonly aliases?: readonly string[];
  readonly type: string;
  /** ZooKeeper's default, as text; '' when there is none. */
  readonly default: string;
  /** Valid values, for the docs; `>= min` when not given. */
  readonly range?: string;
  /** What it does in ZooKeeper. */
  readonly doc: string;
  readonly use: KeyUse;
  readonly when?: KeyCondition;
  /** Why Paddock does not honour it (ignored, ensemble, refused). */
  readonly why?: string;
  /** The ServerConfig field an integer or port key is stored in, and its smallest valid value. */
  readonly field?: keyof ServerConfig;
  readonly min?: number;
  /**
   * Reads and checks the value; honoured keys store it. `name` is the spelling used. Without it,
   * a key with a `field` stores its value there as an integer (a port for type 'port').
   */
  readonly apply?: (value: string, state: ParseState, name: string) => void;
  /** The value the `conf` four-letter word shows for this key. */
  readonly conf?: (cfg: ServerConfig) => string | number;
}

const lower = (v: string): string => v.trim().toLowerCase();
const WHEN_TRUE: KeyCondition = { text: 'when true', test: (v) => lower(v) === 'true' };
const UNLESS_FALSE: KeyCondition = { text: 'unless false', test: (v) => lower(v) !== 'false' };
const WHEN_FALSE: KeyCondition = { text: 'when false', test: (v) => lower(v) === 'false' };
const WHEN_SET: KeyCondition = { text: 'when set', test: (v) => v.trim() !== '' };

const NOT_EXPOSED = 'Paddock\'s AdminServer speaks plain HTTP/1.1 and has only ZooKeeper 3.8\'s commands';
const NO_HIERARCHY = 'Paddock counts votes by majority only; hierarchical quorums (groups and weights) are not implemented';
const NO_KERBEROS = 'Paddock supports SASL DIGEST-MD5 only, not GSSAPI/Kerberos (it has no Kerberos realm, and maps names by the DEFAULT rule)';
const NO_HTTPS = 'Paddock\'s AdminServer does not serve HTTPS';
const NO_REVOCATION = 'Paddock does not check certificate revocation, which this setting asks for';
const JVM = 'tunes a part of the Java implementation Paddock does not have';
const ENSEMBLE = 'Paddock does not implement it for an ensemble (yet)';

// Table helpers: most keys differ only in their text.
function ignored(key: string, type: string, dflt: string, doc: string, why: string, extra: Partial<ConfigKey> = {}): ConfigKey {
  return { key, type, default: dflt, doc, use: 'ignored', why, ...extra };
}
function ensemble(key: string, type: string, dflt: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey {
  return { key, type, default: dflt, doc, use: 'ensemble', why: ENSEMBLE, ...extra };
}
function tuning(key: string, type: string, dflt: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey {
  return ignored(key, type, dflt, doc, JVM, extra);
}
function trueFalseField(field: keyof ServerConfig): (value: string, s: ParseState, name: string) => void {
  return (value, s, name) => {
    (s.cfg as unknown as Record<string, unknown>)[field] = parseTrueFalse(name, value);
  };
}
const checkTrueFalse = (value: string, _s: ParseState, name: string): void => void parseTrueFalse(name, value);
const checkInt = (value: string, _s: ParseState, name: string): void => void parseIntValue(name, value);

/** The client port's TLS settings Paddock reads (src/server/tls.ts); crl, ocsp and context.supplier.class have entries of their own. */
const SSL_CLIENT_SETTINGS =
  'keyStore.location|keyStore.password|keyStore.passwordPath|keyStore.type|trustStore.location|trustStore.password|' +
  'trustStore.passwordPath|trustStore.type|protocol|enabledProtocols|ciphersuites|' +
  'hostnameVerification|clientAuth|handshakeDetectionTimeoutMillis|authProvider';

/**
 * ssl.X or zookeeper.ssl.X (ssl.quorum.X for `family` quorum): stores X's value for
 * src/server/tls.ts, checking the few values that are words.
 */
function storeSsl(value: string, s: ParseState, name: string, family: 'client' | 'quorum' = 'client'): void {
  const setting = name.replace(family === 'client' ? /^(zookeeper\.)?ssl\./ : /^(zookeeper\.)?ssl\.quorum\./, '');
  const word = lower(value);
  if (setting === 'clientAuth' && !['', 'none', 'want', 'need'].includes(word)) {
    throw new ConfigError(`invalid ${name} '${value}': expected none, want or need`);
  }
  if (setting === 'authProvider' && value.trim() !== '' && value.trim() !== 'x509') {
    throw new ConfigError(`invalid ${name} '${value}': Paddock's only x509 authentication provider is x509`);
  }
  if (setting === 'hostnameVerification') parseTrueFalse(name, value);
  if (setting === 'handshakeDetectionTimeoutMillis') parseIntValue(name, value, 1);
  ((family === 'client' ? s.cfg.ssl : s.cfg.sslQuorumSettings) as Map<string, string>).set(setting, value);
}

export const CONFIG_KEYS: readonly ConfigKey[] = [
  // --- Basic ----------------------------------------------------------------------------------
  {
    key: 'tickTime', field: 'tickTime', min: 1, type: 'integer (ms)', default: '3000', use: 'honoured',
    doc: 'The basic time unit: heartbeats, session expiry and the default session timeout bounds are counted in ticks.', conf: (c) => c.tickTime,
  },
  {
    key: 'dataDir', type: 'path', default: '', range: 'required', use: 'honoured',
    doc: 'Directory of the snapshots, the myid file and (unless dataLogDir is set) the transaction log.',
    apply: (v, s) => void (s.dataDirText = v),
  },
  {
    key: 'dataLogDir', type: 'path', default: 'dataDir', use: 'honoured',
    doc: 'Directory of the transaction log, ideally on its own device.',
    apply: (v, s) => void (s.dataLogDirText = v),
  },
  {
    key: 'clientPort', field: 'clientPort', min: 0, type: 'port', default: '', range: '1-65535; required unless in server.N', use: 'honoured',
    doc: 'Port clients connect to.', conf: (c) => c.clientPort,
  },
  {
    key: 'clientPortAddress', type: 'address', default: 'all addresses', use: 'honoured',
    doc: 'Address the client port listens on.', apply: (v, s) => void (s.clientPortAddressText = v),
  },
  {
    key: 'secureClientPort', field: 'secureClientPort', min: 1, type: 'port', default: '', use: 'honoured',
    doc: 'Port for TLS client connections (with or instead of clientPort); 0 = none.',
    apply: (v, s, name) => {
      const port = parsePort(name, v);
      s.cfg.secureClientPort = port === 0 ? null : port;
    },
    conf: (c) => c.secureClientPort ?? -1,
  },
  {
    key: 'secureClientPortAddress', type: 'address', default: 'all addresses', use: 'honoured',
    doc: 'Address the TLS client port listens on.',
    apply: (v, s, name) => {
      if (v === '') throw new ConfigError(`invalid ${name} '': empty address`);
      s.cfg.secureClientPortAddress = v;
    },
  },
  {
    key: 'maxClientCnxns', field: 'maxClientCnxns', min: 0, type: 'integer', default: '60', range: '>= 0 (0 = no limit)', use: 'honoured',
    doc: 'Connections one client IP address may hold at once.', conf: (c) => c.maxClientCnxns,
  },
  {
    key: 'maxCnxns', field: 'maxCnxns', min: 0, type: 'integer', default: '0', range: '>= 0 (0 = no limit)', use: 'honoured',
    doc: 'Connections the server holds at once.',
  },
  {
    key: 'minSessionTimeout', field: 'minSessionTimeout', min: -1, type: 'integer (ms)', default: '2 × tickTime', range: '>= -1 (-1 = default)', use: 'honoured',
    doc: 'Smallest session timeout a client may negotiate.',
    conf: (c) => (c.minSessionTimeout === -1 ? c.tickTime * 2 : c.minSessionTimeout),
  },
  {
    key: 'maxSessionTimeout', field: 'maxSessionTimeout', min: -1, type: 'integer (ms)', default: '20 × tickTime', range: '>= -1 (-1 = default)', use: 'honoured',
    doc: 'Largest session timeout a client may negotiate.',
    conf: (c) => (c.maxSessionTimeout === -1 ? c.tickTime * 20 : c.maxSessionTimeout),
  },
  {
    key: 'clientPortListenBacklog', type: 'integer', default: '-1', range: '-1 or >= 1', use: 'ignored',
    when: { text: 'unless -1', test: (v) => v.trim() !== '-1' }, why: 'Paddock listens with the operating system default backlog',
    doc: 'Length of the listen backlog of the client port.', apply: checkInt, conf: () => -1,
  },
  {
    key: 'globalOutstandingLimit', field: 'globalOutstandingLimit', min: 1, type: 'integer', default: '1000', use: 'honoured',
    doc: 'Requests queued in the server before it stops reading from clients.',
  },
  {
    key: '4lw.commands.whitelist', type: 'list', default: 'srvr', use: 'honoured',
    doc: 'Four-letter words the server answers (comma separated, or *); srvr is always allowed.',
    apply: (v, s) => void (s.whitelistText = v),
  },
  {
    key: 'jute.maxbuffer', field: 'juteMaxBuffer', min: 1, type: 'integer (bytes)', default: '1048575', use: 'honoured',
    doc: 'Largest request or znode data accepted. A plain system property in ZooKeeper (no effect from its zoo.cfg); read from zoo.cfg here.',
    apply: (v, s, name) => void (s.cfg.juteMaxBuffer = parseDecodedInt(name, v, 1)),
  },
  tuning('jute.maxbuffer.extrasize', 'integer (bytes)', 'jute.maxbuffer', 'Room a request may grow by when the server turns it into a transaction.'),

  // --- Data and persistence -------------------------------------------------------------------
  {
    key: 'snapCount', field: 'snapCount', min: 2, type: 'integer', default: '100000', use: 'honoured',
    doc: 'Transactions between snapshots (a random point in the second half of the range, so servers differ).',
    apply: (v, s, name) => {
      s.cfg.snapCount = parseIntValue(name, v);
      if (s.cfg.snapCount < 2) {
        s.warnings.push(`snapCount ${v} is too small; using 2`);
        s.cfg.snapCount = 2;
      }
    },
  },
  {
    key: 'preAllocSize', field: 'preAllocSizeKb', min: 1, type: 'integer (KB)', default: '65536', use: 'honoured',
    doc: 'Transaction log files grow in blocks of this size.',
  },
  {
    key: 'forceSync', type: 'yes/no', default: 'yes', use: 'honoured',
    doc: 'fsync the transaction log before acknowledging a write. no risks acknowledged writes on a crash (a warning says so).',
    apply: (v, s, name) => {
      s.cfg.forceSync = parseYesNo(name, v);
      if (!s.cfg.forceSync) s.warnings.push('forceSync=no: writes are acknowledged before they reach the disk');
    },
  },
  {
    key: 'autopurge.snapRetainCount', field: 'autopurgeSnapRetainCount', min: 3, type: 'integer', default: '3', use: 'honoured',
    doc: 'Snapshots (and the logs they need) kept by the purge task.',
    apply: (v, s, name) => {
      s.cfg.autopurgeSnapRetainCount = parseIntValue(name, v);
      if (s.cfg.autopurgeSnapRetainCount < 3) {
        s.warnings.push(`autopurge.snapRetainCount ${v} is below the minimum; using 3`);
        s.cfg.autopurgeSnapRetainCount = 3;
      }
    },
  },
  {
    key: 'autopurge.purgeInterval', field: 'autopurgePurgeIntervalHours', min: 0, type: 'integer (hours)', default: '0', range: '>= 0 (0 = off)', use: 'honoured',
    doc: 'Hours between runs of the purge task.',
    apply: (v, s, name) => void (s.cfg.autopurgePurgeIntervalHours = Math.max(0, parseIntValue(name, v))),
  },
  ignored('snapSizeLimitInKb', 'integer (KB)', '4194304', 'Log bytes between snapshots, besides snapCount.', 'Paddock takes snapshots by transaction count only', { apply: checkInt }),
  ignored('txnLogSizeLimitInKb', 'integer (KB)', '-1', 'Size at which a transaction log file is rolled.', 'Paddock rolls log files at snapshots only', { apply: checkInt }),
  ignored('snapshot.compression.method', 'text', '', 'Compression of new snapshots: gz, snappy or none.', 'Paddock writes uncompressed snapshots', { when: WHEN_SET }),
  ignored('snapshot.trust.empty', 'true/false', 'false', 'Start from transaction logs without any snapshot (for upgrades from 3.4).', 'Paddock always accepts a data directory without snapshots', { when: WHEN_TRUE }),
  {
    key: 'fsync.warningthresholdms', aliases: ['zookeeper.fsync.warningthresholdms'], field: 'fsyncWarningThresholdMs', min: 0, type: 'integer (ms)', default: '1000', use: 'honoured',
    doc: 'Log a warning, and count it in fsync_threshold_exceed_count, when a txn log fsync takes longer.',
  },
  {
    key: 'datadir.autocreate', type: 'true/false', default: 'true', use: 'refused', when: WHEN_FALSE,
    why: 'Paddock creates a missing data directory, which would start an empty database where this setting asks to stop',
    doc: 'false refuses to start when dataDir or dataLogDir does not exist, instead of creating them empty.',
    apply: checkTrueFalse,
  },
  ignored('digest.enabled', 'true/false', 'true', 'Keep a digest of the tree in the log and snapshots to detect divergence.', 'Paddock does not compute tree digests', { when: UNLESS_FALSE }),
  {
    key: 'commitLogCount', field: 'commitLogCount', min: 500, type: 'integer', default: '500', use: 'honoured',
    doc: 'Committed transactions the leader keeps in memory to sync followers by DIFF (at least 500).',
    apply: (v, s, name) => {
      // ZooKeeper's ZKDatabase: an unreadable value is the default, a smaller one is raised to it.
      const n = Number(v.trim());
      if (v.trim() === '' || !Number.isSafeInteger(n)) {
        s.warnings.push(`${name} '${v}' is not an integer; using 500`);
        s.cfg.commitLogCount = 500;
      } else if (n < 500) {
        s.warnings.push(`${name} ${n} is less than the recommended 500; using 500`);
        s.cfg.commitLogCount = 500;
      } else s.cfg.commitLogCount = n;
    },
  },
  {
    key: 'snapshotSizeFactor', field: 'snapshotSizeFactor', type: 'number', default: '0.33', range: '<= 1 (negative: off)', use: 'honoured',
    doc: 'A follower older than the in-memory transactions is synced from the log when those are under this × the snapshot size (Paddock: the tree\'s size), else by snapshot; negative: always by snapshot.',
    apply: (v, s, name) => {
      // ZooKeeper's ZKDatabase: an unreadable value, or one above 1, is the default.
      const n = Number(v.trim());
      if (v.trim() === '' || !Number.isFinite(n) || n > 1) {
        s.warnings.push(`${name} '${v}' is invalid; using 0.33`);
        s.cfg.snapshotSizeFactor = 0.33;
      } else s.cfg.snapshotSizeFactor = n;
    },
  },

  // --- Data tree features ---------------------------------------------------------------------
  {
    key: 'extendedTypesEnabled', aliases: ['zookeeper.extendedTypesEnabled'], type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Allows TTL nodes (server ids must then be below 255).', apply: trueFalseField('extendedTypesEnabled'),
  },
  ignored('emulate353TTLNodes', 'true/false', 'false', 'Read TTL nodes written by ZooKeeper 3.5.3.', 'Paddock uses the 3.5.4+ TTL encoding', { when: WHEN_TRUE }),
  {
    key: 'enforceQuota', aliases: ['zookeeper.enforceQuota'], type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Refuse writes beyond a quota instead of only logging them.', apply: trueFalseField('enforceQuota'),
  },
  {
    key: 'znode.container.checkIntervalMs', field: 'containerCheckIntervalMs', min: 1, aliases: ['zookeeper.znode.container.checkIntervalMs'], type: 'integer (ms)', default: '60000', use: 'honoured',
    doc: 'Interval between checks for empty containers and expired TTL nodes. A plain system property in ZooKeeper; read from zoo.cfg here.',
  },
  {
    key: 'znode.container.maxPerMinute', field: 'containerMaxPerMinute', min: 1, aliases: ['zookeeper.znode.container.maxPerMinute'], type: 'integer', default: '10000', use: 'honoured',
    doc: 'Containers and TTL nodes deleted per minute at most.',
  },
  {
    key: 'znode.container.maxNeverUsedIntervalMs', field: 'containerMaxNeverUsedIntervalMs', min: 0, aliases: ['zookeeper.znode.container.maxNeverUsedIntervalMs'], type: 'integer (ms)', default: '0', range: '>= 0 (0 = never)', use: 'honoured',
    doc: 'Age after which a container that never had children is deleted.',
  },
  {
    key: 'readonlymode.enabled', type: 'true/false', default: 'false', use: 'ignored', when: WHEN_TRUE,
    why: 'Paddock has no read-only mode (isro answers rw); true only adds isro to the four-letter words',
    doc: 'Serve reads to read-only clients while cut off from the quorum. A plain system property in ZooKeeper.',
    apply: trueFalseField('readOnlyModeEnabled'),
  },
  tuning('watchManagerName', 'class', 'WatchManager', 'Implementation of the watch table.'),
  tuning('watcherCleanThreadsNum', 'integer', '2', 'Threads removing watches of closed sessions (WatchManagerOptimized).'),
  tuning('watcherCleanThreshold', 'integer', '1000', 'Dead watches collected before a clean-up (WatchManagerOptimized).'),
  tuning('watcherCleanIntervalInSeconds', 'integer (s)', '600', 'Longest wait between watch clean-ups (WatchManagerOptimized).'),
  tuning('maxInProcessingDeadWatchers', 'integer', '-1', 'Dead watches waiting for clean-up before watch changes slow down.'),
  tuning('bitHashCacheSize', 'integer', '10', 'Cache size of the watch manager\'s bit sets.'),

  // --- Authentication and access control ------------------------------------------------------
  {
    key: 'DigestAuthenticationProvider.superDigest', aliases: ['zookeeper.DigestAuthenticationProvider.superDigest'], type: 'text', default: '', use: 'honoured',
    doc: 'super:<base64 SHA-1> of the super user, who passes every ACL check.',
    apply: (v, s, name) => {
      if (v === '') {
        s.cfg.superDigest = null;
        return;
      }
      if (!/^[^:]+:[A-Za-z0-9+/]{27}=$/.test(v)) {
        s.warnings.push(`${name} '${v}' does not look like user:<base64 SHA-1>; no client will match it`);
      }
      s.cfg.superDigest = v;
    },
  },
  {
    key: 'DigestAuthenticationProvider.enabled', type: 'true/false', default: 'true', use: 'refused', when: WHEN_FALSE,
    why: 'Paddock always accepts digest credentials, which this setting turns off', doc: 'false turns off the digest authentication scheme.',
    apply: checkTrueFalse,
  },
  ignored('DigestAuthenticationProvider.digestAlg', 'text', 'SHA1', 'Hash of digest credentials.', 'Paddock hashes digest credentials with SHA1, so ACLs made for another hash never match',
    { when: { text: 'unless SHA1', test: (v) => !['sha1', 'sha-1'].includes(lower(v)) } }),
  {
    key: 'skipACL', aliases: ['zookeeper.skipACL'], type: 'yes/no', default: 'no', use: 'honoured',
    doc: 'yes skips every ACL check (a warning says so).',
    apply: (v, s, name) => {
      s.cfg.skipACL = parseYesNo(name, v);
      if (s.cfg.skipACL) s.warnings.push(`${name}=yes: ACLs are not checked`);
    },
  },
  {
    key: 'paddock.sessionPasswords', type: 'secret/zookeeper', default: 'secret', range: 'secret, zookeeper', use: 'honoured',
    doc: "Paddock's own: secret derives session passwords from the data directory's secret; zookeeper uses ZooKeeper's public formula (only for ensembles shared with ZooKeeper servers).",
    apply: (v, s, name) => {
      if (v !== 'secret' && v !== 'zookeeper') throw new ConfigError(`invalid ${name} '${v}': must be secret or zookeeper`);
      s.cfg.sessionPasswords = v;
      if (v === 'zookeeper') s.warnings.push(`${name}=zookeeper: anyone who knows a session id can compute its password`);
    },
  },
  {
    key: 'enforce.auth.enabled', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'true makes every session authenticate with one of enforce.auth.schemes first: other requests get SESSIONCLOSEDREQUIRESASLAUTH and the connection is closed.',
    apply: (v, s, name) => void (s.cfg.auth.enforceAuthEnabled = parseTrueFalse(name, v)),
  },
  {
    key: 'enforce.auth.schemes', type: 'list', default: '', use: 'honoured',
    doc: 'Comma-separated schemes accepted by enforce.auth.enabled (ip, digest, sasl).',
    apply: (v, s) => void (s.cfg.auth.enforceAuthSchemes = v.split(',').map((x) => x.trim())),
  },
  {
    key: 'sessionRequireClientSASLAuth', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'true is enforce.auth.enabled=true with enforce.auth.schemes=sasl, whatever those say.',
    apply: (v, s, name) => void (s.cfg.auth.sessionRequireClientSASLAuth = parseTrueFalse(name, v)),
  },
  {
    key: 'ensembleAuthName', type: 'list', default: '', use: 'refused', when: WHEN_SET,
    why: 'Paddock does not check the ensemble name a client presents, so clients meant for another ensemble would be served',
    doc: 'Names of this ensemble; a client presenting another name with the ensemble scheme is refused.',
  },
  {
    key: 'authProvider.N', pattern: /^(zookeeper\.)?authProvider\.[^.]+$/, type: 'class', default: '', use: 'ignored',
    when: { text: `unless ${SASL_PROVIDER_CLASS}`, test: (v) => v.trim() !== SASL_PROVIDER_CLASS },
    why: 'Paddock has the digest, ip, world, x509 and super schemes built in and loads no classes; SASLAuthenticationProvider registers its sasl scheme, clients using another scheme fail to authenticate',
    doc: 'Registers an authentication provider class (for example SASL) under a scheme.',
    apply: (v, s) => {
      if (v.trim() === SASL_PROVIDER_CLASS && !s.cfg.auth.providers.includes('sasl')) s.cfg.auth.providers = [...s.cfg.auth.providers, 'sasl'];
    },
  },
  {
    key: 'java.security.auth.login.config', type: 'path', default: '', use: 'honoured',
    doc: "Paddock's own spelling of the JVM property ZooKeeper reads its JAAS file from (also read from -D in SERVER_JVMFLAGS/JVMFLAGS); its Server section's DigestLoginModule user_NAME=\"password\" options are the SASL DIGEST-MD5 users.",
    apply: (v, s) => void (s.cfg.auth.jaasConfigPath = v === '' ? null : v),
  },
  {
    key: 'allowSaslFailedClients', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Let clients whose SASL authentication failed keep their connection (not when SASL is enforced).',
    apply: (v, s, name) => void (s.cfg.auth.allowSaslFailedClients = parseTrueFalse(name, v)),
  },
  {
    key: 'superUser', pattern: /^superUser(\..+)?$/, names: ['superUser'], type: 'text', default: '', use: 'honoured',
    doc: 'SASL identity that passes every ACL check (superUser.NAME adds more).',
    apply: (v, s) => void (s.cfg.auth.superUsers = [...s.cfg.auth.superUsers, v]),
  },
  {
    key: 'SASLAuthenticationProvider.superPassword', type: 'text', default: '', use: 'honoured',
    doc: 'Password of the SASL user "super" (who must also be in the JAAS section), instead of its user_super one.',
    apply: (v, s) => void (s.cfg.auth.superPassword = v),
  },
  ignored('letAnySaslUserDoX', 'text', '', 'Testing: a SASL user with this name gets every permission.', 'Paddock does not have this testing switch'),
  {
    key: 'sasl.serverconfig', type: 'text', default: 'Server', use: 'honoured', doc: 'JAAS section of the server\'s SASL login.',
    apply: (v, s) => void (s.cfg.auth.saslLoginContext = v),
  },
  {
    key: 'kerberos.removeHostFromPrincipal', type: 'true/false', default: 'false', use: 'honoured', doc: 'Drop the host part of principals (`name/host@`) in sasl ids.',
    apply: (v, s, name) => void (s.cfg.auth.removeHostFromPrincipal = parseTrueFalse(name, v)),
  },
  {
    key: 'kerberos.removeRealmFromPrincipal', type: 'true/false', default: 'false', use: 'honoured', doc: 'Drop the realm of principals (`name@`) in sasl ids.',
    apply: (v, s, name) => void (s.cfg.auth.removeRealmFromPrincipal = parseTrueFalse(name, v)),
  },
  ignored('kerberos.canonicalizeHostNames', 'true/false', 'false', 'Canonicalize host names in Kerberos principals.', NO_KERBEROS, { when: WHEN_TRUE }),
  ignored('kinit', 'path', '/usr/bin/kinit', 'kinit program used to renew Kerberos tickets.', NO_KERBEROS),
  ignored('security.auth_to_local', 'text', 'DEFAULT', 'Rules mapping Kerberos principals to user names.', NO_KERBEROS,
    { when: { text: 'unless DEFAULT', test: (v) => v.trim() !== 'DEFAULT' } }),
  ignored('requireKerberosConfig', 'true/false', 'false', 'Fail when the Kerberos configuration file is missing.', NO_KERBEROS, { when: WHEN_TRUE }),
  {
    key: 'X509AuthenticationProvider.superUser', aliases: ['zookeeper.X509AuthenticationProvider.superUser'], type: 'text', default: '', use: 'honoured',
    doc: 'Subject of the TLS client certificate (as its x509 id, e.g. CN=admin,O=Example) that passes every ACL check.',
    apply: (v, s) => void (s.cfg.x509SuperUser = v === '' ? null : v),
  },
  ignored('audit.enable', 'true/false', 'false', 'Write an audit log of changes and who made them.', 'Paddock has no audit log', { when: WHEN_TRUE }),
  ignored('audit.impl.class', 'class', 'Log4jAuditLogger', 'Audit logger implementation.', 'Paddock has no audit log'),

  // --- TLS --------------------------------------------------------------------------------------
  {
    key: 'client.portUnification', aliases: ['zookeeper.client.portUnification'], type: 'true/false', default: 'false', use: 'honoured',
    doc: 'true accepts TLS connections on the plain client port too (told apart by their first bytes).', apply: trueFalseField('clientPortUnification'),
  },
  {
    key: 'client.certReload', aliases: ['zookeeper.client.certReload'], type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Read the key and trust stores again when their files change; new connections use the new material.', apply: trueFalseField('clientCertReload'),
  },
  {
    key: 'ssl.*', pattern: new RegExp(`^(zookeeper\\.)?ssl\\.(${SSL_CLIENT_SETTINGS.replace(/\./g, '\\.')})$`), type: 'various', default: '', use: 'honoured',
    names: SSL_CLIENT_SETTINGS.split('|').map((s) => `ssl.${s}`),
    doc: `TLS material and options of the client port (see docs/security.md): ssl.${SSL_CLIENT_SETTINGS.split('|').join(', ssl.')}. PEM and PKCS12 stores; JKS is refused with the keytool command that converts it.`,
    apply: storeSsl,
  },
  {
    key: 'ssl.crl', aliases: ['zookeeper.ssl.crl'], type: 'true/false', default: 'false', use: 'refused', when: WHEN_TRUE, why: NO_REVOCATION,
    doc: 'Check client certificates against certificate revocation lists.', apply: checkTrueFalse,
  },
  {
    key: 'ssl.ocsp', aliases: ['zookeeper.ssl.ocsp'], type: 'true/false', default: 'false', use: 'refused', when: WHEN_TRUE, why: NO_REVOCATION,
    doc: 'Check client certificates with OCSP.', apply: checkTrueFalse,
  },
  {
    key: 'ssl.context.supplier.class', aliases: ['zookeeper.ssl.context.supplier.class'], type: 'class', default: '', use: 'refused', when: WHEN_SET,
    why: 'Paddock cannot load a Java SSLContext supplier, and without it would serve TLS other than configured', doc: 'Class supplying the SSLContext instead of the ssl.* settings.',
  },
  {
    key: 'serverCnxnFactory', aliases: ['zookeeper.serverCnxnFactory'], type: 'class', default: 'NIOServerCnxnFactory', use: 'honoured',
    doc: `Network layer of the server; ZooKeeper needs ${NETTY_CNXN_FACTORY} for TLS. Paddock has one network layer, serving TLS either way (a warning says when ZooKeeper would not).`,
    apply: (v, s, name) => {
      const cls = v.trim() === '' ? NIO_CNXN_FACTORY : v.trim();
      if (cls !== NIO_CNXN_FACTORY && cls !== NETTY_CNXN_FACTORY) throw new ConfigError(`invalid ${name} '${v}': expected ${NIO_CNXN_FACTORY} or ${NETTY_CNXN_FACTORY}`);
      s.cfg.serverCnxnFactory = cls;
    },
  },
  ignored('clientTcpKeepAlive', 'true/false', 'false', 'Set TCP keep-alive on client connections.', 'Paddock does not set TCP keep-alive on client connections', { when: WHEN_TRUE }),

  // --- AdminServer and metrics ----------------------------------------------------------------
  {
    key: 'admin.enableServer', aliases: ['zookeeper.admin.enableServer'], type: 'true/false', default: 'true', use: 'honoured',
    doc: 'Run the AdminServer, an HTTP interface to the four-letter words. Paddock starts it only when this is true (see "Admin HTTP API" below).',
    apply: trueFalseField('adminEnableServer'),
  },
  {
    key: 'admin.serverAddress', aliases: ['zookeeper.admin.serverAddress'], type: 'address', default: '0.0.0.0', use: 'honoured', doc: 'Address of the AdminServer.',
    apply: (v, s, name) => {
      if (v === '') throw new ConfigError(`invalid ${name} '': empty address`);
      s.cfg.adminServerAddress = v;
    },
  },
  {
    key: 'admin.serverPort', aliases: ['zookeeper.admin.serverPort'], field: 'adminServerPort', min: 0, type: 'port', default: '8080', use: 'honoured', doc: 'Port of the AdminServer.',
  },
  {
    key: 'admin.idleTimeout', aliases: ['zookeeper.admin.idleTimeout'], field: 'adminIdleTimeoutMs', min: 1, type: 'integer (ms)', default: '30000', use: 'honoured',
    doc: 'Idle time after which the AdminServer closes a connection.',
  },
  {
    key: 'admin.commandURL', aliases: ['zookeeper.admin.commandURL'], type: 'text', default: '/commands', use: 'honoured', doc: 'URL path of the AdminServer\'s commands.',
    apply: (v, s, name) => {
      if (!/^\/?[A-Za-z0-9._~\/-]+$/.test(v)) throw new ConfigError(`invalid ${name} '${v}': a URL path such as /commands`);
      s.cfg.adminCommandUrl = v.startsWith('/') ? v : `/${v}`;
    },
  },
  ignored('admin.httpVersion', 'integer', '11', 'HTTP version of the AdminServer.', NOT_EXPOSED),
  ignored('admin.portUnification', 'true/false', 'false', 'Accept HTTP and HTTPS on the AdminServer port.', NOT_EXPOSED),
  {
    key: 'admin.forceHttps', type: 'true/false', default: 'false', use: 'refused', when: WHEN_TRUE, why: NO_HTTPS,
    doc: 'Serve the AdminServer over HTTPS only.', apply: checkTrueFalse,
  },
  ignored('admin.rateLimiterIntervalInMS', 'integer (ms)', '300000', 'ZooKeeper 3.9: minimum interval between AdminServer snapshot requests.', NOT_EXPOSED),
  ignored('admin.snapshot.enabled', 'true/false', 'true', 'ZooKeeper 3.9: AdminServer command streaming a snapshot.', NOT_EXPOSED),
  ignored('admin.restore.enabled', 'true/false', 'true', 'ZooKeeper 3.9: AdminServer command restoring a snapshot.', NOT_EXPOSED),
  {
    key: 'metricsProvider.className', type: 'class', default: DEFAULT_METRICS_PROVIDER, use: 'honoured',
    doc: `Metrics provider class: ${DEFAULT_METRICS_PROVIDER} (mntr only) or ${PROMETHEUS_PROVIDER_CLASS} (also /metrics over HTTP). Another class is refused.`,
    apply: (v, s, name) => {
      const cls = v.trim() === '' ? DEFAULT_METRICS_PROVIDER : v.trim();
      if (cls !== DEFAULT_METRICS_PROVIDER && cls !== PROMETHEUS_PROVIDER_CLASS) throw new ConfigError(`invalid ${name} '${v}': Paddock provides ${DEFAULT_METRICS_PROVIDER} and ${PROMETHEUS_PROVIDER_CLASS}`);
      s.cfg.metricsProviderClassName = cls;
    },
  },
  {
    key: 'metricsProvider.*', pattern: /^metricsProvider\.(?!className$).+$/, type: 'various', default: '', use: 'honoured',
    names: ['metricsProvider.httpHost', 'metricsProvider.httpPort', 'metricsProvider.exportJvmInfo'],
    doc: 'Settings of the Prometheus provider: httpHost (0.0.0.0), httpPort (7000), exportJvmInfo (true: also the process_* metrics). Others are accepted and have no effect.',
    apply: (v, s, name) => void s.metrics.set(name.slice('metricsProvider.'.length), v),
  },
  tuning('pathStats.enabled', 'true/false', 'false', 'Collect per-path request statistics.'),
  tuning('pathStats.sampleRate', 'number', '0.1', 'Fraction of requests sampled for path statistics.'),
  tuning('pathStats.slotCapacity', 'integer', '60', 'Slots kept for path statistics.'),
  tuning('pathStats.slotDuration', 'integer (min)', '15', 'Length of one path statistics slot.'),
  tuning('pathStats.maxDepth', 'integer', '6', 'Path depth of path statistics.'),
  tuning('pathStats.initialDelay', 'integer (s)', '5', 'Delay before path statistics start.'),
  tuning('pathStats.delay', 'integer (s)', '5', 'Interval of path statistics collection.'),
  tuning('pathStats.topPathMax', 'integer', '20', 'Paths listed in path statistics.'),
  tuning('jmx.log4j.disable', 'true/false', 'false', 'Do not register log4j with JMX.'),
  tuning('jmx.log4j.mbean', 'true/false', 'true', 'Register the log4j MBean.'),
  tuning('jvm.pause.monitor', 'true/false', 'false', 'Log pauses of the Java virtual machine.'),
  tuning('jvm.pause.info-threshold.ms', 'integer (ms)', '1000', 'JVM pause logged at info level.'),
  tuning('jvm.pause.warn-threshold.ms', 'integer (ms)', '10000', 'JVM pause logged as a warning.'),
  tuning('jvm.pause.sleep.time.ms', 'integer (ms)', '500', 'Sampling interval of the JVM pause monitor.'),

  // --- Request processing (ZooKeeper's Java internals) ---------------------------------------
  tuning('maxResponseCacheSize', 'integer', '400', 'Cache of serialized getData replies.'),
  tuning('maxGetChildrenResponseCacheSize', 'integer', '400', 'Cache of serialized getChildren replies.'),
  tuning('flushDelay', 'integer (ms)', '0', 'Delay before flushing the commit log, to batch more writes.'),
  tuning('maxWriteQueuePollTime', 'integer (ms)', 'flushDelay / 3', 'Wait for more writes before a delayed flush.'),
  tuning('maxBatchSize', 'integer', '1000', 'Transactions written before the log is flushed.'),
  {
    key: 'request_throttle_max_requests', aliases: ['requestThrottleLimit', 'zookeeper.request_throttle_max_requests'], field: 'requestThrottleMaxRequests', min: 0,
    type: 'integer', default: '0', range: '>= 0 (0 = off)', use: 'honoured',
    doc: 'Requests in process before the request throttler stalls: connections are then not read until fewer are in process (counted in request_throttle_wait_count).',
  },
  {
    key: 'request_throttle_stall_time', aliases: ['requestThrottleStallTime', 'zookeeper.request_throttle_stall_time'], field: 'requestThrottleStallTimeMs', min: 1,
    type: 'integer (ms)', default: '100', use: 'honoured', doc: 'Longest wait of a stalled connection before it checks the throttle again.',
  },
  {
    key: 'request_throttle_drop_stale', aliases: ['requestThrottleDropStale', 'zookeeper.request_throttle_drop_stale'], type: 'true/false', default: 'true', use: 'ignored', when: WHEN_FALSE,
    why: 'Paddock always drops the requests a closed connection left unread', doc: 'Drop requests whose connection closed while they waited.', apply: checkTrueFalse,
  },
  tuning('request_stale_latency_check', 'true/false', 'false', 'Treat requests older than their session timeout as stale.', { aliases: ['requestStaleLatencyCheck'] }),
  tuning('request_stale_connection_check', 'true/false', 'true', 'Treat requests of closed connections as stale.', { aliases: ['requestStaleConnectionCheck'] }),
  tuning('request_throttler.shutdownTimeout', 'integer (ms)', '10000', 'Wait for the throttler to drain on shutdown.'),
  tuning('throttled_op_wait_time', 'integer (ms)', '0', 'Queue time after which a request is answered THROTTLEDOP.', { aliases: ['throttledOpWaitTime'] }),
  {
    key: 'connection_throttle_tokens', aliases: ['connectionMaxTokens', 'zookeeper.connection_throttle_tokens'], field: 'connectionThrottleTokens', min: 0,
    type: 'integer', default: '0', range: '>= 0 (0 = off)', use: 'honoured',
    doc: 'Token bucket of new connections, server-wide: a connection takes a token, one arriving to an empty bucket is closed at accept (connection_rejected).',
  },
  {
    key: 'connection_throttle_fill_time', aliases: ['connectionTokenFillTime', 'zookeeper.connection_throttle_fill_time'], field: 'connectionThrottleFillTimeMs', min: 1,
    type: 'integer (ms)', default: '1', use: 'honoured', doc: 'Refill interval of the connection throttler.',
  },
  {
    key: 'connection_throttle_fill_count', aliases: ['connectionTokenFillCount', 'zookeeper.connection_throttle_fill_count'], field: 'connectionThrottleFillCount', min: 1,
    type: 'integer', default: '1', use: 'honoured', doc: 'Tokens added per refill.',
  },
  {
    key: 'paddock.connectionRatePerIp', field: 'connectionRatePerIp', min: 0, type: 'integer (per second)', default: '0', range: '>= 0 (0 = no limit)', use: 'honoured',
    doc: "Paddock's own: new connections one IP address may open per second (bursts up to that many); more are closed at accept and counted in connection_rejected and paddock_connections_rate_limited.",
  },
  {
    key: 'paddock.requestRatePerSession', field: 'requestRatePerSession', min: 0, type: 'integer (per second)', default: '0', range: '>= 0 (0 = no limit)', use: 'honoured',
    doc: "Paddock's own: requests one connection may send per second (bursts up to that many); beyond it the connection is read more slowly, never answered with an error (paddock_requests_rate_delayed).",
  },
  {
    key: 'paddock.maxWatchesPerSession', field: 'maxWatchesPerSession', min: 0, type: 'integer', default: String(DEFAULT_MAX_WATCHES_PER_SESSION), range: '>= 0 (0 = no limit)', use: 'honoured',
    doc: "Paddock's own: watches one connection may hold; a read that would set one more fails with QUOTAEXCEEDED and sets none (paddock_watches_refused).",
  },
  tuning('connection_throttle_freeze_time', 'integer (ms)', '-1', 'Interval of drop probability updates (-1 = no dropping).', { aliases: ['connectionFreezeTime'] }),
  tuning('connection_throttle_drop_increase', 'number', '0.02', 'Drop probability increase.', { aliases: ['connectionDropIncrease'] }),
  tuning('connection_throttle_drop_decrease', 'number', '0.002', 'Drop probability decrease.', { aliases: ['connectionDropDecrease'] }),
  tuning('connection_throttle_decrease_ratio', 'number', '0', 'Bucket fill ratio above which the drop probability decreases.', { aliases: ['connectionDecreaseRatio'] }),
  tuning('connection_throttle_weight_enabled', 'true/false', 'false', 'Weigh connections by session kind when throttling.'),
  tuning('connection_throttle_global_session_weight', 'integer', '3', 'Tokens a new global session costs.'),
  tuning('connection_throttle_local_session_weight', 'integer', '1', 'Tokens a new local session costs.'),
  tuning('connection_throttle_renew_session_weight', 'integer', '2', 'Tokens a reconnection costs.'),
  tuning('largeRequestMaxBytes', 'integer (bytes)', '104857600', 'Bytes of large requests in flight before connections are closed.'),
  tuning('largeRequestThreshold', 'integer (bytes)', '-1', 'Size from which a request counts as large (-1 = none).'),
  tuning('enableEagerACLCheck', 'true/false', 'false', 'Check ACLs of writes on the server the client is connected to, before the quorum.'),
  tuning('closeSessionTxn.enabled', 'true/false', 'true', 'Log the ephemeral nodes of a session in its close transaction.'),
  tuning('intBufferStartingSizeBytes', 'integer (bytes)', '1024', 'Initial size of serialization buffers.'),
  tuning('serializeLastProcessedZxid.enabled', 'true/false', 'true', 'ZooKeeper 3.9: write the last processed zxid at the end of snapshots.'),
  tuning('nio.numSelectorThreads', 'integer', 'sqrt(cores / 2)', 'NIO selector threads.'),
  tuning('nio.numWorkerThreads', 'integer', '2 × cores', 'NIO worker threads.'),
  tuning('nio.directBufferBytes', 'integer (bytes)', '65536', 'Direct buffer of each NIO worker.'),
  {
    key: 'nio.sessionlessCnxnTimeout', field: 'sessionlessCnxnTimeoutMs', min: 1, aliases: ['zookeeper.nio.sessionlessCnxnTimeout'], type: 'integer (ms)', default: '10000', use: 'honoured',
    doc: 'Time a connection may stay without a session; Paddock counts it from accept, so a handshake sent a byte at a time is closed too.',
  },
  tuning('nio.shutdownTimeout', 'integer (ms)', '5000', 'Wait for NIO workers on shutdown.'),
  tuning('netty.advancedFlowControl.enabled', 'true/false', 'false', 'Netty flow control driven by the request pipeline.', { aliases: ['advancedFlowControlEnabled'] }),
  tuning('netty.server.outstandingHandshake.limit', 'integer', '-1', 'TLS handshakes in flight before new ones are refused.'),
  tuning('netty.server.earlyDropSecureConnectionHandshakes', 'true/false', 'false', 'Refuse TLS handshakes early while the server is not serving.'),
  tuning('commitProcessor.numWorkerThreads', 'integer', 'cores', 'Commit processor worker threads.'),
  tuning('commitProcessor.maxReadBatchSize', 'integer', '-1', 'Reads processed between commits.'),
  tuning('commitProcessor.maxCommitBatchSize', 'integer', '1', 'Commits processed between reads.'),
  tuning('commitProcessor.shutdownTimeout', 'integer (ms)', '5000', 'Wait for commit workers on shutdown.'),

  // --- Ensemble -----------------------------------------------------------------------------
  {
    key: 'server.N', pattern: /^server\./, type: 'host:port:port[:type][;[addr:]port]', default: '', use: 'honoured',
    doc: 'A member of the ensemble: quorum and election ports, participant or observer, and its client address. One participant (standaloneEnabled=true) runs standalone; more make this server an ensemble member (dataDir/myid says which).',
    apply: (v, s, name) => {
      const idText = name.slice('server.'.length);
      if (!/^\d+$/.test(idText) || !Number.isSafeInteger(Number(idText))) {
        throw new ConfigError(`invalid server line key '${name}': the server id must be a number`);
      }
      s.servers.set(Number(idText), parseServerLine(name, Number(idText), v));
    },
  },
  {
    key: 'standaloneEnabled', type: 'true/false', default: 'true', use: 'honoured',
    doc: 'false runs even a single server.N as an ensemble member (and without server.N lines is an error, as in ZooKeeper).',
    apply: trueFalseField('standaloneEnabled'),
  },
  {
    key: 'initLimit', field: 'initLimit', min: 0, type: 'integer (ticks)', default: '', range: '>= 1; required with an ensemble', use: 'honoured',
    doc: 'Ticks a follower may take to connect and sync to the leader. Checked; only an ensemble uses it.',
  },
  {
    key: 'syncLimit', field: 'syncLimit', min: 0, type: 'integer (ticks)', default: '', range: '>= 1; required with an ensemble', use: 'honoured',
    doc: 'Ticks a follower may lag behind the leader. Checked; only an ensemble uses it.',
  },
  {
    key: 'peerType', type: 'participant/observer', default: 'participant', use: 'honoured',
    doc: 'Role of this server; the server.N line wins when they disagree (a warning says so, as ZooKeeper\'s log does).',
    apply: (v, s, name) => {
      const type = lower(v);
      if (type !== 'participant' && type !== 'observer') throw new ConfigError(`invalid ${name} '${v}': expected participant or observer`);
      s.cfg.peerType = type;
      s.peerTypeSet = true;
    },
  },
  {
    key: 'dynamicConfigFile', type: 'path', default: '', use: 'honoured',
    doc: 'File holding the server.N lines (written by ZooKeeper when reconfigEnabled=true); zoo.cfg then must not hold any. Its version comes from the file name (zoo.cfg.dynamic.100000000).',
    apply: (v, s) => {
      s.dynamicConfigFileText = v;
    },
  },
  {
    key: 'reconfigEnabled', type: 'true/false', default: 'false', use: 'ignored', when: WHEN_TRUE,
    why: 'Paddock has no dynamic reconfiguration; reconfig requests answer RECONFIGDISABLED',
    doc: 'Allow the reconfig operation to change the ensemble.', apply: trueFalseField('reconfigEnabled'),
  },
  ensemble('electionAlg', 'integer', '3', 'Leader election algorithm; only 3 (fast leader election) exists.', {
    apply: (v, _s, name) => {
      if (v.trim() !== '3') throw new ConfigError(`invalid ${name} '${v}': only 3 is supported`);
    },
  }),
  ensemble('connectToLearnerMasterLimit', 'integer (ticks)', 'initLimit', 'Ticks a follower may take to connect to the leader after an election.', { apply: checkInt }),
  // A member counting votes by majority beside servers counting by groups and weights could
  // believe in a quorum the others do not: refused, not warned.
  {
    key: 'group.N', pattern: /^group\./, type: 'list of ids', default: '', use: 'refused', when: WHEN_SET, why: NO_HIERARCHY,
    doc: 'A group of a hierarchical quorum.',
  },
  {
    key: 'weight.N', pattern: /^weight\./, type: 'integer', default: '1', use: 'refused', when: WHEN_SET, why: NO_HIERARCHY,
    doc: 'Vote weight of a server in a hierarchical quorum.',
  },
  {
    key: 'quorumListenOnAllIPs', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Listen for peers on every address, not only the one in server.N.', apply: trueFalseField('quorumListenOnAllIPs'),
  },
  ensemble('observerMasterPort', 'port', '', 'Port on which followers serve observers.'),
  ensemble('syncEnabled', 'true/false', 'true', 'Observers log transactions and take snapshots like participants.', { aliases: ['observer.syncEnabled'] }),
  ensemble('localSessionsEnabled', 'true/false', 'false', 'Sessions that live on one server only, until they need the quorum.'),
  ensemble('localSessionsUpgradingEnabled', 'true/false', 'false', 'Turn a local session into a global one when it creates an ephemeral node.'),
  {
    key: 'leaderServes', type: 'yes/no', default: 'yes', use: 'honoured',
    doc: 'The leader accepts client connections (no: it closes them, and clients go to the followers).',
    apply: (v, s, name) => {
      s.cfg.leaderServes = parseYesNo(name, v);
    },
  },
  {
    key: 'cnxTimeout', field: 'cnxTimeoutMs', min: 1, type: 'integer (ms)', default: '5000', use: 'honoured',
    doc: 'Timeout of opening an election connection and reading its preamble.',
  },
  ensemble('quorumCnxnTimeoutMs', 'integer (ms)', 'syncLimit × tickTime', 'Read timeout of election connections.'),
  ensemble('leader.maxTimeToWaitForEpoch', 'integer (ms)', '', 'Wait of a new leader for its voters\' epochs before electing again.', { aliases: ['maxTimeToWaitForEpoch'] }),
  ensemble('electionPortBindRetry', 'integer', '3', 'Attempts to bind the election port (0 = forever).'),
  ensemble('tcpKeepAlive', 'true/false', 'false', 'TCP keep-alive on connections between servers.'),
  ensemble('multiAddress.enabled', 'true/false', 'false', 'Allow several addresses per server.N, separated by |.'),
  ensemble('multiAddress.reachabilityCheckEnabled', 'true/false', 'true', 'Probe the addresses of a server to pick a reachable one.'),
  ensemble('multiAddress.reachabilityCheckTimeoutMs', 'integer (ms)', '1000', 'Timeout of the address probes.'),
  {
    key: 'sslQuorum', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'TLS on the election and quorum ports: servers connect to each other over TLS with the ssl.quorum.* stores, each checking the other\'s certificate (see docs/security.md).',
    apply: trueFalseField('sslQuorum'),
  },
  {
    key: 'sslQuorumReloadCertFiles', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Read the ssl.quorum.* key and trust stores again when their files change; new connections between servers use the new material.',
    apply: trueFalseField('sslQuorumReloadCertFiles'),
  },
  {
    key: 'portUnification', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'The election and quorum ports accept TLS and plain connections (told apart by their first bytes), for turning sslQuorum on one server at a time.',
    apply: trueFalseField('quorumPortUnification'),
  },
  {
    key: 'ssl.quorum.*', pattern: new RegExp(`^(zookeeper\\.)?ssl\\.quorum\\.(${SSL_CLIENT_SETTINGS.replace(/\./g, '\\.')})$`), type: 'various', default: '', use: 'honoured',
    names: SSL_CLIENT_SETTINGS.split('|').map((s) => `ssl.quorum.${s}`),
    doc: 'TLS material and options between servers, as the ssl.* ones of the client port (clientAuth defaults to need; hostnameVerification checks the peer\'s address against its certificate on both ends).',
    apply: (v, s, name) => storeSsl(v, s, name, 'quorum'),
  },
  {
    key: 'ssl.quorum.crl', aliases: ['zookeeper.ssl.quorum.crl'], type: 'true/false', default: 'false', use: 'refused', when: WHEN_TRUE, why: NO_REVOCATION,
    doc: 'Check peer certificates against certificate revocation lists.', apply: checkTrueFalse,
  },
  {
    key: 'ssl.quorum.ocsp', aliases: ['zookeeper.ssl.quorum.ocsp'], type: 'true/false', default: 'false', use: 'refused', when: WHEN_TRUE, why: NO_REVOCATION,
    doc: 'Check peer certificates with OCSP.', apply: checkTrueFalse,
  },
  {
    key: 'ssl.quorum.context.supplier.class', aliases: ['zookeeper.ssl.quorum.context.supplier.class'], type: 'class', default: '', use: 'refused', when: WHEN_SET,
    why: 'Paddock cannot load a Java SSLContext supplier, and without it would speak TLS other than configured', doc: 'Class supplying the SSLContext between servers instead of the ssl.quorum.* settings.',
  },
  {
    key: 'quorum.auth.enableSasl', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'SASL DIGEST-MD5 between servers (election and learner connections): the server answers peers that authenticate, with the users of its quorum.auth.server.saslLoginContext JAAS section.',
    apply: (v, s, name) => void (s.cfg.auth.quorumSaslEnabled = parseTrueFalse(name, v)),
  },
  {
    key: 'quorum.auth.learnerRequireSasl', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'This server authenticates (with its quorum.auth.learner.saslLoginContext section) when it connects to another; needs enableSasl.',
    apply: (v, s, name) => void (s.cfg.auth.quorumLearnerRequireSasl = parseTrueFalse(name, v)),
  },
  {
    key: 'quorum.auth.serverRequireSasl', type: 'true/false', default: 'false', use: 'honoured',
    doc: 'Peers that connect here must authenticate; others are refused. Needs enableSasl and learnerRequireSasl.',
    apply: (v, s, name) => void (s.cfg.auth.quorumServerRequireSasl = parseTrueFalse(name, v)),
  },
  {
    key: 'quorum.auth.learner.saslLoginContext', type: 'text', default: 'QuorumLearner', use: 'honoured',
    doc: 'JAAS section of this server\'s own login to its peers (DigestLoginModule username and password).',
    apply: (v, s) => void (s.cfg.auth.quorumLearnerLoginContext = v),
  },
  {
    key: 'quorum.auth.server.saslLoginContext', type: 'text', default: 'QuorumServer', use: 'honoured',
    doc: 'JAAS section of the users peers log in as (DigestLoginModule user_NAME="password").',
    apply: (v, s) => void (s.cfg.auth.quorumServerLoginContext = v),
  },
  ignored('quorum.auth.kerberos.servicePrincipal', 'text', 'zkquorum/localhost', 'Kerberos principal of the quorum service.', NO_KERBEROS,
    { when: { text: 'unless zkquorum/localhost', test: (v) => v.trim() !== 'zkquorum/localhost' } }),
  tuning('quorum.cnxn.threads.size', 'integer', '20', 'Threads authenticating quorum connections.'),
  ensemble('db.autocreate', 'true/false', 'true', 'false: a member with an empty database may not vote until it synced.'),
  ensemble('fastleader.minNotificationInterval', 'integer (ms)', '200', 'Shortest wait between election notification checks.'),
  ensemble('fastleader.maxNotificationInterval', 'integer (ms)', '60000', 'Longest wait between election notification checks.'),
  ensemble('observer.reconnectDelayMs', 'integer (ms)', '0', 'Wait of an observer before reconnecting to the leader.'),
  ensemble('observer.election.DelayMs', 'integer (ms)', '200', 'Wait of an observer before joining an election.'),
  ensemble('observerMaster.sizeLimit', 'integer (bytes)', '33554432', 'Committed data a follower keeps to sync observers.'),
  ensemble('leader.ackLoggingFrequency', 'integer', '1000', 'Log one in this many proposal acknowledgements.'),
  ensemble('leader.maxConcurrentSnapSyncs', 'integer', '10', 'Snapshot syncs served at once.'),
  ensemble('leader.maxConcurrentDiffSyncs', 'integer', '100', 'Diff syncs served at once.'),
  ensemble('leader.closeSocketAsync', 'true/false', 'false', 'The leader closes follower sockets in the background.'),
  ensemble('learner.closeSocketAsync', 'true/false', 'false', 'A learner closes its leader socket in the background.'),
  ensemble('learner.asyncSending', 'true/false', 'false', 'A learner sends to the leader from its own thread.'),
  ensemble('leaderConnectDelayDuringRetryMs', 'integer (ms)', '100', 'Wait between a learner\'s attempts to connect to the leader.'),
  ensemble('follower.skipLearnerRequestToNextProcessor', 'true/false', 'false', 'Followers do not pass learner requests down their own pipeline.'),
  ensemble('forward_learner_requests_to_commit_processor_disabled', 'true/false', 'false', 'The leader does not pass learner requests to its commit processor.'),
  ensemble('forceSnapshotSync', 'true/false', 'false', 'Testing: sync followers with snapshots only.'),
  ensemble('messageTracker.BufferSize', 'integer', '10', 'Messages between leader and learner kept for diagnosis.'),
  ensemble('messageTracker.Enabled', 'true/false', 'false', 'Keep the last messages between leader and learner for diagnosis.'),
];

/** Reads a value through its table entry. */
export function applyValue(spec: ConfigKey, value: string, state: ParseState, name: string): void {
  if (spec.apply) return spec.apply(value, state, name);
  if (spec.field === undefined) return;
  const parsed = spec.type === 'port' ? parsePort(name, value) : parseIntValue(name, value, spec.min);
  (state.cfg as unknown as Record<string, unknown>)[spec.field] = parsed;
}

const BY_NAME = new Map<string, ConfigKey>();
for (const k of CONFIG_KEYS) {
  for (const name of [...(k.pattern ? [] : [k.key]), ...(k.aliases ?? []), ...(k.names ?? [])]) {
    if (BY_NAME.has(name)) throw new Error(`config key ${name} is declared twice`);
    BY_NAME.set(name, k);
  }
}

/** The table entry for a key as written in zoo.cfg, or undefined for an unknown key. */
export function lookupKey(name: string): ConfigKey | undefined {
  return BY_NAME.get(name) ?? CONFIG_KEYS.find((k) => k.pattern?.test(name) === true);
}

/** The lines of the `conf` four-letter word, in ZooKeeper's order; a name not in the table is a runtime value. */
const CONF_WORD_LINES = [
  'clientPort', 'secureClientPort', 'dataDir', 'dataDirSize', 'dataLogDir', 'dataLogSize', 'tickTime', 'maxClientCnxns',
  'minSessionTimeout', 'maxSessionTimeout', 'clientPortListenBacklog', 'serverId',
] as const;

export interface ConfRuntime {
  /** The directories holding snapshots and logs (ZooKeeper shows dataDir/version-2). */
  snapDir: string;
  logDir: string;
  dataDirSize: number;
  dataLogSize: number;
}

/** The text of the `conf` four-letter word, as ZooKeeper 3.8 prints it for a standalone server. */
export function confWord(cfg: ServerConfig, runtime: ConfRuntime): string {
  const runtimeValues: Record<string, string | number> = {
    dataDir: runtime.snapDir,
    dataLogDir: runtime.logDir,
    dataDirSize: runtime.dataDirSize,
    dataLogSize: runtime.dataLogSize,
    serverId: cfg.serverId,
  };
  return CONF_WORD_LINES.map((name) => {
    const value = runtimeValues[name] ?? BY_NAME.get(name)?.conf?.(cfg);
    return `${name}=${value}\n`;
  }).join('');
}

/**
 * The known key an unknown one was probably meant to be: the same name in another case, the
 * name without a `zookeeper.` prefix (which zoo.cfg adds itself), or the nearest name by edit
 * distance (at most 1 for short names, 2 for longer ones). Null when nothing is close.
 */
export function suggestKey(name: string): string | null {
  const wanted = name.toLowerCase();
  const stripped = wanted.startsWith('zookeeper.') ? wanted.slice('zookeeper.'.length) : null;
  let best: string | null = null;
  let bestDistance = name.length < 6 ? 1 : 2;
  for (const known of BY_NAME.keys()) {
    const k = known.toLowerCase();
    if (k === wanted || k === stripped) return known;
    const d = editDistance(wanted, k, bestDistance);
    if (d < bestDistance || (d === bestDistance && best === null)) {
      best = known;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, or limit + 1 once it is sure to exceed limit. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      rowMin = Math.min(rowMin, current[j]!);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}
