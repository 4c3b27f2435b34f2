/**
 * The recorded history of a fault run: one entry per client operation, with its invoke and
 * complete times and outcome. Pure data; the checkers read it, the runner and drivers write it.
 */

/** ok: the server said it happened; fail: the server said it did not; info: unknown (timed out, connection lost). */
export type Outcome = 'ok' | 'fail' | 'info';

/** What an operation did, by workload. */
export type OpKind =
  | 'write' // register: setData without version
  | 'cas' // register: setData with the version read before
  | 'read' // register: getData (sequentially consistent only)
  | 'sync-read' // register: sync then getData (linearizable)
  | 'create-seq' // sequential: create a PERSISTENT_SEQUENTIAL child
  | 'list-seq' // sequential: getChildren at the end
  | 'incr' // counter: read + setData with version, retried by the driver
  | 'create-eph' // ephemeral: create an EPHEMERAL node
  | 'list-eph' // ephemeral: getChildren at the end, with owners
  | 'lock' // mutex: acquire; result carries the fencing token
  | 'fenced-write' // mutex: write the resource with the holder's token
  | 'unlock'; // mutex: release

export interface Op {
  /** Position in the history (unique). */
  index: number;
  /** The logical client (a driver connection) that ran it; one op at a time per client. */
  client: number;
  /** The ZooKeeper session id (hex) when known; a new session after expiry is a new string. */
  session: string | null;
  kind: OpKind;
  /** The znode it is about (register key, parent, lock path). */
  key: string;
  /** What it wrote: value for write/cas/fenced-write, token for fenced-write. */
  value?: string;
  /** For cas: the version it required. */
  expectedVersion?: number;
  invokeMs: number;
  /** null when the call never completed (counted as info, open to the end). */
  completeMs: number | null;
  outcome: Outcome;
  /** Error name for fail/info (e.g. BADVERSION, CONNECTIONLOSS). */
  error?: string;
  /** Read value. */
  readValue?: string | null;
  /** Version of the node after a write, or as read. */
  version?: number;
  /** mzxid of the node after a write, or as read (decimal string, zxids exceed 2^53). */
  mzxid?: string;
  /** The client's last seen zxid after the reply (decimal string). */
  lastZxid?: string;
  /** create-seq: the created name; list-*: the children; lock: the fencing token. */
  created?: string;
  children?: string[];
  /** list-eph: child name -> owner session (hex). */
  owners?: Record<string, string>;
  token?: string;
  /** fenced-write: the lock path whose holders may write the resource. */
  lock?: string;
  /** Which server the client was connected to, when known (e.g. "10.77.0.11:2181"). */
  server?: string;
}

/** A fault applied by the nemesis, as a window in time. */
export interface FaultWindow {
  name: string;
  /** Servers it hit (1-based ids). */
  targets: number[];
  startMs: number;
  endMs: number | null;
  detail?: string;
}

export interface History {
  ops: Op[];
  faults: FaultWindow[];
  /** Logical client -> what it is, e.g. "kazoo register". */
  clients?: Record<number, string>;
  /** Wall-clock start of the run (ms since epoch); op times are relative to it. */
  startedAt: number;
}

/** Compare two decimal zxid strings numerically. */
export function compareZxid(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
