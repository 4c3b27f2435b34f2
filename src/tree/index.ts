export { type ApplyResult, type TreeEvent } from './apply.js';
export { DataTree, SPECIAL_PATHS, type TreeCapture, type TreeOptions } from './datatree.js';
export { treeDiff, treeEquals } from './equals.js';
export { LIMIT_NODE, QUOTA_ROOT, STAT_NODE, StatsTrack, limitPath, statPath } from './quota.js';
export { SnapshotError, SnapshotLoader, deserializeSnapshot, serializeSnapshot, type Snapshot } from './snapshot.js';
export { statOf } from './stat.js';
export { CONTAINER_OWNER, MAX_TTL, ZNode, kindOfOwner, ttlOfOwner, ttlOwner, type NodeKind } from './znode.js';
