/**
 * A server's durable quorum state in the simulator: the real MemoryLearnerStore (what the quorum
 * peer runs on) plus what the checkers need to see on every write: one txn per zxid across the
 * whole ensemble, logs in increasing zxid order, and which zxids a server holds durably.
 */
import type { ZkSnapshot } from '../persistence/zkformat.js';
import type { LogEntry } from '../consensus/learner.js';
import { zxidToHex, type Zxid } from '../consensus/zxid.js';
import { MemoryLearnerStore, type LearnerDurableState, type LearnerStore } from '../server/quorum/learner-driver.js';

/** The first bytes every server logged at each zxid, shared by all stores of one run. */
export class ZxidLedger {
  private readonly data = new Map<Zxid, Buffer>();

  record(sid: number, entry: LogEntry): void {
    const known = this.data.get(entry.zxid);
    if (known === undefined) this.data.set(entry.zxid, Buffer.from(entry.data));
    else if (!known.equals(entry.data)) throw new SimViolation(`two txns at zxid ${zxidToHex(entry.zxid)}: server ${sid} logged one that differs from another server's`);
  }

  get(zxid: Zxid): Buffer | undefined {
    return this.data.get(zxid);
  }

  /** Every txn any server ever logged. */
  values(): IterableIterator<Buffer> {
    return this.data.values();
  }
}

export class SimViolation extends Error {
  override name = 'SimViolation';
}

export class CheckedStore implements LearnerStore {
  private readonly inner = new MemoryLearnerStore();
  /** Logged zxids (after the snapshot), mirrored to answer "does this server hold z" quickly. */
  private readonly logged = new Set<Zxid>();
  private snapshotZxid: Zxid = 0n;
  private last: Zxid = 0n;
  /** The durable acceptedEpoch (read by the settle phase without copying the log). */
  accepted = 0n;

  constructor(
    private readonly sid: number,
    private readonly ledger: ZxidLedger,
  ) {}

  load(): LearnerDurableState {
    return this.inner.load();
  }

  installSnapshot(zxid: Zxid, snap: ZkSnapshot): void {
    this.inner.installSnapshot(zxid, snap);
    this.logged.clear();
    this.snapshotZxid = zxid;
    this.last = zxid;
  }

  truncate(zxid: Zxid): void {
    this.inner.truncate(zxid);
    for (const z of [...this.logged]) if (z > zxid) this.logged.delete(z);
    this.last = zxid < this.last ? zxid : this.last;
  }

  reset(entries: readonly LogEntry[]): void {
    for (const e of entries) this.ledger.record(this.sid, e);
    this.inner.reset(entries);
    this.logged.clear();
    for (const e of entries) this.logged.add(e.zxid);
    this.snapshotZxid = 0n;
    this.last = entries.at(-1)?.zxid ?? 0n;
  }

  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.zxid <= this.last) throw new SimViolation(`server ${this.sid} logs ${zxidToHex(e.zxid)} after ${zxidToHex(this.last)}`);
      this.ledger.record(this.sid, e);
      this.logged.add(e.zxid);
      this.last = e.zxid;
    }
    this.inner.append(entries);
  }

  setAcceptedEpoch(epoch: bigint): void {
    this.inner.setAcceptedEpoch(epoch);
    this.accepted = epoch;
  }

  setCurrentEpoch(epoch: bigint): void {
    this.inner.setCurrentEpoch(epoch);
  }

  /** Whether a crash now would keep txn `zxid` (logged, or inside the installed snapshot). */
  holds(zxid: Zxid): boolean {
    return this.logged.has(zxid) || zxid <= this.snapshotZxid;
  }

}
