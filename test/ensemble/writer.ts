/** Write load for failover tests, and a tree read through a client for comparisons across processes. */
import assert from 'node:assert/strict';
import { connect, ConnectionLossError, NodeExistsError, type Stat, type ZooKeeperClient } from '../../src/client/index.js';

export /** Creates /w/<name>-<i> in a loop, retrying a write cut by a connection loss; records the acknowledged ones. */
class Writer {
  readonly acked: string[] = [];
  private stopped = false;
  readonly done: Promise<void>;

  constructor(private readonly client: ZooKeeperClient, private readonly name: string) {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private readonly waiters: { target: number; resolve: () => void }[] = [];

  /** Resolves once `count` more writes are acknowledged. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    const target = this.acked.length + count;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: ${this.acked.length}/${target} writes within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ target, resolve: () => (clearTimeout(timer), resolve()) });
      this.progress();
    });
  }

  private ack(path: string): void {
    this.acked.push(path);
    this.progress();
  }

  private progress(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.acked.length < this.waiters[i]!.target) continue;
      this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopped && i < 100_000; i++) {
      const path = `/w/${this.name}-${i}`;
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await this.client.create(path, String(i), { timeoutMs: 5000 });
          this.ack(path);
          break;
        } catch (err) {
          // A retried create that finds its node was applied before the connection dropped.
          if (err instanceof NodeExistsError && attempt > 0) {
            this.ack(path);
            break;
          }
          if (!(err instanceof ConnectionLossError) && !(err instanceof Error && /timed? ?out|TIMEOUT/i.test(err.message))) throw err;
        }
      }
    }
  }
}


/** Every node outside /zookeeper as `client` reads it: data and Stat by path. */
export async function readTree(client: ZooKeeperClient): Promise<Map<string, { data: string; stat: Stat }>> {
  const out = new Map<string, { data: string; stat: Stat }>();
  const walk = async (path: string): Promise<void> => {
    const { data, stat } = await client.getData(path);
    out.set(path, { data: data.toString('hex'), stat });
    for (const c of (await client.getChildren(path)).sort()) {
      if (path === '/' && c === 'zookeeper') continue;
      await walk(path === '/' ? `/${c}` : `${path}/${c}`);
    }
  };
  await walk('/');
  return out;
}

/** Asserts two trees read through clients are equal node by node. */
export function assertSameTree(a: Map<string, unknown>, b: Map<string, unknown>, what: string): void {
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${what}: the same paths`);
  for (const [path, node] of a) assert.deepEqual(b.get(path), node, `${what}: ${path}`);
}

/** The tree of each server, read through a client of its own after a sync (so the server has applied all the leader committed before). */
export async function readTrees(clientPorts: readonly number[], sessionTimeoutMs = 10_000): Promise<Map<string, { data: string; stat: Stat }>[]> {
  const trees = [];
  for (const port of clientPorts) {
    const c = await connect(`127.0.0.1:${port}`, { sessionTimeoutMs });
    try {
      await c.sync('/');
      trees.push(await readTree(c));
    } finally {
      await c.close();
    }
  }
  return trees;
}

/** Every path is in every tree (trees in server order). */
export function assertAllHave(trees: readonly Map<string, unknown>[], paths: readonly string[]): void {
  for (const path of paths) for (const [i, tree] of trees.entries()) assert.ok(tree.has(path), `acknowledged ${path} on server ${i + 1}`);
}

/** Every tree equals the first (trees in server order). */
export function assertTreesEqual(trees: readonly Map<string, unknown>[]): void {
  for (let i = 1; i < trees.length; i++) assertSameTree(trees[0]!, trees[i]!, `servers 1 and ${i + 1}`);
}

/** Reads every server's tree: each has every acknowledged path, and all are equal; returns them. */
export async function assertServersAgree(clientPorts: readonly number[], acked: readonly string[]): Promise<Map<string, { data: string; stat: Stat }>[]> {
  const trees = await readTrees(clientPorts);
  assertAllHave(trees, acked);
  assertTreesEqual(trees);
  return trees;
}
