/**
 * Starts Apache ZooKeeper 3.8 (Debian's `zookeeper` package) as a child process for
 * compatibility and differential tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const ZK_JAR = '/usr/share/java/zookeeper.jar';
export const ZK_CLASSPATH = `/etc/zookeeper/conf:${ZK_JAR}`;

/** Why Apache ZooKeeper tests cannot run here, or null when they can. */
export function zookeeperMissing(): string | null {
  if (!existsSync(ZK_JAR)) return `Apache ZooKeeper is not installed (${ZK_JAR} missing; apt-get install zookeeper)`;
  if (!existsSync('/usr/bin/java')) return 'java is not installed';
  return null;
}

/** Options for node:test's `skip`: skip with the reason, but fail under CI where it must run. */
export function skipUnlessZooKeeper(): string | false {
  const missing = zookeeperMissing();
  if (missing && process.env.CI) throw new Error(`required under CI: ${missing}`);
  return missing ?? false;
}

export interface ZooKeeperProcess {
  port: number;
  dataDir: string;
  connectString: string;
  stop(): Promise<void>;
}

export interface ZooKeeperOptions {
  tickTime?: number;
  /** Extra zoo.cfg lines, e.g. { 'extendedTypesEnabled': 'true' }. */
  config?: Record<string, string>;
  /** Extra JVM -D properties. */
  properties?: Record<string, string>;
  dataDir?: string;
  startTimeoutMs?: number;
  /**
   * Run ZooKeeper's AdminServer on this port (127.0.0.1). Debian's zookeeper.jar names Jetty in
   * its Class-Path but not the servlet API, without which the AdminServer quietly does not start.
   */
  adminPort?: number;
  /** More jars for the classpath (Netty's TLS needs NETTY_CODEC_JAR, which zookeeper.jar's Class-Path lacks). */
  classpath?: string[];
}

export const SERVLET_API_JAR = '/usr/share/java/servlet-api.jar';
export const NETTY_CODEC_JAR = '/usr/share/java/netty-codec.jar';

export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'zk-data-'));
  // freePort() gives the port back before ZooKeeper binds it, so another server may take it:
  // check that what answers is this ZooKeeper (its conf names our dataDir), else try another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = await launch(port, dataDir, options);
    const conf = await fourLetterWord(port, 'conf').catch(() => '');
    // (A whitelist without conf leaves nothing to check with.)
    if (conf.includes(`dataDir=${dataDir}`) || conf.includes('not in the whitelist')) {
      return { port, dataDir, connectString: `127.0.0.1:${port}`, stop: () => stopChild(child, ownDir ? dataDir : null) };
    }
    await stopChild(child, null);
    if (attempt === 3) throw new Error(`Apache ZooKeeper did not start: port ${port} was answered by another server`);
  }
}

async function launch(port: number, dataDir: string, options: ZooKeeperOptions): Promise<ChildProcess> {
  const cfgPath = join(dataDir, 'zoo.cfg');
  const cfg: Record<string, string> = {
    tickTime: String(options.tickTime ?? 2000),
    dataDir,
    clientPort: String(port),
    clientPortAddress: '127.0.0.1',
    maxClientCnxns: '0',
    'admin.enableServer': 'false',
    '4lw.commands.whitelist': '*',
    extendedTypesEnabled: 'true',
    ...(options.adminPort === undefined ? {} : { 'admin.enableServer': 'true', 'admin.serverAddress': '127.0.0.1', 'admin.serverPort': String(options.adminPort) }),
    ...options.config,
  };
  writeFileSync(cfgPath, Object.entries(cfg).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const props = {
    'zookeeper.root.logger': 'WARN,CONSOLE',
    'zookeeper.console.threshold': 'WARN',
    'zookeeper.log.dir': dataDir,
    ...options.properties,
  };
  const args = [
    '-Xmx512m',
    ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
    '-cp',
    [ZK_CLASSPATH, ...(options.adminPort === undefined ? [] : [SERVLET_API_JAR]), ...(options.classpath ?? [])].join(':'),
    'org.apache.zookeeper.server.ZooKeeperServerMain',
    cfgPath,
  ];
  const child = spawn('/usr/bin/java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 64 * 1024) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  try {
    await waitForRuok(port, child, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`Apache ZooKeeper did not start: ${(err as Error).message}\n${output}`);
  }
  return child;
}

function stopChild(child: ChildProcess, removeDir: string | null): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      if (removeDir) rmSync(removeDir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGKILL');
  });
}

/**
 * Sends a four-letter word and returns the whole text reply. Fails after `timeoutMs` of silence,
 * so a port taken by some other, silent listener cannot hang a caller.
 */
export function fourLetterWord(port: number, word: string, host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host }, () => sock.write(word));
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no reply to '${word}' on port ${port} within ${timeoutMs} ms`)));
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

async function waitForRuok(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('process exited');
    // ruok answers before the database is loaded; srvr reports a Mode only once requests are served.
    const reply = await fourLetterWord(port, 'srvr').catch(() => '');
    if (reply.includes('Mode:')) return;
    // Polling an external process's port: there is no event to wait on.
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not serving on port ${port} within ${timeoutMs} ms`);
}
