#!/usr/bin/env node
/**
 * Paddock ensemble against Paddock ensemble: two builds, each a 3-server ensemble on loopback (all
 * up for the whole run), under the same write load, legs interleaved A B B A ... so the noise of
 * a shared machine lands on both. Per workload and build it prints the median over rounds of
 * ops/s, p50 latency, server CPU per operation summed over the members (the measure that moves
 * least with the machine's load), and each member's socket reads and writes per operation
 * (leader first), which show how well packets are batched.
 *
 *   node dist/bench/ens-ab.js --a /tmp/base --b . [--workload set,set-depth1] [--rounds 4]
 *                             [--duration 4] [--size 3] [--profile dir]
 *
 * --node-options B='--max-semi-space-size=32' starts one build's members with those NODE_OPTIONS
 * (V8 flags compared on the same build: give the same checkout twice).
 *
 * --profile runs every member under `node --cpu-prof` (100 µs samples) and writes one profile per
 * build and member (leader or follower) into dir when the run ends; the profiles then cover every
 * leg of that build (summarise with `node dist/bench/profile.js file`).
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { flags } from './args.js';
import { Histogram, median, summarize } from './hist.js';
import { driveLoadgen } from './leg.js';
import type { LoadSpec } from './loadgen.js';
import { cpuSeconds, ensemblePeers, fourLetterWord, freePort, mainThreadCpuSeconds, startServerProc, syscallCounts, type ServerProc } from './servers.js';

interface Options {
  builds: { name: string; root: string; nodeOptions: string | null }[];
  workloads: string[];
  rounds: number;
  durationMs: number;
  size: number;
  profileDir: string | null;
}

const PLANS: Record<string, (size: number) => { workload: string; sessions: number; depth: number }> = {
  set: () => ({ workload: 'set', sessions: 32, depth: 16 }),
  'set-depth1': (size) => ({ workload: 'set', sessions: size, depth: 1 }),
  'mixed-90/10': () => ({ workload: 'mixed', sessions: 32, depth: 16 }),
};

function parseArgs(argv: string[]): Options {
  const o: Options = { builds: [], workloads: ['set', 'set-depth1'], rounds: 4, durationMs: 4000, size: 3, profileDir: null };
  const roots: string[] = [];
  const nodeOptions = new Map<string, string>();
  for (const [flag, val] of flags(argv)) {
    switch (flag) {
      case '--a':
      case '--b':
      case '--build': roots.push(val()); break;
      case '--workload':
      case '--workloads': o.workloads = val().split(',').filter(Boolean); break;
      case '--rounds': o.rounds = Math.max(1, Number(val())); break;
      case '--duration': o.durationMs = Number(val()) * 1000; break;
      case '--size': o.size = Number(val()); break;
      case '--profile': o.profileDir = resolve(val()); break;
      case '--node-options': {
        const [name, ...rest] = val().split('=');
        nodeOptions.set(name!, rest.join('='));
        break;
      }
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (roots.length < 2) throw new Error('usage: node dist/bench/ens-ab.js --a <checkout> --b <checkout> [--workload ids] [--rounds n] [--duration s] [--size n] [--profile dir]');
  for (const w of o.workloads) if (!PLANS[w]) throw new Error(`unknown workload ${w} (one of ${Object.keys(PLANS).join(', ')})`);
  if (!Number.isInteger(o.size) || o.size < 3 || o.size % 2 === 0) throw new Error('--size must be odd and at least 3');
  o.builds = roots.map((root, i) => {
    const name = String.fromCharCode(65 + i);
    return { name, root: resolve(root), nodeOptions: nodeOptions.get(name) ?? null };
  });
  return o;
}

interface Ensemble {
  build: string;
  procs: ServerProc[];
  /** Index of the leader in procs. */
  leader: number;
  profDir: string | null;
  dataDirs: string[];
}

async function startEnsemble(build: Options['builds'][number], o: Options): Promise<Ensemble> {
  // The members inherit this process's environment when spawned; the builds start one at a time.
  const saved = process.env.NODE_OPTIONS;
  if (build.nodeOptions !== null) process.env.NODE_OPTIONS = build.nodeOptions;
  try {
    return await startMembers(build, o);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

async function startMembers(build: Options['builds'][number], o: Options): Promise<Ensemble> {
  const peers = await ensemblePeers(o.size);
  const ports = await Promise.all(peers.map(() => freePort()));
  const dataDirs = peers.map((p) => mkdtempSync(join(tmpdir(), `ens-ab-${build.name}-${p.id}-`)));
  const profDir = o.profileDir ? mkdtempSync(join(tmpdir(), `ens-ab-prof-${build.name}-`)) : null;
  const started = await Promise.allSettled(
    peers.map((p, i) =>
      startServerProc('paddock', {
        dataDir: dataDirs[i],
        port: ports[i],
        ensemble: { myid: p.id, peers },
        paddockCli: join(build.root, 'dist/src/cli/main.js'),
        ...(profDir ? { cpuProfDir: join(profDir, String(p.id)), cpuProfIntervalUs: 100 } : {}),
        startTimeoutMs: 120_000,
      }),
    ),
  );
  const procs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const ens: Ensemble = { build: build.name, procs, leader: -1, profDir, dataDirs };
  if (failed) {
    await stopEnsemble(ens, null);
    throw failed.reason as Error;
  }
  ens.leader = await findLeader(procs);
  return ens;
}

async function findLeader(procs: readonly ServerProc[]): Promise<number> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const modes = await Promise.all(procs.map((p) => fourLetterWord(p.port, 'srvr', 1000).catch(() => '')));
    const leaders = modes.flatMap((m, i) => (/Mode: leader/.test(m) ? [i] : []));
    if (leaders.length === 1 && modes.every((m) => m.includes('Mode:'))) return leaders[0]!;
    // Other processes' state: nothing to wait on but the next poll.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no single leader within 30 s');
}

async function stopEnsemble(ens: Ensemble, profileDir: string | null): Promise<void> {
  await Promise.all(ens.procs.map((p) => p.stop()));
  for (const d of ens.dataDirs) rmSync(d, { recursive: true, force: true });
  if (ens.profDir === null) return;
  if (profileDir !== null) {
    mkdirSync(profileDir, { recursive: true });
    ens.procs.forEach((p, i) => {
      const dir = join(ens.profDir!, String(i + 1));
      const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
      const role = i === ens.leader ? 'leader' : `follower${i + 1}`;
      if (file) renameSync(join(dir, file), join(profileDir, `${ens.build}-${role}.cpuprofile`));
    });
  }
  rmSync(ens.profDir, { recursive: true, force: true });
}

interface LegResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerOp: number;
  mainCpuUsPerOp: number;
  /** Per member, leader first: socket (and file) read and write syscalls per operation. */
  readsPerOp: number[];
  writesPerOp: number[];
}

async function runLeg(id: string, ens: Ensemble, o: Options, seed: number, durationMs: number): Promise<LegResult> {
  const plan = PLANS[id]!(o.size);
  const ordered = [ens.procs[ens.leader]!, ...ens.procs.filter((_, i) => i !== ens.leader)];
  const spec: LoadSpec = { ...plan, kind: 'ops', mode: 'closed', rate: 0, port: ens.procs[0]!.port, ports: ens.procs.map((p) => p.port), durationMs, warmupMs: 500, seed };
  const at0 = { cpu: 0, main: 0, io: [] as { reads: number; writes: number }[] };
  const delta = { cpu: 0, main: 0, io: [] as { reads: number; writes: number }[] };
  const sumOf = (read: (pid: number) => number): number => ordered.reduce((n, p) => n + read(p.pid), 0);
  const r = await driveLoadgen(spec, `${id} on ${ens.build}`, {
    onWindowStart: () => {
      at0.cpu = sumOf(cpuSeconds);
      at0.main = sumOf(mainThreadCpuSeconds);
      at0.io = ordered.map((p) => syscallCounts(p.pid));
    },
    onWindowEnd: () => {
      delta.cpu = sumOf(cpuSeconds) - at0.cpu;
      delta.main = sumOf(mainThreadCpuSeconds) - at0.main;
      delta.io = ordered.map((p, i) => {
        const now = syscallCounts(p.pid);
        return { reads: now.reads - at0.io[i]!.reads, writes: now.writes - at0.io[i]!.writes };
      });
    },
  });
  if (r.errors) throw new Error(`${id} on ${ens.build}: ${r.errors} errors ${JSON.stringify(r.errorCodes)}`);
  const ops = Math.max(1, r.ops);
  const lat = summarize(Histogram.from(r.hist));
  return {
    opsPerSec: r.ops / (r.windowMs / 1000),
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    cpuUsPerOp: (delta.cpu * 1e6) / ops,
    mainCpuUsPerOp: (delta.main * 1e6) / ops,
    readsPerOp: delta.io.map((x) => x.reads / ops),
    writesPerOp: delta.io.map((x) => x.writes / ops),
  };
}

const perMember = (rs: LegResult[], pick: (r: LegResult) => number[]): string =>
  pick(rs[0]!).map((_, i) => median(rs.map((r) => pick(r)[i]!)).toFixed(2)).join(' / ');

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(s + '\n');
  log(`ens-ab: ${o.builds.map((b) => `${b.name}=${b.root}${b.nodeOptions ? ` (NODE_OPTIONS=${b.nodeOptions})` : ''}`).join(' ')}, ${o.size} servers each, ${o.rounds} rounds x ${o.durationMs / 1000} s`);
  const ensembles: Ensemble[] = [];
  try {
    for (const b of o.builds) ensembles.push(await startEnsemble(b, o));
    const results = new Map<string, LegResult[]>();
    for (const id of o.workloads) for (const e of ensembles) {
      // A short unmeasured leg warms the JIT.
      await runLeg(id, e, o, 1, 1000);
      results.set(`${id} ${e.build}`, []);
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? ensembles : [...ensembles].reverse();
      for (const id of o.workloads) for (const e of order) {
        const r = await runLeg(id, e, o, 1000 + round, o.durationMs);
        results.get(`${id} ${e.build}`)!.push(r);
        log(`  ${id.padEnd(11)} ${e.build} round ${round + 1}: ${r.opsPerSec.toFixed(0)} ops/s, p50 ${r.p50Ms.toFixed(3)} ms, server ${r.cpuUsPerOp.toFixed(1)} µs/op (main threads ${r.mainCpuUsPerOp.toFixed(1)}), reads/op ${r.readsPerOp.map((x) => x.toFixed(2)).join('/')}, writes/op ${r.writesPerOp.map((x) => x.toFixed(2)).join('/')}`);
      }
    }
    let out = `| workload | build | ops/s | p50 ms | p99 ms | server CPU µs/op | main threads µs/op | reads/op (leader / followers) | writes/op (leader / followers) |\n|:--|:--|--:|--:|--:|--:|--:|--:|--:|\n`;
    for (const id of o.workloads) for (const b of o.builds) {
      const rs = results.get(`${id} ${b.name}`)!;
      const m = (pick: (r: LegResult) => number, digits: number): string => median(rs.map(pick)).toFixed(digits);
      out += `| ${id} | ${b.name} | ${m((r) => r.opsPerSec, 0)} | ${m((r) => r.p50Ms, 3)} | ${m((r) => r.p99Ms, 2)} | ${m((r) => r.cpuUsPerOp, 1)} | ${m((r) => r.mainCpuUsPerOp, 1)} | ${perMember(rs, (r) => r.readsPerOp)} | ${perMember(rs, (r) => r.writesPerOp)} |\n`;
    }
    process.stdout.write(out);
  } finally {
    for (const e of ensembles) await stopEnsemble(e, o.profileDir);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`ens-ab: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
