/** Runs the python scenario scripts of the compatibility suite. */
import { PYTHON } from '../support/clients.js';
import { runProcess } from '../support/run-process.js';

/** Runs a python scenario script and returns its stdout lines; fails with its stderr on a non-zero exit. */
export async function runPythonScenario(script: string, args: string[], timeoutMs = 60_000): Promise<string[]> {
  const { stdout, stderr, code } = await runProcess(PYTHON, [script, ...args], null, {}, timeoutMs);
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} failed (${code ?? 'killed'})\n--- stdout\n${stdout}\n--- stderr\n${stderr.slice(-4000)}`);
  return stdout.split('\n').filter((l) => l !== '');
}
