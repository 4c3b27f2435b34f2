#!/usr/bin/env node
/**
 * `npm run bench`: Paddock side by side with Apache ZooKeeper 3.8 on loopback.
 *
 * Both servers run as their own processes from the same zoo.cfg settings (servers.ts); the load
 * generator runs in a third process (loadgen.ts). Each workload runs against both servers in the
 * same run, in alternating order (ZK,P then P,ZK ...) so slow drift of a noisy machine cancels out.
 *
 *   node dist/bench/run.js [--quick] [--workload get,set,...] [--duration s] [--rounds n]
 *                          [--json out.json] [--skip-memory] [--fill n] [--profile]
 *   node dist/bench/run.js --ensemble 3 [...]   3-server ensembles instead (bench/ensemble.ts)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Err, OpCode } from '../src/jute/constants.js';
import { BenchClient, encodeRequest } from './client.js';
import { Histogram, summarize, type LatencySummary } from './hist.js';
import { runEnsembleBench } from './ensemble.js';
import { runLeg, type Leg, type Plan } from './leg.js';
import type { Mode } from './loadgen.js';
import { flags } from './args.js';
import { f, fLat, ratio, renderTable, RunReport } from './format.js';
import { summarizeProfile, formatProfile } from './profile.js';
import { heapUsedAfterGc, rssBytes, startServerProc, type ServerKind, type ServerProc } from './servers.js';
import { OPEN_ACL } from './workloads.js';

const KINDS: ServerKind[] = ['zookeeper', 'paddock'];
const SHORT: Record<ServerKind, string> = { zookeeper: 'ZK', paddock: 'Paddock' };

// ---- options ---------------------------------------------------------------------------------

interface Options {
  quick: boolean;
  workloads: string[] | null;
  durationMs: number;
  warmupMs: number;
  rounds: number;
  json: string | null;
  skipMemory: boolean;
  fill: number;
  profile: boolean;
  idleSessions: number;
  watchers: number;
  /** Ensemble size for `--ensemble N` (bench/ensemble.ts), or null for the standalone bench. */
  ensemble: number | null;
  failoverTrials: number;
  /** `--only failover`: the ensemble bench's failover trials only (no throughput phase). */
  only: 'failover' | null;
  /** `--kinds paddock`: the ensemble bench runs only these kinds (default both). */
  kinds: ServerKind[] | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    workloads: null,
    durationMs: 5000,
    warmupMs: 1000,
    rounds: 2,
    json: null,
    skipMemory: false,
    fill: 500_000,
    profile: false,
    idleSessions: 10_000,
    watchers: 1000,
    ensemble: null,
    failoverTrials: 3,
    only: null,
    kinds: null,
  };
  let duration: number | null = null;
  let fill: number | null = null;
  for (const [a, val] of flags(argv)) {
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--workload':
      case '--workloads':
        o.workloads = val().split(',').filter(Boolean);
        break;
      case '--duration':
        duration = Number(val()) * 1000;
        break;
      case '--rounds':
        o.rounds = Math.max(1, Number(val()));
        break;
      case '--json':
        o.json = val();
        break;
      case '--skip-memory':
        o.skipMemory = true;
        break;
      case '--fill':
        fill = Number(val());
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--ensemble':
        o.ensemble = Number(val());
        if (!Number.isInteger(o.ensemble) || o.ensemble < 3 || o.ensemble > 7 || o.ensemble % 2 === 0) throw new Error('--ensemble takes an odd size, 3..7');
        break;
      case '--failover-trials':
        o.failoverTrials = Math.max(1, Number(val()));
        break;
      case '--only': {
        const what = val();
        if (what !== 'failover') throw new Error('--only takes failover (the ensemble bench\'s failover trials)');
        o.only = what;
        break;
      }
      case '--kinds': {
        const kinds = val().split(',');
        if (kinds.some((k) => k !== 'paddock' && k !== 'zookeeper')) throw new Error('--kinds takes paddock, zookeeper or both');
        o.kinds = kinds as ServerKind[];
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: node dist/bench/run.js [--quick] [--workload a,b] [--duration s] [--rounds n] [--json out.json]\n' +
            '                              [--skip-memory] [--fill n] [--profile]\n' +
            '       node dist/bench/run.js --ensemble 3 [--quick] [--duration s] [--rounds n] [--failover-trials n] [--only failover] [--kinds paddock] [--json out.json]\n' +
            `workloads: ${ALL_WORKLOADS.join(', ')}\n`,
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (try --help)`);
    }
  }
  if (o.quick) {
    o.durationMs = 2000;
    o.warmupMs = 500;
    o.rounds = 1;
    o.fill = 50_000;
    o.idleSessions = 2000;
    o.watchers = 1000;
  }
  if (duration !== null) o.durationMs = duration;
  if (fill !== null) o.fill = fill;
  return o;
}

// ---- workloads -------------------------------------------------------------------------------

function plans(o: Options): Plan[] {
  const ops = (id: string, workload: string, mode: Mode, sessions: number, depth: number, rate = 0): Plan => ({
    id,
    spec: { kind: 'ops', workload, mode, sessions, depth, rate },
  });
  return [
    ops('get', 'get', 'closed', 32, 16),
    ops('get@20k/s', 'get', 'open', 32, 0, 20_000),
    ops('mixed-90/10', 'mixed', 'closed', 32, 16),
    ops('mixed@20k/s', 'mixed', 'open', 32, 0, 20_000),
    ops('set', 'set', 'closed', 32, 16),
    ops('set@10k/s', 'set', 'open', 32, 0, 10_000),
    ops('create-delete', 'create-delete', 'closed', 32, 8),
    ops('multi5', 'multi5', 'closed', 32, 8),
    ops('get-1k', 'get-1k', 'closed', 32, 16),
    ops('set-1k', 'set-1k', 'closed', 32, 16),
    ops('get-100k', 'get-100k', 'closed', 8, 4),
    ops('set-100k', 'set-100k', 'closed', 8, 4),
    ops('get-children-10k', 'get-children-10k', 'closed', 8, 2),
    {
      id: 'watch-fanout-1000',
      spec: { kind: 'fanout', workload: 'fanout', mode: 'closed', sessions: o.watchers, depth: 1, rate: 0, rounds: o.quick ? 5 : 20 },
    },
    {
      id: `idle-${o.idleSessions}`,
      spec: { kind: 'idle', workload: 'idle', mode: 'closed', sessions: o.idleSessions, depth: 0, rate: 0, sessionTimeoutMs: 30_000 },
    },
  ];
}
const ALL_WORKLOADS = plans(parseArgsSafe()).map((p) => p.id).concat(['memory']);
function parseArgsSafe(): Options {
  return { quick: false, workloads: null, durationMs: 0, warmupMs: 0, rounds: 1, json: null, skipMemory: false, fill: 0, profile: false, idleSessions: 10_000, watchers: 1000, ensemble: null, failoverTrials: 1, only: null, kinds: null };
}

// ---- aggregation and the table ---------------------------------------------------------------

interface Row {
  plan: string;
  server: ServerKind;
  legs: number;
  ops: number;
  windowMs: number;
  throughput: number;
  latency: LatencySummary;
  serverCpuPct: number;
  /** Main thread only: for Paddock, how busy the event loop was. */
  serverMainThreadCpuPct: number;
  cpuUsPerOp: number;
  loadgenCpuPct: number;
  rssMB: number;
  errors: number;
  errorCodes: Record<string, number>;
  skipped: number;
  extra: Record<string, number | string>;
  limit: string;
}

function aggregate(legs: Leg[], plan: Plan, kind: ServerKind): Row | null {
  const mine = legs.filter((l) => l.plan === plan.id && l.server === kind);
  if (mine.length === 0) return null;
  const hist = new Histogram();
  let ops = 0;
  let windowMs = 0;
  let cpu = 0;
  let mainCpu = 0;
  let gen = 0;
  let errors = 0;
  let skipped = 0;
  const codes: Record<string, number> = {};
  const extra: Record<string, number | string> = {};
  for (const l of mine) {
    hist.merge(Histogram.from(l.result.hist));
    ops += l.result.ops;
    windowMs += l.result.windowMs;
    cpu += l.serverCpuSec;
    mainCpu += l.serverMainCpuSec;
    gen += l.loadgenCpuSec;
    errors += l.result.errors;
    skipped += l.result.skipped;
    for (const [k, v] of Object.entries(l.result.errorCodes)) codes[k] = (codes[k] ?? 0) + v;
    for (const [k, v] of Object.entries({ ...l.setupInfo, ...l.result.extra })) {
      extra[k] = typeof v === 'number' && typeof extra[k] === 'number' ? ((extra[k] as number) + v) : v;
    }
  }
  for (const [k, v] of Object.entries(extra)) if (typeof v === 'number' && mine.length > 1) extra[k] = v / mine.length;
  const secs = windowMs / 1000;
  const serverCpuPct = (100 * cpu) / secs;
  const loadgenCpuPct = (100 * gen) / secs;
  const rssMB = Math.max(...mine.map((l) => l.rssInWindow)) / 2 ** 20;
  if (plan.spec.kind === 'idle') {
    const sessions = Number(extra.sessions ?? plan.spec.sessions);
    const rssDelta = mine.reduce((n, l) => n + Number(l.setupInfo.rssDeltaBytes ?? 0), 0) / mine.length;
    const heapDelta = mine.reduce((n, l) => n + Number(l.setupInfo.heapDeltaBytes ?? 0), 0) / mine.length;
    extra.rssPerSessionKB = rssDelta / sessions / 1024;
    extra.heapPerSessionKB = heapDelta / sessions / 1024;
  }
  const row: Row = {
    plan: plan.id,
    server: kind,
    legs: mine.length,
    ops,
    windowMs,
    throughput: ops / secs,
    latency: summarize(hist),
    serverCpuPct,
    serverMainThreadCpuPct: (100 * mainCpu) / secs,
    // Fan-out: per event delivered (rounds x watchers); otherwise per request.
    cpuUsPerOp: ops > 0 ? (cpu * 1e6) / ops / (plan.spec.kind === 'fanout' ? plan.spec.sessions : 1) : NaN,
    loadgenCpuPct,
    rssMB,
    errors,
    errorCodes: codes,
    skipped,
    extra,
    limit: '',
  };
  row.limit = limitOf(row, plan);
  return row;
}

/** A rough reading of what bounded the number, from where the CPU went. */
function limitOf(r: Row, plan: Plan): string {
  if (plan.spec.kind === 'idle') return 'ping load only';
  if (plan.spec.kind === 'fanout') return 'event delivery';
  if (plan.spec.mode === 'open') return r.skipped > 0 ? 'saturated: below offered rate' : 'offered rate';
  const total = r.serverCpuPct + r.loadgenCpuPct;
  if (r.server === 'paddock' && r.serverMainThreadCpuPct >= 85) return 'server CPU (event loop)';
  if (r.loadgenCpuPct >= 90) return 'load generator CPU';
  if (total >= 170) return 'machine CPU (2 cores)';
  return 'latency (fsync/wakeups)';
}

function table(rows: Row[], planList: Plan[]): string {
  const head = ['workload', 'server', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'srv CPU%', 'CPU µs/op', 'RSS MB', 'gen CPU%', 'errors', 'limited by'];
  const lines: string[][] = [head];
  for (const plan of planList) {
    const z = rows.find((r) => r.plan === plan.id && r.server === 'zookeeper');
    const p = rows.find((r) => r.plan === plan.id && r.server === 'paddock');
    for (const r of [z, p]) {
      if (!r) continue;
      const thr = plan.spec.kind === 'fanout' ? `${f(Number(r.extra.eventsPerSec))} ev/s` : plan.spec.kind === 'idle' ? `${f(r.throughput)} ping/s` : f(r.throughput);
      lines.push([
        plan.id,
        SHORT[r.server],
        thr,
        fLat(r.latency.p50Ms),
        fLat(r.latency.p99Ms),
        fLat(r.latency.p999Ms),
        r.server === 'paddock' ? `${f(r.serverCpuPct)} (${f(r.serverMainThreadCpuPct)})` : f(r.serverCpuPct),
        f(r.cpuUsPerOp, 1),
        f(r.rssMB),
        f(r.loadgenCpuPct),
        r.errors + r.skipped ? `${r.errors}${r.skipped ? `+${r.skipped} skipped` : ''}` : '0',
        r.limit,
      ]);
    }
    if (z && p) {
      const thr = plan.spec.kind === 'fanout' ? ratio(Number(p.extra.eventsPerSec), Number(z.extra.eventsPerSec)) : ratio(p.throughput, z.throughput);
      lines.push([
        '',
        'P/ZK',
        thr,
        ratio(p.latency.p50Ms, z.latency.p50Ms),
        ratio(p.latency.p99Ms, z.latency.p99Ms),
        ratio(p.latency.p999Ms, z.latency.p999Ms),
        ratio(p.serverCpuPct, z.serverCpuPct),
        ratio(p.cpuUsPerOp, z.cpuUsPerOp),
        ratio(p.rssMB, z.rssMB),
        '',
        '',
        '',
      ]);
    }
  }
  let notes = '';
  for (const r of rows) {
    const plan = planList.find((p) => p.id === r.plan)!;
    const e = r.extra;
    if (plan.spec.kind === 'fanout') {
      notes += `\n- ${r.plan} ${SHORT[r.server]}: ${f(r.ops)} rounds of one setData to ${f(Number(e.watchers))} watching sessions; ` +
        `time until every watcher had its event p50 ${fLat(r.latency.p50Ms)} ms, max ${fLat(r.latency.maxMs)} ms; ` +
        `single event p50 ${fLat(Number(e.eventP50Ms))} ms, p99 ${fLat(Number(e.eventP99Ms))} ms`;
    } else if (plan.spec.kind === 'idle') {
      notes += `\n- ${r.plan} ${SHORT[r.server]}: ${f(Number(e.sessions))} sessions connected in ${f(Number(e.connectMs))} ms ` +
        `(${f(Number(e.connectsPerSec))}/s); per session RSS +${f(Number(e.rssPerSessionKB), 1)} KB, live heap +${f(Number(e.heapPerSessionKB), 1)} KB; ` +
        `ping every ${f(Number(e.pingIntervalMs))} ms per session; server CPU ${f(r.serverCpuPct, 1)}% of a core while idle`;
    }
  }
  return renderTable(lines) + (notes ? '\n' + notes + '\n' : '');
}

// ---- durability probe, memory and restart ------------------------------------------------------

async function getDataOnce(port: number, path: string, deadlineMs: number): Promise<number> {
  const c = await BenchClient.connect({ port, timeoutMs: 10_000, connectDeadlineMs: deadlineMs });
  try {
    const { err } = await c.call(encodeRequest({ type: OpCode.getData, path, watch: false }));
    return err;
  } finally {
    await c.close(2000);
  }
}

/** Restarts `proc` on the same port and data; ms from spawn until a getData of `path` is answered. */
async function restartAndRead(proc: ServerProc, path: string): Promise<{ proc: ServerProc; firstReadMs: number; err: number }> {
  await proc.stop();
  const t0 = performance.now();
  const next = await startServerProc(proc.kind, { dataDir: proc.dataDir, port: proc.port, startTimeoutMs: 300_000 });
  const deadline = t0 + 300_000;
  let err: number = Err.CONNECTIONLOSS;
  while (performance.now() < deadline) {
    try {
      err = await getDataOnce(next.port, path, 60_000);
      if (err !== Err.CONNECTIONLOSS) break;
    } catch {
      // not serving yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const firstReadMs = performance.now() - t0;
  const wrapped: ServerProc = { ...next, dispose: async () => { await next.stop(); if (!process.env.BENCH_KEEP_DATA) rmSync(proc.dataDir, { recursive: true, force: true }); } };
  return { proc: wrapped, firstReadMs, err };
}

/** Does a znode written to Paddock survive a restart of its process? */
async function probeDurability(): Promise<boolean> {
  const p = await startServerProc('paddock');
  let proc: ServerProc = p;
  try {
    const c = await BenchClient.connect({ port: p.port });
    await c.call(encodeRequest({ type: OpCode.create, path: '/durability-probe', data: Buffer.from('x'), acl: OPEN_ACL, flags: 0, ttl: -1 }));
    await c.close();
    const r = await restartAndRead(p, '/durability-probe');
    proc = r.proc;
    return r.err === Err.OK;
  } finally {
    await proc.dispose();
  }
}

interface MemoryResult {
  server: ServerKind;
  znodes: number;
  fillOpsPerSec: number;
  fillP99Ms: number;
  baselineRssMB: number;
  rssMB: number;
  rssBytesPerZnode: number;
  heapBytesPerZnode: number;
  readyMs: number;
  firstReadMs: number | null;
  restartNote: string;
  fillErrors: number;
}

async function memoryAndRestart(kind: ServerKind, o: Options): Promise<MemoryResult> {
  let proc = await startServerProc(kind);
  try {
    // Settle, then baselines.
    await new Promise((r) => setTimeout(r, 1000));
    const heap0 = await heapUsedAfterGc(proc);
    const rss0 = rssBytes(proc.pid);
    const fill: Plan = { id: 'fill', spec: { kind: 'fill', workload: 'fill', mode: 'closed', sessions: 8, depth: 64, rate: 0, fillCount: o.fill, fillBytes: 100 } };
    const leg = await runLeg(fill, proc, o, 0);
    const created = Number(leg.result.extra.created);
    const heap1 = await heapUsedAfterGc(proc);
    const rss1 = rssBytes(proc.pid);
    const lastPath = String(leg.result.extra.lastPath);
    const r = await restartAndRead(proc, lastPath);
    proc = r.proc;
    const survived = r.err === Err.OK;
    return {
      server: kind,
      znodes: created,
      fillOpsPerSec: leg.result.ops / (leg.result.windowMs / 1000),
      fillP99Ms: Histogram.from(leg.result.hist).percentileMs(0.99),
      baselineRssMB: rss0 / 2 ** 20,
      rssMB: rss1 / 2 ** 20,
      rssBytesPerZnode: (rss1 - rss0) / created,
      heapBytesPerZnode: (heap1 - heap0) / created,
      readyMs: proc.readyMs,
      firstReadMs: survived ? r.firstReadMs : null,
      restartNote: survived ? 'ok' : `pending: the data did not survive a restart (getData -> ${r.err})`,
      fillErrors: leg.result.errors,
    };
  } finally {
    await proc.dispose();
  }
}

function memoryTable(m: MemoryResult[]): string {
  const lines: string[][] = [['server', 'znodes', 'fill creates/s', 'fill p99 ms', 'RSS MB', 'RSS B/znode', 'heap B/znode', 'restart: first read ms']];
  for (const r of m) {
    lines.push([
      SHORT[r.server],
      String(r.znodes),
      f(r.fillOpsPerSec),
      fLat(r.fillP99Ms),
      f(r.rssMB),
      f(r.rssBytesPerZnode),
      f(r.heapBytesPerZnode),
      r.firstReadMs === null ? r.restartNote : f(r.firstReadMs),
    ]);
  }
  const z = m.find((r) => r.server === 'zookeeper');
  const p = m.find((r) => r.server === 'paddock');
  if (z && p) {
    lines.push(['P/ZK', '', ratio(p.fillOpsPerSec, z.fillOpsPerSec), ratio(p.fillP99Ms, z.fillP99Ms), ratio(p.rssMB, z.rssMB), ratio(p.rssBytesPerZnode, z.rssBytesPerZnode), ratio(p.heapBytesPerZnode, z.heapBytesPerZnode), p.firstReadMs !== null && z.firstReadMs !== null ? ratio(p.firstReadMs, z.firstReadMs) : '-']);
  }
  return renderTable(lines);
}

// ---- profile mode ----------------------------------------------------------------------------

async function profile(o: Options): Promise<void> {
  const wanted = o.workloads ?? ['get', 'set'];
  const all = plans(o);
  for (const id of wanted) {
    const plan = all.find((p) => p.id === id);
    if (!plan) throw new Error(`unknown workload ${id}`);
    const dir = mkdtempSync(join(tmpdir(), `bench-prof-${id.replace(/\W/g, '_')}-`));
    const proc = await startServerProc('paddock', { cpuProfDir: dir });
    const leg = await runLeg(plan, proc, o, 0);
    await proc.dispose();
    const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile written in ${dir}`);
    const keep = join(process.env.BENCH_PROFILE_DIR ?? tmpdir(), `paddock-${id.replace(/\W/g, '_')}.cpuprofile`);
    writeFileSync(keep, readFileSync(join(dir, file)));
    rmSync(dir, { recursive: true, force: true });
    const thr = leg.result.ops / (leg.result.windowMs / 1000);
    process.stdout.write(`\n## Paddock CPU profile: ${id} (${f(thr)} ops/s while profiling; ${keep})\n\n`);
    process.stdout.write(formatProfile(summarizeProfile(JSON.parse(readFileSync(keep, 'utf8'))), 25) + '\n');
  }
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.profile) return profile(o);
  const command = `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim();
  if (o.ensemble !== null) return runEnsembleBench({ ...o, size: o.ensemble }, command);
  const all = plans(o);
  const selected = o.workloads ? all.filter((p) => o.workloads!.includes(p.id) || o.workloads!.includes(p.spec.workload)) : all;
  const doMemory = !o.skipMemory && (o.workloads === null || o.workloads.includes('memory'));
  const report = new RunReport(command);
  const log = (s: string): void => void process.stderr.write(s + '\n');

  log(`bench: ${selected.length} workloads x ${o.rounds} round(s), ${o.durationMs / 1000} s each${doMemory ? `, memory/restart with ${o.fill} znodes` : ''}`);
  const durable = await probeDurability();
  const fsyncNote = durable ? 'fsync: ZooKeeper on, Paddock on (txn log on disk)' : 'fsync: ZooKeeper on, Paddock off (in-memory log: data does not survive a restart yet)';
  log(`bench: ${fsyncNote}`);

  const legs: Leg[] = [];
  if (selected.length > 0) {
    const servers: Record<ServerKind, ServerProc> = {
      zookeeper: await startServerProc('zookeeper'),
      paddock: await startServerProc('paddock'),
    };
    try {
      // Warm both servers' JITs (the JVM's especially) before anything is measured.
      const warm = { ...o, durationMs: o.quick ? 1500 : 4000, warmupMs: 0 };
      for (const id of ['get', 'mixed-90/10']) {
        const plan = all.find((p) => p.id === id)!;
        for (const kind of KINDS) await runLeg(plan, servers[kind], warm, -1);
      }
      log('bench: servers warmed up');
      let flip = 0;
      for (const plan of selected) {
        // Idle sessions measure memory per session, so they get fresh servers, and one round (it is slow).
        const rounds = plan.spec.kind === 'idle' ? 1 : o.rounds;
        for (let round = 0; round < rounds; round++) {
          const order = flip++ % 2 === 0 ? KINDS : [...KINDS].reverse();
          for (const kind of order) {
            let leg: Leg;
            if (plan.spec.kind === 'idle') {
              const fresh = await startServerProc(kind);
              try {
                await new Promise((r) => setTimeout(r, 1000));
                const heap0 = await heapUsedAfterGc(fresh);
                const rss0 = rssBytes(fresh.pid);
                leg = await runLeg(plan, fresh, o, round, async (info) => {
                  info.heapDeltaBytes = (await heapUsedAfterGc(fresh)) - heap0;
                  info.rssDeltaBytes = rssBytes(fresh.pid) - rss0;
                });
              } finally {
                await fresh.dispose();
              }
            } else {
              leg = await runLeg(plan, servers[kind], o, round);
            }
            legs.push(leg);
            const r = leg.result;
            log(
              `  ${plan.id.padEnd(18)} ${SHORT[kind].padEnd(8)} round ${round + 1}: ${f(r.ops / (r.windowMs / 1000))} ops/s, ` +
                `p99 ${fLat(Histogram.from(r.hist).percentileMs(0.99))} ms, server CPU ${f((100 * leg.serverCpuSec) / (r.windowMs / 1000))}%` +
                (r.errors ? `, ${r.errors} errors ${JSON.stringify(r.errorCodes)}` : ''),
            );
          }
        }
      }
    } finally {
      await servers.zookeeper.dispose();
      await servers.paddock.dispose();
    }
  }

  const rows: Row[] = [];
  for (const plan of selected) for (const kind of KINDS) {
    const r = aggregate(legs, plan, kind);
    if (r) rows.push(r);
  }

  const memory: MemoryResult[] = [];
  if (doMemory) {
    for (const kind of KINDS) {
      log(`  memory/restart ${SHORT[kind]}: filling ${o.fill} znodes of 100 bytes ...`);
      const m = await memoryAndRestart(kind, o);
      memory.push(m);
      log(`  memory/restart ${SHORT[kind]}: ${f(m.fillOpsPerSec)} creates/s, RSS ${f(m.rssMB)} MB, heap ${f(m.heapBytesPerZnode)} B/znode, first read ${m.firstReadMs === null ? m.restartNote : f(m.firstReadMs) + ' ms'}`);
    }
  }

  report.finish();
  let out = report.head('Paddock vs Apache ZooKeeper');
  out += `settings: same zoo.cfg for both (tickTime=2000, maxClientCnxns=0, globalOutstandingLimit=1000, snapCount=100000), loopback, `;
  out += `${o.rounds} alternating round(s) x ${o.durationMs / 1000} s per workload after ${o.warmupMs / 1000} s warm-up\n`;
  out += `${fsyncNote}\n`;
  out += report.loadLine();
  if (rows.length) out += table(rows, selected) + '\n';
  if (memory.length) out += `\nMemory and restart (${o.fill} znodes of 100 bytes, 1,000 per parent):\n\n` + memoryTable(memory) + '\n';
  process.stdout.write(out);

  if (o.json) {
    report.writeJson(o.json, o, { paddockDurable: durable, fsync: fsyncNote, results: rows, memory }, legs);
    log(`bench: wrote ${o.json}`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
