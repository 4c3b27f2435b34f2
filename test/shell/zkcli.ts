/** Running zkCli.sh and `paddock shell` on the same input, and normalising what differs by nature. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runProcess, type Run } from '../support/run-process.js';

export const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';
export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Why zkCli tests cannot run, or false; throws under CI, where they must run. */
export function skipUnlessZkCli(): string | false {
  const missing = !existsSync(ZKCLI) ? `zkCli.sh is not installed (${ZKCLI}; apt-get install zookeeper)` : !existsSync('/usr/bin/java') ? 'java is not installed' : null;
  if (missing && process.env.CI) throw new Error(`required under CI: ${missing}`);
  return missing ?? false;
}

export { runProcess, type Run } from '../support/run-process.js';

export function zkCli(server: string, args: string[], input: string | null = null): Promise<Run> {
  return runProcess(ZKCLI, ['-server', server, ...args], input, { CLIENT_JVMFLAGS: '-Xmx128m -XX:TieredStopAtLevel=1' });
}

export function paddockShell(server: string, args: string[], input: string | null = null): Promise<Run> {
  return runProcess(process.execPath, [MAIN, 'shell', '-server', server, ...args], input);
}

/**
 * Removes what legitimately differs between two runs: the JVM's logging noise, connection-state
 * watcher blocks (printed from another thread, at any point), zkCli's JLine banner, the root the
 * run worked under, times, zxids, session ids and versions.
 */
export function normalise(text: string, root: string): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('SLF4J:') && l !== 'JLine support is disabled' && l !== 'WATCHER::' && !/type:None path:null$/.test(l))
    .filter((l) => !l.startsWith('WatchedEvent '))
    .filter((l) => l.trim() !== '')
    .map((l) =>
      l
        .split(root)
        .join('$R')
        .replace(/^(ctime|mtime) = .*/, '$1 = <time>')
        .replace(/0x[0-9a-f]+/g, '0x<hex>')
        .replace(/^ZooKeeper CLI version: .*/, 'ZooKeeper CLI version: <version>'),
    );
}

/** The watch events of a run (they may print at any point relative to other output). */
export function watchEvents(text: string, root: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('WatchedEvent ') && !l.endsWith('type:None path:null'))
    .map((l) => l.split(root).join('$R'))
    .sort();
}
