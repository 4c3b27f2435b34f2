/**
 * Leader election in two styles, with leadership as an AbortSignal and a fencing token.
 * - LeaderLatch: you hold a place in line until close(); Curator LeaderLatch layout
 *   (`<path>/_c_<uuid>-latch-<seq>`, data = participant id).
 * - LeaderSelector: your function is called while you lead and must return when its signal
 *   aborts; built on the Mutex, so it uses Curator LeaderSelector's layout (`-lock-` nodes).
 */
import { NoNodeError, SessionExpiredError, baseName, joinPath, oneShot, type CallOptions, type ZooKeeperClient } from '../client/index.js';
import { Mutex } from './locks.js';
import {
  combineSignals,
  guaranteedDelete,
  holdSignal,
  protectedCreate,
  raceSignal,
  readContenders,
  retry,
  sortBySequence,
  waitForChange,
  type LossPolicy,
} from './util.js';

/** One term of leadership. */
export interface Leadership {
  /**
   * Aborts as soon as leadership ends or can no longer be trusted: close of the latch, selector
   * or client; session expiry (also when decided by the client, cut off for the session
   * timeout); deletion of the leader's node by anyone; connection loss (default lossPolicy
   * 'suspended'). Stop acting as leader when it fires.
   */
  readonly signal: AbortSignal;
  /**
   * The czxid of the leader's node. A later leader always has a larger token, so a guarded
   * resource that remembers the largest token seen rejects a deposed leader's writes.
   */
  readonly fencingToken: bigint;
  /** The leader's node path. */
  readonly path: string;
}

export interface LeaderOptions {
  /** Participant id, stored as the node's data (default: "host:pid"). */
  id?: string;
  /**
   * When a term's signal aborts on connection trouble: 'suspended' (default) on any connection
   * loss; 'expired' only once the session is known lost (the server says so, or the client's
   * `clientSideExpiry` timer runs out while cut off).
   */
  lossPolicy?: LossPolicy;
}

export interface Participant {
  id: string;
  isLeader: boolean;
  path: string;
}

async function readParticipants(client: ZooKeeperClient, path: string, marker: string): Promise<Participant[]> {
  const contenders = await readContenders(client, path, (name) => name.includes(marker));
  return contenders.map((c, i) => ({ id: c.data.toString(), isLeader: i === 0, path: c.path }));
}

const LATCH = 'latch-';

/**
 * A place in the leadership line, held until close(). After a connection loss the latch stays
 * in line with the same node if the session survives (and may lead again with the same token);
 * after session loss it rejoins at the back with a new node.
 */
export class LeaderLatch {
  private closed = false;
  private running: Promise<void> | null = null;
  private node: { path: string; czxid: bigint; sessionId: bigint } | null = null;
  private current: (Leadership & { dispose(reason?: unknown): void }) | null = null;
  private readonly listeners = new Set<(leadership: Leadership | null) => void>();
  private readonly stop = new AbortController();
  readonly id: string;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly options: LeaderOptions = {},
  ) {
    this.id = options.id ?? `${process.pid}`;
  }

  /** Joins the election (idempotent). */
  start(): void {
    if (this.closed) throw new Error('LeaderLatch is closed');
    this.running ??= this.run();
  }

  /** The current term, or null when not leading. */
  get leadership(): Leadership | null {
    return this.current && !this.current.signal.aborted ? this.current : null;
  }

  get hasLeadership(): boolean {
    return this.leadership !== null;
  }

  /** Called with each new term, and with null when a term ends. Returns the unsubscribe. */
  onChange(listener: (leadership: Leadership | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits until this latch leads; starts it if needed. */
  await(options: CallOptions = {}): Promise<Leadership> {
    this.start();
    const now = this.leadership;
    if (now) return Promise.resolve(now);
    const { signal, dispose } = combineSignals(options);
    let off = (): void => {};
    const became = new Promise<Leadership>((resolve) => {
      off = this.onChange((l) => l && resolve(l));
    });
    return raceSignal(became, signal).finally(() => {
      off();
      dispose();
    });
  }

  /** Everyone in line, the leader first. */
  participants(): Promise<Participant[]> {
    return readParticipants(this.client, this.path, LATCH);
  }

  /** Leaves the election: ends any term and deletes the node. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new Error('LeaderLatch closed'));
    this.setLeadership(null, new DOMException('LeaderLatch closed', 'AbortError'));
    await this.running?.catch(() => {});
    if (this.node) await guaranteedDelete(this.client, this.node.path, { ephemeral: true });
    this.node = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Ends the current term (its signal aborts with `reason`) and starts `next`, if any. */
  private setLeadership(next: (Leadership & { dispose(reason?: unknown): void }) | null, reason?: unknown): void {
    const prev = this.current;
    if (prev === next) return;
    this.current = next;
    if (prev) prev.dispose(reason);
    if (prev || next) for (const l of [...this.listeners]) l(next && !next.signal.aborted ? next : null);
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!this.closed) {
      try {
        await this.client.waitConnected({ signal });
        if (!this.node || this.node.sessionId !== this.client.sessionId) {
          const created = await protectedCreate(this.client, this.path, LATCH, Buffer.from(this.id), 'ephemeralSequential', signal);
          this.node = { ...created, sessionId: this.client.sessionId as bigint };
        }
        const node = this.node;
        const ours = baseName(node.path);
        const children = await retry(this.client, () => this.client.getChildren(this.path), signal);
        const sorted = sortBySequence(children.filter((c) => c.includes(LATCH)));
        const i = sorted.indexOf(ours);
        if (i === -1) {
          this.node = null; // deleted under us (or its session ended): queue again
          continue;
        }
        if (i === 0) {
          // Leading. The hold also watches our node, so a deletion by someone else ends the term.
          const hold = holdSignal(this.client, this.options.lossPolicy ?? 'suspended', node.sessionId, { node: node.path });
          const term = { signal: hold.signal, fencingToken: node.czxid, path: node.path, dispose: hold.dispose };
          if (!term.signal.aborted) this.setLeadership(term);
          await Promise.race([waitForAbort(term.signal), waitForAbort(signal)]);
          this.setLeadership(null, signal.aborted ? signal.reason : undefined);
          hold.dispose();
          // Look again: same node after a suspension, a new one after deletion or session loss.
          continue;
        }
        const w = oneShot();
        const predecessor = joinPath(this.path, sorted[i - 1] as string);
        const stat = await retry(this.client, () => this.client.exists(predecessor, { watch: w.callback }), signal);
        if (stat) await waitForChange(this.client, w.promise, signal);
      } catch (err) {
        if (this.closed) return;
        if (err instanceof SessionExpiredError) continue;
        // Anything else: wait for a healthy connection and try again.
        await this.client.waitConnected({ signal }).catch(() => {});
        if (this.client.state === 'closed') return;
      }
    }
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Calls `lead(leadership)` whenever this participant wins; it leads only while that call runs
 * and must return promptly once `leadership.signal` aborts. With `autoRequeue` (default) it
 * queues again after each term.
 */
export class LeaderSelector {
  private readonly mutex: Mutex;
  private closed = false;
  private running: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private leading = false;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly lead: (leadership: Leadership) => Promise<void>,
    private readonly options: LeaderOptions & { autoRequeue?: boolean; onError?: (err: unknown) => void } = {},
  ) {
    this.mutex = new Mutex(client, path, {
      data: Buffer.from(options.id ?? `${process.pid}`),
      lossPolicy: options.lossPolicy ?? 'suspended',
    });
  }

  start(): void {
    if (this.closed) throw new Error('LeaderSelector is closed');
    this.running ??= this.run();
  }

  get hasLeadership(): boolean {
    return this.leading;
  }

  participants(): Promise<Participant[]> {
    return readParticipants(this.client, this.path, 'lock-');
  }

  /** Stops: aborts the current term (the lead function should return) and leaves the line. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new Error('LeaderSelector closed'));
    await this.running?.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async run(): Promise<void> {
    const stop = this.stop.signal;
    while (!this.closed) {
      let lock;
      try {
        lock = await this.mutex.acquire({ signal: stop });
      } catch (err) {
        if (this.closed) return;
        await this.client.waitConnected({ signal: stop }).catch(() => {});
        if (this.client.state === 'closed') return;
        continue;
      }
      // The term's signal: the lock's (released, lost, node deleted) or the selector's close.
      const term = combineSignals({ signal: stop });
      const follow = (): void => term.abort(lock.signal.reason);
      if (lock.signal.aborted) follow();
      else lock.signal.addEventListener('abort', follow, { once: true });
      this.leading = true;
      try {
        if (!term.signal.aborted) await this.lead({ signal: term.signal, fencingToken: lock.fencingToken, path: lock.path });
      } catch (err) {
        this.options.onError?.(err);
      } finally {
        this.leading = false;
        lock.signal.removeEventListener('abort', follow);
        term.abort(new DOMException('leadership term over', 'AbortError'));
        term.dispose();
        await lock.release();
      }
      if (this.options.autoRequeue === false) return;
    }
  }
}
