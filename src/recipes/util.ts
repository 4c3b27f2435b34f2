/**
 * Building blocks shared by the recipes, on the public client API only: retry across
 * connection loss, parent creation, protected (Curator-style) creates, guaranteed deletes,
 * sequence ordering, and the "still safe to act" signal of a held resource.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  ConnectionLossError,
  RequestTimeoutError,
  NoNodeError,
  NodeExistsError,
  SessionExpiredError,
  ClientClosedError,
  isRetryable,
  joinPath,
  oneShot,
  parentPath,
  type CallOptions,
  type CreateMode,
  type SessionEvent,
  type ZooKeeperClient,
} from '../client/index.js';

/** What makes a held lock or leadership unsafe: any connection loss, or only session loss. */
export type LossPolicy = 'suspended' | 'expired';

/** Default data stored in lock and participant nodes: who holds them (host and pid). */
export function defaultNodeData(): Buffer {
  return Buffer.from(`${hostname()}:${process.pid}`);
}

/** Throws `signal.reason` if aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * One signal that aborts when any input aborts, after `timeoutMs`, or on `abort(reason)`.
 * Call `dispose` when done.
 */
export function combineSignals(options: CallOptions): { signal: AbortSignal; abort(reason: unknown): void; dispose(): void } {
  const ac = new AbortController();
  const disposers: (() => void)[] = [];
  if (options.signal) {
    const s = options.signal;
    if (s.aborted) ac.abort(s.reason);
    else {
      const onAbort = (): void => ac.abort(s.reason);
      s.addEventListener('abort', onAbort, { once: true });
      disposers.push(() => s.removeEventListener('abort', onAbort));
    }
  }
  if (options.timeoutMs !== undefined && !ac.signal.aborted) {
    const timer = setTimeout(
      () => ac.abort(new RequestTimeoutError(undefined, `timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    disposers.push(() => clearTimeout(timer));
  }
  return {
    signal: ac.signal,
    abort: (reason) => {
      if (!ac.signal.aborted) ac.abort(reason);
    },
    dispose: () => disposers.forEach((d) => d()),
  };
}

/** Resolves when `promise` settles or rejects when `signal` aborts, whichever is first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Runs `fn` until it does not fail with a retryable error (connection loss), waiting for the
 * connection in between. Session expiry, abort and every other error are thrown.
 */
export async function retry<T>(client: ZooKeeperClient, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (;;) {
    throwIfAborted(signal);
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConnectionLossError) && !isRetryable(err)) throw err;
      await client.waitConnected({ signal });
    }
  }
}

/** Creates `path` and its missing ancestors (as containers when `container`); existing ones are fine. */
export async function ensurePath(
  client: ZooKeeperClient,
  path: string,
  options: { container?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  if (path === '/') return;
  const mode: CreateMode = options.container ? 'container' : 'persistent';
  await retry(
    client,
    async () => {
      try {
        await client.create(path, null, { mode });
      } catch (err) {
        if (err instanceof NodeExistsError) return;
        if (!(err instanceof NoNodeError)) throw err;
        await ensurePath(client, parentPath(path), options);
        try {
          await client.create(path, null, { mode });
        } catch (err2) {
          if (!(err2 instanceof NodeExistsError)) throw err2;
        }
      }
    },
    options.signal,
  );
}

/** The sequence number of a sequential node name (its last 10 digits), or -1. */
export function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : -1;
}

/** Names with a sequence suffix, ordered by it (the order ZooKeeper assigned). */
export function sortBySequence(names: readonly string[]): string[] {
  return names.filter((n) => sequenceOf(n) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/**
 * The contenders among `path`'s children (locks, latches) in sequence order, with their data.
 * A node deleted meanwhile is skipped; a missing `path` has none.
 */
export async function readContenders(
  client: ZooKeeperClient,
  path: string,
  isContender: (name: string) => boolean,
): Promise<{ path: string; data: Buffer }[]> {
  let children: string[];
  try {
    children = await retry(client, () => client.getChildren(path));
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
  const out: { path: string; data: Buffer }[] = [];
  for (const name of sortBySequence(children.filter(isContender))) {
    const child = joinPath(path, name);
    try {
      out.push({ path: child, data: (await client.getData(child)).data });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }
  return out;
}

export const PROTECTED_PREFIX = '_c_';

/** A new protection id: the `_c_<uuid>-` prefix Curator puts before protected node names. */
export function protectedPrefix(): string {
  return `${PROTECTED_PREFIX}${randomUUID()}-`;
}

/**
 * Creates `parent/_c_<uuid>-<name>` (Curator's protection mode). When the reply is lost, the
 * parent is searched for the uuid after reconnecting, so a create that did succeed is found
 * instead of repeated: no orphan node is left behind. Missing parents are created as
 * containers. For ephemeral modes a node found from an older session is deleted and re-created.
 */
export async function protectedCreate(
  client: ZooKeeperClient,
  parent: string,
  name: string,
  data: Uint8Array | null,
  mode: CreateMode,
  signal?: AbortSignal,
): Promise<{ path: string; czxid: bigint }> {
  const prefix = protectedPrefix();
  const ephemeral = mode === 'ephemeral' || mode === 'ephemeralSequential';
  let mayExist = false;
  for (;;) {
    throwIfAborted(signal);
    try {
      if (mayExist) {
        const found = await findProtected(client, parent, prefix);
        if (found) {
          const stat = await client.exists(found);
          if (stat && (!ephemeral || stat.ephemeralOwner === client.sessionId)) return { path: found, czxid: stat.czxid };
          if (stat) await guaranteedDelete(client, found, { ephemeral: true });
        }
        mayExist = false;
      }
      const res = await client.create2(joinPath(parent, prefix + name), data, { mode });
      return { path: res.path, czxid: res.stat.czxid };
    } catch (err) {
      if (err instanceof NoNodeError && err.path !== undefined && !mayExist) {
        await ensurePath(client, parent, { container: true, signal });
        continue;
      }
      if (err instanceof ConnectionLossError || isRetryable(err)) {
        mayExist = true;
        await client.waitConnected({ signal });
        continue;
      }
      if (err instanceof SessionExpiredError) {
        // A node created by the lost session goes with it; try again in the new one.
        mayExist = true;
        await client.waitConnected({ signal });
        continue;
      }
      throw err;
    }
  }
}

async function findProtected(client: ZooKeeperClient, parent: string, prefix: string): Promise<string | null> {
  try {
    const children = await client.getChildren(parent);
    const hit = children.find((c) => c.startsWith(prefix));
    return hit === undefined ? null : joinPath(parent, hit);
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
}

/**
 * Deletes `path`, retrying through connection loss until it is gone (Curator's guaranteed
 * delete). For an ephemeral node, session expiry ends the retries: the server removed it.
 * Resolves once deleted (or gone); never rejects except when the client closes.
 */
export async function guaranteedDelete(
  client: ZooKeeperClient,
  path: string,
  options: { ephemeral?: boolean; version?: number } = {},
): Promise<void> {
  for (;;) {
    try {
      await client.delete(path, { version: options.version ?? -1 });
      return;
    } catch (err) {
      if (err instanceof NoNodeError) return;
      if (err instanceof ClientClosedError) return;
      if (err instanceof SessionExpiredError && options.ephemeral) return;
      if (err instanceof ConnectionLossError || isRetryable(err) || err instanceof SessionExpiredError) {
        try {
          await client.waitConnected();
        } catch {
          return; // closed
        }
        continue;
      }
      throw err;
    }
  }
}

/** A held lock, lease or leadership: its signal, and `dispose` to end it. */
export interface Hold {
  /** Aborts when the hold ends: dispose, session loss, client close, node deleted (see holdSignal). */
  readonly signal: AbortSignal;
  /** Ends the hold: aborts the signal with `reason` (an AbortError by default) and stops watching. */
  dispose(reason?: unknown): void;
}

/**
 * A signal that aborts as soon as a resource held through `client`'s current session ends or
 * can no longer be trusted: on `dispose()`; on `suspended` (policy 'suspended'); on `expired`
 * (told by the server, or decided by the client after the session timeout without a server),
 * `closed`, or a new session (both policies); and, with `node`, when that node is deleted
 * (by anyone, e.g. an administrator clearing a stuck lock).
 */
export function holdSignal(
  client: ZooKeeperClient,
  policy: LossPolicy,
  sessionId: bigint | null = client.sessionId,
  options: { node?: string } = {},
): Hold {
  const ac = new AbortController();
  const end = (reason: unknown): void => {
    off();
    if (!ac.signal.aborted) ac.abort(reason);
  };
  const lose = (why: string): void => end(new SessionLostError(why));
  const off = client.onSession((e: SessionEvent) => {
    if (e.type === 'suspended' && policy === 'suspended') lose('connection suspended');
    else if (e.type === 'expired') lose('session expired');
    else if (e.type === 'closed') lose('client closed');
    else if (e.type === 'connected' && e.sessionId !== sessionId) lose('session replaced');
  });
  if (client.state !== 'connected' && policy === 'suspended') lose('not connected');
  if (client.sessionId !== sessionId || client.state === 'closed') lose('session replaced');
  if (options.node !== undefined && !ac.signal.aborted) {
    const node = options.node;
    void watchDeletion(client, node, ac.signal).then((deleted) => {
      if (deleted) end(new HoldLostError(`${node} was deleted`));
    });
  }
  return { signal: ac.signal, dispose: (reason) => end(reason ?? new DOMException('released', 'AbortError')) };
}

/**
 * Resolves true once `path` is found deleted, false when `signal` aborts first or the watch can
 * no longer tell (session over, client closed: the hold's session listener covers those).
 * Watches again after a data change, and retries through connection loss.
 */
async function watchDeletion(client: ZooKeeperClient, path: string, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    const w = oneShot();
    let stat;
    try {
      stat = await client.exists(path, { watch: w.callback, signal });
    } catch (err) {
      if (signal.aborted || !isRetryable(err)) return false;
      if (!(await client.waitConnected({ signal }).then(() => true, () => false))) return false;
      continue;
    }
    if (!stat) return true;
    const event = await raceSignal(w.promise, signal).catch(() => null);
    if (!event || event.type === 'lost') return false;
    if (event.type === 'deleted') return true;
  }
  return false;
}

/** The reason a hold signal aborts when the resource was lost: it may belong to someone else now. */
export class HoldLostError extends Error {
  override name = 'HoldLostError';
}

/** The reason a hold signal aborts when its session was lost, suspended or closed. */
export class SessionLostError extends HoldLostError {
  override name = 'SessionLostError';
}

/**
 * Waits for a one-shot watch event (or anything else that should wake a waiter), the signal,
 * or a session change, whichever is first.
 */
export function waitForChange(client: ZooKeeperClient, changed: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      off();
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve();
    };
    const onAbort = (): void => finish(signal?.reason ?? new DOMException('aborted', 'AbortError'));
    const off = client.onSession((e) => {
      if (e.type === 'expired' || e.type === 'reconnected' || e.type === 'connected') finish();
      if (e.type === 'closed') finish(new ClientClosedError());
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    changed.then(
      () => finish(),
      () => finish(),
    );
  });
}
