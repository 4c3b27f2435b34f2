/**
 * Kafka-style partition assignment among the members of a group (the scheme Kafka's old
 * ZooKeeper consumer used): a member registry, exclusive ownership of each partition, stored
 * offsets, and a rebalance whenever members come or go.
 *
 * Layout under `path`:
 *   members/<memberId>   ephemeral, self-healing (PersistentNode)
 *   owners/<partition>/  a Mutex per partition (Curator lock layout, data = memberId): the
 *                        holder consumes the partition; its lock node is the fencing token
 *   offsets/<partition>  persistent, data = decimal offset
 *
 * Each member computes the same assignment from the sorted member list (partition i goes to
 * member i mod n), releases what it no longer owns (after its handler returned) and claims
 * what it now owns (once the previous owner released it). Offsets are committed with a
 * multi that checks the owner's lock node, which exists only while that owner holds the
 * partition, so a deposed owner can never overwrite them.
 */
import { NoNodeError, TransactionError, joinPath, oneShot, type ZooKeeperClient } from '../client/index.js';
import { PersistentNode } from './group.js';
import { Mutex, type LockHandle } from './locks.js';
import { ensurePath, retry, waitForChange, type LossPolicy } from './util.js';

export interface PartitionAssignment {
  partition: number;
  /** Aborts when this member must stop consuming the partition (rebalance, session trouble, close). */
  signal: AbortSignal;
  /** The owner node's czxid: grows with every new owner of the partition. */
  fencingToken: bigint;
  /** The last committed offset, or null if none was ever committed. */
  committedOffset(): Promise<bigint | null>;
  /** Stores an offset, only while this member still owns the partition (else TransactionError). */
  commit(offset: bigint | number): Promise<void>;
}

export type AssignFunction = (sortedMembers: readonly string[], partitions: number) => Map<number, string>;

/** Partition i goes to member i mod n (members sorted by id). */
export const roundRobin: AssignFunction = (members, partitions) => {
  const out = new Map<number, string>();
  if (members.length === 0) return out;
  for (let p = 0; p < partitions; p++) out.set(p, members[p % members.length] as string);
  return out;
};

interface Owned {
  partition: number;
  lock: LockHandle;
  /** Aborted to revoke the partition (rebalance, close) or when the lock is no longer trusted. */
  revoke: AbortController;
  running: Promise<void>;
}

export class PartitionConsumer {
  private readonly member: PersistentNode;
  private readonly owned = new Map<number, Owned>();
  private readonly claiming = new Map<number, AbortController>();
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Set by wake-ups that arrive while the loop is busy, so none is lost. */
  private dirty = false;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly options: {
      memberId: string;
      partitions: number;
      /** Called for each partition this member gains; must return once `signal` aborts. */
      handler: (assignment: PartitionAssignment) => Promise<void>;
      assign?: AssignFunction;
      lossPolicy?: LossPolicy;
      onError?: (err: unknown) => void;
    },
  ) {
    this.member = new PersistentNode(client, joinPath(joinPath(path, 'members'), options.memberId), options.memberId, 'ephemeral');
  }

  /** Partitions this member currently owns. */
  get assigned(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    for (const d of ['members', 'owners', 'offsets']) await ensurePath(this.client, joinPath(this.path, d));
    await this.member.start();
    this.running ??= this.run();
  }

  /** Stops every handler, releases every partition and leaves the group. */
  async close(): Promise<void> {
    this.stop.abort();
    this.poke();
    await this.running?.catch(() => {});
    for (const c of this.claiming.values()) c.abort();
    for (const o of [...this.owned.values()]) await this.release(o);
    await this.member.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      this.dirty = false;
      try {
        await this.client.waitConnected({ signal });
        const w = oneShot();
        const members = (
          await retry(this.client, () => this.client.getChildren(joinPath(this.path, 'members'), { watch: w.callback }), signal)
        ).sort();
        const plan = (this.options.assign ?? roundRobin)(members, this.options.partitions);
        const mine = new Set([...plan].filter(([, m]) => m === this.options.memberId).map(([p]) => p));
        for (const o of [...this.owned.values()]) {
          // No longer ours, or the hold is no longer trusted: stop the handler, give it back.
          if (!mine.has(o.partition) || o.lock.signal.aborted) await this.release(o);
        }
        for (const [p, c] of [...this.claiming]) {
          if (!mine.has(p)) {
            c.abort();
            this.claiming.delete(p);
          }
        }
        for (const p of mine) if (!this.owned.has(p) && !this.claiming.has(p)) this.claim(p);
        if (this.dirty) continue;
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        const aborts = [...this.owned.values()].map((o) => waitAbort(o.lock.signal));
        await waitForChange(this.client, Promise.race([w.promise, woken, ...aborts]), signal);
      } catch (err) {
        if (signal.aborted || this.client.state === 'closed') return;
        this.options.onError?.(err);
        await this.client.waitConnected({ signal }).catch(() => {});
      }
    }
  }

  /** Waits in the partition's lock queue; the lock holder owns the partition. */
  private claim(partition: number): void {
    const controller = new AbortController();
    this.claiming.set(partition, controller);
    const mutex = new Mutex(this.client, joinPath(joinPath(this.path, 'owners'), String(partition)), {
      data: Buffer.from(this.options.memberId),
      lossPolicy: this.options.lossPolicy ?? 'suspended',
    });
    mutex.acquire({ signal: controller.signal }).then(
      (lock) => {
        if (this.claiming.get(partition) !== controller || this.stop.signal.aborted) {
          void lock.release();
          return;
        }
        this.claiming.delete(partition);
        const revoke = new AbortController();
        const forward = (): void => revoke.abort(lock.signal.reason);
        if (lock.signal.aborted) forward();
        else lock.signal.addEventListener('abort', forward, { once: true });
        this.owned.set(partition, { partition, lock, revoke, running: this.launch(partition, lock, revoke.signal) });
        this.poke();
      },
      (err) => {
        if (this.claiming.get(partition) === controller) this.claiming.delete(partition);
        if (!controller.signal.aborted) this.options.onError?.(err);
        this.poke();
      },
    );
  }

  private async launch(partition: number, lock: LockHandle, signal: AbortSignal): Promise<void> {
    const offsetPath = joinPath(joinPath(this.path, 'offsets'), String(partition));
    const assignment: PartitionAssignment = {
      partition,
      signal,
      fencingToken: lock.fencingToken,
      committedOffset: async () => {
        try {
          return BigInt((await retry(this.client, () => this.client.getData(offsetPath))).data.toString() || '0');
        } catch (err) {
          if (err instanceof NoNodeError) return null;
          throw err;
        }
      },
      commit: async (offset) => {
        const value = String(offset);
        // The lock node exists only while we hold the partition: checking it fences the write.
        try {
          await this.client.transaction().check(lock.path, 0).setData(offsetPath, value).commit();
        } catch (err) {
          if (!(err instanceof TransactionError) || err.failedIndex !== 1 || err.code !== -101) throw err;
          await this.client.transaction().check(lock.path, 0).create(offsetPath, value).commit();
        }
      },
    };
    try {
      await this.options.handler(assignment);
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  private async release(o: Owned): Promise<void> {
    this.owned.delete(o.partition);
    // Stop the handler first, then give the partition back: never two consumers at once.
    o.revoke.abort(new Error('partition revoked'));
    await o.running;
    await o.lock.release();
  }
}

function waitAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
