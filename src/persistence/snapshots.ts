/**
 * Snapshot files and the policy that decides when to take one.
 *
 * `snapshot.<zxid hex>`: header (20 bytes: magic "PDKS", u32 version 1, u64 zxid, u32 CRC-32 of
 * the 16 bytes before), the body (the tree's serialization, opaque here), then a trailer
 * (16 bytes: u64 body length, u32 CRC-32 of the body, magic "PDKE"). A file is valid only when
 * its length, both magics and both checksums agree, so a truncated or bit-flipped snapshot is
 * always detected and the previous one is used instead.
 */
import * as nodePath from 'node:path';
import { crc32 } from 'node:zlib';
import { listOrEmpty, type Disk, type DiskFile } from '../io/disk.js';
import { assert } from '../lib/assert.js';
import { toDiskError } from './errors.js';
import { encodeFileHeader, readU64, SNAPSHOT_PREFIX, writeU64, zxidHex, zxidNamedFiles } from './logformat.js';

export const SNAP_MAGIC = 0x50444b53; // "PDKS"
export const SNAP_END_MAGIC = 0x50444b45; // "PDKE"
export const SNAP_VERSION = 1;
export const SNAP_HEADER_BYTES = 20;
export const SNAP_TRAILER_BYTES = 16;
export const TMP_SUFFIX = '.tmp';
const WRITE_CHUNK_BYTES = 1024 * 1024;

export interface SnapshotInfo {
  name: string;
  zxid: number;
}

export interface LoadedSnapshot {
  zxid: number;
  path: string;
  /** The body as given to writeSnapshot (a view into the file's bytes). */
  data: Buffer;
}

export async function listSnapshots(disk: Disk, dir: string): Promise<SnapshotInfo[]> {
  return zxidNamedFiles(await listOrEmpty(disk, dir), SNAPSHOT_PREFIX);
}

function encodeSnapHeader(zxid: number): Buffer {
  return encodeFileHeader(SNAP_MAGIC, SNAP_VERSION, zxid);
}

/** The zxid and body of a snapshot file's bytes, or why they are not a valid snapshot. */
export function verifySnapshot(buf: Buffer): { zxid: number; data: Buffer } | { error: string; offset: number } {
  if (buf.length < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES) return { error: `truncated (${buf.length} bytes)`, offset: buf.length };
  if (buf.readUInt32BE(0) !== SNAP_MAGIC) return { error: 'not a Paddock snapshot (bad magic)', offset: 0 };
  if (buf.readUInt32BE(16) !== crc32(buf.subarray(0, 16))) return { error: 'header checksum mismatch', offset: 0 };
  if (buf.readUInt32BE(4) !== SNAP_VERSION) return { error: `unsupported snapshot version ${buf.readUInt32BE(4)}`, offset: 4 };
  const t = buf.length - SNAP_TRAILER_BYTES;
  if (buf.readUInt32BE(t + 12) !== SNAP_END_MAGIC) return { error: 'truncated or damaged (no end marker)', offset: t };
  const bodyLength = readU64(buf, t);
  if (bodyLength !== t - SNAP_HEADER_BYTES) return { error: `length mismatch (trailer says ${bodyLength} body bytes, file has ${t - SNAP_HEADER_BYTES})`, offset: t };
  const data = buf.subarray(SNAP_HEADER_BYTES, t);
  if (crc32(data) !== buf.readUInt32BE(t + 8)) return { error: 'body checksum mismatch', offset: SNAP_HEADER_BYTES };
  return { zxid: readU64(buf, 8), data };
}

/**
 * Writes `snapshot.<zxid hex>` durably: to a temporary file, fsynced, renamed into place, and the
 * directory fsynced. Chunks may be produced lazily (a generator over the tree). Rejects with
 * DiskFullError/DiskIoError, leaving no partial file under the final name.
 */
export async function writeSnapshot(
  disk: Disk,
  dir: string,
  zxid: number,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<{ path: string; bytes: number }> {
  assert(Number.isSafeInteger(zxid) && zxid >= 0, `bad snapshot zxid ${zxid}`);
  await disk.mkdirp(dir);
  const name = `${SNAPSHOT_PREFIX}${zxidHex(zxid)}`;
  const path = nodePath.join(dir, name);
  const tmp = path + TMP_SUFFIX;
  let file: DiskFile | null;
  try {
    file = await disk.open(tmp, 'create');
  } catch (err) {
    throw toDiskError(err, tmp);
  }
  let position = 0;
  let bodyBytes = 0;
  let crc = 0;
  const out0 = file;
  try {
    await out0.truncate(0);
    let pending: Buffer[] = [encodeSnapHeader(zxid)];
    let pendingBytes = SNAP_HEADER_BYTES;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      await out0.write(out, position);
      position += out.length;
      pending = [];
      pendingBytes = 0;
    };
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      crc = crc32(chunk, crc);
      bodyBytes += chunk.length;
      // Copy: the producer may reuse its buffer for the next chunk.
      pending.push(Buffer.from(chunk));
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_CHUNK_BYTES) await flush();
    }
    const trailer = Buffer.alloc(SNAP_TRAILER_BYTES);
    writeU64(trailer, bodyBytes, 0);
    trailer.writeUInt32BE(crc, 8);
    trailer.writeUInt32BE(SNAP_END_MAGIC, 12);
    pending.push(trailer);
    pendingBytes += trailer.length;
    await flush();
    await out0.sync();
    file = null;
    await out0.close();
    await disk.rename(tmp, path);
    await disk.syncDir(dir);
  } catch (err) {
    if (file) await file.close().catch(() => undefined);
    await disk.remove(tmp).catch(() => undefined);
    throw toDiskError(err, tmp);
  }
  return { path, bytes: position };
}

/**
 * The newest snapshot that verifies, trying at most `maxTries` from the newest down; each
 * invalid one skipped adds a warning. Null when there is none.
 */
export async function loadNewestValidSnapshot(
  disk: Disk,
  dir: string,
  maxTries = 100,
): Promise<{ snapshot: LoadedSnapshot | null; warnings: string[] }> {
  const warnings: string[] = [];
  const snaps = (await listSnapshots(disk, dir)).reverse().slice(0, maxTries);
  for (const s of snaps) {
    const path = nodePath.join(dir, s.name);
    let buf: Buffer;
    try {
      buf = await disk.readFile(path);
    } catch (err) {
      warnings.push(`skipped unreadable snapshot ${path}: ${(err as Error).message}`);
      continue;
    }
    const v = verifySnapshot(buf);
    if ('error' in v) {
      warnings.push(`skipped invalid snapshot ${path}: ${v.error} at byte offset ${v.offset}`);
      continue;
    }
    if (v.zxid !== s.zxid) {
      warnings.push(`skipped snapshot ${path}: header says zxid 0x${zxidHex(v.zxid)}`);
      continue;
    }
    return { snapshot: { zxid: v.zxid, path, data: v.data }, warnings };
  }
  return { snapshot: null, warnings };
}

/** Removes `*.tmp` leftovers of snapshots interrupted by a crash. */
export async function removeSnapshotTemps(disk: Disk, dir: string): Promise<string[]> {
  const names = await listOrEmpty(disk, dir);
  const removed: string[] = [];
  for (const name of names) {
    if (name.startsWith(SNAPSHOT_PREFIX) && name.endsWith(TMP_SUFFIX)) {
      await disk.remove(nodePath.join(dir, name));
      removed.push(nodePath.join(dir, name));
    }
  }
  if (removed.length > 0) await disk.syncDir(dir);
  return removed;
}

export interface SnapshotPolicyOptions {
  /** ZooKeeper's snapCount (default 100000, minimum 2). */
  snapCount: number;
  /** ZooKeeper's snapSizeLimitInKb as bytes; 0 or less disables. Default 4 GiB. */
  snapSizeLimitBytes?: number;
  /** Uniform in [0, 1): an injected source (a seeded Prng in tests). */
  random: () => number;
}

/**
 * When to snapshot: after a random number of txns in [snapCount/2 + 1, snapCount] (or a random
 * byte count in [limit/2, limit]), re-drawn after each snapshot, so the servers of an ensemble
 * do not all snapshot at once. Pure: count what the log accepted, act on `true`.
 */
export class SnapshotPolicy {
  private txns = 0;
  private bytes = 0;
  private txnTarget = 0;
  private byteTarget = 0;
  private readonly snapCount: number;
  private readonly sizeLimit: number;

  constructor(private readonly options: SnapshotPolicyOptions) {
    this.snapCount = Math.max(2, Math.floor(options.snapCount));
    this.sizeLimit = options.snapSizeLimitBytes ?? 4 * 1024 * 1024 * 1024;
    this.redraw();
  }

  /** The txn count at which the next snapshot is due. */
  get nextTxnTarget(): number {
    return this.txnTarget;
  }

  private redraw(): void {
    const half = Math.floor(this.snapCount / 2);
    this.txnTarget = half + 1 + Math.floor(this.options.random() * (this.snapCount - half));
    const halfSize = Math.floor(this.sizeLimit / 2);
    this.byteTarget = this.sizeLimit > 0 ? halfSize + Math.floor(this.options.random() * (this.sizeLimit - halfSize)) : Infinity;
  }

  /** Counts one logged txn of `bytes`; true when a snapshot is due now (counting restarts). */
  onTxnLogged(bytes = 0): boolean {
    this.txns++;
    this.bytes += bytes;
    if (this.txns >= this.txnTarget || this.bytes >= this.byteTarget) {
      this.txns = 0;
      this.bytes = 0;
      this.redraw();
      return true;
    }
    return false;
  }
}
