/**
 * One leg of a benchmark: one workload against one server, or against every server of an
 * ensemble (sessions spread over them), driven by a forked load generator (loadgen.ts). The
 * servers' CPU time and RSS are read from /proc at the edges of the measured window, summed over
 * an ensemble's processes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromChild, LoadResult, LoadSpec } from './loadgen.js';
import { cpuSeconds, mainThreadCpuSeconds, rssBytes, type ServerKind, type ServerProc } from './servers.js';

const LOADGEN = resolve(dirname(fileURLToPath(import.meta.url)), 'loadgen.js');

export interface Plan {
  id: string;
  spec: Omit<LoadSpec, 'port' | 'durationMs' | 'warmupMs' | 'seed'>;
}

export interface Leg {
  plan: string;
  server: ServerKind;
  round: number;
  result: LoadResult;
  setupInfo: Record<string, number | string>;
  serverCpuSec: number;
  /** The server's main thread only (Paddock's event loop). */
  serverMainCpuSec: number;
  loadgenCpuSec: number;
  rssBefore: number;
  /** RSS at the end of the measured window (sessions still connected). */
  rssInWindow: number;
  rssAfter: number;
}

export interface LegTiming {
  durationMs: number;
  warmupMs: number;
  quick: boolean;
}

const sum = (procs: readonly ServerProc[], read: (pid: number) => number): number => procs.reduce((n, p) => n + read(p.pid), 0);

/** What a caller measures around one load generator run; each gets the generator's pid. */
export interface LoadgenHooks {
  /** The generator has set up; it starts the load once this resolves (memory probes go here). */
  onReady?: (info: Record<string, number | string>) => Promise<void> | void;
  onWindowStart?: (loadgenPid: number) => void;
  onWindowEnd?: (loadgenPid: number) => void;
}

/**
 * Forks a load generator, runs `spec` through it and returns its result; `label` names the run in
 * errors. The generator is killed if it outlives four times its duration plus two minutes.
 */
export async function driveLoadgen(spec: LoadSpec, label: string, hooks: LoadgenHooks = {}): Promise<LoadResult> {
  const child: ChildProcess = fork(LOADGEN, [], { execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const overall = setTimeout(() => child.kill('SIGKILL'), spec.durationMs * 4 + 120_000);
  try {
    return await new Promise<LoadResult>((resolveRun, reject) => {
      child.on('exit', (code) => reject(new Error(`load generator exited (${code}) during ${label}`)));
      child.on('message', (m: FromChild) => {
        switch (m.ev) {
          case 'ready':
            Promise.resolve(hooks.onReady?.(m.info)).then(() => child.send({ cmd: 'go' }), reject);
            break;
          case 'window-start':
            hooks.onWindowStart?.(child.pid!);
            break;
          case 'window-end':
            hooks.onWindowEnd?.(child.pid!);
            break;
          case 'done':
            resolveRun(m.result);
            break;
          case 'error':
            reject(new Error(`load generator failed during ${label}: ${m.message}`));
            break;
        }
      });
      child.send({ cmd: 'setup', spec });
    });
  } finally {
    clearTimeout(overall);
    child.removeAllListeners('exit');
    if (child.exitCode === null) {
      child.send({ cmd: 'exit' });
      await new Promise((r) => child.once('exit', r));
    }
  }
}

export async function runLeg(
  plan: Plan,
  server: ServerProc | readonly ServerProc[],
  o: LegTiming,
  round: number,
  onReady?: (info: Record<string, number | string>) => Promise<void>,
): Promise<Leg> {
  const procs: readonly ServerProc[] = Array.isArray(server) ? server : [server as ServerProc];
  const first = procs[0];
  if (first === undefined) throw new RangeError('runLeg needs a server');
  const spec: LoadSpec = { ...plan.spec, port: first.port, durationMs: o.durationMs, warmupMs: o.warmupMs, seed: 1000 + round };
  if (procs.length > 1) spec.ports = procs.map((p) => p.port);
  if (spec.kind === 'idle' || spec.kind === 'fanout') spec.durationMs = o.quick ? 3000 : 20_000;
  if (spec.kind === 'fill') spec.durationMs = 600_000;
  const rssBefore = sum(procs, rssBytes);
  let setupInfo: Record<string, number | string> = {};
  let cpu0 = 0;
  let main0 = 0;
  let gen0 = 0;
  const leg = { serverCpuSec: 0, serverMainCpuSec: 0, loadgenCpuSec: 0, rssInWindow: 0 };
  const result = await driveLoadgen(spec, `${plan.id} on ${first.kind}`, {
    onReady: async (info) => {
      setupInfo = info;
      await onReady?.(info);
    },
    onWindowStart: (loadgen) => {
      cpu0 = sum(procs, cpuSeconds);
      main0 = sum(procs, mainThreadCpuSeconds);
      gen0 = cpuSeconds(loadgen);
    },
    onWindowEnd: (loadgen) => {
      leg.serverCpuSec = sum(procs, cpuSeconds) - cpu0;
      leg.serverMainCpuSec = sum(procs, mainThreadCpuSeconds) - main0;
      leg.loadgenCpuSec = cpuSeconds(loadgen) - gen0;
      leg.rssInWindow = sum(procs, rssBytes);
    },
  });
  const { serverCpuSec, serverMainCpuSec, loadgenCpuSec, rssInWindow } = leg;
  return { plan: plan.id, server: first.kind, round, result, setupInfo, serverCpuSec, serverMainCpuSec, loadgenCpuSec, rssBefore, rssInWindow, rssAfter: sum(procs, rssBytes) };
}
