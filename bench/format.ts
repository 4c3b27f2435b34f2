/** Number formats, markdown tables and the facts about the machine that every bench report prints. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram, summarize } from './hist.js';
import type { Leg } from './leg.js';
import { ZK_HEAP } from './servers.js';

const here = dirname(fileURLToPath(import.meta.url));

export const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
export const fLat = (ms: number): string => (!Number.isFinite(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0));
export const ratio = (p: number, z: number): string => (Number.isFinite(p) && Number.isFinite(z) && z > 0 ? (p / z).toFixed(2) : '-');

export function renderTable(lines: string[][]): string {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]): string => '| ' + l.map((c, i) => (i < 2 || i === l.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i < 2 || i === widths.length - 1 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [fmt(lines[0]!), sep, ...lines.slice(1).map(fmt)].join('\n');
}

/** Share of time some task waited for a CPU over the last 5 minutes (Linux PSI), or null. */
export function cpuPressure(): number | null {
  try {
    const m = /some avg10=[\d.]+ avg60=[\d.]+ avg300=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The commit measured, with '+dirty' when the working tree has changes. */
export function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: resolve(here, '../..'), encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: resolve(here, '../..'), encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function machine(): Record<string, string | number> {
  const c = cpus();
  return {
    cpu: `${c.length} x ${c[0]?.model ?? '?'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    java: '/usr/bin/java (OpenJDK 17)',
    zookeeper: 'Apache ZooKeeper 3.8.0 (Debian package), ' + ZK_HEAP,
  };
}

/**
 * What every bench report says about its run besides the numbers: when, on what machine, by
 * which command, and how loaded the machine was at the start and at the end (other work on a
 * shared machine adds noise). Created when the run starts; `finish()` once it ends.
 */
export class RunReport {
  readonly startedAt = new Date();
  readonly machine = machine();
  private readonly loadAtStart = loadavg()[0]!;
  private readonly psiAtStart = cpuPressure();
  private loadAtEnd = NaN;
  private psiAtEnd: number | null = null;

  constructor(readonly command: string) {}

  /** Reads the machine's load at the end, once, so the text and the JSON agree. */
  finish(): void {
    this.loadAtEnd = loadavg()[0]!;
    this.psiAtEnd = cpuPressure();
  }

  /** The title, machine and command lines, which the run's settings follow. */
  head(title: string): string {
    const m = this.machine;
    return (
      `\n# ${title} (${this.startedAt.toISOString()})\n\n` +
      `machine: ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.zookeeper}\n` +
      `command: ${this.command} (Paddock at ${revision()})\n`
    );
  }

  /** The load line that ends the head, with a blank line after it. */
  loadLine(): string {
    return (
      `1-minute load average: ${this.loadAtStart.toFixed(2)} at start, ${this.loadAtEnd.toFixed(2)} at end; ` +
      `CPU pressure (PSI some avg300): ${this.psiAtStart ?? '-'}% at start, ${this.psiAtEnd ?? '-'}% at end (other work on the machine adds noise)\n\n`
    );
  }

  /** Writes the run as JSON: these facts, the options, `fields`, and every leg with its latency summary. */
  writeJson(path: string, options: object, fields: Record<string, unknown>, legs: readonly Leg[]): void {
    const doc = {
      date: this.startedAt.toISOString(),
      command: this.command,
      revision: revision(),
      machine: this.machine,
      options,
      loadAverage: { start: this.loadAtStart, end: this.loadAtEnd },
      cpuPressureAvg300: { start: this.psiAtStart, end: this.psiAtEnd },
      ...fields,
      legs: legs.map((l) => ({ ...l, result: { ...l.result, hist: undefined, latency: summarize(Histogram.from(l.result.hist)) } })),
    };
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(path, JSON.stringify(doc, null, 2) + '\n');
  }
}
