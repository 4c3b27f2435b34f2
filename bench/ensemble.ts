/**
 * `npm run bench -- --ensemble 3`: a 3-server Paddock ensemble side by side with a 3-server
 * Apache ZooKeeper ensemble, both on loopback in the same run, from the same zoo.cfg settings as
 * the standalone bench plus the server.N lines. Reads, 90/10, writes and write latency at depth 1
 * with sessions spread over every server; then the failover gap: kill -9 of the leader under a
 * steady write load, time from the kill to the first successful write sent after it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Err, OpCode } from '../src/jute/constants.js';
import { BenchClient, encodeRequest } from './client.js';
import { f, fLat, ratio, renderTable, RunReport } from './format.js';
import { Histogram, summarize, type LatencySummary } from './hist.js';
import { runLeg, type Leg, type LegTiming, type Plan } from './leg.js';
import { ensemblePeers, fourLetterWord, freePort, startServerProc, type EnsemblePeer, type ServerKind, type ServerProc } from './servers.js';
import { ensurePaths, value } from './workloads.js';

const KINDS: ServerKind[] = ['zookeeper', 'paddock'];
const SHORT: Record<ServerKind, string> = { zookeeper: 'ZK', paddock: 'Paddock' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface EnsembleBenchOptions extends LegTiming {
  size: number;
  rounds: number;
  /** Leader kills per ensemble. */
  failoverTrials: number;
  /** 'failover': only the failover trials (no throughput phase). */
  only: 'failover' | null;
  /** The kinds to run (default both). */
  kinds: ServerKind[] | null;
  json: string | null;
}

function plans(size: number): Plan[] {
  const ops = (id: string, workload: string, sessions: number, depth: number): Plan => ({ id, spec: { kind: 'ops', workload, mode: 'closed', sessions, depth, rate: 0 } });
  return [
    ops('get', 'get', 32, 16),
    ops('mixed-90/10', 'mixed', 32, 16),
    ops('set', 'set', 32, 16),
    // One session per server, one request outstanding each: the latency of a lone write.
    ops('set-depth1', 'set', size, 1),
  ];
}

// ---- an ensemble of one kind -----------------------------------------------------------------

/** BENCH_PADDOCK_CLI=<other checkout>/dist/src/cli/main.js runs another build's Paddock servers (A/B of failover). */
function paddockBuild(): { paddockCli?: string } {
  const cli = process.env.BENCH_PADDOCK_CLI;
  return cli ? { paddockCli: cli } : {};
}

class BenchEnsemble {
  private constructor(
    readonly kind: ServerKind,
    private readonly peers: EnsemblePeer[],
    private readonly clientPorts: number[],
    private readonly dataDirs: string[],
    readonly procs: ServerProc[],
    private readonly logLevel: 'warn' | 'info' | 'debug',
  ) {}

  /**
   * Starts every member at once (none serves before a quorum runs) and waits until all serve.
   * `logLevel` info makes Paddock members log their role changes, which the failover trace reads.
   */
  static async start(kind: ServerKind, size: number, logLevel: 'warn' | 'info' | 'debug' = 'warn'): Promise<BenchEnsemble> {
    const peers = await ensemblePeers(size);
    const clientPorts = await Promise.all(peers.map(() => freePort()));
    const dataDirs = peers.map((p) => mkdtempSync(join(tmpdir(), `bench-ens-${kind}-${p.id}-`)));
    const started = await Promise.allSettled(peers.map((p, i) => startServerProc(kind, { dataDir: dataDirs[i], port: clientPorts[i], ensemble: { myid: p.id, peers }, startTimeoutMs: 120_000, logLevel, ...paddockBuild() })));
    const procs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const ensemble = new BenchEnsemble(kind, peers, clientPorts, dataDirs, procs, logLevel);
    if (failed) {
      await ensemble.dispose();
      throw failed.reason as Error;
    }
    return ensemble;
  }

  /** Index of the member `srvr` calls leader; polls (bounded) until exactly one is. */
  async leader(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const modes = await Promise.all(this.procs.map((p) => fourLetterWord(p.port, 'srvr', 1000).catch(() => '')));
      const leaders = modes.flatMap((m, i) => (/Mode: leader/.test(m) ? [i] : []));
      if (leaders.length === 1 && modes.every((m) => m.includes('Mode:'))) return leaders[0] as number;
      // Other processes' state: there is no event to wait on.
      await sleep(50);
    }
    throw new Error(`${this.kind} ensemble: no single leader within ${timeoutMs} ms`);
  }

  /** Starts member `i` again on its data directory and port; resolves once it serves. */
  async restart(i: number): Promise<void> {
    const p = this.peers[i] as EnsemblePeer;
    this.procs[i] = await startServerProc(this.kind, { dataDir: this.dataDirs[i], port: this.clientPorts[i], ensemble: { myid: p.id, peers: this.peers }, startTimeoutMs: 120_000, logLevel: this.logLevel, ...paddockBuild() });
  }

  /** Member `i`'s log lines (all its starts), for the failover trace. */
  logLines(i: number): string[] {
    const path = this.procs[i]?.logPath;
    return path !== undefined && existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  }

  get ports(): number[] {
    return this.procs.map((p) => p.port);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    if (!process.env.BENCH_KEEP_DATA) for (const d of this.dataDirs) rmSync(d, { recursive: true, force: true });
  }
}

// ---- failover: kill -9 of the leader under a steady write load --------------------------------

const FAILOVER_ROOT = '/bench/failover';
const CALL_TIMEOUT_MS = 2000;

/** One client writing setData back to back (depth 1), reconnecting to the next server when its connection ends. */
class SteadyWriter {
  ok = 0;
  /** Completion time of the first successful write sent after `killedAt`. */
  firstOkAfterKill: number | null = null;
  /** When the first connection opened after `killedAt` was ready. */
  firstConnectAfterKill: number | null = null;
  killedAt: number | null = null;
  private client: BenchClient | null = null;
  private stopped = false;
  private readonly frame: Buffer;
  private readonly okWaiters = new Set<() => void>();

  constructor(
    private readonly ports: readonly number[],
    private next: number,
    path: string,
  ) {
    this.frame = encodeRequest({ type: OpCode.setData, path, data: value(100), version: -1 });
  }

  /** Resolves once `done()` holds after a successful write; rejects after `timeoutMs`. */
  waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      const check = (): void => {
        if (!done()) return;
        this.okWaiters.delete(check);
        clearTimeout(timer);
        resolvePromise();
      };
      const timer = setTimeout(() => (this.okWaiters.delete(check), reject(new Error(`not done within ${timeoutMs} ms`))), timeoutMs);
      this.okWaiters.add(check);
      check();
    });
  }

  async run(deadlineMs: number): Promise<void> {
    while (!this.stopped && performance.now() < deadlineMs) {
      if (this.client === null || this.client.closed) {
        this.client = await BenchClient.connect({ port: this.ports[this.next] as number, connectDeadlineMs: CALL_TIMEOUT_MS, timeoutMs: 10_000 }).catch(() => null);
        // Refused or closed: that server is down or between leaders; try the next one shortly.
        if (this.client === null) {
          this.next = (this.next + 1) % this.ports.length;
          await sleep(5);
        } else if (this.killedAt !== null && this.firstConnectAfterKill === null) {
          this.firstConnectAfterKill = performance.now();
        }
        continue;
      }
      await this.writeOnce(this.client);
    }
    this.client?.destroy();
  }

  private async writeOnce(c: BenchClient): Promise<void> {
    const sentAt = performance.now();
    // A server that stopped answering without closing the connection is left after a timeout.
    const timer = setTimeout(() => c.destroy(), CALL_TIMEOUT_MS);
    const { err } = await c.call(this.frame);
    clearTimeout(timer);
    if (err !== Err.OK) {
      if (!c.closed) await sleep(5);
      return;
    }
    this.ok++;
    if (this.killedAt !== null && sentAt > this.killedAt && this.firstOkAfterKill === null) this.firstOkAfterKill = performance.now();
    for (const check of [...this.okWaiters]) check();
  }

  stop(): void {
    this.stopped = true;
  }
}

export interface FailoverTrial {
  /** Kill to the first successful write (sent after the kill) of any client. */
  firstWriteMs: number | null;
  /** Kill to the moment every client had written again. */
  allWritersMs: number | null;
  killedLeader: number;
  /** Restart of the killed server to it serving again (null when it did not within the bound). */
  rejoinMs: number | null;
  /** Paddock only: when each step of the failover happened, ms after the kill (null: not seen). */
  trace?: Record<string, number | null>;
  /** Paddock only: when each step of the rejoin happened, ms after the restart began. */
  rejoinTrace?: Record<string, number | null>;
}

// ---- the trace: the members' own log lines (Paddock at log level info) -----------------------

/** A member's log line as [time on this process's performance.now() scale, message]. */
function logEvents(lines: readonly string[]): [number, string][] {
  const out: [number, string][] = [];
  for (const line of lines) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) \w+ +\[[^\]]*\] (.*)$/.exec(line);
    if (m) out.push([Date.parse(m[1]!) - performance.timeOrigin, m[2]!]);
  }
  return out;
}

/** The first line after `from` (of any of `members`) that matches, as ms after `from`. */
function firstAfter(members: readonly [number, string][][], from: number, re: RegExp): number | null {
  let best: number | null = null;
  for (const events of members) {
    for (const [t, msg] of events) {
      // Log times have millisecond resolution: a line in the kill's millisecond counts.
      if (t < Math.floor(from) - 1 || !re.test(msg)) continue;
      if (best === null || t < best) best = t;
      break;
    }
  }
  return best === null ? null : Math.max(0, best - from);
}

/** The steps of a failover in the survivors' logs, and the writers' own reconnects and writes. */
const FAILOVER_STEPS: [string, RegExp][] = [
  ['detected', /stopped following|lost its quorum/],
  ['elected', /elected: leading/],
  ['listening', /leading: waiting for a quorum/],
  ['connected', /connected to leader/],
  ['established', /is now leader/],
  ['uptodate', /is now follower/],
  ['session', /session 0x[0-9a-f]+ created/],
];

function failoverTrace(ens: BenchEnsemble, killed: number, killedAt: number, writers: readonly SteadyWriter[]): Record<string, number | null> {
  const survivors = ens.procs.map((_, i) => i).filter((i) => i !== killed).map((i) => logEvents(ens.logLines(i)));
  const trace: Record<string, number | null> = {};
  for (const [step, re] of FAILOVER_STEPS) trace[step] = firstAfter(survivors, killedAt, re);
  const earliest = (xs: (number | null)[]): number | null => {
    const ok = xs.filter((x): x is number => x !== null);
    return ok.length === 0 ? null : Math.min(...ok) - killedAt;
  };
  trace.reconnect = earliest(writers.map((w) => w.firstConnectAfterKill));
  trace.write = earliest(writers.map((w) => w.firstOkAfterKill));
  return trace;
}

const REJOIN_STEPS: [string, RegExp][] = [
  ['listening', /listening on/],
  ['elected', /elected: following/],
  ['connected', /connected to leader/],
  ['synced', /is now follower/],
];

function rejoinTrace(ens: BenchEnsemble, member: number, startedAt: number, servingAt: number): Record<string, number | null> {
  const events = [logEvents(ens.logLines(member))];
  const trace: Record<string, number | null> = {};
  for (const [step, re] of REJOIN_STEPS) trace[step] = firstAfter(events, startedAt, re);
  trace.serving = servingAt - startedAt;
  return trace;
}

const fTrace = (trace: Record<string, number | null>): string => Object.entries(trace).map(([k, v]) => `${k} ${v === null ? '-' : f(v)}`).join(', ');

/** One kill -9 of the leader under writes from one client per server. */
async function failoverTrial(ens: BenchEnsemble, trial: number, timeoutMs = 30_000): Promise<FailoverTrial> {
  const leader = await ens.leader();
  const ports = ens.ports;
  const setup = await BenchClient.connect({ port: ports[0] as number });
  const paths = ports.map((_, i) => `${FAILOVER_ROOT}/w${i}`);
  await ensurePaths(setup, ['/bench', FAILOVER_ROOT, ...paths], value(100));
  await setup.close();
  const writers = ports.map((_, i) => new SteadyWriter(ports, i, paths[i] as string));
  const end = performance.now() + timeoutMs * 3;
  const running = writers.map((w) => w.run(end));
  try {
    // Steady: every client has written a few times.
    await Promise.all(writers.map((w) => w.waitUntil(() => w.ok >= 20, timeoutMs)));
    const killedAt = performance.now();
    for (const w of writers) w.killedAt = killedAt;
    await (ens.procs[leader] as ServerProc).kill9();
    await Promise.all(writers.map((w) => w.waitUntil(() => w.firstOkAfterKill !== null, timeoutMs).catch(() => undefined)));
    const firsts = writers.map((w) => w.firstOkAfterKill);
    const done = firsts.filter((t): t is number => t !== null);
    const result: FailoverTrial = {
      firstWriteMs: done.length > 0 ? Math.min(...done) - killedAt : null,
      allWritersMs: done.length === writers.length ? Math.max(...done) - killedAt : null,
      killedLeader: leader + 1,
      rejoinMs: null,
    };
    process.stderr.write(`  failover ${SHORT[ens.kind].padEnd(8)} trial ${trial + 1}: killed server ${leader + 1}; first write after ${result.firstWriteMs === null ? '-' : f(result.firstWriteMs)} ms, every writer after ${result.allWritersMs === null ? '-' : f(result.allWritersMs)} ms\n`);
    if (ens.kind === 'paddock') {
      result.trace = failoverTrace(ens, leader, killedAt, writers);
      process.stderr.write(`    trace (ms after the kill): ${fTrace(result.trace)}\n`);
    }
    return result;
  } finally {
    for (const w of writers) w.stop();
    await Promise.all(running);
  }
}

/**
 * `trials` leader kills per kind, alternating the kinds, each on a fresh ensemble (so a trial does
 * not depend on what earlier phases wrote); after the kill the server is restarted and the time
 * until it serves again is kept as `rejoinMs`. A kind whose trial fails is noted and gets no more.
 */
async function failovers(kinds: ServerKind[], size: number, trials: number, notes: Record<string, string>): Promise<Record<string, FailoverTrial[]>> {
  const out: Record<string, FailoverTrial[]> = {};
  for (let trial = 0; trial < trials; trial++) {
    for (const kind of trial % 2 === 0 ? kinds : [...kinds].reverse()) {
      if (notes[kind] !== undefined) continue;
      let ens: BenchEnsemble | null = null;
      try {
        // BENCH_PADDOCK_LOG_LEVEL=debug adds the election's connections and notifications to the members' logs.
        ens = await BenchEnsemble.start(kind, size, process.env.BENCH_PADDOCK_LOG_LEVEL === 'debug' ? 'debug' : 'info');
        const result = await failoverTrial(ens, trial);
        (out[kind] ??= []).push(result);
        const t0 = performance.now();
        await ens.restart(result.killedLeader - 1);
        await ens.leader();
        result.rejoinMs = performance.now() - t0;
        if (kind === 'paddock') {
          result.rejoinTrace = rejoinTrace(ens, result.killedLeader - 1, t0, t0 + result.rejoinMs);
          process.stderr.write(`    rejoin trace (ms after the restart began): ${fTrace(result.rejoinTrace)}\n`);
        }
      } catch (err) {
        notes[kind] = `failover trial ${trial + 1}: ${(err as Error).message.split('\n')[0]}`;
        process.stderr.write(`  failover ${SHORT[kind]}: ${notes[kind]}; no more trials\n`);
      } finally {
        await ens?.dispose();
      }
    }
  }
  return out;
}

// ---- the run ---------------------------------------------------------------------------------

interface Row {
  plan: string;
  server: ServerKind;
  throughput: number;
  latency: LatencySummary;
  serverCpuPct: number;
  rssMB: number;
  errors: number;
}

function aggregate(legs: Leg[], plan: string, kind: ServerKind): Row | null {
  const mine = legs.filter((l) => l.plan === plan && l.server === kind);
  if (mine.length === 0) return null;
  const hist = new Histogram();
  for (const l of mine) hist.merge(Histogram.from(l.result.hist));
  const secs = mine.reduce((n, l) => n + l.result.windowMs, 0) / 1000;
  return {
    plan,
    server: kind,
    throughput: mine.reduce((n, l) => n + l.result.ops, 0) / secs,
    latency: summarize(hist),
    serverCpuPct: (100 * mine.reduce((n, l) => n + l.serverCpuSec, 0)) / secs,
    rssMB: Math.max(...mine.map((l) => l.rssInWindow)) / 2 ** 20,
    errors: mine.reduce((n, l) => n + l.result.errors, 0),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};

function summaryTable(rows: Row[], failover: Record<string, FailoverTrial[]>, unavailable: Record<string, string>, size: number): string {
  const cell = (kind: ServerKind, pick: (r: Row) => number, fmt: (n: number) => string, plan: string): string => {
    if (unavailable[kind]) return 'n/a';
    const r = rows.find((x) => x.plan === plan && x.server === kind);
    return r ? fmt(pick(r)) : '-';
  };
  const both = (plan: string, pick: (r: Row) => number): string => {
    const z = rows.find((x) => x.plan === plan && x.server === 'zookeeper');
    const p = rows.find((x) => x.plan === plan && x.server === 'paddock');
    return z && p ? ratio(pick(p), pick(z)) : '-';
  };
  const lines: string[][] = [['measure', 'what', `ZK x${size}`, `Paddock x${size}`, 'P/ZK']];
  // --only failover: no throughput rows.
  if (rows.length > 0) {
    lines.push(['reads', 'get, 32 sessions x 16, ops/s', cell('zookeeper', (r) => r.throughput, (n) => f(n), 'get'), cell('paddock', (r) => r.throughput, (n) => f(n), 'get'), both('get', (r) => r.throughput)]);
    lines.push(['90/10', 'mixed-90/10, 32 x 16, ops/s', cell('zookeeper', (r) => r.throughput, (n) => f(n), 'mixed-90/10'), cell('paddock', (r) => r.throughput, (n) => f(n), 'mixed-90/10'), both('mixed-90/10', (r) => r.throughput)]);
    lines.push(['writes', 'set, 32 x 16, ops/s', cell('zookeeper', (r) => r.throughput, (n) => f(n), 'set'), cell('paddock', (r) => r.throughput, (n) => f(n), 'set'), both('set', (r) => r.throughput)]);
    lines.push(['write latency p50', `set-depth1, ${size} x 1, ms`, cell('zookeeper', (r) => r.latency.p50Ms, fLat, 'set-depth1'), cell('paddock', (r) => r.latency.p50Ms, fLat, 'set-depth1'), both('set-depth1', (r) => r.latency.p50Ms)]);
    lines.push(['write latency p99', `set-depth1, ${size} x 1, ms`, cell('zookeeper', (r) => r.latency.p99Ms, fLat, 'set-depth1'), cell('paddock', (r) => r.latency.p99Ms, fLat, 'set-depth1'), both('set-depth1', (r) => r.latency.p99Ms)]);
  }
  const gap = (kind: ServerKind, pick: (t: FailoverTrial) => number | null): string => {
    if (unavailable[kind]) return 'n/a';
    const trials = failover[kind] ?? [];
    if (trials.length === 0) return '-';
    const values = trials.map(pick);
    const ok = values.filter((v): v is number => v !== null);
    const failed = values.length - ok.length;
    return `${f(median(ok))} (max ${f(Math.max(...ok))})${failed ? `, ${failed} never` : ''}`;
  };
  const gapRatio = (pick: (t: FailoverTrial) => number | null): string => {
    const m = (k: ServerKind): number => median((failover[k] ?? []).map(pick).filter((v): v is number => v !== null));
    return ratio(m('paddock'), m('zookeeper'));
  };
  const trials = Math.max(...KINDS.map((k) => failover[k]?.length ?? 0));
  lines.push(['failover gap', `kill -9 leader -> first write, ms, median of ${trials}`, gap('zookeeper', (t) => t.firstWriteMs), gap('paddock', (t) => t.firstWriteMs), gapRatio((t) => t.firstWriteMs)]);
  lines.push(['failover, all clients', 'kill -9 leader -> every writer wrote, ms', gap('zookeeper', (t) => t.allWritersMs), gap('paddock', (t) => t.allWritersMs), gapRatio((t) => t.allWritersMs)]);
  lines.push(['rejoin', 'restart of the killed leader -> it serves, ms', gap('zookeeper', (t) => t.rejoinMs), gap('paddock', (t) => t.rejoinMs), gapRatio((t) => t.rejoinMs)]);
  return renderTable(lines);
}

/** Paddock's failover and rejoin steps: median and range over the trials, ms. */
function traceTable(trials: readonly FailoverTrial[]): string {
  const lines: string[][] = [['Paddock step', 'median ms', 'min', 'max', 'trials']];
  const add = (label: string, values: (number | null | undefined)[]): void => {
    const ok = values.filter((v): v is number => typeof v === 'number');
    if (ok.length === 0) return;
    lines.push([label, f(median(ok)), f(Math.min(...ok)), f(Math.max(...ok)), String(ok.length)]);
  };
  for (const step of [...FAILOVER_STEPS.map(([s]) => s), 'reconnect', 'write']) add(`failover: ${step}`, trials.map((t) => t.trace?.[step]));
  for (const step of [...REJOIN_STEPS.map(([s]) => s), 'serving']) add(`rejoin: ${step}`, trials.map((t) => t.rejoinTrace?.[step]));
  return lines.length === 1 ? '' : '\n' + renderTable(lines) + '\n';
}

function detailTable(rows: Row[]): string {
  const lines: string[][] = [['workload', 'server', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU% (all servers)', 'RSS MB (all servers)', 'errors']];
  for (const r of rows) {
    lines.push([r.plan, SHORT[r.server], f(r.throughput), fLat(r.latency.p50Ms), fLat(r.latency.p99Ms), fLat(r.latency.p999Ms), f(r.serverCpuPct), f(r.rssMB), String(r.errors)]);
  }
  return renderTable(lines);
}

/** Reads, 90/10, writes and depth-1 writes on both ensembles, alternating them round by round. */
async function throughputPhase(o: EnsembleBenchOptions, all: Plan[], ensembles: Partial<Record<ServerKind, BenchEnsemble>>, live: ServerKind[], legs: Leg[], log: (s: string) => void): Promise<void> {
  if (live.length === 0) return;
  // Warm the JITs (the JVMs' especially) before anything is measured.
  const warm: LegTiming = { ...o, durationMs: o.quick ? 1500 : 4000, warmupMs: 0 };
  for (const kind of live) for (const id of ['get', 'mixed-90/10']) await runLeg(all.find((p) => p.id === id)!, ensembles[kind]!.procs, warm, -1);
  let flip = 0;
  for (const plan of all) {
    for (let round = 0; round < o.rounds; round++) {
      const order = flip++ % 2 === 0 ? live : [...live].reverse();
      for (const kind of order) {
        const leg = await runLeg(plan, ensembles[kind]!.procs, o, round);
        legs.push(leg);
        const r = leg.result;
        log(`  ${plan.id.padEnd(12)} ${SHORT[kind].padEnd(8)} round ${round + 1}: ${f(r.ops / (r.windowMs / 1000))} ops/s, p50 ${fLat(Histogram.from(r.hist).percentileMs(0.5))} ms, p99 ${fLat(Histogram.from(r.hist).percentileMs(0.99))} ms${r.errors ? `, ${r.errors} errors ${JSON.stringify(r.errorCodes)}` : ''}`);
      }
    }
  }
}

export async function runEnsembleBench(o: EnsembleBenchOptions, command: string): Promise<void> {
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const report = new RunReport(command);
  const all = plans(o.size);
  const ensembles: Partial<Record<ServerKind, BenchEnsemble>> = {};
  const unavailable: Record<string, string> = {};
  const legs: Leg[] = [];
  let failover: Record<string, FailoverTrial[]> = {};
  const failoverNotes: Record<string, string> = {};
  try {
    for (const kind of o.only === 'failover' ? [] : (o.kinds ?? KINDS)) {
      try {
        ensembles[kind] = await BenchEnsemble.start(kind, o.size);
        log(`bench: ${o.size}-server ${kind} ensemble serving on ports ${ensembles[kind]!.ports.join(',')}`);
      } catch (err) {
        unavailable[kind] = (err as Error).message.split('\n').filter((l) => l.trim() !== '').slice(0, 3).join(' ').slice(0, 400);
        log(`bench: no ${kind} ensemble: ${unavailable[kind]}`);
      }
    }
    const live = KINDS.filter((k) => ensembles[k] !== undefined);
    await throughputPhase(o, all, ensembles, live, legs, log);
  } finally {
    for (const e of Object.values(ensembles)) await e.dispose();
  }
  failover = await failovers((o.kinds ?? KINDS).filter((k) => unavailable[k] === undefined), o.size, o.failoverTrials, failoverNotes);

  const rows = all.flatMap((p) => KINDS.flatMap((k) => aggregate(legs, p.id, k) ?? []));
  report.finish();
  let out = report.head(`${o.size}-server ensembles: Paddock vs Apache ZooKeeper`);
  out += `settings: the standalone bench's zoo.cfg plus server.1..${o.size} on 127.0.0.1 and a myid each; every server of both ensembles on this machine; `;
  out += `sessions spread round-robin over the servers; ${o.rounds} alternating round(s) x ${o.durationMs / 1000} s per workload after ${o.warmupMs / 1000} s warm-up; `;
  out += `failover: on a fresh ensemble per trial, one client per server writing setData back to back, kill -9 of the leader, ${o.failoverTrials} trial(s) per kind; then the killed server is restarted (rejoin)\n`;
  for (const [kind, why] of Object.entries(unavailable)) out += `${kind}: could not run an ensemble: ${why}\n`;
  for (const [kind, why] of Object.entries(failoverNotes)) out += `${kind}: ${why}\n`;
  out += report.loadLine();
  out += summaryTable(rows, failover, unavailable, o.size) + '\n\n' + (rows.length > 0 ? detailTable(rows) + '\n' : '');
  out += traceTable(failover.paddock ?? []);
  process.stdout.write(out);

  if (o.json) {
    report.writeJson(o.json, o, { ensembleSize: o.size, unavailable, failoverNotes, results: rows, failover }, legs);
    log(`bench: wrote ${o.json}`);
  }
}
