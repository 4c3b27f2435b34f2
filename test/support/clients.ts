/**
 * Detection of the real ZooKeeper clients the compatibility suite drives, with node:test `skip`
 * helpers in the style of skipUnlessZooKeeper: skip with the reason, but throw under CI=true,
 * where every client must be present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { zookeeperMissing } from './zookeeper.js';

export const PYTHON = '/usr/bin/python3';
export const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';

const cache = new Map<string, string | null>();
function cached(key: string, probe: () => string | null): string | null {
  if (!cache.has(key)) cache.set(key, probe());
  return cache.get(key) ?? null;
}

/** zkCli (org.apache.zookeeper.ZooKeeperMain) needs the same jar and java as the server. */
export function zkCliMissing(): string | null {
  return zookeeperMissing();
}

export function kazooMissing(): string | null {
  return cached('kazoo', () => {
    if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
    const r = spawnSync(PYTHON, ['-c', 'import kazoo.client'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) return `python kazoo is not installed (apt-get install python3-kazoo): ${r.stderr.trim()}`;
    return null;
  });
}

export function cliMtMissing(): string | null {
  return existsSync(CLI_MT) ? null : `the ZooKeeper C client shell is not installed (${CLI_MT} missing; apt-get install zookeeper-bin)`;
}

export function nodeZookeeperClientMissing(): string | null {
  return cached('node-zookeeper-client', () => {
    try {
      createRequire(import.meta.url).resolve('node-zookeeper-client');
      return null;
    } catch {
      return 'npm package node-zookeeper-client is not installed (npm install)';
    }
  });
}

/**
 * For node:test's `skip` option: the first missing requirement, or false when all are present.
 * Under CI a missing requirement is an error, not a skip.
 */
export function skipUnless(...missing: Array<string | null>): string | false {
  const reason = missing.find((m): m is string => typeof m === 'string') ?? null;
  if (reason && process.env.CI) throw new Error(`required under CI: ${reason}`);
  return reason ?? false;
}
