/**
 * The frame MD5 and SHA-1 share (Merkle–Damgård over 64-byte blocks of 32-bit words): padding,
 * splitting into words, and writing out the state. Each hash brings its byte order, initial state
 * and compression function. Plain code, so pure modules can hash without node:crypto.
 */

export interface BlockHash {
  /** MD5 reads and writes words little-endian, SHA-1 big-endian. */
  readonly littleEndian: boolean;
  readonly initialState: readonly number[];
  /** Mixes one block, given as its 16 words, into the state. */
  compress(state: Uint32Array, words: Uint32Array): void;
}

export function blockHash(hash: BlockHash, message: Uint8Array): Uint8Array {
  const padded = pad(message, hash.littleEndian);
  const view = new DataView(padded.buffer, padded.byteOffset, padded.byteLength);
  const state = Uint32Array.from(hash.initialState);
  const words = new Uint32Array(16);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) words[i] = view.getUint32(block + i * 4, hash.littleEndian);
    hash.compress(state, words);
  }
  const out = new Uint8Array(state.length * 4);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < state.length; i++) outView.setUint32(i * 4, state[i]!, hash.littleEndian);
  return out;
}

/** Appends 0x80, zeros, and the bit length as a 64-bit integer, to a multiple of 64 bytes. */
function pad(message: Uint8Array, littleEndian: boolean): Uint8Array {
  const length = Math.ceil((message.length + 9) / 64) * 64;
  const padded = new Uint8Array(length);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = message.length * 8;
  const low = bits >>> 0;
  const high = Math.floor(bits / 0x100000000);
  view.setUint32(length - 8, littleEndian ? low : high, littleEndian);
  view.setUint32(length - 4, littleEndian ? high : low, littleEndian);
  return padded;
}

export function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}
