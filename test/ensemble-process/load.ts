/**
 * Client load for the real-process ensemble tests: writers (the Paddock client and
 * node-zookeeper-client in this process, kazoo through the fault harness's driver process) that
 * create sequential nodes and log every acknowledged one with its time, and Paddock Mutex holders
 * that log their fencing tokens.
 * Every loop is bounded in operations and ends when told to stop.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { connect, NodeExistsError, type ZooKeeperClient } from '../../src/client/index.js';
import { Driver } from '../../src/faults/protocol.js';
import { Mutex } from '../../src/recipes/index.js';
import type { Ensemble } from '../support/ensemble.js';

const KAZOO_DRIVER = fileURLToPath(new URL('../../../src/faults/kazoo_driver.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Acknowledged operations with their completion times, and waiting for enough of them. */
export class AckLog {
  readonly acks: { value: string; atMs: number }[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly name: string) {}

  add(value: string): void {
    this.acks.push({ value, atMs: performance.now() });
    for (const check of [...this.waiters]) check();
  }

  countSince(sinceMs: number): number {
    let n = 0;
    for (let i = this.acks.length - 1; i >= 0 && (this.acks[i] as { atMs: number }).atMs > sinceMs; i--) n++;
    return n;
  }

  /**
   * The longest time without an ack between the last ack before `sinceMs` and the last ack so
   * far: how long this client could not write across a fault (acks already in flight at the
   * fault do not hide the stall, as "time to the first ack" would).
   */
  longestStallSince(sinceMs: number): number {
    let i = this.acks.length - 1;
    while (i > 0 && (this.acks[i - 1] as { atMs: number }).atMs > sinceMs) i--;
    const start = Math.max(0, i - 1);
    let longest = 0;
    for (let j = start + 1; j < this.acks.length; j++) longest = Math.max(longest, (this.acks[j] as { atMs: number }).atMs - (this.acks[j - 1] as { atMs: number }).atMs);
    return longest;
  }

  /** Resolves once `count` acks came after `sinceMs`; rejects after `timeoutMs`. */
  waitFor(count: number, sinceMs: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.countSince(sinceMs) >= count) done(null);
      };
      const timer = setTimeout(() => done(new Error(`${this.name}: ${this.countSince(sinceMs)} of ${count} acks within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

/** The part of node-zookeeper-client's API the writer uses (the package ships no types). */
interface NzkClient {
  connect(): void;
  close(): void;
  once(event: 'connected', fn: () => void): void;
  on(event: 'expired', fn: () => void): void;
  create(path: string, data: Buffer | null, acls: unknown[], mode: number, cb: (err: Error | null, path?: string) => void): void;
}
interface NzkModule {
  createClient(connect: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): NzkClient;
  ACL: { OPEN_ACL_UNSAFE: unknown[] };
  CreateMode: { PERSISTENT_SEQUENTIAL: number };
}

/**
 * A node-zookeeper-client session that creates sequential nodes; a session the servers expired
 * is replaced by a new client, as an application would. Used where servers are killed, not
 * paused: across a SIGSTOP of the leader it never wrote again within 60 s (ZooKeeper and Paddock
 * alike; not investigated further).
 */
class NzkWriter {
  private readonly nzk = createRequire(import.meta.url)('node-zookeeper-client') as NzkModule;
  private client: NzkClient | null = null;
  private closed = false;

  constructor(
    private readonly connectString: string,
    private readonly sessionTimeoutMs: number,
  ) {}

  /** Resolves once the first session is up (bounded). */
  async start(timeoutMs = 30_000): Promise<void> {
    const c = this.open();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node-zookeeper-client not connected within ${timeoutMs} ms`)), timeoutMs);
      c.once('connected', () => (clearTimeout(timer), resolve()));
    });
  }

  private open(): NzkClient {
    const c = this.nzk.createClient(this.connectString, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 50, retries: 0 });
    c.on('expired', () => {
      c.close();
      if (!this.closed && this.client === c) this.open();
    });
    c.connect();
    this.client = c;
    return c;
  }

  /** The created path, or null when the create failed or did not answer in time (it may still happen). */
  createSequential(prefix: string, timeoutMs: number): Promise<string | null> {
    const c = this.client as NzkClient;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      c.create(prefix, null, this.nzk.ACL.OPEN_ACL_UNSAFE, this.nzk.CreateMode.PERSISTENT_SEQUENTIAL, (err, path) => {
        clearTimeout(timer);
        resolve(err || path === undefined ? null : path);
      });
    });
  }

  close(): void {
    this.closed = true;
    this.client?.close();
  }
}

export interface Load {
  /** One log per writer (and per mutex loop: its acquisitions). */
  logs: AckLog[];
  writers: AckLog[];
  /** Fencing tokens in the order the locks were acquired. */
  tokens: bigint[];
  /** Stops every loop and closes every client. */
  stop(): Promise<void>;
}

export interface LoadOptions {
  connectString: string;
  /** Parent of the sequential nodes; each writer gets its own child. */
  root: string;
  paddockWriters: number;
  /** Whether to add a kazoo writer (needs python3-kazoo). */
  kazoo: boolean;
  /** Whether to add a node-zookeeper-client writer (the npm package). */
  nodeZookeeperClient?: boolean;
  /** Paddock clients contending for one Mutex (0 for none). */
  mutexClients: number;
  sessionTimeoutMs?: number;
  opTimeoutMs?: number;
  maxOpsPerLoop?: number;
}

async function paddockClient(connectString: string, sessionTimeoutMs: number): Promise<ZooKeeperClient> {
  return connect(connectString, { sessionTimeoutMs, initialConnectTimeoutMs: 30_000, reconnectBackoff: { initialMs: 20, maxMs: 200 } });
}

async function ensure(zk: ZooKeeperClient, path: string): Promise<void> {
  try {
    await zk.create(path, '', { timeoutMs: 10_000 });
  } catch (err) {
    if (!(err instanceof NodeExistsError)) throw err;
  }
}

/** Starts the writers and mutex loops; resolves when every client is connected and running. */
export async function startLoad(o: LoadOptions): Promise<Load> {
  const sessionTimeoutMs = o.sessionTimeoutMs ?? 4000;
  const opTimeoutMs = o.opTimeoutMs ?? 3000;
  const maxOps = o.maxOpsPerLoop ?? 20_000;
  let stopping = false;
  const clients: ZooKeeperClient[] = [];
  const loops: Promise<void>[] = [];
  const writers: AckLog[] = [];
  const logs: AckLog[] = [];
  const tokens: bigint[] = [];
  let kazoo: Driver | null = null;
  const nzkWriters: NzkWriter[] = [];

  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(loops);
    await Promise.allSettled(clients.map((c) => c.close()));
    for (const w of nzkWriters) w.close();
    if (kazoo) await kazoo.stop(5000);
  };
  try {
    const setup = await paddockClient(o.connectString, sessionTimeoutMs);
    clients.push(setup);
    await ensure(setup, o.root);

    for (let i = 0; i < o.paddockWriters; i++) {
      const zk = await paddockClient(o.connectString, sessionTimeoutMs);
      clients.push(zk);
      const parent = `${o.root}/paddock-${i}`;
      await ensure(setup, parent);
      const log = new AckLog(`paddock writer ${i}`);
      writers.push(log);
      loops.push(
        (async () => {
          for (let n = 0; n < maxOps && !stopping; n++) {
            try {
              log.add(await zk.create(`${parent}/n-`, '', { mode: 'persistentSequential', timeoutMs: opTimeoutMs }));
            } catch {
              // Connection loss or a timeout: the create may or may not have happened; go on.
            }
          }
        })(),
      );
    }

    if (o.kazoo) {
      kazoo = Driver.spawn('kazoo', PYTHON, [KAZOO_DRIVER]);
      const parent = `${o.root}/kazoo`;
      await ensure(setup, parent);
      const connected = await kazoo.call({ op: 'connect', client: 1, connect: o.connectString, sessionTimeoutMs, timeoutMs: 30_000 }, 40_000);
      if (connected.outcome !== 'ok') throw new Error(`kazoo did not connect: ${connected.error ?? connected.outcome}`);
      const log = new AckLog('kazoo writer');
      writers.push(log);
      const driver = kazoo;
      loops.push(
        (async () => {
          for (let n = 0; n < maxOps && !stopping; n++) {
            const r = await driver.call({ op: 'create-seq', client: 1, key: parent, timeoutMs: opTimeoutMs });
            if (r.outcome === 'ok' && r.created) log.add(r.created);
          }
        })(),
      );
    }

    if (o.nodeZookeeperClient) {
      const parent = `${o.root}/nzk`;
      await ensure(setup, parent);
      const log = new AckLog('node-zookeeper-client writer');
      writers.push(log);
      const nzk = new NzkWriter(o.connectString, sessionTimeoutMs);
      await nzk.start();
      nzkWriters.push(nzk);
      loops.push(
        (async () => {
          for (let n = 0; n < maxOps && !stopping; n++) {
            const created = await nzk.createSequential(`${parent}/n-`, opTimeoutMs);
            if (created !== null) log.add(created);
          }
        })(),
      );
    }

    if (o.mutexClients > 0) {
      const lockPath = `${o.root}/lock`;
      await ensure(setup, lockPath);
      for (let i = 0; i < o.mutexClients; i++) {
        const zk = await paddockClient(o.connectString, sessionTimeoutMs);
        clients.push(zk);
        const log = new AckLog(`mutex client ${i}`);
        logs.push(log);
        loops.push(
          (async () => {
            for (let n = 0; n < maxOps && !stopping; n++) {
              try {
                const held = await new Mutex(zk, lockPath).acquire({ timeoutMs: opTimeoutMs * 2 });
                // Held exclusively: nobody else appends until release, so the array is in lock order.
                tokens.push(held.fencingToken);
                log.add(held.fencingToken.toString());
                await held.release();
              } catch {
                // Lost the session or timed out while waiting: try again.
              }
            }
          })(),
        );
      }
    }
  } catch (err) {
    // Whatever was started must not outlive a failed start (open sessions keep the process up).
    await stop();
    throw err;
  }
  return {
    logs: [...writers, ...logs],
    writers,
    tokens,
    stop,
  };
}

/**
 * After a fault at `faultAt`: waits (bounded) until the servers still up serve with one leader,
 * then until every writer has `count` acks after that; returns the leader and the longest stall
 * of any writer since the fault (the write gap it caused).
 */
export async function writesResume(e: Ensemble, load: Load, faultAt: number, count: number, timeoutMs: number): Promise<{ leader: number; gapMs: number }> {
  const leader = await e.waitServing(timeoutMs);
  const servedAt = performance.now();
  await Promise.all(load.writers.map((w) => w.waitFor(count, servedAt, timeoutMs)));
  return { leader, gapMs: Math.max(...load.writers.map((w) => w.longestStallSince(faultAt))) };
}

/** After the load stopped: acknowledged writes on every server, equal trees, growing fencing tokens. */
export async function checkAfter(e: Ensemble, load: Load): Promise<void> {
  const trees = await e.assertTreesEqual();
  for (const [id, tree] of trees) {
    for (const w of load.writers) {
      const missing = w.acks.filter((a) => !tree.has(a.value));
      assert.deepEqual(missing.map((a) => a.value), [], `${w.name}: acknowledged creates missing on server ${id}`);
    }
  }
  for (let i = 1; i < load.tokens.length; i++) {
    assert.ok((load.tokens[i] as bigint) > (load.tokens[i - 1] as bigint), `fencing token ${load.tokens[i]} after ${load.tokens[i - 1]}`);
  }
  const acked = load.writers.reduce((n, w) => n + w.acks.length, 0);
  console.log(`# ${e.label}: ${acked} acknowledged creates on all ${e.size} servers, ${trees.get(1)?.size ?? 0} nodes equal on every server, ${load.tokens.length} lock acquisitions with increasing fencing tokens`);
}
