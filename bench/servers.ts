/**
 * Runs Apache ZooKeeper 3.8 (Debian's package) and Paddock as separate processes on loopback,
 * from the same zoo.cfg settings, so each one's CPU time and RSS can be read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';

export type ServerKind = 'zookeeper' | 'paddock';
export const ZK_JAR = '/usr/share/java/zookeeper.jar';
export const ZK_CLASSPATH = `/etc/zookeeper/conf:${ZK_JAR}`;
/** Apache ZooKeeper's zkEnv.sh default heap (ZK_SERVER_HEAP=1000); Debian's script sets none. */
export const ZK_HEAP = '-Xmx1000m';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const PADDOCK_CLI = resolve(here, '../src/cli/main.js');
const HEAP_PROBE = resolve(here, 'heapprobe.js');

/** zoo.cfg keys both servers get; dataDir and clientPort are added per server. */
export function commonConfig(): Record<string, string> {
  return {
    tickTime: '2000',
    initLimit: '10',
    syncLimit: '5',
    clientPortAddress: '127.0.0.1',
    maxClientCnxns: '0',
    globalOutstandingLimit: '1000',
    minSessionTimeout: '4000',
    maxSessionTimeout: '40000',
    forceSync: 'yes',
    snapCount: '100000',
    'autopurge.purgeInterval': '0',
    '4lw.commands.whitelist': '*',
    'admin.enableServer': 'false',
  };
}

/** One member of an ensemble as zoo.cfg names it: `server.<id>=127.0.0.1:<quorumPort>:<electionPort>`. */
export interface EnsemblePeer {
  id: number;
  quorumPort: number;
  electionPort: number;
}

/** Ports for an ensemble of `n` servers on loopback (ids 1..n). */
export async function ensemblePeers(n: number): Promise<EnsemblePeer[]> {
  const peers: EnsemblePeer[] = [];
  for (let id = 1; id <= n; id++) peers.push({ id, quorumPort: await freePort(), electionPort: await freePort() });
  return peers;
}

export interface StartOptions {
  dataDir?: string;
  port?: number;
  /** Start as member `myid` of this ensemble (server.N lines and a myid file) instead of standalone. */
  ensemble?: { myid: number; peers: readonly EnsemblePeer[] };
  /** Directory for `node --cpu-prof` output (Paddock only). */
  cpuProfDir?: string;
  /** Sampling interval of that profile in µs (V8's default is 1000: too coarse to compare two builds). */
  cpuProfIntervalUs?: number;
  /** Another build's dist/src/cli/main.js (Paddock only; bench/ab.ts compares two builds). */
  paddockCli?: string;
  /** A command the Paddock process runs under (bench/ab.ts --instructions: valgrind's callgrind). */
  wrapper?: readonly string[];
  startTimeoutMs?: number;
  /** Paddock's PADDOCK_LOG_LEVEL (default warn); the failover trace reads the info lines. */
  logLevel?: 'warn' | 'info' | 'debug';
}

export interface ServerProc {
  readonly kind: ServerKind;
  readonly port: number;
  readonly dataDir: string;
  pid: number;
  /** Milliseconds from spawn until `srvr` says it serves. */
  readyMs: number;
  /** Stops the process (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** kill -9, resolved once the process is gone. */
  kill9(): Promise<void>;
  /** Stops and deletes the data directory if the harness made it. */
  dispose(): Promise<void>;
  logPath: string;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

function writeCfg(dataDir: string, port: number, ensemble: StartOptions['ensemble']): string {
  const cfg: Record<string, string> = { ...commonConfig(), dataDir, clientPort: String(port) };
  if (ensemble) {
    for (const p of ensemble.peers) cfg[`server.${p.id}`] = `127.0.0.1:${p.quorumPort}:${p.electionPort}`;
    writeFileSync(join(dataDir, 'myid'), `${ensemble.myid}\n`);
  }
  const path = join(dataDir, 'zoo.cfg');
  writeFileSync(path, Object.entries(cfg).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  return path;
}

/** Servers still running, so an interrupted bench does not leave them behind. */
const liveServers = new Set<ChildProcess>();
let stopOnSignal = false;

function killLiveServersOnSignal(): void {
  if (stopOnSignal) return;
  stopOnSignal = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of liveServers) child.kill('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export async function startServerProc(kind: ServerKind, opts: StartOptions = {}): Promise<ServerProc> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const cfgPath = writeCfg(dataDir, port, opts.ensemble);
  const logPath = join(dataDir, `${kind}.log`);
  let cmd: string;
  let args: string[];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (kind === 'zookeeper') {
    if (!existsSync(ZK_JAR)) throw new Error(`Apache ZooKeeper is not installed (${ZK_JAR}); apt-get install zookeeper`);
    cmd = '/usr/bin/java';
    args = [
      ZK_HEAP,
      '-Dzookeeper.root.logger=WARN,CONSOLE',
      '-Dzookeeper.console.threshold=WARN',
      `-Dzookeeper.log.dir=${dataDir}`,
      '-cp',
      ZK_CLASSPATH,
      opts.ensemble ? 'org.apache.zookeeper.server.quorum.QuorumPeerMain' : 'org.apache.zookeeper.server.ZooKeeperServerMain',
      cfgPath,
    ];
  } else {
    cmd = process.execPath;
    args = ['--expose-gc', '--import', pathToFileURL(HEAP_PROBE).href];
    if (opts.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
    if (opts.cpuProfDir && opts.cpuProfIntervalUs) args.push(`--cpu-prof-interval=${opts.cpuProfIntervalUs}`);
    args.push(opts.paddockCli ?? PADDOCK_CLI, 'server', cfgPath);
    if (opts.wrapper?.length) {
      args = [...opts.wrapper.slice(1), cmd, ...args];
      cmd = opts.wrapper[0]!;
    }
    env.PADDOCK_LOG_LEVEL = opts.logLevel ?? 'warn';
    env.PADDOCK_BENCH_HEAP_FILE = join(dataDir, 'heap.json');
    // BENCH_HEAP_SNAPSHOT=file.heapsnapshot: the heap probe also writes a V8 heap snapshot.
    if (process.env.BENCH_HEAP_SNAPSHOT) env.PADDOCK_BENCH_HEAP_SNAPSHOT = resolve(process.env.BENCH_HEAP_SNAPSHOT);
  }
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  killLiveServersOnSignal();
  liveServers.add(child);
  child.once('exit', () => liveServers.delete(child));
  const log = createWriteStream(logPath, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  try {
    await waitForServing(port, child, opts.startTimeoutMs ?? 60_000);
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${kind} did not start: ${(e as Error).message}\n${readTail(logPath)}`);
  }
  const readyMs = performance.now() - started;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    log.end();
  };
  const kill9 = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    log.end();
  };
  return {
    kind,
    port,
    dataDir,
    pid: child.pid!,
    readyMs,
    logPath,
    stop,
    kill9,
    dispose: async () => {
      await stop();
      if (ownDir && !process.env.BENCH_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function readTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

export function fourLetterWord(port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((res, rej) => {
    const sock = connect({ port, host: '127.0.0.1' }, () => sock.write(word));
    let out = '';
    const t = setTimeout(() => {
      sock.destroy();
      rej(new Error('4lw timeout'));
    }, timeoutMs);
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => {
      clearTimeout(t);
      res(out);
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      rej(e);
    });
  });
}

async function waitForServing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('process exited');
    // ZooKeeper answers ruok before it has loaded its data and refuses sessions until then;
    // srvr says 'Mode:' only once it serves.
    const reply = await fourLetterWord(port, 'srvr').catch(() => '');
    if (reply.includes('Mode:')) return;
    // Polling another process's port: there is no event to wait on.
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not serving on port ${port} within ${timeoutMs} ms`);
}

// ---- /proc readings -------------------------------------------------------------------------

const CLK_TCK = 100;

/** User + system CPU seconds of a process (all its threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds of a process's main thread only (for Paddock: the event loop). */
export function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Read and write system calls a process has made so far (all threads; /proc/<pid>/io). */
export function syscallCounts(pid: number): { reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)?.[1] ?? NaN), writes: Number(/syscw: (\d+)/.exec(io)?.[1] ?? NaN) };
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => (err ? rej(err) : res(stdout)));
  });
}

/** Live heap bytes after a full GC: jcmd for the JVM, the heap probe's SIGUSR2 for Paddock. */
export async function heapUsedAfterGc(proc: ServerProc): Promise<number> {
  if (proc.kind === 'zookeeper') {
    await run('/usr/bin/jcmd', [String(proc.pid), 'GC.run']);
    const info = await run('/usr/bin/jcmd', [String(proc.pid), 'GC.heap_info']);
    const m = /heap\s+total \d+K, used (\d+)K/.exec(info);
    if (!m) throw new Error(`cannot parse jcmd GC.heap_info: ${info.slice(0, 300)}`);
    return Number(m[1]) * 1024;
  }
  const file = join(proc.dataDir, 'heap.json');
  rmSync(file, { force: true });
  process.kill(proc.pid, 'SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      try {
        const v = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; external: number };
        return v.heapUsed + v.external;
      } catch {
        // partially written; read again
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Paddock heap probe did not answer');
}
