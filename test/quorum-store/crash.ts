/**
 * Crash points for persistence tests: runs an operation on a MemoryDisk that dies at its k-th
 * mutating call (that call and every later one fail with EIO, as for a killed process), then
 * loses what was not synced, for k = 0, 1, ... until the operation completes untouched.
 */
import { MemoryDisk, type Disk, type FaultOp } from '../../src/io/disk.js';

const MUTATING: ReadonlySet<FaultOp> = new Set(['write', 'sync', 'truncate', 'open', 'rename', 'remove', 'syncDir']);

export interface CrashPoint {
  /** The mutating call the process died at (the number of calls that completed). */
  point: number;
  disk: MemoryDisk;
  /** True for the last run, where the operation finished before any injected failure. */
  completed: boolean;
}

/**
 * For each crash point: `setup` builds a fresh disk, `operation` runs on it until it dies,
 * the disk crashes (keeping a torn prefix of unsynced writes when `tear` says so), then `check`
 * inspects what survived. Bounded by `maxPoints`.
 */
export async function forEachCrashPoint(
  setup: () => Promise<MemoryDisk>,
  operation: (disk: Disk) => Promise<unknown>,
  check: (at: CrashPoint) => Promise<void>,
  options: { maxPoints?: number; tear?: (path: string, unsyncedBytes: number) => number } = {},
): Promise<number> {
  const maxPoints = options.maxPoints ?? 500;
  for (let point = 0; point < maxPoints; point++) {
    const disk = await setup();
    let calls = 0;
    let died = false;
    disk.fault = (op) => {
      if (!MUTATING.has(op)) return null;
      if (calls++ < point) return null;
      died = true;
      return 'EIO';
    };
    // Through a session: whatever the dead operation still tries after the crash fails.
    await operation(disk.session()).catch((err: unknown) => {
      if (!died) throw err;
    });
    disk.fault = null;
    disk.crash(options.tear);
    await check({ point, disk, completed: !died });
    if (!died) return point + 1;
  }
  throw new Error(`operation still running after ${maxPoints} crash points`);
}
