/**
 * A bounded push queue consumed as an async iterator. Producers push synchronously; the
 * consumer pulls with `for await`. `end()` finishes the iteration once the buffer drains;
 * `fail()` throws on the next pull.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private done = false;
  private error: unknown = undefined;
  private failed = false;

  constructor(
    /** Most events held for a slow consumer; `onOverflow` decides what to keep beyond. */
    private readonly limit: number,
    private readonly onOverflow: (buffer: T[], next: T) => void = (buffer) => void buffer.shift(),
    private readonly onReturn: () => void = () => {},
  ) {}

  get pending(): number {
    return this.buffer.length;
  }

  get ended(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
      return;
    }
    if (this.buffer.length >= this.limit) {
      this.onOverflow(this.buffer, item);
      return;
    }
    this.buffer.push(item);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiter && this.buffer.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.failed = true;
    this.error = error;
    this.done = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.failed) {
      this.failed = false;
      return Promise.reject(this.error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    const wasDone = this.done;
    this.done = true;
    this.buffer.length = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
    if (!wasDone) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
