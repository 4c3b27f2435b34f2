/**
 * One fault run: build the network, start the servers, run the workloads through real client
 * drivers while the nemesis applies the seeded schedule, heal, read the final state, check, and
 * write the report. Every loop is bounded in count and time, and everything the run created
 * (namespaces, processes, mounts, directories) is removed at the end, on error, and on SIGINT or
 * SIGTERM.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '../lib/prng.js';
import { checkRun, type FinalState, type Verdict } from './check.js';
import { Cluster, kindsOf } from './cluster.js';
import type { FaultWindow, History, Op, OpKind } from './history.js';
import { NAME_PREFIX, cleanupLeftovers, createNetnsFabric, loopbackFabric, netnsUnavailable, type Fabric } from './netns.js';
import { Driver, type DriverReply, type DriverRequest } from './protocol.js';
import { renderReport, summarize, type Summary } from './report.js';
import { PARTITIONS, describeStep, grudge, makeSchedule, type NemesisName, type Step } from './schedule.js';

export const WORKLOADS = ['register', 'sequential', 'counter', 'ephemeral', 'mutex'] as const;
export type Workload = (typeof WORKLOADS)[number];
export type ClientKind = 'paddock' | 'kazoo';

export interface RunOptions {
  /** `zookeeper`, `paddock` (every server), or `mixed:zk,zk,paddock` (one kind per server). */
  target: string;
  servers: number;
  seed: number;
  /** Length of the faulty phase; a healed phase and the final checks follow. */
  durationMs: number;
  nemeses: NemesisName[];
  workloads: Workload[];
  clients: ClientKind[];
  /** Logical clients (sessions) running workloads. */
  clientCount: number;
  outDir: string;
  /** Run on loopback even where namespaces are available. */
  loopback: boolean;
  /** Unsafe on purpose, to prove the checkers catch real loss. */
  forceSync: boolean;
  wipeOnRestart: boolean;
  opTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Upper bound of the pause between one client's ops. */
  opDelayMs: number;
  maxOpsPerClient: number;
  /** Faults per schedule step: length range. */
  faultMs: [number, number];
  gapMs: [number, number];
  log: (line: string) => void;
}

export interface RunResult {
  verdict: Verdict;
  summary: Summary;
  outDir: string;
  mode: Fabric['mode'];
  notes: string[];
}

const ROOT = '/faults';
const REGISTERS = [`${ROOT}/r0`, `${ROOT}/r1`, `${ROOT}/r2`];
const SEQ = `${ROOT}/seq`;
const COUNTER = `${ROOT}/counter`;
const EPH = `${ROOT}/eph`;
const MUTEX = `${ROOT}/mutex`;
const RESOURCE = `${ROOT}/resource`;
const CONTROL = 0;
/** The fresh session that reads the final state. */
const FINAL_READER = 1_000_000;

const PADDOCK_DRIVER = fileURLToPath(new URL('./driver-paddock.js', import.meta.url));
const KAZOO_DRIVER = fileURLToPath(new URL('../../../src/faults/kazoo_driver.py', import.meta.url));
export const PYTHON = '/usr/bin/python3';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Everything a run owns, so one function can remove it from any exit path. */
class Resources {
  fabric: Fabric | null = null;
  cluster: Cluster | null = null;
  drivers: Driver[] = [];
  workDir: string | null = null;
  private removed = false;

  destroySync(): void {
    if (this.removed) return;
    this.removed = true;
    for (const d of this.drivers) d.killSync();
    this.cluster?.destroySync();
    this.fabric?.destroy();
    if (this.workDir) rmSync(this.workDir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    if (this.removed) return;
    await Promise.allSettled(this.drivers.map((d) => d.stop(5000)));
    await this.cluster?.destroy();
    this.destroySync();
  }
}

export async function runFaults(options: RunOptions): Promise<RunResult> {
  const res = new Resources();
  const onSignal = (sig: NodeJS.Signals): void => {
    options.log(`${sig}: removing namespaces, processes and files`);
    res.destroySync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const onExit = (): void => res.destroySync();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  try {
    return await run(options, res);
  } finally {
    await res.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

/** Namespaces or loopback, and the nemeses that can run there (with notes saying what was dropped and why). */
function chooseNetwork(o: RunOptions, notes: string[]): { unavailable: string | null; nemeses: NemesisName[] } {
  const unavailable = o.loopback ? 'loopback requested' : netnsUnavailable();
  let nemeses = o.nemeses;
  if (unavailable !== null) {
    const dropped = nemeses.filter((n) => PARTITIONS.includes(n) || n === 'disk-full');
    if (dropped.length > 0) notes.push(`network namespaces unavailable (${unavailable}): running on loopback without ${dropped.join(', ')}`);
    else notes.push(`running on loopback (${unavailable})`);
    nemeses = nemeses.filter((n) => !dropped.includes(n));
  }
  if (o.servers === 1) nemeses = nemeses.filter((n) => !PARTITIONS.includes(n));
  return { unavailable, nemeses };
}

async function run(o: RunOptions, res: Resources): Promise<RunResult> {
  const notes: string[] = [];
  for (const r of cleanupLeftovers()) notes.push(`removed a leftover ${r}`);
  const { unavailable, nemeses } = chooseNetwork(o, notes);
  for (const n of notes) o.log(n);

  res.workDir = mkdtempSync(join(tmpdir(), `${NAME_PREFIX}${process.pid}-`));
  res.fabric = unavailable === null ? createNetnsFabric(o.servers) : loopbackFabric(unavailable, []);
  const fabric = res.fabric;
  o.log(`network: ${fabric.mode}${fabric.mode === 'netns' ? ` (namespaces ${NAME_PREFIX}${process.pid}-*, 10.77.0.0/24 inside them only)` : ''}`);
  const cluster = await Cluster.create({
    kinds: kindsOf(o.target, o.servers),
    workDir: res.workDir,
    fabric,
    tickTimeMs: 1000,
    diskMiB: nemeses.includes('disk-full') ? 48 : null,
    forceSync: o.forceSync,
    wipeOnRestart: o.wipeOnRestart,
  });
  res.cluster = cluster;
  for (const s of cluster.servers) cluster.start(s.id);

  const control = spawnDriver('control', 'paddock', fabric);
  res.drivers.push(control);
  await waitServing(control, cluster, 120_000, o.log);
  o.log(`${o.servers} server(s) (${o.target}) serving at ${cluster.connectString()}`);

  const history: History = { ops: [], faults: [], startedAt: Date.now() };
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const recorder = new Recorder(history, now);

  await setupTree(control, cluster, o);
  const workers = await startWorkers(o, res, recorder, cluster.connectString());

  const schedule = makeSchedule({ seed: o.seed, durationMs: o.durationMs, servers: o.servers, nemeses, faultMs: o.faultMs, gapMs: o.gapMs });
  // Clients run through the faults and 5 s past healing; the hard cap bounds a run whose healing hangs.
  let healedAt = Infinity;
  let abandoned = false;
  const hardEnd = o.durationMs + 180_000;
  const load = Promise.all(workers.map((w) => w.loop(() => !abandoned && now() < Math.min(healedAt + 5000, hardEnd))));
  const nemesis = new Nemesis(cluster, fabric, control, history, now, new Prng(o.seed ^ 0x5eed), o.log);
  try {
    await nemesis.run(schedule);
    await nemesis.healAll();
    await waitServing(control, cluster, 120_000, o.log);
  } catch (err) {
    // The run fails; stop the clients rather than let them spin against a torn-down cluster.
    abandoned = true;
    throw err;
  }
  healedAt = now();
  o.log(`t=${(healedAt / 1000).toFixed(1)}s all servers serving; clients go on for 5 s on the healed cluster`);
  await load;

  const final = await readFinal(control, workers, cluster, recorder, o);
  const verdict = checkRun(history, final);
  const summary = summarize(history, verdict, { target: o.target, servers: o.servers, seed: o.seed, mode: fabric.mode, notes, schedule: schedule.map(describeStep) });
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'history.json'), JSON.stringify(history));
  writeFileSync(join(o.outDir, 'final.json'), JSON.stringify(final, null, 1));
  writeFileSync(join(o.outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeFileSync(join(o.outDir, 'report.html'), renderReport(history, summary));
  return { verdict, summary, outDir: o.outDir, mode: fabric.mode, notes };
}

/** The control session creates the workloads' nodes; registers start at ('0', version 0). */
async function setupTree(control: Driver, cluster: Cluster, o: RunOptions): Promise<void> {
  await expectOk(control.call({ op: 'connect', client: CONTROL, connect: cluster.connectString(), sessionTimeoutMs: o.sessionTimeoutMs, timeoutMs: 60_000 }), 'control connect');
  const paths: [string, string][] = [[ROOT, ''], ...REGISTERS.map((r): [string, string] => [r, '0']), [SEQ, ''], [COUNTER, '0'], [EPH, '']];
  for (const kind of ['paddock', 'kazoo']) paths.push([`${MUTEX}-${kind}`, ''], [`${RESOURCE}-${kind}`, '0']);
  await expectOk(control.call({ op: 'ensure', client: CONTROL, paths, timeoutMs: 30_000 }, 60_000), 'setup');
}

/** One driver process per client kind; logical clients take the kinds and the workloads in turn. */
async function startWorkers(o: RunOptions, res: Resources, recorder: Recorder, connectString: string): Promise<Worker[]> {
  const drivers = new Map<ClientKind, Driver>();
  for (const kind of new Set(o.clients)) {
    const d = spawnDriver(kind, kind, res.fabric as Fabric);
    drivers.set(kind, d);
    res.drivers.push(d);
  }
  const workers: Worker[] = [];
  for (let i = 1; i <= o.clientCount; i++) {
    const kind = o.clients[(i - 1) % o.clients.length] as ClientKind;
    const workload = o.workloads[(i - 1) % o.workloads.length] as Workload;
    workers.push(new Worker(i, kind, workload, drivers.get(kind) as Driver, recorder, o, connectString));
    recorder.history.clients = { ...recorder.history.clients, [i]: `${kind} ${workload}` };
  }
  await Promise.all(workers.map((w) => w.connect()));
  o.log(`${workers.length} clients connected (${o.clients.join(', ')}); workloads ${o.workloads.join(', ')}`);
  return workers;
}

function spawnDriver(name: string, kind: ClientKind, fabric: Fabric): Driver {
  const [cmd, args] = kind === 'paddock' ? fabric.wrapClient(process.execPath, [PADDOCK_DRIVER]) : fabric.wrapClient(PYTHON, [KAZOO_DRIVER]);
  return Driver.spawn(name, cmd, args);
}

async function expectOk(reply: Promise<DriverReply>, what: string): Promise<DriverReply> {
  const r = await reply;
  if (r.outcome !== 'ok') throw new Error(`${what} failed: ${r.error ?? r.outcome}`);
  return r;
}

/** The mode each running server reports through `srvr` ('leader', 'follower', 'standalone'), or null. */
async function modes(control: Driver, cluster: Cluster): Promise<Map<number, string | null>> {
  const out = new Map<number, string | null>();
  await Promise.all(
    cluster.servers.map(async (s) => {
      if (!cluster.alive(s.id) || s.paused) return out.set(s.id, null);
      const r = await control.call({ op: 'fourlw', host: s.host, port: s.ports.client, word: 'srvr', timeoutMs: 3000 });
      out.set(s.id, /Mode: (\w+)/.exec(r.text ?? '')?.[1] ?? null);
    }),
  );
  return out;
}

/** Waits (bounded) until every server answers with a mode, i.e. serves clients. */
async function waitServing(control: Driver, cluster: Cluster, timeoutMs: number, log: (l: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<number, string | null>();
  while (Date.now() < deadline) {
    last = await modes(control, cluster);
    if ([...last.values()].every((m) => m !== null)) return;
    // A server that exited on its own (a refused zoo.cfg, a crash at start) will never serve.
    const dead = cluster.servers.find((s) => s.child !== null && !cluster.alive(s.id));
    if (dead) throw new Error(`server s${dead.id} (${dead.kind}) ${cluster.exitStatus(dead.id)} before serving:\n${cluster.logTail(dead.id)}`);
    // Polling other processes' ports: there is no event to wait on.
    await sleep(250);
  }
  log(`servers not all serving after ${timeoutMs} ms: ${JSON.stringify([...last])}`);
  throw new Error(`servers did not all start serving within ${timeoutMs} ms: ${JSON.stringify([...last])}`);
}

class Recorder {
  constructor(readonly history: History, readonly now: () => number) {}

  async record(driver: Driver, client: number, kind: OpKind, req: Omit<DriverRequest, 'id'>, fields: Partial<Op>, timeoutMs: number): Promise<{ op: Op; reply: DriverReply }> {
    const op: Op = { index: this.history.ops.length, client, session: null, kind, key: req.key ?? '', invokeMs: this.now(), completeMs: null, outcome: 'info', ...fields };
    this.history.ops.push(op);
    const reply = await driver.call({ ...req, client, timeoutMs });
    op.completeMs = this.now();
    op.outcome = reply.outcome;
    if (reply.error !== undefined) op.error = reply.error;
    if (reply.session !== undefined) op.session = reply.session;
    for (const k of ['lastZxid', 'server', 'version', 'mzxid', 'created', 'children', 'owners', 'token'] as const) {
      if (reply[k] !== undefined) (op as unknown as Record<string, unknown>)[k] = reply[k];
    }
    if (reply.readValue !== undefined) op.readValue = reply.readValue;
    if (op.outcome === 'info') op.completeMs = null;
    return { op, reply };
  }
}

/** One logical client: a session on one driver, running one workload. */
class Worker {
  private readonly prng: Prng;
  private readonly versions = new Map<string, number>();
  private counter = 0;
  session: string | null = null;

  constructor(
    readonly id: number,
    readonly kind: ClientKind,
    readonly workload: Workload,
    readonly driver: Driver,
    readonly recorder: Recorder,
    readonly o: RunOptions,
    readonly connectString: string,
  ) {
    this.prng = new Prng((o.seed * 7919 + id) >>> 0);
  }

  async connect(): Promise<void> {
    const r = await expectOk(this.driver.call({ op: 'connect', client: this.id, connect: this.connectString, sessionTimeoutMs: this.o.sessionTimeoutMs, timeoutMs: 60_000 }, 70_000), `client ${this.id} (${this.kind}) connect`);
    this.session = r.session ?? null;
  }

  async close(): Promise<void> {
    await this.driver.call({ op: 'close', client: this.id, timeoutMs: 10_000 });
  }

  async loop(going: () => boolean): Promise<void> {
    for (let n = 0; n < this.o.maxOpsPerClient && going(); n++) {
      // A client whose reconnect failed (it closed its session on purpose) tries again first.
      if (this.session === null) await this.connect().catch(() => {});
      else await this.step();
      await sleep(this.prng.int(this.o.opDelayMs + 1));
    }
  }

  private call(kind: OpKind, req: Omit<DriverRequest, 'id'>, fields: Partial<Op> = {}): Promise<{ op: Op; reply: DriverReply }> {
    return this.recorder.record(this.driver, this.id, kind, req, fields, this.o.opTimeoutMs);
  }

  private async step(): Promise<void> {
    switch (this.workload) {
      case 'register':
        return this.registerStep();
      case 'sequential':
        await this.call('create-seq', { op: 'create-seq', key: SEQ });
        return;
      case 'counter':
        await this.call('incr', { op: 'incr', key: COUNTER });
        return;
      case 'ephemeral':
        return this.ephemeralStep();
      case 'mutex':
        return this.mutexStep();
    }
  }

  private async registerStep(): Promise<void> {
    const key = this.prng.pick(REGISTERS);
    const roll = this.prng.next();
    const value = `c${this.id}-${++this.counter}`;
    let result: { op: Op; reply: DriverReply };
    if (roll < 0.35) result = await this.call('write', { op: 'write', key, value }, { value });
    else if (roll < 0.55) {
      const expectedVersion = this.versions.get(key) ?? 0;
      result = await this.call('cas', { op: 'cas', key, value, expectedVersion }, { value, expectedVersion });
    } else if (roll < 0.8) result = await this.call('read', { op: 'read', key });
    else result = await this.call('sync-read', { op: 'sync-read', key });
    if (result.reply.version !== undefined) this.versions.set(key, result.reply.version);
  }

  private async ephemeralStep(): Promise<void> {
    // Now and then end the session on purpose: its ephemerals must go with it.
    if (this.prng.bool(0.1)) {
      await this.close();
      this.session = null;
      await this.connect().catch(() => {});
      return;
    }
    const name = `c${this.id}-${++this.counter}`;
    await this.call('create-eph', { op: 'create-eph', key: EPH, name });
  }

  private async mutexStep(): Promise<void> {
    // Kazoo's Lock and the Paddock Mutex (Curator's layout) ignore each other's nodes: one lock path per client kind.
    const lock = `${MUTEX}-${this.kind}`;
    const resource = `${RESOURCE}-${this.kind}`;
    const { op } = await this.call('lock', { op: 'lock', key: lock });
    if (op.outcome !== 'ok' || op.token === undefined) return;
    const writes = 1 + this.prng.int(3);
    for (let i = 0; i < writes; i++) {
      const w = await this.call('fenced-write', { op: 'fenced-write', key: resource, token: op.token }, { token: op.token, lock });
      if (w.op.outcome !== 'ok') break;
    }
    await this.call('unlock', { op: 'unlock', key: lock });
  }
}

/** Applies the schedule: resolves targets, injects each fault, records its window, heals it. */
class Nemesis {
  constructor(
    readonly cluster: Cluster,
    readonly fabric: Fabric,
    readonly control: Driver,
    readonly history: History,
    readonly now: () => number,
    readonly prng: Prng,
    readonly log: (line: string) => void,
  ) {}

  async run(schedule: Step[]): Promise<void> {
    for (const step of schedule) {
      await sleep(Math.max(0, step.atMs - this.now()));
      const leader = await this.leader();
      const windows: FaultWindow[] = [];
      for (const f of step.faults) {
        const target = f.target.kind === 'leader' ? leader : f.target.id;
        const w: FaultWindow = { name: f.nemesis, targets: [target], startMs: this.now(), endMs: null };
        try {
          w.detail = await this.inject(f.nemesis, target);
        } catch (err) {
          w.detail = `not applied: ${(err as Error).message}`;
        }
        this.history.faults.push(w);
        windows.push(w);
        this.log(`t=${(w.startMs / 1000).toFixed(1)}s ${f.nemesis} on s${target}${target === leader ? ' (leader)' : ''}: ${w.detail}`);
      }
      await sleep(step.durationMs);
      await this.healAll();
      for (const w of windows) w.endMs = this.now();
      this.log(`t=${(this.now() / 1000).toFixed(1)}s healed`);
    }
  }

  /** The current leader (or standalone server); a seeded random server when there is none. */
  private async leader(): Promise<number> {
    const m = await modes(this.control, this.cluster);
    for (const [id, mode] of m) if (mode === 'leader' || mode === 'standalone') return id;
    return 1 + this.prng.int(this.cluster.servers.length);
  }

  private async inject(nemesis: NemesisName, target: number): Promise<string> {
    const c = this.cluster;
    switch (nemesis) {
      case 'kill':
        await c.kill(target);
        return 'kill -9';
      case 'kill-all':
        await Promise.all(c.servers.map((s) => c.kill(s.id)));
        return 'kill -9 of every server';
      case 'pause':
        c.pause(target);
        return 'SIGSTOP';
      case 'disk-full':
        c.fillDisk(target);
        return 'data filesystem filled';
      default: {
        const drops = grudge(nemesis, c.servers.length, target);
        this.fabric.partition(drops);
        return [...drops].filter(([, to]) => to.size > 0).map(([from, to]) => `s${from}-x->s${[...to].join(',s')}`).join(' ');
      }
    }
  }

  /** Undo every fault: routes, paused processes, full disks, dead servers. */
  async healAll(): Promise<void> {
    this.fabric.heal();
    for (const s of this.cluster.servers) {
      this.cluster.resume(s.id);
      this.cluster.freeDisk(s.id);
      if (!this.cluster.alive(s.id)) {
        this.log(`restarting s${s.id} (${this.cluster.exitStatus(s.id)})`);
        this.cluster.restart(s.id);
      }
    }
  }
}

/**
 * A final read that found no node is an observation too (the node is gone, e.g. a server lost
 * its disk): record it as an ok read of an absent node, version -1.
 */
function absentIfNoNode(op: Op): Op {
  if (op.outcome === 'fail' && /NONODE|NoNode/.test(op.error ?? '')) {
    op.outcome = 'ok';
    op.readValue = null;
    op.version = -1;
    op.children = [];
  }
  return op;
}

/** After healing: final reads, closing the workload sessions, the ephemeral listing and every server's tree. */
async function readFinal(control: Driver, workers: Worker[], cluster: Cluster, rec: Recorder, o: RunOptions): Promise<FinalState> {
  const final: FinalState = { registers: {}, counters: {}, liveSessions: [], trees: {} };
  const t = 20_000;
  // A fresh session: one that has seen nothing is served by any server, even one that lost its
  // disk and refuses sessions that saw later zxids.
  const reader = await control.call({ op: 'connect', client: FINAL_READER, connect: cluster.connectString(), sessionTimeoutMs: o.sessionTimeoutMs, timeoutMs: 30_000 }, 40_000);
  if (reader.outcome !== 'ok') o.log(`final reader could not connect: ${reader.error ?? reader.outcome}`);
  for (const key of REGISTERS) {
    const op = absentIfNoNode((await rec.record(control, FINAL_READER, 'sync-read', { op: 'sync-read', key }, {}, t)).op);
    if (op.outcome === 'ok') final.registers[key] = { value: op.readValue ?? null, version: op.version as number };
  }
  if (o.workloads.includes('counter')) {
    const op = absentIfNoNode((await rec.record(control, FINAL_READER, 'sync-read', { op: 'sync-read', key: COUNTER }, {}, t)).op);
    rec.history.ops.pop();
    if (op.outcome === 'ok') final.counters[COUNTER] = Number(op.readValue ?? 0);
  }
  if (o.workloads.includes('sequential')) absentIfNoNode((await rec.record(control, FINAL_READER, 'list-seq', { op: 'list', key: SEQ }, {}, t)).op);
  await Promise.all(workers.map((w) => w.close()));
  if (o.workloads.includes('ephemeral')) {
    const { op, reply } = await rec.record(control, FINAL_READER, 'list-eph', { op: 'list-eph', key: EPH }, {}, t);
    final.liveSessions = reply.session ? [reply.session] : [];
    // A session whose close did not get through ends by expiry: allow it the session timeout.
    if (Object.values(op.owners ?? {}).some((owner) => !final.liveSessions.includes(owner))) {
      rec.history.ops.pop();
      await sleep(o.sessionTimeoutMs * 2);
      await rec.record(control, FINAL_READER, 'list-eph', { op: 'list-eph', key: EPH }, {}, t);
    }
  }
  for (const s of cluster.servers) {
    const r = await control.call({ op: 'dump', connect: cluster.address(s.id), timeoutMs: 30_000 }, 120_000);
    if (r.outcome === 'ok' && r.tree) final.trees[String(s.id)] = r.tree;
    else final.trees[String(s.id)] = { '(unreadable)': r.error ?? 'no reply' };
  }
  return final;
}
