/**
 * Levelled, one-line-per-event log to stderr: readable text by default, or with
 * `--log-format json` (PADDOCK_LOG_FORMAT=json) one JSON object per line for log shippers:
 * {"time", "level", "logger", "msg", "fields"}.
 */
import type { LogFields, Logger } from '../lib/log.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  sink?: (line: string) => void;
  /** The clock, for tests. */
  now?: () => Date;
}

/** `createLogger(component, level?, sink?)` as before, or `createLogger(component, options)`. */
export function createLogger(component: string, levelOrOptions: LogLevel | LoggerOptions = {}, sink?: (line: string) => void): Logger {
  const options: LoggerOptions = typeof levelOrOptions === 'string' ? { level: levelOrOptions, sink } : levelOrOptions;
  const min = ORDER[options.level ?? envLevel()];
  const write = options.sink ?? ((l: string) => process.stderr.write(l + '\n'));
  const format = options.format ?? envFormat();
  const now = options.now ?? (() => new Date());
  const emit = (lvl: LogLevel, msg: string, fields: LogFields | undefined): void => {
    if (ORDER[lvl] < min) return;
    const time = now().toISOString();
    write(format === 'json' ? jsonLine(time, lvl, component, msg, fields) : textLine(time, lvl, component, msg, fields));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function textLine(time: string, level: LogLevel, component: string, msg: string, fields: LogFields | undefined): string {
  const extra = fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${String(v)}`).join('');
  return `${time} ${level.toUpperCase().padEnd(5)} [${component}] ${msg}${extra}`;
}

/** One JSON object; bigints (session ids, zxids) as decimal strings, which JSON numbers would round. */
export function jsonLine(time: string, level: LogLevel, component: string, msg: string, fields: LogFields | undefined): string {
  return JSON.stringify({ time, level, logger: component, msg, fields: fields ?? {} }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function envLevel(): LogLevel {
  const v = (process.env.PADDOCK_LOG_LEVEL ?? 'info').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'info';
}

function envFormat(): LogFormat {
  return (process.env.PADDOCK_LOG_FORMAT ?? '').toLowerCase() === 'json' ? 'json' : 'text';
}

export { silentLogger, type LogFields, type Logger } from '../lib/log.js';

export { hex } from '../lib/hex.js';
