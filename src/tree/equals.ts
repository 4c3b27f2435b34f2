/** Structural comparison of two trees, for tests and replica checks. */
import { sameAclList } from '../acl/ids.js';
import type { DataTree } from './datatree.js';
import type { ZNode } from './znode.js';

/** The first difference between two trees, or null if they are equal (lastProcessedZxid included). */
export function treeDiff(a: DataTree, b: DataTree): string | null {
  if (a.lastProcessedZxid !== b.lastProcessedZxid) {
    return `lastProcessedZxid ${a.lastProcessedZxid} != ${b.lastProcessedZxid}`;
  }
  if (a.size !== b.size) return `node count ${a.size} != ${b.size}`;
  for (const path of a.paths()) {
    const x = a.getNode(path)!;
    const y = b.getNode(path);
    if (y === undefined) return `${path} missing from second tree`;
    const diff = nodeDiff(x, y);
    if (diff !== null) return `${path}: ${diff}`;
  }
  return null;
}

export function treeEquals(a: DataTree, b: DataTree): boolean {
  return treeDiff(a, b) === null;
}

const FIELDS = ['czxid', 'mzxid', 'ctime', 'mtime', 'version', 'storedCversion', 'aversion', 'ephemeralOwner', 'pzxid'] as const;

function nodeDiff(x: ZNode, y: ZNode): string | null {
  for (const f of FIELDS) if (x[f] !== y[f]) return `${f} ${x[f]} != ${y[f]}`;
  if ((x.data === null) !== (y.data === null) || (x.data !== null && !x.data.equals(y.data!))) return 'data differs';
  if (!sameAclList(x.acl, y.acl)) return 'acl differs';
  if (x.numChildren !== y.numChildren) return `numChildren ${x.numChildren} != ${y.numChildren}`;
  for (const child of x.childPaths) if (!y.childPaths.has(child)) return `child ${child} missing`;
  return null;
}
