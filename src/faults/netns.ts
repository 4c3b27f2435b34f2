/**
 * The network the servers and clients run on. With root and `ip netns`: one namespace per
 * server, one for the clients and one "fabric" namespace holding a bridge that veth pairs join.
 * Every address lives only inside those namespaces (10.77.0.0/24), so no packet of a run ever
 * appears in the root namespace or leaves the machine. Partitions are blackhole routes inside a
 * server's namespace (packets to a peer are dropped, one direction per route). Without root or
 * `ip`, everything runs on loopback and partitions are unavailable.
 *
 * Names carry the owning process id (`pdkf-<pid>-…`), so a later run removes what a killed run
 * left behind, and never what a live run is using.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NAME_PREFIX = 'pdkf-';
const SUBNET = '10.77.0';
const CLIENT_ADDRESS = `${SUBNET}.2`;

export interface Fabric {
  mode: 'netns' | 'loopback';
  /** Why namespaces are not used, in loopback mode. */
  reason?: string;
  /** The address server `id` listens on. */
  serverHost(id: number): string;
  /** Command and arguments that run `cmd` in server `id`'s namespace (or as is). */
  wrapServer(id: number, cmd: string, args: string[]): [string, string[]];
  /** Likewise in the clients' namespace. */
  wrapClient(cmd: string, args: string[]): [string, string[]];
  /** Replace the current partition: server -> servers whose packets it must not send to. */
  partition(drops: ReadonlyMap<number, ReadonlySet<number>>): void;
  heal(): void;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Why network namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error || probe.status !== 0) return `'ip netns' is not available (${probe.error?.message ?? probe.stderr.trim()})`;
  return null;
}

/** A zombie (killed, not yet reaped) counts as gone. */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Ends the processes still running inside a leftover namespace (servers of a killed run). */
function killNamespacePids(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (pids.stdout ?? '').split('\n').filter((l) => /^\d+$/.test(l.trim()))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Removes namespaces and tmpfs mounts left by runs whose process is gone. */
export function cleanupLeftovers(): string[] {
  const removed: string[] = [];
  if (process.platform !== 'linux') return removed;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // Servers of a killed loopback run: their zoo.cfg lies in that run's work directory.
    const m = new RegExp(`/${NAME_PREFIX}(\\d+)-`).exec(cmdline);
    if (m && cmdline.includes('zoo.cfg') && Number(pid) !== process.pid && !pidAlive(Number(m[1]))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
        removed.push(`process ${pid}`);
      } catch {
        // Already gone.
      }
    }
  }
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (list.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NAME_PREFIX}(\\d+)-`).exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      killNamespacePids(name);
      spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
      removed.push(`netns ${name}`);
    }
  }
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[1] ?? '';
    const m = new RegExp(`/${NAME_PREFIX}(\\d+)-[^/]*/`).exec(mountPoint);
    if (m && !pidAlive(Number(m[1]))) {
      spawnSync('umount', ['-l', mountPoint], { timeout: 10_000 });
      removed.push(`mount ${mountPoint}`);
    }
  }
  for (const dir of readdirSync(tmpdir())) {
    const m = new RegExp(`^${NAME_PREFIX}(\\d+)-`).exec(dir);
    if (m && !pidAlive(Number(m[1]))) {
      rmSync(join(tmpdir(), dir), { recursive: true, force: true });
      removed.push(`directory ${join(tmpdir(), dir)}`);
    }
  }
  return removed;
}

export function loopbackFabric(reason: string, ports: readonly number[]): Fabric {
  return {
    mode: 'loopback',
    reason,
    serverHost: () => '127.0.0.1',
    wrapServer: (_id, cmd, args) => [cmd, args],
    wrapClient: (cmd, args) => [cmd, args],
    partition() {
      throw new Error(`partitions need network namespaces (${reason}); ports ${ports.join(',')} are on loopback`);
    },
    heal() {},
    destroy() {},
  };
}

/** Creates the namespaces, bridge and veths for `servers` servers; removes them all if any step fails. */
export function createNetnsFabric(servers: number): Fabric {
  const base = `${NAME_PREFIX}${process.pid}-`;
  const fabric = `${base}fab`;
  const clients = `${base}cl`;
  const serverNs = (id: number): string => `${base}s${id}`;
  const created: string[] = [];
  const destroy = (): void => {
    for (const ns of created.splice(0).reverse()) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
  };
  const addNs = (name: string): void => {
    ip(['netns', 'add', name]);
    created.push(name);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  };
  /** A veth from the bridge to `ns`, named eth0 there, with `address`. */
  const attach = (ns: string, bridgePort: string, address: string): void => {
    ip(['-n', fabric, 'link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', fabric, 'link', 'set', bridgePort, 'master', 'br0']);
    ip(['-n', fabric, 'link', 'set', bridgePort, 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  };
  const host = (id: number): string => `${SUBNET}.${10 + id}`;
  try {
    addNs(fabric);
    ip(['-n', fabric, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', fabric, 'link', 'set', 'br0', 'up']);
    addNs(clients);
    attach(clients, 'vc', CLIENT_ADDRESS);
    for (let id = 1; id <= servers; id++) {
      addNs(serverNs(id));
      attach(serverNs(id), `v${id}`, host(id));
    }
  } catch (err) {
    destroy();
    throw err;
  }
  let routes: { ns: string; dest: string }[] = [];
  const heal = (): void => {
    for (const r of routes) spawnSync('ip', ['-n', r.ns, 'route', 'del', 'blackhole', `${r.dest}/32`], { timeout: 10_000 });
    routes = [];
  };
  return {
    mode: 'netns',
    serverHost: host,
    wrapServer: (id, cmd, args) => ['ip', ['netns', 'exec', serverNs(id), cmd, ...args]],
    wrapClient: (cmd, args) => ['ip', ['netns', 'exec', clients, cmd, ...args]],
    partition(drops) {
      heal();
      for (const [from, tos] of drops) {
        for (const to of tos) {
          ip(['-n', serverNs(from), 'route', 'add', 'blackhole', `${host(to)}/32`]);
          routes.push({ ns: serverNs(from), dest: host(to) });
        }
      }
    },
    heal,
    destroy,
  };
}
