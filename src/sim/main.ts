/**
 * `npm run sim -- [--seed S | --seeds N [--from F]] [--servers 3|5] [--observers K] [--clients M] [--fault-ms T]
 * [--settle-ms T] [--fault-every T] [--trace]`: runs the deterministic ensemble simulator. With --seeds, runs
 * seeds F..F+N-1 alternating 3 and 5 servers unless --servers is given. Every failing seed
 * prints the command that replays it exactly; the exit status is 1 if any seed failed.
 */
import { runSimulation, type SimOptions, type SimResult } from './sim.js';

export interface SimCommand {
  seeds: number[];
  servers: number | null;
  base: Omit<SimOptions, 'seed' | 'servers'>;
}

const USAGE = 'usage: npm run sim -- [--seed S | --seeds N [--from F]] [--servers 3|5] [--observers K] [--clients M] [--fault-ms T] [--settle-ms T] [--fault-every T] [--trace] [--no-sync-reads] [--sabotage learner-skips-log|fsync-lies]';

export function parseSimArgs(argv: readonly string[]): SimCommand {
  let seed: number | null = null;
  let count = 20;
  let from = 1;
  let servers: number | null = null;
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
    else if (arg === '--clients') base.clients = value();
    else if (arg === '--observers') base.observers = value();
    else if (arg === '--fault-ms') base.faultMs = value();
    else if (arg === '--settle-ms') base.settleMs = value();
    else if (arg === '--fault-every') base.faultEveryMs = value();
    else if (arg === '--trace') base.trace = true;
    else if (arg === '--no-sync-reads') base.syncReads = false;
    else if (arg === '--sabotage') {
      const name = argv[++i];
      if (name !== 'learner-skips-log' && name !== 'fsync-lies') throw new Error(`--sabotage takes learner-skips-log or fsync-lies\n${USAGE}`);
      base.sabotage = name;
    }
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (servers !== null && (servers < 1 || servers > 9)) throw new Error(`--servers must be 1..9\n${USAGE}`);
  const seeds = seed !== null ? [seed] : Array.from({ length: count }, (_, i) => from + i);
  return { seeds, servers, base };
}

/** The ensemble size for a seed: given, or 3 and 5 in turn. */
export function serversFor(cmd: SimCommand, seed: number): number {
  return cmd.servers ?? (seed % 2 === 0 ? 5 : 3);
}

export function formatFailure(r: SimResult): string {
  const lines = [`FAIL seed ${r.seed} (${r.servers} servers): ${r.violations[0]}`];
  for (const v of r.violations.slice(1, 5)) lines.push(`  also: ${v}`);
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
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
  let failed = 0;
  for (const seed of cmd.seeds) {
    const r = await runSimulation({ ...cmd.base, seed, servers: serversFor(cmd, seed) });
    if (cmd.base.trace) console.log(r.trace.join('\n'));
    if (!r.ok) {
      failed++;
      console.log(formatFailure(r));
    } else if (cmd.seeds.length === 1) {
      const s = r.stats;
      console.log(`ok seed ${seed} (${r.servers} servers): ${s.ops} ops, ${s.acked} acknowledged writes, ${s.leaders} epochs, ${s.crashes} crashes, ${s.partitions} partitions, syncs ${JSON.stringify(s.syncs)}, ${s.events} events, ${s.simMs} simulated ms`);
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${cmd.seeds.length - failed}/${cmd.seeds.length} seeds passed in ${secs} s`);
  if (failed > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
