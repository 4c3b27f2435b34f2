/**
 * The invariants every ServerConfig holds, however it was made (zoo.cfg, the embedded defaults,
 * a test's overrides). The integer and port checks come from the key table, so their messages
 * name the zoo.cfg key.
 */
import { ConfigError, defaultConfig, sessionTimeoutBounds, type ServerConfig } from './config.js';
import { CONFIG_KEYS } from './keys.js';

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
  if (typeof cfg.dataDir !== 'string' || cfg.dataDir === '') throw new ConfigError('dataDir is not set');
  if (typeof cfg.dataLogDir !== 'string' || cfg.dataLogDir === '') throw new ConfigError('dataLogDir is empty');
  for (const k of CONFIG_KEYS) {
    if (k.field === undefined || k.min === undefined) continue;
    const value = cfg[k.field] as number | null;
    if (k.type === 'port') {
      if (value !== null) checkPort(k.key, value, k.min === 0);
    } else {
      checkInt(k.key, value as number, k.min);
    }
  }
  const { min, max } = sessionTimeoutBounds(cfg);
  if (min > max) {
    throw new ConfigError(
      `minSessionTimeout (${min}) must not be larger than maxSessionTimeout (${max})` +
        (cfg.minSessionTimeout === -1 || cfg.maxSessionTimeout === -1 ? ` (defaults are 2 and 20 times tickTime ${cfg.tickTime})` : ''),
    );
  }
  // Not zoo.cfg keys: set by the embedded configuration and by myid.
  checkInt('maxOutboundBytesPerConnection', cfg.maxOutboundBytesPerConnection, 1);
  checkInt('maxOutboundBytesTotal', cfg.maxOutboundBytesTotal, 1);
  checkInt('nio.sessionlessCnxnTimeout', cfg.sessionlessCnxnTimeoutMs, 1);
  checkInt('serverId', cfg.serverId, 0);
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
