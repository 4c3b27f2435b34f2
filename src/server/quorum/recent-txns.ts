/**
 * The last txns a member logged, kept in memory so that starting a role does not read the log:
 * a new leader's DIFF window (ZooKeeper's committedLog) and the logged txns its tree still lacks
 * are the newest few hundred txns, not the whole log after the snapshot. It holds every logged
 * txn after `base`, in zxid order, or it is unknown (a truncation below it, a failed append) and
 * the caller reads the disk.
 */
import type { LogEntry } from '../../consensus/learner.js';
import type { Zxid } from '../../consensus/zxid.js';

export class RecentTxns {
  private entries: LogEntry[] = [];
  /** The zxid just before the first entry (a logged txn or the snapshot's); null: unknown. */
  private base: Zxid | null;

  /** `keep`: at least this many of the newest txns are held (up to twice as many). */
  constructor(
    base: Zxid,
    private readonly keep: number,
  ) {
    this.base = base;
  }

  /** Every logged txn after `from` (and perhaps a few before it) and the zxid before the first; null when not all are held. */
  after(from: Zxid): { base: Zxid; log: LogEntry[] } | null {
    if (this.base === null || from < this.base) return null;
    return { base: this.base, log: [...this.entries] };
  }

  /** What is held, or null when unknown. */
  held(): { base: Zxid; log: LogEntry[] } | null {
    return this.base === null ? null : this.after(this.base);
  }

  /** The history restarts at `base` (a snapshot installed, or the log read from disk). */
  reset(base: Zxid, entries: readonly LogEntry[] = []): void {
    this.base = base;
    this.entries = [];
    for (const e of entries) this.add(e);
  }

  /** A txn was handed to the log, after every txn added before it. */
  add(entry: LogEntry): void {
    if (this.base === null) return;
    const last = this.entries.at(-1)?.zxid ?? this.base;
    if (entry.zxid <= last) return this.forget();
    this.entries.push(entry);
    // Trimmed now and then, not at every append, so an append costs O(1).
    if (this.entries.length >= 2 * this.keep) {
      const dropped = this.entries.length - this.keep;
      this.base = this.entries[dropped - 1]!.zxid;
      this.entries = this.entries.slice(dropped);
    }
  }

  /** The log was cut after `zxid` (TRUNC). */
  cutAfter(zxid: Zxid): void {
    if (this.base === null) return;
    if (zxid < this.base) return this.forget();
    let n = this.entries.length;
    while (n > 0 && this.entries[n - 1]!.zxid > zxid) n--;
    this.entries.length = n;
  }

  /** What the log holds is no longer known here: the next read goes to the disk. */
  forget(): void {
    this.base = null;
    this.entries = [];
  }
}
