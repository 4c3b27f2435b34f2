/**
 * Barriers. Barrier: Curator DistributedBarrier layout (the barrier is one node; waiters wait for
 * it to be deleted). DoubleBarrier: Curator DistributedDoubleBarrier's layout
 * (`<path>/<member id>` ephemeral nodes plus a `<path>/ready` node).
 */
import { randomUUID } from 'node:crypto';
import { NoNodeError, NodeExistsError, joinPath, oneShot, type CallOptions, type ZooKeeperClient } from '../client/index.js';
import { combineSignals, ensurePath, guaranteedDelete, retry, waitForChange } from './util.js';

export class Barrier {
  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
  ) {}

  /** Raises the barrier (creates its node; parents too). Idempotent. */
  async set(options: CallOptions = {}): Promise<void> {
    const { signal, dispose } = combineSignals(options);
    try {
      await retry(
        this.client,
        async () => {
          try {
            await this.client.create(this.path);
          } catch (err) {
            if (err instanceof NodeExistsError) return;
            if (!(err instanceof NoNodeError)) throw err;
            await ensurePath(this.client, this.path, { signal });
          }
        },
        signal,
      );
    } finally {
      dispose();
    }
  }

  /** Lowers the barrier, releasing every waiter. */
  async remove(): Promise<void> {
    await guaranteedDelete(this.client, this.path);
  }

  /** Waits while the barrier is up. */
  async wait(options: CallOptions = {}): Promise<void> {
    const { signal, dispose } = combineSignals(options);
    try {
      for (;;) {
        const w = oneShot();
        const stat = await retry(this.client, () => this.client.exists(this.path, { watch: w.callback }), signal);
        if (!stat) return;
        await waitForChange(this.client, w.promise, signal);
      }
    } finally {
      dispose();
    }
  }
}

const READY = 'ready';

/**
 * `enter()` blocks until `memberCount` members have entered; `leave()` blocks until all have
 * left. Each member's presence is an ephemeral node, so a crashed member counts as left.
 */
export class DoubleBarrier {
  private readonly ourPath: string;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    readonly memberCount: number,
    id: string = randomUUID(),
  ) {
    this.ourPath = joinPath(path, id);
  }

  async enter(options: CallOptions = {}): Promise<void> {
    const { signal, dispose } = combineSignals(options);
    try {
      await ensurePath(this.client, this.path, { signal });
      const readyPath = joinPath(this.path, READY);
      // Watch `ready` first so its creation is seen whoever creates it.
      const ready = oneShot();
      const readyStat = await retry(this.client, () => this.client.exists(readyPath, { watch: ready.callback }), signal);
      await retry(
        this.client,
        async () => {
          try {
            await this.client.create(this.ourPath, null, { mode: 'ephemeral' });
          } catch (err) {
            if (!(err instanceof NodeExistsError)) throw err;
          }
        },
        signal,
      );
      if (readyStat) return;
      for (;;) {
        const children = await retry(this.client, () => this.client.getChildren(this.path), signal);
        if (children.filter((c) => c !== READY).length >= this.memberCount) {
          try {
            await retry(this.client, () => this.client.create(readyPath), signal);
          } catch (err) {
            if (!(err instanceof NodeExistsError)) throw err;
          }
          return;
        }
        await waitForChange(this.client, ready.promise, signal);
        if (await this.client.exists(readyPath)) return;
      }
    } catch (err) {
      await guaranteedDelete(this.client, this.ourPath, { ephemeral: true });
      throw err;
    } finally {
      dispose();
    }
  }

  async leave(options: CallOptions = {}): Promise<void> {
    const { signal, dispose } = combineSignals(options);
    try {
      await guaranteedDelete(this.client, this.ourPath, { ephemeral: true });
      for (;;) {
        const w = oneShot();
        let children: string[];
        try {
          children = await retry(this.client, () => this.client.getChildren(this.path, { watch: w.callback }), signal);
        } catch (err) {
          if (err instanceof NoNodeError) return;
          throw err;
        }
        if (children.filter((c) => c !== READY).length === 0) {
          await guaranteedDelete(this.client, joinPath(this.path, READY));
          return;
        }
        await waitForChange(this.client, w.promise, signal);
      }
    } finally {
      dispose();
    }
  }
}
