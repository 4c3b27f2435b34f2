/**
 * Reading Apache ZooKeeper's zoo.cfg into a ServerConfig. Pure: no files, no environment.
 *
 * ZooKeeper loads zoo.cfg with java.util.Properties, trims every key and value, handles the keys
 * it knows, and turns any other key K into the system property `zookeeper.K` (which is how
 * snapCount, 4lw.commands.whitelist, admin.* and others work from zoo.cfg). Paddock reads every
 * key through the table in keys.ts: honoured keys are typed and validated, keys Paddock does not
 * act on warn once, keys whose absence would make the server less safe stop it, and an unknown
 * key warns with the known key it was probably meant to be. Bad values throw a ConfigError
 * naming the key and the value.
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
  FOUR_LETTER_WORDS,
  defaultConfig,
  isDistributed,
  sessionTimeoutBounds,
  type ServerConfig,
} from './config.js';
import { applyValue, lookupKey, suggestKey, type ParseState } from './keys.js';
import { parseProperties } from './properties.js';
import { parseMyid } from './servers.js';
import { validateConfig } from './validate.js';

export interface ZooCfgOptions {
  /** Directory relative dataDir/dataLogDir are resolved against; pass process.cwd() as ZooKeeper does. */
  baseDir: string;
  /** Contents of dataDir/myid, or null/undefined when the file does not exist. */
  myid?: string | null;
  /**
   * Whether the caller can run this server as an ensemble member. Until it can, a configuration
   * describing an ensemble is refused: run alone on each host it would give unreplicated servers
   * whose data silently diverges.
   */
  ensembleSupported?: boolean;
  /**
   * Contents of the file zoo.cfg names in dynamicConfigFile (null when it does not exist); read
   * by the caller, see zooCfgDynamicFile.
   */
  dynamicConfig?: string | null;
}

export interface ParsedZooCfg {
  config: ServerConfig;
  warnings: string[];
}

/**
 * Parses zoo.cfg text. Throws ConfigError for a bad value, an inconsistent configuration or a
 * setting Paddock cannot honour safely; returns the configuration and one warning per key
 * Paddock does not act on (and per clamped value).
 */
export function parseZooCfg(text: string, opts: ZooCfgOptions): ParsedZooCfg {
  const warnings: string[] = [];
  const raw = readEntries(text, warnings);
  const state = initialState(warnings);
  const refusals: string[] = [];
  for (const [name, value] of raw) applyKey(name, value, state, refusals);
  applyDynamicConfig(state, raw, opts.dynamicConfig, refusals);
  if (refusals.length > 0) {
    throw new ConfigError(
      `refusing to start: ${refusals.join('; ')}. Paddock stops rather than run less safely than this ` +
        `configuration asks; remove ${refusals.length === 1 ? 'the setting' : 'these settings'} to run without ${refusals.length === 1 ? 'it' : 'them'}`,
    );
  }
  try {
    return { config: finish(state, raw, opts), warnings };
  } catch (e) {
    // A missing setting is often a misspelt one: say so in the error, since warnings are not printed.
    const unknown = warnings.filter((w) => w.startsWith('unknown key') && w.includes('did you mean'));
    if (!(e instanceof ConfigError) || unknown.length === 0) throw e;
    throw new ConfigError(`${e.message}; note: ${unknown.join('; ')}`);
  }
}

/** Everything that needs the whole file: directories, four-letter words, server lines, myid, client port. */
function finish(state: ParseState, raw: Map<string, string>, opts: ZooCfgOptions): ServerConfig {
  const cfg = state.cfg;
  cfg.raw = raw;
  finishDirectories(state, opts.baseDir);
  checkSessionTimeouts(cfg, raw);
  finishWhitelist(state);
  cfg.metricsProviderConfig = state.metrics;
  cfg.servers = [...state.servers.values()].sort((a, b) => a.id - b.id);
  checkStandalone(cfg);
  if (isDistributed(cfg) && opts.ensembleSupported !== true) throw new ConfigError(ensembleRefusal(cfg));
  finishServerId(state, opts.myid);
  finishClientPort(state);
  validateConfig(cfg);
  return cfg;
}

/** Trimmed key/value pairs in file order; a repeated key keeps its last value, with a warning. */
function readEntries(text: string, warnings: string[]): Map<string, string> {
  const raw = new Map<string, string>();
  for (const e of parseProperties(text)) {
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
  return raw;
}

/** Keys that describe the membership: in the dynamic file when zoo.cfg names one. */
const MEMBERSHIP_KEY = /^(server\.|group|weight)/;

/**
 * The server.N lines of a dynamicConfigFile, read as ZooKeeper's QuorumPeerConfig does: zoo.cfg
 * must then hold none, and the file holds only membership keys and no version (that is in its
 * name).
 */
function applyDynamicConfig(state: ParseState, raw: ReadonlyMap<string, string>, text: string | null | undefined, refusals: string[]): void {
  const file = state.dynamicConfigFileText;
  if (file === null || file === '') return;
  for (const key of raw.keys()) {
    if (MEMBERSHIP_KEY.test(key)) throw new ConfigError(`${key} must be in the dynamic config file ${file}, not in zoo.cfg (ZooKeeper refuses it too)`);
  }
  if (text === null || text === undefined) throw new ConfigError(`dynamic config file not found: ${file}`);
  for (const [name, value] of readEntries(text, state.warnings)) {
    if (name === 'version') throw new ConfigError(`dynamic config file ${file} must not hold a version (ZooKeeper takes it from the file name)`);
    if (!MEMBERSHIP_KEY.test(name)) throw new ConfigError(`unrecognised key ${name} in dynamic config file ${file}: it may hold only server.N, group.N and weight.N`);
    applyKey(name, value, state, refusals);
  }
}

function initialState(warnings: string[]): ParseState {
  const cfg = defaultConfig();
  cfg.tickTime = 3000; // ZooKeeper's code default when zoo.cfg does not set it
  cfg.dataDir = '';
  cfg.dataLogDir = '';
  cfg.clientPort = 0;
  return {
    cfg, warnings, dataDirText: null, dataLogDirText: null, clientPortAddressText: null, whitelistText: null,
    peerTypeSet: false, dynamicConfigFileText: null, servers: new Map(), metrics: new Map(),
  };
}

/** Reads one key through the table; says what Paddock does not do, collects what it refuses. */
function applyKey(name: string, value: string, state: ParseState, refusals: string[]): void {
  const spec = lookupKey(name);
  if (spec === undefined) {
    const suggestion = suggestKey(name);
    state.warnings.push(`unknown key ${name} ignored${suggestion === null ? '' : ` (did you mean ${suggestion}?)`}`);
    return;
  }
  applyValue(spec, value, state, name);
  if (spec.use === 'honoured' || (spec.when !== undefined && !spec.when.test(value))) return;
  if (spec.use === 'refused') refusals.push(`${name}=${value}: ${spec.why}`);
  else if (spec.use === 'ensemble') state.warnings.push(`${name} has no effect: ${spec.why}`);
  else state.warnings.push(`${name} is not used by Paddock: ${spec.why}`);
}

function finishDirectories(state: ParseState, baseDir: string): void {
  const { cfg, dataDirText, dataLogDirText } = state;
  if (dataDirText === null || dataDirText === '') throw new ConfigError('dataDir is not set');
  cfg.dataDir = resolvePath('dataDir', dataDirText, baseDir, state.warnings);
  cfg.dataLogDir =
    dataLogDirText === null || dataLogDirText === '' ? cfg.dataDir : resolvePath('dataLogDir', dataLogDirText, baseDir, state.warnings);
}

/** As ZooKeeper: -1 means 2x / 20x tickTime, then min <= max. */
function checkSessionTimeouts(cfg: ServerConfig, raw: ReadonlyMap<string, string>): void {
  const { min, max } = sessionTimeoutBounds(cfg);
  if (min > max) {
    throw new ConfigError(
      `minSessionTimeout (${min}) must not be larger than maxSessionTimeout (${max})` +
        (raw.has('minSessionTimeout') && raw.has('maxSessionTimeout') ? '' : ` with tickTime ${cfg.tickTime}`),
    );
  }
}

/** Four-letter words: srvr is always allowed, isro when read-only mode is enabled. */
function finishWhitelist(state: ParseState): void {
  const whitelist = new Set<string>();
  for (const item of (state.whitelistText ?? '').split(',')) {
    const w = item.trim();
    if (w === '') continue;
    if (w === '*') {
      whitelist.clear();
      whitelist.add('*');
      break;
    }
    if (!FOUR_LETTER_WORDS.includes(w)) state.warnings.push(`4lw.commands.whitelist: unknown command '${w}' ignored`);
    else whitelist.add(w);
  }
  if (!whitelist.has('*')) {
    whitelist.add('srvr');
    if (state.cfg.readOnlyModeEnabled) whitelist.add('isro');
  }
  state.cfg.fourLetterWhitelist = whitelist;
}

/** ZooKeeper's QuorumPeerConfig rules for server lines that do not make an ensemble. */
function checkStandalone(cfg: ServerConfig): void {
  const participants = cfg.servers.filter((s) => s.type === 'participant').length;
  const observers = cfg.servers.length - participants;
  if (participants === 0) {
    if (!cfg.standaloneEnabled) {
      throw new ConfigError('standaloneEnabled=false needs at least one participant server.N line (ZooKeeper refuses it too)');
    }
    if (observers > 0) throw new ConfigError('observers without participants is an invalid configuration');
  } else if (participants === 1 && cfg.standaloneEnabled && observers > 0) {
    throw new ConfigError('observers without a quorum is an invalid configuration: one participant runs standalone');
  }
}

/** Why a configuration describing an ensemble does not start, and how to run standalone on purpose. */
function ensembleRefusal(cfg: ServerConfig): string {
  const voters = cfg.servers.filter((s) => s.type === 'participant').map((s) => `server.${s.id}`);
  const what = voters.length > 1
    ? `an ensemble of ${voters.length} voting servers (${voters.join(', ')})`
    : `an ensemble (standaloneEnabled=false with ${voters.join(', ')})`;
  return (
    `this configuration describes ${what}, and Paddock cannot run as an ensemble member yet. Started alone on ` +
    'each host, every server would accept writes the others never see, and their data would silently diverge. ' +
    'To run one standalone server on purpose, remove the server.N lines (or keep a single server.N line ' +
    'with standaloneEnabled unset or true, which ZooKeeper also runs standalone)'
  );
}

/** Reads myid: required in an ensemble; in a standalone configuration optional, and a bad one only warns. */
function finishServerId(state: ParseState, myid: string | null | undefined): void {
  const { cfg } = state;
  const distributed = isDistributed(cfg);
  if (myid !== undefined && myid !== null) {
    try {
      cfg.serverId = parseMyid(myid);
    } catch (e) {
      if (!(e instanceof ConfigError) || cfg.servers.length > 0) throw e;
      state.warnings.push(`${e.message}; ignored because there are no server.N lines`);
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
  // As ZooKeeper's setupPeerType: the server list decides, a peerType that disagrees warns.
  const listed = me?.type ?? 'participant';
  if (state.peerTypeSet && cfg.peerType !== listed) {
    state.warnings.push(
      `peerType ${cfg.peerType} does not match ${me ? `server.${me.id}` : 'the server list'} (${listed}); using ${listed}`,
    );
  }
  cfg.peerType = listed;
}

/** clientPort and clientPortAddress, possibly from this server's own server.N line. */
function finishClientPort(state: ParseState): void {
  const { cfg } = state;
  let address = state.clientPortAddressText;
  const me = cfg.servers.find((s) => s.id === cfg.serverId);
  if (me && me.clientPort !== null) {
    if (cfg.clientPort !== 0 && cfg.clientPort !== me.clientPort) {
      throw new ConfigError(`clientPort ${cfg.clientPort} conflicts with client port ${me.clientPort} in server.${me.id}`);
    }
    const lineAddress = me.clientPortAddress;
    if (address !== null && lineAddress !== null && address !== lineAddress && !isAnyAddress(address)) {
      throw new ConfigError(`clientPortAddress ${address} conflicts with client address ${lineAddress} in server.${me.id}`);
    }
    cfg.clientPort = me.clientPort;
    if (lineAddress !== null) address = lineAddress;
  }
  if (cfg.clientPort === 0) {
    if (address !== null) throw new ConfigError('clientPortAddress is set but clientPort is not set');
    // As ZooKeeper: a TLS port alone is enough, and then no plain port is opened.
    if (cfg.secureClientPort === null) throw new ConfigError('clientPort is not set');
    cfg.clientPortEnabled = false;
    return;
  }
  if (address !== null) {
    if (address === '') throw new ConfigError(`invalid clientPortAddress '': empty address`);
    cfg.clientPortAddress = address;
  }
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
  return zooCfgPath(text, 'dataDir', baseDir);
}

/** The dynamicConfigFile zoo.cfg names, resolved against baseDir (the working directory, as Java opens it). */
export function zooCfgDynamicFile(text: string, baseDir: string): string | null {
  return zooCfgPath(text, 'dynamicConfigFile', baseDir);
}

function zooCfgPath(text: string, key: string, baseDir: string): string | null {
  let value: string | null = null;
  for (const e of parseProperties(text)) {
    if (e.key.trim() === key) value = e.value.trim();
  }
  return value === null || value === '' ? null : resolve(baseDir, value);
}

