/**
 * Apache ZooKeeper files in a Paddock data directory: a ZooKeeper 3.x server's dataDir reused by
 * Paddock with the same zoo.cfg and myid (the rolling replacement of issue 12). Its log.<hex> and
 * snapshot.<hex> have the names Paddock's files have but ZooKeeper's formats, so before the
 * directory can be opened they are moved aside into `version-2-zookeeper/` next to `version-2/`
 * (the same file system, so each move is a rename) and converted from there. The epoch files
 * stay: their format is ZooKeeper's already.
 */
import * as nodePath from 'node:path';
import { errorCode, listOrEmpty, type Disk } from '../io/disk.js';
import { LOG_PREFIX, SNAPSHOT_PREFIX } from './logformat.js';
import { ZK_LOG_MAGIC, ZK_SNAP_MAGIC } from './zkformat.js';

export const ZK_BACKUP_DIR = 'version-2-zookeeper';
const GZIP_MAGIC = 0x1f8b;

/** True when the file starts as a ZooKeeper log or snapshot (plain or gzip) does. */
async function isZooKeeperFile(disk: Disk, path: string): Promise<boolean> {
  let file;
  try {
    file = await disk.open(path, 'read');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
  try {
    const head = await file.read(0, 4);
    if (head.length < 4) return false;
    const magic = head.readUInt32BE(0);
    return magic === ZK_LOG_MAGIC || magic === ZK_SNAP_MAGIC || head.readUInt16BE(0) === GZIP_MAGIC;
  } finally {
    await file.close();
  }
}

/**
 * Names of the ZooKeeper `log.*` and `snapshot.*` files in `dir` (by content: a Paddock file of
 * the same name is not one), oldest name first. A `.snappy` snapshot counts by its name.
 */
export async function zooKeeperFilesIn(disk: Disk, dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await listOrEmpty(disk, dir)) {
    if (!name.startsWith(LOG_PREFIX) && !name.startsWith(SNAPSHOT_PREFIX)) continue;
    if (name.endsWith('.tmp')) continue;
    if (name.endsWith('.snappy') || (await isZooKeeperFile(disk, nodePath.join(dir, name)))) found.push(name);
  }
  return found.sort();
}

/**
 * Moves `names` from `dir` into `backupDir` (created if missing); both directories are synced,
 * so after a crash each file is in one of them and the move can simply be done again.
 */
export async function moveAside(disk: Disk, dir: string, backupDir: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  await disk.mkdirp(backupDir);
  const moved: string[] = [];
  for (const name of names) {
    const to = nodePath.join(backupDir, name);
    await disk.rename(nodePath.join(dir, name), to);
    moved.push(to);
  }
  await disk.syncDir(backupDir);
  await disk.syncDir(dir);
  return moved;
}
