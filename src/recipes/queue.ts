/**
 * Queues on sequential nodes.
 * - DistributedQueue: FIFO. Items are `<path>/qn-<seq>` (the layout of ZooKeeper's own queue
 *   recipe and Curator's SimpleDistributedQueue, so those can produce or consume the same
 *   queue). `take()` removes an item before returning it (at most once); `process()` claims an
 *   item with an ephemeral node under `<path>-claims` and deletes it only after the handler
 *   succeeded (at least once: a consumer that dies mid-item leaves it for another).
 * - PriorityQueue: the same with `<path>/pq-<priority>-<seq>`; lower priority values first.
 */
import { ConnectionLossError, NoNodeError, NodeExistsError, isRetryable, joinPath, oneShot, type CallOptions, type WatchCallback, type ZooKeeperClient } from '../client/index.js';
import { combineSignals, ensurePath, guaranteedDelete, retry, sequenceOf, waitForChange } from './util.js';

export interface QueueItem {
  /** The item's node name. */
  name: string;
  data: Buffer;
}

abstract class SequentialQueue {
  readonly claimsPath: string;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
  ) {
    this.claimsPath = `${path}-claims`;
  }

  protected abstract order(names: readonly string[]): string[];

  protected async putNamed(prefix: string, data: Uint8Array | string, options: CallOptions): Promise<string> {
    const { signal, dispose } = combineSignals(options);
    try {
      // A persistent-sequential create is not idempotent: with the reply lost it may or may not
      // exist. Connection loss is therefore reported, not retried (Curator does the same).
      try {
        return await this.client.create(joinPath(this.path, prefix), data, { mode: 'persistentSequential', signal });
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
        await ensurePath(this.client, this.path, { signal });
        return await this.client.create(joinPath(this.path, prefix), data, { mode: 'persistentSequential', signal });
      }
    } finally {
      dispose();
    }
  }

  /** Items in queue order, without removing them. */
  async peekAll(): Promise<string[]> {
    try {
      return this.order(await retry(this.client, () => this.client.getChildren(this.path)));
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
  }

  /** The number of items. */
  async size(): Promise<number> {
    return (await this.peekAll()).length;
  }

  /** Removes and returns the head, waiting for one (at most once: a crash after this loses it). */
  async take(options: CallOptions = {}): Promise<QueueItem> {
    const { signal, dispose } = combineSignals(options);
    try {
      for (;;) {
        const w = oneShot();
        const names = await this.children(w.callback, signal);
        for (const name of names) {
          const itemPath = joinPath(this.path, name);
          try {
            const { data } = await retry(this.client, () => this.client.getData(itemPath), signal);
            await this.client.delete(itemPath);
            return { name, data };
          } catch (err) {
            if (err instanceof NoNodeError) continue; // another consumer got it
            if (err instanceof ConnectionLossError || isRetryable(err)) {
              // Our delete may have succeeded: look whether the item is still there.
              await this.client.waitConnected({ signal });
              if (!(await this.client.exists(itemPath))) continue;
              try {
                await this.client.delete(itemPath);
              } catch (err2) {
                if (err2 instanceof NoNodeError) continue;
                throw err2;
              }
              continue;
            }
            throw err;
          }
        }
        await waitForChange(this.client, w.promise, signal);
      }
    } finally {
      dispose();
    }
  }

  /**
   * Takes the head and runs `handler` on it; the item is deleted only after the handler
   * resolves (at least once). If the handler throws, the item is released for another try.
   */
  async process<T>(handler: (item: QueueItem) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const { signal, dispose } = combineSignals(options);
    try {
      await ensurePath(this.client, this.claimsPath, { signal });
      for (;;) {
        const w = oneShot();
        const names = await this.children(w.callback, signal);
        for (const name of names) {
          const claim = await this.claim(name, signal);
          if (!claim) continue;
          const itemPath = joinPath(this.path, name);
          let data: Buffer;
          try {
            data = (await retry(this.client, () => this.client.getData(itemPath), signal)).data;
          } catch (err) {
            await guaranteedDelete(this.client, claim, { ephemeral: true });
            if (err instanceof NoNodeError) continue;
            throw err;
          }
          let result: T;
          try {
            result = await handler({ name, data });
          } catch (err) {
            await guaranteedDelete(this.client, claim, { ephemeral: true });
            throw err;
          }
          await guaranteedDelete(this.client, itemPath);
          await guaranteedDelete(this.client, claim, { ephemeral: true });
          return result;
        }
        await waitForChange(this.client, w.promise, signal);
      }
    } finally {
      dispose();
    }
  }

  /** An ephemeral claim on an item, or null when someone else holds one. */
  private async claim(name: string, signal: AbortSignal): Promise<string | null> {
    const claimPath = joinPath(this.claimsPath, name);
    for (;;) {
      try {
        await this.client.create(claimPath, null, { mode: 'ephemeral' });
        return claimPath;
      } catch (err) {
        if (err instanceof NodeExistsError) {
          // Ours, if an earlier attempt's reply was lost.
          const stat = await retry(this.client, () => this.client.exists(claimPath), signal);
          return stat && stat.ephemeralOwner === this.client.sessionId ? claimPath : null;
        }
        if (err instanceof ConnectionLossError || isRetryable(err)) {
          await this.client.waitConnected({ signal });
          continue;
        }
        throw err;
      }
    }
  }

  private async children(watch: WatchCallback, signal: AbortSignal): Promise<string[]> {
    for (;;) {
      try {
        return this.order(await retry(this.client, () => this.client.getChildren(this.path, { watch }), signal));
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
        await ensurePath(this.client, this.path, { signal });
      }
    }
  }
}

const QN = 'qn-';

/** FIFO queue (ZooKeeper queue recipe / Curator SimpleDistributedQueue layout). */
export class DistributedQueue extends SequentialQueue {
  /** Appends an item; returns its path. */
  put(data: Uint8Array | string, options: CallOptions = {}): Promise<string> {
    return this.putNamed(QN, data, options);
  }

  protected order(names: readonly string[]): string[] {
    return names.filter((n) => n.startsWith(QN) && sequenceOf(n) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
  }
}

const PQ = 'pq-';
const PRIORITY_OFFSET = 2 ** 31;

function priorityOf(name: string): number {
  return Number(name.slice(PQ.length, PQ.length + 10)) - PRIORITY_OFFSET;
}

/** Priority queue: lower `priority` first, FIFO among equal priorities. */
export class PriorityQueue extends SequentialQueue {
  /** Appends an item with a priority in [-2^31, 2^31). */
  put(data: Uint8Array | string, priority: number, options: CallOptions = {}): Promise<string> {
    if (!Number.isInteger(priority) || priority < -PRIORITY_OFFSET || priority >= PRIORITY_OFFSET) {
      return Promise.reject(new RangeError('priority must be a 32-bit integer'));
    }
    const encoded = String(priority + PRIORITY_OFFSET).padStart(10, '0');
    return this.putNamed(`${PQ}${encoded}-`, data, options);
  }

  protected order(names: readonly string[]): string[] {
    return names
      .filter((n) => n.startsWith(PQ) && sequenceOf(n) >= 0)
      .sort((a, b) => priorityOf(a) - priorityOf(b) || sequenceOf(a) - sequenceOf(b));
  }
}
