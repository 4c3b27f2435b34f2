/** Runs the python scenario scripts of the compatibility suite. */
import { spawn } from 'node:child_process';
import { PYTHON } from '../support/clients.js';

/** Runs a python scenario script and returns its stdout lines; fails with its stderr on a non-zero exit. */
export function runPythonScenario(script: string, args: string[], timeoutMs = 60_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout.split('\n').filter((l) => l !== ''));
      else reject(new Error(`${script} ${args.join(' ')} failed (${code ?? signal})\n--- stdout\n${stdout}\n--- stderr\n${stderr.slice(-4000)}`));
    });
  });
}
