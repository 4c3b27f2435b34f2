/**
 * Real-process ensembles on loopback for tests: Apache ZooKeeper 3.8, Paddock, or both mixed,
 * each server its own process from its own zoo.cfg, dataDir and myid (the fault harness's
 * Cluster, without namespaces). Adds what tests need around it: waiting until every server
 * serves, finding the leader, and node-by-node tree dumps of each server over the wire.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { checkTrees } from '../../src/faults/checkers.js';
import { Cluster, describeKinds, type ServerKind } from '../../src/faults/cluster.js';
import { loopbackFabric } from '../../src/faults/netns.js';
import { freePort } from './ports.js';
import { fourLetterWord } from './zookeeper.js';

export type { ServerKind } from '../../src/faults/cluster.js';

const PADDOCK_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface EnsembleOptions {
  /** Default 500 ms: elections and a paused leader's detection (syncLimit ticks) stay short. */
  tickTimeMs?: number;
  /** Bound on the first start (JVMs boot slowly on a loaded machine). Default 120 s. */
  startTimeoutMs?: number;
}

/** Polling another process's port: there is no event to wait on. */
const pollMs = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Ensemble {
  private constructor(
    readonly cluster: Cluster,
    private readonly workDir: string,
  ) {}

  /** Starts one server per kind (ids 1..n) and resolves once every one of them serves. */
  static async start(kinds: readonly ServerKind[], options: EnsembleOptions = {}): Promise<Ensemble> {
    const workDir = mkdtempSync(join(tmpdir(), 'ensemble-test-'));
    const cluster = await Cluster.create({
      kinds,
      workDir,
      fabric: loopbackFabric('tests run on loopback', []),
      tickTimeMs: options.tickTimeMs ?? 500,
      diskMiB: null,
      forceSync: true,
      wipeOnRestart: false,
    });
    const ensemble = new Ensemble(cluster, workDir);
    try {
      for (const s of cluster.servers) cluster.start(s.id);
      await ensemble.waitServing(options.startTimeoutMs ?? 120_000);
    } catch (err) {
      await ensemble.stop();
      throw err;
    }
    return ensemble;
  }

  get size(): number {
    return this.cluster.servers.length;
  }

  get label(): string {
    return describeKinds(this.cluster.servers.map((s) => s.kind));
  }

  ids(): number[] {
    return this.cluster.servers.map((s) => s.id);
  }

  connectString(ids: readonly number[] = this.ids()): string {
    return ids.map((id) => this.cluster.address(id)).join(',');
  }

  /** Servers running and not paused. */
  up(): number[] {
    return this.cluster.servers.filter((s) => this.cluster.alive(s.id) && !s.paused).map((s) => s.id);
  }

  /** The Mode `srvr` reports ('leader', 'follower', ...), or null when the server does not serve. */
  async mode(id: number): Promise<string | null> {
    const s = this.cluster.server(id);
    const reply = await fourLetterWord(s.ports.client, 'srvr', s.host, 2000).catch(() => '');
    return /Mode: (\w+)/.exec(reply)?.[1] ?? null;
  }

  /**
   * Waits (bounded) until every running, unpaused server serves and exactly one of them leads
   * (or the one server is standalone); returns the leader's id. A server that exited on its own
   * fails the wait at once with its log.
   */
  async waitServing(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let modes: (string | null)[] = [];
    while (Date.now() < deadline) {
      const dead = this.cluster.servers.find((s) => s.child !== null && !this.cluster.alive(s.id) && !this.killed.has(s.id));
      if (dead) throw new Error(`server ${dead.id} (${dead.kind}) ${this.cluster.exitStatus(dead.id)} before serving:\n${this.cluster.logTail(dead.id)}`);
      const up = this.up();
      modes = await Promise.all(up.map((id) => this.mode(id)));
      const leaders = up.filter((_, i) => modes[i] === 'leader' || modes[i] === 'standalone');
      if (modes.every((m) => m !== null) && leaders.length === 1) return leaders[0] as number;
      await sleep(pollMs);
    }
    const tails = this.cluster.servers.map((s) => `--- server ${s.id} (${s.kind}):\n${this.cluster.logTail(s.id, 1500)}`).join('\n');
    throw new Error(`${this.label}: servers ${this.up().join(',')} not all serving with one leader within ${timeoutMs} ms (modes ${JSON.stringify(modes)})\n${tails}`);
  }

  /** Ids killed on purpose and not restarted yet (their exit is not a failure). */
  private readonly killed = new Set<number>();

  async kill(id: number): Promise<void> {
    this.killed.add(id);
    await this.cluster.kill(id);
  }

  restart(id: number): void {
    this.killed.delete(id);
    this.cluster.restart(id);
  }

  pause(id: number): void {
    this.cluster.pause(id);
  }

  resume(id: number): void {
    this.cluster.resume(id);
  }

  async stop(): Promise<void> {
    await this.cluster.destroy();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Each server's tree read from that server alone (after a sync), node by node. */
  async dumpAll(timeoutMs = 20_000): Promise<Map<number, Map<string, string>>> {
    const trees = new Map<number, Map<string, string>>();
    for (const id of this.ids()) trees.set(id, await dumpTree(this.connectString([id]), timeoutMs));
    return trees;
  }

  /**
   * Every server's tree equal to every other's, node by node (data and every Stat field); throws
   * with the differences otherwise. Returns the trees.
   */
  async assertTreesEqual(timeoutMs = 20_000): Promise<Map<number, Map<string, string>>> {
    const trees = await this.dumpAll(timeoutMs);
    const violations = checkTrees(trees);
    if (violations.length > 0) throw new Error(`${this.label}: trees differ: ${violations.map((v) => v.message).join('\n')}`);
    return trees;
  }
}

/** Data digest and every Stat field of a node, as one comparable string. */
function nodeDigest(data: Uint8Array, stat: Record<string, unknown>): string {
  const digest = createHash('sha1').update(data).digest('hex').slice(0, 12);
  const fields = ['czxid', 'mzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion', 'ephemeralOwner', 'dataLength', 'numChildren', 'pzxid'];
  return `${digest} ${fields.map((f) => `${f}=${String(stat[f])}`).join(' ')}`;
}

/**
 * Every node but /zookeeper as path -> digest of data and Stat, read through one server
 * (`connectString` naming that server only) after a sync, so it shows what that server applied.
 */
export async function dumpTree(connectString: string, timeoutMs = 20_000, maxNodes = 100_000): Promise<Map<string, string>> {
  const zk: ZooKeeperClient = await connect(connectString, { initialConnectTimeoutMs: timeoutMs, shuffleHosts: false, requestTimeoutMs: timeoutMs });
  try {
    await zk.sync('/');
    const out = new Map<string, string>();
    const stack = ['/'];
    while (stack.length > 0) {
      if (out.size >= maxNodes) throw new Error(`more than ${maxNodes} nodes on ${connectString}`);
      const path = stack.pop() as string;
      if (path === '/zookeeper') continue;
      const { data, stat } = await zk.getData(path);
      out.set(path, nodeDigest(data, stat as unknown as Record<string, unknown>));
      for (const child of await zk.getChildren(path)) stack.push(path === '/' ? `/${child}` : `${path}/${child}`);
    }
    return out;
  } finally {
    await zk.close();
  }
}

let probed: Promise<string | null> | null = null;

/**
 * Why `paddock server` cannot run as an ensemble member, or null when it can. Found by trying:
 * one server of a 3-server zoo.cfg is started; refusing the file (it exits) means no ensemble,
 * opening its election port or answering `srvr` means it runs as a member. Asked once per process.
 */
export function paddockEnsembleUnavailable(): Promise<string | null> {
  probed ??= probePaddockEnsemble();
  return probed;
}

async function probePaddockEnsemble(timeoutMs = 30_000): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-probe-'));
  const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const [client, ...peers] = ports as [number, ...number[]];
  const cfg = [
    'tickTime=500',
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${dir}`,
    `clientPort=${client}`,
    'clientPortAddress=127.0.0.1',
    '4lw.commands.whitelist=*',
    ...[1, 2, 3].map((id) => `server.${id}=127.0.0.1:${peers[2 * id - 2]}:${peers[2 * id - 1]}`),
  ];
  writeFileSync(join(dir, 'zoo.cfg'), cfg.join('\n') + '\n');
  writeFileSync(join(dir, 'myid'), '1\n');
  const child = spawn(process.execPath, [PADDOCK_MAIN, 'server', join(dir, 'zoo.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) {
        const said = output.trim().split('\n').filter((l) => !/^paddock: (starting|warning)/.test(l)).join(' ').replace(/\. .*/, '.').slice(0, 300);
        return `paddock server does not run an ensemble member yet (it exited on a 3-server zoo.cfg: ${said || `status ${child.exitCode}`})`;
      }
      if ((await portOpen(peers[1] as number)) || /Mode:|not currently serving/.test(await fourLetterWord(client, 'srvr', '127.0.0.1', 1000).catch(() => ''))) return null;
      await sleep(pollMs);
    }
    return `paddock server neither refused a 3-server zoo.cfg nor opened its election port within ${timeoutMs} ms`;
  } finally {
    if (!exited) child.kill('SIGKILL');
    await gone;
    rmSync(dir, { recursive: true, force: true });
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ port, host: '127.0.0.1' }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('error', () => resolve(false));
    sock.on('close', () => resolve(false));
  });
}
