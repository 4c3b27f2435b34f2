/**
 * Starts Apache ZooKeeper 3.8 servers as members of a quorum (QuorumPeerMain with a zoo.cfg
 * that lists server.N lines), for interop tests of the quorum protocol. Logging goes to the
 * process's stderr through slf4j-simple when the Debian package ships it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type QuorumServerSpec } from '../../src/consensus/members.js';
import { freePort } from '../support/ports.js';
import { fourLetterWord, SERVLET_API_JAR, ZK_CLASSPATH } from '../support/zookeeper.js';

const SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
/** Whether started servers write their log (to their output), so tests may read it. */
export const ZOOKEEPER_LOGS = existsSync(SLF4J_SIMPLE);

export interface QuorumMemberPorts extends QuorumServerSpec {
  clientPort: number;
}

/** Ports for `count` servers, sids 1..count, on 127.0.0.1 (bound then released: ZooKeeper needs numbers). */
export async function quorumPorts(count: number): Promise<QuorumMemberPorts[]> {
  const members: QuorumMemberPorts[] = [];
  for (let i = 1; i <= count; i++) {
    members.push({
      sid: BigInt(i),
      type: 'participant',
      host: '127.0.0.1',
      quorumPort: await freePort(),
      electionPort: await freePort(),
      clientPort: await freePort(),
    });
  }
  return members;
}

export interface ZooKeeperPeer {
  sid: bigint;
  clientPort: number;
  dataDir: string;
  /** Everything the process printed so far (capped). */
  output(): string;
  /** Resolves when the process prints a line matching `pattern`; rejects on timeout or exit. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The Mode: line of `srvr`, or null while the server does not serve. */
  mode(): Promise<string | null>;
  /** kill -9, keeping the data directory (for a server that takes it over). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** More zoo.cfg lines, jars on the class path (quorum TLS needs NETTY_CODEC_JAR), and JVM flags (-D...). */
export interface ZooKeeperPeerExtra {
  config?: readonly string[];
  classpath?: readonly string[];
  jvmFlags?: readonly string[];
}

/** `adminPort`: also start ZooKeeper's AdminServer there, on 127.0.0.1. */
export function startZooKeeperPeer(sid: bigint, members: readonly QuorumMemberPorts[], tickTimeMs = 500, adminPort?: number, extra: ZooKeeperPeerExtra = {}): ZooKeeperPeer {
  const me = members.find((m) => m.sid === sid)!;
  const dataDir = mkdtempSync(join(tmpdir(), `zk-peer-${sid}-`));
  writeFileSync(join(dataDir, 'myid'), `${sid}\n`);
  const cfg = [
    `tickTime=${tickTimeMs}`,
    'initLimit=100',
    'syncLimit=10',
    `dataDir=${dataDir}`,
    `clientPort=${me.clientPort}`,
    'clientPortAddress=127.0.0.1',
    ...(adminPort === undefined ? ['admin.enableServer=false'] : ['admin.enableServer=true', 'admin.serverAddress=127.0.0.1', `admin.serverPort=${adminPort}`]),
    '4lw.commands.whitelist=*',
    ...members.map((m) => `server.${m.sid}=${m.host}:${m.quorumPort}:${m.electionPort}`),
    ...(extra.config ?? []),
  ];
  const cfgPath = join(dataDir, 'zoo.cfg');
  writeFileSync(cfgPath, cfg.join('\n') + '\n');
  // Without the servlet API on the class path the AdminServer silently does not start.
  const classpath = [ZK_CLASSPATH, ...(ZOOKEEPER_LOGS ? [SLF4J_SIMPLE] : []), ...(adminPort === undefined ? [] : [SERVLET_API_JAR]), ...(extra.classpath ?? [])].join(':');
  const child: ChildProcess = spawn(
    '/usr/bin/java',
    ['-Xmx256m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=info', ...(extra.jvmFlags ?? []), '-cp', classpath, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfgPath],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer): void => {
    if (output.length < 4 * 1024 * 1024) output += chunk.toString();
    for (const check of [...waiters]) check();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    sid,
    clientPort: me.clientPort,
    dataDir,
    output: () => output,
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const finish = (err: Error | null, line?: string): void => {
          waiters.delete(check);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(line!);
        };
        const check = (): void => {
          const match = pattern.exec(output);
          if (match) finish(null, match[0]);
        };
        const timer = setTimeout(() => finish(new Error(`server ${sid}: no ${pattern} within ${timeoutMs} ms\n${output.slice(-4000)}`)), timeoutMs);
        void exited.then(() => finish(new Error(`server ${sid} exited\n${output.slice(-4000)}`)));
        waiters.add(check);
        check();
      });
    },
    async mode() {
      const reply = await fourLetterWord(me.clientPort, 'srvr', '127.0.0.1', 2000).catch(() => '');
      return /Mode: (\w+)/.exec(reply)?.[1] ?? null;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async stop() {
      await this.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `srvr` until the server reports a mode (an external process: no event to wait on). */
export async function waitForMode(peer: ZooKeeperPeer, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const mode = await peer.mode();
    if (mode) return mode;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server ${peer.sid} reported no mode within ${timeoutMs} ms\n${peer.output().slice(-4000)}`);
}

/** Polls srvr until the ZooKeeper servers report these modes in some order (external processes). */
export async function waitForModes(peers: readonly ZooKeeperPeer[], wanted: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const modes = await Promise.all(peers.map((p) => p.mode()));
    if ([...modes].sort().join() === [...wanted].sort().join()) return modes as string[];
    if (Date.now() > deadline) throw new Error(`ZooKeeper modes ${modes.join(', ')}, wanted ${wanted.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
