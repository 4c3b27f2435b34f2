/** Levelled, one-line-per-event log to stderr. */
import type { Logger } from '../lib/log.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(component: string, level: LogLevel = envLevel(), sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string): void => {
    if (ORDER[lvl] < min) return;
    sink(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${component}] ${msg}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

function envLevel(): LogLevel {
  const v = (process.env.PADDOCK_LOG_LEVEL ?? 'info').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'info';
}

export { silentLogger, type Logger } from '../lib/log.js';

export { hex } from '../lib/hex.js';
