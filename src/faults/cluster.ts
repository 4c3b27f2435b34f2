/**
 * The servers of a run as real processes: Apache ZooKeeper (QuorumPeerMain, or standalone for
 * one server) or Paddock (`paddock server zoo.cfg`), each from its own zoo.cfg and dataDir, in
 * its own network namespace when the fabric has them. Each server has its own kind, so one
 * ensemble can mix ZooKeeper and Paddock servers; every server reads the same zoo.cfg layout. Kills, pauses and disk faults act on
 * these processes and directories.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fabric } from './netns.js';

export type ServerKind = 'zookeeper' | 'paddock';
export const SERVER_KINDS: readonly ServerKind[] = ['zookeeper', 'paddock'];

const KIND_NAMES: Record<string, ServerKind> = { zookeeper: 'zookeeper', zk: 'zookeeper', paddock: 'paddock', p: 'paddock' };

/**
 * The kind of each server, from a target: `zookeeper` or `paddock` for every one of `servers`,
 * or `mixed:zk,zk,paddock` (one kind per server, in server id order; `zk`/`zookeeper`,
 * `p`/`paddock`). Throws a RangeError on anything else.
 */
export function kindsOf(target: string, servers?: number): ServerKind[] {
  if (target === 'zookeeper' || target === 'paddock') return Array.from({ length: servers ?? 1 }, () => target);
  const m = /^mixed:(.+)$/.exec(target);
  if (!m) throw new RangeError(`target must be zookeeper, paddock or mixed:KIND,KIND,... (e.g. mixed:zk,zk,paddock), not '${target}'`);
  const kinds = (m[1] as string).split(',').map((name) => {
    const kind = KIND_NAMES[name.trim()];
    if (kind === undefined) throw new RangeError(`unknown server kind '${name}' in '${target}' (expected zk, zookeeper, p or paddock)`);
    return kind;
  });
  if (servers !== undefined && servers !== kinds.length) throw new RangeError(`'${target}' names ${kinds.length} servers, but ${servers} were asked for`);
  return kinds;
}

/** A short label of a cluster's kinds: 'zookeeper', 'paddock', or 'mixed:zk,zk,paddock'. */
export function describeKinds(kinds: readonly ServerKind[]): string {
  const first = kinds[0];
  if (first !== undefined && kinds.every((k) => k === first)) return first;
  return `mixed:${kinds.map((k) => (k === 'zookeeper' ? 'zk' : k)).join(',')}`;
}

export const JAVA = '/usr/bin/java';
export const ZK_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
const PADDOCK_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Why Apache ZooKeeper cannot be run here, or null when it can. */
export function zookeeperUnavailable(): string | null {
  if (!existsSync(ZK_JAR)) return `Apache ZooKeeper is not installed (${ZK_JAR} missing; apt-get install zookeeper)`;
  if (!existsSync(JAVA)) return `java is not installed (${JAVA})`;
  return null;
}

export interface ClusterOptions {
  /** One kind per server (server ids 1..kinds.length): a mixed ensemble has both. */
  kinds: readonly ServerKind[];
  workDir: string;
  fabric: Fabric;
  tickTimeMs: number;
  /** Mount a tmpfs of this many MiB as each dataDir, so the disk can be filled (root only). */
  diskMiB: number | null;
  /** Unsafe on purpose, to prove the checkers: ZooKeeper forceSync=no. */
  forceSync: boolean;
  /** Unsafe on purpose: a restarted server comes back with an empty dataDir (amnesia). */
  wipeOnRestart: boolean;
}

interface Ports {
  client: number;
  peer: number;
  election: number;
}

export interface ServerState {
  id: number;
  kind: ServerKind;
  host: string;
  ports: Ports;
  dataDir: string;
  child: ChildProcess | null;
  paused: boolean;
  /** Filler file taking the disk, while the disk-full fault is on. */
  filler: string | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export class Cluster {
  readonly servers: ServerState[] = [];
  private readonly mounts: string[] = [];

  private constructor(readonly options: ClusterOptions) {}

  /** Lays out the dataDirs and zoo.cfg files; starts nothing. */
  static async create(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    for (let id = 1; id <= options.kinds.length; id++) {
      // In namespaces every server has its own address and can use the standard ports.
      const ports = options.fabric.mode === 'netns' ? { client: 2181, peer: 2888, election: 3888 } : { client: await freePort(), peer: await freePort(), election: await freePort() };
      const dataDir = join(options.workDir, `s${id}`, 'data');
      mkdirSync(dataDir, { recursive: true });
      if (options.diskMiB !== null) cluster.mountTmpfs(dataDir, options.diskMiB);
      const kind = options.kinds[id - 1] as ServerKind;
      cluster.servers.push({ id, kind, host: options.fabric.serverHost(id), ports, dataDir, child: null, paused: false, filler: null });
    }
    for (const s of cluster.servers) cluster.writeConfig(s);
    return cluster;
  }

  private mountTmpfs(dir: string, mib: number): void {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`cannot mount a ${mib} MiB tmpfs on ${dir}: ${r.stderr.trim()}`);
    this.mounts.push(dir);
  }

  /** Where the server's output goes (appended across restarts). */
  logPath(id: number): string {
    return join(this.options.workDir, `s${id}`, 'server.log');
  }

  /** The last lines the server printed, for an error message. */
  logTail(id: number, chars = 3000): string {
    try {
      return readFileSync(this.logPath(id), 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  configPath(s: ServerState): string {
    return join(this.options.workDir, `s${s.id}`, 'zoo.cfg');
  }

  private writeConfig(s: ServerState): void {
    const o = this.options;
    const lines: Record<string, string> = {
      tickTime: String(o.tickTimeMs),
      initLimit: '10',
      syncLimit: '5',
      dataDir: s.dataDir,
      clientPort: String(s.ports.client),
      clientPortAddress: s.host,
      maxClientCnxns: '0',
      'admin.enableServer': 'false',
      '4lw.commands.whitelist': '*',
      // Small log files, so a small tmpfs holds several and the disk-full fault is a real ENOSPC.
      preAllocSize: '1024',
      snapCount: '5000',
      forceSync: o.forceSync ? 'yes' : 'no',
    };
    if (this.servers.length > 1) {
      for (const peer of this.servers) lines[`server.${peer.id}`] = `${peer.host}:${peer.ports.peer}:${peer.ports.election}`;
    }
    writeFileSync(this.configPath(s), Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    this.writeMyid(s);
  }

  private writeMyid(s: ServerState): void {
    writeFileSync(join(s.dataDir, 'myid'), `${s.id}\n`);
  }

  connectString(): string {
    return this.servers.map((s) => `${s.host}:${s.ports.client}`).join(',');
  }

  address(id: number): string {
    const s = this.server(id);
    return `${s.host}:${s.ports.client}`;
  }

  server(id: number): ServerState {
    const s = this.servers[id - 1];
    if (!s) throw new RangeError(`no server ${id}`);
    return s;
  }

  alive(id: number): boolean {
    const c = this.server(id).child;
    return c !== null && c.exitCode === null && c.signalCode === null;
  }

  /** How the server's last process ended, for the log. */
  exitStatus(id: number): string {
    const c = this.server(id).child;
    if (c === null) return 'never started';
    if (c.signalCode !== null) return `ended by ${c.signalCode}`;
    return c.exitCode === null ? 'running' : `exited with status ${c.exitCode}`;
  }

  start(id: number): void {
    const s = this.server(id);
    if (this.alive(id)) return;
    const log = openSync(this.logPath(id), 'a');
    const [cmd, args] = this.options.fabric.wrapServer(id, ...this.command(s));
    s.child = spawn(cmd, args, { stdio: ['ignore', log, log] });
    s.child.on('error', () => {});
    closeSync(log);
    s.paused = false;
  }

  private command(s: ServerState): [string, string[]] {
    if (s.kind === 'paddock') return [process.execPath, [PADDOCK_MAIN, 'server', this.configPath(s)]];
    const main = this.servers.length > 1 ? 'org.apache.zookeeper.server.quorum.QuorumPeerMain' : 'org.apache.zookeeper.server.ZooKeeperServerMain';
    return [
      JAVA,
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dzookeeper.root.logger=INFO,CONSOLE',
        '-Dzookeeper.console.threshold=INFO',
        `-Dzookeeper.log.dir=${join(this.options.workDir, `s${s.id}`)}`,
        // The package's log4j binding is not on its classpath: slf4j-simple puts the log in server.log.
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-cp',
        [`/etc/zookeeper/conf`, ZK_JAR, ...(existsSync(SLF4J_SIMPLE) ? [SLF4J_SIMPLE] : [])].join(':'),
        main,
        this.configPath(s),
      ],
    ];
  }

  /** kill -9, and wait for the process to be gone. */
  async kill(id: number): Promise<void> {
    const s = this.server(id);
    const child = s.child;
    if (child === null || !this.alive(id)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
    s.paused = false;
  }

  /** Restarts a server that is down; with wipeOnRestart its disk comes back empty. */
  restart(id: number): void {
    const s = this.server(id);
    if (this.alive(id)) return;
    if (this.options.wipeOnRestart) {
      for (const name of readdirSync(s.dataDir)) rmSync(join(s.dataDir, name), { recursive: true, force: true });
      this.writeMyid(s);
    }
    this.start(id);
  }

  pause(id: number): void {
    const s = this.server(id);
    if (this.alive(id) && !s.paused) {
      s.child?.kill('SIGSTOP');
      s.paused = true;
    }
  }

  resume(id: number): void {
    const s = this.server(id);
    if (this.alive(id) && s.paused) s.child?.kill('SIGCONT');
    s.paused = false;
  }

  /** Fills the server's data filesystem with a file until writes fail with ENOSPC. */
  fillDisk(id: number): void {
    const s = this.server(id);
    if (this.options.diskMiB === null) throw new Error('disk-full needs the tmpfs dataDirs (--disk-mib)');
    if (s.filler !== null) return;
    s.filler = join(s.dataDir, 'faults-filler');
    // dd stops at ENOSPC with a non-zero status; that is the point.
    spawnSync('dd', ['if=/dev/zero', `of=${s.filler}`, 'bs=1M', `count=${this.options.diskMiB + 1}`], { timeout: 30_000, stdio: 'ignore' });
  }

  freeDisk(id: number): void {
    const s = this.server(id);
    if (s.filler !== null) rmSync(s.filler, { force: true });
    s.filler = null;
  }

  /** Stops every process (SIGCONT first, so a paused one can die) and unmounts the tmpfs dirs. */
  async destroy(): Promise<void> {
    for (const s of this.servers) {
      if (s.paused) s.child?.kill('SIGCONT');
      await this.kill(s.id);
    }
    this.unmount();
  }

  /** The synchronous part of destroy, for signal handlers that cannot wait. */
  destroySync(): void {
    for (const s of this.servers) {
      try {
        s.child?.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.unmount();
  }

  private unmount(): void {
    for (const dir of this.mounts.splice(0)) spawnSync('umount', ['-l', dir], { timeout: 10_000 });
  }
}
