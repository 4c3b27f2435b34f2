/**
 * Disk: the only way persistence touches files, so tests and the simulator can run the same code
 * on a fake disk that loses unsynced writes and tears the last one on a crash.
 *
 * Errors keep Node's shape: an Error with a `code` ('ENOENT', 'EEXIST', 'ENOSPC', 'EIO', ...).
 */
import * as fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import * as nodePath from 'node:path';
import { writeAndSyncFd, type WriteChunk } from './sync-worker.js';

export type { WriteChunk } from './sync-worker.js';

export type OpenMode =
  /** Read only; the file must exist. */
  | 'read'
  /** Read and write; the file must exist. */
  | 'readWrite'
  /** Read and write; created empty if missing, kept if present. */
  | 'create'
  /** Read and write; fails with EEXIST if the file exists (O_EXCL). */
  | 'createExclusive';

export interface DiskFile {
  readonly path: string;
  /** Writes all of `data` at `position`. May leave a prefix written when it fails. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Up to `length` bytes at `position`; shorter at the end of the file. */
  read(position: number, length: number): Promise<Buffer>;
  size(): Promise<number>;
  truncate(length: number): Promise<void>;
  /** Makes the file's data (and its size) durable: fdatasync. */
  sync(): Promise<void>;
  /**
   * Writes each chunk in order, then syncs (fdatasync) if `sync`: the txn log's per-batch hot
   * path, in one call so the real disk can do it all off the main thread. Takes over the chunks'
   * bytes: callers must not touch them afterwards. May leave a prefix written when it fails.
   */
  writeAndSync(chunks: readonly WriteChunk[], sync: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  /** `permissions` (default 0o644, before the umask) apply when the file is created. */
  open(path: string, mode: OpenMode, permissions?: number): Promise<DiskFile>;
  readFile(path: string): Promise<Buffer>;
  /** Names (not paths) in a directory; rejects with ENOENT when it does not exist. */
  list(dir: string): Promise<string[]>;
  mkdirp(dir: string): Promise<void>;
  /** Atomic replace; durable only after syncDir of the directory. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; rejects with ENOENT when missing. */
  remove(path: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
  /** null when the path does not exist. */
  stat(path: string): Promise<{ size: number; isDirectory: boolean } | null>;
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The names in a directory, or none if it does not exist yet. */
export async function listOrEmpty(disk: Disk, dir: string): Promise<string[]> {
  try {
    return await disk.list(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** writeAndSync made of a file's own write and sync, for disks with no faster way. */
export async function writeThenSync(file: DiskFile, chunks: readonly WriteChunk[], sync: boolean): Promise<void> {
  for (const chunk of chunks) await file.write(chunk.data, chunk.position);
  if (sync) await file.sync();
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

// ---------------------------------------------------------------------------------------------
// Node implementation

const openFlags: Record<OpenMode, number> = {
  read: fsConstants.O_RDONLY,
  readWrite: fsConstants.O_RDWR,
  create: fsConstants.O_RDWR | fsConstants.O_CREAT,
  createExclusive: fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL,
};

class NodeFile implements DiskFile {
  /** Settles when the sync worker is done with this file's fd; nothing else may touch it before. */
  private workerDone: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  writeAndSync(chunks: readonly WriteChunk[], sync: boolean): Promise<void> {
    if (this.handle.fd < 0) return Promise.reject(codedError('EBADF', `file closed ${this.path}`));
    const done = writeAndSyncFd(this.handle.fd, chunks, sync);
    this.workerDone = done.catch(() => undefined);
    return done;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    await this.workerDone;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      if (bytesWritten <= 0) throw codedError('EIO', `short write to ${this.path}`);
      done += bytesWritten;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async truncate(length: number): Promise<void> {
    await this.workerDone;
    return this.handle.truncate(length);
  }

  async sync(): Promise<void> {
    await this.workerDone;
    return this.handle.datasync();
  }

  async close(): Promise<void> {
    // Closing under an in-flight worker write could let a new file reuse the fd and take the bytes.
    await this.workerDone;
    return this.handle.close();
  }
}

/** The real file system. */
export class NodeDisk implements Disk {
  async open(path: string, mode: OpenMode, permissions = 0o644): Promise<DiskFile> {
    return new NodeFile(path, await fs.open(path, openFlags[mode], permissions));
  }

  readFile(path: string): Promise<Buffer> {
    return fs.readFile(path);
  }

  list(dir: string): Promise<string[]> {
    return fs.readdir(dir);
  }

  /**
   * Not fs.mkdir's recursive mode: on a file system that answers mkdir with ENOENT although the
   * parent exists (/proc), Node retries that forever at full CPU. Here each missing level is
   * created once, from the deepest existing ancestor down, and any failure is final.
   */
  async mkdirp(dir: string): Promise<void> {
    const missing: string[] = [];
    for (let d = nodePath.resolve(dir); ; ) {
      const st = await fs.stat(d).catch((err: unknown) => {
        if (errorCode(err) === 'ENOENT') return null;
        throw err;
      });
      if (st) {
        if (!st.isDirectory()) throw codedError(missing.length === 0 ? 'EEXIST' : 'ENOTDIR', `not a directory: ${d}`);
        break;
      }
      missing.push(d);
      const up = nodePath.dirname(d);
      if (up === d) break;
      d = up;
    }
    for (const d of missing.reverse()) {
      try {
        await fs.mkdir(d);
      } catch (err) {
        // Created meanwhile by someone else: fine if it is a directory.
        if (errorCode(err) !== 'EEXIST' || !(await fs.stat(d)).isDirectory()) throw err;
      }
    }
  }

  rename(from: string, to: string): Promise<void> {
    return fs.rename(from, to);
  }

  remove(path: string): Promise<void> {
    return fs.unlink(path);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await fs.open(dir, fsConstants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async stat(path: string): Promise<{ size: number; isDirectory: boolean } | null> {
    try {
      const st = await fs.stat(path);
      return { size: st.size, isDirectory: st.isDirectory() };
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return null;
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory fake for tests and the simulator

interface Inode {
  /** What a reader sees now. */
  data: Buffer;
  /**
   * What survives a crash: the content at the last sync. A sync brings it up to date by copying
   * in the writes made since (or the whole file after a truncate), so an append and its fsync
   * cost the bytes written, not the file.
   */
  durable: Buffer;
  /** Writes since the last sync, in order, to replay (possibly torn) on a crash. */
  unsynced: { position: number; bytes: Buffer }[];
  /** Set when a truncate happened since the last sync (a crash keeps the durable length). */
  dirty: boolean;
  /** Set by a bit flip since the last sync: the next sync copies the whole file. */
  flipped: boolean;
}

export type FaultOp = 'write' | 'sync' | 'truncate' | 'open' | 'rename' | 'remove' | 'syncDir';

/** Decides whether an operation fails; returns an error code such as 'ENOSPC' or 'EIO', or null. */
export type FaultHook = (op: FaultOp, path: string) => string | null;

export interface MemoryDiskStats {
  writes: number;
  syncs: number;
  dirSyncs: number;
  bytesWritten: number;
}

/**
 * A disk in memory. Directory entries (creations, renames, removals) and file contents become
 * durable only through syncDir and sync; `crash()` rolls back to the durable state, optionally
 * keeping a torn prefix of the unsynced writes. `capacityBytes` makes writes past it fail with
 * ENOSPC after writing what fits, as a real full disk can.
 */
export class MemoryDisk implements Disk {
  private entries = new Map<string, Inode>();
  private durableEntries = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  readonly stats: MemoryDiskStats = { writes: 0, syncs: 0, dirSyncs: 0, bytesWritten: 0 };
  capacityBytes = Number.POSITIVE_INFINITY;
  fault: FaultHook | null = null;
  /** Bumped by crash(): sessions and files from before a crash stop working. */
  private generation = 0;

  /**
   * A Disk for one simulated process: after `crash()` every call through it (and through files
   * opened by it) fails with EIO, so a "dead" server cannot keep writing into the new world.
   */
  session(): Disk {
    const born = this.generation;
    const alive = (): void => {
      if (this.generation !== born) throw codedError('EIO', 'process crashed');
    };
    const wrap = (f: DiskFile): DiskFile => {
      const wrapped: DiskFile = {
        path: f.path,
        write: async (d, p) => (alive(), f.write(d, p)),
        read: async (p, l) => (alive(), f.read(p, l)),
        size: async () => (alive(), f.size()),
        truncate: async (l) => (alive(), f.truncate(l)),
        sync: async () => (alive(), f.sync()),
        // Step by step, so a crash between the writes and the sync stops the rest.
        writeAndSync: (chunks, sync) => writeThenSync(wrapped, chunks, sync),
        close: async () => f.close(),
      };
      return wrapped;
    };
    return {
      open: async (path, mode) => (alive(), wrap(await this.open(path, mode))),
      readFile: async (path) => (alive(), this.readFile(path)),
      list: async (dir) => (alive(), this.list(dir)),
      mkdirp: async (dir) => (alive(), this.mkdirp(dir)),
      rename: async (a, b) => (alive(), this.rename(a, b)),
      remove: async (path) => (alive(), this.remove(path)),
      syncDir: async (dir) => (alive(), this.syncDir(dir)),
      stat: async (path) => (alive(), this.stat(path)),
    };
  }

  private check(op: FaultOp, path: string): void {
    const code = this.fault?.(op, path);
    if (code) throw codedError(code, `${op} ${path} (injected)`);
  }

  usedBytes(): number {
    let n = 0;
    for (const inode of this.entries.values()) n += inode.data.length;
    return n;
  }

  private parentExists(path: string): void {
    const dir = nodePath.posix.dirname(path);
    if (!this.dirs.has(dir)) throw codedError('ENOENT', `no such directory ${dir}`);
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    this.check('open', path);
    let inode = this.entries.get(path);
    if (mode === 'createExclusive' && inode) throw codedError('EEXIST', `file exists ${path}`);
    if (!inode) {
      if (mode === 'read' || mode === 'readWrite') throw codedError('ENOENT', `no such file ${path}`);
      this.parentExists(path);
      inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0), unsynced: [], dirty: false, flipped: false };
      this.entries.set(path, inode);
    }
    return new MemoryFile(this, path, inode, mode === 'read');
  }

  async readFile(path: string): Promise<Buffer> {
    const inode = this.entries.get(path);
    if (!inode) throw codedError('ENOENT', `no such file ${path}`);
    return Buffer.from(inode.data);
  }

  async list(dir: string): Promise<string[]> {
    if (!this.dirs.has(dir)) throw codedError('ENOENT', `no such directory ${dir}`);
    const names: string[] = [];
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const p of [...this.entries.keys(), ...this.dirs]) {
      if (p.startsWith(prefix) && p.length > prefix.length && !p.slice(prefix.length).includes('/')) {
        names.push(p.slice(prefix.length));
      }
    }
    return names.sort();
  }

  async mkdirp(dir: string): Promise<void> {
    // Directories are durable at once: the fake models file data and entries, not mkdir.
    let d = nodePath.posix.resolve(dir);
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      d = nodePath.posix.dirname(d);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', from);
    const inode = this.entries.get(from);
    if (!inode) throw codedError('ENOENT', `no such file ${from}`);
    this.parentExists(to);
    this.entries.delete(from);
    this.entries.set(to, inode);
  }

  async remove(path: string): Promise<void> {
    this.check('remove', path);
    if (!this.entries.delete(path)) throw codedError('ENOENT', `no such file ${path}`);
  }

  async syncDir(dir: string): Promise<void> {
    this.check('syncDir', dir);
    this.stats.dirSyncs++;
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const inDir = (p: string): boolean => p.startsWith(prefix) && !p.slice(prefix.length).includes('/');
    for (const p of [...this.durableEntries.keys()]) if (inDir(p) && !this.entries.has(p)) this.durableEntries.delete(p);
    for (const [p, inode] of this.entries) if (inDir(p)) this.durableEntries.set(p, inode);
    // A rename moves the inode: drop a durable entry that now points at an inode moved elsewhere.
    for (const [p, inode] of [...this.durableEntries]) {
      if (inDir(p) && this.entries.get(p) !== inode) this.durableEntries.delete(p);
    }
  }

  async stat(path: string): Promise<{ size: number; isDirectory: boolean } | null> {
    if (this.dirs.has(path)) return { size: 0, isDirectory: true };
    const inode = this.entries.get(path);
    return inode ? { size: inode.data.length, isDirectory: false } : null;
  }

  /**
   * Simulates power loss: entries and contents go back to what was synced. With `tear`, each
   * file keeps a prefix of its unsynced writes: `tear(path, totalUnsyncedBytes)` returns how
   * many of those bytes (in write order) survive, so the last surviving write may be torn.
   */
  crash(tear?: (path: string, unsyncedBytes: number) => number): void {
    const next = new Map<string, Inode>();
    for (const [path, inode] of this.durableEntries) {
      let data: Buffer = Buffer.from(inode.durable);
      const total = inode.unsynced.reduce((n, w) => n + w.bytes.length, 0);
      let keep = tear && !inode.dirty ? Math.max(0, Math.min(total, tear(path, total))) : 0;
      for (const w of inode.unsynced) {
        if (keep <= 0) break;
        const part = w.bytes.subarray(0, Math.min(keep, w.bytes.length));
        keep -= part.length;
        data = writeInto(data, part, w.position);
      }
      const fresh: Inode = { data, durable: Buffer.from(data), unsynced: [], dirty: false, flipped: false };
      next.set(path, fresh);
    }
    this.entries = new Map(next);
    this.durableEntries = new Map(next);
    this.generation++;
  }

  /** Flips one bit of a file's current and durable content (bit rot). */
  flipBit(path: string, byteOffset: number, bit = 0): void {
    const inode = this.entries.get(path);
    if (!inode || byteOffset >= inode.data.length) throw new RangeError(`no byte ${byteOffset} in ${path}`);
    inode.data[byteOffset]! ^= 1 << bit;
    if (byteOffset < inode.durable.length) inode.durable[byteOffset]! ^= 1 << bit;
    inode.flipped = true;
  }

  /** Sets a file's content directly, durable at once (for building damaged fixtures). */
  setFile(path: string, data: Buffer): void {
    const inode: Inode = { data: Buffer.from(data), durable: Buffer.from(data), unsynced: [], dirty: false, flipped: false };
    this.entries.set(path, inode);
    this.durableEntries.set(path, inode);
  }

  /** @internal used by MemoryFile */
  _write(path: string, inode: Inode, data: Uint8Array, position: number): void {
    this.check('write', path);
    this.stats.writes++;
    const growth = Math.max(0, position + data.length - inode.data.length);
    const room = this.capacityBytes === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : this.capacityBytes - this.usedBytes();
    let bytes = Buffer.from(data);
    let full = false;
    if (growth > room) {
      full = true;
      const fits = Math.max(0, data.length - (growth - Math.max(0, room)));
      bytes = bytes.subarray(0, fits);
    }
    if (bytes.length > 0) {
      inode.data = writeInto(inode.data, bytes, position);
      inode.unsynced.push({ position, bytes });
      this.stats.bytesWritten += bytes.length;
    }
    if (full) throw codedError('ENOSPC', `no space left writing ${path}`);
  }

  /** @internal */
  _sync(path: string, inode: Inode): void {
    this.check('sync', path);
    this.stats.syncs++;
    inode.durable = syncedContent(inode);
    inode.unsynced = [];
    inode.dirty = false;
    inode.flipped = false;
  }

  /** @internal */
  _truncate(path: string, inode: Inode, length: number): void {
    this.check('truncate', path);
    if (length <= inode.data.length) inode.data = Buffer.from(inode.data.subarray(0, length));
    else inode.data = Buffer.concat([inode.data, Buffer.alloc(length - inode.data.length)]);
    inode.dirty = true;
  }
}

/**
 * The content a sync makes durable. While the file keeps its length and no truncate came
 * between, that is the durable content with the unsynced writes copied in, in order (writes only
 * replace bytes), into the durable buffer itself, which nothing outside the inode holds.
 */
function syncedContent(inode: Inode): Buffer {
  if (inode.dirty || inode.flipped || inode.durable.length !== inode.data.length) return Buffer.from(inode.data);
  for (const w of inode.unsynced) w.bytes.copy(inode.durable, w.position);
  return inode.durable;
}

function writeInto(data: Buffer, bytes: Buffer, position: number): Buffer {
  const end = position + bytes.length;
  let out = data;
  if (end > data.length) {
    out = Buffer.alloc(end);
    data.copy(out);
  }
  bytes.copy(out, position);
  return out;
}

class MemoryFile implements DiskFile {
  private closed = false;

  constructor(
    private readonly disk: MemoryDisk,
    readonly path: string,
    private readonly inode: Inode,
    private readonly readOnly: boolean,
  ) {}

  private live(): void {
    if (this.closed) throw codedError('EBADF', `file closed ${this.path}`);
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.live();
    if (this.readOnly) throw codedError('EBADF', `opened read-only ${this.path}`);
    this.disk._write(this.path, this.inode, data, position);
  }

  async read(position: number, length: number): Promise<Buffer> {
    this.live();
    return Buffer.from(this.inode.data.subarray(position, position + length));
  }

  async size(): Promise<number> {
    this.live();
    return this.inode.data.length;
  }

  async truncate(length: number): Promise<void> {
    this.live();
    this.disk._truncate(this.path, this.inode, length);
  }

  async sync(): Promise<void> {
    this.live();
    this.disk._sync(this.path, this.inode);
  }

  /** The plain write and sync, so faults, torn writes and lost unsynced data behave as before. */
  writeAndSync(chunks: readonly WriteChunk[], sync: boolean): Promise<void> {
    return writeThenSync(this, chunks, sync);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
