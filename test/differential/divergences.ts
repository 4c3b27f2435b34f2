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
    id: 'exists-acl',
    kind: 'tolerated',
    summary: 'exists on a node whose ACL denies READ',
    reason:
      'ZooKeeper 3.8.4/3.9.2 added a READ check to exists (NOAUTH); 3.8.0, the reference here, has none. ' +
      'Paddock follows the newer, safer rule.',
    matches: (d) =>
      isReq(d.op, OpCode.exists) &&
      d.where.startsWith('reply') &&
      errOf(d, 'paddock') === -102 &&
      (errOf(d, 'reference') === 0 || errOf(d, 'reference') === -101),
  },
];

function isReq(op: unknown, type: number): boolean {
  return typeof op === 'object' && op !== null && (op as { req?: { type?: number } }).req?.type === type;
}

function errOf(d: Difference, side: 'reference' | 'paddock'): number | undefined {
  const v = d[side] as { header?: { err?: number } } | number | undefined;
  if (typeof v === 'number') return d.where.endsWith('.err') ? v : undefined;
  return v?.header?.err;
}

export function tolerated(d: Difference): Divergence | undefined {
  return divergences.find((x) => x.kind === 'tolerated' && x.matches?.(d));
}
