/**
 * What a ZooKeeper 3.8 leader streams after SNAP (ZKDatabase.serializeSnapshot, then the
 * signature): int sessionCount + (long id, int timeout)*, the ACL table as int count +
 * (long key, vector<ACL>)*, every node in preorder as (ustring path, buffer data, long aclKey,
 * StatPersisted) with the root's path "", the path "/" to end, then ustring "BenWasHere".
 * `readZkSnapshotBody` (src/persistence/zkformat.ts) reads the same bytes.
 */
import { JuteWriter } from '../../jute/binary.js';
import { ACLs, type ACL } from '../../jute/records.js';
import type { DataTree } from '../../tree/datatree.js';

export const SNAP_SIGNATURE = 'BenWasHere';

export function writeZkSnapshotStream(tree: DataTree, sessions: ReadonlyMap<bigint, number>): Buffer {
  const w = new JuteWriter(64 * 1024);
  w.int(sessions.size);
  for (const [id, timeout] of sessions) w.long(id).int(timeout);
  // The tree interns ACL lists, so identity finds the distinct ones; keys start at 1 as
  // ReferenceCountedACLCache's do.
  const keys = new Map<ACL[], bigint>();
  const order: string[] = [];
  const walk = (path: string): void => {
    const node = tree.getNode(path);
    if (node === undefined) return;
    order.push(path);
    if (!keys.has(node.acl)) keys.set(node.acl, BigInt(keys.size + 1));
    for (const child of node.childPaths) walk(child);
  };
  walk('/');
  w.int(keys.size);
  for (const [acl, key] of keys) {
    w.long(key);
    ACLs.write(w, acl);
  }
  for (const path of order) {
    const n = tree.getNode(path)!;
    w.string(path === '/' ? '' : path).buffer(n.data).long(keys.get(n.acl)!);
    w.long(BigInt(n.czxid)).long(BigInt(n.mzxid)).long(BigInt(n.ctime)).long(BigInt(n.mtime));
    w.int(n.version).int(n.storedCversion).int(n.aversion).long(n.ephemeralOwner).long(BigInt(n.pzxid));
  }
  w.string('/');
  w.string(SNAP_SIGNATURE);
  return Buffer.from(w.bytes());
}
