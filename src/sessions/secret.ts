/**
 * The session secret file's text: a few `key=value` lines and comments. Pure: the server's edge
 * reads and writes the file (see src/server/session-secret.ts) and supplies the random bytes.
 */
import type { SessionSecret } from './password.js';
import { hex } from '../lib/hex.js';

export const SESSION_SECRET_BYTES = 32;
/** Shorter keys are refused: a 16-byte password deserves at least a 16-byte key. */
const MIN_SECRET_BYTES = 16;
/** Bounds the list a hand-edited or damaged file could make us hold. */
const MAX_ZOOKEEPER_FORMULA_IDS = 1_000_000;

export class SessionSecretError extends Error {
  override name = 'SessionSecretError';
}

/** A new secret from `randomBytes` (the edge passes crypto randomness), remembering `zookeeperFormulaIds`. */
export function newSessionSecret(randomBytes: (byteCount: number) => Uint8Array, zookeeperFormulaIds: Iterable<bigint>): SessionSecret {
  const key = randomBytes(SESSION_SECRET_BYTES);
  if (key.length !== SESSION_SECRET_BYTES) throw new SessionSecretError(`random source gave ${key.length} bytes, wanted ${SESSION_SECRET_BYTES}`);
  return { key: Uint8Array.from(key), zookeeperFormulaIds: new Set(zookeeperFormulaIds) };
}

export function formatSessionSecret(secret: SessionSecret): string {
  const ids = [...secret.zookeeperFormulaIds].map(hex).join(',');
  return [
    '# Paddock session secret: session passwords are derived from it. Keep this file private (mode 600):',
    '# whoever reads it can compute the password of any session. Every server of an ensemble needs the same',
    '# file. Deleting it makes every live session unable to reconnect (each must start a new session).',
    '# zookeeperFormulaSessions: sessions alive when this file was made, whose clients were given passwords',
    "# by ZooKeeper's public formula (imported from ZooKeeper or from an older Paddock); they keep it until",
    '# they end, and new sessions never get these ids.',
    `secret=${Buffer.from(secret.key).toString('hex')}`,
    `zookeeperFormulaSessions=${ids}`,
    '',
  ].join('\n');
}

/** Parses the file's text; throws SessionSecretError naming what is wrong. */
export function parseSessionSecret(text: string): SessionSecret {
  let key: Uint8Array | null = null;
  let ids = new Set<bigint>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq).trim();
    const value = eq < 0 ? '' : line.slice(eq + 1).trim();
    if (name === 'secret') key = parseKey(value, index + 1);
    else if (name === 'zookeeperFormulaSessions') ids = parseIds(value, index + 1);
    else throw new SessionSecretError(`line ${index + 1}: unknown key '${name}'`);
  }
  if (key === null) throw new SessionSecretError('no secret= line');
  return { key, zookeeperFormulaIds: ids };
}

function parseKey(value: string, line: number): Uint8Array {
  if (!/^([0-9a-f]{2})+$/i.test(value)) throw new SessionSecretError(`line ${line}: secret must be hex`);
  if (value.length / 2 < MIN_SECRET_BYTES) throw new SessionSecretError(`line ${line}: secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

function parseIds(value: string, line: number): Set<bigint> {
  const ids = new Set<bigint>();
  if (value === '') return ids;
  const parts = value.split(',');
  if (parts.length > MAX_ZOOKEEPER_FORMULA_IDS) throw new SessionSecretError(`line ${line}: more than ${MAX_ZOOKEEPER_FORMULA_IDS} session ids`);
  for (const part of parts) {
    const text = part.trim();
    if (!/^0x[0-9a-f]{1,16}$/i.test(text)) throw new SessionSecretError(`line ${line}: '${text}' is not a session id like 0x1a2b`);
    ids.add(BigInt.asIntN(64, BigInt(text)));
  }
  return ids;
}

