/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self and total time per function,
 * grouped by function name and source location.
 *
 *   node dist/bench/profile.js file.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  functions: FunctionTime[];
}

function where(cf: CallFrame): string {
  if (!cf.url) return '(native)';
  let u = cf.url.replace(/^file:\/\//, '');
  const i = u.indexOf('/dist/');
  if (i >= 0) u = u.slice(i + 6).replace(/\.js$/, '.ts');
  else u = u.replace(/^node:/, 'node:');
  return `${u}:${cf.lineNumber + 1}`;
}

export function summarizeProfile(p: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next sample.
    const d = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, d));
  }
  const key = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Inclusive time: walk each node's own samples up to the root, counting each key once per path.
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + us);
    const seen = new Set<string>();
    let cur: number | undefined = id;
    while (cur !== undefined) {
      const kk = key(byId.get(cur)!);
      if (!seen.has(kk)) {
        seen.add(kk);
        total.set(kk, (total.get(kk) ?? 0) + us);
      }
      cur = parent.get(cur);
    }
  }
  let all = 0;
  for (const us of selfUs.values()) all += us;
  const get = (name: string): number => [...self.entries()].filter(([k]) => k.startsWith(name + '\u0000')).reduce((n, [, v]) => n + v, 0);
  const functions = [...self.entries()].map(([k, us]) => {
    const [name, loc] = k.split('\u0000') as [string, string];
    return { name, where: loc, selfMs: us / 1000, totalMs: (total.get(k) ?? us) / 1000 };
  });
  functions.sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: all / 1000, idleMs: get('(idle)') / 1000, gcMs: get('(garbage collector)') / 1000, functions };
}

export function formatProfile(s: ProfileSummary, top = 25): string {
  const busy = s.totalMs - s.idleMs;
  const lines = [
    `sampled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s (${((100 * busy) / s.totalMs).toFixed(0)}%), GC ${((100 * s.gcMs) / Math.max(1, busy)).toFixed(1)}% of busy`,
    '',
    '| self % of busy | self ms | total % | function | where |',
    '|---:|---:|---:|:---|:---|',
  ];
  for (const fn of s.functions.filter((x) => x.name !== '(idle)').slice(0, top)) {
    lines.push(
      `| ${((100 * fn.selfMs) / busy).toFixed(1)} | ${fn.selfMs.toFixed(0)} | ${((100 * fn.totalMs) / busy).toFixed(1)} | ${fn.name} | ${fn.where} |`,
    );
  }
  return lines.join('\n');
}

/** Top functions by inclusive time, Paddock's own code only. */
export function formatInclusive(s: ProfileSummary, top = 25): string {
  const busy = s.totalMs - s.idleMs;
  const own = [...s.functions].filter((x) => x.where.startsWith('src/')).sort((a, b) => b.totalMs - a.totalMs).slice(0, top);
  return ['| total % of busy | function | where |', '|---:|:---|:---|', ...own.map((fn) => `| ${((100 * fn.totalMs) / busy).toFixed(1)} | ${fn.name} | ${fn.where} |`)].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js file.cpuprofile [top]\n');
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  process.stdout.write(formatProfile(s, Number(process.argv[3] ?? 30)) + '\n\nInclusive, src/ only:\n\n' + formatInclusive(s, 20) + '\n');
}
