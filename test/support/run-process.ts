/** Running a program to its end in a test: what it printed and how it ended. */
import { spawn } from 'node:child_process';

export interface Run {
  stdout: string;
  stderr: string;
  /** Null when it was killed (also after `timeoutMs`). */
  code: number | null;
}

/** Runs `cmd` with `input` on its stdin (none: an empty one), killing it after `timeoutMs`. */
export function runProcess(cmd: string, args: string[], input: string | null, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(input ?? '');
  });
}
