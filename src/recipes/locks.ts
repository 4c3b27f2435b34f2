/**
 * Locks: a reentrant mutex, a read-write lock, a counting semaphore with leases and a multi-lock.
 * The mutex, read-write lock and semaphore use Curator's data layout (InterProcessMutex,
 * InterProcessReadWriteLock, InterProcessSemaphoreV2), so Java and TypeScript processes can
 * contend on one path; see docs/recipes/locks.md.
 */
import { NoNodeError, baseName, joinPath, oneShot, type CallOptions, type ZooKeeperClient } from '../client/index.js';
import { acquireNode, standardDriver, type HeldNode, type LockDriver } from './lock-internals.js';
import {
  combineSignals,
  defaultNodeData,
  guaranteedDelete,
  holdSignal,
  protectedCreate,
  readContenders,
  retry,
  sequenceOf,
  sortBySequence,
  waitForChange,
  type Hold,
  type LossPolicy,
} from './util.js';

/** A held lock. Release it exactly once (extra calls do nothing); `await using` releases it too. */
export interface LockHandle {
  /** The lock node. */
  readonly path: string;
  /**
   * The czxid of the lock node: grows with every new holder, so a resource can refuse writes
   * carrying an older token than one it has already seen.
   */
  readonly fencingToken: bigint;
  /**
   * Aborts when this handle no longer holds the lock: on `release()`, client close, session
   * expiry (also when decided by the client, cut off for the session timeout), deletion of the
   * lock node by anyone, and on connection loss with the default lossPolicy 'suspended'.
   */
  readonly signal: AbortSignal;
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface LockOptions {
  /** Data stored in the lock node (default: "host:pid"). */
  data?: Uint8Array;
  /**
   * When `signal` of a held lock aborts: 'suspended' (default) on any connection loss, as the
   * session may expire before it comes back; 'expired' only once the session is known lost
   * (the server says so, or the client's `clientSideExpiry` timer runs out while cut off).
   */
  lossPolicy?: LossPolicy;
}

class Holder {
  count = 0;
  constructor(
    readonly node: HeldNode,
    readonly hold: Hold,
  ) {}
}

/** One acquire's handle: its signal follows the holder's, and aborts on its own release. */
function handle(holder: Holder, releaseOne: () => Promise<void>): LockHandle {
  const own = new AbortController();
  const parent = holder.hold.signal;
  const follow = (): void => own.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    parent.removeEventListener('abort', follow);
    if (!own.signal.aborted) own.abort(new DOMException('lock released', 'AbortError'));
    await releaseOne();
  };
  return {
    path: holder.node.path,
    fencingToken: holder.node.czxid,
    signal: own.signal,
    release,
    [Symbol.asyncDispose]: release,
  };
}

/**
 * A reentrant, fair mutex (Curator InterProcessMutex layout: `<path>/_c_<uuid>-lock-<seq>`).
 * Reentrancy is per Mutex object: its holder may acquire again, and each acquire needs its own
 * release. Use one Mutex object per logical owner.
 */
export class Mutex {
  private holder: Holder | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly options: LockOptions & { driver?: LockDriver } = {},
  ) {}

  /** Waits for the lock. `timeoutMs`/`signal` reject the call and withdraw from the queue. */
  acquire(options: CallOptions = {}): Promise<LockHandle> {
    return this.serialize(async () => (await this.take(options, false)) as LockHandle);
  }

  /** Takes the lock if it is free now; null otherwise. */
  tryAcquire(options: CallOptions = {}): Promise<LockHandle | null> {
    return this.serialize(() => this.take(options, true));
  }

  /** True while this object holds the lock. */
  get isHeld(): boolean {
    return this.holder !== null;
  }

  /** Data of every contender's node, holder first. */
  async participants(): Promise<string[]> {
    const driver = this.options.driver ?? standardDriver('lock-');
    const contenders = await readContenders(this.client, this.path, (name) => driver.isContender(name));
    return contenders.map((c) => c.data.toString());
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async take(options: CallOptions, tryOnly: boolean): Promise<LockHandle | null> {
    const current = this.holder;
    if (current && this.client.sessionId === current.node.sessionId && !current.hold.signal.aborted) {
      current.count++;
      return handle(current, () => this.releaseOne(current));
    }
    const { signal, dispose } = combineSignals(options);
    try {
      const node = await acquireNode(
        this.client,
        this.path,
        this.options.driver ?? standardDriver('lock-'),
        this.options.data ?? defaultNodeData(),
        signal,
        tryOnly,
      );
      if (!node) return null;
      const hold = holdSignal(this.client, this.options.lossPolicy ?? 'suspended', node.sessionId, { node: node.path });
      const holder = new Holder(node, hold);
      holder.count = 1;
      this.holder = holder;
      return handle(holder, () => this.releaseOne(holder));
    } finally {
      dispose();
    }
  }

  private async releaseOne(holder: Holder): Promise<void> {
    holder.count--;
    if (holder.count > 0) return;
    if (this.holder === holder) this.holder = null;
    holder.hold.dispose(new DOMException('lock released', 'AbortError'));
    await guaranteedDelete(this.client, holder.node.path, { ephemeral: true });
  }
}

const READ = '__READ__';
const WRITE = '__WRIT__';

/**
 * Many readers or one writer (Curator InterProcessReadWriteLock layout: `__READ__` and
 * `__WRIT__` nodes under one path). Fair: a reader waits behind any earlier writer. The holder
 * of the write lock may also take the read lock (downgrade); a reader can never upgrade.
 */
export class ReadWriteLock {
  readonly writeLock: Mutex;
  readonly readLock: Mutex;

  constructor(client: ZooKeeperClient, path: string, options: LockOptions = {}) {
    const isContender = (name: string): boolean => name.includes(READ) || name.includes(WRITE);
    const writeDriver: LockDriver = {
      lockName: WRITE,
      isContender,
      check(sorted, ours) {
        const i = sorted.indexOf(ours);
        return i === 0 ? { acquired: true } : { acquired: false, watch: sorted[i - 1] as string };
      },
    };
    this.writeLock = new Mutex(client, path, { ...options, driver: writeDriver });
    const writeLock = this.writeLock;
    const readDriver: LockDriver = {
      lockName: READ,
      isContender,
      check(sorted, ours) {
        if (writeLock.isHeld) return { acquired: true };
        const i = sorted.indexOf(ours);
        const firstWriter = sorted.findIndex((n) => n.includes(WRITE));
        if (firstWriter === -1 || i < firstWriter) return { acquired: true };
        return { acquired: false, watch: sorted[firstWriter] as string };
      },
    };
    this.readLock = new Mutex(client, path, { ...options, driver: readDriver });
  }
}

/** A lease of a Semaphore. */
export interface Lease {
  readonly path: string;
  /** Aborts when the lease ends: release, client close, session loss, lease node deleted, lossPolicy. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A counting semaphore handing out at most `maxLeases` leases (Curator InterProcessSemaphoreV2
 * layout: `<path>/locks` for the internal mutex, `<path>/leases/_c_<uuid>-lease-<seq>`).
 * Leases are ephemeral: they free themselves when their session ends. All participants must
 * agree on `maxLeases`.
 */
export class Semaphore {
  private readonly lock: Mutex;
  private readonly leasesPath: string;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    readonly maxLeases: number,
    private readonly options: LockOptions = {},
  ) {
    if (!Number.isInteger(maxLeases) || maxLeases < 1) throw new RangeError('maxLeases must be a positive integer');
    this.lock = new Mutex(client, joinPath(path, 'locks'), { data: options.data });
    this.leasesPath = joinPath(path, 'leases');
  }

  /** Waits for one lease. */
  async acquire(options: CallOptions = {}): Promise<Lease> {
    const { signal, dispose } = combineSignals(options);
    try {
      // One waiter at a time holds the internal lock while it waits for a free lease.
      const inner = await this.lock.acquire({ signal });
      try {
        return await this.waitForLease(signal);
      } finally {
        await inner.release();
      }
    } finally {
      dispose();
    }
  }

  /** Waits for `count` leases; all or none. */
  async acquireMany(count: number, options: CallOptions = {}): Promise<Lease[]> {
    const leases: Lease[] = [];
    try {
      for (let i = 0; i < count; i++) leases.push(await this.acquire(options));
      return leases;
    } catch (err) {
      await Promise.all(leases.map((l) => l.release()));
      throw err;
    }
  }

  /** The lease nodes in existence (held or being granted). */
  async leaseNodes(): Promise<string[]> {
    try {
      return sortBySequence(await retry(this.client, () => this.client.getChildren(this.leasesPath)));
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
  }

  private async waitForLease(signal: AbortSignal): Promise<Lease> {
    for (;;) {
      const node = await protectedCreate(this.client, this.leasesPath, 'lease-', this.options.data ?? defaultNodeData(), 'ephemeralSequential', signal);
      const sessionId = this.client.sessionId;
      const ours = baseName(node.path);
      try {
        for (;;) {
          const w = oneShot();
          const children = await retry(this.client, () => this.client.getChildren(this.leasesPath, { watch: w.callback }), signal);
          if (this.client.sessionId !== sessionId || !children.includes(ours)) break; // lost with the session
          if (children.length <= this.maxLeases) {
            const hold = holdSignal(this.client, this.options.lossPolicy ?? 'suspended', sessionId, { node: node.path });
            let released = false;
            const release = async (): Promise<void> => {
              if (released) return;
              released = true;
              hold.dispose(new DOMException('lease released', 'AbortError'));
              await guaranteedDelete(this.client, node.path, { ephemeral: true });
            };
            return { path: node.path, signal: hold.signal, release, [Symbol.asyncDispose]: release };
          }
          await waitForChange(this.client, w.promise, signal);
        }
      } catch (err) {
        void guaranteedDelete(this.client, node.path, { ephemeral: true });
        throw err;
      }
    }
  }
}

/**
 * Several mutexes taken as one: all or none. They are taken in path order, so two multi-locks
 * over overlapping paths cannot deadlock.
 */
export class MultiLock {
  private readonly mutexes: Mutex[];

  constructor(client: ZooKeeperClient, paths: readonly string[], options: LockOptions = {}) {
    this.mutexes = [...new Set(paths)].sort().map((p) => new Mutex(client, p, options));
  }

  async acquire(options: CallOptions = {}): Promise<LockHandle> {
    const { signal, dispose } = combineSignals(options);
    const held: LockHandle[] = [];
    try {
      for (const m of this.mutexes) held.push(await m.acquire({ signal }));
    } catch (err) {
      await Promise.all(held.map((h) => h.release()));
      throw err;
    } finally {
      dispose();
    }
    const ac = new AbortController();
    for (const h of held) {
      if (h.signal.aborted) ac.abort(h.signal.reason);
      else h.signal.addEventListener('abort', () => ac.abort(h.signal.reason), { once: true });
    }
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      if (!ac.signal.aborted) ac.abort(new DOMException('lock released', 'AbortError'));
      await Promise.all(held.map((h) => h.release()));
    };
    const tokens = held.map((h) => h.fencingToken);
    return {
      path: held.map((h) => h.path).join(','),
      fencingToken: tokens.reduce((a, b) => (a > b ? a : b), 0n),
      signal: ac.signal,
      release,
      [Symbol.asyncDispose]: release,
    };
  }
}

export { sequenceOf };
