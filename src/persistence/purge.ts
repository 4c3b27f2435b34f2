/**
 * Retention (ZooKeeper's autopurge / PurgeTxnLog): keep the N newest valid snapshots (N >= 3)
 * and the log segments needed to replay from the oldest of them: every segment starting after
 * it, plus the last one starting at or before it. Everything older is removed.
 */
import * as nodePath from 'node:path';
import type { Disk } from '../io/disk.js';
import { listSegments } from './txnlog.js';
import { listSnapshots, verifySnapshot } from './snapshots.js';

export const MIN_RETAIN_COUNT = 3;

export interface PurgeOptions {
  /** Directory holding snapshot.* (dataDir/version-2). */
  snapDir: string;
  /** Directory holding log.* (dataLogDir/version-2). */
  logDir: string;
  /** Snapshots to keep; at least 3. */
  retainCount: number;
}

export interface PurgeResult {
  removed: string[];
  keptSnapshots: string[];
  keptLogs: string[];
  warnings: string[];
}

export async function purge(disk: Disk, options: PurgeOptions): Promise<PurgeResult> {
  if (!Number.isInteger(options.retainCount) || options.retainCount < MIN_RETAIN_COUNT) {
    throw new RangeError(`retain count must be an integer >= ${MIN_RETAIN_COUNT}, got ${options.retainCount}`);
  }
  const warnings: string[] = [];
  const snaps = (await listSnapshots(disk, options.snapDir)).reverse();
  const kept: typeof snaps = [];
  let i = 0;
  for (; i < snaps.length && kept.length < options.retainCount; i++) {
    const s = snaps[i]!;
    const v = verifySnapshot(await disk.readFile(nodePath.join(options.snapDir, s.name)));
    if ('error' in v) warnings.push(`kept invalid snapshot ${s.name} (${v.error}); it is not counted as retained`);
    else kept.push(s);
  }
  const segments = await listSegments(disk, options.logDir);
  if (kept.length < options.retainCount) {
    return { removed: [], keptSnapshots: snaps.map((s) => s.name), keptLogs: segments.map((s) => s.name), warnings };
  }
  const oldestKept = kept[kept.length - 1]!.zxid;
  const removeSnaps = snaps.slice(i);
  // Segments are sorted by first zxid: keep the last one starting <= oldestKept and all after it.
  let firstNeeded = 0;
  for (let j = 0; j < segments.length; j++) if (segments[j]!.firstZxid <= oldestKept) firstNeeded = j;
  const removeLogs = segments.slice(0, firstNeeded);
  const removed: string[] = [];
  for (const s of removeSnaps) {
    await disk.remove(nodePath.join(options.snapDir, s.name));
    removed.push(nodePath.join(options.snapDir, s.name));
  }
  for (const s of removeLogs) {
    await disk.remove(nodePath.join(options.logDir, s.name));
    removed.push(nodePath.join(options.logDir, s.name));
  }
  if (removeSnaps.length > 0) await disk.syncDir(options.snapDir);
  if (removeLogs.length > 0) await disk.syncDir(options.logDir);
  return {
    removed,
    keptSnapshots: snaps.slice(0, i).map((s) => s.name),
    keptLogs: segments.slice(firstNeeded).map((s) => s.name),
    warnings,
  };
}
