/**
 * Command-line parsing for the `paddock` command and loading the server configuration it names.
 * Parsing is pure; `loadServerConfig` reads the zoo.cfg file and dataDir/myid.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type ServerConfig } from '../config/config.js';
import { configFromOverrides } from '../config/validate.js';
import { parseZooCfg, zooCfgDataDir, zooCfgDynamicFile } from '../config/zoo-cfg.js';
import { LOG_FORMATS, type LogFormat } from '../server/logger.js';

/** A command line the user got wrong: printed as one line plus a hint, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The subcommand whose usage the hint should point to. */
    readonly command: string | null = null,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command =
  | { kind: 'help'; topic: string | null }
  /** No command given: the usage goes to standard error and the exit status is 2. */
  | { kind: 'usage' }
  | { kind: 'version' }
  | { kind: 'server'; configPath: string | null; acceptDataLoss: boolean; logFormat: LogFormat }
  | { kind: 'data'; args: string[] }
  | { kind: 'shell'; args: string[] }
  | { kind: 'status'; args: string[] };

export const COMMANDS = ['server', 'data', 'shell', 'status', 'version', 'help'] as const;

const USAGE_MAIN = `Usage: paddock <command> [arguments]

A ZooKeeper-compatible coordination service.

Commands:
  server [zoo.cfg]     Run a server, configured by a ZooKeeper zoo.cfg file or the built-in defaults
  data <subcommand>    Inspect and convert data directories (run 'paddock data help')
  shell [cmd]          A zkCli.sh-compatible shell, or one zkCli command (run 'paddock shell -h')
  status [zoo.cfg]     Mode, version, zxid and connections of a server, or of each in an ensemble
  version              Print the Paddock version
  help [command]       Show this help, or the help of one command

Options:
  -h, --help           Show help
  -V, --version        Print the version

Exit status: 0 on success, 1 on a configuration or runtime error, 2 on a usage error.`;

const USAGE_SERVER = `Usage: paddock server [path/to/zoo.cfg] [--accept-data-loss] [--log-format text|json]

Runs a Paddock server until SIGINT or SIGTERM, then closes it cleanly.

With a zoo.cfg, reads Apache ZooKeeper's configuration format and keys with ZooKeeper's defaults
(tickTime 3000, only the srvr four-letter word, ...). Relative paths in it (dataDir, dataLogDir)
are resolved against the current directory, as ZooKeeper does. A myid file in dataDir gives the
server id. A key Paddock does not use is reported once as a warning, a misspelt one with the key
it probably means. Paddock refuses to start on a zoo.cfg describing an ensemble (several
server.N lines: it cannot replicate yet; remove them to run standalone) and on settings it
cannot honour safely (TLS, required authentication). Every key: docs/compatibility.md.

Without a zoo.cfg, uses the built-in defaults: clientPort 2181, tickTime 2000, dataDir ./data
(relative to the current directory), four-letter words ruok, srvr, stat, mntr, conf and isro.

Options:
  --accept-data-loss   Start even though txns are missing from the data directory (a lost txn
                       log segment): replay what is left and snapshot it, so the next start
                       needs no flag. Without it such a start is refused, naming the missing
                       zxids. See docs/operations.md.
  --log-format FORMAT  'text' (default): one readable line per event on standard error.
                       'json': one JSON object per line, {"time", "level", "logger", "msg",
                       "fields"}, for log shippers. PADDOCK_LOG_FORMAT sets the same.
  -h, --help           Show this help`;

const USAGE_DATA = `Usage: paddock data <subcommand> [arguments]

Tools for data directories (snapshots and transaction logs). Run 'paddock data help' for the
list of subcommands.`;

const USAGE_VERSION = `Usage: paddock version

Prints the Paddock version.`;

const USAGE_HELP = `Usage: paddock help [command]

Shows the usage of paddock, or of one command.`;

/** The usage text for a command, or the general usage for null. */
export function usage(command: string | null): string {
  switch (command) {
    case 'server': return USAGE_SERVER;
    case 'data': return USAGE_DATA;
    case 'version': return USAGE_VERSION;
    case 'help': return USAGE_HELP;
    case 'shell': return "Usage: paddock shell [-server host:port] [-timeout ms] [-waitforconnection] [--json] [command [args...]]\n\nRun 'paddock shell -h' for details; docs/shell.md lists every command.";
    case 'status': return "Usage: paddock status [zoo.cfg | -server host:port[,...]] [--json]\n\nRun 'paddock status -h' for details.";
    default: return USAGE_MAIN;
  }
}

function parseErrorMessage(e: unknown, command: string | null): UsageError {
  const err = e as { code?: string; message?: string };
  const where = command === null ? 'paddock' : `paddock ${command}`;
  const m = /(?:Unknown option|option) '([^']+)'/.exec(err.message ?? '');
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`${where}: unknown option '${m?.[1] ?? '?'}'`, command);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`${where}: too many arguments`, command);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(`${where}: ${err.message?.split('\n')[0] ?? 'invalid option value'}`, command);
    default:
      throw e;
  }
}

/** --log-format, else PADDOCK_LOG_FORMAT, else text. */
function logFormatOption(value: unknown): LogFormat {
  const text = typeof value === 'string' ? value : (process.env.PADDOCK_LOG_FORMAT || 'text');
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new UsageError(`paddock server: --log-format must be ${LOG_FORMATS.join(' or ')}, not '${text}'`, 'server');
  return text as LogFormat;
}

/** Parses argv (without the node and script paths). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): Command {
  // Global part: options before the command.
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-') {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return { kind: 'help', topic: null };
    if (a === '-V' || a === '--version') return { kind: 'version' };
    if (a === '--') {
      i++;
      break;
    }
    throw new UsageError(`paddock: unknown option '${a}'`);
  }
  if (i >= argv.length) return { kind: 'usage' };
  const command = argv[i]!;
  const rest = argv.slice(i + 1);
  switch (command) {
    case 'help': {
      const { positionals } = parseSub(rest, 'help', 1, {});
      const topic = positionals[0] ?? null;
      if (topic !== null && !(COMMANDS as readonly string[]).includes(topic)) {
        throw new UsageError(`paddock help: unknown command '${topic}'`);
      }
      return { kind: 'help', topic };
    }
    case 'version': {
      const { values } = parseSub(rest, 'version', 0, {});
      if (values.help) return { kind: 'help', topic: 'version' };
      return { kind: 'version' };
    }
    case 'server': {
      const { values, positionals } = parseSub(rest, 'server', 1, { 'accept-data-loss': { type: 'boolean' }, 'log-format': { type: 'string' } });
      if (values.help) return { kind: 'help', topic: 'server' };
      return { kind: 'server', configPath: positionals[0] ?? null, acceptDataLoss: values['accept-data-loss'] === true, logFormat: logFormatOption(values['log-format']) };
    }
    case 'data':
      // The data tools parse their own arguments.
      return { kind: 'data', args: rest };
    case 'shell':
      // zkCli's single-dash options (-server, -timeout) are parsed by the shell itself.
      return { kind: 'shell', args: rest };
    case 'status':
      return { kind: 'status', args: rest };
    default:
      throw new UsageError(`paddock: unknown command '${command}'`);
  }
}

function parseSub(
  args: readonly string[],
  command: string,
  maxPositionals: number,
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw parseErrorMessage(e, command);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`paddock ${command}: unexpected argument '${parsed.positionals[maxPositionals]}'`, command);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

export interface LoadedConfig {
  config: ServerConfig;
  warnings: string[];
  /** Absolute path of the zoo.cfg read, or null for the built-in defaults. */
  source: string | null;
}

/**
 * The configuration for `paddock server`: the zoo.cfg at `configPath` (with dataDir/myid when it
 * exists), or the built-in defaults with dataDir `data` under `cwd`. A zoo.cfg describing an
 * ensemble is refused unless `ensembleSupported`. Throws ConfigError.
 */
export function loadServerConfig(configPath: string | null, cwd: string, ensembleSupported = false): LoadedConfig {
  if (configPath === null) {
    const dataDir = resolve(cwd, 'data');
    return { config: configFromOverrides({ dataDir, dataLogDir: dataDir }), warnings: [], source: null };
  }
  const path = resolve(cwd, configPath);
  const text = readText(path, 'config file');
  if (text === null) throw new ConfigError(`config file not found: ${configPath}`);
  const dataDir = zooCfgDataDir(text, cwd);
  const myid = dataDir === null ? null : readText(join(dataDir, 'myid'), 'myid file');
  const dynamicFile = zooCfgDynamicFile(text, cwd);
  const dynamicConfig = dynamicFile === null ? null : readText(dynamicFile, 'dynamic config file');
  const { config, warnings } = parseZooCfg(text, { baseDir: cwd, myid, ensembleSupported, dynamicConfig });
  return { config, warnings, source: path };
}

/** File contents as UTF-8, or null when it does not exist; other failures become ConfigError. */
function readText(path: string, what: string): string | null {
  try {
    if (statSync(path).isDirectory()) throw new ConfigError(`${what} ${path} is a directory`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') return null;
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigError(`cannot read ${what} ${path}: permission denied`);
    throw new ConfigError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}
