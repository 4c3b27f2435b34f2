/**
 * The sequential-node wait shared by every lock-like recipe (Curator's LockInternals idea):
 * create a protected ephemeral-sequential node, read the contenders in sequence order, and either
 * hold or watch exactly one predecessor (no herd effect). Session loss while waiting starts over
 * in the new session; abort or timeout deletes our node (guaranteed) before rejecting.
 */
import { NoNodeError, SessionExpiredError, baseName, joinPath, oneShot, type ZooKeeperClient } from '../client/index.js';
import { guaranteedDelete, protectedCreate, retry, sortBySequence, throwIfAborted, waitForChange } from './util.js';

export type LockCheck = { acquired: true } | { acquired: false; watch: string };

export interface LockDriver {
  /** The name part after the protection prefix, e.g. "lock-" (Curator's mutex), "__READ__". */
  readonly lockName: string;
  /** Whether a child of the lock path takes part (others are ignored). */
  isContender(name: string): boolean;
  /** Given contenders in sequence order and our node's name: hold, or watch one node. */
  check(sorted: readonly string[], ours: string): LockCheck;
}

/** kazoo's Lock names its nodes `<uuid>__lock__<seq>`; the mutex counts them as contenders too. */
const KAZOO_LOCK = '__lock__';

/** Curator's InterProcessMutex rule: the first of `maxLeases` holders wins; watch the one `maxLeases` ahead. */
export function standardDriver(lockName: string, maxLeases = 1): LockDriver {
  return {
    lockName,
    isContender: (name) => name.includes(lockName) || (lockName === 'lock-' && name.includes(KAZOO_LOCK)),
    check(sorted, ours) {
      const i = sorted.indexOf(ours);
      if (i < maxLeases) return { acquired: true };
      return { acquired: false, watch: sorted[i - maxLeases] as string };
    },
  };
}

export interface HeldNode {
  path: string;
  czxid: bigint;
  sessionId: bigint;
}

/**
 * Waits until our node holds the lock. `tryOnly` returns null instead of waiting.
 * The returned node belongs to the session that was current when the lock was taken.
 */
export async function acquireNode(
  client: ZooKeeperClient,
  path: string,
  driver: LockDriver,
  data: Uint8Array | null,
  signal: AbortSignal | undefined,
  tryOnly = false,
): Promise<HeldNode | null> {
  for (;;) {
    throwIfAborted(signal);
    await client.waitConnected({ signal });
    const node = await protectedCreate(client, path, driver.lockName, data, 'ephemeralSequential', signal);
    const sessionId = client.sessionId as bigint;
    const ours = baseName(node.path);
    try {
      const result = await waitTurn(client, path, driver, ours, sessionId, signal, tryOnly);
      if (result === 'held') return { path: node.path, czxid: node.czxid, sessionId };
      if (result === 'no') {
        await guaranteedDelete(client, node.path, { ephemeral: true });
        return null;
      }
      // 'lost': our node went with its session; start over.
    } catch (err) {
      void guaranteedDelete(client, node.path, { ephemeral: true });
      throw err;
    }
  }
}

async function waitTurn(
  client: ZooKeeperClient,
  path: string,
  driver: LockDriver,
  ours: string,
  sessionId: bigint,
  signal: AbortSignal | undefined,
  tryOnly: boolean,
): Promise<'held' | 'no' | 'lost'> {
  for (;;) {
    throwIfAborted(signal);
    if (client.sessionId !== sessionId && client.state === 'connected') return 'lost';
    let children: string[];
    try {
      children = await retry(client, () => client.getChildren(path), signal);
    } catch (err) {
      if (err instanceof SessionExpiredError) return 'lost';
      throw err;
    }
    if (client.sessionId !== sessionId) return 'lost';
    const sorted = sortBySequence(children.filter((c) => driver.isContender(c)));
    if (!sorted.includes(ours)) return 'lost';
    const check = driver.check(sorted, ours);
    if (check.acquired) return 'held';
    if (tryOnly) return 'no';
    const w = oneShot();
    try {
      await retry(client, () => client.getData(joinPath(path, check.watch), { watch: w.callback }), signal);
    } catch (err) {
      if (err instanceof NoNodeError) continue; // gone already: look again
      if (err instanceof SessionExpiredError) return 'lost';
      throw err;
    }
    await waitForChange(client, w.promise, signal);
  }
}
