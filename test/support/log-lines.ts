import type { Logger } from '../../src/lib/log.js';
import { Waiters } from './waiters.js';

/** A logger that keeps every line, and waiting for a line that matches. */
export class LogLines {
  readonly lines: string[] = [];
  private readonly waiters = new Waiters();
  readonly logger: Logger;

  constructor() {
    const add = (msg: string): void => {
      this.lines.push(msg);
      this.waiters.wake();
    };
    this.logger = { debug: add, info: add, warn: add, error: add };
  }

  /** Resolves with the first line from index `from` on that matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const match = (): RegExpExecArray | undefined => {
      for (let i = from; i < this.lines.length; i++) {
        const found = pattern.exec(this.lines[i]!);
        if (found) return found;
      }
      return undefined;
    };
    return this.waiters.until(match, timeoutMs, () => `no ${pattern} within ${timeoutMs} ms:\n${this.lines.slice(-30).join('\n')}`);
  }
}
