/**
 * The data directory lock: `<dataDir>/paddock.lock`, created with O_EXCL and holding
 * "<pid> <token>". A second server (another process, or another instance in this process) gets
 * DataDirLockedError. A lock left by a dead process is stale and taken over with a warning.
 */
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorCode, type Disk } from '../io/disk.js';
import { dataDirError, DataDirLockedError } from './errors.js';

export const LOCK_FILE = 'paddock.lock';

/** Lock files held by this process (so two servers in one process also exclude each other). */
const heldHere = new Set<string>();

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** This process's id; default process.pid. */
  pid?: number;
  /** Whether a process exists; default uses process.kill(pid, 0). */
  isAlive?: (pid: number) => boolean;
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

export async function acquireDataDirLock(
  disk: Disk,
  dataDir: string,
  options: LockOptions = {},
): Promise<{ lock: DataDirLock; warnings: string[] }> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const path = nodePath.resolve(dataDir, LOCK_FILE);
  const warnings: string[] = [];
  await disk.mkdirp(dataDir).catch((err: unknown) => {
    throw dataDirError(dataDir, err);
  });
  for (let attempt = 0; ; attempt++) {
    if (heldHere.has(path)) throw new DataDirLockedError(path, `this process, pid ${pid}`);
    try {
      const file = await disk.open(path, 'createExclusive');
      try {
        await file.write(Buffer.from(`${pid} ${randomBytes(8).toString('hex')}\n`), 0);
        await file.sync();
      } finally {
        await file.close();
      }
      await disk.syncDir(nodePath.dirname(path));
      heldHere.add(path);
      let released = false;
      const lock: DataDirLock = {
        path,
        async release() {
          if (released) return;
          released = true;
          heldHere.delete(path);
          await disk.remove(path).catch((err) => {
            if (errorCode(err) !== 'ENOENT') throw err;
          });
        },
      };
      return { lock, warnings };
    } catch (err) {
      if (errorCode(err) !== 'EEXIST' || attempt > 0) {
        if (errorCode(err) === 'EEXIST') throw new DataDirLockedError(path, 'another server took it while a stale lock was removed');
        throw dataDirError(dataDir, err);
      }
    }
    let content: string;
    try {
      content = (await disk.readFile(path)).toString('utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') continue; // released meanwhile: try again
      throw err;
    }
    const match = /^(\d+) [0-9a-f]+\n$/.exec(content);
    if (!match) {
      // Could be a server that created the file a moment ago and has not written it yet.
      throw new DataDirLockedError(path, `unreadable lock content ${JSON.stringify(content.slice(0, 40))}; if no server uses this directory, delete the lock file`);
    }
    const holder = Number(match[1]);
    if (holder !== pid && isAlive(holder)) throw new DataDirLockedError(path, `pid ${holder}`);
    warnings.push(`removed stale lock ${path} left by pid ${holder}, which is not running`);
    await disk.remove(path);
  }
}
