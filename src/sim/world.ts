/**
 * The simulator's one clock and one event queue. Every event (a message arriving, a timer, a
 * fault) is a callback at a simulated millisecond; events at the same time run in the order
 * they were scheduled, so one seed gives one exact run.
 *
 * The servers' stores are the real asynchronous DiskQuorumStore over a MemoryDisk, whose every
 * call settles in promise reactions (microtasks), never on a real timer or real I/O. After an
 * event that started such work, the world lets the microtasks run to quiescence before the next
 * event: a disk operation takes no simulated time, and its continuations run in the same order
 * on every replay (the order of promise reactions is deterministic).
 */
import { Prng } from '../lib/prng.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
}

export class World {
  /** Simulated milliseconds since the start. */
  now = 0;
  readonly rng: Prng;
  private readonly heap: Event[] = [];
  private seq = 0;
  /** Events run so far (for the report and for bounding runaway runs). */
  steps = 0;
  /** Set when an event started asynchronous work (a store call, a promise chain). */
  private microtasks = false;
  /** The first error thrown in a promise reaction: runUntil throws it after the event. */
  private failure: unknown = null;

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  /** Runs `fn` at simulated time `at` (never earlier than now). */
  at(at: number, fn: () => void): void {
    this.push({ at: Math.max(at, this.now), seq: this.seq++, fn });
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  /** Runs `fn` after the current event, at the same time: what a microtask is to a real driver. */
  soon(fn: () => void): void {
    this.at(this.now, fn);
  }

  /**
   * Says that promise reactions were queued (a store or disk call, a promise chain of a
   * driver): they run before the next event. Every caller of asynchronous code must say so,
   * else its continuations would run at some later event's await.
   */
  expectMicrotasks(): void {
    this.microtasks = true;
  }

  /** An error in asynchronous work (a checker's violation, a bug): the run stops with it. */
  fail(err: unknown): void {
    this.failure ??= err;
  }

  /** Runs events up to time `end`, or until `stop` says so after an event; true if stopped. */
  async runUntil(end: number, stop: () => boolean = () => false): Promise<boolean> {
    await this.quiesce();
    while (this.heap.length > 0 && this.heap[0]!.at <= end) {
      const e = this.pop();
      this.now = e.at;
      this.steps++;
      e.fn();
      await this.quiesce();
      if (stop()) return true;
    }
    this.now = Math.max(this.now, end);
    return stop();
  }

  /**
   * Lets every queued microtask (and those they queue) run: a macrotask turn comes only once the
   * microtask queue is empty. Nothing in the simulation uses timers or real I/O, so one turn is
   * enough unless the reactions asked for more.
   */
  async quiesce(): Promise<void> {
    while (this.microtasks) {
      this.microtasks = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.failure !== null) throw this.failure;
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Event {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
