/** File descriptor counts of this process, read from /proc (Linux); -1 where there is no /proc. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

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

/** Bytes in the regular files directly under `dir` (ZooKeeper's dirs: the version-2 directory). */
export function directorySize(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) total += statSync(join(dir, entry.name)).size;
    }
  } catch {
    // Missing (in-memory server) or unreadable: ZooKeeper reports 0 for a missing directory too.
  }
  return total;
}

/** The newest `snapshot.<zxid hex>` file under `dir`: its zxid and modification time. */
export function newestSnapshot(dir: string): { zxid: number; writtenAtMs: number } | null {
  let best: { zxid: number; name: string } | null = null;
  try {
    for (const name of readdirSync(dir)) {
      const m = /^snapshot\.([0-9a-f]+)$/.exec(name);
      if (!m) continue;
      const zxid = parseInt(m[1]!, 16);
      if (best === null || zxid > best.zxid) best = { zxid, name };
    }
    if (best === null) return null;
    return { zxid: best.zxid, writtenAtMs: statSync(join(dir, best.name)).mtimeMs };
  } catch {
    return null;
  }
}
