/**
 * SHA-1 (FIPS 180-4) over bytes, in plain code so pure modules can hash without node:crypto.
 * Used for ZooKeeper's digest auth ids, where SHA-1 is part of the wire contract.
 */

import { blockHash, rotl, type BlockHash } from './block-hash.js';

const K = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6] as const;

const SHA1: BlockHash = {
  littleEndian: false,
  initialState: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0],
  compress,
};

export function sha1(message: Uint8Array): Uint8Array {
  return blockHash(SHA1, message);
}

function compress(state: Uint32Array, words: Uint32Array): void {
  const w = new Uint32Array(80);
  w.set(words);
  for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  for (let i = 0; i < 80; i++) {
    const round = (i / 20) | 0;
    const f = round === 0 ? (b & c) | (~b & d) : round === 2 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
    const t = (rotl(a, 5) + f + e + K[round as 0 | 1 | 2 | 3] + w[i]!) >>> 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  state[0] = state[0]! + a;
  state[1] = state[1]! + b;
  state[2] = state[2]! + c;
  state[3] = state[3]! + d;
  state[4] = state[4]! + e;
}
