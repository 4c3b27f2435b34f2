/**
 * Jute binary archive: big-endian ints and longs, 1-byte booleans, length-prefixed buffers and
 * UTF-8 strings where -1 means null. Readers throw JuteError on anything malformed, except
 * invalid UTF-8, which decodes to U+FFFD as Java's `new String(bytes, UTF_8)` does: ZooKeeper then
 * answers such a path with NONODE or BADARGUMENTS (U+FFFD is not a valid path character).
 */
import { DEFAULT_MAX_BUFFER } from './constants.js';

export class JuteError extends RangeError {
  override name = 'JuteError';
}

const TWO_32 = 4294967296;
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const ASCII_FAST_PATH_MAX = 64;

function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

export class JuteReader {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
    /** Longest buffer, string or vector count accepted; guards against huge allocations. */
    readonly maxLength = DEFAULT_MAX_BUFFER,
  ) {
    this.offset = offset;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.end) {
      throw new JuteError(`record truncated: need ${bytes} bytes at offset ${this.offset}, have ${this.end - this.offset}`);
    }
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A long as a JS number; exact for every value within ±2^53 (zxids, times, counts). */
  longNumber(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    if (hi > 0x1fffff || hi < -0x200000) throw new JuteError(`long out of safe range at offset ${this.offset - 8}`);
    return hi * TWO_32 + lo;
  }

  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.offset++] !== 0;
  }

  byte(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }

  private length(what: string): number {
    const len = this.int();
    if (len < -1) throw new JuteError(`negative ${what} length ${len}`);
    if (len > this.maxLength) throw new JuteError(`${what} length ${len} exceeds limit ${this.maxLength}`);
    return len;
  }

  /** A buffer; null (-1) reads as null. The result is a view into the frame, not a copy. */
  bufferOrNull(): Buffer | null {
    const len = this.length('buffer');
    if (len === -1) return null;
    this.need(len);
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }

  buffer(): Buffer {
    return this.bufferOrNull() ?? EMPTY;
  }

  stringOrNull(): string | null {
    const len = this.length('string');
    if (len === -1) return null;
    this.need(len);
    if (len <= ASCII_FAST_PATH_MAX && isAscii(this.buf, this.offset, this.offset + len)) {
      // Paths and ACL ids are short ASCII: cheaper than the UTF-8 decoder and a view each.
      const ascii = this.buf.toString('latin1', this.offset, this.offset + len);
      this.offset += len;
      return ascii;
    }
    const v = utf8.decode(this.buf.subarray(this.offset, this.offset + len));
    this.offset += len;
    return v;
  }

  string(): string {
    return this.stringOrNull() ?? '';
  }

  /** A vector; null (-1) reads as an empty list. The count is checked against the bytes left. */
  vector<T>(readItem: (r: JuteReader) => T, minItemBytes = 1): T[] {
    const count = this.length('vector');
    if (count <= 0) return [];
    if (count * minItemBytes > this.remaining()) {
      throw new JuteError(`vector count ${count} exceeds the ${this.remaining()} bytes left`);
    }
    const items: T[] = new Array(count);
    for (let i = 0; i < count; i++) items[i] = readItem(this);
    return items;
  }

  stringVector(): string[] {
    return this.vector((r) => r.string(), 4);
  }
}

export const EMPTY = Buffer.alloc(0);

/** A vector<ustring>, as one Buffer of its own. */
export function encodeStringVector(items: readonly string[]): Buffer {
  const w = new JuteWriter(16 + items.length * 16);
  w.stringVector(items);
  return Buffer.from(w.bytes());
}

/** Writes `s` as ASCII bytes; returns its length, or -1 (having written garbage) if it is not ASCII. */
function writeAscii(buf: Buffer, s: string, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[at + i] = c;
  }
  return s.length;
}

/** Scratch for splitting a bigint long into 32-bit halves; the host's byte order picks the high one. */
const LONG_SCRATCH = new BigInt64Array(1);
const LONG_HALVES = new Uint32Array(LONG_SCRATCH.buffer);
const HI_HALF = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Big-endian store of the low 32 bits of `v`: byte stores beat Buffer's checked writeInt32BE. */
function putInt32(buf: Buffer, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

export class JuteWriter {
  private buf: Buffer;
  offset = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(bytes: number): void {
    if (this.offset + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  int(v: number): this {
    this.ensure(4);
    putInt32(this.buf, this.offset, v);
    this.offset += 4;
    return this;
  }

  /** Writes a number as a long; exact for integers within ±2^53. */
  longNumber(v: number): this {
    this.ensure(8);
    // Most longs (zxids, counts) fit 32 bits: no division for them.
    const hi = v >= 0 && v < TWO_32 ? 0 : Math.floor(v / TWO_32);
    putInt32(this.buf, this.offset, hi);
    putInt32(this.buf, this.offset + 4, v - hi * TWO_32);
    this.offset += 8;
    return this;
  }

  long(v: bigint): this {
    this.ensure(8);
    if (v === 0n) {
      // Most ephemeralOwners: no BigInt arithmetic for them.
      putInt32(this.buf, this.offset, 0);
      putInt32(this.buf, this.offset + 4, 0);
    } else {
      // The halves come out of a typed-array store (which wraps to 64 bits as BigInt.asIntN
      // does): about a third of writeBigInt64BE's cost, and no BigInt is allocated.
      LONG_SCRATCH[0] = v;
      putInt32(this.buf, this.offset, LONG_HALVES[HI_HALF]);
      putInt32(this.buf, this.offset + 4, LONG_HALVES[1 - HI_HALF]);
    }
    this.offset += 8;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.offset++] = v ? 1 : 0;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.offset++);
    return this;
  }

  /** A buffer; a string is taken as bytes stored one per char (latin1), as the tree keeps data. */
  buffer(v: Uint8Array | string | null): this {
    if (v === null) return this.int(-1);
    if (typeof v === 'string') {
      this.int(v.length);
      this.ensure(v.length);
      this.offset += this.buf.write(v, this.offset, v.length, 'latin1');
      return this;
    }
    this.int(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.offset);
    this.offset += v.length;
    return this;
  }

  /**
   * One pass over the string: encode first, then fill in the length before it. Short ASCII
   * strings (names, paths) are copied in JS: cheaper than a call into the UTF-8 encoder each.
   */
  string(v: string | null): this {
    if (v === null) return this.int(-1);
    const most = v.length * 3;
    this.ensure(4 + most);
    const start = this.offset + 4;
    let len = -1;
    if (v.length <= ASCII_FAST_PATH_MAX) len = writeAscii(this.buf, v, start);
    if (len < 0) len = this.buf.write(v, start, most, 'utf8');
    putInt32(this.buf, this.offset, len);
    this.offset += 4 + len;
    return this;
  }

  vector<T>(items: readonly T[] | null, writeItem: (w: JuteWriter, item: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }

  stringVector(items: readonly string[] | null): this {
    return this.vector(items, (w, s) => w.string(s));
  }

  /** Bytes already in jute form (a cached encoding), copied as they are. */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  /** Reserves 4 bytes for a frame length, to be filled by endFrame(). */
  beginFrame(): number {
    const at = this.offset;
    this.int(0);
    return at;
  }

  /** `external`: bytes of the frame that follow elsewhere (a value written without a copy). */
  endFrame(at: number, external = 0): this {
    putInt32(this.buf, at, this.offset - at - 4 + external);
    return this;
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  reset(): void {
    this.offset = 0;
  }
}
