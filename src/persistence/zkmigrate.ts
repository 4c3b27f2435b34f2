/**
 * Apache ZooKeeper files in a Paddock data directory: a ZooKeeper 3.x server's dataDir reused by
 * Paddock with the same zoo.cfg and myid (the rolling replacement of issue 12). Its log.<hex> and
 * snapshot.<hex> have the names Paddock's files have but ZooKeeper's formats, so before the
 * directory can be opened they are moved aside into `version-2-zookeeper/` next to `version-2/`
 * (the same file system, so each move is a rename) and converted from there: the newest valid
 * ZooKeeper snapshot becomes a Paddock snapshot at its zxid and every txn logged after it a
 * Paddock log record (the bytes as ZooKeeper logged them, which is what a PROPOSAL carries), so
 * the history after the snapshot can still be truncated (TRUNC) as on ZooKeeper. The epoch files
 * stay: their format is ZooKeeper's already.
 */
import * as nodePath from 'node:path';
import { errorCode, listOrEmpty, type Disk } from '../io/disk.js';
import { CorruptDataError } from './errors.js';
import { LOG_PREFIX, nonZeroEnd, SNAPSHOT_PREFIX, zxidNamedFiles } from './logformat.js';
import { parseZkSnapshotName, readZkLog, readZkSnapshot, ZK_LOG_MAGIC, ZK_SNAP_MAGIC, ZkFormatError, type ZkSnapshot } from './zkformat.js';

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

export interface ZkSnapshotFound {
  zxid: number;
  path: string;
  snapshot: ZkSnapshot;
}

/**
 * The newest ZooKeeper snapshot in `dir` that reads and seals (plain or gzip; snappy is not
 * supported), as FileSnap.deserialize picks it; each one skipped adds a warning. Null if none.
 */
export async function newestValidZkSnapshot(disk: Disk, dir: string, warnings: string[]): Promise<ZkSnapshotFound | null> {
  const snaps = (await listOrEmpty(disk, dir))
    .map((name) => ({ name, parsed: parseZkSnapshotName(name) }))
    .filter((s) => s.parsed !== null)
    .sort((a, b) => b.parsed!.zxid - a.parsed!.zxid);
  for (const { name, parsed } of snaps) {
    const path = nodePath.join(dir, name);
    if (parsed!.compression === 'snappy') {
      warnings.push(`skipped ${path}: snappy-compressed snapshots are not supported`);
      continue;
    }
    try {
      return { zxid: parsed!.zxid, path, snapshot: readZkSnapshot(await disk.readFile(path), parsed!.compression === 'gz') };
    } catch (err) {
      if (!(err instanceof ZkFormatError)) throw err;
      warnings.push(`skipped invalid ZooKeeper snapshot ${path}: ${err.message}`);
    }
  }
  return null;
}

/**
 * The txns of the ZooKeeper logs in `dir` with zxid > `after`, in order, read a file at a time
 * (the last log starting at or before `after`, and every later one), for FileTxnSnapLog.restore's
 * replay. A partial write ends a log, as it does for ZooKeeper (a hole it leaves before the next
 * log is for the caller's continuity check); any other damage is a CorruptDataError naming file
 * and offset, unless `acceptDataLoss`, when reading goes on at the next valid txn.
 */
export async function* zkTxnsAfter(disk: Disk, dir: string, after: number, acceptDataLoss: boolean, warnings: string[]): AsyncGenerator<{ zxid: number; bytes: Buffer }> {
  const logs = zxidNamedFiles(await listOrEmpty(disk, dir), LOG_PREFIX);
  let first = 0;
  for (let i = 0; i < logs.length; i++) if (logs[i]!.zxid <= after) first = i;
  let prev = after;
  for (const { name } of logs.slice(first)) {
    const path = nodePath.join(dir, name);
    const bytes = await disk.readFile(path);
    for (let from: number | null = 0; from !== null; ) {
      let scan;
      try {
        scan = readZkLog(bytes, from);
      } catch (err) {
        if (!(err instanceof ZkFormatError)) throw err;
        // A log whose header never reached the disk was created just before ZooKeeper stopped.
        if (bytes.length < 16 || nonZeroEnd(bytes, 0) === 0) break;
        if (!acceptDataLoss) throw new CorruptDataError(path, err.offset, err.message);
        warnings.push(`${path}: ${err.message}; none of its txns could be read (accepted)`);
        break;
      }
      for (const r of scan.records) {
        // A txn logged again after a torn write and a restart: the first copy is the one kept.
        if (r.zxid <= prev) continue;
        prev = r.zxid;
        yield { zxid: r.zxid, bytes: r.bytes };
      }
      from = null;
      const stop = scan.stop;
      if (stop && (!stop.torn || stop.validRecordAfter !== null)) {
        const after = stop.validRecordAfter === null ? '' : `; valid txns follow at byte offset ${stop.validRecordAfter}`;
        if (!acceptDataLoss) throw new CorruptDataError(path, stop.offset, `${stop.reason}${after}`);
        warnings.push(`${path} at byte offset ${stop.offset}: ${stop.reason}${after} (accepted)`);
        from = stop.validRecordAfter;
      }
    }
  }
}
