/**
 * A Disk that reports how long each durable write of the txn log takes (ZooKeeper's fsynctime),
 * without the persistence layer knowing about metrics: it wraps the disk at the edge.
 */
import type { Disk, DiskFile, OpenMode, WriteChunk } from '../io/disk.js';

/** Called after each writeAndSync that synced: its duration in ms. */
export type SyncObserver = (durationMs: number) => void;

export function timedDisk(disk: Disk, onSync: SyncObserver): Disk {
  return {
    open: async (path: string, mode: OpenMode, permissions?: number) => timedFile(await disk.open(path, mode, permissions), onSync),
    readFile: (path) => disk.readFile(path),
    list: (dir) => disk.list(dir),
    mkdirp: (dir) => disk.mkdirp(dir),
    rename: (from, to) => disk.rename(from, to),
    remove: (path) => disk.remove(path),
    syncDir: (dir) => disk.syncDir(dir),
    stat: (path) => disk.stat(path),
  };
}

function timedFile(file: DiskFile, onSync: SyncObserver): DiskFile {
  return {
    path: file.path,
    write: (data, position) => file.write(data, position),
    read: (position, length) => file.read(position, length),
    size: () => file.size(),
    truncate: (length) => file.truncate(length),
    sync: () => file.sync(),
    close: () => file.close(),
    writeAndSync: async (chunks: readonly WriteChunk[], sync: boolean) => {
      const started = performance.now();
      await file.writeAndSync(chunks, sync);
      if (sync) onSync(performance.now() - started);
    },
  };
}
