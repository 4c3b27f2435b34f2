/**
 * A Paddock server in its own process (`paddock server zoo.cfg`), for attacks whose effect is on
 * the process itself: its memory (RSS from /proc), its CPU time, whether it stays up and whether
 * it starts again on the same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const START_TIMEOUT_MS = 20_000;

export interface ServerProcess {
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  isRunning(): boolean;
  /** SIGTERM and wait for exit. */
  stop(): Promise<string>;
  kill9(): Promise<string>;
}

/** A fresh data directory, removed by `removeDataDir`. */
export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'paddock-abuse-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `paddock server` on a free port with `settings` as zoo.cfg lines. Retries on a new port
 * if another process took the one picked.
 */
export async function startServerProcess(dataDir: string, settings: Record<string, string | number> = {}): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port, dataDir, settings);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOn(port: number, dataDir: string, settings: Record<string, string | number>): Promise<ServerProcess> {
  const lines = { tickTime: 2000, dataDir, clientPort: port, clientPortAddress: '127.0.0.1', maxClientCnxns: 0, ...settings };
  const cfgPath = join(dataDir, `zoo-${port}.cfg`);
  writeFileSync(cfgPath, Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const child = spawn(process.execPath, [CLI, 'server', cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), START_TIMEOUT_MS);
    const onData = (): void => {
      if (!log.includes('listening on')) return;
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      resolve();
    };
    child.stderr?.on('data', onData);
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${how}) before listening:\n${log}`));
    });
  });
  return serverProcess(child, port, dataDir, () => log, exited);
}

function serverProcess(child: ChildProcess, port: number, dataDir: string, log: () => string, exited: Promise<string>): ServerProcess {
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const signal = async (sig: NodeJS.Signals): Promise<string> => {
    if (running()) child.kill(sig);
    return exited;
  };
  return {
    port,
    pid: child.pid as number,
    dataDir,
    log,
    exited,
    isRunning: running,
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
  };
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** User plus system CPU time of a process, in ms (clock ticks of 10 ms, Linux's USER_HZ). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Polls `check` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(check: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A raw TCP connection, resolved once connected. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with the ms it took the peer to close `s`, or rejects after `timeoutMs`. */
export function closedWithin(s: Socket, timeoutMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
    // Nothing is read: the close is seen as the socket's end.
    s.resume();
  });
}
