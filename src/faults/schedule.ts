/**
 * The nemesis schedule, from a seed: which fault, when, for how long, against whom. Pure; the
 * runner resolves 'leader' targets at run time and applies the steps.
 */
import { Prng } from '../lib/prng.js';

export const NEMESES = [
  'kill', // kill -9 one server, restart it with its disk
  'pause', // SIGSTOP one server, SIGCONT it later
  'partition-isolate', // cut one server off from the others
  'partition-halves', // a minority (with the target) and a majority
  'partition-bridge', // two sides that only the target still connects
  'partition-oneway', // the target's packets to the others are dropped, theirs to it arrive
  'disk-full', // fill the target's data filesystem, free it later
  'kill-all', // kill -9 every server at once, restart them all
] as const;
export type NemesisName = (typeof NEMESES)[number];

export const PARTITIONS: readonly NemesisName[] = ['partition-isolate', 'partition-halves', 'partition-bridge', 'partition-oneway'];

/** Who a step hits: the current leader (found at run time), or a server chosen by the seed. */
export type Target = { kind: 'leader' } | { kind: 'server'; id: number };

export interface Step {
  atMs: number;
  durationMs: number;
  /** One or two nemeses applied together (a combination). */
  faults: { nemesis: NemesisName; target: Target }[];
}

export interface ScheduleOptions {
  seed: number;
  /** Length of the faulty phase. */
  durationMs: number;
  servers: number;
  nemeses: readonly NemesisName[];
  /** Chance that a step aims at the leader rather than a random server. Default 0.5. */
  leaderBias?: number;
  /** Chance that a step combines two nemeses. Default 0.2. */
  combineChance?: number;
  /** Fault length range. Default 3..8 s. */
  faultMs?: [number, number];
  /** Healthy gap range between faults. Default 2..5 s. */
  gapMs?: [number, number];
  /** Most steps whatever the duration. Default 50. */
  maxSteps?: number;
}

export function makeSchedule(options: ScheduleOptions): Step[] {
  if (options.nemeses.length === 0) return [];
  const prng = new Prng(options.seed);
  const [faultMin, faultMax] = options.faultMs ?? [3000, 8000];
  const [gapMin, gapMax] = options.gapMs ?? [2000, 5000];
  const within = (lo: number, hi: number): number => lo + prng.int(Math.max(1, hi - lo + 1));
  const target = (): Target => (prng.bool(options.leaderBias ?? 0.5) ? { kind: 'leader' } : { kind: 'server', id: 1 + prng.int(options.servers) });
  const steps: Step[] = [];
  let at = within(gapMin, gapMax);
  while (steps.length < (options.maxSteps ?? 50)) {
    const durationMs = within(faultMin, faultMax);
    if (at + durationMs > options.durationMs) break;
    const first = prng.pick(options.nemeses);
    const faults = [{ nemesis: first, target: target() }];
    const others = options.nemeses.filter((n) => compatible(first, n));
    if (others.length > 0 && prng.bool(options.combineChance ?? 0.2)) faults.push({ nemesis: prng.pick(others), target: target() });
    steps.push({ atMs: at, durationMs, faults });
    at += durationMs + within(gapMin, gapMax);
  }
  return steps;
}

/** Two partitions would fight over the routes, and kill-all already covers every other fault. */
function compatible(a: NemesisName, b: NemesisName): boolean {
  if (a === 'kill-all' || b === 'kill-all') return false;
  if (PARTITIONS.includes(a) && PARTITIONS.includes(b)) return false;
  return a !== b;
}

/**
 * The packets each server drops, as server -> servers it cannot send to, for a partition
 * nemesis aimed at `target` among servers 1..n. A symmetric cut drops both directions.
 */
export function grudge(nemesis: NemesisName, n: number, target: number): Map<number, Set<number>> {
  const all = Array.from({ length: n }, (_, i) => i + 1);
  const others = all.filter((s) => s !== target);
  const out = new Map<number, Set<number>>(all.map((s) => [s, new Set<number>()]));
  const cut = (a: number, b: number): void => {
    out.get(a)?.add(b);
    out.get(b)?.add(a);
  };
  switch (nemesis) {
    case 'partition-isolate':
      for (const o of others) cut(target, o);
      break;
    case 'partition-halves': {
      // The target plus the next servers up to a minority, against the rest.
      const minoritySize = Math.floor((n - 1) / 2);
      const minority = new Set([target, ...others.slice(0, Math.max(0, minoritySize - 1))]);
      for (const a of minority) for (const b of all) if (!minority.has(b)) cut(a, b);
      break;
    }
    case 'partition-bridge': {
      // Everyone but the target splits into two sides; the target still reaches both.
      const half = Math.ceil(others.length / 2);
      const left = others.slice(0, half);
      const right = others.slice(half);
      for (const a of left) for (const b of right) cut(a, b);
      break;
    }
    case 'partition-oneway':
      for (const o of others) out.get(target)?.add(o);
      break;
    default:
      throw new RangeError(`${nemesis} is not a partition`);
  }
  return out;
}

/** A readable summary of a step, for logs and the report. */
export function describeStep(step: Step): string {
  const f = step.faults.map((x) => `${x.nemesis}@${x.target.kind === 'leader' ? 'leader' : `s${x.target.id}`}`).join(' + ');
  return `t=${(step.atMs / 1000).toFixed(1)}s ${f} for ${(step.durationMs / 1000).toFixed(1)}s`;
}
