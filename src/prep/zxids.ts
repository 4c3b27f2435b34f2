/**
 * The proposer's one zxid allocator. Every txn takes its zxid here, error and session txns
 * included, in the order they go to the log.
 */
export class ZxidAllocator {
  private nextZxid: number;

  constructor(lastLoggedZxid: number) {
    this.nextZxid = lastLoggedZxid + 1;
  }

  next(): number {
    return this.nextZxid++;
  }

  /** The log refused the txns in flight: their zxids were never logged, so they are given again. */
  restartAfter(lastLoggedZxid: number): void {
    this.nextZxid = lastLoggedZxid + 1;
  }
}
