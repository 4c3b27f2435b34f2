/** File descriptor counts of this process, read from /proc (Linux); -1 where there is no /proc. */
import { readdirSync, readFileSync } from 'node:fs';

export function openFileDescriptorCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/** The soft limit on open files (what getrlimit(RLIMIT_NOFILE) reports), as ZooKeeper's OSMXBean does. */
export function maxFileDescriptorCount(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined) return -1;
    return soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
  } catch {
    return -1;
  }
}
