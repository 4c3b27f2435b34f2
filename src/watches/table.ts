/**
 * One watch table (ZooKeeper's WatchManager): which watchers watch which paths, and in which
 * modes. The registry keeps two, data and child, as ZooKeeper does.
 */

/** Mode bits a watcher can hold on one path of one table. */
export const Mode = { STANDARD: 1, PERSISTENT: 2, RECURSIVE: 4 } as const;
export const ANY_MODE = Mode.STANDARD | Mode.PERSISTENT | Mode.RECURSIVE;

export class WatchTable<W> {
  private readonly byPath = new Map<string, Map<W, number>>();
  private readonly byWatcher = new Map<W, Set<string>>();
  private recursiveCount = 0;
  private entries = 0;

  add(path: string, w: W, mode: number): boolean {
    let watchers = this.byPath.get(path);
    if (watchers === undefined) this.byPath.set(path, (watchers = new Map()));
    const old = watchers.get(w) ?? 0;
    if ((old & mode) === mode) return false;
    if (old === 0) {
      this.entries++;
      let paths = this.byWatcher.get(w);
      if (paths === undefined) this.byWatcher.set(w, (paths = new Set()));
      paths.add(path);
    }
    watchers.set(w, old | mode);
    if (mode & Mode.RECURSIVE && !(old & Mode.RECURSIVE)) this.recursiveCount++;
    return true;
  }

  /** Modes `w` holds on `path` (0 = none). */
  modes(path: string, w: W): number {
    return this.byPath.get(path)?.get(w) ?? 0;
  }

  /**
   * Removes the given mode bits of `w` on `path` (all bits when `mode` is ANY_MODE);
   * true if anything was removed.
   */
  remove(path: string, w: W, mode: number): boolean {
    const watchers = this.byPath.get(path);
    const old = watchers?.get(w) ?? 0;
    const next = old & ~mode;
    if (watchers === undefined || old === next) return false;
    this.setModes(path, watchers, w, old, next);
    return true;
  }

  /**
   * Watchers to notify of an event on `path`: every watcher of `path` itself, plus recursive
   * watchers of its ancestors. Standard (one-shot) modes are consumed.
   */
  /** Could trigger(path) find anyone? False lets the common unwatched write skip all work. */
  mayTrigger(path: string): boolean {
    return this.recursiveCount > 0 || this.byPath.has(path);
  }

  trigger(path: string, into: Set<W>): void {
    const watchers = this.byPath.get(path);
    if (watchers !== undefined) {
      for (const [w, modes] of watchers) {
        into.add(w);
        if (modes & Mode.STANDARD) this.setModes(path, watchers, w, modes, modes & ~Mode.STANDARD);
      }
    }
    if (this.recursiveCount > 0) this.triggerAncestors(path, into);
  }

  private triggerAncestors(path: string, into: Set<W>): void {
    if (path === '/') return;
    for (let end = path.lastIndexOf('/'); end >= 0; end = path.lastIndexOf('/', end - 1)) {
      const watchers = this.byPath.get(end === 0 ? '/' : path.substring(0, end));
      if (watchers !== undefined) {
        for (const [w, modes] of watchers) if (modes & Mode.RECURSIVE) into.add(w);
      }
      if (end === 0) break;
    }
  }

  /** Forgets every watch of `w` (its connection is gone). */
  removeWatcher(w: W): void {
    const paths = this.byWatcher.get(w);
    if (paths === undefined) return;
    for (const path of [...paths]) {
      const watchers = this.byPath.get(path)!;
      this.setModes(path, watchers, w, watchers.get(w)!, 0);
    }
  }

  private setModes(path: string, watchers: Map<W, number>, w: W, old: number, next: number): void {
    if (old & Mode.RECURSIVE && !(next & Mode.RECURSIVE)) this.recursiveCount--;
    if (next !== 0) {
      watchers.set(w, next);
      return;
    }
    watchers.delete(w);
    if (watchers.size === 0) this.byPath.delete(path);
    this.entries--;
    const paths = this.byWatcher.get(w)!;
    paths.delete(path);
    if (paths.size === 0) this.byWatcher.delete(w);
  }

  /** Number of (path, watcher) pairs. */
  size(): number {
    return this.entries;
  }

  /** Paths `w` watches in this table. */
  countOf(w: W): number {
    return this.byWatcher.get(w)?.size ?? 0;
  }

  watcherCount(): number {
    return this.byWatcher.size;
  }

  pathCount(): number {
    return this.byPath.size;
  }

  pathsByWatcher(): Map<W, string[]> {
    const out = new Map<W, string[]>();
    for (const [w, paths] of this.byWatcher) out.set(w, [...paths]);
    return out;
  }

  watchersByPath(): Map<string, W[]> {
    const out = new Map<string, W[]>();
    for (const [path, watchers] of this.byPath) out.set(path, [...watchers.keys()]);
    return out;
  }
}
