/**
 * Session passwords as ZooKeeper derives them: java.util.Random seeded with sessionId ^ 0xB3415C00,
 * sixteen bytes of nextBytes(). Any server can recompute it, and Java servers agree with ours.
 */
const MULTIPLIER = 0x5deece66dn;
const ADDEND = 0xbn;
const MASK = (1n << 48n) - 1n;
const PASSWORD_SEED = 0xb3415c00n;

export function sessionPassword(sessionId: bigint): Buffer {
  let seed = (BigInt.asUintN(64, sessionId ^ PASSWORD_SEED) ^ MULTIPLIER) & MASK;
  const nextInt = (): number => {
    seed = (seed * MULTIPLIER + ADDEND) & MASK;
    return Number(BigInt.asIntN(32, seed >> 16n));
  };
  const out = Buffer.alloc(16);
  for (let i = 0; i < out.length; ) {
    let rnd = nextInt();
    for (let n = Math.min(out.length - i, 4); n-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}
