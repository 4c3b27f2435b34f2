/**
 * Paddock ensemble members as real processes: `paddock server zoo.cfg` with server.N lines and
 * dataDir/myid, as an operator starts them. Roles are read from each process's log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface ProcessMember {
  id: number;
  clientPort: number;
  configPath: string;
  child: ChildProcess | null;
  /** The last role the process logged: looking, leader, follower, observer. */
  mode: string;
  log: string[];
}

export interface ProcessEnsemble {
  dir: string;
  members: ProcessMember[];
  connectString: string;
  start(id: number): void;
  /** kill -9: nothing is closed cleanly. */
  kill(id: number): Promise<void>;
  /** SIGSTOP / SIGCONT: the process freezes, its sockets stay open. */
  pause(id: number): void;
  resume(id: number): void;
  /** Resolves when `done` holds, re-checked at every role change any member logs. */
  waitFor(what: string, timeoutMs: number, done: () => boolean): Promise<void>;
  close(): Promise<void>;
}

/** `extraConfig`: more zoo.cfg lines for every member (snapCount=20, say). */
export async function makeProcessEnsemble(count: number, tickTime = 200, extraConfig: readonly string[] = []): Promise<ProcessEnsemble> {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-ensemble-'));
  const lines: string[] = [];
  const members: ProcessMember[] = [];
  for (let id = 1; id <= count; id++) {
    lines.push(`server.${id}=127.0.0.1:${await freePort()}:${await freePort()}`);
    members.push({ id, clientPort: await freePort(), configPath: join(dir, `zoo${id}.cfg`), child: null, mode: 'looking', log: [] });
  }
  for (const m of members) {
    const dataDir = join(dir, `data${m.id}`);
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'myid'), `${m.id}\n`);
    // Sessions may outlive a kill, an election and a reconnect on a loaded machine (tickTime 200
    // alone caps them at 4 s); a test that wants short sessions sets maxSessionTimeout itself.
    const sessions = extraConfig.some((l) => l.startsWith('maxSessionTimeout=')) ? [] : ['maxSessionTimeout=30000'];
    const cfg = [`tickTime=${tickTime}`, 'initLimit=25', 'syncLimit=10', `dataDir=${dataDir}`, `clientPort=${m.clientPort}`, 'clientPortAddress=127.0.0.1', '4lw.commands.whitelist=*', ...sessions, ...extraConfig, ...lines];
    writeFileSync(m.configPath, cfg.join('\n') + '\n');
  }
  const listeners = new Set<() => void>();
  const ensemble: ProcessEnsemble = {
    dir,
    members,
    connectString: members.map((m) => `127.0.0.1:${m.clientPort}`).join(','),
    start(id) {
      const m = members[id - 1]!;
      m.mode = 'looking';
      const child = spawn(process.execPath, [MAIN, 'server', m.configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PADDOCK_LOG_LEVEL: 'info' } });
      m.child = child;
      let partial = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        const text = partial + chunk.toString();
        const parts = text.split('\n');
        partial = parts.pop()!;
        for (const line of parts) {
          m.log.push(line);
          const role = /server \d+ is now (\w+)/.exec(line);
          if (role) {
            m.mode = role[1]!;
            for (const l of [...listeners]) l();
          }
        }
      });
      child.once('exit', () => {
        if (m.child === child) m.child = null;
        m.mode = 'dead';
        for (const l of [...listeners]) l();
      });
    },
    async kill(id) {
      const child = members[id - 1]!.child;
      if (!child) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    pause(id) {
      members[id - 1]!.child?.kill('SIGSTOP');
    },
    resume(id) {
      members[id - 1]!.child?.kill('SIGCONT');
    },
    waitFor(what, timeoutMs, done) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!done()) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`not ${what} within ${timeoutMs} ms: ${members.map((m) => `${m.id}=${m.mode}`).join(' ')}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async close() {
      await Promise.all(members.map((m) => ensemble.kill(m.id)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return ensemble;
}

/** One leader and every other live member following. */
export function settled(e: ProcessEnsemble): boolean {
  return settledAmong(e.members.filter((m) => m.child !== null));
}

/** One leader among `members` and the others following it (as their logs say). */
export function settledAmong(members: readonly ProcessMember[]): boolean {
  return members.filter((m) => m.mode === 'leader').length === 1 && members.every((m) => m.mode === 'leader' || m.mode === 'follower');
}
