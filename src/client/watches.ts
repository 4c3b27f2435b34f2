/**
 * The client's watch registry, mirroring the server's tables: one-shot data, exist and child
 * watches, and persistent and persistent-recursive watches. Paths here are client paths
 * (without the chroot). Pure bookkeeping: no I/O.
 */
import { EventType } from '../jute/constants.js';
import { parentOf } from '../lib/paths.js';
import type { NodeEvent, ResyncEvent, StreamEvent, WatchCallback, WatchLostEvent } from './types.js';

export type OneShotKind = 'data' | 'exist' | 'child';
export type PersistentKind = 'persistent' | 'persistentRecursive';

/** A persistent watch's consumer: a callback handle or an async iterator. */
export interface PersistentWatcher {
  event(event: StreamEvent): void;
  /** The watch ended for good (client closed, or removed by the server). */
  end(reason: 'closed' | 'removed'): void;
}

type Table<T> = Map<string, Set<T>>;

function add<T>(table: Table<T>, path: string, item: T): void {
  let set = table.get(path);
  if (!set) table.set(path, (set = new Set()));
  set.add(item);
}

function take<T>(table: Table<T>, path: string, into: T[]): void {
  const set = table.get(path);
  if (!set) return;
  table.delete(path);
  for (const item of set) into.push(item);
}

const eventNames: Record<number, NodeEvent['type'] | undefined> = {
  [EventType.NodeCreated]: 'created',
  [EventType.NodeDeleted]: 'deleted',
  [EventType.NodeDataChanged]: 'dataChanged',
  [EventType.NodeChildrenChanged]: 'childrenChanged',
};

export class WatchRegistry {
  readonly data: Table<WatchCallback> = new Map();
  readonly exist: Table<WatchCallback> = new Map();
  readonly child: Table<WatchCallback> = new Map();
  readonly persistent: Table<PersistentWatcher> = new Map();
  readonly recursive: Table<PersistentWatcher> = new Map();

  addOneShot(kind: OneShotKind, path: string, cb: WatchCallback): void {
    add(kind === 'data' ? this.data : kind === 'exist' ? this.exist : this.child, path, cb);
  }

  addPersistent(kind: PersistentKind, path: string, watcher: PersistentWatcher): void {
    add(kind === 'persistent' ? this.persistent : this.recursive, path, watcher);
  }

  /** Removes one persistent watcher; returns true when no watcher of that kind remains on the path. */
  removePersistent(kind: PersistentKind, path: string, watcher: PersistentWatcher): boolean {
    const table = kind === 'persistent' ? this.persistent : this.recursive;
    const set = table.get(path);
    if (!set) return true;
    set.delete(watcher);
    if (set.size === 0) table.delete(path);
    return !table.has(path);
  }

  /** True when any watch, of any kind, is registered on exactly this path. */
  hasAny(path: string): boolean {
    return (
      this.data.has(path) || this.exist.has(path) || this.child.has(path) || this.persistent.has(path) || this.recursive.has(path)
    );
  }

  /**
   * Delivers a server notification. One-shot watches that match are removed, as the server
   * removed them when it fired.
   */
  dispatch(type: number, path: string): void {
    const name = eventNames[type];
    if (name === undefined) return;
    const event: NodeEvent = { type: name, path };
    const oneShot: WatchCallback[] = [];
    switch (type) {
      case EventType.NodeCreated:
      case EventType.NodeDataChanged:
        take(this.data, path, oneShot);
        take(this.exist, path, oneShot);
        break;
      case EventType.NodeDeleted:
        take(this.data, path, oneShot);
        take(this.exist, path, oneShot);
        take(this.child, path, oneShot);
        break;
      case EventType.NodeChildrenChanged:
        take(this.child, path, oneShot);
        break;
    }
    const persistent: PersistentWatcher[] = [...(this.persistent.get(path) ?? [])];
    if (type !== EventType.NodeChildrenChanged) {
      // Recursive watches fire for the path and every descendant, never for child lists.
      for (let p = path; ; p = parentOf(p)) {
        for (const w of this.recursive.get(p) ?? []) persistent.push(w);
        if (p === '/') break;
      }
    }
    for (const cb of new Set(oneShot)) safeCall(() => cb(event));
    for (const w of new Set(persistent)) safeCall(() => w.event(event));
  }

  /** The session is gone: one-shot watches will never fire; persistent ones are kept for re-adding. */
  expireOneShot(): void {
    this.loseOneShot('expired');
  }

  /** Tells persistent watchers that events may have been missed. */
  resync(reason: ResyncEvent['reason']): void {
    for (const [path, set] of [...this.persistent, ...this.recursive]) {
      for (const w of set) safeCall(() => w.event({ type: 'resync', path, reason }));
    }
  }

  /** The client closed: every watch ends. */
  closeAll(): void {
    this.loseOneShot('closed');
    const all = [...this.persistent.values(), ...this.recursive.values()];
    this.persistent.clear();
    this.recursive.clear();
    for (const set of all) for (const w of set) safeCall(() => w.end('closed'));
  }

  /** Local removal (after removeWatches): one-shot watchers of the kinds get a `lost` event. */
  removeLocal(path: string, kinds: { data?: boolean; child?: boolean; persistent?: boolean }): void {
    const lost: WatchCallback[] = [];
    if (kinds.data) {
      take(this.data, path, lost);
      take(this.exist, path, lost);
    }
    if (kinds.child) take(this.child, path, lost);
    const ended: PersistentWatcher[] = [];
    if (kinds.persistent) {
      take(this.persistent, path, ended);
      take(this.recursive, path, ended);
    }
    const event: WatchLostEvent = { type: 'lost', path, reason: 'removed' };
    for (const cb of lost) safeCall(() => cb(event));
    for (const w of ended) safeCall(() => w.end('removed'));
  }

  private loseOneShot(reason: WatchLostEvent['reason']): void {
    const entries: [string, WatchCallback][] = [];
    for (const table of [this.data, this.exist, this.child]) {
      for (const [path, set] of table) for (const cb of set) entries.push([path, cb]);
      table.clear();
    }
    for (const [path, cb] of entries) safeCall(() => cb({ type: 'lost', path, reason }));
  }

  /** Paths to re-register with setWatches after a reconnect. */
  snapshot(): {
    data: string[];
    exist: string[];
    child: string[];
    persistent: string[];
    persistentRecursive: string[];
  } {
    return {
      data: [...this.data.keys()],
      exist: [...this.exist.keys()],
      child: [...this.child.keys()],
      persistent: [...this.persistent.keys()],
      persistentRecursive: [...this.recursive.keys()],
    };
  }
}

/** Watch callbacks are user code: one that throws must not break the connection's read loop. */
function safeCall(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
