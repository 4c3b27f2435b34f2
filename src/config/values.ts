/**
 * Typed readers for zoo.cfg values. Each throws a ConfigError naming the key and the bad value.
 */
import { ConfigError } from './config.js';

export function parseIntValue(key: string, value: string, min = -Infinity, max = Infinity): number {
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
export function parseDecodedInt(key: string, value: string, min: number): number {
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

export function parsePort(key: string, value: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new ConfigError(`invalid ${key} '${value}': not a port number`);
  const n = Number(value);
  if (n < 0 || n > 65535) throw new ConfigError(`invalid ${key} '${value}': a port must be from 0 to 65535`);
  return n;
}

export function parseTrueFalse(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(`invalid ${key} '${value}': expected true or false`);
}

export function parseYesNo(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new ConfigError(`invalid ${key} '${value}': expected yes or no`);
}
