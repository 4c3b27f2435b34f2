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
  const durationMs = o.durationMs;
  const spec: LoadSpec = { ...plan.spec, port: first.port, durationMs, warmupMs: o.warmupMs, seed: 1000 + round };
  if (procs.length > 1) spec.ports = procs.map((p) => p.port);
  if (spec.kind === 'idle' || spec.kind === 'fanout') spec.durationMs = o.quick ? 3000 : 20_000;
  if (spec.kind === 'fill') spec.durationMs = 600_000;
  const child: ChildProcess = fork(LOADGEN, [], { execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rssBefore = sum(procs, rssBytes);
  let setupInfo: Record<string, number | string> = {};
  let cpu0 = 0;
  let gen0 = 0;
  let serverCpuSec = 0;
  let serverMainCpuSec = 0;
  let main0 = 0;
  let loadgenCpuSec = 0;
  let rssInWindow = 0;
  const overall = setTimeout(() => child.kill('SIGKILL'), Math.max(120_000, spec.durationMs * 4 + 120_000));
  try {
    const result = await new Promise<LoadResult>((resolveLeg, reject) => {
      child.on('exit', (code) => reject(new Error(`load generator exited (${code}) during ${plan.id} on ${first.kind}`)));
      child.on('message', (m: FromChild) => {
        switch (m.ev) {
          case 'ready':
            setupInfo = m.info;
            if (onReady) onReady(setupInfo).then(() => child.send({ cmd: 'go' }), reject);
            else child.send({ cmd: 'go' });
            break;
          case 'window-start':
            cpu0 = sum(procs, cpuSeconds);
            main0 = sum(procs, mainThreadCpuSeconds);
            gen0 = cpuSeconds(child.pid!);
            break;
          case 'window-end':
            serverCpuSec = sum(procs, cpuSeconds) - cpu0;
            serverMainCpuSec = sum(procs, mainThreadCpuSeconds) - main0;
            loadgenCpuSec = cpuSeconds(child.pid!) - gen0;
            rssInWindow = sum(procs, rssBytes);
            break;
          case 'done':
            resolveLeg(m.result);
            break;
          case 'error':
            reject(new Error(`load generator failed during ${plan.id} on ${first.kind}: ${m.message}`));
            break;
        }
      });
      child.send({ cmd: 'setup', spec });
    });
    return { plan: plan.id, server: first.kind, round, result, setupInfo, serverCpuSec, serverMainCpuSec, loadgenCpuSec, rssBefore, rssInWindow, rssAfter: sum(procs, rssBytes) };
  } finally {
    clearTimeout(overall);
    child.removeAllListeners('exit');
    if (child.exitCode === null) {
      child.send({ cmd: 'exit' });
      await new Promise((r) => child.once('exit', r));
    }
  }
}
