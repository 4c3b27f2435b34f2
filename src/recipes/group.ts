/**
 * Presence that heals itself.
 * - PersistentNode: keeps one node (usually ephemeral) in place across connection loss, session
 *   loss and deletion by others (Curator PersistentNode).
 * - GroupMember: a PersistentNode for this member under `<path>/<id>` plus the live member list
 *   (Curator GroupMember's layout).
 * - ServiceDiscovery: service instances as ephemeral JSON nodes `<base>/<name>/<id>` with the
 *   field names of Curator's curator-x-discovery ServiceInstance.
 */
import { randomUUID } from 'node:crypto';
import {
  NoNodeError,
  NodeExistsError,
  joinPath,
  oneShot,
  parentPath,
  type CreateMode,
  type Stat,
  type ZooKeeperClient,
} from '../client/index.js';
import { TreeCache } from './cache.js';
import { ensurePath, guaranteedDelete, retry, waitForChange } from './util.js';

/**
 * Keeps `path` present with `data` for as long as it runs: re-created after session loss or
 * deletion, re-checked after every reconnect. For ephemeral modes a node left by an older
 * session of this client is replaced.
 */
export class PersistentNode {
  private dataValue: Buffer;
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private firstCreate: Promise<void>;
  private markCreated!: () => void;
  private closed = false;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    data: Uint8Array | string,
    private readonly mode: CreateMode = 'ephemeral',
  ) {
    this.dataValue = Buffer.from(typeof data === 'string' ? Buffer.from(data) : data);
    this.firstCreate = new Promise((resolve) => (this.markCreated = resolve));
  }

  /** Starts keeping the node; resolves once it exists the first time. */
  async start(): Promise<void> {
    this.running ??= this.run();
    await this.firstCreate;
  }

  get data(): Buffer {
    return this.dataValue;
  }

  /** Changes the node's data (kept across re-creation). */
  async setData(data: Uint8Array | string): Promise<void> {
    this.dataValue = Buffer.from(typeof data === 'string' ? Buffer.from(data) : data);
    try {
      await retry(this.client, () => this.client.setData(this.path, this.dataValue));
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err; // re-created with the new data
    }
  }

  /** Stops and deletes the node. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    await this.running?.catch(() => {});
    await guaranteedDelete(this.client, this.path, { ephemeral: this.mode.startsWith('ephemeral') });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    const ephemeral = this.mode === 'ephemeral';
    while (!signal.aborted) {
      try {
        await this.client.waitConnected({ signal });
        const w = oneShot();
        let stat: Stat | null = await this.client.exists(this.path, { watch: w.callback });
        if (stat && ephemeral && stat.ephemeralOwner !== this.client.sessionId) {
          // Left by a session of ours the client gave up on: replace it once it is ours to replace.
          await this.client.delete(this.path, { version: stat.version }).catch((err) => {
            if (!(err instanceof NoNodeError)) throw err;
          });
          continue;
        }
        if (!stat) {
          try {
            await this.client.create(this.path, this.dataValue, { mode: this.mode });
          } catch (err) {
            if (err instanceof NoNodeError) {
              await ensurePath(this.client, parentPath(this.path), { signal });
              continue;
            }
            if (!(err instanceof NodeExistsError)) throw err;
          }
          stat = await this.client.exists(this.path);
          if (!stat) continue;
        }
        this.markCreated();
        await waitForChange(this.client, w.promise, signal);
      } catch (err) {
        if (signal.aborted || this.client.state === 'closed') return;
        await this.client.waitConnected({ signal }).catch(() => {});
      }
    }
  }
}

/** One member of a group: its own ephemeral node plus a view of every member. */
export class GroupMember {
  private readonly node: PersistentNode;
  private readonly cache: TreeCache;
  readonly id: string;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    id: string,
    payload: Uint8Array | string = '',
  ) {
    this.id = id;
    this.node = new PersistentNode(client, joinPath(path, id), payload, 'ephemeral');
    this.cache = new TreeCache(client, path);
  }

  /** Joins the group and loads the member list. */
  async start(): Promise<void> {
    await ensurePath(this.client, this.path);
    await this.node.start();
    await this.cache.start();
  }

  /** Members and their payloads, as last seen. */
  members(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const name of this.cache.children(this.path)) {
      const n = this.cache.get(joinPath(this.path, name));
      if (n) out.set(name, n.data);
    }
    return out;
  }

  /** Calls `listener` with the member ids whenever they change. */
  onChange(listener: (memberIds: string[]) => void): () => void {
    return this.cache.onChange((e) => {
      if (e.type === 'initialized' || ((e.type === 'added' || e.type === 'removed') && parentPath(e.node.path) === this.path)) {
        listener([...this.members().keys()].sort());
      }
    });
  }

  setPayload(payload: Uint8Array | string): Promise<void> {
    return this.node.setData(payload);
  }

  /** Leaves the group. */
  async close(): Promise<void> {
    await this.cache.close();
    await this.node.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A service instance, serialised with the field names of Curator's ServiceInstance. */
export interface ServiceInstance<P = unknown> {
  name: string;
  id: string;
  address: string | null;
  port: number | null;
  sslPort: number | null;
  payload: P | null;
  registrationTimeUTC: number;
  serviceType: 'DYNAMIC' | 'STATIC' | 'PERMANENT' | 'DYNAMIC_SEQUENTIAL';
  uriSpec: { parts: { value: string; variable: boolean }[] } | null;
  enabled?: boolean;
}

/** Registers this process's instances and finds others'. Registrations heal after session loss. */
export class ServiceDiscovery<P = unknown> {
  private readonly registered = new Map<string, PersistentNode>();

  constructor(
    readonly client: ZooKeeperClient,
    readonly basePath: string,
  ) {}

  /** Registers an instance (ephemeral node); returns it with its id. */
  async register(instance: {
    name: string;
    id?: string;
    address?: string;
    port?: number;
    sslPort?: number;
    payload?: P;
  }): Promise<ServiceInstance<P>> {
    const full: ServiceInstance<P> = {
      name: instance.name,
      id: instance.id ?? randomUUID(),
      address: instance.address ?? null,
      port: instance.port ?? null,
      sslPort: instance.sslPort ?? null,
      payload: instance.payload ?? null,
      registrationTimeUTC: Date.now(),
      serviceType: 'DYNAMIC',
      uriSpec: null,
      enabled: true,
    };
    const path = joinPath(joinPath(this.basePath, full.name), full.id);
    const node = new PersistentNode(this.client, path, JSON.stringify(full), 'ephemeral');
    this.registered.set(path, node);
    await node.start();
    return full;
  }

  /** Updates a registered instance's payload or address. */
  async update(instance: ServiceInstance<P>): Promise<void> {
    const path = joinPath(joinPath(this.basePath, instance.name), instance.id);
    const node = this.registered.get(path);
    if (!node) throw new Error(`instance ${instance.id} is not registered here`);
    await node.setData(JSON.stringify(instance));
  }

  async unregister(instance: Pick<ServiceInstance, 'name' | 'id'>): Promise<void> {
    const path = joinPath(joinPath(this.basePath, instance.name), instance.id);
    await this.registered.get(path)?.close();
    this.registered.delete(path);
  }

  /** Names of all services. */
  async queryForNames(): Promise<string[]> {
    try {
      return (await retry(this.client, () => this.client.getChildren(this.basePath))).sort();
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
  }

  /** Instances of one service. */
  async queryForInstances(name: string): Promise<ServiceInstance<P>[]> {
    const dir = joinPath(this.basePath, name);
    let ids: string[];
    try {
      ids = await retry(this.client, () => this.client.getChildren(dir));
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
    const out: ServiceInstance<P>[] = [];
    for (const id of ids.sort()) {
      try {
        out.push(JSON.parse((await retry(this.client, () => this.client.getData(joinPath(dir, id)))).data.toString()));
      } catch (err) {
        if (!(err instanceof NoNodeError) && !(err instanceof SyntaxError)) throw err;
      }
    }
    return out;
  }

  /** Waits until an instance of `name` exists, then returns the instances. */
  async waitForInstances(name: string, options: { signal?: AbortSignal } = {}): Promise<ServiceInstance<P>[]> {
    for (;;) {
      const w = oneShot();
      const dir = joinPath(this.basePath, name);
      await ensurePath(this.client, dir, { signal: options.signal });
      await retry(this.client, () => this.client.getChildren(dir, { watch: w.callback }), options.signal);
      const found = await this.queryForInstances(name);
      if (found.length > 0) return found;
      await waitForChange(this.client, w.promise, options.signal);
    }
  }

  /** Unregisters everything registered through this object. */
  async close(): Promise<void> {
    await Promise.all([...this.registered.values()].map((n) => n.close()));
    this.registered.clear();
  }
}
