/**
 * MD5 (RFC 1321) over bytes, in plain code so the SASL DIGEST-MD5 state machine stays pure (no
 * node:crypto). MD5 is part of DIGEST-MD5's wire contract (RFC 2831), not a choice of ours.
 */

import { blockHash, rotl, type BlockHash } from '../lib/block-hash.js';

/** Per-round left rotations, four per round. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21] as const;

/** RFC 1321's table T: the integer part of 2^32 * |sin(i + 1)|. */
const T = Uint32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000));

const MD5: BlockHash = {
  littleEndian: true,
  initialState: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
  compress,
};

export function md5(message: Uint8Array): Uint8Array {
  return blockHash(MD5, message);
}

/** MD5 as 32 lower-case hex digits, the form DIGEST-MD5 puts on the wire. */
export function md5Hex(message: Uint8Array): string {
  return Buffer.from(md5(message)).toString('hex');
}

function compress(state: Uint32Array, x: Uint32Array): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let i = 0; i < 64; i++) {
    const round = i >> 4;
    let f: number;
    let k: number;
    if (round === 0) {
      f = (b & c) | (~b & d);
      k = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      k = (5 * i + 1) & 15;
    } else if (round === 2) {
      f = b ^ c ^ d;
      k = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      k = (7 * i) & 15;
    }
    const sum = (a + f + T[i]! + x[k]!) >>> 0;
    const shift = SHIFTS[(round << 2) | (i & 3)]!;
    a = d;
    d = c;
    c = b;
    b = (b + rotl(sum, shift)) >>> 0;
  }
  state[0] = (state[0]! + a) >>> 0;
  state[1] = (state[1]! + b) >>> 0;
  state[2] = (state[2]! + c) >>> 0;
  state[3] = (state[3]! + d) >>> 0;
}
