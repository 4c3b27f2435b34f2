/**
 * Reading Apache ZooKeeper's zoo.cfg into a ServerConfig. Pure: no files, no environment.
 *
 * ZooKeeper loads zoo.cfg with java.util.Properties, trims every key and value, handles the keys
 * it knows, and turns any other key K into the system property `zookeeper.K` (which is how
 * snapCount, 4lw.commands.whitelist, admin.* and others work from zoo.cfg). Paddock does the same
 * in spirit: known keys are typed and validated, keys ZooKeeper accepts that Paddock does not use
 * are accepted with a warning, and bad values throw a ConfigError naming the key and the value.
 *
 * Relative paths (dataDir, dataLogDir) are resolved against `opts.baseDir`. ZooKeeper resolves
 * them against the process's working directory (not the config file's directory), so the CLI
 * passes `process.cwd()`.
 *
 * Deviations, documented: the file is read as UTF-8 (Java reads ISO-8859-1); booleans must be
 * spelled true/false (or yes/no for forceSync and skipACL) where ZooKeeper silently treats other
 * spellings as false; numbers must be integers where ZooKeeper would sometimes fall back silently
 * to the default; `jute.maxbuffer`, `readonlymode.enabled` and `znode.container.*`, which are
 * plain system properties in ZooKeeper and have no effect from its zoo.cfg, do take effect here.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  DEFAULT_METRICS_PROVIDER,
  FOUR_LETTER_WORDS,
  defaultConfig,
  isDistributed,
  sessionTimeoutBounds,
  validateConfig,
  type QuorumServerAddress,
  type QuorumServerSpec,
  type ServerConfig,
} from './config.js';

export { ConfigError } from './config.js';

export interface ZooCfgOptions {
  /** Directory relative dataDir/dataLogDir are resolved against; pass process.cwd() as ZooKeeper does. */
  baseDir: string;
  /** Contents of dataDir/myid, or null/undefined when the file does not exist. */
  myid?: string | null;
}

export interface ParsedZooCfg {
  config: ServerConfig;
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// java.util.Properties syntax

/** One key/value pair, in file order, with the 1-based line it started on. */
export interface PropertyEntry {
  key: string;
  value: string;
  line: number;
}

const WS = new Set([' ', '\t', '\f']);

/**
 * Splits text the way java.util.Properties.load does: natural lines end at \n, \r or \r\n; a line
 * whose first non-blank character is # or ! is a comment (and is never continued); a line ending
 * in an odd number of backslashes continues on the next one, whose leading blanks are dropped;
 * the key ends at the first unescaped '=', ':' or blank, and one '=' or ':' (with blanks around
 * it) separates it from the value; escapes \t \n \r \f \uXXXX are decoded and a backslash before
 * any other character yields that character. Keys and values are returned untrimmed.
 */
export function parseProperties(text: string): PropertyEntry[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const natural = text.split(/\r\n|\r|\n/);
  const out: PropertyEntry[] = [];
  let i = 0;
  while (i < natural.length) {
    const startLine = i + 1;
    let line = stripLeading(natural[i]!);
    i++;
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines.
    while (endsWithOddBackslashes(line)) {
      line = line.slice(0, -1);
      if (i >= natural.length) break;
      line += stripLeading(natural[i]!);
      i++;
    }
    const { key, value } = splitKeyValue(line, startLine);
    out.push({ key, value, line: startLine });
  }
  return out;
}

function stripLeading(s: string): string {
  let j = 0;
  while (j < s.length && WS.has(s[j]!)) j++;
  return s.slice(j);
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let j = s.length - 1; j >= 0 && s[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string, lineNo: number): { key: string; value: string } {
  let j = 0;
  let keyEnd = line.length;
  let valueStart = line.length;
  while (j < line.length) {
    const c = line[j]!;
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (c === '=' || c === ':') {
      keyEnd = j;
      valueStart = j + 1;
      break;
    }
    if (WS.has(c)) {
      keyEnd = j;
      let k = j;
      while (k < line.length && WS.has(line[k]!)) k++;
      if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
      valueStart = k;
      break;
    }
    j++;
  }
  if (keyEnd > line.length) keyEnd = line.length;
  let v = valueStart;
  while (v < line.length && WS.has(line[v]!)) v++;
  return { key: unescape(line.slice(0, keyEnd), lineNo), value: unescape(line.slice(v), lineNo) };
}

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    j++;
    if (j >= s.length) break; // a lone trailing backslash is dropped
    const e = s[j]!;
    switch (e) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = s.slice(j + 1, j + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new ConfigError(`line ${lineNo}: malformed \\uxxxx escape '\\u${hex}'`);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        j += 4;
        break;
      }
      default: out += e;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Value parsers

function parseIntValue(key: string, value: string, min = -Infinity, max = Infinity): number {
  if (!/^[+-]?\d+$/.test(value)) throw new ConfigError(`invalid ${key} '${value}': not an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ConfigError(`invalid ${key} '${value}': out of range`);
  if (n < min || n > max) {
    const range = max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `from ${min} to ${max}`;
    throw new ConfigError(`invalid ${key} '${value}': must be ${range}`);
  }
  return n;
}

/** Integer.decode syntax: decimal, 0x/0X/# hex, leading-0 octal. */
function parseDecodedInt(key: string, value: string, min: number): number {
  const m = /^([+-]?)(?:(0[xX]|#)([0-9a-fA-F]+)|(0[0-7]+)|(\d+))$/.exec(value);
  if (!m) throw new ConfigError(`invalid ${key} '${value}': not an integer`);
  let n: number;
  if (m[3] !== undefined) n = parseInt(m[3], 16);
  else if (m[4] !== undefined) n = parseInt(m[4], 8);
  else n = parseInt(m[5]!, 10);
  if (m[1] === '-') n = -n;
  if (!Number.isSafeInteger(n) || n > 0x7fffffff) throw new ConfigError(`invalid ${key} '${value}': out of range`);
  if (n < min) throw new ConfigError(`invalid ${key} '${value}': must be >= ${min}`);
  return n;
}

function parsePort(key: string, value: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new ConfigError(`invalid ${key} '${value}': not a port number`);
  const n = Number(value);
  if (n < 0 || n > 65535) throw new ConfigError(`invalid ${key} '${value}': a port must be from 0 to 65535`);
  return n;
}

function parseTrueFalse(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(`invalid ${key} '${value}': expected true or false`);
}

function parseYesNo(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new ConfigError(`invalid ${key} '${value}': expected yes or no`);
}

// ---------------------------------------------------------------------------------------------
// server.N lines

function parseHostPort(text: string): { host: string; rest: string[] } {
  // [ipv6]:a:b... or host:a:b...
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return { host: '', rest: [] };
    const host = text.slice(1, end);
    const tail = text.slice(end + 1);
    if (tail !== '' && !tail.startsWith(':')) return { host: '', rest: [] };
    return { host, rest: tail === '' ? [] : tail.slice(1).split(':') };
  }
  const parts = text.split(':');
  return { host: parts[0]!, rest: parts.slice(1) };
}

export function parseServerLine(key: string, id: number, value: string): QuorumServerSpec {
  const form =
    `'${value}' does not have the form host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]`;
  const semi = value.split(';');
  if (semi.length > 2) throw new ConfigError(`invalid ${key}: ${form}`);
  const serverPart = semi[0]!.trim();
  const clientPart = semi.length === 2 ? semi[1]!.trim() : null;
  let type: 'participant' | 'observer' = 'participant';
  const addresses: QuorumServerAddress[] = [];
  const alternatives = serverPart.split('|');
  alternatives.forEach((alt, idx) => {
    const { host, rest } = parseHostPort(alt.trim());
    if (host === '' || rest.length < 2 || rest.length > 3) throw new ConfigError(`invalid ${key}: ${form}`);
    if (rest.length === 3) {
      const t = rest[2]!.toLowerCase();
      if (t !== 'participant' && t !== 'observer') {
        throw new ConfigError(`invalid ${key}: unrecognised peer type '${rest[2]}' (expected participant or observer)`);
      }
      if (idx > 0 && t !== type) throw new ConfigError(`invalid ${key}: every address must have the same peer type`);
      type = t;
    }
    const quorumPort = parsePort(`${key} quorum port`, rest[0]!);
    const electionPort = parsePort(`${key} election port`, rest[1]!);
    if (quorumPort === 0 || electionPort === 0) throw new ConfigError(`invalid ${key}: ports must not be 0 in '${value}'`);
    addresses.push({ host, quorumPort, electionPort });
  });
  let clientPortAddress: string | null = null;
  let clientPort: number | null = null;
  if (clientPart !== null && clientPart !== '') {
    let portText = clientPart;
    const lastColon = clientPart.lastIndexOf(':');
    if (clientPart.startsWith('[')) {
      const end = clientPart.indexOf(']');
      if (end < 0 || clientPart[end + 1] !== ':') throw new ConfigError(`invalid ${key}: ${form}`);
      clientPortAddress = clientPart.slice(1, end);
      portText = clientPart.slice(end + 2);
    } else if (lastColon >= 0) {
      clientPortAddress = clientPart.slice(0, lastColon);
      portText = clientPart.slice(lastColon + 1);
      if (clientPortAddress === '' || clientPortAddress.includes(':')) throw new ConfigError(`invalid ${key}: ${form}`);
    }
    clientPort = parsePort(`${key} client port`, portText);
    if (clientPort === 0) throw new ConfigError(`invalid ${key}: client port must not be 0 in '${value}'`);
  }
  const first = addresses[0]!;
  return { id, host: first.host, quorumPort: first.quorumPort, electionPort: first.electionPort, addresses, type, clientPortAddress, clientPort };
}

// ---------------------------------------------------------------------------------------------
// myid

/** Parses the contents of dataDir/myid (the server id, surrounding blanks allowed). */
export function parseMyid(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    const shown = t.length > 60 ? `${t.slice(0, 60)}...` : t;
    throw new ConfigError(`invalid myid file: server id '${shown}' is not a number`);
  }
  return Number(t);
}

// ---------------------------------------------------------------------------------------------
// zoo.cfg

/** Keys ZooKeeper knows that Paddock reads but does not act on (yet); accepted with a warning. */
const ZOOKEEPER_KEYS_UNUSED = new Set([
  'connectToLearnerMasterLimit', 'electionAlg', 'localSessionsEnabled', 'localSessionsUpgradingEnabled',
  'maxResponseCacheSize', 'maxGetChildrenResponseCacheSize', 'quorumListenOnAllIPs', 'sslQuorum',
  'portUnification', 'syncEnabled', 'leaderServes', 'cnxTimeout', 'maxTimeToWaitForEpoch',
  'snapshot.compression.method', 'digest.enabled', 'txnLogSizeLimitInKb', 'snapSizeLimitInKb',
  'commitLogCount', 'snapshotSizeFactor', 'fsync.warningthresholdms', 'secureClientPortAddress',
  'clientPortListenBacklog', 'observerMasterPort', 'multiAddress.enabled',
  'multiAddress.reachabilityCheckEnabled', 'multiAddress.reachabilityCheckTimeoutMs',
  'electionPortBindRetry', 'quorum.auth.enableSasl', 'quorum.auth.learnerRequireSasl',
  'quorum.auth.serverRequireSasl', 'quorum.auth.learner.saslLoginContext',
  'quorum.auth.server.saslLoginContext', 'quorum.auth.kerberos.servicePrincipal',
  'quorum.cnxn.threads.size', 'sslQuorumReloadCertFiles', 'client.portUnification',
  'admin.idleTimeout', 'admin.commandURL', 'admin.portUnification', 'admin.forceHttps',
  'admin.rateLimiterIntervalInMS', 'admin.snapshot.enabled', 'admin.restore.enabled',
  'authProvider.1', 'serverCnxnFactory', 'connection_throttle_enabled', 'learner.asyncSending',
  'learner.closeSocketAsync', 'leader.closeSocketAsync', 'flushDelay', 'maxWriteQueuePollTime',
  'maxBatchSize', 'requestThrottleLimit', 'requestThrottleStallTime', 'requestThrottleDropStale',
  'zookeeper.request_throttle_max_requests', 'emulate353TTLNodes', 'initialConfig',
  'audit.enable', 'serializeLastProcessedZxid.enabled', 'closeSessionTxn.enabled',
  'enableEagerACLCheck', 'skipTxnDigest', 'nodeChangeEventEnabled', 'watchManagerName',
  'sessionRequireClientSASLAuth', 'enforce.auth.enabled', 'enforce.auth.schemes',
]);

/**
 * Parses zoo.cfg text. Throws ConfigError for a bad value or an inconsistent configuration;
 * returns the configuration and human-readable warnings (unused keys, clamped values).
 */
export function parseZooCfg(text: string, opts: ZooCfgOptions): ParsedZooCfg {
  const warnings: string[] = [];
  const entries = parseProperties(text);
  const raw = new Map<string, string>();
  for (const e of entries) {
    const key = e.key.trim();
    const value = e.value.trim();
    if (key === '') {
      warnings.push(`line ${e.line}: entry without a key ignored`);
      continue;
    }
    if (raw.has(key) && raw.get(key) !== value) {
      warnings.push(`key ${key} is set more than once; the last value '${value}' is used`);
    }
    raw.delete(key);
    raw.set(key, value);
  }

  const cfg = defaultConfig();
  cfg.tickTime = 3000; // ZooKeeper's code default when zoo.cfg does not set it
  cfg.dataDir = '';
  cfg.dataLogDir = '';
  cfg.clientPort = 0;
  cfg.adminEnableServer = true;
  let whitelistText: string | null = null;
  let dataDirText: string | null = null;
  let dataLogDirText: string | null = null;
  let clientPortAddressText: string | null = null;
  let peerTypeSet = false;
  let dynamicConfigFile: string | null = null;
  const servers = new Map<number, QuorumServerSpec>();
  const metrics = new Map<string, string>();

  for (const [key, value] of raw) {
    switch (key) {
      case 'tickTime':
        cfg.tickTime = parseIntValue(key, value, 1);
        continue;
      case 'initLimit':
        cfg.initLimit = parseIntValue(key, value, 0);
        continue;
      case 'syncLimit':
        cfg.syncLimit = parseIntValue(key, value, 0);
        continue;
      case 'dataDir':
        dataDirText = value;
        continue;
      case 'dataLogDir':
        dataLogDirText = value;
        continue;
      case 'clientPort':
        cfg.clientPort = parsePort(key, value);
        continue;
      case 'clientPortAddress':
        clientPortAddressText = value;
        continue;
      case 'secureClientPort':
        cfg.secureClientPort = parsePort(key, value);
        if (cfg.secureClientPort === 0) cfg.secureClientPort = null;
        else warnings.push(`secureClientPort ${value} ignored: TLS is not supported yet`);
        continue;
      case 'maxClientCnxns':
        cfg.maxClientCnxns = parseIntValue(key, value, 0);
        continue;
      case 'maxCnxns':
        cfg.maxCnxns = parseIntValue(key, value, 0);
        continue;
      case 'minSessionTimeout':
        cfg.minSessionTimeout = parseIntValue(key, value, -1);
        continue;
      case 'maxSessionTimeout':
        cfg.maxSessionTimeout = parseIntValue(key, value, -1);
        continue;
      case 'globalOutstandingLimit':
        cfg.globalOutstandingLimit = parseIntValue(key, value, 1);
        continue;
      case '4lw.commands.whitelist':
        whitelistText = value;
        continue;
      case 'readonlymode.enabled':
        cfg.readOnlyModeEnabled = parseTrueFalse(key, value);
        continue;
      case 'extendedTypesEnabled':
      case 'zookeeper.extendedTypesEnabled':
        cfg.extendedTypesEnabled = parseTrueFalse(key, value);
        continue;
      case 'jute.maxbuffer':
        cfg.juteMaxBuffer = parseDecodedInt(key, value, 1);
        continue;
      case 'DigestAuthenticationProvider.superDigest':
      case 'zookeeper.DigestAuthenticationProvider.superDigest':
        if (value === '') cfg.superDigest = null;
        else {
          if (!/^[^:]+:[A-Za-z0-9+/]{27}=$/.test(value)) {
            warnings.push(`${key} '${value}' does not look like user:<base64 SHA-1>; no client will match it`);
          }
          cfg.superDigest = value;
        }
        continue;
      case 'skipACL':
      case 'zookeeper.skipACL':
        cfg.skipACL = parseYesNo(key, value);
        if (cfg.skipACL) warnings.push(`${key}=yes: ACLs are not checked`);
        continue;
      case 'enforceQuota':
      case 'zookeeper.enforceQuota':
        cfg.enforceQuota = parseTrueFalse(key, value);
        continue;
      case 'snapCount':
        cfg.snapCount = parseIntValue(key, value);
        if (cfg.snapCount < 2) {
          warnings.push(`snapCount ${value} is too small; using 2`);
          cfg.snapCount = 2;
        }
        continue;
      case 'preAllocSize':
        cfg.preAllocSizeKb = parseIntValue(key, value, 1);
        continue;
      case 'forceSync':
        cfg.forceSync = parseYesNo(key, value);
        if (!cfg.forceSync) warnings.push('forceSync=no: writes are acknowledged before they reach the disk');
        continue;
      case 'autopurge.snapRetainCount':
        cfg.autopurgeSnapRetainCount = parseIntValue(key, value);
        if (cfg.autopurgeSnapRetainCount < 3) {
          warnings.push(`autopurge.snapRetainCount ${value} is below the minimum; using 3`);
          cfg.autopurgeSnapRetainCount = 3;
        }
        continue;
      case 'autopurge.purgeInterval':
        cfg.autopurgePurgeIntervalHours = Math.max(0, parseIntValue(key, value));
        continue;
      case 'znode.container.checkIntervalMs':
      case 'zookeeper.znode.container.checkIntervalMs':
        cfg.containerCheckIntervalMs = parseIntValue(key, value, 1);
        continue;
      case 'znode.container.maxPerMinute':
      case 'zookeeper.znode.container.maxPerMinute':
        cfg.containerMaxPerMinute = parseIntValue(key, value, 1);
        continue;
      case 'znode.container.maxNeverUsedIntervalMs':
      case 'zookeeper.znode.container.maxNeverUsedIntervalMs':
        cfg.containerMaxNeverUsedIntervalMs = parseIntValue(key, value, 0);
        continue;
      case 'nio.sessionlessCnxnTimeout':
      case 'zookeeper.nio.sessionlessCnxnTimeout':
        cfg.sessionlessCnxnTimeoutMs = parseIntValue(key, value, 1);
        continue;
      case 'admin.enableServer':
        cfg.adminEnableServer = parseTrueFalse(key, value);
        continue;
      case 'admin.serverPort':
        cfg.adminServerPort = parsePort(key, value);
        continue;
      case 'admin.serverAddress':
        if (value === '') throw new ConfigError(`invalid admin.serverAddress '': empty address`);
        cfg.adminServerAddress = value;
        continue;
      case 'metricsProvider.className':
        cfg.metricsProviderClassName = value === '' ? DEFAULT_METRICS_PROVIDER : value;
        continue;
      case 'standaloneEnabled':
        cfg.standaloneEnabled = parseTrueFalse(key, value);
        continue;
      case 'reconfigEnabled':
        cfg.reconfigEnabled = parseTrueFalse(key, value);
        continue;
      case 'peerType': {
        const v = value.toLowerCase();
        if (v !== 'participant' && v !== 'observer') {
          throw new ConfigError(`invalid peerType '${value}': expected participant or observer`);
        }
        cfg.peerType = v;
        peerTypeSet = true;
        continue;
      }
      case 'dynamicConfigFile':
        dynamicConfigFile = value;
        continue;
      case 'electionAlg':
        if (value !== '3') throw new ConfigError(`invalid electionAlg '${value}': only 3 is supported`);
        warnings.push(`electionAlg accepted and ignored (Paddock has one election algorithm)`);
        continue;
      default:
        break;
    }
    if (key.startsWith('server.')) {
      const idText = key.slice('server.'.length);
      if (!/^\d+$/.test(idText) || !Number.isSafeInteger(Number(idText))) {
        throw new ConfigError(`invalid server line key '${key}': the server id must be a number`);
      }
      const id = Number(idText);
      servers.set(id, parseServerLine(key, id, value));
      continue;
    }
    if (key.startsWith('metricsProvider.')) {
      metrics.set(key.slice('metricsProvider.'.length), value);
      continue;
    }
    if (key.startsWith('group.') || key.startsWith('weight.')) {
      warnings.push(`${key} accepted and ignored: hierarchical quorums are not supported`);
      continue;
    }
    if (ZOOKEEPER_KEYS_UNUSED.has(key) || key.startsWith('ssl.') || key.startsWith('zookeeper.ssl.')) {
      warnings.push(`${key} is not used by Paddock; accepted and ignored`);
      continue;
    }
    warnings.push(`unknown key ${key} accepted and ignored`);
  }

  if (dynamicConfigFile !== null) {
    throw new ConfigError(
      `dynamicConfigFile '${dynamicConfigFile}' is not supported: put the server.N lines in zoo.cfg`,
    );
  }

  // Directories.
  if (dataDirText === null || dataDirText === '') throw new ConfigError('dataDir is not set');
  cfg.dataDir = resolvePath('dataDir', dataDirText, opts.baseDir, warnings);
  cfg.dataLogDir =
    dataLogDirText === null || dataLogDirText === ''
      ? cfg.dataDir
      : resolvePath('dataLogDir', dataLogDirText, opts.baseDir, warnings);

  // Session timeouts, as ZooKeeper: -1 means 2x / 20x tickTime, then min <= max.
  const { min, max } = sessionTimeoutBounds(cfg);
  if (min > max) {
    throw new ConfigError(
      `minSessionTimeout (${min}) must not be larger than maxSessionTimeout (${max})` +
        (raw.has('minSessionTimeout') && raw.has('maxSessionTimeout') ? '' : ` with tickTime ${cfg.tickTime}`),
    );
  }

  // Four-letter words: srvr is always allowed, isro when read-only mode is enabled.
  const whitelist = new Set<string>();
  if (whitelistText !== null) {
    for (const item of whitelistText.split(',')) {
      const w = item.trim();
      if (w === '') continue;
      if (w === '*') {
        whitelist.clear();
        whitelist.add('*');
        break;
      }
      if (!FOUR_LETTER_WORDS.includes(w)) warnings.push(`4lw.commands.whitelist: unknown command '${w}' ignored`);
      else whitelist.add(w);
    }
  }
  if (!whitelist.has('*')) {
    whitelist.add('srvr');
    if (cfg.readOnlyModeEnabled) whitelist.add('isro');
  }
  cfg.fourLetterWhitelist = whitelist;

  cfg.metricsProviderConfig = metrics;
  cfg.servers = [...servers.values()].sort((a, b) => a.id - b.id);
  cfg.raw = raw;

  // myid and the server lines.
  const distributed = isDistributed(cfg);
  if (opts.myid !== undefined && opts.myid !== null) {
    if (cfg.servers.length > 0) cfg.serverId = parseMyid(opts.myid);
    else {
      try {
        cfg.serverId = parseMyid(opts.myid);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        warnings.push(`${e.message}; ignored because there are no server.N lines`);
      }
    }
  } else if (distributed) {
    throw new ConfigError(`myid file is missing: ${resolve(cfg.dataDir, 'myid')} must hold this server's id`);
  }
  const me = cfg.servers.find((s) => s.id === cfg.serverId);
  if (distributed) {
    if (cfg.initLimit === 0) throw new ConfigError('initLimit is not set (required with server.N lines)');
    if (cfg.syncLimit === 0) throw new ConfigError('syncLimit is not set (required with server.N lines)');
    if (!me) throw new ConfigError(`myid ${cfg.serverId} is not in the server.N list`);
  }
  if (me) {
    if (peerTypeSet && me.type !== cfg.peerType) {
      warnings.push(`peerType ${cfg.peerType} does not match server.${me.id} type ${me.type}; using ${me.type}`);
    }
    cfg.peerType = me.type;
    if (me.clientPort !== null) {
      if (cfg.clientPort !== 0 && cfg.clientPort !== me.clientPort) {
        throw new ConfigError(
          `clientPort ${cfg.clientPort} conflicts with client port ${me.clientPort} in server.${me.id}`,
        );
      }
      const lineAddr = me.clientPortAddress;
      if (clientPortAddressText !== null && lineAddr !== null && clientPortAddressText !== lineAddr &&
        !isAnyAddress(clientPortAddressText)) {
        throw new ConfigError(
          `clientPortAddress ${clientPortAddressText} conflicts with client address ${lineAddr} in server.${me.id}`,
        );
      }
      cfg.clientPort = me.clientPort;
      if (lineAddr !== null) clientPortAddressText = lineAddr;
    }
  }

  if (cfg.clientPort === 0) {
    if (clientPortAddressText !== null) throw new ConfigError('clientPortAddress is set but clientPort is not set');
    throw new ConfigError(
      cfg.secureClientPort !== null
        ? 'clientPort is not set (secureClientPort alone is not enough: TLS is not supported yet)'
        : 'clientPort is not set',
    );
  }
  if (clientPortAddressText !== null) {
    if (clientPortAddressText === '') throw new ConfigError(`invalid clientPortAddress '': empty address`);
    cfg.clientPortAddress = clientPortAddressText;
  }

  validateConfig(cfg);
  return { config: cfg, warnings };
}

function isAnyAddress(a: string): boolean {
  return a === '0.0.0.0' || a === '::' || a === '[::]';
}

function resolvePath(key: string, value: string, baseDir: string, warnings: string[]): string {
  if (isAbsolute(value)) return value;
  const abs = resolve(baseDir, value);
  if (!value.startsWith('./') && !value.startsWith('../')) {
    warnings.push(`${key} '${value}' is relative: resolved against ${baseDir} as ${abs} (prepend ./ to say you mean it)`);
  }
  return abs;
}

/**
 * The resolved dataDir a zoo.cfg names, or null when it sets none; lets a caller find
 * dataDir/myid before calling parseZooCfg. Throws ConfigError only for malformed escapes.
 */
export function zooCfgDataDir(text: string, baseDir: string): string | null {
  let dataDir: string | null = null;
  for (const e of parseProperties(text)) {
    if (e.key.trim() === 'dataDir') dataDir = e.value.trim();
  }
  return dataDir === null || dataDir === '' ? null : resolve(baseDir, dataDir);
}
