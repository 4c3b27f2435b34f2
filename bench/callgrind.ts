/**
 * Instructions a server runs per operation, counted by valgrind's callgrind (bench/ab.ts
 * --instructions). Unlike CPU time, the count hardly moves with what else the machine runs, so two
 * builds can be compared on a busy or noisy machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The command a server runs under: counting starts off, one output file per thread. */
export function callgrindWrapper(outDir: string): string[] {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('--instructions needs valgrind (apt-get install valgrind)');
  }
  return [
    'valgrind', '--tool=callgrind', '--cache-sim=no', '--branch-sim=no', '--separate-threads=yes',
    '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${join(outDir, 'cg.out')}`,
  ];
}

/** Starts counting (at the measured window's start). */
export function startCounting(pid: number): void {
  execFileSync('callgrind_control', ['--instr=on', String(pid)], { stdio: 'ignore' });
}

/** Writes the counts so far as the first dump (at the measured window's end). */
export function dumpCounts(pid: number): void {
  execFileSync('callgrind_control', ['--dump=window', String(pid)], { stdio: 'ignore' });
}

/** The first dump's instructions: the main thread's (file -01) and every thread's. */
export function readFirstDump(outDir: string): { main: number; all: number } {
  let main = 0;
  let all = 0;
  for (const name of readdirSync(outDir)) {
    const m = /^cg\.out\.1-(\d+)$/.exec(name);
    if (!m) continue;
    const text = readFileSync(join(outDir, name), 'utf8');
    const total = /^(?:totals|summary):\s+(\d+)/m.exec(text);
    if (!total) continue;
    all += Number(total[1]);
    if (m[1] === '01') main += Number(total[1]);
  }
  if (all === 0) throw new Error(`no callgrind dump in ${outDir}`);
  return { main, all };
}
