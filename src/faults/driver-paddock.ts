/**
 * A client driver process: many ZooKeeper sessions through the Paddock client, driven by JSON
 * lines on stdin (one request each), answered by JSON lines on stdout. The harness runs it
 * inside the clients' network namespace; the kazoo driver (kazoo_driver.py) speaks the same
 * protocol. Each request carries an id; replies may come back in any order.
 */
import { createHash } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import {
  BadVersionError,
  ConnectionLossError,
  KeeperError,
  NoNodeError,
  NodeExistsError,
  RequestTimeoutError,
  SessionExpiredError,
  connect,
  type ZooKeeperClient,
} from '../client/index.js';
import { Mutex, type LockHandle } from '../recipes/index.js';
import type { DriverReply, DriverRequest } from './protocol.js';

interface Session {
  zk: ZooKeeperClient;
  lock: LockHandle | null;
}

const sessions = new Map<number, Session>();

function write(reply: DriverReply): void {
  process.stdout.write(JSON.stringify(reply) + '\n');
}

function session(client: number): Session {
  const s = sessions.get(client);
  if (!s) throw new Error(`client ${client} is not connected`);
  return s;
}

function context(s: Session): Partial<DriverReply> {
  const host = s.zk.currentHost;
  return {
    session: s.zk.sessionId === null ? null : s.zk.sessionId.toString(16),
    lastZxid: s.zk.lastZxid.toString(),
    ...(host ? { server: `${host.host}:${host.port}` } : {}),
  };
}

/** ok/fail/info from an error: definite refusals fail, anything that may have happened is info. */
function classify(err: unknown): Pick<DriverReply, 'outcome' | 'error'> {
  if (err instanceof BadVersionError || err instanceof NoNodeError || err instanceof NodeExistsError) return { outcome: 'fail', error: err.codeName };
  if (err instanceof ConnectionLossError || err instanceof RequestTimeoutError || err instanceof SessionExpiredError) return { outcome: 'info', error: err.codeName };
  if (err instanceof KeeperError) return { outcome: 'info', error: err.codeName };
  return { outcome: 'info', error: (err as Error).message ?? String(err) };
}

async function handle(req: DriverRequest): Promise<DriverReply> {
  const t = { timeoutMs: req.timeoutMs ?? 5000 };
  switch (req.op) {
    case 'connect': {
      const zk = await connect(req.connect as string, {
        sessionTimeoutMs: req.sessionTimeoutMs ?? 10_000,
        initialConnectTimeoutMs: req.timeoutMs ?? 30_000,
        reconnectBackoff: { initialMs: 50, maxMs: 500 },
      });
      const s: Session = { zk, lock: null };
      sessions.set(req.client as number, s);
      return { id: req.id, outcome: 'ok', ...context(s) };
    }
    case 'close': {
      const s = sessions.get(req.client as number);
      sessions.delete(req.client as number);
      if (s) await Promise.race([s.zk.close(), new Promise((r) => setTimeout(r, t.timeoutMs))]);
      return { id: req.id, outcome: 'ok' };
    }
    case 'fourlw':
      return { id: req.id, outcome: 'ok', text: await fourLetterWord(req.host as string, req.port as number, req.word as string, t.timeoutMs) };
    case 'dump':
      return { id: req.id, outcome: 'ok', tree: await dumpTree(req.connect as string, t.timeoutMs) };
    default:
      return clientOp(req, session(req.client as number), t);
  }
}

async function clientOp(req: DriverRequest, s: Session, t: { timeoutMs: number }): Promise<DriverReply> {
  const zk = s.zk;
  const key = req.key as string;
  const base = { id: req.id };
  switch (req.op) {
    case 'ensure': {
      for (const [path, value] of req.paths ?? []) {
        try {
          await zk.create(path, value, t);
        } catch (err) {
          if (!(err instanceof NodeExistsError)) throw err;
        }
      }
      return { ...base, outcome: 'ok', ...context(s) };
    }
    case 'write': {
      const stat = await zk.setData(key, req.value as string, t);
      return { ...base, outcome: 'ok', version: stat.version, mzxid: stat.mzxid.toString(), ...context(s) };
    }
    case 'cas': {
      const stat = await zk.setData(key, req.value as string, { ...t, version: req.expectedVersion as number });
      return { ...base, outcome: 'ok', version: stat.version, mzxid: stat.mzxid.toString(), ...context(s) };
    }
    case 'sync-read':
    case 'read': {
      if (req.op === 'sync-read') await zk.sync(key, t);
      const { data, stat } = await zk.getData(key, t);
      return { ...base, outcome: 'ok', readValue: data.toString(), version: stat.version, mzxid: stat.mzxid.toString(), ...context(s) };
    }
    case 'create-seq': {
      const created = await zk.create(`${key}/n-`, '', { ...t, mode: 'persistentSequential' });
      return { ...base, outcome: 'ok', created, ...context(s) };
    }
    case 'create-eph': {
      const created = await zk.create(`${key}/${req.name as string}`, '', { ...t, mode: 'ephemeral' });
      return { ...base, outcome: 'ok', created, ...context(s) };
    }
    case 'list':
      await zk.sync(key, t);
      return { ...base, outcome: 'ok', children: await zk.getChildren(key, t), ...context(s) };
    case 'list-eph': {
      await zk.sync(key, t);
      const owners: Record<string, string> = {};
      for (const name of await zk.getChildren(key, t)) {
        const stat = await zk.exists(`${key}/${name}`, t);
        if (stat) owners[name] = stat.ephemeralOwner.toString(16);
      }
      return { ...base, outcome: 'ok', owners, ...context(s) };
    }
    case 'incr':
      return increment(zk, key, t, s);
    case 'lock': {
      s.lock = await new Mutex(zk, key).acquire(t);
      return { ...base, outcome: 'ok', token: s.lock.fencingToken.toString(), ...context(s) };
    }
    case 'fenced-write':
      return fencedWrite(req, s, t);
    case 'unlock': {
      const held = s.lock;
      s.lock = null;
      if (held) await held.release();
      return { ...base, outcome: 'ok', ...context(s) };
    }
    default:
      return { ...base, outcome: 'fail', error: `unknown op ${String(req.op)}` };
  }
}

/** A counter increment: read, then setData with that version, retried a bounded number of times on a race. */
async function increment(zk: ZooKeeperClient, key: string, t: { timeoutMs: number }, s: Session): Promise<DriverReply> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { data, stat } = await zk.getData(key, t);
    try {
      const next = await zk.setData(key, String(Number(data.toString() || '0') + 1), { ...t, version: stat.version });
      return { id: 0, outcome: 'ok', version: next.version, mzxid: next.mzxid.toString(), ...context(s) };
    } catch (err) {
      if (!(err instanceof BadVersionError)) throw err;
    }
  }
  return { id: 0, outcome: 'fail', error: 'too many races' };
}

/** Write the holder's token to the resource unless a newer token is already there (fencing), with CAS. */
async function fencedWrite(req: DriverRequest, s: Session, t: { timeoutMs: number }): Promise<DriverReply> {
  const { data, stat } = await s.zk.getData(req.key as string, t);
  const stored = BigInt(data.toString() || '0');
  if (stored > BigInt(req.token as string)) return { id: req.id, outcome: 'fail', error: 'FENCED', ...context(s) };
  const next = await s.zk.setData(req.key as string, req.token as string, { ...t, version: stat.version });
  return { id: req.id, outcome: 'ok', version: next.version, mzxid: next.mzxid.toString(), ...context(s) };
}

function fourLetterWord(host: string, port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port }, () => sock.write(word));
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no reply to ${word} from ${host}:${port}`)));
    let out = '';
    sock.on('data', (d: Buffer) => (out += d.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

/** Every node but /zookeeper, as path -> digest of data, version, ephemeral owner and children count. */
async function dumpTree(connectString: string, timeoutMs: number): Promise<Record<string, string>> {
  const zk = await connect(connectString, { initialConnectTimeoutMs: timeoutMs, shuffleHosts: false });
  try {
    await zk.sync('/', { timeoutMs });
    const out: Record<string, string> = {};
    const stack = ['/'];
    // Bounded: a fault run makes at most tens of thousands of nodes.
    while (stack.length > 0 && Object.keys(out).length < 200_000) {
      const path = stack.pop() as string;
      if (path === '/zookeeper') continue;
      const { data, stat } = await zk.getData(path, { timeoutMs });
      const digest = createHash('sha1').update(data).digest('hex').slice(0, 12);
      out[path] = `${digest}/v${stat.version}/o${stat.ephemeralOwner.toString(16)}/c${stat.numChildren}`;
      for (const child of await zk.getChildren(path, { timeoutMs })) stack.push(path === '/' ? `/${child}` : `${path}/${child}`);
    }
    return out;
  } finally {
    await zk.close();
  }
}

function main(): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let req: DriverRequest;
    try {
      req = JSON.parse(line) as DriverRequest;
    } catch {
      write({ id: -1, outcome: 'fail', error: `bad request line: ${line.slice(0, 100)}` });
      return;
    }
    handle(req).then(
      (reply) => write({ ...reply, id: req.id }),
      (err: unknown) => {
        const s = sessions.get(req.client as number);
        write({ id: req.id, ...classify(err), ...(s ? context(s) : {}) });
      },
    );
  });
  // The harness closing stdin is the end: close every session so ephemerals go at once.
  lines.on('close', () => {
    void Promise.allSettled([...sessions.values()].map((s) => s.zk.close())).then(() => process.exit(0));
  });
}

main();
