/**
 * Zxid continuity (pure): a zxid is epoch << 32 | counter, and within an epoch every txn takes
 * the next counter. A history that recovery replays must therefore be contiguous: each txn the
 * successor of the one before (or of the snapshot), except that a new epoch starts over at
 * counter 1 (what was proposed but never committed at the end of the old epoch is gone by design,
 * so the old epoch may end anywhere). A failed log write rewinds the server's counter, so a
 * healthy log has no holes; a hole means txns were lost (a deleted or lost log segment).
 */
import { zxidHex } from './logformat.js';

const TWO_32 = 4294967296;

export function zxidEpoch(zxid: number): number {
  return Math.floor(zxid / TWO_32);
}

export function zxidCounter(zxid: number): number {
  return zxid % TWO_32;
}

/** True when `next` may directly follow `prev` in a complete history. */
export function zxidFollows(prev: number, next: number): boolean {
  if (next === prev + 1) return true;
  // ZooKeeper's first txn of an epoch is counter 1 (counter 0 names the epoch's NEWLEADER state).
  return zxidEpoch(next) > zxidEpoch(prev) && zxidCounter(next) <= 1;
}

/** Txns missing between two present ones: zxids [first, last] are absent. */
export interface ZxidGap {
  /** The zxid before the hole (a txn, or the snapshot's zxid). */
  after: number;
  /** The first zxid present after the hole. */
  before: number;
  /** First and last missing zxid. */
  first: number;
  last: number;
  /** How many txns are missing. */
  count: number;
}

/** The gap between two zxids, or null when `next` follows `prev`. */
export function zxidGap(prev: number, next: number): ZxidGap | null {
  if (zxidFollows(prev, next)) return null;
  // Across epochs only the new epoch's missing start is known to be lost.
  const first = zxidEpoch(next) > zxidEpoch(prev) ? zxidEpoch(next) * TWO_32 + 1 : prev + 1;
  return { after: prev, before: next, first, last: next - 1, count: next - first };
}

/**
 * Every gap in `zxids` (strictly increasing), starting after `start` (a snapshot's zxid), or
 * checking only between the zxids themselves when `start` is null.
 */
export function findZxidGaps(start: number | null, zxids: Iterable<number>): ZxidGap[] {
  const gaps: ZxidGap[] = [];
  let prev = start;
  for (const zxid of zxids) {
    if (prev !== null) {
      const gap = zxidGap(prev, zxid);
      if (gap) gaps.push(gap);
    }
    prev = zxid;
  }
  return gaps;
}

/** "zxids 0x1f-0x3e (32 txns)" or "zxid 0x1f (1 txn)". */
export function describeZxidGap(gap: ZxidGap): string {
  if (gap.count === 1) return `zxid 0x${zxidHex(gap.first)} (1 txn)`;
  return `zxids 0x${zxidHex(gap.first)}-0x${zxidHex(gap.last)} (${gap.count} txns)`;
}

/**
 * "between log.1 and log.3f in DIR": the files on each side of a gap, given the log segments
 * (name and first zxid, oldest first) and the snapshot replay starts from.
 */
export function gapPlace(
  gap: ZxidGap,
  segments: readonly { name: string; firstZxid: number }[],
  snapshot: { name: string; zxid: number } | null,
  logDir: string,
): string {
  const holder = (zxid: number): string => segments.filter((s) => s.firstZxid <= zxid).pop()?.name ?? '?';
  const next = holder(gap.before);
  const from = snapshot !== null && gap.after === snapshot.zxid ? snapshot.name : holder(gap.after);
  return from === next ? `inside ${next} in ${logDir}` : `between ${from} and ${next} in ${logDir}`;
}
