/**
 * A minimal DER reader for the certificate and key-store structures Paddock looks into (x509
 * subjects, PKCS#12 trust stores): tag, length, contents. Plain functions over (bytes, offset)
 * that throw RangeError on bad input.
 */

export const DER = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0], constructed: explicit tags and PKCS#7 content. */
  CONTEXT_0: 0xa0,
  /** [0], primitive: PKCS#7 encryptedContent. */
  CONTEXT_0_PRIMITIVE: 0x80,
} as const;

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  head: number;
  /** Offsets of the contents. */
  start: number;
  end: number;
}

/** The element at `at`, which must end by `limit`. */
export function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new RangeError('DER ends early');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw new RangeError('DER element has a bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > limit) throw new RangeError('DER element runs past its end');
  return { tag, head: at, start, end: start + length };
}

/** The element at `at`, checked to have `tag`. */
export function expectTlv(der: Uint8Array, at: number, limit: number, tag: number, what: string): Tlv {
  const tlv = readTlv(der, at, limit);
  if (tlv.tag !== tag) throw new RangeError(`DER: ${what} has tag 0x${tlv.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return tlv;
}

/** The elements inside a constructed element. */
export function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** An OBJECT IDENTIFIER's contents in dotted form. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new RangeError('DER: empty OID');
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift()!;
  const top = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [top, first - top * 40, ...arcs].join('.');
}

/** The OID an element holds, checking its tag. */
export function oidAt(der: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== DER.OID) throw new RangeError(`DER: expected an OID, found tag 0x${tlv.tag.toString(16)}`);
  return decodeOid(der.subarray(tlv.start, tlv.end));
}

/** A non-negative INTEGER's value (small enough for a number). */
export function integerAt(der: Uint8Array, tlv: Tlv): number {
  if (tlv.tag !== DER.INTEGER) throw new RangeError(`DER: expected an INTEGER, found tag 0x${tlv.tag.toString(16)}`);
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) value = value * 256 + der[i]!;
  if (!Number.isSafeInteger(value)) throw new RangeError('DER: INTEGER too large');
  return value;
}
