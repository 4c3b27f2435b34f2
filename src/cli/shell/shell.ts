/**
 * `paddock shell`: zkCli.sh's command line over the Paddock client. With a command after the
 * options it runs that one command and exits with zkCli's status (0, 1 on failure, 127 for an
 * unknown command); otherwise it reads commands from standard input, interactively on a
 * terminal (prompt, tab completion of commands and paths, history in ~/.paddock_history).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { ZooKeeperClient, joinPath, type SessionEvent } from '../../client/index.js';
import { EXTRA_COMMANDS, allCommandNames, runCommand, type ShellContext } from './commands.js';
import { tokenize } from './options.js';

export interface ShellOptions {
  server: string;
  timeoutMs: number;
  waitForConnection: boolean;
  json: boolean;
  command: string[];
}

export const SHELL_USAGE = `Usage: paddock shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-waitforconnection]
                     [-client-configuration file] [--json] [command [args...]]

zkCli.sh's commands, syntax, output and exit codes over the Paddock client, against Paddock or
Apache ZooKeeper. A command after the options runs once and the shell exits with its status
(0 success, 1 failure, 127 unknown command); without one, commands are read from standard input
(interactive on a terminal: tab completion, history in ~/.paddock_history).

Paddock's additions: tree, find, view, watch, export, import, and --json output. See docs/shell.md.`;

/** Parses zkCli's options; the first word that is not one starts the command. */
export function parseShellArgs(argv: readonly string[]): ShellOptions | string {
  const o: ShellOptions = { server: 'localhost:2181', timeoutMs: 30_000, waitForConnection: false, json: false, command: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '-server' && v !== undefined) (o.server = v), i++;
    else if (a === '-timeout' && v !== undefined) {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) return `paddock shell: -timeout needs a positive number of ms, not '${v}'`;
      o.timeoutMs = n;
      i++;
    } else if (a === '-client-configuration' && v !== undefined) i++; // Accepted for scripts; TLS/SASL settings are not used.
    else if (a === '-waitforconnection') o.waitForConnection = true;
    else if (a === '-r') continue; // Read-only mode: accepted, as a read-only server answers reads anyway.
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') return 'help';
    else break;
  }
  o.command = argv.slice(i);
  return o;
}

const STATE_NAMES: Record<string, string> = { connecting: 'CONNECTING', connected: 'CONNECTED', suspended: 'CONNECTING', closed: 'CLOSED' };
const EVENT_STATES: Record<string, string> = { connected: 'SyncConnected', reconnected: 'SyncConnected', suspended: 'Disconnected', expired: 'Expired', closed: 'Closed', authFailed: 'AuthFailed' };

function colour(code: number, text: string, stream: NodeJS.WriteStream): string {
  return stream.isTTY && !process.env.NO_COLOR ? `\x1b[${code}m${text}\x1b[0m` : text;
}

class Shell implements ShellContext {
  client: ZooKeeperClient | null = null;
  host: string;
  printWatches = true;
  readonly history: string[] = [];
  private quitRequested = false;
  private interruptWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | null = null;
  private readonly eventsThisTurn = new Set<string>();

  constructor(
    private readonly opts: ShellOptions,
    readonly json: boolean,
    private readonly versionText: string,
    /** No connection banner or session events: for --json and Paddock's own one-shot commands, whose output is meant for pipes. */
    private readonly quiet: boolean,
  ) {
    this.host = opts.server;
  }

  get quitting(): boolean {
    return this.quitRequested;
  }

  zk(): ZooKeeperClient {
    if (this.client === null || this.client.state === 'closed') throw new Error('Not connected');
    return this.client;
  }

  chrooted(): boolean {
    return this.host.includes('/');
  }

  progress(text: string | null): void {
    if (!process.stderr.isTTY) return;
    process.stderr.write(text === null ? '\r\x1b[K' : `\r${text}\x1b[K`);
  }

  alive(): boolean {
    return this.client !== null && this.client.state !== 'closed';
  }

  out(line: string): void {
    process.stdout.write(line + '\n');
  }

  err(line: string): void {
    process.stderr.write(line + '\n');
  }

  paint(code: number, text: string): string {
    return colour(code, text, process.stdout);
  }

  error(line: string): void {
    process.stderr.write(colour(31, line, process.stderr) + '\n');
  }

  version(): string {
    return `paddock ${this.versionText}`;
  }

  watchEvent(type: string, path: string): void {
    // zkCli's one default watcher is told once per event even when several of its watches
    // (get -w plus addWatch) match; the Paddock client calls each callback, so fold them.
    const key = `${type} ${path}`;
    if (this.eventsThisTurn.has(key)) return;
    if (this.eventsThisTurn.size === 0) setImmediate(() => this.eventsThisTurn.clear());
    this.eventsThisTurn.add(key);
    this.printEvent('SyncConnected', type, path);
  }

  private printEvent(state: string, type: string, path: string | null): void {
    if (!this.printWatches || this.quiet) return;
    this.out('');
    this.out('WATCHER::');
    this.out('');
    this.out(`WatchedEvent state:${state} type:${type} path:${path}`);
  }

  async connect(hosts: string | null): Promise<void> {
    if (hosts !== null) this.host = hosts;
    // zkCli announces only the first connection, not a later `connect`.
    if (this.client !== null) await this.close();
    else if (!this.quiet) this.out(`Connecting to ${this.host}`);
    const client = new ZooKeeperClient(this.host, { sessionTimeoutMs: this.opts.timeoutMs });
    this.client = client;
    this.unsubscribe = client.onSession((e: SessionEvent) => {
      const state = EVENT_STATES[e.type];
      if (state !== undefined && e.type !== 'reconnected') this.printEvent(state, 'None', null);
    });
    if (this.opts.waitForConnection) await client.waitConnected({ timeoutMs: this.opts.timeoutMs });
  }

  async close(): Promise<void> {
    await this.client?.close();
  }

  /** Closes without printing the Closed event, as zkCli's exit after a one-shot command does. */
  async shutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.client?.close();
  }

  quit(): void {
    this.quitRequested = true;
  }

  run(line: string): Promise<number> {
    return runCommand(this, tokenize(line));
  }

  interrupted(): Promise<void> {
    return new Promise((resolve) => this.interruptWaiters.push(resolve));
  }

  /** Ctrl-C: ends a streaming command; returns whether one was running. */
  interrupt(): boolean {
    const waiters = this.interruptWaiters;
    this.interruptWaiters = [];
    for (const w of waiters) w();
    return waiters.length > 0;
  }

  prompt(): string {
    const state = STATE_NAMES[this.client?.state ?? 'closed'] ?? 'CLOSED';
    return `[zk: ${this.host}(${state}) ${this.history.length}] `;
  }

  /** Completes a command name, or a path from the server's children of its parent. */
  async complete(line: string): Promise<[string[], string]> {
    const words = line.split(' ');
    const last = words[words.length - 1] ?? '';
    if (words.length === 1) return [allCommandNames().filter((c) => c.startsWith(last)), last];
    if (!last.startsWith('/') || this.client?.state !== 'connected') return [[], last];
    const cut = last.lastIndexOf('/');
    const parent = cut === 0 ? '/' : last.slice(0, cut);
    const prefix = last.slice(cut + 1);
    const children = await this.client.getChildren(parent, { timeoutMs: 2000 }).catch(() => [] as string[]);
    const hits = children.filter((c) => c.startsWith(prefix)).sort().map((c) => joinPath(parent, c));
    return [hits, last];
  }
}

function historyFile(): string {
  return process.env.PADDOCK_HISTORY ?? join(homedir(), '.paddock_history');
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyFile(), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-500).reverse();
  } catch {
    return [];
  }
}

function saveHistory(line: string): void {
  try {
    appendFileSync(historyFile(), line + '\n');
  } catch {
    // History is a convenience: an unwritable home must not break the shell.
  }
}

async function interactive(shell: Shell): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  if (!shell.json) shell.out('Welcome to ZooKeeper!');
  const rl: Interface = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: tty,
    ...(tty
      ? {
          history: loadHistory(),
          historySize: 500,
          completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
            void shell.complete(line).then((r) => cb(null, r));
          },
        }
      : {}),
  });
  let status = 0;
  let busy = false;
  rl.on('SIGINT', () => {
    if (busy && shell.interrupt()) return;
    rl.close();
  });
  const showPrompt = (): void => {
    if (!tty) return;
    rl.setPrompt(shell.prompt());
    rl.prompt();
  };
  showPrompt();
  for await (const line of rl) {
    const words = tokenize(line);
    if (words.length > 0) {
      shell.history.push(line.trim());
      if (tty) saveHistory(line.trim());
      busy = true;
      // quit exits with the status of the command before it, as zkCli does.
      const result = await runCommand(shell, words);
      if (words[0] !== 'quit') status = result;
      busy = false;
      if (shell.quitting) break;
    }
    showPrompt();
  }
  rl.close();
  return status;
}

/** Runs `paddock shell`; returns the exit status. */
export async function runShell(argv: readonly string[], versionText: string): Promise<number> {
  const opts = parseShellArgs(argv);
  if (opts === 'help') {
    process.stdout.write(SHELL_USAGE + '\n');
    return 0;
  }
  if (typeof opts === 'string') {
    process.stderr.write(`${opts}\n`);
    return 2;
  }
  const extra = opts.command[0] !== undefined && Object.hasOwn(EXTRA_COMMANDS, opts.command[0]);
  const shell = new Shell(opts, opts.json, versionText, opts.json || extra);
  try {
    await shell.connect(null);
  } catch (e) {
    process.stderr.write(`Unable to connect to ${opts.server} within ${opts.timeoutMs} ms: ${(e as Error).message}\n`);
    await shell.shutdown();
    return 1;
  }
  const onSigint = (): void => {
    if (!shell.interrupt()) void shell.shutdown().then(() => process.exit(130));
  };
  try {
    if (opts.command.length > 0) {
      process.on('SIGINT', onSigint);
      return await runCommand(shell, opts.command);
    }
    return await interactive(shell);
  } finally {
    process.off('SIGINT', onSigint);
    await shell.shutdown();
  }
}
