/**
 * Deliberate differences between Paddock and the reference server (Apache ZooKeeper 3.8.0, the
 * Debian package) that the differential test knows about. The lead mirrors this list into the
 * docs. Every entry says why the difference is deliberate; nothing else is skipped.
 *
 * - `excluded`: the generator never produces the input (the reference cannot serve as oracle).
 * - `tolerated`: the input is generated, and a difference matching `matches` is counted, not failed.
 */
import { OpCode } from '../../src/jute/index.js';

/** One field that differed, as the comparison reports it. */
export interface Difference {
  opIndex: number;
  /** The op as generated (for requests: the Request). */
  op: unknown;
  /** Where in the normalised value the two sides differ, e.g. `reply.header.zxid` or `events[3]`. */
  where: string;
  reference: unknown;
  paddock: unknown;
}

export interface Divergence {
  id: string;
  kind: 'excluded' | 'tolerated';
  summary: string;
  reason: string;
  matches?: (d: Difference) => boolean;
}

export const divergences: readonly Divergence[] = [
  {
    id: 'notification-zxid',
    kind: 'tolerated',
    summary: 'ReplyHeader.zxid of a watch notification',
    reason:
      'ZooKeeper 3.8 sends -1; 3.9 sends the zxid of the triggering txn. Clients ignore it. The harness ' +
      'does not compare it (it is normalised away before comparison, so this entry never needs to match).',
  },
  {
    id: 'watcher-type-persistent',
    kind: 'excluded',
    summary: 'checkWatches/removeWatches with WatcherType 4 (Persistent) or 5 (PersistentRecursive)',
    reason:
      'New in ZooKeeper 3.9.0; 3.8 answers MARSHALLINGERROR. Paddock follows 3.9, so 3.8 is no oracle for ' +
      'these types. Covered by Paddock unit tests instead.',
  },
  {
    id: 'persistent-watch-removal',
    kind: 'excluded',
    summary: 'checkWatches/removeWatches with WatcherType Children or Data on a path with a persistent watch',
    reason:
      'ZooKeeper 3.8 matches (and removes) persistent watches for these types; 3.9 matches only standard ' +
      'watches and added types 4/5 for persistent ones. Paddock follows 3.9. The generator sends Any there.',
  },
  {
    id: 'createTTL-negative-ttl',
    kind: 'excluded',
    summary: 'createTTL (opcode 21) with a non-TTL mode (0-4) and a negative ttl',
    reason:
      'The ZooKeeper 3.8.0 server process exits on it (an unchecked exception in request preparation); a ' +
      'server must answer BADARGUMENTS instead, as Paddock does (checked by the fuzz test).',
  },
  {
    id: 'standalone-check',
    kind: 'excluded',
    summary: 'check (opcode 13) sent outside a multi',
    reason:
      'No client API sends it; ZooKeeper 3.8.0 drops the connection on it. Used only inside multi, where it is compared.',
  },
  {
    id: 'sync-invalid-path',
    kind: 'excluded',
    summary: 'sync on an invalid path',
    reason:
      'ZooKeeper 3.8.0 never answers a sync whose path holds a non-BMP character (the request dies inside the ' +
      'server), so the session stalls. Paddock answers with an error instead.',
  },
  {
    id: 'read-acl-checks',
    kind: 'excluded',
    summary: 'exists and watch notifications on nodes the session may not READ',
    reason:
      'ZooKeeper 3.8.4/3.9.2 (CVE-2024-23944 and the exists fix) require READ for exists and drop watch events ' +
      'the watcher may not read; 3.8.0, the reference here, does neither. Paddock follows the newer rules. ' +
      'The generator puts READ-hiding ACLs only on the /s<seed>/c subtree and never sends exists or sets ' +
      'watches (nor recursive watches above it) there; getData/getChildren NOAUTH there is still compared.',
  },
  {
    id: 'watch-modes',
    kind: 'excluded',
    summary: 'a standard watch set on a path where the same session has a persistent or recursive watch',
    reason:
      'ZooKeeper 3.8.0 keeps one watch mode per (connection, path) and table, so the standard watch replaces ' +
      'the persistent one, which then fires once and is gone. ZooKeeper 3.9 (ZOOKEEPER-4466) and Paddock keep ' +
      'both. 3.8.0 also files a recursive watch in the child table, where it replaces a standard child ' +
      'watch of the same connection. The generator sets no standard watch where the session has a ' +
      'persistent one, adds a persistent rather than a recursive watch where it set a child watch, and ' +
      'repeats the first addWatch mode on a path rather than switching modes.',
  },
  {
    id: 'check-watches-other-sessions',
    kind: 'tolerated',
    summary: 'checkWatches answered OK because another session watches the path',
    reason:
      "ZooKeeper 3.8.0's WatchManager.containsWatcher returns true when any connection has a watch on the " +
      'exact path (and for any recursive mode), so checkWatches reports watches that are not the caller\'s. ' +
      'Paddock answers for the caller\'s own watches only, and NOWATCHER otherwise.',
    matches: (d) =>
      isOp(d.op, OpCode.checkWatches) && d.where.startsWith('reply') && errOf(d.reference) === 0 && errOf(d.paddock) === -121,
  },
];

export function tolerated(d: Difference): Divergence | undefined {
  return divergences.find((x) => x.kind === 'tolerated' && x.matches?.(d));
}

/** Whether a generated op is a request of this opcode. */
function isOp(op: unknown, type: number): boolean {
  const req = typeof op === 'object' && op !== null ? (op as { req?: { type?: unknown } }).req : undefined;
  return req?.type === type;
}

/** The err of a normalised reply, whether a number or "NAME(code)". */
function errOf(v: unknown): number | null {
  const err = typeof v === 'object' && v !== null ? (v as { err?: unknown }).err : v;
  if (typeof err === 'number') return err;
  const m = typeof err === 'string' ? /\((-?\d+)\)/.exec(err) : null;
  return m ? Number(m[1]) : null;
}
