/**
 * Local mirrors of a node (NodeCache) or a subtree (TreeCache), kept in sync by one persistent
 * (recursive) watch, as Curator's CuratorCache does. After every `resync` (initial, reconnect,
 * new session, overflow) the cache re-reads what it mirrors, so it converges to the server's
 * state; intermediate states during a partition may be skipped (ZooKeeper cannot replay them).
 */
import { NoNodeError, joinPath, type Stat, type ZooKeeperClient } from '../client/index.js';
import { EventQueue } from '../client/event-queue.js';
import { retry } from './util.js';

export interface CachedNode {
  path: string;
  data: Buffer;
  stat: Stat;
}

export type CacheEvent =
  | { type: 'added'; node: CachedNode }
  | { type: 'updated'; node: CachedNode; previous: CachedNode }
  | { type: 'removed'; node: CachedNode }
  /** The cache has loaded (first time) or re-loaded (after a resync) its whole content. */
  | { type: 'initialized' };

abstract class BaseCache {
  protected readonly nodes = new Map<string, CachedNode>();
  private readonly listeners = new Set<(e: CacheEvent) => void>();
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private initialized: Promise<void>;
  private markInitialized!: () => void;
  private failInitialized!: (err: unknown) => void;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly recursive: boolean,
  ) {
    this.initialized = new Promise((resolve, reject) => {
      this.markInitialized = resolve;
      this.failInitialized = reject;
    });
    this.initialized.catch(() => {});
  }

  /** Starts the watch and resolves once the initial content is loaded. */
  async start(): Promise<void> {
    this.running ??= this.run();
    await this.initialized;
  }

  /** Subscribes to changes; returns the unsubscribe. */
  onChange(listener: (e: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes as an async iterator (bounded: a slow consumer loses the oldest events). */
  events(options: { signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<CacheEvent> {
    let off = (): void => {};
    const q = new EventQueue<CacheEvent>(options.bufferSize ?? 10_000, undefined, () => off());
    off = this.onChange((e) => q.push(e));
    options.signal?.addEventListener(
      'abort',
      () => {
        off();
        q.end();
      },
      { once: true },
    );
    return q;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running?.catch(() => {});
    this.listeners.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  protected emit(e: CacheEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    try {
      for await (const ev of this.client.watch(this.path, { recursive: this.recursive, signal })) {
        if (ev.type === 'resync') {
          await this.reload();
          this.emit({ type: 'initialized' });
          this.markInitialized();
        } else if (ev.type === 'deleted') {
          this.removeTree(ev.path);
        } else if (ev.type === 'created' || ev.type === 'dataChanged') {
          await this.refresh(ev.path);
        }
      }
    } catch (err) {
      this.failInitialized(err);
    }
  }

  /** Re-reads one node; absent nodes are removed. */
  protected async refresh(path: string): Promise<void> {
    try {
      const { data, stat } = await retry(this.client, () => this.client.getData(path));
      this.put({ path, data, stat });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      this.removeTree(path);
    }
  }

  protected put(node: CachedNode): void {
    const previous = this.nodes.get(node.path);
    if (previous && previous.stat.mzxid === node.stat.mzxid && previous.stat.czxid === node.stat.czxid) return;
    this.nodes.set(node.path, node);
    this.emit(previous ? { type: 'updated', node, previous } : { type: 'added', node });
  }

  protected removeTree(path: string): void {
    for (const [p, node] of [...this.nodes]) {
      if (p === path || p.startsWith(path === '/' ? '/' : `${path}/`)) {
        this.nodes.delete(p);
        this.emit({ type: 'removed', node });
      }
    }
  }

  protected abstract reload(): Promise<void>;
}

/** Mirrors one node's data and Stat (null while it does not exist). */
export class NodeCache extends BaseCache {
  constructor(client: ZooKeeperClient, path: string) {
    super(client, path, false);
  }

  /** The node as last seen, or null. */
  get current(): CachedNode | null {
    return this.nodes.get(this.path) ?? null;
  }

  protected async reload(): Promise<void> {
    await this.refresh(this.path);
  }
}

/** Mirrors a whole subtree: every node's data and Stat, by path. */
export class TreeCache extends BaseCache {
  constructor(client: ZooKeeperClient, path: string) {
    super(client, path, true);
  }

  /** One node as last seen, or null. */
  get(path: string): CachedNode | null {
    return this.nodes.get(path) ?? null;
  }

  /** Names of the cached children of `path`, sorted. */
  children(path: string): string[] {
    const prefix = path === '/' ? '/' : `${path}/`;
    const out: string[] = [];
    for (const p of this.nodes.keys()) {
      if (p.startsWith(prefix) && p !== path && !p.slice(prefix.length).includes('/')) out.push(p.slice(prefix.length));
    }
    return out.sort();
  }

  /** Every cached path, sorted. */
  paths(): string[] {
    return [...this.nodes.keys()].sort();
  }

  protected async reload(): Promise<void> {
    const seen = new Set<string>();
    const walk = async (path: string): Promise<void> => {
      let children: string[];
      try {
        const { data, stat } = await retry(this.client, () => this.client.getData(path));
        this.put({ path, data, stat });
        seen.add(path);
        children = stat.numChildren > 0 ? await retry(this.client, () => this.client.getChildren(path)) : [];
      } catch (err) {
        if (err instanceof NoNodeError) return;
        throw err;
      }
      for (const c of children.sort()) await walk(joinPath(path, c));
    };
    await walk(this.path);
    for (const p of [...this.nodes.keys()]) if (!seen.has(p)) this.removeTree(p);
  }
}
