/**
 * Paddock txn log segment format (pure functions over bytes; no I/O).
 *
 * A segment file `log.<first zxid, lowercase hex>`:
 *   header  (20 bytes): magic "PDKL", u32 version = 1, u64 first zxid, u32 CRC-32 of the 16 bytes before
 *   records (16 + n bytes each): u32 payload length n (> 0), u64 zxid, u32 CRC-32 over the length,
 *           the zxid and the payload; then the payload (one encoded txn)
 *   then zero bytes (preallocated space) up to the end of the file.
 * All integers big-endian. A record is valid when it fits in the file, its checksum matches and
 * its zxid is greater than the one before: a torn or corrupted record can never look valid.
 */
import { crc32 } from 'node:zlib';

export const LOG_MAGIC = 0x50444b4c; // "PDKL"
export const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 20;
export const RECORD_HEADER_BYTES = 16;
/** Largest payload accepted; a length above it is damage, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const TWO_32 = 4294967296;

export const LOG_PREFIX = 'log.';
export const SNAPSHOT_PREFIX = 'snapshot.';

export function zxidHex(zxid: number): string {
  return zxid.toString(16);
}

/** Zxid of a `prefix<hex>` file name, or null when the name is not exactly that. */
export function parseZxidName(name: string, prefix: string): number | null {
  if (!name.startsWith(prefix)) return null;
  const hex = name.slice(prefix.length);
  if (!/^[0-9a-f]{1,14}$/.test(hex)) return null;
  const v = parseInt(hex, 16);
  return Number.isSafeInteger(v) ? v : null;
}

/** The `prefix<hex>` names among `names` (snapshots, log segments) with their zxids, oldest first. */
export function zxidNamedFiles(names: readonly string[], prefix: string): { name: string; zxid: number }[] {
  const out: { name: string; zxid: number }[] = [];
  for (const name of names) {
    const zxid = parseZxidName(name, prefix);
    if (zxid !== null) out.push({ name, zxid });
  }
  return out.sort((a, b) => a.zxid - b.zxid);
}

export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** The 20-byte header of log segments and snapshots: magic, version, zxid, CRC-32 of those. */
export function encodeFileHeader(magic: number, version: number, zxid: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(version, 4);
  writeU64(b, zxid, 8);
  b.writeUInt32BE(crc32(b.subarray(0, 16)), 16);
  return b;
}

export function encodeLogHeader(firstZxid: number): Buffer {
  return encodeFileHeader(LOG_MAGIC, LOG_VERSION, firstZxid);
}

/** The first zxid the header names, or a reason it is not a valid header. */
export function decodeLogHeader(buf: Buffer): { firstZxid: number } | { error: string } {
  if (buf.length < LOG_HEADER_BYTES) return { error: `file header truncated (${buf.length} of ${LOG_HEADER_BYTES} bytes)` };
  if (buf.readUInt32BE(0) !== LOG_MAGIC) return { error: 'not a Paddock txn log (bad magic)' };
  if (buf.readUInt32BE(16) !== crc32(buf.subarray(0, 16))) return { error: 'file header checksum mismatch' };
  const version = buf.readUInt32BE(4);
  if (version !== LOG_VERSION) return { error: `unsupported txn log version ${version}` };
  return { firstZxid: readU64(buf, 8) };
}

export function recordSize(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/** Writes one framed record into `out` at `offset`; returns the offset after it. */
export function encodeRecordInto(out: Buffer, offset: number, zxid: number, payload: Uint8Array): number {
  out.writeUInt32BE(payload.length, offset);
  writeU64(out, zxid, offset + 4);
  const crc = crc32(payload, crc32(out.subarray(offset, offset + 12)));
  out.writeUInt32BE(crc, offset + 12);
  out.set(payload, offset + RECORD_HEADER_BYTES);
  return offset + RECORD_HEADER_BYTES + payload.length;
}

export function encodeRecord(zxid: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(recordSize(payload.length));
  encodeRecordInto(out, 0, zxid, payload);
  return out;
}

export interface LogRecord {
  zxid: number;
  /** The payload: a view into the segment's bytes. */
  bytes: Buffer;
}

export interface ScannedRecord extends LogRecord {
  /** Byte offset of the record's frame in the file. */
  offset: number;
}

export interface SegmentDamage {
  /** Where the first invalid record starts. */
  offset: number;
  reason: string;
  /** Bytes from `offset` to the last non-zero byte of the file (what truncation discards). */
  damagedBytes: number;
  /** Offset of a valid record after the damage in the same file, or null. */
  validRecordAfter: number | null;
}

export interface SegmentScan {
  /** Null when the header itself is bad (see headerError). */
  firstZxid: number | null;
  headerError: string | null;
  records: ScannedRecord[];
  /** Offset just after the last valid record (or the header). */
  validEnd: number;
  damage: SegmentDamage | null;
  /** File length, preallocated zeros included. */
  fileBytes: number;
}

/** CRC-32 table (the polynomial zlib uses), for short ranges. */
const CRC_TABLE = ((): Int32Array => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib's crc32 of buf[start, end), in JS: for a record's 12 header bytes it beats a native call and a view. */
function crc32Range(buf: Buffer, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** The payload (a view) of the record at `offset` when it is valid, else why it is not. */
export function checkRecord(buf: Buffer, offset: number, prevZxid: number): Buffer | string {
  const left = buf.length - offset;
  if (left < RECORD_HEADER_BYTES) return `record header truncated (${left} bytes left)`;
  const len = buf.readUInt32BE(offset);
  if (len === 0) return 'zero length record';
  if (len > MAX_RECORD_BYTES) return `record length ${len} out of range`;
  if (len > left - RECORD_HEADER_BYTES) return `record truncated (length ${len}, ${left - RECORD_HEADER_BYTES} bytes left)`;
  const hi = buf.readUInt32BE(offset + 4);
  if (hi > 0x1fffff) return 'zxid out of range';
  const payload = buf.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + len);
  if (crc32(payload, crc32Range(buf, offset, offset + 12)) !== buf.readUInt32BE(offset + 12)) return 'checksum mismatch';
  const zxid = readU64(buf, offset + 4);
  if (zxid <= prevZxid) return `zxid 0x${zxidHex(zxid)} not after 0x${zxidHex(prevZxid)}`;
  return payload;
}

const ZERO_BLOCK = Buffer.alloc(64 * 1024);

/** Index just after the last non-zero byte at or after `from`, or `from` when all are zero. */
export function nonZeroEnd(buf: Buffer, from: number): number {
  let end = buf.length;
  // Preallocated tails are tens of MB of zeros: skip whole blocks with a native compare.
  const block = ZERO_BLOCK.length;
  while (end - from >= block && buf.compare(ZERO_BLOCK, 0, block, end - block, end) === 0) end -= block;
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

/** Offset of the first valid record starting in [from, buf.length) with zxid > prevZxid, or null. */
export function findValidRecord(buf: Buffer, from: number, prevZxid: number): number | null {
  // A record starts with a non-zero length, so it cannot start in the trailing zeros.
  const limit = Math.min(nonZeroEnd(buf, from), buf.length - RECORD_HEADER_BYTES);
  for (let q = from; q < limit; q++) {
    const len = buf.readUInt32BE(q);
    if (len === 0 || len > MAX_RECORD_BYTES || len > buf.length - q - RECORD_HEADER_BYTES) continue;
    if (typeof checkRecord(buf, q, prevZxid) !== 'string') return q;
  }
  return null;
}

/**
 * Reads a whole segment: every valid record in order, and the first damage if any (with whether
 * valid records follow it in this file). `prevZxid` is the zxid before this segment's first.
 */
export function scanSegment(buf: Buffer, prevZxid: number): SegmentScan {
  const header = decodeLogHeader(buf);
  if ('error' in header) {
    const validAfter = findValidRecord(buf, 0, prevZxid);
    return {
      firstZxid: null,
      headerError: header.error,
      records: [],
      validEnd: 0,
      damage: { offset: 0, reason: header.error, damagedBytes: nonZeroEnd(buf, 0), validRecordAfter: validAfter },
      fileBytes: buf.length,
    };
  }
  const records: ScannedRecord[] = [];
  let offset = LOG_HEADER_BYTES;
  let prev = Math.max(prevZxid, header.firstZxid - 1);
  let damage: SegmentDamage | null = null;
  while (offset < buf.length) {
    const checked = checkRecord(buf, offset, prev);
    if (typeof checked === 'string') {
      const garbageEnd = nonZeroEnd(buf, offset);
      if (garbageEnd === offset) break; // zeros to the end: preallocated space, the end of the log
      damage = {
        offset,
        reason: checked,
        damagedBytes: garbageEnd - offset,
        validRecordAfter: findValidRecord(buf, offset + 1, prev),
      };
      break;
    }
    const zxid = readU64(buf, offset + 4);
    records.push({ zxid, offset, bytes: checked });
    prev = zxid;
    offset += RECORD_HEADER_BYTES + checked.length;
  }
  const validEnd = records.length > 0 ? offset : LOG_HEADER_BYTES;
  return { firstZxid: header.firstZxid, headerError: null, records, validEnd: damage ? damage.offset : validEnd, damage, fileBytes: buf.length };
}
