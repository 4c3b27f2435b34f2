/**
 * Where the pipeline sends txns to become durable and ordered. A standalone server is an
 * ensemble of one: its commit log is the local txn log; an ensemble's is quorum broadcast.
 */
export interface CommitLog {
  /**
   * Calls `done(null)` once the txn is durable (and, in an ensemble, committed by a quorum), or
   * `done(err)` if it never will be. Calls come in zxid order and never from within append.
   */
  append(zxid: number, bytes: Buffer, done: (err: Error | null) => void): void;
  close(): Promise<void>;
}

/** Keeps nothing: for tests and for servers that run without a data directory. */
export class MemoryCommitLog implements CommitLog {
  readonly records: { zxid: number; bytes: Buffer }[] = [];
  constructor(private readonly keep = false) {}

  append(zxid: number, bytes: Buffer, done: (err: Error | null) => void): void {
    if (this.keep) this.records.push({ zxid, bytes: Buffer.from(bytes) });
    queueMicrotask(() => done(null));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
