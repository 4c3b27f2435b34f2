/**
 * The transaction log: append-only segments with group-committed fsyncs, and recovery that
 * truncates a torn tail but refuses to start over damage in the middle.
 *
 * `append` resolves once the record is durable (written and fdatasynced when forceSync is on).
 * Appends that arrive while a write+fsync is in flight are all carried by the next one, so an
 * idle log adds no delay and a busy one does one fsync per batch, not per record.
 */
import * as nodePath from 'node:path';
import { assert } from '../lib/assert.js';
import { errorCode, listOrEmpty, type Disk, type DiskFile, type WriteChunk } from '../io/disk.js';
import { stamp, TRACING } from '../io/trace.js';
import { CorruptDataError, DiskFullError, DiskIoError, toDiskError } from './errors.js';
import {
  checkRecord,
  decodeLogHeader,
  encodeLogHeader,
  encodeRecordInto,
  LOG_HEADER_BYTES,
  LOG_PREFIX,
  MAX_RECORD_BYTES,
  nonZeroEnd,
  parseZxidName,
  readU64,
  RECORD_HEADER_BYTES,
  recordSize,
  scanSegment,
  zxidHex,
  zxidNamedFiles,
  type LogRecord,
} from './logformat.js';

export interface TxnLogOptions {
  /** fsync before an append resolves (ZooKeeper's forceSync). Default true. */
  forceSync?: boolean;
  /** Preallocation block in KiB (ZooKeeper's preAllocSize). Default 65536; 0 disables. */
  preAllocSizeKb?: number;
  /** Roll to a new segment once the current one holds this many bytes (txnLogSizeLimitInKb). Default off. */
  segmentSizeLimitBytes?: number;
  /** Most payload bytes in one write+fsync. Default 4 MiB (always at least one record). */
  maxBatchBytes?: number;
  /** Records with zxid <= this are not returned by open (they are in the snapshot). Default -1. */
  replayAfterZxid?: number;
}

export interface SegmentInfo {
  name: string;
  firstZxid: number;
}

export interface TxnLogOpenResult {
  log: TxnLog;
  /** Valid records with zxid > replayAfterZxid, in zxid order: replay these over the snapshot. */
  records: LogRecord[];
  /** Repairs made (torn tail truncated, empty segment removed), one line each. */
  warnings: string[];
}

/** Called once per append: null when the record is durable, else why it failed. */
export type AppendDone = (err: Error | null) => void;

interface Pending {
  zxid: number;
  bytes: Uint8Array;
  done: AppendDone;
}

export interface TxnLogStats {
  records: number;
  batches: number;
  syncs: number;
}

/** Lists `log.<hex>` segments in `dir`, oldest first. */
export async function listSegments(disk: Disk, dir: string): Promise<SegmentInfo[]> {
  return zxidNamedFiles(await listOrEmpty(disk, dir), LOG_PREFIX).map(({ name, zxid }) => ({ name, firstZxid: zxid }));
}

export class TxnLog {
  private queue: Pending[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private file: DiskFile | null = null;
  private fileName: string | null = null;
  /** Offset just after the last durable record of the current segment. */
  private writeOffset = 0;
  /** End of the preallocated region of the current segment. */
  private allocatedEnd = 0;
  private rollRequested = false;
  /** Set after a failed write: the next batch must first cut the current segment back to writeOffset. */
  private failure: DiskFullError | DiskIoError | null = null;
  private lastQueuedZxid: number;
  private lastDurable: number;
  private closed = false;
  private truncating = false;
  readonly stats: TxnLogStats = { records: 0, batches: 0, syncs: 0 };
  private readonly forceSync: boolean;
  private readonly preAllocBytes: number;
  private readonly segmentSizeLimitBytes: number;
  private readonly maxBatchBytes: number;

  private constructor(
    private readonly disk: Disk,
    readonly dir: string,
    lastZxid: number,
    options: TxnLogOptions,
  ) {
    this.lastQueuedZxid = lastZxid;
    this.lastDurable = lastZxid;
    this.forceSync = options.forceSync ?? true;
    this.preAllocBytes = Math.max(0, Math.floor((options.preAllocSizeKb ?? 65536) * 1024));
    this.segmentSizeLimitBytes = options.segmentSizeLimitBytes ?? Number.POSITIVE_INFINITY;
    this.maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Opens the log in `dir` (created if missing), checks every segment that may hold records after
   * `replayAfterZxid`, repairs a torn tail, and returns the records to replay. New appends go to
   * a new segment. Throws CorruptDataError (naming file and offset) when damage is followed by
   * valid records, since truncating there would drop acknowledged writes.
   */
  static async open(disk: Disk, dir: string, options: TxnLogOptions = {}): Promise<TxnLogOpenResult> {
    await disk.mkdirp(dir);
    const after = options.replayAfterZxid ?? -1;
    const warnings: string[] = [];
    const segments = await listSegments(disk, dir);
    // Segments entirely before the replay point are not needed (their txns are in the snapshot).
    let start = 0;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.firstZxid <= after) start = i;
    const records: LogRecord[] = [];
    let prev = -1;
    let lastZxid = Math.max(after, -1);
    let changedDir = false;
    for (let i = start; i < segments.length; i++) {
      const seg = segments[i]!;
      const path = nodePath.join(dir, seg.name);
      const buf = await disk.readFile(path);
      const floor = Math.max(prev, seg.firstZxid - 1);
      const scan = scanSegment(buf, floor);
      if (scan.firstZxid !== null && scan.firstZxid !== seg.firstZxid) {
        throw new CorruptDataError(path, 8, `header names first zxid 0x${zxidHex(scan.firstZxid)}, file name says 0x${zxidHex(seg.firstZxid)}`);
      }
      for (const r of scan.records) {
        if (r.zxid > after) records.push({ zxid: r.zxid, bytes: r.bytes });
        prev = r.zxid;
      }
      if (scan.damage) {
        const d = scan.damage;
        if (d.validRecordAfter !== null) {
          throw new CorruptDataError(path, d.offset, `${d.reason}; valid records follow at offset ${d.validRecordAfter}, refusing to drop them`);
        }
        const later = await TxnLog.firstValidLater(disk, dir, segments.slice(i + 1), prev);
        if (later) {
          throw new CorruptDataError(path, d.offset, `${d.reason}; valid records follow in ${later}, refusing to drop them`);
        }
        if (scan.records.length === 0 && scan.headerError !== null) {
          await disk.remove(path);
          warnings.push(`removed ${path}: ${d.reason}, no valid records (${d.damagedBytes} bytes discarded)`);
        } else {
          const file = await disk.open(path, 'readWrite');
          try {
            await file.truncate(d.offset);
            await file.sync();
          } finally {
            await file.close();
          }
          warnings.push(`truncated torn or corrupted tail of ${path} at byte offset ${d.offset}: ${d.reason} (${d.damagedBytes} bytes discarded)`);
        }
        // Every later segment holds no valid record: remove them so new segments can take their place.
        for (const rest of segments.slice(i + 1)) {
          await disk.remove(nodePath.join(dir, rest.name));
          warnings.push(`removed ${nodePath.join(dir, rest.name)}: no valid records after the damage`);
        }
        changedDir = true;
        break;
      }
      if (scan.records.length === 0) {
        // Created just before a crash: header only (or less). Remove it; its name may be reused.
        await disk.remove(path);
        changedDir = true;
        if (i !== segments.length - 1) warnings.push(`removed empty segment ${path}`);
      }
    }
    if (changedDir) await disk.syncDir(dir);
    lastZxid = Math.max(lastZxid, prev);
    const log = new TxnLog(disk, dir, lastZxid, options);
    return { log, records, warnings };
  }

  /** Name of a later segment holding a valid record, or null. */
  private static async firstValidLater(disk: Disk, dir: string, later: SegmentInfo[], prev: number): Promise<string | null> {
    for (const seg of later) {
      const path = nodePath.join(dir, seg.name);
      const scan = scanSegment(await disk.readFile(path), prev);
      if (scan.records.length > 0) return `${path} at offset ${scan.records[0]!.offset}`;
      if (scan.damage?.validRecordAfter != null) return `${path} at offset ${scan.damage.validRecordAfter}`;
    }
    return null;
  }

  /** Zxid of the last durable record (or the replay point when the log had none). */
  get lastZxid(): number {
    return this.lastDurable;
  }

  /** Name of the segment being written, or null before the first append after open/roll. */
  get currentSegment(): string | null {
    return this.fileName;
  }

  /**
   * Appends one record; resolves once it is durable. Zxids must strictly increase. Rejects with
   * DiskFullError or DiskIoError when the disk fails; then every queued append rejects too, the
   * log's position goes back to lastZxid, and the next append first repairs the segment.
   */
  append(zxid: number, bytes: Uint8Array): Promise<void> {
    let settle: AppendDone = () => undefined;
    const durable = new Promise<void>((resolve, reject) => {
      settle = (err) => (err === null ? resolve() : reject(err));
    });
    // Outside the executor, so a broken invariant throws here rather than rejecting.
    this.appendThen(zxid, bytes, settle);
    return durable;
  }

  /**
   * append() with a callback instead of a promise: the server's write path, where a promise and
   * its reactions per txn are a measurable share of the cost. `done` is always called later,
   * never from within this call.
   */
  appendThen(zxid: number, bytes: Uint8Array, done: AppendDone): void {
    if (this.closed) {
      queueMicrotask(() => done(new Error('txn log is closed')));
      return;
    }
    assert(Number.isSafeInteger(zxid) && zxid >= 0, () => `bad zxid ${zxid}`);
    assert(!this.truncating, 'append during a truncation');
    assert(zxid > this.lastQueuedZxid, () => `zxid 0x${zxidHex(zxid)} not after 0x${zxidHex(this.lastQueuedZxid)}`);
    assert(bytes.length > 0 && bytes.length <= MAX_RECORD_BYTES, () => `record of ${bytes.length} bytes`);
    this.lastQueuedZxid = zxid;
    this.queue.push({ zxid, bytes, done });
    if (!this.running) {
      this.running = true;
      // Start on a microtask so appends made in the same synchronous run share the first fsync.
      queueMicrotask(() => void this.drain());
    }
  }

  /**
   * Drops every record with zxid > `zxid`, durably (FileTxnLog.truncate): waits for the appends
   * in flight, closes the current segment, then cuts the files (see truncateLogAfter). The next
   * append must follow `zxid` and starts a new segment. No append may be made meanwhile.
   */
  async truncateAfter(zxid: number): Promise<TruncateResult> {
    assert(Number.isSafeInteger(zxid) && zxid >= -1, () => `bad zxid ${zxid}`);
    return this.quiesced(async () => {
      const result = await truncateLogAfter(this.disk, this.dir, zxid);
      if (this.lastDurable > zxid) this.lastDurable = zxid;
      return result;
    });
  }

  /**
   * Removes every segment (newest first, so a crash part way leaves a prefix) and goes on after
   * `zxid`: for when a snapshot at `zxid` replaces the whole history (a SNAP from the leader),
   * so that no older record is replayed or sent in a DIFF again. Returns the removed names.
   */
  async resetAfter(zxid: number): Promise<string[]> {
    assert(Number.isSafeInteger(zxid) && zxid >= -1, () => `bad zxid ${zxid}`);
    return this.quiesced(async () => {
      const removed: string[] = [];
      for (const seg of (await listSegments(this.disk, this.dir)).reverse()) {
        await this.disk.remove(nodePath.join(this.dir, seg.name));
        removed.push(seg.name);
      }
      if (removed.length > 0) await this.disk.syncDir(this.dir);
      this.lastDurable = zxid;
      return removed;
    });
  }

  /**
   * Runs `work` on the files with no append in flight and no segment open. An append made
   * meanwhile is a caller's bug (asserted): it would race with the files being cut.
   */
  private async quiesced<T>(work: () => Promise<T>): Promise<T> {
    assert(!this.closed, 'txn log is closed');
    await this.whenIdle();
    this.truncating = true;
    try {
      await this.closeSegment();
      this.failure = null;
      return await work();
    } finally {
      this.lastQueuedZxid = this.lastDurable;
      this.truncating = false;
    }
  }

  /**
   * The durable records with zxid > `zxid`, oldest first, read a page at a time (see
   * readLogAfter); records appended while reading are not included.
   */
  readAfter(zxid: number, options: ReadAfterOptions = {}): AsyncGenerator<LogRecord> {
    return readLogAfter(this.disk, this.dir, zxid, { ...options, through: Math.min(options.through ?? Infinity, this.lastDurable) });
  }

  /** Starts a new segment at the next append (call after taking a snapshot). */
  roll(): void {
    this.rollRequested = true;
  }

  /** Resolves when every append made so far has been settled. */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for pending appends, syncs and closes the current segment. */
  async close(): Promise<void> {
    this.closed = true;
    await this.whenIdle();
    await this.closeSegment();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        let bytes = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || bytes + recordSize(this.queue[n]!.bytes.length) <= this.maxBatchBytes)) {
          bytes += recordSize(this.queue[n]!.bytes.length);
          n++;
        }
        const batch = this.queue.splice(0, n);
        try {
          await this.writeBatch(batch, bytes);
        } catch (err) {
          const failure = toDiskError(err, this.fileName ? nodePath.join(this.dir, this.fileName) : this.dir);
          this.failure = failure;
          const rejected = [...batch, ...this.queue.splice(0)];
          this.lastQueuedZxid = this.lastDurable;
          for (const p of rejected) p.done(failure);
          // Cut back the half-written batch now if the disk lets us; else the next append retries.
          await this.repair().catch(() => undefined);
          continue;
        }
        this.lastDurable = batch[batch.length - 1]!.zxid;
        this.stats.records += batch.length;
        this.stats.batches++;
        for (const p of batch) p.done(null);
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async writeBatch(batch: Pending[], bytes: number): Promise<void> {
    if (this.failure) await this.repair();
    if (this.file && (this.rollRequested || this.writeOffset >= this.segmentSizeLimitBytes)) await this.closeSegment();
    this.rollRequested = false;
    let fresh = false;
    if (!this.file) {
      await this.createSegment(batch[0]!.zxid);
      fresh = true;
    }
    const file = this.file!;
    const start = fresh ? 0 : this.writeOffset;
    // Its own ArrayBuffer, not a pool slice, so the real disk can hand it to its worker thread.
    const out = Buffer.from(new ArrayBuffer((fresh ? LOG_HEADER_BYTES : 0) + bytes));
    let at = 0;
    if (fresh) at = encodeLogHeader(batch[0]!.zxid).copy(out, 0);
    for (const p of batch) at = encodeRecordInto(out, at, p.zxid, p.bytes);
    const end = start + out.length;
    const chunks: WriteChunk[] = [];
    let allocatedEnd = this.allocatedEnd;
    if (this.preAllocBytes > 0 && end > allocatedEnd) {
      // Extend the file ahead of the records (ZooKeeper writes one byte at the new end), so most
      // fdatasyncs need not update the file size.
      allocatedEnd = Math.ceil((end + 1) / this.preAllocBytes) * this.preAllocBytes;
      chunks.push({ data: new Uint8Array(1), position: allocatedEnd - 1 });
    }
    chunks.push({ data: out, position: start });
    const sync = this.forceSync || fresh;
    if (TRACING) stamp('d.write', batch[batch.length - 1]!.zxid);
    await file.writeAndSync(chunks, sync);
    if (TRACING) stamp('d.synced', batch[batch.length - 1]!.zxid);
    this.allocatedEnd = allocatedEnd;
    if (sync) this.stats.syncs++;
    if (fresh) await this.disk.syncDir(this.dir);
    this.writeOffset = end;
  }

  private async createSegment(firstZxid: number): Promise<void> {
    const name = `${LOG_PREFIX}${zxidHex(firstZxid)}`;
    const path = nodePath.join(this.dir, name);
    this.file = await this.disk.open(path, 'createExclusive');
    this.fileName = name;
    this.writeOffset = 0;
    this.allocatedEnd = 0;
  }

  /** Cuts back whatever a failed write may have left after the last durable record. */
  private async repair(): Promise<void> {
    if (this.file) {
      if (this.writeOffset === 0) {
        // The segment never became durable: remove it, it will be created again.
        const path = nodePath.join(this.dir, this.fileName!);
        await this.file.close().catch(() => undefined);
        this.file = null;
        this.fileName = null;
        await this.disk.remove(path).catch((err) => {
          if (errorCode(err) !== 'ENOENT') throw err;
        });
        await this.disk.syncDir(this.dir);
      } else {
        await this.file.truncate(this.writeOffset);
        await this.file.sync();
        this.allocatedEnd = this.writeOffset;
      }
    }
    this.failure = null;
  }

  private async closeSegment(): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = null;
    this.fileName = null;
    try {
      if (!this.forceSync && !this.failure) await file.sync();
    } finally {
      await file.close();
    }
  }
}

export interface TruncateResult {
  /** Segments removed because all their records were after the zxid. */
  removed: string[];
  /** The segment cut short, or null when none held records after the zxid. */
  truncated: string | null;
}

/**
 * Drops every record with zxid > `zxid` from the segments in `dir`. Order matters for a crash
 * part way: later segments are removed newest first (and the directory synced), then the segment
 * holding `zxid` is cut after it and synced, so what survives a crash is always a prefix of the
 * log, never one with a hole. Throws CorruptDataError when the segment to cut has a bad header.
 */
export async function truncateLogAfter(disk: Disk, dir: string, zxid: number): Promise<TruncateResult> {
  const segments = await listSegments(disk, dir);
  const removed: string[] = [];
  for (const seg of segments.filter((s) => s.firstZxid > zxid).reverse()) {
    await disk.remove(nodePath.join(dir, seg.name));
    removed.push(seg.name);
  }
  if (removed.length > 0) await disk.syncDir(dir);
  const holder = segments.filter((s) => s.firstZxid <= zxid).at(-1);
  if (!holder) return { removed, truncated: null };
  const path = nodePath.join(dir, holder.name);
  const scan = scanSegment(await disk.readFile(path), holder.firstZxid - 1);
  if (scan.firstZxid === null) throw new CorruptDataError(path, 0, `${scan.headerError}; cannot truncate it`);
  // Cut at the first record after the zxid, else at damage after the last good record.
  const cut = scan.records.find((r) => r.zxid > zxid)?.offset ?? scan.damage?.offset ?? null;
  if (cut === null) return { removed, truncated: null };
  const file = await disk.open(path, 'readWrite');
  try {
    await file.truncate(cut);
    await file.sync();
  } finally {
    await file.close();
  }
  return { removed, truncated: holder.name };
}

export interface ReadAfterOptions {
  /** Stop after this zxid (default: the end of the log). */
  through?: number;
  /** Bytes read from a segment at a time (default 1 MiB; a longer record is read whole). */
  pageBytes?: number;
}

/**
 * The records with zxid > `zxid` (up to `through`), oldest first, across segments, for a DIFF
 * from the on-disk log. Memory stays bounded by the page size and the largest record: each
 * record's bytes are a view into its page, which the caller may keep or drop. Segments before
 * the one holding `zxid + 1` are not opened. Preallocated zeros end a segment; any other invalid
 * record before `through` is a CorruptDataError (recovery at open repairs torn tails, so one
 * here is damage since).
 */
export async function* readLogAfter(disk: Disk, dir: string, zxid: number, options: ReadAfterOptions = {}): AsyncGenerator<LogRecord> {
  const through = options.through ?? Infinity;
  const pageBytes = Math.max(RECORD_HEADER_BYTES, options.pageBytes ?? 1024 * 1024);
  const segments = await listSegments(disk, dir);
  let start = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.firstZxid <= zxid + 1) start = i;
  let prev = -1;
  for (const seg of segments.slice(start)) {
    if (seg.firstZxid > through) return;
    const reader = new SegmentReader(await disk.open(nodePath.join(dir, seg.name), 'read'), pageBytes);
    try {
      for await (const record of reader.records(Math.max(prev, seg.firstZxid - 1))) {
        prev = record.zxid;
        if (record.zxid > through) return;
        if (record.zxid > zxid) yield record;
        // Past `through` may be an append in flight: do not read it.
        if (record.zxid >= through) return;
      }
    } finally {
      await reader.close();
    }
  }
}

/** Reads one segment's records a page at a time. */
class SegmentReader {
  private page: Buffer = Buffer.alloc(0);
  /** File position of page[0]. */
  private pageStart = 0;
  private eof = false;

  constructor(
    private readonly file: DiskFile,
    private readonly pageBytes: number,
  ) {}

  /** Makes bytes [at, at + length) available in the page unless the file ends first. */
  private async ensure(at: number, length: number): Promise<void> {
    const have = this.pageStart + this.page.length;
    if (at + length <= have || this.eof) return;
    const keep = this.page.subarray(Math.max(0, at - this.pageStart));
    const from = this.pageStart + this.page.length;
    const more = await this.file.read(from, Math.max(this.pageBytes, at + length - from));
    if (more.length < Math.max(this.pageBytes, at + length - from)) this.eof = true;
    // A new buffer, not a reused one: records already yielded keep viewing the old page.
    this.page = Buffer.concat([keep, more]);
    this.pageStart = at;
  }

  async *records(prevZxid: number): AsyncGenerator<LogRecord> {
    await this.ensure(0, LOG_HEADER_BYTES);
    const header = decodeLogHeader(this.page.subarray(0, LOG_HEADER_BYTES));
    if ('error' in header) throw new CorruptDataError(this.file.path, 0, header.error);
    let prev = Math.max(prevZxid, header.firstZxid - 1);
    let at = LOG_HEADER_BYTES;
    for (;;) {
      await this.ensure(at, RECORD_HEADER_BYTES);
      let rel = at - this.pageStart;
      if (this.page.length - rel >= RECORD_HEADER_BYTES) {
        const length = this.page.readUInt32BE(rel);
        if (length > 0 && length <= MAX_RECORD_BYTES) await this.ensure(at, RECORD_HEADER_BYTES + length);
        rel = at - this.pageStart;
      }
      if (this.page.length === rel) return;
      const checked = checkRecord(this.page, rel, prev);
      if (typeof checked === 'string') {
        // Zeros to the end of what was read: preallocated space, the end of this segment.
        if (nonZeroEnd(this.page, rel) === rel) return;
        throw new CorruptDataError(this.file.path, at, checked);
      }
      prev = readU64(this.page, rel + 4);
      yield { zxid: prev, bytes: checked };
      at += RECORD_HEADER_BYTES + checked.length;
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
