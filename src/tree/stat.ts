/** The wire Stat of a znode (DataNode.copyStat). */
import type { Stat } from '../jute/records.js';
import { kindOfOwner, type ZNode } from './znode.js';

export function statOf(node: ZNode, extendedTypesEnabled: boolean): Stat {
  const numChildren = node.numChildren;
  return {
    czxid: node.czxid,
    mzxid: node.mzxid,
    ctime: node.ctime,
    mtime: node.mtime,
    version: node.version,
    // Stored cversion counts creates; each present child is one create not yet deleted.
    cversion: (Math.imul(node.storedCversion, 2) - numChildren) | 0,
    aversion: node.aversion,
    // Containers and TTL nodes show 0: only real ephemerals expose their session.
    ephemeralOwner: kindOfOwner(node.ephemeralOwner, extendedTypesEnabled) === 'ephemeral' ? node.ephemeralOwner : 0n,
    dataLength: node.dataLength,
    numChildren,
    pzxid: node.pzxid,
  };
}
