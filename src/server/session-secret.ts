/**
 * The data directory's session secret on disk: `<dataDir>/paddock.secret`, created on the first
 * start (mode 600, written to a temporary file, synced, then renamed into place) and read on
 * every later one. Sessions alive when it is created were issued ZooKeeper-formula passwords
 * (by ZooKeeper, for imported data, or by an older Paddock), and are recorded as such.
 */
import * as nodePath from 'node:path';
import { errorCode, type Disk } from '../io/disk.js';
import type { SessionSecret } from '../sessions/password.js';
import { formatSessionSecret, newSessionSecret, parseSessionSecret, SessionSecretError } from '../sessions/secret.js';

export const SESSION_SECRET_FILE = 'paddock.secret';
const OWNER_ONLY = 0o600;

export interface LoadedSessionSecret {
  secret: SessionSecret;
  /** True when this call made the file. */
  created: boolean;
  path: string;
}

/**
 * Reads the secret, or creates it when the file does not exist. A file that exists but cannot be
 * parsed stops the server: making a new one would silently lock every live session out.
 */
export async function loadOrCreateSessionSecret(
  disk: Disk,
  dataDir: string,
  liveSessions: Iterable<bigint>,
  randomBytes: (byteCount: number) => Uint8Array,
): Promise<LoadedSessionSecret> {
  const path = nodePath.join(dataDir, SESSION_SECRET_FILE);
  const text = await readIfExists(disk, path);
  if (text !== null) {
    try {
      return { secret: parseSessionSecret(text), created: false, path };
    } catch (err) {
      if (!(err instanceof SessionSecretError)) throw err;
      throw new SessionSecretError(
        `${path} is damaged (${err.message}). Restore it from a backup or another server of the ensemble; ` +
          'deleting it makes a new secret, and every live session then has to start over',
      );
    }
  }
  const secret = newSessionSecret(randomBytes, liveSessions);
  await writeAtomically(disk, path, Buffer.from(formatSessionSecret(secret)));
  return { secret, created: true, path };
}

async function readIfExists(disk: Disk, path: string): Promise<string | null> {
  try {
    return (await disk.readFile(path)).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Temporary file, sync, rename, sync the directory: a crash leaves the old state or the new. */
async function writeAtomically(disk: Disk, path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  // A crash during an earlier first start may have left one behind.
  await disk.remove(tmp).catch((err: unknown) => {
    if (errorCode(err) !== 'ENOENT') throw err;
  });
  const file = await disk.open(tmp, 'createExclusive', OWNER_ONLY);
  try {
    await file.write(bytes, 0);
    await file.sync();
  } finally {
    await file.close();
  }
  await disk.rename(tmp, path);
  await disk.syncDir(nodePath.dirname(path));
}
