/** Public value types of the client: Stat with bigint zxids, create modes, ACLs, events. */
import { digestId as digestOf } from '../acl/digest.js';
import { Perm } from '../jute/constants.js';

/** A znode's metadata. Zxids and the ephemeral owner are 64-bit, hence `bigint`. */
export interface Stat {
  /** Zxid of the create; also the lock/leader fencing token used by the recipes. */
  czxid: bigint;
  mzxid: bigint;
  /** Creation time, ms since the epoch. */
  ctime: number;
  mtime: number;
  /** Data version; compare-and-set passes it back as `version`. */
  version: number;
  cversion: number;
  aversion: number;
  /** Session id of the owner for ephemeral nodes, 0n otherwise. */
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

/** How a node is created. */
export const CreateMode = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  persistentWithTtl: 5,
  persistentSequentialWithTtl: 6,
} as const;
export type CreateMode = keyof typeof CreateMode;

export function isSequential(mode: CreateMode): boolean {
  return mode === 'persistentSequential' || mode === 'ephemeralSequential' || mode === 'persistentSequentialWithTtl';
}
export function isTtl(mode: CreateMode): boolean {
  return mode === 'persistentWithTtl' || mode === 'persistentSequentialWithTtl';
}

export interface Id {
  scheme: string;
  id: string;
}
export interface ACL {
  /** Bit set of {@link Permission}. */
  perms: number;
  id: Id;
}

export const Permission = Perm;

export const Ids = {
  anyone: { scheme: 'world', id: 'anyone' } as Id,
  /** Placeholder expanded by the server to the caller's authenticated ids. */
  authenticated: { scheme: 'auth', id: '' } as Id,
};

/** world:anyone with every permission (ZooKeeper's OPEN_ACL_UNSAFE); the default for creates. */
export const OPEN_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perm.ALL, id: Ids.anyone }]);
/** Every permission for the creator's authenticated ids (CREATOR_ALL_ACL). */
export const CREATOR_ALL_ACL: readonly ACL[] = Object.freeze([{ perms: Perm.ALL, id: Ids.authenticated }]);
/** Read for everyone (READ_ACL_UNSAFE). */
export const READ_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perm.READ, id: Ids.anyone }]);

/** The id a digest ACL names for `user:password`: `user:base64(sha1("user:password"))`. */
export function digestId(user: string, password: string): Id {
  return { scheme: 'digest', id: digestOf(`${user}:${password}`) };
}

/** A change to a node, as the server reports it. Paths are relative to the chroot. */
export interface NodeEvent {
  type: 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';
  path: string;
}

/** A one-shot watch will never fire: its session ended or the client closed or it was removed. */
export interface WatchLostEvent {
  type: 'lost';
  path: string;
  reason: 'expired' | 'closed' | 'removed';
}

/** What a one-shot watch callback receives: exactly one event. */
export type WatchEvent = NodeEvent | WatchLostEvent;
export type WatchCallback = (event: WatchEvent) => void;

/**
 * Events may have been missed: re-read the state you depend on. `initial` comes once the watch
 * is registered; `reconnected` after a connection loss (persistent watches get no catch-up
 * events); `expired` after the session was lost and the watch re-added on a new session;
 * `overflow` when the consumer fell too far behind and buffered events were dropped.
 */
export interface ResyncEvent {
  type: 'resync';
  path: string;
  reason: 'initial' | 'reconnected' | 'expired' | 'overflow';
}

/** What persistent watches (callbacks and `watch()` iterators) deliver. */
export type StreamEvent = NodeEvent | ResyncEvent;
export type PersistentWatchListener = (event: StreamEvent) => void;

/** The session as a typed stream of state changes. */
export type SessionEvent =
  /** A session was established: the first one, or a new one after `expired`. */
  | { type: 'connected'; sessionId: bigint; timeoutMs: number; host: string; readOnly: boolean }
  /** The connection is lost; the session may still be alive. Locks and leaders should pause. */
  | { type: 'suspended'; sessionId: bigint; reason: string }
  /** The same session is back after `suspended`; watches have been re-registered. */
  | { type: 'reconnected'; sessionId: bigint; host: string }
  /**
   * The session is gone: ephemerals, watches and locks of it are lost. `detectedBy: 'client'`
   * means the client was cut off from every server for the whole session timeout (Curator's
   * LOST); it then never resumes that session. A new one follows unless the client is closed.
   */
  | { type: 'expired'; sessionId: bigint; detectedBy: 'server' | 'client' }
  /** The client was closed; this is the last event. */
  | { type: 'closed' }
  /** Authentication failed; the server closed the connection (the client retries). */
  | { type: 'authFailed'; scheme: string };

export type SessionState = 'connecting' | 'connected' | 'suspended' | 'closed';

/** Per-call cancellation: every operation and every blocking recipe call accepts these. */
export interface CallOptions {
  /** Rejects the call with `signal.reason` when aborted. */
  signal?: AbortSignal | undefined;
  /** Rejects the call with RequestTimeoutError after this many ms. */
  timeoutMs?: number | undefined;
}
