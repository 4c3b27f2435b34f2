/**
 * Waiting on a condition without polling: whatever changes the state a condition reads calls
 * `wake()`, and each pending `until` checks its condition again.
 */
export class Waiters {
  private readonly checks = new Set<() => void>();

  /** Checks every pending condition (call it after each change they may read). */
  wake(): void {
    for (const check of [...this.checks]) check();
  }

  /**
   * Resolves with the first value of `test` that is not undefined, null or false (checked now and
   * at every wake); rejects with the error `test` throws, or after `timeoutMs` with `describe()`.
   */
  until<T>(test: () => T | undefined | null | false, timeoutMs: number, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (settle: () => void): void => {
        this.checks.delete(check);
        clearTimeout(timer);
        settle();
      };
      const check = (): void => {
        let value: T | undefined | null | false;
        try {
          value = test();
        } catch (err) {
          finish(() => reject(err as Error));
          return;
        }
        if (value !== undefined && value !== null && value !== false) finish(() => resolve(value));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(describe()))), timeoutMs);
      this.checks.add(check);
      check();
    });
  }
}
