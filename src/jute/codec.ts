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
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

export const int: Codec<number> = { read: (r) => r.int(), write: (w, v) => void w.int(v), minBytes: 4 };
/** A long held as a number: zxids, times, ttls, counts. */
export const long: Codec<number> = {
  read: (r) => r.longNumber(),
  write: (w, v) => void w.longNumber(v),
  minBytes: 8,
};
/** A long held as a bigint: session ids and ephemeral owners use all 64 bits. */
export const bigLong: Codec<bigint> = { read: (r) => r.long(), write: (w, v) => void w.long(v), minBytes: 8 };
export const bool: Codec<boolean> = { read: (r) => r.bool(), write: (w, v) => void w.bool(v), minBytes: 1 };
export const buffer: Codec<Buffer | null> = {
  read: (r) => r.bufferOrNull(),
  write: (w, v) => void w.buffer(v),
  minBytes: 4,
};
export const ustring: Codec<string> = { read: (r) => r.string(), write: (w, v) => void w.string(v), minBytes: 4 };

export function vector<T>(item: Codec<T>): Codec<T[]> {
  return {
    read: (r) => r.vector((rr) => item.read(rr), item.minBytes),
    write: (w, v) => void w.vector(v, (ww, x) => item.write(ww, x)),
    minBytes: 4,
  };
}

type Fields = Record<string, Codec<any>>;
export type RecordOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

export function record<F extends Fields>(fields: F): Codec<RecordOf<F>> {
  const entries = Object.entries(fields);
  const minBytes = entries.reduce((n, [, c]) => n + c.minBytes, 0);
  return {
    read(r) {
      const out: Record<string, unknown> = {};
      for (const [key, codec] of entries) out[key] = codec.read(r);
      return out as RecordOf<F>;
    },
    write(w, v) {
      for (const [key, codec] of entries) codec.write(w, (v as Record<string, unknown>)[key]);
    },
    minBytes,
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
