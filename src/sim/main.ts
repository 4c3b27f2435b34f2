/**
 * `npm run sim -- [--seed S | --seeds N [--from F]] [--servers 3|5] [--observers K] [--jobs J]
 * [--clients M] [--fault-ms T] [--settle-ms T] [--fault-every T] [--trace] [--fingerprint]`: runs the deterministic
 * ensemble simulator. With --seeds, runs seeds F..F+N-1 alternating 3 and 5 servers unless
 * --servers is given, in J worker threads (default 1). Every failing seed prints the command that
 * replays it exactly, in seed order whatever the jobs; a progress line comes every 30 s (seeds done,
 * failures, rate, CPU per seed, time left, memory); the last line counts the seeds that passed
 * and the time taken; the exit status is 1 if any seed failed. A long run can be split or resumed
 * with --from (seeds F..F+N-1). --fingerprint prints one line per
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

/**
 * The last line: seeds passed, wall and CPU time, and the failing seeds (with their ensemble
 * size). `reports` needs to hold only the failures.
 */
export function formatSummary(reports: readonly Pick<SeedReport, 'seed' | 'servers' | 'ok'>[], total: number, jobs: number, wallMs: number, cpuMs: number): string {
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

/** How often a long run says how far it got. */
const PROGRESS_MS = 30_000;

/**
 * What the parent keeps of a run: counts and the failures only, so that a run of 100,000 seeds
 * holds no state per passing seed.
 */
export class RunTally {
  done = 0;
  readonly failed: SeedReport[] = [];
  private lastProgressMs: number;

  constructor(
    readonly total: number,
    private readonly startedMs: number,
  ) {
    this.lastProgressMs = startedMs;
  }

  add(r: SeedReport): void {
    this.done++;
    if (!r.ok) this.failed.push({ ...r, text: '' });
  }

  /** A progress line once PROGRESS_MS have passed since the last one (or the start), else null. */
  progress(nowMs: number, cpuMs: number, rssBytes: number): string | null {
    if (nowMs - this.lastProgressMs < PROGRESS_MS || this.done === this.total) return null;
    this.lastProgressMs = nowMs;
    const elapsedS = (nowMs - this.startedMs) / 1000;
    const rate = this.done / Math.max(elapsedS, 0.001);
    const leftS = (this.total - this.done) / Math.max(rate, 1e-9);
    return `progress: ${this.done}/${this.total} seeds, ${this.failed.length} failed, ${rate.toFixed(2)} seeds/s, ${(cpuMs / Math.max(this.done, 1)).toFixed(0)} ms CPU/seed, ${formatDuration(elapsedS)} elapsed, ~${formatDuration(leftS)} left, rss ${Math.round(rssBytes / 1048576)} MB`;
  }
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
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
  const cpuMs = (): number => {
    const cpu = process.cpuUsage(cpuStart);
    return (cpu.user + cpu.system) / 1000;
  };
  const tally = new RunTally(cmd.seeds.length, started);
  const onReport = (r: SeedReport): void => {
    tally.add(r);
    if (r.text !== '') console.log(r.text);
    const line = tally.progress(Date.now(), cpuMs(), process.memoryUsage.rss());
    if (line !== null) console.log(line);
  };
  if (cmd.jobs === 1) for (const seed of cmd.seeds) onReport(await runSeed(cmd, seed, cmd.seeds.length === 1));
  else await runInWorkers(cmd, onReport);
  console.log(formatSummary(tally.failed, cmd.seeds.length, cmd.jobs, Date.now() - started, cpuMs()));
  if (tally.failed.length > 0) process.exitCode = 1;
}

const simWorker = isMainThread ? undefined : (workerData as { simWorker?: Parameters<typeof worker>[0] } | null)?.simWorker;
if (simWorker !== undefined) worker(simWorker);
else if (isMainThread && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 2;
  });
}
