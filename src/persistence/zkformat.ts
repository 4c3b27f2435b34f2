/**
 * Readers for Apache ZooKeeper 3.x data files (for `paddock data import-zookeeper`), pure over
 * bytes. Formats (see the protocol notes, section 11):
 *   log.<hex>:      FileHeader{int magic "ZKLG", int version 2, long dbid}, then per txn
 *                   long adler32(txn), int length, txn bytes (TxnHeader + record [+ digest]),
 *                   byte 'B'; a zero length (preallocated zeros) or a partial record ends the log.
 *   snapshot.<hex>: FileHeader{"ZKSN", 2, dbid}, int sessionCount + (long id, int timeout)*,
 *                   int aclCount + (long key, vector<ACL>)*, then (ustring path, buffer data,
 *                   long aclKey, StatPersisted)* in preorder with root path "", ended by path
 *                   "/"; then long adler32 of every byte so far, and ustring "/".
 */
import { gunzipSync } from 'node:zlib';
import { JuteReader } from '../jute/binary.js';
import { ACLs, type ACL } from '../jute/records.js';
import { nonZeroEnd, readU64 } from './logformat.js';

export const ZK_LOG_MAGIC = 0x5a4b4c47; // "ZKLG"
export const ZK_SNAP_MAGIC = 0x5a4b534e; // "ZKSN"
const FILE_HEADER_BYTES = 16;

/** Adler-32 (RFC 1950) of `buf`, continuing from `adler` (start 1). */
export function adler32(buf: Uint8Array, adler = 1): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  let i = 0;
  while (i < buf.length) {
    // 5552 is the most bytes before the sums can overflow 2^32 and must be reduced.
    const end = Math.min(i + 5552, buf.length);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export class ZkFormatError extends Error {
  override name = 'ZkFormatError';
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(`${message} at byte offset ${offset}`);
  }
}

export interface ZkLogRecord {
  zxid: number;
  /** TxnHeader + record (+ TxnDigest): decodeTxn reads it. */
  bytes: Buffer;
  offset: number;
}

/** Where and why reading a ZooKeeper log stopped before its end. */
export interface ZkLogStop {
  offset: number;
  reason: string;
  /**
   * A partial write (the txn runs past the end of the file, or its end marker is missing):
   * ZooKeeper ends the log there. Anything else (a bad length, a checksum mismatch) it refuses.
   */
  torn: boolean;
  /** Offset of a valid txn after the stop in the same file, or null. */
  validRecordAfter: number | null;
}

export interface ZkLogScan {
  records: ZkLogRecord[];
  /** Null when the file ended cleanly (at its end or at preallocated zeros). */
  stop: ZkLogStop | null;
}

/**
 * Largest txn length taken as a length at all. ZooKeeper refuses one above jute.maxbuffer (1 MiB
 * by default); no configuration makes a 64 MiB txn, so a length above it is damage, not a txn.
 */
export const ZK_MAX_TXN_BYTES = 64 * 1024 * 1024;
/** ZooKeeper's TxnHeader alone: clientId, cxid, zxid, time, type. */
const ZK_TXN_HEADER_BYTES = 32;

/** The txn at `off` as a record, or why it is not one (and whether that is a torn write). */
function zkRecordAt(buf: Buffer, off: number): ZkLogRecord | { reason: string; torn: boolean } {
  if (buf.length - off < 12) return { reason: `txn header truncated (${buf.length - off} bytes left)`, torn: true };
  const crcHi = buf.readUInt32BE(off);
  const crc = buf.readUInt32BE(off + 4);
  const len = buf.readInt32BE(off + 8);
  if (len === 0) return { reason: 'zero length txn followed by data', torn: true };
  if (len < 0) return { reason: `bad txn length ${len}`, torn: false };
  if (len > ZK_MAX_TXN_BYTES) return { reason: `bad txn length 0x${len.toString(16)} (above ${ZK_MAX_TXN_BYTES} bytes)`, torn: false };
  if (len > buf.length - off - 13) return { reason: `txn truncated (length ${len}, ${Math.max(0, buf.length - off - 12)} bytes left)`, torn: true };
  if (buf[off + 12 + len] !== 0x42) return { reason: 'txn end marker missing (a partial write)', torn: true };
  const bytes = buf.subarray(off + 12, off + 12 + len);
  if (crcHi !== 0 || adler32(bytes) !== crc) return { reason: 'txn checksum (Adler-32) mismatch', torn: false };
  if (len < ZK_TXN_HEADER_BYTES) return { reason: 'txn shorter than its header', torn: false };
  return { zxid: readU64(bytes, 12), bytes, offset: off };
}

/** Offset of the first valid txn starting after `from`, or null. */
function findZkRecord(buf: Buffer, from: number): number | null {
  const end = nonZeroEnd(buf, from);
  for (let q = from + 1; q + 12 < end; q++) {
    // Cheap filters first: a zero high checksum word, a plausible length, the end marker.
    if (buf.readUInt32BE(q) !== 0) continue;
    const len = buf.readInt32BE(q + 8);
    if (len < ZK_TXN_HEADER_BYTES || len > buf.length - q - 13 || buf[q + 12 + len] !== 0x42) continue;
    if (!('reason' in zkRecordAt(buf, q))) return q;
  }
  return null;
}

/**
 * Reads a ZooKeeper txn log up to its end or its first bad txn (see `stop`), from the first txn
 * or from `from` (a `validRecordAfter`, to read on past damage); throws ZkFormatError only when
 * the file header is not a ZooKeeper log's.
 */
export function readZkLog(buf: Buffer, from = FILE_HEADER_BYTES): ZkLogScan {
  if (buf.length < FILE_HEADER_BYTES || buf.readUInt32BE(0) !== ZK_LOG_MAGIC) throw new ZkFormatError(0, 'not a ZooKeeper txn log (no ZKLG header)');
  const version = buf.readInt32BE(4);
  if (version !== 2) throw new ZkFormatError(4, `unsupported ZooKeeper log version ${version}`);
  const records: ZkLogRecord[] = [];
  let off = Math.max(from, FILE_HEADER_BYTES);
  while (off < buf.length) {
    // Preallocated zeros to the end: the end of the log.
    if (nonZeroEnd(buf, off) === off) break;
    const rec = zkRecordAt(buf, off);
    if ('reason' in rec) return { records, stop: { offset: off, reason: rec.reason, torn: rec.torn, validRecordAfter: findZkRecord(buf, off) } };
    records.push(rec);
    off += 12 + rec.bytes.length + 1;
  }
  return { records, stop: null };
}

export interface ZkStatPersisted {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  pzxid: number;
}

export interface ZkNode {
  /** "/" for the root. */
  path: string;
  data: Buffer | null;
  acl: ACL[];
  stat: ZkStatPersisted;
}

export interface ZkSnapshot {
  sessions: Map<bigint, number>;
  /** In preorder: every parent before its children. */
  nodes: ZkNode[];
}

export const OPEN_ACL_UNSAFE: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/**
 * Reads a ZooKeeper snapshot (uncompressed, or gzip when `gzip`); verifies the Adler-32 seal.
 * Throws ZkFormatError naming the offset of the problem.
 */
export function readZkSnapshot(file: Buffer, gzip = false): ZkSnapshot {
  const buf = gzip ? gunzipSync(file) : file;
  const r = new JuteReader(buf, 0, buf.length, 0x7fffffff);
  try {
    if (r.int() !== ZK_SNAP_MAGIC) throw new ZkFormatError(0, 'not a ZooKeeper snapshot (no ZKSN header)');
    const version = r.int();
    if (version !== 2) throw new ZkFormatError(4, `unsupported ZooKeeper snapshot version ${version}`);
    r.long(); // dbid
    const { sessions, nodes } = readZkSnapshotBody(r);
    const sealAt = r.offset;
    const expected = adler32(buf.subarray(0, sealAt));
    const stored = r.long();
    if (stored !== BigInt(expected)) throw new ZkFormatError(sealAt, 'ZooKeeper snapshot checksum (Adler-32) mismatch');
    if (r.string() !== '/') throw new ZkFormatError(sealAt + 8, 'ZooKeeper snapshot seal missing');
    if (nodes.length === 0 || nodes[0]!.path !== '/') throw new ZkFormatError(FILE_HEADER_BYTES, 'ZooKeeper snapshot has no root node');
    return { sessions, nodes };
  } catch (e) {
    if (e instanceof ZkFormatError) throw e;
    throw new ZkFormatError(r.offset, `ZooKeeper snapshot truncated or malformed (${(e as Error).message})`);
  }
}

/**
 * The part of a snapshot after the file header and before the seal: sessions, the ACL table
 * and the nodes up to the "/" terminator. It is also what a ZooKeeper leader streams after a
 * SNAP packet (ZKDatabase.serializeSnapshot), so the quorum learner reads SNAP with it.
 * Throws ZkFormatError for bad counts or ACL references; a JuteError when the bytes end early.
 */
export function readZkSnapshotBody(r: JuteReader): ZkSnapshot {
  const sessions = new Map<bigint, number>();
  const sessionCount = count(r, 12);
  for (let i = 0; i < sessionCount; i++) {
    const id = r.long();
    sessions.set(id, r.int());
  }
  const acls = new Map<bigint, ACL[]>();
  const aclCount = count(r, 12);
  for (let i = 0; i < aclCount; i++) {
    const key = r.long();
    acls.set(key, ACLs.read(r));
  }
  const nodes: ZkNode[] = [];
  for (;;) {
    const at = r.offset;
    const path = r.string();
    if (path === '/') break;
    const data = r.bufferOrNull();
    const aclKey = r.long();
    const acl = aclKey === -1n ? OPEN_ACL_UNSAFE : acls.get(aclKey);
    if (acl === undefined) throw new ZkFormatError(at, `node ${path || '/'} refers to unknown ACL ${aclKey}`);
    const stat: ZkStatPersisted = {
      czxid: r.longNumber(),
      mzxid: r.longNumber(),
      ctime: r.longNumber(),
      mtime: r.longNumber(),
      version: r.int(),
      cversion: r.int(),
      aversion: r.int(),
      ephemeralOwner: r.long(),
      pzxid: r.longNumber(),
    };
    nodes.push({ path: path === '' ? '/' : path, data, acl, stat });
  }
  return { sessions, nodes };
}

function count(r: JuteReader, minBytesEach: number): number {
  const at = r.offset;
  const n = r.int();
  if (n < 0 || n * minBytesEach > r.remaining()) throw new ZkFormatError(at, `bad count ${n}`);
  return n;
}

/** Zxid and compression of a ZooKeeper `snapshot.<hex>[.gz|.snappy]` name, or null. */
export function parseZkSnapshotName(name: string): { zxid: number; compression: '' | 'gz' | 'snappy' } | null {
  const m = /^snapshot\.([0-9a-f]{1,14})(?:\.(gz|snappy))?$/.exec(name);
  if (!m) return null;
  return { zxid: parseInt(m[1]!, 16), compression: (m[2] ?? '') as '' | 'gz' | 'snappy' };
}
