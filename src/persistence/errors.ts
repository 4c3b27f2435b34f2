/**
 * Persistence errors: a closed set of named classes. Operating errors (full disk, I/O error,
 * damaged files, a locked data dir) are values the server handles; they always say which file.
 */
import { errorCode } from '../io/disk.js';
import { describeZxidGap, type ZxidGap } from './zxidgaps.js';

export class PersistenceError extends Error {
  override name = 'PersistenceError';
}

/** The disk is full (ENOSPC, EDQUOT). Writes stop; reads can go on; a later append retries. */
export class DiskFullError extends PersistenceError {
  override name = 'DiskFullError';
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`disk full writing ${path}`, options);
  }
}

/** Any other I/O failure (EIO, EROFS, ...). */
export class DiskIoError extends PersistenceError {
  override name = 'DiskIoError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`I/O error${code ? ` (${code})` : ''} on ${path}: ${(options?.cause as Error | undefined)?.message ?? 'unknown'}`, options);
  }
}

/** A damaged record or file that recovery must not paper over. */
export class CorruptDataError extends PersistenceError {
  override name = 'CorruptDataError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`corrupted data in ${file} at byte offset ${offset}: ${reason}`);
  }
}

export class DataDirLockedError extends PersistenceError {
  override name = 'DataDirLockedError';
  constructor(
    readonly lockFile: string,
    readonly holder: string,
  ) {
    super(`data directory is in use by another server (${holder}); lock file ${lockFile}`);
  }
}

/**
 * Zxids missing between the snapshot and the log, or between log segments: acknowledged txns
 * that recovery cannot replay. `where` names the files on each side of every gap.
 */
export class ZxidGapError extends PersistenceError {
  override name = 'ZxidGapError';
  constructor(
    readonly gaps: readonly ZxidGap[],
    readonly where: readonly string[],
  ) {
    const first = `${describeZxidGap(gaps[0]!)} missing ${where[0]}`;
    const more = gaps.length > 1 ? ` (and ${gaps.length - 1} more gap${gaps.length > 2 ? 's' : ''}, ${gaps.reduce((n, g) => n + g.count, 0)} txns in all)` : '';
    super(
      `txn log history has a hole: ${first}${more} (a deleted or lost log segment?). Refusing to start without those ` +
        `txns: restore the missing segment, or accept their loss explicitly (paddock server --accept-data-loss)`,
    );
  }
}

/** The data directory (or a directory on its path) cannot be created or used. */
export class DataDirUnusableError extends PersistenceError {
  override name = 'DataDirUnusableError';
  constructor(
    readonly dir: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot use data directory ${dir}: ${reason}`, options);
  }
}

/** Why a directory could not be created or used, from the error's code, as DataDirUnusableError. */
export function dataDirError(dir: string, err: unknown): PersistenceError {
  if (err instanceof PersistenceError) return err;
  const code = errorCode(err);
  const reasons: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'it exists and is not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    // mkdir answers ENOENT although the parent exists: a virtual file system such as /proc.
    ENOENT: 'the file system does not allow creating it (a virtual file system such as /proc?)',
  };
  const reason = (code && reasons[code]) ?? `${code ?? 'error'}: ${(err as Error).message}`;
  return new DataDirUnusableError(dir, reason, { cause: err });
}

/** The txn log refused an append because an earlier write failed and could not be repaired. */
export function toDiskError(err: unknown, path: string): DiskFullError | DiskIoError {
  if (err instanceof DiskFullError || err instanceof DiskIoError) return err;
  const code = errorCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DiskFullError(path, { cause: err });
  return new DiskIoError(path, code, { cause: err });
}
