/**
 * Kafka-style partition assignment among the members of a group (the scheme Kafka's old
 * ZooKeeper consumer used): a member registry, exclusive ownership of each partition, stored
 * offsets, and a rebalance whenever members come or go.
 *
 * Layout under `path`:
 *   members/<memberId>   ephemeral, self-healing (PersistentNode)
 *   owners/<partition>   ephemeral, data = memberId: who consumes the partition now
 *   offsets/<partition>  persistent, data = decimal offset
 *
 * Each member computes the same assignment from the sorted member list (partition i goes to
 * member i mod n), releases what it no longer owns (after its handler returned) and claims
 * what it now owns (once the previous owner released it). Offsets are committed with a
 * multi that checks the owner node, so a deposed owner can never overwrite them.
 */
import {
  NoNodeError,
  NodeExistsError,
  TransactionError,
  joinPath,
  oneShot,
  type ZooKeeperClient,
} from '../client/index.js';
import { PersistentNode } from './group.js';
import { ensurePath, guaranteedDelete, holdSignal, retry, waitForChange, type LossPolicy } from './util.js';

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
  ownerPath: string;
  ownerVersion: number;
  czxid: bigint;
  sessionId: bigint;
  controller: AbortController;
  dispose(): void;
  running: Promise<void> | null;
}

export class PartitionConsumer {
  private readonly member: PersistentNode;
  private readonly owned = new Map<number, Owned>();
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;

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
    this.wake?.();
    await this.running?.catch(() => {});
    for (const o of [...this.owned.values()]) await this.release(o);
    await this.member.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      try {
        await this.client.waitConnected({ signal });
        const changed: Promise<unknown>[] = [];
        const w = oneShot();
        changed.push(w.promise);
        const members = (
          await retry(this.client, () => this.client.getChildren(joinPath(this.path, 'members'), { watch: w.callback }), signal)
        ).sort();
        const plan = (this.options.assign ?? roundRobin)(members, this.options.partitions);
        const mine = new Set([...plan].filter(([, m]) => m === this.options.memberId).map(([p]) => p));
        for (const o of [...this.owned.values()]) {
          // Lost with the session, or no longer ours: stop the handler, give the partition back.
          if (o.sessionId !== this.client.sessionId || !mine.has(o.partition)) await this.release(o);
        }
        for (const p of mine) {
          const o = this.owned.get(p);
          if (o) {
            if (o.controller.signal.aborted && o.running === null) this.launch(o); // after a suspension
            continue;
          }
          const claimed = await this.claim(p, changed);
          if (claimed) this.launch(claimed);
        }
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        changed.push(woken);
        for (const o of this.owned.values()) changed.push(waitAbort(o.controller.signal));
        await waitForChange(this.client, Promise.race(changed), signal);
      } catch (err) {
        if (signal.aborted || this.client.state === 'closed') return;
        this.options.onError?.(err);
        await this.client.waitConnected({ signal }).catch(() => {});
      }
    }
  }

  /** Creates the owner node; when someone else holds it, adds a wake-up for its release. */
  private async claim(partition: number, changed: Promise<unknown>[]): Promise<Owned | null> {
    const ownerPath = joinPath(joinPath(this.path, 'owners'), String(partition));
    const sessionId = this.client.sessionId as bigint;
    try {
      const { stat } = await this.client.create2(ownerPath, this.options.memberId, { mode: 'ephemeral' });
      return this.owner(partition, ownerPath, stat.version, stat.czxid, sessionId);
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
    const w = oneShot();
    const stat = await this.client.exists(ownerPath, { watch: w.callback });
    if (!stat) {
      changed.push(Promise.resolve());
      return null;
    }
    if (stat.ephemeralOwner === sessionId) return this.owner(partition, ownerPath, stat.version, stat.czxid, sessionId);
    changed.push(w.promise);
    return null;
  }

  private owner(partition: number, ownerPath: string, version: number, czxid: bigint, sessionId: bigint): Owned {
    const o: Owned = {
      partition,
      ownerPath,
      ownerVersion: version,
      czxid,
      sessionId,
      controller: new AbortController(),
      dispose: () => {},
      running: null,
    };
    o.controller.abort(); // armed by launch()
    this.owned.set(partition, o);
    return o;
  }

  private launch(o: Owned): void {
    const hold = holdSignal(this.client, this.options.lossPolicy ?? 'suspended', o.sessionId);
    o.controller = new AbortController();
    const controller = o.controller;
    const forward = (): void => controller.abort(hold.signal.reason);
    if (hold.signal.aborted) forward();
    else hold.signal.addEventListener('abort', forward, { once: true });
    o.dispose = () => hold.dispose();
    const offsetPath = joinPath(joinPath(this.path, 'offsets'), String(o.partition));
    const assignment: PartitionAssignment = {
      partition: o.partition,
      signal: controller.signal,
      fencingToken: o.czxid,
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
        try {
          await this.client.transaction().check(o.ownerPath, o.ownerVersion).setData(offsetPath, value).commit();
        } catch (err) {
          if (!(err instanceof TransactionError) || err.failedIndex !== 1 || !(err.code === -101)) throw err;
          // First commit of this partition: create the offset node, still guarded by ownership.
          await this.client.transaction().check(o.ownerPath, o.ownerVersion).create(offsetPath, value).commit();
        }
      },
    };
    o.running = (async () => {
      try {
        await this.options.handler(assignment);
      } catch (err) {
        this.options.onError?.(err);
      }
    })().finally(() => {
      o.running = null;
      this.wake?.();
    });
  }

  private async release(o: Owned): Promise<void> {
    o.controller.abort();
    o.dispose();
    await o.running;
    this.owned.delete(o.partition);
    if (o.sessionId === this.client.sessionId) {
      try {
        await this.client.delete(o.ownerPath, { version: o.ownerVersion });
      } catch (err) {
        if (!(err instanceof NoNodeError)) await guaranteedDelete(this.client, o.ownerPath, { ephemeral: true });
      }
    }
  }
}

function waitAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return new Promise(() => {});
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export { NodeExistsError };
