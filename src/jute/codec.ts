/**
 * Record codecs built from field lists, so every jute record is declared once, in wire order,
 * and gets both directions (the server decodes requests, the client decodes replies).
 */
import { JuteReader, JuteWriter } from './binary.js';

export interface Codec<T> {
  read(r: JuteReader): T;
  write(w: JuteWriter, v: T): void;
  /** Fewest bytes one encoded value takes; bounds vector counts against the bytes left. */
  readonly minBytes: number;
  /** The reader and writer methods of a primitive, which record() calls directly. */
  readonly method?: { read: string; write: string };
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

export const int: Codec<number> = {
  read: (r) => r.int(),
  write: (w, v) => void w.int(v),
  minBytes: 4,
  method: { read: 'int', write: 'int' },
};
/** A long held as a number: zxids, times, ttls, counts. */
export const long: Codec<number> = {
  read: (r) => r.longNumber(),
  write: (w, v) => void w.longNumber(v),
  minBytes: 8,
  method: { read: 'longNumber', write: 'longNumber' },
};
/** A long held as a bigint: session ids and ephemeral owners use all 64 bits. */
export const bigLong: Codec<bigint> = {
  read: (r) => r.long(),
  write: (w, v) => void w.long(v),
  minBytes: 8,
  method: { read: 'long', write: 'long' },
};
export const bool: Codec<boolean> = {
  read: (r) => r.bool(),
  write: (w, v) => void w.bool(v),
  minBytes: 1,
  method: { read: 'bool', write: 'bool' },
};
export const buffer: Codec<Buffer | null> = {
  read: (r) => r.bufferOrNull(),
  write: (w, v) => void w.buffer(v),
  minBytes: 4,
  method: { read: 'bufferOrNull', write: 'buffer' },
};
export const ustring: Codec<string> = {
  read: (r) => r.string(),
  write: (w, v) => void w.string(v),
  minBytes: 4,
  method: { read: 'string', write: 'string' },
};

export function vector<T>(item: Codec<T>): Codec<T[]> {
  return {
    read: (r) => r.vector((rr) => item.read(rr), item.minBytes),
    write: (w, v) => void w.vector(v, (ww, x) => item.write(ww, x)),
    minBytes: 4,
  };
}

type Fields = Record<string, Codec<any>>;
export type RecordOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

/**
 * A record codec. Its read and write are generated as straight-line code over the field list
 * (fixed property names, direct reader/writer calls for primitives): every request, reply and
 * txn goes through these, and a loop over the fields with keyed property access and a call per
 * field costs several times more. Field names come from this codebase's declarations only.
 */
export interface RecordCodec<T> extends Codec<T> {
  /** read() with a leading `type` field: a tagged request or txn body in one allocation. */
  readAs<K extends number>(r: JuteReader, type: K): T & { type: K };
}

export function record<F extends Fields>(fields: F): RecordCodec<RecordOf<F>> {
  const entries = Object.entries(fields);
  for (const [key] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`record field name ${JSON.stringify(key)} is not an identifier`);
  }
  const codecs = entries.map(([, c]) => c);
  const readField = (key: string, c: Codec<unknown>, i: number) =>
    `${key}: ${c.method ? `r.${c.method.read}()` : `c[${i}].read(r)`}`;
  const writeField = (key: string, c: Codec<unknown>, i: number) =>
    c.method ? `w.${c.method.write}(v.${key});` : `c[${i}].write(w, v.${key});`;
  const read = new Function('c', `return function read(r) { return { ${entries.map(([k, c], i) => readField(k, c, i)).join(', ')} }; };`);
  const write = new Function('c', `return function write(w, v) { ${entries.map(([k, c], i) => writeField(k, c, i)).join(' ')} };`);
  const readAs = new Function('c', `return function readAs(r, type) { return { type, ${entries.map(([k, c], i) => readField(k, c, i)).join(', ')} }; };`);
  return {
    read: read(codecs) as (r: JuteReader) => RecordOf<F>,
    readAs: readAs(codecs) as <K extends number>(r: JuteReader, type: K) => RecordOf<F> & { type: K },
    write: write(codecs) as (w: JuteWriter, v: RecordOf<F>) => void,
    minBytes: entries.reduce((n, [, c]) => n + c.minBytes, 0),
  };
}

export function encode<T>(codec: Codec<T>, value: T, w = new JuteWriter()): Buffer {
  codec.write(w, value);
  return w.bytes();
}

export function decode<T>(codec: Codec<T>, bytes: Buffer, maxLength?: number): T {
  const r = new JuteReader(bytes, 0, bytes.length, maxLength);
  return codec.read(r);
}
