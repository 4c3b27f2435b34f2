/**
 * Persistence errors: a closed set of named classes. Operating errors (full disk, I/O error,
 * damaged files, a locked data dir) are values the server handles; they always say which file.
 */
import { errorCode } from '../io/disk.js';

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

/** The txn log refused an append because an earlier write failed and could not be repaired. */
export function toDiskError(err: unknown, path: string): DiskFullError | DiskIoError {
  if (err instanceof DiskFullError || err instanceof DiskIoError) return err;
  const code = errorCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DiskFullError(path, { cause: err });
  return new DiskIoError(path, code, { cause: err });
}
