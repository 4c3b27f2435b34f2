/**
 * The quorum epochs, `acceptedEpoch` and `currentEpoch` in <dataDir>/version-2, exactly as
 * ZooKeeper keeps them: one decimal long, no newline (QuorumPeer.writeLongToFile), replaced
 * atomically through `<name>.tmp` (AtomicFileOutputStream: write, fsync, rename). Paddock also
 * fsyncs the directory after the rename, so the new value survives a power loss.
 *
 * Loading follows QuorumPeer.loadDataBase: a missing file is created from the epoch of the last
 * zxid (an upgrade from a version without the files); a currentEpoch older than the last zxid's
 * epoch is taken from a leftover `currentEpoch.tmp` if there is one (a crash between the write
 * and the rename), else refused; an acceptedEpoch below currentEpoch is refused.
 *
 * The `updatingEpoch` marker (QuorumPeer.UPDATING_EPOCH_FILENAME) covers the learner's sync: the
 * txns it logs when NEWLEADER comes (some of the new epoch) are durable before currentEpoch is
 * written, so a crash between the two leaves a log ahead of currentEpoch. The learner creates
 * the marker before those writes and removes it once currentEpoch is written; a start that finds
 * it raises currentEpoch to the epoch of the last zxid (never above acceptedEpoch: that epoch was
 * accepted before the sync began) and removes it.
 */
import * as nodePath from 'node:path';
import { errorCode, type Disk, type DiskFile } from '../io/disk.js';
import { PersistenceError, toDiskError } from './errors.js';

export const ACCEPTED_EPOCH_FILE = 'acceptedEpoch';
export const CURRENT_EPOCH_FILE = 'currentEpoch';
/** QuorumPeer.UPDATING_EPOCH_FILENAME: a sync's writes are under way (see above). */
export const UPDATING_EPOCH_FILE = 'updatingEpoch';
/** AtomicFileOutputStream.TMP_EXTENSION. */
export const EPOCH_TMP_SUFFIX = '.tmp';

const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

/** An epoch file that exists but does not hold a long, or epochs that contradict each other. */
export class EpochFileError extends PersistenceError {
  override name = 'EpochFileError';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/**
 * The long an epoch file holds, as Java's `Long.parseLong(readLine())` reads it: an optional
 * sign and decimal digits on the first line (a trailing newline or CR LF is fine).
 */
export function parseEpochText(text: string, file: string): bigint {
  const line = text.split(/\r?\n/, 1)[0]!;
  if (!/^[+-]?\d{1,19}$/.test(line)) {
    throw new EpochFileError(file, `found ${JSON.stringify(line.slice(0, 40))}, not a decimal epoch (the file is damaged)`);
  }
  const value = BigInt(line);
  if (value < LONG_MIN || value > LONG_MAX) throw new EpochFileError(file, `epoch ${line} does not fit a long`);
  return value;
}

/** The epoch in `dir/name`, or null when the file does not exist. */
export async function readEpochFile(disk: Disk, dir: string, name: string): Promise<bigint | null> {
  const path = nodePath.join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await disk.readFile(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw toDiskError(err, path);
  }
  return parseEpochText(bytes.toString('latin1'), path);
}

/**
 * Replaces `dir/name` with `epoch` durably: tmp file, fsync, rename, fsync of the directory. An
 * election waits on four of these in a row (the leader's and a follower's two epochs), so each
 * step that can be saved is: the write and its fsync are one call (one round trip to the real
 * disk's sync worker), the tmp file is truncated only when a crash left one behind, and closing
 * it goes on alongside the rename.
 */
export async function writeEpochFile(disk: Disk, dir: string, name: string, epoch: bigint): Promise<void> {
  const path = nodePath.join(dir, name);
  const tmp = path + EPOCH_TMP_SUFFIX;
  let file: DiskFile | null = null;
  try {
    file = await openEmpty(disk, tmp);
    await file.writeAndSync([{ data: Buffer.from(epoch.toString(), 'latin1'), position: 0 }], true);
    const f = file;
    file = null;
    await Promise.all([f.close(), disk.rename(tmp, path)]);
    await disk.syncDir(dir);
  } catch (err) {
    if (file) await file.close().catch(() => undefined);
    throw toDiskError(err, tmp);
  }
}

/** A new empty file at `path`; one left over from a crash is emptied. */
async function openEmpty(disk: Disk, path: string): Promise<DiskFile> {
  try {
    return await disk.open(path, 'createExclusive');
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  }
  const file = await disk.open(path, 'create');
  try {
    await file.truncate(0);
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
  return file;
}

/** Creates the `updatingEpoch` marker durably (an empty file, as ZooKeeper's createNewFile). */
export async function writeUpdatingEpochMarker(disk: Disk, dir: string): Promise<void> {
  const path = nodePath.join(dir, UPDATING_EPOCH_FILE);
  try {
    const file = await disk.open(path, 'create');
    await file.close();
    await disk.syncDir(dir);
  } catch (err) {
    throw toDiskError(err, path);
  }
}

/** Removes the `updatingEpoch` marker durably; a missing one is fine. */
export async function removeUpdatingEpochMarker(disk: Disk, dir: string): Promise<void> {
  const path = nodePath.join(dir, UPDATING_EPOCH_FILE);
  try {
    if ((await disk.stat(path)) === null) return;
    await disk.remove(path);
    await disk.syncDir(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw toDiskError(err, path);
  }
}

export interface Epochs {
  acceptedEpoch: bigint;
  currentEpoch: bigint;
  /** What loading repaired or created, one line each. */
  warnings: string[];
}

/**
 * Reads both epochs for a server whose last zxid is `lastZxid` (its snapshot or last logged
 * txn), creating or repairing them as QuorumPeer.loadDataBase does. Throws EpochFileError for a
 * damaged file or contradictory epochs.
 */
export async function loadEpochs(disk: Disk, dir: string, lastZxid: bigint): Promise<Epochs> {
  // A new data dir (no zxid yet) has no epoch files: creating them then is no news.
  const warnings: string[] = [];
  const epochOfZxid = lastZxid < 0n ? 0n : lastZxid >> 32n;
  let current = await readEpochFile(disk, dir, CURRENT_EPOCH_FILE);
  if (current === null) {
    current = epochOfZxid;
    if (lastZxid > 0n) warnings.push(`${nodePath.join(dir, CURRENT_EPOCH_FILE)} not found: created with the epoch of the last zxid, ${current}`);
    await writeEpochFile(disk, dir, CURRENT_EPOCH_FILE, current);
  }
  const marker = (await disk.stat(nodePath.join(dir, UPDATING_EPOCH_FILE))) !== null;
  if (marker && epochOfZxid > current) {
    // A crash inside a sync, after its txns were logged and before currentEpoch was written.
    const acceptedOnDisk = await readEpochFile(disk, dir, ACCEPTED_EPOCH_FILE);
    if (acceptedOnDisk !== null && epochOfZxid <= acceptedOnDisk) {
      warnings.push(`${nodePath.join(dir, UPDATING_EPOCH_FILE)} found: current epoch set to the epoch of the last zxid 0x${lastZxid.toString(16)}, ${epochOfZxid}`);
      current = epochOfZxid;
      await writeEpochFile(disk, dir, CURRENT_EPOCH_FILE, current);
    }
  }
  if (epochOfZxid > current) {
    // A crash after the tmp file was written but before the rename: ZooKeeper takes the tmp value.
    const tmp = await readEpochFile(disk, dir, CURRENT_EPOCH_FILE + EPOCH_TMP_SUFFIX);
    if (tmp === null) {
      throw new EpochFileError(
        nodePath.join(dir, CURRENT_EPOCH_FILE),
        `the current epoch, ${current}, is older than the epoch of the last zxid 0x${lastZxid.toString(16)} (${epochOfZxid})`,
      );
    }
    warnings.push(`${nodePath.join(dir, CURRENT_EPOCH_FILE + EPOCH_TMP_SUFFIX)} found: current epoch set to ${tmp}`);
    current = tmp;
    await writeEpochFile(disk, dir, CURRENT_EPOCH_FILE, current);
  }
  let accepted = await readEpochFile(disk, dir, ACCEPTED_EPOCH_FILE);
  if (accepted === null) {
    accepted = epochOfZxid;
    if (lastZxid > 0n) warnings.push(`${nodePath.join(dir, ACCEPTED_EPOCH_FILE)} not found: created with the epoch of the last zxid, ${accepted}`);
    await writeEpochFile(disk, dir, ACCEPTED_EPOCH_FILE, accepted);
  }
  if (accepted < current) {
    throw new EpochFileError(nodePath.join(dir, ACCEPTED_EPOCH_FILE), `the accepted epoch, ${accepted}, is less than the current epoch, ${current}`);
  }
  // Removed only once the epochs it vouched for are durable: a crash before then finds it again.
  if (marker) await removeUpdatingEpochMarker(disk, dir);
  return { acceptedEpoch: accepted, currentEpoch: current, warnings };
}
