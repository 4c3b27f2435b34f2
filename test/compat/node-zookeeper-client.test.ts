/**
 * The npm client node-zookeeper-client (pure JS, ZooKeeper 3.4 protocol subset) runs one scenario
 * against Apache ZooKeeper and against the target: create in every mode it knows, get/set/remove
 * with versions, children, exists, one-shot watchers fired by a second session, multi
 * transactions (commit and failure), ACLs with digest auth, mkdirp/removeRecursive/listSubTreeBFS,
 * and ephemerals vanishing when their session closes. Results are recorded as a normalised
 * transcript that must equal ZooKeeper's.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { nodeZookeeperClientMissing, skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { compareWithZooKeeper, isSpecialOwner, Placeholders } from './transcript.js';

// Minimal typings of the untyped CommonJS package, for what this scenario uses.
type Cb<T extends unknown[]> = (err: NzkError | null, ...rest: T) => void;
interface NzkError extends Error {
  getName(): string;
  getCode(): number;
}
interface NzkEvent {
  getName(): string;
  getPath(): string;
}
interface NzkStat {
  czxid: Buffer;
  mzxid: Buffer;
  pzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
}
interface NzkId {
  scheme: string;
  id: string;
}
interface NzkAcl {
  permission: number;
  id: NzkId;
}
type Watcher = (event: NzkEvent) => void;
interface NzkTransaction {
  create(path: string, data?: Buffer, acls?: NzkAcl[], mode?: number): NzkTransaction;
  setData(path: string, data: Buffer, version?: number): NzkTransaction;
  check(path: string, version?: number): NzkTransaction;
  remove(path: string, version?: number): NzkTransaction;
  commit(cb: Cb<[Array<{ type: number; path?: string; stat?: NzkStat; err?: number }>]>): void;
}
interface NzkClient {
  connect(): void;
  close(): void;
  once(event: 'connected' | 'disconnected', fn: () => void): void;
  on(event: 'disconnected' | 'expired' | 'connected', fn: () => void): void;
  getSessionId(): Buffer;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(path: string, data: Buffer | null, acls: NzkAcl[], mode: number, cb: Cb<[string]>): void;
  getData(path: string, watcher: Watcher | null, cb: Cb<[Buffer | null, NzkStat]>): void;
  setData(path: string, data: Buffer | null, version: number, cb: Cb<[NzkStat]>): void;
  remove(path: string, version: number, cb: Cb<[]>): void;
  removeRecursive(path: string, version: number, cb: Cb<[]>): void;
  exists(path: string, watcher: Watcher | null, cb: Cb<[NzkStat | null]>): void;
  getChildren(path: string, watcher: Watcher | null, cb: Cb<[string[], NzkStat]>): void;
  getACL(path: string, cb: Cb<[NzkAcl[], NzkStat]>): void;
  setACL(path: string, acls: NzkAcl[], version: number, cb: Cb<[NzkStat]>): void;
  mkdirp(path: string, data: Buffer | null, acls: NzkAcl[], mode: number, cb: Cb<[string]>): void;
  listSubTreeBFS(path: string, cb: Cb<[string[]]>): void;
  transaction(): NzkTransaction;
}
interface NzkModule {
  createClient(connect: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): NzkClient;
  ACL: { new (permission: number, id: NzkId): NzkAcl; OPEN_ACL_UNSAFE: NzkAcl[]; READ_ACL_UNSAFE: NzkAcl[] };
  Id: new (scheme: string, id: string) => NzkId;
  Permission: { READ: number; WRITE: number; CREATE: number; DELETE: number; ADMIN: number; ALL: number };
  CreateMode: { PERSISTENT: number; EPHEMERAL: number; PERSISTENT_SEQUENTIAL: number; EPHEMERAL_SEQUENTIAL: number };
}

const WAIT_MS = 15_000;

function call<T extends unknown[]>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply within 15 s')), WAIT_MS);
    fn((err, ...rest) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(rest);
    });
  });
}

/** A queue of watch events with a timed take(), so the scenario waits on events, never on time. */
class EventQueue {
  private readonly items: string[] = [];
  private waiter: (() => void) | null = null;
  readonly watcher: Watcher = (e) => {
    this.items.push(`${e.getName()} ${e.getPath()}`);
    this.waiter?.();
  };

  async take(what: string): Promise<string> {
    if (this.items.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no watch event within ${WAIT_MS} ms: ${what}`)), WAIT_MS);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
    return this.items.shift()!;
  }

  pending(): number {
    return this.items.length;
  }
}

async function scenario(nzk: NzkModule, connectString: string): Promise<string[]> {
  const ph = new Placeholders();
  const lines: string[] = [];
  const hex = (b: Buffer): string => `0x${b.toString('hex').replace(/^0+(?=.)/, '')}`;
  const owner = (b: Buffer): string => (isSpecialOwner(hex(b)) ? hex(b) : ph.get('session', hex(b)));
  const stat = (s: NzkStat | null | undefined): string =>
    s
      ? `Stat(czxid=${ph.get('zxid', hex(s.czxid))} mzxid=${ph.get('zxid', hex(s.mzxid))} pzxid=${ph.get('zxid', hex(s.pzxid))} ` +
        `version=${s.version} cversion=${s.cversion} aversion=${s.aversion} owner=${owner(s.ephemeralOwner)} ` +
        `len=${s.dataLength} children=${s.numChildren} ctime==mtime:${s.ctime.equals(s.mtime)})`
      : String(s);
  const fmt = (v: unknown): string => {
    if (v === null || v === undefined) return String(v);
    if (Buffer.isBuffer(v)) return JSON.stringify(v.toString('utf8'));
    if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
    if (typeof v === 'object' && 'czxid' in v) return stat(v as NzkStat);
    if (typeof v === 'object' && 'permission' in v && 'id' in v) {
      const a = v as NzkAcl;
      return `ACL(${a.permission} ${a.id.scheme}:${a.id.id})`;
    }
    if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}: ${fmt(x)}`).join(', ')}}`;
    return JSON.stringify(v);
  };
  const record = async (label: string, op: () => Promise<unknown[]>): Promise<void> => {
    try {
      const r = await op();
      lines.push(`${label} -> ${r.map(fmt).join(' ')}`);
    } catch (err) {
      const e = err as Partial<NzkError>;
      if (typeof e.getName !== 'function') throw err;
      lines.push(`${label} !! ${e.getName()}`);
    }
  };
  const connectClient = async (): Promise<NzkClient> => {
    const c = nzk.createClient(connectString, { sessionTimeout: 10_000, spinDelay: 100, retries: 0 });
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within ${WAIT_MS} ms`)), WAIT_MS);
      c.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    c.connect();
    await connected;
    // Connection changes are not part of the scenario: record them so a drop explains what follows.
    for (const event of ['disconnected', 'expired', 'connected'] as const) {
      c.on(event, () => {
        if (!closing.has(c)) lines.push(`UNEXPECTED client event: ${event}`);
      });
    }
    return c;
  };
  const closing = new Set<NzkClient>();
  const closeClient = (c: NzkClient): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, WAIT_MS);
      c.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      closing.add(c);
      c.close();
    });

  const { CreateMode: M, ACL, Id, Permission } = nzk;
  const OPEN = ACL.OPEN_ACL_UNSAFE;
  const buf = (s: string): Buffer => Buffer.from(s);
  const a = await connectClient();
  const b = await connectClient();
  const clients = [a, b];
  try {
    lines.push('connected two sessions');
    // create modes and errors
    await record('create /nz', () => call((cb) => a.create('/nz', buf('root'), OPEN, M.PERSISTENT, cb)));
    await record('create /nz again', () => call((cb) => a.create('/nz', buf('x'), OPEN, M.PERSISTENT, cb)));
    await record('create ephemeral', () => call((cb) => a.create('/nz/eph', buf('e'), OPEN, M.EPHEMERAL, cb)));
    await record('create sequential', () => call((cb) => a.create('/nz/seq-', buf('1'), OPEN, M.PERSISTENT_SEQUENTIAL, cb)));
    await record('create sequential', () => call((cb) => a.create('/nz/seq-', buf('2'), OPEN, M.PERSISTENT_SEQUENTIAL, cb)));
    await record('create ephemeral sequential', () => call((cb) => a.create('/nz/eseq-', null, OPEN, M.EPHEMERAL_SEQUENTIAL, cb)));
    await record('create no data', () => call((cb) => a.create('/nz/empty', null, OPEN, M.PERSISTENT, cb)));
    await record('create under ephemeral', () => call((cb) => a.create('/nz/eph/kid', null, OPEN, M.PERSISTENT, cb)));
    await record('create without parent', () => call((cb) => a.create('/nz/none/kid', null, OPEN, M.PERSISTENT, cb)));
    await record('mkdirp', () => call((cb) => a.mkdirp('/nz/deep/er/path', buf('leaf'), OPEN, M.PERSISTENT, cb)));
    await record('mkdirp existing', () => call((cb) => a.mkdirp('/nz/deep/er', null, OPEN, M.PERSISTENT, cb)));
    // get / set / exists / children
    await record('getData', () => call((cb) => a.getData('/nz', null, cb)));
    await record('getData empty', () => call((cb) => a.getData('/nz/empty', null, cb)));
    await record('getData missing', () => call((cb) => a.getData('/nz/missing', null, cb)));
    await record('setData', () => call((cb) => a.setData('/nz', buf('v1'), -1, cb)));
    await record('setData wrong version', () => call((cb) => a.setData('/nz', buf('v2'), 5, cb)));
    await record('setData right version', () => call((cb) => a.setData('/nz', buf('v2'), 1, cb)));
    await record('setData missing', () => call((cb) => a.setData('/nz/missing', buf(''), -1, cb)));
    await record('exists', () => call((cb) => a.exists('/nz/eph', null, cb)));
    await record('exists from other session', () => call((cb) => b.exists('/nz/eph', null, cb)));
    await record('exists missing', () => call((cb) => a.exists('/nz/missing', null, cb)));
    await record('getChildren', async () => {
      const [children, s] = await call<[string[], NzkStat]>((cb) => a.getChildren('/nz', null, cb));
      return [[...children].sort(), s];
    });
    await record('getChildren missing', () => call((cb) => a.getChildren('/nz/missing', null, cb)));
    await record('listSubTreeBFS', async () => {
      const [paths] = await call<[string[]]>((cb) => a.listSubTreeBFS('/nz/deep', cb));
      return [[...paths].sort()];
    });
    // remove with versions
    await record('remove wrong version', () => call((cb) => a.remove('/nz/seq-0000000001', 3, cb)));
    await record('remove right version', () => call((cb) => a.remove('/nz/seq-0000000001', 0, cb)));
    await record('remove missing', () => call((cb) => a.remove('/nz/seq-0000000001', -1, cb)));
    await record('remove non-empty', () => call((cb) => a.remove('/nz/deep', -1, cb)));
    await record('removeRecursive', () => call((cb) => a.removeRecursive('/nz/deep', -1, cb)));
    await record('exists after removeRecursive', () => call((cb) => a.exists('/nz/deep', null, cb)));

    // watchers, fired by the other session while this one waits on the event
    const ev = new EventQueue();
    await record('getData with watcher', () => call((cb) => a.getData('/nz', ev.watcher, cb)));
    await record('other session sets', () => call((cb) => b.setData('/nz', buf('w'), -1, cb)));
    lines.push(`event ${await ev.take('data change')}`);
    await record('getChildren with watcher', async () => {
      const [children] = await call<[string[], NzkStat]>((cb) => a.getChildren('/nz', ev.watcher, cb));
      return [[...children].sort()];
    });
    await record('other session creates', () => call((cb) => b.create('/nz/bkid', null, OPEN, M.PERSISTENT, cb)));
    lines.push(`event ${await ev.take('children change')}`);
    await record('exists with watcher on missing', () => call((cb) => a.exists('/nz/later', ev.watcher, cb)));
    await record('other session creates watched', () => call((cb) => b.create('/nz/later', buf('l'), OPEN, M.PERSISTENT, cb)));
    lines.push(`event ${await ev.take('node created')}`);
    await record('exists with watcher', () => call((cb) => a.exists('/nz/later', ev.watcher, cb)));
    await record('other session removes watched', () => call((cb) => b.remove('/nz/later', -1, cb)));
    lines.push(`event ${await ev.take('node deleted')}`);

    // transactions
    await record('transaction commit', () =>
      call((cb) =>
        a
          .transaction()
          .create('/nz/tx', buf('t'))
          .create('/nz/tx/kid', buf('k'), OPEN, M.EPHEMERAL)
          .setData('/nz/tx', buf('t2'), 0)
          .check('/nz', 3)
          .remove('/nz/seq-0000000002', 0)
          .commit(cb),
      ),
    );
    await record('after commit', () => call((cb) => a.getData('/nz/tx', null, cb)));
    await record('transaction failing midway', () =>
      call((cb) => a.transaction().create('/nz/tx2').check('/nz', 42).remove('/nz/tx/kid').commit(cb)),
    );
    await record('rolled back create', () => call((cb) => a.exists('/nz/tx2', null, cb)));
    await record('rolled back remove', () => call((cb) => a.exists('/nz/tx/kid', null, cb)));
    await record('transaction failing first', () => call((cb) => a.transaction().create('/nz/tx').create('/nz/tx3').commit(cb)));

    // ACLs and digest auth
    const digest = (user: string, pw: string): string => `${user}:${createHash('sha1').update(`${user}:${pw}`).digest('base64')}`;
    const aliceAll = new ACL(Permission.ALL, new Id('digest', digest('alice', 'pw')));
    const bobRead = new ACL(Permission.READ, new Id('digest', digest('bob', 'pw')));
    await record('create with digest acl', () => call((cb) => a.create('/nz/secret', buf('s'), [aliceAll], M.PERSISTENT, cb)));
    await record('get without auth', () => call((cb) => a.getData('/nz/secret', null, cb)));
    await record('getACL without auth', () => call((cb) => a.getACL('/nz/secret', cb)));
    a.addAuthInfo('digest', buf('alice:pw'));
    await record('get as alice', () => call((cb) => a.getData('/nz/secret', null, cb)));
    await record('getACL as alice', () => call((cb) => a.getACL('/nz/secret', cb)));
    await record('setACL wrong version', () => call((cb) => a.setACL('/nz/secret', [aliceAll, bobRead], 4, cb)));
    await record('setACL', () => call((cb) => a.setACL('/nz/secret', [aliceAll, bobRead], 0, cb)));
    b.addAuthInfo('digest', buf('bob:pw'));
    await record('get as bob', () => call((cb) => b.getData('/nz/secret', null, cb)));
    await record('set as bob', () => call((cb) => b.setData('/nz/secret', buf('b'), -1, cb)));
    await record('create child as bob', () => call((cb) => b.create('/nz/secret/kid', null, OPEN, M.PERSISTENT, cb)));
    await record('read-only acl', () => call((cb) => a.create('/nz/ro', buf('r'), ACL.READ_ACL_UNSAFE, M.PERSISTENT, cb)));
    await record('write read-only', () => call((cb) => b.setData('/nz/ro', buf('x'), -1, cb)));
    await record('invalid digest id', () =>
      call((cb) => a.create('/nz/bad', null, [new ACL(Permission.ALL, new Id('digest', 'nocolon'))], M.PERSISTENT, cb)),
    );
    await record('unknown scheme', () => call((cb) => a.create('/nz/bad', null, [new ACL(Permission.ALL, new Id('nosuch', 'x'))], M.PERSISTENT, cb)));
    await record('auth scheme acl', () => call((cb) => a.create('/nz/authed', null, [new ACL(Permission.ALL, new Id('auth', ''))], M.PERSISTENT, cb)));
    await record('getACL auth scheme', () => call((cb) => a.getACL('/nz/authed', cb)));

    // ephemerals vanish when their session closes
    await record('ephemeral of b', () => call((cb) => b.create('/nz/beph', null, OPEN, M.EPHEMERAL, cb)));
    await record('exists with watcher on beph', () => call((cb) => a.exists('/nz/beph', ev.watcher, cb)));
    await closeClient(b);
    clients.splice(clients.indexOf(b), 1);
    lines.push(`event ${await ev.take('ephemeral deleted on close')}`);
    await record('children after close', async () => {
      const [children, s] = await call<[string[], NzkStat]>((cb) => a.getChildren('/nz', null, cb));
      return [[...children].sort(), s];
    });
    lines.push(`unexpected pending events: ${ev.pending()}`);
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- the transcript so far ends with:\n${lines.slice(-12).join('\n')}`;
    throw err;
  } finally {
    await Promise.all(clients.map(closeClient));
  }
  return lines;
}

test(
  'node-zookeeper-client scenario matches Apache ZooKeeper',
  { skip: skipUnless(zookeeperMissing(), nodeZookeeperClientMissing()), timeout: 120_000 },
  async () => {
    const nzk = createRequire(import.meta.url)('node-zookeeper-client') as NzkModule;
    await compareWithZooKeeper('node-zookeeper-client', (connectString) => scenario(nzk, connectString));
  },
);
