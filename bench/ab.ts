#!/usr/bin/env node
/**
 * Paddock against Paddock: two builds (for example a base commit's worktree and this one) under the
 * same load, interleaved A B A B ... so the noise of a shared machine lands on both. Prints, per
 * workload and build, the median over rounds of ops/s and of the server's main-thread CPU per
 * operation, which moves far less with the machine's load than ops/s does.
 *
 *   node dist/bench/ab.js --a /tmp/base --b . [--build more ...] [--workload get,set] [--rounds 3]
 *                         [--duration 3] [--profile dir] [--instructions]
 *
 * --a/--b (and --build for more, named C, D, ...) are checkouts (or copies) holding a built dist/;
 * the load generator is this build's, so every server gets exactly the same client. --profile
 * writes each build's last leg per workload as a .cpuprofile into dir, sampled every 100 µs
 * (then `node dist/bench/profile.js file`). --instructions runs each server under valgrind's
 * callgrind and reports instructions per operation (main thread, and all threads) instead of
 * time: about 50 times slower, but the count barely moves with the machine's load; the defaults
 * become a 20 s warm-up leg and 30 s windows.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { flags } from './args.js';
import { median } from './hist.js';
import { callgrindWrapper, dumpCounts, readFirstDump, startCounting } from './callgrind.js';
import { driveLoadgen } from './leg.js';
import type { LoadSpec, Mode } from './loadgen.js';
import { cpuSeconds, mainThreadCpuSeconds, startServerProc, syscallCounts, type ServerProc } from './servers.js';

interface Options {
  builds: { name: string; root: string }[];
  workloads: string[];
  rounds: number;
  durationMs: number;
  warmupMs: number;
  profileDir: string | null;
  /** Count instructions under callgrind instead of timing. */
  instructions: boolean;
  /** The unmeasured leg that warms the JIT before each measured one. */
  warmLegMs: number;
}

/** The closed-loop shapes of run.ts's table, by id. */
const PLANS: Record<string, { workload: string; mode: Mode; sessions: number; depth: number }> = {
  get: { workload: 'get', mode: 'closed', sessions: 32, depth: 16 },
  'mixed-90/10': { workload: 'mixed', mode: 'closed', sessions: 32, depth: 16 },
  set: { workload: 'set', mode: 'closed', sessions: 32, depth: 16 },
  'create-delete': { workload: 'create-delete', mode: 'closed', sessions: 32, depth: 8 },
  multi5: { workload: 'multi5', mode: 'closed', sessions: 32, depth: 8 },
  'get-1k': { workload: 'get-1k', mode: 'closed', sessions: 32, depth: 16 },
  'get-children-10k': { workload: 'get-children-10k', mode: 'closed', sessions: 8, depth: 2 },
  // One request at a time: the latency of a lone request, without batching (not for
  // --instructions: under valgrind the fsync thread's hand-offs make a lone request very slow).
  'get-depth1': { workload: 'get', mode: 'closed', sessions: 1, depth: 1 },
  'set-depth1': { workload: 'set', mode: 'closed', sessions: 1, depth: 1 },
  'mixed-depth1': { workload: 'mixed', mode: 'closed', sessions: 1, depth: 1 },
};

function parseArgs(argv: string[]): Options {
  const o: Options = { builds: [], workloads: ['get', 'mixed-90/10', 'set'], rounds: 3, durationMs: 3000, warmupMs: 500, profileDir: null, instructions: false, warmLegMs: 1000 };
  const roots: string[] = [];
  let duration: number | null = null;
  for (const [flag, val] of flags(argv)) {
    switch (flag) {
      case '--a':
      case '--b':
      case '--build': roots.push(val()); break;
      case '--workload':
      case '--workloads': o.workloads = val().split(',').filter(Boolean); break;
      case '--rounds': o.rounds = Math.max(1, Number(val())); break;
      case '--duration': duration = Number(val()) * 1000; break;
      case '--instructions': o.instructions = true; break;
      case '--profile': o.profileDir = resolve(val()); break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (o.instructions) o.warmLegMs = 20_000;
  o.durationMs = duration ?? (o.instructions ? 30_000 : o.durationMs);
  if (roots.length < 2) throw new Error('usage: node dist/bench/ab.js --a <checkout> --b <checkout> [--build <checkout> ...] [--workload ids] [--rounds n] [--duration s] [--profile dir] [--instructions]');
  for (const w of o.workloads) if (!PLANS[w]) throw new Error(`unknown workload ${w} (one of ${Object.keys(PLANS).join(', ')})`);
  o.builds = roots.map((root, i) => ({ name: String.fromCharCode(65 + i), root: resolve(root) }));
  return o;
}

interface LegResult {
  opsPerSec: number;
  mainCpuUsPerOp: number;
  cpuUsPerOp: number;
  /** Socket reads and writes per operation: how well replies and requests are batched. */
  readsPerOp: number;
  writesPerOp: number;
  /** --instructions: per operation, the main thread's and every thread's. */
  mainInstrPerOp: number;
  instrPerOp: number;
}

async function runLeg(id: string, server: ServerProc, o: Options, seed: number, countDir?: string): Promise<LegResult> {
  const spec: LoadSpec = { ...PLANS[id]!, kind: 'ops', rate: 0, port: server.port, durationMs: o.durationMs, warmupMs: o.warmupMs, seed };
  let cpu0 = 0;
  let main0 = 0;
  let io0 = { reads: 0, writes: 0 };
  const measured = { cpu: 0, main: 0, io: { reads: 0, writes: 0 } };
  const r = await driveLoadgen(spec, id, {
    onWindowStart: () => {
      cpu0 = cpuSeconds(server.pid);
      main0 = mainThreadCpuSeconds(server.pid);
      io0 = syscallCounts(server.pid);
      if (countDir) startCounting(server.pid);
    },
    onWindowEnd: () => {
      measured.cpu = cpuSeconds(server.pid) - cpu0;
      measured.main = mainThreadCpuSeconds(server.pid) - main0;
      const io1 = syscallCounts(server.pid);
      measured.io = { reads: io1.reads - io0.reads, writes: io1.writes - io0.writes };
      if (countDir) dumpCounts(server.pid);
    },
  });
  // The dump is complete once the server has exited.
  if (countDir) await server.stop();
  const instr = countDir ? readFirstDump(countDir) : { main: 0, all: 0 };
  if (r.errors) throw new Error(`${id}: ${r.errors} errors ${JSON.stringify(r.errorCodes)}`);
  const ops = Math.max(1, r.ops);
  const { cpu, main, io } = measured;
  return { opsPerSec: r.ops / (r.windowMs / 1000), mainCpuUsPerOp: (main * 1e6) / ops, cpuUsPerOp: (cpu * 1e6) / ops, readsPerOp: io.reads / ops, writesPerOp: io.writes / ops, mainInstrPerOp: instr.main / ops, instrPerOp: instr.all / ops };
}

function describe(r: LegResult): string {
  const io = `${r.readsPerOp.toFixed(3)} reads/op, ${r.writesPerOp.toFixed(3)} writes/op`;
  if (r.instrPerOp) return `${r.opsPerSec.toFixed(0)} ops/s under callgrind, ${r.mainInstrPerOp.toFixed(0)} main-thread instructions/op (${r.instrPerOp.toFixed(0)} all threads), ${io}`;
  return `${r.opsPerSec.toFixed(0)} ops/s, main thread ${r.mainCpuUsPerOp.toFixed(2)} µs/op, ${io}`;
}

/** One server per build for a workload (fresh, so no leg inherits another workload's tree). */
async function compare(id: string, o: Options, log: (s: string) => void): Promise<Map<string, LegResult[]>> {
  const results = new Map<string, LegResult[]>(o.builds.map((b) => [b.name, []]));
  for (let round = 0; round < o.rounds; round++) {
    // Alternate which build goes first, so a drift within a round is shared too.
    const order = round % 2 === 0 ? o.builds : [...o.builds].reverse();
    for (const build of order) {
      const profDir = o.profileDir && round === o.rounds - 1 ? mkdtempSync(join(tmpdir(), 'ab-prof-')) : undefined;
      const countDir = o.instructions ? mkdtempSync(join(tmpdir(), 'ab-callgrind-')) : undefined;
      const server = await startServerProc('paddock', {
        paddockCli: join(build.root, 'dist/src/cli/main.js'),
        cpuProfDir: profDir,
        cpuProfIntervalUs: 100,
        wrapper: countDir ? callgrindWrapper(countDir) : undefined,
        startTimeoutMs: countDir ? 300_000 : undefined,
      });
      try {
        // An unmeasured leg warms the JIT, as run.ts warms its servers.
        await runLeg(id, server, { ...o, durationMs: o.warmLegMs, warmupMs: 0 }, 1);
        const r = await runLeg(id, server, o, 1000 + round, countDir);
        results.get(build.name)!.push(r);
        log(`  ${id.padEnd(17)} ${build.name} round ${round + 1}: ${describe(r)}`);
      } finally {
        await server.dispose();
        if (countDir) rmSync(countDir, { recursive: true, force: true });
      }
      if (profDir) {
        const file = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile'));
        mkdirSync(o.profileDir!, { recursive: true });
        if (file) renameSync(join(profDir, file), join(o.profileDir!, `${build.name}-${id.replace(/\W/g, '_')}.cpuprofile`));
        rmSync(profDir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(s + '\n');
  log(`ab: ${o.builds.map((b) => `${b.name}=${b.root}`).join(' ')}, ${o.rounds} rounds x ${o.durationMs / 1000} s`);
  let out = o.instructions
    ? '| workload | build | main-thread instructions/op (median) | all threads (median) | min / max main-thread | reads/op | writes/op | rounds |\n|:--|:--|--:|--:|--:|--:|--:|--:|\n'
    : '| workload | build | ops/s (median) | main-thread µs/op (median) | server µs/op (median) | reads/op | writes/op | rounds |\n|:--|:--|--:|--:|--:|--:|--:|--:|\n';
  for (const id of o.workloads) {
    const results = await compare(id, o, log);
    for (const b of o.builds) {
      const rs = results.get(b.name)!;
      const io = `${median(rs.map((r) => r.readsPerOp)).toFixed(3)} | ${median(rs.map((r) => r.writesPerOp)).toFixed(3)} | ${rs.length}`;
      if (o.instructions) {
        const mains = rs.map((r) => r.mainInstrPerOp);
        out += `| ${id} | ${b.name} | ${median(mains).toFixed(0)} | ${median(rs.map((r) => r.instrPerOp)).toFixed(0)} | ${Math.min(...mains).toFixed(0)} / ${Math.max(...mains).toFixed(0)} | ${io} |\n`;
      } else {
        out += `| ${id} | ${b.name} | ${median(rs.map((r) => r.opsPerSec)).toFixed(0)} | ${median(rs.map((r) => r.mainCpuUsPerOp)).toFixed(2)} | ${median(rs.map((r) => r.cpuUsPerOp)).toFixed(2)} | ${io} |\n`;
      }
    }
  }
  process.stdout.write(out);
}

main().catch((e: Error) => {
  process.stderr.write(`ab: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
