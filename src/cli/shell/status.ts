/**
 * `paddock status`: what `zkServer.sh status` tells (mode), plus version, zxid and connections,
 * from each server's `srvr` four-letter word: one server (-server host:port) or every server.N
 * of a zoo.cfg (client port from the line's `;port` suffix, else clientPort).
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';

export interface StatusTarget {
  id: string | null;
  host: string;
  port: number;
  /** Why this server cannot be asked (its client address is not in the zoo.cfg), if so. */
  unknown?: string;
}

export interface ServerStatus extends StatusTarget {
  ok: boolean;
  mode?: string;
  version?: string;
  zxid?: string;
  connections?: number;
  nodeCount?: number;
  error?: string;
}

const USAGE = `Usage: paddock status [path/to/zoo.cfg | -server host:port[,host:port...]] [--json] [-timeout ms]

Asks each server for its srvr four-letter word and prints its mode (standalone, leader,
follower, observer; looking while it elects, not running when it does not answer), version,
last zxid and connection count. With a zoo.cfg, every server.N line is asked (client port from
its ';port' suffix, else clientPort), then how many run and which leads; without server.N lines,
clientPortAddress:clientPort. Default: -server localhost:2181.
Exit status: 0 when every server answered, 1 otherwise, 2 on a usage error.`;

/** The mode reported for a server that does not answer at all. */
export const NOT_RUNNING = 'not running';
const NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

function parseHostPort(text: string): StatusTarget | null {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text.trim());
  if (m === null) return null;
  return { id: null, host: m[1]!, port: Number(m[2]) };
}

/** The client addresses of the servers a zoo.cfg describes. */
export function targetsFromZooCfg(text: string, myid: string | null = null): StatusTarget[] {
  const props = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const clientPort = Number(props.get('clientPort') ?? 2181);
  const servers = [...props.entries()].filter(([k]) => /^server\.\d+$/.test(k));
  if (servers.length === 0) {
    const addr = props.get('clientPortAddress') ?? 'localhost';
    return [{ id: null, host: addr === '0.0.0.0' ? 'localhost' : addr, port: clientPort }];
  }
  const targets = servers.map(([k, v]) => {
    const [quorum, client] = v.split(';') as [string, string | undefined];
    const host = quorum.startsWith('[') ? quorum.slice(1, quorum.indexOf(']')) : quorum.split(':')[0]!;
    let port = clientPort;
    let clientHost = host;
    if (client !== undefined && client.trim() !== '') {
      const c = client.trim();
      const cut = c.lastIndexOf(':');
      port = Number(cut < 0 ? c : c.slice(cut + 1));
      if (cut > 0) clientHost = c.slice(0, cut);
    }
    if (clientHost === '0.0.0.0') clientHost = host;
    return { id: k.slice('server.'.length), host: clientHost, port, defaulted: client === undefined || client.trim() === '' };
  });
  // clientPort is this server's own: servers of one host without a ';port' suffix cannot all
  // have it, so only this server (dataDir/myid) keeps it and the others are not guessed at.
  return targets.map(({ defaulted, ...t }) => {
    const shared = defaulted && targets.some((o) => o !== undefined && o.id !== t.id && o.host === t.host && o.port === t.port);
    if (!shared || t.id === myid) return t;
    return { ...t, unknown: `client port unknown: server.${t.id} shares host ${t.host} and has no ';clientPort' suffix in zoo.cfg` };
  });
}

function fourLetterWord(host: string, port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port }, () => sock.write(word));
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

export async function serverStatus(t: StatusTarget, timeoutMs: number): Promise<ServerStatus> {
  if (t.unknown !== undefined) return { ...t, ok: false, error: t.unknown };
  let reply: string;
  try {
    reply = await fourLetterWord(t.host, t.port, 'srvr', timeoutMs);
  } catch (e) {
    return { ...t, ok: false, mode: NOT_RUNNING, error: `Error contacting service. It is probably not running. (${(e as Error).message})` };
  }
  const field = (name: string): string | undefined => new RegExp(`^${name}: (.*)$`, 'm').exec(reply)?.[1]?.trim();
  const mode = field('Mode');
  if (mode === undefined) {
    const first = reply.trim().split('\n')[0] ?? '';
    // A member electing a leader answers srvr with this line: it runs, but serves no one yet.
    if (first === NOT_SERVING) return { ...t, ok: true, mode: 'looking', error: first };
    return { ...t, ok: false, error: first === '' ? 'no answer to srvr' : first };
  }
  const connections = field('Connections');
  const nodes = field('Node count');
  return {
    ...t,
    ok: true,
    mode,
    version: field('Zookeeper version'),
    zxid: field('Zxid'),
    ...(connections !== undefined ? { connections: Number(connections) } : {}),
    ...(nodes !== undefined ? { nodeCount: Number(nodes) } : {}),
  };
}

function describe(s: ServerStatus): string[] {
  const name = `${s.id === null ? '' : `server.${s.id} `}${s.host}:${s.port}`;
  if (s.mode === undefined || s.zxid === undefined) return [name, ...(s.mode === undefined ? [] : [`  Mode: ${s.mode}`]), `  ${s.error}`];
  return [
    name,
    `  Mode: ${s.mode}`,
    `  Version: ${s.version ?? 'unknown'}`,
    `  Zxid: ${s.zxid ?? 'unknown'}`,
    `  Connections: ${s.connections ?? 'unknown'}`,
    ...(s.nodeCount !== undefined ? [`  Node count: ${s.nodeCount}`] : []),
  ];
}

/** Runs `paddock status`; returns the exit status. */
export async function runStatus(argv: readonly string[]): Promise<number> {
  let targets: StatusTarget[] | null = null;
  let json = false;
  let timeoutMs = 5000;
  let source: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else if (a === '--json') json = true;
    else if ((a === '-server' || a === '--server') && v !== undefined) {
      const parsed = v.split('/')[0]!.split(',').map(parseHostPort);
      if (parsed.some((p) => p === null)) return usageError(`paddock status: bad -server '${v}' (want host:port[,host:port...])`);
      targets = parsed as StatusTarget[];
      i++;
    } else if ((a === '-timeout' || a === '--timeout') && v !== undefined && Number(v) > 0) {
      timeoutMs = Number(v);
      i++;
    } else if (!a.startsWith('-') && source === null && targets === null) {
      source = a;
      let text: string;
      try {
        text = readFileSync(a, 'utf8');
      } catch (e) {
        process.stderr.write(`paddock status: cannot read ${a}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        return 1;
      }
      targets = targetsFromZooCfg(text, readMyid(text, a));
    } else return usageError(`paddock status: unexpected argument '${a}'`);
  }
  targets ??= [{ id: null, host: 'localhost', port: 2181 }];
  const results = await Promise.all(targets.map((t) => serverStatus(t, timeoutMs)));
  const ensemble = ensembleSummary(results);
  if (json) process.stdout.write(JSON.stringify({ ...(source === null ? {} : { config: source }), ...(ensemble ?? {}), servers: results }) + '\n');
  else {
    if (source !== null) process.stdout.write(`Using config: ${source}\n`);
    for (const r of results) process.stdout.write(describe(r).join('\n') + '\n');
    if (ensemble !== null) {
      const unasked = results.filter((r) => r.unknown !== undefined).length;
      const notAsked = unasked === 0 ? '' : ` (${unasked} not asked: no client port in zoo.cfg)`;
      process.stdout.write(`Ensemble: ${ensemble.running} of ${results.length} servers running${notAsked}, leader ${ensemble.leader === null ? 'none' : `server.${ensemble.leader}`}\n`);
    }
  }
  // A server whose client address the zoo.cfg does not give was not asked: not a failure.
  return results.every((r) => r.ok || r.unknown !== undefined) ? 0 : 1;
}

/** This server's id from its dataDir/myid (relative to the zoo.cfg's folder), or null. */
function readMyid(text: string, cfgPath: string): string | null {
  const dataDir = /^\s*dataDir\s*=\s*(.+?)\s*$/m.exec(text)?.[1];
  if (dataDir === undefined) return null;
  try {
    return readFileSync(resolve(dirname(cfgPath), dataDir, 'myid'), 'utf8').trim();
  } catch {
    return null;
  }
}

/** For the servers of a zoo.cfg's server.N lines: how many run and which one leads. */
function ensembleSummary(results: readonly ServerStatus[]): { running: number; leader: string | null } | null {
  if (results.every((r) => r.id === null)) return null;
  return {
    running: results.filter((r) => r.mode !== undefined && r.mode !== NOT_RUNNING).length,
    leader: results.find((r) => r.mode === 'leader')?.id ?? null,
  };
}

function usageError(message: string): number {
  process.stderr.write(`${message}\n${USAGE}\n`);
  return 2;
}
