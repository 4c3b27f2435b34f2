#!/usr/bin/env node
/**
 * The `paddock` command. Exit status: 0 success, 1 configuration or runtime error, 2 usage error.
 * User errors print one readable line (no stack trace); see `paddock help`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type ServerConfig } from '../config/config.js';
import { PersistenceError } from '../persistence/errors.js';
import { applyJvmFlags } from '../auth/load.js';
import { UsageError, loadServerConfig, parseCommandLine, usage, type Command } from './args.js';
import { createLogger, type LogFormat, type Logger } from '../server/logger.js';

interface RunningServer {
  port: number;
  close(): Promise<void>;
}
type StartServer = (overrides?: Partial<ServerConfig>, options?: { logger?: Logger }) => Promise<RunningServer>;
type RunDataCommand = (args: string[]) => Promise<number | void> | number | void;

/** An error already explained to the user; carries the exit status. */
class ExitError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export function paddockVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Imports a module of this build that another part of the project provides, by a relative specifier. */
async function importOptional<T>(specifier: string, what: string): Promise<T> {
  const url = new URL(specifier, import.meta.url);
  try {
    return (await import(url.href)) as T;
  } catch (e) {
    const err = e as { code?: string; url?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && (err.message ?? '').includes(url.pathname)) {
      throw new ExitError(`paddock: ${what} is not available in this build`, 1);
    }
    throw e;
  }
}

interface ServerModule {
  startServer?: StartServer;
  /** Set to true by the server module once it can run as an ensemble member. */
  ensembleSupported?: boolean;
}

async function loadServerModule(): Promise<{ startServer: StartServer; ensembleSupported: boolean }> {
  const mod = await importOptional<ServerModule>('../server/index.js', 'the server');
  if (typeof mod.startServer !== 'function') throw new ExitError('paddock: the server is not available in this build', 1);
  return { startServer: mod.startServer, ensembleSupported: mod.ensembleSupported === true };
}

async function loadRunDataCommand(): Promise<RunDataCommand> {
  const mod = await importOptional<{ runDataCommand?: RunDataCommand }>('./data.js', 'the data command');
  if (typeof mod.runDataCommand !== 'function') throw new ExitError('paddock: the data command is not available in this build', 1);
  return mod.runDataCommand;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // A second signal while closing stops at once.
      const force = (): void => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * The command's own lines (warnings, start, stop): `paddock: ...` text as always, or with
 * --log-format json the same events as JSON lines, so the whole of standard error parses.
 */
function cliSay(format: LogFormat): { warn(msg: string): void; info(msg: string, fields?: Record<string, string>): void } {
  if (format === 'text') {
    return {
      warn: (msg) => process.stderr.write(`paddock: warning: ${msg}\n`),
      info: (msg) => process.stderr.write(`paddock: ${msg}\n`),
    };
  }
  const log = createLogger('cli', { format });
  return { warn: (msg) => log.warn(msg), info: (msg, fields) => log.info(msg, fields) };
}

async function runServer(configPath: string | null, acceptDataLoss: boolean, logFormat: LogFormat): Promise<number> {
  const { startServer, ensembleSupported } = await loadServerModule();
  const loaded = loadServerConfig(configPath, process.cwd(), ensembleSupported);
  const { warnings, source } = loaded;
  const config = { ...loaded.config, acceptDataLoss };
  applyJvmFlags(config.auth, process.env);
  const say = cliSay(logFormat);
  for (const w of warnings) say.warn(w);
  say.info(`starting with ${source === null ? 'the built-in configuration' : source} (dataDir ${config.dataDir})`, { dataDir: config.dataDir });
  const stopped = waitForSignal();
  let server: RunningServer;
  try {
    server = await startServer(config, { logger: createLogger('server', { format: logFormat }) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err instanceof ConfigError) throw err;
    if (err.code === 'EADDRINUSE') {
      throw new ExitError(`paddock: cannot listen on ${config.clientPortAddress}:${config.clientPort}: address already in use`, 1);
    }
    // A server.N address that does not resolve or is not this host's.
    if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
      throw new ExitError(`paddock: cannot start: ${err.message}`, 1);
    }
    // Data directory problems (locked, corrupt, unreadable) are the operator's to fix: one line.
    if (err instanceof PersistenceError) throw new ExitError(`paddock: cannot start: ${err.message}`, 1);
    throw e;
  }
  const sig = await stopped;
  say.info(`${sig} received, shutting down`, { signal: sig });
  await server.close();
  return 0;
}

async function execute(cmd: Command): Promise<number> {
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(usage(cmd.topic) + '\n');
      return 0;
    case 'usage':
      process.stderr.write(usage(null) + '\n');
      return 2;
    case 'version':
      process.stdout.write(`paddock ${paddockVersion()}\n`);
      return 0;
    case 'server':
      return runServer(cmd.configPath, cmd.acceptDataLoss, cmd.logFormat);
    case 'shell': {
      const mod = await importOptional<{ runShell(args: string[], version: string): Promise<number> }>('./shell/shell.js', 'the shell');
      return mod.runShell(cmd.args, paddockVersion());
    }
    case 'status': {
      const mod = await importOptional<{ runStatus(args: string[]): Promise<number> }>('./shell/status.js', 'the status command');
      return mod.runStatus(cmd.args);
    }
    case 'data': {
      const run = await loadRunDataCommand();
      const status = await run(cmd.args);
      return typeof status === 'number' ? status : 0;
    }
  }
}

/** Runs the command line; returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await execute(parseCommandLine(argv));
  } catch (e) {
    if (e instanceof UsageError) {
      const hint = e.command === null ? "Run 'paddock help' for usage." : `Run 'paddock help ${e.command}' for usage.`;
      process.stderr.write(`${e.message}\n${hint}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`paddock: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ExitError) {
      process.stderr.write(`${e.message}\n`);
      return e.status;
    }
    process.stderr.write(`paddock: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

const status = await main(process.argv.slice(2));
process.exitCode = status;
if (status !== 0 || process.argv[2] === 'server' || process.argv[2] === 'shell') {
  // Do not wait for stray handles once a command is finished.
  process.exit(status);
}
