/**
 * Server-side watch registry: ZooKeeper's data and child watch tables and its trigger rules.
 * W is an opaque watcher key (a connection). Delivery, ACL filtering and event encoding are the
 * server's job; trigger() only says who is notified, and consumes one-shot watches.
 */
import { EventType, WatcherType } from '../jute/constants.js';
import { ANY_MODE, Mode, WatchTable } from './table.js';

export interface WatchSummary {
  connections: number;
  paths: number;
  total: number;
}

export class WatchRegistry<W> {
  private readonly data = new WatchTable<W>();
  private readonly child = new WatchTable<W>();
  /** paddock.maxWatchesPerSession: (path, table) entries one watcher may hold; 0 = no limit. */
  private maxPerWatcher = 0;
  private onRefused: () => void = () => undefined;

  /** Caps the entries of each watcher; `onRefused` counts the watches refused. */
  limitPerWatcher(max: number, onRefused: () => void): void {
    this.maxPerWatcher = max;
    this.onRefused = onRefused;
  }

  /** exists / getData watch; false when refused by the per-watcher cap (then nothing is set). */
  addDataWatch(path: string, w: W): boolean {
    if (!this.admits(path, w, [this.data])) return false;
    this.data.add(path, w, Mode.STANDARD);
    return true;
  }

  /** getChildren watch; false when refused. */
  addChildWatch(path: string, w: W): boolean {
    if (!this.admits(path, w, [this.child])) return false;
    this.child.add(path, w, Mode.STANDARD);
    return true;
  }

  /** addWatch PERSISTENT: sits in both tables. False when refused. */
  addPersistent(path: string, w: W): boolean {
    if (!this.admits(path, w, [this.data, this.child])) return false;
    this.data.add(path, w, Mode.PERSISTENT);
    this.child.add(path, w, Mode.PERSISTENT);
    return true;
  }

  /** addWatch PERSISTENT_RECURSIVE: data table only, so it never sees NodeChildrenChanged. False when refused. */
  addPersistentRecursive(path: string, w: W): boolean {
    if (!this.admits(path, w, [this.data])) return false;
    this.data.add(path, w, Mode.RECURSIVE);
    return true;
  }

  /** Whether the new entries `tables` would get for (path, w) stay within the cap. */
  private admits(path: string, w: W, tables: readonly WatchTable<W>[]): boolean {
    if (this.maxPerWatcher === 0) return true;
    const added = tables.filter((t) => t.modes(path, w) === 0).length;
    if (added === 0 || this.data.countOf(w) + this.child.countOf(w) + added <= this.maxPerWatcher) return true;
    this.onRefused();
    return false;
  }

  /** Watchers to notify of `type` on `path`, each once; one-shot watches are removed. */
  trigger(type: EventType, path: string): W[] {
    if (!this.data.mayTrigger(path) && !this.child.mayTrigger(path)) return [];
    const out = new Set<W>();
    switch (type) {
      case EventType.NodeCreated:
      case EventType.NodeDataChanged:
        this.data.trigger(path, out);
        break;
      case EventType.NodeDeleted:
        this.data.trigger(path, out);
        this.child.trigger(path, out);
        break;
      case EventType.NodeChildrenChanged:
        this.child.trigger(path, out);
        break;
      default:
        break;
    }
    return [...out];
  }

  /** checkWatches: does `w` hold a watch of this WatcherType on `path`? (3.9 semantics) */
  hasWatch(path: string, w: W, watcherType: number): boolean {
    switch (watcherType) {
      case WatcherType.Children:
        return (this.child.modes(path, w) & Mode.STANDARD) !== 0;
      case WatcherType.Data:
        return (this.data.modes(path, w) & Mode.STANDARD) !== 0;
      case WatcherType.Persistent:
        return (this.data.modes(path, w) & Mode.PERSISTENT) !== 0;
      case WatcherType.PersistentRecursive:
        return (this.data.modes(path, w) & Mode.RECURSIVE) !== 0;
      case WatcherType.Any:
        return this.child.modes(path, w) !== 0 || this.data.modes(path, w) !== 0;
      default:
        return false;
    }
  }

  /** removeWatches: true if something was removed (else the server replies NOWATCHER). */
  removeWatches(path: string, w: W, watcherType: number): boolean {
    switch (watcherType) {
      case WatcherType.Children:
        return this.child.remove(path, w, Mode.STANDARD);
      case WatcherType.Data:
        return this.data.remove(path, w, Mode.STANDARD);
      case WatcherType.Persistent: {
        const fromChild = this.child.remove(path, w, Mode.PERSISTENT);
        return this.data.remove(path, w, Mode.PERSISTENT) || fromChild;
      }
      case WatcherType.PersistentRecursive:
        return this.data.remove(path, w, Mode.RECURSIVE);
      case WatcherType.Any: {
        const fromChild = this.child.remove(path, w, ANY_MODE);
        return this.data.remove(path, w, ANY_MODE) || fromChild;
      }
      default:
        return false;
    }
  }

  /** The connection is gone: forget all its watches. */
  removeWatcher(w: W): void {
    this.data.removeWatcher(w);
    this.child.removeWatcher(w);
  }

  /** zk_watch_count: (path, watcher) pairs in both tables. */
  watchCount(): number {
    return this.data.size() + this.child.size();
  }

  /** wchc. Like ZooKeeper, the 4lw dumps cover the data table only. */
  pathsByWatcher(): Map<W, string[]> {
    return this.data.pathsByWatcher();
  }

  /** wchp (data table, as ZooKeeper). */
  watchersByPath(): Map<string, W[]> {
    return this.data.watchersByPath();
  }

  /** wchs: "<connections> connections watching <paths> paths / Total watches:<total>" (data table). */
  summary(): WatchSummary {
    return { connections: this.data.watcherCount(), paths: this.data.pathCount(), total: this.data.size() };
  }

  /** Child-table views, for dumps that want every watch. */
  childPathsByWatcher(): Map<W, string[]> {
    return this.child.pathsByWatcher();
  }
}
