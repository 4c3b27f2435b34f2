/** Curator-grade recipes, built only on the public client API. */
export { Mutex, ReadWriteLock, Semaphore, MultiLock, type LockHandle, type LockOptions, type Lease } from './locks.js';
export { LeaderLatch, LeaderSelector, type Leadership, type LeaderOptions, type Participant } from './leader.js';
export { Barrier, DoubleBarrier } from './barrier.js';
export { DistributedQueue, PriorityQueue, type QueueItem } from './queue.js';
export { SharedCounter, type VersionedValue } from './counter.js';
export { NodeCache, TreeCache, type CachedNode, type CacheEvent } from './cache.js';
export { PersistentNode, GroupMember, ServiceDiscovery, type ServiceInstance } from './group.js';
export { PartitionConsumer, roundRobin, type PartitionAssignment, type AssignFunction } from './partitions.js';
export {
  protectedCreate,
  guaranteedDelete,
  ensurePath,
  retry,
  holdSignal,
  sortBySequence,
  sequenceOf,
  SessionLostError,
  HoldLostError,
  type Hold,
  type LossPolicy,
} from './util.js';
