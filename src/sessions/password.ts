/**
 * Session passwords. A client proves it owns a session by sending the password it was given; so
 * the password must not be computable from the session id, which `cons` and `dump` show.
 *
 * - 'secret' (the default): HMAC-SHA1 of the id under the data directory's secret, cut to 16
 *   bytes. Servers sharing the secret agree; nobody without it can compute one.
 * - 'zookeeper': ZooKeeper's own formula, java.util.Random seeded with sessionId ^ 0xB3415C00.
 *   It is public, so anyone who knows an id can take the session over; it exists only so a mixed
 *   ensemble with Apache ZooKeeper servers can honour each other's sessions.
 *
 * In 'secret' mode, sessions listed as issued under ZooKeeper's formula (those alive when the
 * data directory got its secret: imported from ZooKeeper, or from an older Paddock) keep that
 * formula until they end, so their clients can still reconnect.
 */
import { sha1 } from '../lib/sha1.js';

export type SessionPasswordMode = 'secret' | 'zookeeper';

export const SESSION_PASSWORD_BYTES = 16;

/** The data directory's secret and the sessions issued before it existed. */
export interface SessionSecret {
  /** Random bytes, 32 of them as created; at least 16. */
  readonly key: Uint8Array;
  /** Sessions whose clients hold ZooKeeper-formula passwords. */
  readonly zookeeperFormulaIds: ReadonlySet<bigint>;
}

export class SessionPasswords {
  constructor(
    private readonly mode: SessionPasswordMode,
    private readonly secret: SessionSecret,
  ) {}

  /** The password to hand to the client of session `id`. */
  passwordFor(id: bigint): Buffer {
    if (this.mode === 'zookeeper' || this.secret.zookeeperFormulaIds.has(id)) return zookeeperSessionPassword(id);
    return secretSessionPassword(this.secret.key, id);
  }

  /** Whether `passwd` is the password of session `id`, compared in constant time. */
  matches(id: bigint, passwd: Uint8Array | null): boolean {
    return passwd !== null && equalInConstantTime(this.passwordFor(id), passwd);
  }

  /** Ids a new session must never get: their password would follow ZooKeeper's public formula. */
  isReserved(id: bigint): boolean {
    return this.secret.zookeeperFormulaIds.has(id);
  }
}

/** HMAC-SHA1(key, id as 8 big-endian bytes), first 16 bytes. */
export function secretSessionPassword(key: Uint8Array, id: bigint): Buffer {
  const message = Buffer.alloc(8);
  message.writeBigInt64BE(BigInt.asIntN(64, id));
  return Buffer.from(hmacSha1(key, message).subarray(0, SESSION_PASSWORD_BYTES));
}

const SHA1_BLOCK_BYTES = 64;

/** RFC 2104 HMAC over the project's pure SHA-1. */
function hmacSha1(key: Uint8Array, message: Uint8Array): Uint8Array {
  const block = new Uint8Array(SHA1_BLOCK_BYTES);
  block.set(key.length > SHA1_BLOCK_BYTES ? sha1(key) : key);
  const inner = new Uint8Array(SHA1_BLOCK_BYTES + message.length);
  const outer = new Uint8Array(SHA1_BLOCK_BYTES + 20);
  for (let i = 0; i < SHA1_BLOCK_BYTES; i++) {
    inner[i] = block[i]! ^ 0x36;
    outer[i] = block[i]! ^ 0x5c;
  }
  inner.set(message, SHA1_BLOCK_BYTES);
  outer.set(sha1(inner), SHA1_BLOCK_BYTES);
  return sha1(outer);
}

/** No early exit, so the time taken does not tell how many leading bytes were right. */
function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const MULTIPLIER = 0x5deece66dn;
const ADDEND = 0xbn;
const MASK = (1n << 48n) - 1n;
const PASSWORD_SEED = 0xb3415c00n;

/**
 * ZooKeeper's formula: java.util.Random seeded with sessionId ^ 0xB3415C00, sixteen bytes of
 * nextBytes(). Java servers compute the same bytes.
 */
export function zookeeperSessionPassword(sessionId: bigint): Buffer {
  let seed = (BigInt.asUintN(64, sessionId ^ PASSWORD_SEED) ^ MULTIPLIER) & MASK;
  const nextInt = (): number => {
    seed = (seed * MULTIPLIER + ADDEND) & MASK;
    return Number(BigInt.asIntN(32, seed >> 16n));
  };
  const out = Buffer.alloc(SESSION_PASSWORD_BYTES);
  for (let i = 0; i < out.length; ) {
    let rnd = nextInt();
    for (let n = Math.min(out.length - i, 4); n-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}
