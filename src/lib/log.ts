/** The logging interface the core is given; the levelled stderr logger is in server/logger.ts. */

/** Structured values that go with a message (JSON logs carry them as "fields"). */
export type LogFields = Readonly<Record<string, string | number | boolean | bigint | null>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
