/**
 * The JSON-lines protocol between the harness and its client drivers (driver-paddock.ts and
 * kazoo_driver.py), and the harness side of it: one driver process, many logical clients, each
 * request answered once, with a harness-side timeout so a hung driver cannot hang a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Outcome } from './history.js';

export interface DriverRequest {
  id: number;
  op: string;
  client?: number;
  key?: string;
  value?: string;
  expectedVersion?: number;
  name?: string;
  token?: string;
  connect?: string;
  sessionTimeoutMs?: number;
  timeoutMs?: number;
  paths?: [string, string][];
  host?: string;
  port?: number;
  word?: string;
}

export interface DriverReply {
  id: number;
  outcome: Outcome;
  error?: string;
  session?: string | null;
  lastZxid?: string;
  server?: string;
  version?: number;
  mzxid?: string;
  readValue?: string;
  created?: string;
  children?: string[];
  owners?: Record<string, string>;
  token?: string;
  text?: string;
  tree?: Record<string, string>;
}

export class Driver {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: DriverReply) => void>();
  private exited = false;
  private stderr = '';

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      let reply: DriverReply;
      try {
        reply = JSON.parse(line) as DriverReply;
      } catch {
        return;
      }
      const done = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      done?.(reply);
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 16_384) this.stderr += d.toString();
    });
    child.on('exit', () => {
      this.exited = true;
      for (const [id, done] of this.waiting) done({ id, outcome: 'info', error: `driver ${name} exited: ${this.stderr.slice(-500)}` });
      this.waiting.clear();
    });
  }

  static spawn(name: string, cmd: string, args: string[]): Driver {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', () => {});
    return new Driver(name, child);
  }

  /** Sends a request; resolves with its reply, or an 'info' reply after the driver's own timeout plus a margin. */
  call(req: Omit<DriverRequest, 'id'>, harnessTimeoutMs = (req.timeoutMs ?? 5000) + 5000): Promise<DriverReply> {
    const id = this.nextId++;
    if (this.exited) return Promise.resolve({ id, outcome: 'info', error: `driver ${this.name} is not running: ${this.stderr.slice(-500)}` });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ id, outcome: 'info', error: 'HARNESS_TIMEOUT' });
      }, harnessTimeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.stdin?.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  /** Closes stdin (the driver closes its sessions and exits); kills it if it lingers. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }

  killSync(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
