/**
 * Zxids: `(epoch << 32) | counter`, as ZooKeeper's ZxidUtils builds them.
 *
 * Held as bigint. A jute long is 64 bits and the quorum protocol uses all of them: an epoch may
 * pass 2^21 (a number would lose the low bits of the counter there), votes carry the sentinels
 * -1 and Long.MIN_VALUE (an observer's vote), and comparisons must be exact because the vote
 * order and TRUNC/DIFF decisions depend on them. Election and sync are not hot paths; the
 * broadcast path can convert with `zxidToNumber` where a number is known to be safe.
 */
import { assert } from '../lib/assert.js';
import { hex } from '../lib/hex.js';

export type Zxid = bigint;

/** Long.MIN_VALUE: the id, zxid and epoch an observer votes with. */
export const LONG_MIN = -(1n << 63n);
export const LONG_MAX = (1n << 63n) - 1n;
/** The largest counter; the next write needs a new epoch. */
export const MAX_COUNTER = 0xffffffffn;
const MAX_EPOCH = 0xffffffffn;
/** Made once: zxidToNumber is on the broadcast path, and a BigInt is an allocation. */
const MAX_SAFE_ZXID = BigInt(Number.MAX_SAFE_INTEGER);

export function makeZxid(epoch: bigint, counter: bigint): Zxid {
  assert(epoch >= 0n && epoch <= MAX_EPOCH, () => `epoch ${epoch} out of range`);
  assert(counter >= 0n && counter <= MAX_COUNTER, () => `counter ${counter} out of range`);
  return BigInt.asIntN(64, (epoch << 32n) | counter);
}

/** The epoch half; like ZxidUtils.getEpochFromZxid, an arithmetic shift (so -1 gives -1). */
export function epochOf(zxid: Zxid): bigint {
  return BigInt.asIntN(64, zxid) >> 32n;
}

export function counterOf(zxid: Zxid): bigint {
  return zxid & MAX_COUNTER;
}

/** True when no further zxid fits in this epoch: the leader must force a new election. */
export function counterExhausted(zxid: Zxid): boolean {
  return counterOf(zxid) === MAX_COUNTER;
}

/** The zxid after `zxid` in the same epoch; throws when the counter is exhausted. */
export function nextZxid(zxid: Zxid): Zxid {
  assert(!counterExhausted(zxid), () => `zxid ${zxidToHex(zxid)} has no successor in its epoch`);
  return zxid + 1n;
}

/** As ZooKeeper logs zxids: 0x followed by lowercase hex of the unsigned 64 bits. */
export function zxidToHex(zxid: Zxid): string {
  return hex(zxid);
}

/** For code that keeps zxids as numbers (the tree, the txn log): exact or an error. */
export function zxidToNumber(zxid: Zxid): number {
  assert(zxid >= 0n && zxid <= MAX_SAFE_ZXID, () => `zxid ${zxidToHex(zxid)} does not fit a number`);
  return Number(zxid);
}

export function zxidFromNumber(zxid: number): Zxid {
  assert(Number.isSafeInteger(zxid), () => `zxid ${zxid} is not a safe integer`);
  return BigInt(zxid);
}
