/**
 * kazoo (python3-kazoo) runs test/compat/kazoo_scenario.py against Apache ZooKeeper and against
 * the target: create modes, get/set/delete with versions, children, multi transactions (commit,
 * failure midway, rollback), raw watches, DataWatch/ChildrenWatch, ephemerals vanishing with
 * their session, Lock and Election recipes across two sessions, digest ACLs and auth. The
 * script prints a normalised transcript; the target's must equal ZooKeeper's.
 */
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kazooMissing, PYTHON, skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { compareWithZooKeeper } from './transcript.js';

// Compiled to dist/test/compat/; the python script stays in the source tree.
const SCRIPT = fileURLToPath(new URL('../../../test/compat/kazoo_scenario.py', import.meta.url));

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

test('kazoo scenario matches Apache ZooKeeper', { skip: skipUnless(zookeeperMissing(), kazooMissing()), timeout: 150_000 }, async () => {
  await compareWithZooKeeper('kazoo', (connectString) => runPythonScenario(SCRIPT, [connectString]));
});
