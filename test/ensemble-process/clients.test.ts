/**
 * Real ZooKeeper clients through a leader kill on a 3-server Paddock ensemble (processes):
 * zkCli (one long-lived ZooKeeperMain fed on stdin), the C client (cli_mt, same) and
 * node-zookeeper-client (its own reconnect) each connect with the full connect string, write and
 * read, go through kill -9 of the leader, and write and read again on the same session. Every
 * acknowledged write is then on both survivors, whose trees are equal node by node, and each
 * client's ephemeral node outlived the failover with its session. A second kill checks the
 * Paddock LeaderLatch: never two leaders at once, and each new term's fencing token above every
 * earlier term's.
 *
 * Every wait is on a client's output or an event, bounded; a command cut by the connection loss
 * is retried once the client reports it is connected again (a create that did apply before the
 * cut answers "exists" on the retry, and counts as acknowledged).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { LeaderLatch, type Leadership } from '../../src/recipes/index.js';
import { Interactive } from '../compat/proc.js';
import { makeProcessEnsemble, settledAmong, type ProcessEnsemble } from '../ensemble/processes.js';
import { assertSameTree, readTrees } from '../ensemble/writer.js';
import { CLI_MT, cliMtMissing, nodeZookeeperClientMissing, skipUnless, zkCliMissing } from '../support/clients.js';
import { ZK_CLASSPATH } from '../support/zookeeper.js';

// Under CI every client must be there (skipUnless throws); elsewhere a missing one is left out.
const missing = { zkCli: zkCliMissing(), cliMt: cliMtMissing(), nzk: nodeZookeeperClientMissing() };
for (const [name, why] of Object.entries(missing)) if (why) console.log(`# ${name} left out of the failover test: ${skipUnless(why)}`);

const SESSION_TIMEOUT_MS = 20_000;
/** Attempts per command across connection losses (each waits for the client to reconnect). */
const MAX_ATTEMPTS = 5;

/** What a real client reports: paths it created (acknowledged), its ephemeral node and its session. */
interface ClientRun {
  name: string;
  acked: string[];
  ephemeral: string;
  sessionId: bigint;
}

/** A shell command's output, and whether an earlier attempt was cut by a connection loss. */
interface Attempted {
  out: string;
  retried: boolean;
}

// ---- zkCli ----

/** One ZooKeeperMain process; commands end with `printwatches`, whose answer marks their end. */
class ZkCli {
  private readonly proc: Interactive;
  private offset = 0;

  constructor(connectString: string) {
    this.proc = new Interactive(
      'zkCli',
      '/usr/bin/java',
      ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx128m', '-cp', ZK_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain', '-timeout', String(SESSION_TIMEOUT_MS), '-server', connectString],
      { mergeStderr: true },
    );
  }

  get output(): string {
    return this.proc.output;
  }

  /** Whether the last connection state zkCli printed is SyncConnected. */
  connectedNow(): boolean {
    const states = [...this.proc.output.matchAll(/WatchedEvent state:(\w+) type:None/g)];
    return states.at(-1)?.[1] === 'SyncConnected';
  }

  async connected(ms = 30_000): Promise<void> {
    await this.proc.waitFor(() => this.connectedNow(), 'zkCli to be connected', ms);
  }

  async run(cmd: string): Promise<string> {
    const marker = 'printwatches is on\n';
    const start = this.offset;
    this.proc.write(`${cmd}\nprintwatches\n`);
    await this.proc.waitFor((o) => o.indexOf(marker, start) >= 0, `the output of '${cmd}'`, 30_000);
    const end = this.proc.output.indexOf(marker, start);
    this.offset = end + marker.length;
    return this.proc.output.slice(start, end);
  }

  /** Runs `cmd` until it is not cut by a connection loss; returns its last output and whether it was retried. */
  async retry(cmd: string): Promise<Attempted> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.run(cmd);
      if (!/ConnectionLoss/.test(out) || attempt === MAX_ATTEMPTS) return { out, retried: attempt > 1 };
      await this.connected();
    }
  }

  quit(): Promise<void> {
    return this.proc.quit(15_000);
  }

  kill(): void {
    this.proc.kill();
  }
}

// ---- cli_mt ----

/**
 * The C client shell: results come from its completion thread, on stderr, in reply order; a
 * `get` of a missing marker node after each command marks the end of its output.
 */
class CliMt {
  private readonly proc: Interactive;
  private offset = 0;
  private markers = 0;
  sessionId = 0n;

  constructor(connectString: string) {
    this.proc = new Interactive('cli_mt', '/bin/sh', ['-c', `exec "$0" -h "$1" 2>&1 >/dev/null`, CLI_MT, connectString]);
  }

  get output(): string {
    return this.proc.output;
  }

  connectedNow(): boolean {
    const states = [...this.proc.output.matchAll(/Watcher SESSION_EVENT state = (\w+)/g)];
    return states.at(-1)?.[1] === 'CONNECTED_STATE';
  }

  async connected(ms = 30_000): Promise<void> {
    await this.proc.waitFor(() => this.connectedNow(), 'cli_mt to be connected', ms);
    const id = /Got a new session id: 0x([0-9a-f]+)/.exec(this.proc.output);
    if (id) this.sessionId = BigInt(`0x${id[1]}`);
  }

  async run(cmd: string): Promise<string> {
    const marker = `/__clients_marker_${++this.markers}`;
    const done = new RegExp(`${marker}: rc = -?\\d+\\n`);
    const start = this.offset;
    this.proc.write(`${cmd}\nget ${marker}\n`);
    await this.proc.waitFor((o) => done.test(o.slice(start)), `the output of '${cmd}'`, 30_000);
    const m = done.exec(this.proc.output.slice(start))!;
    this.offset = start + m.index + m[0].length;
    return this.proc.output.slice(start, start + m.index);
  }

  /** Runs `cmd` until its completion is not ZCONNECTIONLOSS (-4); returns its last output and whether it was retried. */
  async retry(cmd: string): Promise<Attempted> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.run(cmd);
      if (!/rc = -4\b/.test(out) || attempt === MAX_ATTEMPTS) return { out, retried: attempt > 1 };
      await this.connected();
    }
  }

  quit(): Promise<void> {
    return this.proc.quit(10_000);
  }

  kill(): void {
    this.proc.kill();
  }
}

// ---- node-zookeeper-client ----

interface NzkError extends Error {
  getName(): string;
}
interface NzkClient {
  connect(): void;
  close(): void;
  on(event: 'connected' | 'disconnected' | 'expired', fn: () => void): void;
  getSessionId(): Buffer;
  getState(): { getName(): string };
  create(path: string, data: Buffer | null, acls: unknown[], mode: number, cb: (err: NzkError | null, path?: string) => void): void;
  getData(path: string, watcher: null, cb: (err: NzkError | null, data?: Buffer) => void): void;
}
interface NzkModule {
  createClient(connect: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): NzkClient;
  ACL: { OPEN_ACL_UNSAFE: unknown[] };
  CreateMode: { PERSISTENT: number; EPHEMERAL: number };
}

/** node-zookeeper-client reconnects by itself; calls cut by a connection loss are retried once it says 'connected'. */
class Nzk {
  private readonly nzk = createRequire(import.meta.url)('node-zookeeper-client') as NzkModule;
  readonly client: NzkClient;
  expired = false;
  disconnects = 0;
  private readonly waiting = new Set<() => void>();
  private connectedState = false;

  constructor(connectString: string) {
    this.client = this.nzk.createClient(connectString, { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: 50, retries: 0 });
    this.client.on('connected', () => {
      this.connectedState = true;
      for (const w of [...this.waiting]) w();
    });
    this.client.on('disconnected', () => {
      this.connectedState = false;
      this.disconnects++;
    });
    this.client.on('expired', () => (this.expired = true));
    this.client.connect();
  }

  get sessionId(): bigint {
    return this.client.getSessionId().readBigInt64BE(0);
  }

  connected(ms = 30_000): Promise<void> {
    if (this.connectedState) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.waiting.delete(done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.delete(done);
        reject(new Error(`node-zookeeper-client not connected within ${ms} ms`));
      }, ms);
      this.waiting.add(done);
    });
  }

  private call<T>(op: (cb: (err: NzkError | null, value?: T) => void) => void): Promise<{ err: string | null; value?: T }> {
    return new Promise((resolve) => op((err, value) => resolve({ err: err ? err.getName() : null, value })));
  }

  /** Creates `path`; true when acknowledged (also as NODE_EXISTS on a retry after a cut). */
  async create(path: string, data: string, ephemeral = false): Promise<boolean> {
    const mode = ephemeral ? this.nzk.CreateMode.EPHEMERAL : this.nzk.CreateMode.PERSISTENT;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const r = await this.call<string>((cb) => this.client.create(path, Buffer.from(data), this.nzk.ACL.OPEN_ACL_UNSAFE, mode, cb));
      if (r.err === null || (r.err === 'NODE_EXISTS' && attempt > 1)) return true;
      if (r.err !== 'CONNECTION_LOSS') throw new Error(`node-zookeeper-client create ${path}: ${r.err}`);
      await this.connected();
    }
    return false;
  }

  async get(path: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.call<Buffer>((cb) => this.client.getData(path, null, cb));
      if (r.err === null) return r.value?.toString() ?? '';
      if (r.err !== 'CONNECTION_LOSS' || attempt === MAX_ATTEMPTS) throw new Error(`node-zookeeper-client get ${path}: ${r.err}`);
      await this.connected();
    }
  }
}

// ---- the scenario ----

/** A create through a shell answered "created" or, on a retry, "exists" (zkCli, then cli_mt's wording): acknowledged. */
function createdByShell({ out, retried }: Attempted, path: string): boolean {
  if (out.includes(`Created ${path}\n`) || out.includes(`name = ${path}\n`)) return true;
  return retried && /Node already exists|rc = -110\b/.test(out);
}

describe('real clients through a leader kill on a Paddock ensemble (processes)', { timeout: 150_000 }, () => {
  let e: ProcessEnsemble;
  before(async () => {
    // Sessions of 20 s outlive the followers' detection (syncLimit 10 x 200 ms), the election and the reconnect.
    e = await makeProcessEnsemble(3, 200, ['maxSessionTimeout=30000']);
    for (const m of e.members) e.start(m.id);
    await e.waitFor('settled', 60_000, () => settledAmong(e.members));
    const zk = await connect(e.connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
    await zk.create('/clients', '');
    await zk.close();
  });
  after(() => e?.close());

  it('zkCli, cli_mt and node-zookeeper-client keep their sessions and writes across kill -9 of the leader', async (t) => {
    const zkCli = missing.zkCli ? null : new ZkCli(e.connectString);
    const cliMt = missing.cliMt ? null : new CliMt(e.connectString);
    const nzk = missing.nzk ? null : new Nzk(e.connectString);
    t.after(() => {
      zkCli?.kill();
      cliMt?.kill();
      nzk?.client.close();
    });
    const runs: ClientRun[] = [];
    await Promise.all([zkCli?.connected(), cliMt?.connected(), nzk?.connected()]);

    // Before the kill: a persistent node and an ephemeral one each, read back.
    if (zkCli) {
      const run: ClientRun = { name: 'zkCli', acked: [], ephemeral: '/clients/zkcli-eph', sessionId: 0n };
      for (const [cmd, path] of [['create /clients/zkcli-1 one', '/clients/zkcli-1'], ['create -e /clients/zkcli-eph e', '/clients/zkcli-eph']] as const) {
        const out = await zkCli.retry(cmd);
        assert.ok(createdByShell(out, path), `zkCli ${cmd}: ${out.out}`);
        run.acked.push(path);
      }
      assert.match((await zkCli.retry('get /clients/zkcli-1')).out, /^one$/m);
      const owner = /ephemeralOwner = (0x[0-9a-f]+)/.exec((await zkCli.retry('stat /clients/zkcli-eph')).out);
      assert.ok(owner, 'zkCli reads its ephemeral');
      run.sessionId = BigInt(owner[1]!);
      runs.push(run);
    }
    if (cliMt) {
      const run: ClientRun = { name: 'cli_mt', acked: [], ephemeral: '/clients/cc-eph', sessionId: cliMt.sessionId };
      for (const [cmd, path] of [['create /clients/cc-1', '/clients/cc-1'], ['create +e /clients/cc-eph', '/clients/cc-eph']] as const) {
        const out = await cliMt.retry(cmd);
        assert.ok(createdByShell(out, path), `cli_mt ${cmd}: ${out.out}`);
        run.acked.push(path);
      }
      assert.match((await cliMt.retry('get /clients/cc-1')).out, /rc = 0\b/);
      runs.push(run);
    }
    if (nzk) {
      const run: ClientRun = { name: 'node-zookeeper-client', acked: [], ephemeral: '/clients/nzk-eph', sessionId: nzk.sessionId };
      assert.ok(await nzk.create('/clients/nzk-1', 'one'));
      assert.ok(await nzk.create('/clients/nzk-eph', 'e', true));
      run.acked.push('/clients/nzk-1', '/clients/nzk-eph');
      assert.equal(await nzk.get('/clients/nzk-1'), 'one');
      runs.push(run);
    }

    const leader = e.members.find((m) => m.mode === 'leader')!;
    const survivors = e.members.filter((m) => m !== leader);
    const killedAt = Date.now();
    await e.kill(leader.id);
    await e.waitFor('a new leader', 30_000, () => settledAmong(survivors));
    t.diagnostic(`leader ${leader.id} killed; ${survivors.find((m) => m.mode === 'leader')!.id} leads after ${Date.now() - killedAt} ms`);

    // After the kill, on the same sessions: more writes, and reads of what was written before.
    await Promise.all([
      (async () => {
        if (!zkCli) return;
        const run = runs.find((r) => r.name === 'zkCli')!;
        await zkCli.connected();
        for (let i = 2; i <= 4; i++) {
          const out = await zkCli.retry(`create /clients/zkcli-${i} v${i}`);
          assert.ok(createdByShell(out, `/clients/zkcli-${i}`), `zkCli create after the kill: ${out.out}`);
          run.acked.push(`/clients/zkcli-${i}`);
        }
        assert.match((await zkCli.retry('get /clients/zkcli-1')).out, /^one$/m);
        assert.match((await zkCli.retry('stat /clients/zkcli-eph')).out, new RegExp(`ephemeralOwner = 0x${run.sessionId.toString(16)}`));
        assert.doesNotMatch(zkCli.output, /state:Expired/, 'zkCli kept its session');
      })(),
      (async () => {
        if (!cliMt) return;
        const run = runs.find((r) => r.name === 'cli_mt')!;
        await cliMt.connected();
        for (let i = 2; i <= 4; i++) {
          const out = await cliMt.retry(`create /clients/cc-${i}`);
          assert.ok(createdByShell(out, `/clients/cc-${i}`), `cli_mt create after the kill: ${out.out}`);
          run.acked.push(`/clients/cc-${i}`);
        }
        assert.match((await cliMt.retry('get /clients/cc-eph')).out, /rc = 0\b/);
        assert.doesNotMatch(cliMt.output, /EXPIRED_SESSION_STATE|Session expired/, 'cli_mt kept its session');
        assert.equal(cliMt.sessionId, run.sessionId, 'cli_mt kept its session id');
      })(),
      (async () => {
        if (!nzk) return;
        const run = runs.find((r) => r.name === 'node-zookeeper-client')!;
        for (let i = 2; i <= 4; i++) {
          assert.ok(await nzk.create(`/clients/nzk-${i}`, `v${i}`), `node-zookeeper-client create ${i} after the kill`);
          run.acked.push(`/clients/nzk-${i}`);
        }
        assert.equal(await nzk.get('/clients/nzk-1'), 'one');
        assert.equal(nzk.expired, false, 'node-zookeeper-client kept its session');
      })(),
    ]);

    // Each survivor, read alone after a sync: every acknowledged write, each ephemeral with its
    // owner's session, and the same tree node by node.
    const trees = await readTrees(survivors.map((m) => m.clientPort), SESSION_TIMEOUT_MS);
    for (const [i, tree] of trees.entries()) {
      for (const run of runs) {
        assert.deepEqual(run.acked.filter((p) => !tree.has(p)), [], `${run.name}: acknowledged writes missing on server ${survivors[i]!.id}`);
        assert.equal(tree.get(run.ephemeral)?.stat.ephemeralOwner, run.sessionId, `${run.name}: its ephemeral lives with its session on server ${survivors[i]!.id}`);
      }
    }
    assertSameTree(trees[0]!, trees[1]!, `servers ${survivors[0]!.id} and ${survivors[1]!.id}`);
    t.diagnostic(`${runs.map((r) => `${r.name}: ${r.acked.length} writes`).join(', ')}; ${trees[0]!.size} nodes equal on both survivors`);

    // Each client went through the failover: it lost its connection and reconnected.
    if (zkCli) assert.match(zkCli.output, /state:Disconnected[\s\S]*state:SyncConnected/, 'zkCli reconnected');
    if (cliMt) assert.match(cliMt.output, /state = CONNECTING_STATE[\s\S]*state = CONNECTED_STATE/, 'cli_mt reconnected');
    if (nzk) assert.ok(nzk.disconnects > 0, 'node-zookeeper-client reconnected');
    await Promise.all([zkCli?.quit(), cliMt?.quit()]);
    nzk?.client.close();
  });

  it('LeaderLatch: never two leaders, and fencing tokens grow, across kill -9 of the leader', async (t) => {
    for (const m of e.members) if (m.child === null) e.start(m.id);
    await e.waitFor('three members settled', 60_000, () => e.members.every((m) => m.child !== null) && settledAmong(e.members));
    const clients: ZooKeeperClient[] = [];
    const latches: LeaderLatch[] = [];
    t.after(async () => {
      for (const l of latches) await l.close().catch(() => undefined);
      for (const c of clients) await c.close();
    });
    const terms: { id: string; token: bigint; path: string }[] = [];
    const leading = new Set<string>();
    const violations: string[] = [];
    const changed = new Set<() => void>();
    // Each participant starts on a different server, so one of them loses its server in the kill.
    for (const [i, m] of e.members.entries()) {
      const others = e.members.filter((x) => x !== m).map((x) => `127.0.0.1:${x.clientPort}`);
      const zk = await connect([`127.0.0.1:${m.clientPort}`, ...others].join(','), { sessionTimeoutMs: SESSION_TIMEOUT_MS, shuffleHosts: false, reconnectBackoff: { initialMs: 20, maxMs: 200 } });
      clients.push(zk);
      const latch = new LeaderLatch(zk, '/clients/election', { id: `p${i}` });
      latch.onChange((l: Leadership | null) => {
        if (l) {
          if (leading.size > 0) violations.push(`${latch.id} leads while ${[...leading].join(',')} still lead`);
          const last = terms.at(-1);
          if (last && (l.fencingToken < last.token || (l.fencingToken === last.token && l.path !== last.path))) violations.push(`${latch.id}'s token ${l.fencingToken} after ${last.token}`);
          leading.add(latch.id);
          terms.push({ id: latch.id, token: l.fencingToken, path: l.path });
        } else leading.delete(latch.id);
        for (const c of [...changed]) c();
      });
      latches.push(latch);
      latch.start();
    }
    const waitTerms = (n: number, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (terms.length < n || leading.size !== 1) return;
          changed.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          changed.delete(check);
          reject(new Error(`${what}: ${terms.length} terms, leading ${[...leading].join(',') || 'nobody'}`));
        }, 40_000);
        changed.add(check);
        check();
      });
    await waitTerms(1, 'a first leader');

    const leader = e.members.find((m) => m.mode === 'leader')!;
    await e.kill(leader.id);
    await e.waitFor('a new leader', 30_000, () => settledAmong(e.members.filter((m) => m !== leader)));
    // The connection loss suspends the term; the leader resumes (same node, same token) or another takes over.
    await waitTerms(2, 'a leader after the server kill');

    // Hand over twice on the surviving ensemble: each new leader has a larger token.
    for (let round = 0; round < 2; round++) {
      const current = latches.find((l) => l.hasLeadership)!;
      const count = terms.length;
      await current.close();
      await waitTerms(count + 1, `a leader after ${current.id} left`);
    }
    assert.deepEqual(violations, []);
    const tokens = terms.map((x) => x.token);
    assert.ok(tokens.at(-1)! > tokens[0]!, 'the last term has a larger token than the first');
    t.diagnostic(`terms: ${terms.map((x) => `${x.id}@${x.token}`).join(' ')}`);
  });
});
