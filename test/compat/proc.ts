/** An interactive child process whose merged output can be awaited, for driving client shells. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class Interactive {
  output = '';
  exitCode: number | null | undefined = undefined;
  private readonly child: ChildProcess;
  private readonly listeners = new Set<() => void>();

  /** `mergeStderr` runs the command through sh with 2>&1 so both streams share one pipe and keep their order. */
  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    options: { mergeStderr?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd };
    this.child = options.mergeStderr
      ? spawn('/bin/sh', ['-c', 'exec "$@" 2>&1', 'sh', command, ...args], spawnOpts)
      : spawn(command, args, spawnOpts);
    const onData = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      this.notify();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.child.stdin!.on('error', () => {}); // EPIPE after exit shows up as a failed wait instead
    this.child.on('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      this.notify();
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  end(): void {
    this.child.stdin!.end();
  }

  /** Waits until `pred(output)` holds; fails early if the process exits first. */
  waitFor(pred: (output: string) => boolean, what: string, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (pred(this.output)) finish();
        else if (this.exitCode !== undefined) finish(new Error(`${this.label} exited (${this.exitCode}) while waiting for ${what}\n${this.tail()}`));
      };
      const timer = setTimeout(() => finish(new Error(`${this.label}: timed out after ${ms} ms waiting for ${what}\n${this.tail()}`)), ms);
      this.listeners.add(check);
      check();
    });
  }

  /** Asks an interactive shell (zkCli, cli_mt) to quit, closes its input and waits `ms` for it to exit. */
  async quit(ms = 10_000): Promise<void> {
    this.write('quit\n');
    this.end();
    await this.exit(ms);
  }

  /** Waits for the process to exit, killing it after `ms`. */
  async exit(ms = 10_000): Promise<number | null> {
    if (this.exitCode === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
        this.child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.exitCode ?? null;
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  tail(chars = 3000): string {
    return this.output.length > chars ? `...${this.output.slice(-chars)}` : this.output;
  }
}
