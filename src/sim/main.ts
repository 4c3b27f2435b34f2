/**
 * `npm run sim -- [--seed S | --seeds N [--from F]] [--servers 3|5] [--observers K] [--jobs J]
 * [--clients M] [--fault-ms T] [--settle-ms T] [--fault-every T] [--trace] [--fingerprint]`: runs the deterministic
 * ensemble simulator. With --seeds, runs seeds F..F+N-1 alternating 3 and 5 servers unless
 * --servers is given, in J worker threads (default 1). Every failing seed prints the command that
 * replays it exactly, in seed order whatever the jobs; the last line counts the seeds that passed
 * and the time taken; the exit status is 1 if any seed failed. --fingerprint prints one line per
 * seed with a digest of everything the run did (the same on every replay of the same code).
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { runSimulation, type SimOptions, type SimResult } from './sim.js';

export interface SimCommand {
  seeds: number[];
  servers: number | null;
  /** Worker threads running seeds (1: run them in this thread). */
  jobs: number;
  base: Omit<SimOptions, 'seed' | 'servers'>;
}

const USAGE = 'usage: npm run sim -- [--seed S | --seeds N [--from F]] [--servers 3|5] [--observers K] [--jobs J] [--clients M] [--fault-ms T] [--settle-ms T] [--fault-every T] [--trace] [--fingerprint] [--no-sync-reads] [--sabotage learner-skips-log|fsync-lies]';
/** More threads than this gains nothing on any machine we run on, and each holds a simulation. */
const MAX_JOBS = 64;

export function parseSimArgs(argv: readonly string[]): SimCommand {
  let seed: number | null = null;
  let count = 20;
  let from = 1;
  let servers: number | null = null;
  let jobs = 1;
  const base: SimCommand['base'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${arg} takes a whole number\n${USAGE}`);
      return v;
    };
    if (arg === '--seed') seed = value();
    else if (arg === '--seeds') count = value();
    else if (arg === '--from') from = value();
    else if (arg === '--servers') servers = value();
    else if (arg === '--jobs') jobs = value();
    else if (arg === '--clients') base.clients = value();
    else if (arg === '--observers') base.observers = value();
    else if (arg === '--fault-ms') base.faultMs = value();
    else if (arg === '--settle-ms') base.settleMs = value();
    else if (arg === '--fault-every') base.faultEveryMs = value();
    else if (arg === '--trace') base.trace = true;
    else if (arg === '--fingerprint') base.fingerprint = true;
    else if (arg === '--no-sync-reads') base.syncReads = false;
    else if (arg === '--sabotage') {
      const name = argv[++i];
      if (name !== 'learner-skips-log' && name !== 'fsync-lies') throw new Error(`--sabotage takes learner-skips-log or fsync-lies\n${USAGE}`);
      base.sabotage = name;
    }
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (servers !== null && (servers < 1 || servers > 9)) throw new Error(`--servers must be 1..9\n${USAGE}`);
  if (jobs < 1 || jobs > MAX_JOBS) throw new Error(`--jobs must be 1..${MAX_JOBS} (this machine has ${availableParallelism()} cores)\n${USAGE}`);
  const seeds = seed !== null ? [seed] : Array.from({ length: count }, (_, i) => from + i);
  return { seeds, servers, jobs: Math.min(jobs, seeds.length), base };
}

/** The ensemble size for a seed: given, or 3 and 5 in turn. */
export function serversFor(cmd: Pick<SimCommand, 'servers'>, seed: number): number {
  return cmd.servers ?? (seed % 2 === 0 ? 5 : 3);
}

export function formatFailure(r: SimResult): string {
  const lines = [`FAIL seed ${r.seed} (${r.servers} servers): ${r.violations[0]}`];
  for (const v of r.violations.slice(1, 5)) lines.push(`  also: ${v}`);
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
}

/** What one seed prints, and whether it passed: the same text from this thread or a worker. */
export interface SeedReport {
  seed: number;
  servers: number;
  ok: boolean;
  text: string;
}

/** Runs one seed; `alone` (the only seed of the run) adds a line of statistics when it passes. */
export async function runSeed(cmd: Pick<SimCommand, 'servers' | 'base'>, seed: number, alone: boolean): Promise<SeedReport> {
  const r = await runSimulation({ ...cmd.base, seed, servers: serversFor(cmd, seed) });
  const lines = cmd.base.trace ? [r.trace.join('\n')] : [];
  if (r.fingerprint !== undefined) lines.push(`fingerprint seed ${seed} (${r.servers} servers): ${r.fingerprint} ${r.ok ? 'ok' : 'FAIL'}`);
  if (!r.ok) lines.push(formatFailure(r));
  else if (alone) {
    const s = r.stats;
    lines.push(`ok seed ${seed} (${r.servers} servers): ${s.ops} ops, ${s.acked} acknowledged writes, ${s.leaders} epochs, ${s.crashes} crashes, ${s.partitions} partitions, syncs ${JSON.stringify(s.syncs)}, ${s.events} events, ${s.simMs} simulated ms`);
  }
  return { seed, servers: r.servers, ok: r.ok, text: lines.join('\n') };
}

/** The last line: seeds passed, wall and CPU time, and the failing seeds (with their ensemble size). */
export function formatSummary(reports: readonly SeedReport[], total: number, jobs: number, wallMs: number, cpuMs: number): string {
  const failed = reports.filter((r) => !r.ok);
  const line = `${total - failed.length}/${total} seeds passed in ${(wallMs / 1000).toFixed(1)} s (${jobs} job${jobs === 1 ? '' : 's'}, ${(cpuMs / 1000).toFixed(1)} s CPU)`;
  if (failed.length === 0) return line;
  const shown = failed.slice(0, 50).map((r) => `${r.seed}/${r.servers}`);
  return `${line}; failed seed/servers: ${shown.join(' ')}${failed.length > shown.length ? ` and ${failed.length - shown.length} more` : ''}`;
}

/**
 * Runs the seeds in `cmd.jobs` worker threads, each taking the next seed when it finishes one,
 * and hands the reports over in seed order (a report waits for the seeds before it), so the
 * output is the same as in one thread.
 */
function runInWorkers(cmd: SimCommand, onReport: (r: SeedReport) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = new Map<number, SeedReport>();
    let nextToHand = 0;
    let nextToRun = 0;
    let running = cmd.jobs;
    const workers: Worker[] = [];
    const fail = (err: Error): void => {
      for (const w of workers) void w.terminate();
      reject(err);
    };
    const feed = (w: Worker): void => {
      if (nextToRun < cmd.seeds.length) {
        w.postMessage(cmd.seeds[nextToRun++]);
        return;
      }
      void w.terminate();
      if (--running === 0) resolve();
    };
    for (let i = 0; i < cmd.jobs; i++) {
      const w = new Worker(new URL(import.meta.url), { workerData: { simWorker: { servers: cmd.servers, base: cmd.base } } });
      workers.push(w);
      w.on('message', (r: SeedReport) => {
        done.set(r.seed, r);
        for (let seed = cmd.seeds[nextToHand]; seed !== undefined && done.has(seed); seed = cmd.seeds[++nextToHand]) {
          onReport(done.get(seed)!);
          done.delete(seed);
        }
        feed(w);
      });
      w.on('error', (err) => fail(new Error(`simulator worker failed: ${err.message}`)));
      feed(w);
    }
  });
}

/** A worker thread: runs each seed it is sent and posts its report. */
function worker(cmd: Pick<SimCommand, 'servers' | 'base'>): void {
  // Workers run only when there are several seeds.
  parentPort!.on('message', (seed: number) => {
    void runSeed(cmd, seed, false).then((r) => parentPort!.postMessage(r));
  });
}

async function main(): Promise<void> {
  let cmd: SimCommand;
  try {
    cmd = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  const cpuStart = process.cpuUsage();
  const reports: SeedReport[] = [];
  const onReport = (r: SeedReport): void => {
    reports.push(r);
    if (r.text !== '') console.log(r.text);
  };
  if (cmd.jobs === 1) for (const seed of cmd.seeds) onReport(await runSeed(cmd, seed, cmd.seeds.length === 1));
  else await runInWorkers(cmd, onReport);
  const cpu = process.cpuUsage(cpuStart);
  console.log(formatSummary(reports, cmd.seeds.length, cmd.jobs, Date.now() - started, (cpu.user + cpu.system) / 1000));
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
}

const simWorker = isMainThread ? undefined : (workerData as { simWorker?: Parameters<typeof worker>[0] } | null)?.simWorker;
if (simWorker !== undefined) worker(simWorker);
else if (isMainThread && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 2;
  });
}
