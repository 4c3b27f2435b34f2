/**
 * Linearizability of a versioned register (a znode's data and version under setData, setData
 * with version, and sync + getData), by the Wing-Gong search with Lowe's memoisation, as in
 * Porcupine: linearize any call whose step the model accepts, remember each (set of linearized
 * ops, state) pair already tried and never try it again, and backtrack when a return is reached
 * whose op is not yet linearized. The search is bounded in steps, cache size and time; past a
 * bound the answer is 'unknown', never a pass.
 */
import type { Op } from './history.js';

/** The register as ZooKeeper keeps it: data plus the version setData bumps. */
export interface RegisterState {
  value: string | null;
  version: number;
}

export interface LinearizabilityLimits {
  /** Most operations on one key the search takes on; beyond it the key is 'unknown'. Default 4000. */
  maxOps?: number;
  /** Most search steps per key. Default 2,000,000. */
  maxSteps?: number;
  /** Most remembered (linearized set, state) pairs per key. Default 500,000. */
  maxCacheEntries?: number;
  /** Wall-clock budget per key. Default 20 s. */
  maxMillis?: number;
}

export type KeyVerdict =
  | { key: string; result: 'ok'; ops: number; steps: number }
  | { key: string; result: 'violation'; ops: number; steps: number; message: string; stuckAt: Op; linearizedPrefix: number }
  | { key: string; result: 'unknown'; ops: number; steps: number; reason: string };

export interface LinearizabilityResult {
  result: 'ok' | 'violation' | 'unknown';
  keys: KeyVerdict[];
}

/** The kinds this checker takes; plain reads are only sequentially consistent in ZooKeeper. */
const LINEARIZABLE_KINDS = new Set(['write', 'cas', 'sync-read']);

/**
 * One model step: does `op` (with its recorded outcome) fit `state`, and what state follows?
 * An 'info' op has an unknown outcome: it takes effect when its precondition holds (it may also
 * not have happened at all, which the search covers by linearizing it after everything).
 */
export function stepRegister(state: RegisterState, op: Op): RegisterState | null {
  switch (op.kind) {
    case 'write':
      if (op.outcome === 'ok' && op.version !== undefined && op.version !== state.version + 1) return null;
      return { value: op.value ?? null, version: state.version + 1 };
    case 'cas': {
      const matches = state.version === op.expectedVersion;
      if (op.outcome === 'fail') return matches ? null : state;
      if (!matches) return op.outcome === 'info' ? state : null;
      return { value: op.value ?? null, version: state.version + 1 };
    }
    case 'sync-read':
      return op.readValue === state.value && (op.version === undefined || op.version === state.version) ? state : null;
    default:
      return null;
  }
}

interface Entry {
  /** Index of the op in this key's list. */
  id: number;
  isCall: boolean;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** Ops on one key that take part: ok and info writes/CAS, ok and fail sync reads and CAS. */
function relevant(ops: readonly Op[]): Op[] {
  return ops.filter((op) => {
    if (!LINEARIZABLE_KINDS.has(op.kind)) return false;
    if (op.kind === 'sync-read') return op.outcome === 'ok';
    if (op.kind === 'write') return op.outcome !== 'fail';
    return true;
  });
}

/** A doubly linked list of call and return entries, sorted by time; calls first on ties (more overlap, never a false alarm). */
function buildEntries(ops: readonly Op[]): Entry {
  const raw: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = { id, isCall: true, time: op.invokeMs, match: null, prev: null, next: null };
    const ret: Entry = { id, isCall: false, time: op.outcome === 'info' || op.completeMs === null ? Infinity : op.completeMs, match: null, prev: null, next: null };
    call.match = ret;
    raw.push(call, ret);
  });
  raw.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Entry = { id: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of raw) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Removes a call and its return from the list (the op is linearized). */
function lift(call: Entry): void {
  const ret = call.match as Entry;
  (call.prev as Entry).next = call.next;
  if (call.next) call.next.prev = call.prev;
  (ret.prev as Entry).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts them back, in the reverse order of lift. */
function unlift(call: Entry): void {
  const ret = call.match as Entry;
  (ret.prev as Entry).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as Entry).next = call;
  if (call.next) call.next.prev = call;
}

class Bits {
  readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  key(): string {
    return Array.from(this.words, (w) => w.toString(36)).join(',');
  }
}

/** Checks one key's ops; `initial` is the register before the first op. */
export function checkRegisterKey(key: string, allOps: readonly Op[], initial: RegisterState, limits: LinearizabilityLimits = {}): KeyVerdict {
  const ops = relevant(allOps);
  const maxOps = limits.maxOps ?? 4000;
  if (ops.length > maxOps) return { key, result: 'unknown', ops: ops.length, steps: 0, reason: `${ops.length} operations exceed the limit of ${maxOps}` };
  const maxSteps = limits.maxSteps ?? 2_000_000;
  const maxCache = limits.maxCacheEntries ?? 500_000;
  const deadline = Date.now() + (limits.maxMillis ?? 20_000);
  const head = buildEntries(ops);
  const linearized = new Bits(ops.length);
  const cache = new Set<string>();
  const stack: { call: Entry; state: RegisterState }[] = [];
  let state = initial;
  let entry = head.next;
  let steps = 0;
  let deepest = { depth: -1, stuck: 0 };
  while (head.next !== null) {
    if (++steps > maxSteps) return { key, result: 'unknown', ops: ops.length, steps, reason: `search passed ${maxSteps} steps` };
    if ((steps & 0xfff) === 0 && Date.now() > deadline) return { key, result: 'unknown', ops: ops.length, steps, reason: 'search ran out of time' };
    const e = entry as Entry;
    if (e.isCall) {
      const next = stepRegister(state, ops[e.id] as Op);
      if (next !== null) {
        linearized.set(e.id);
        const k = `${linearized.key()}|${next.version}|${next.value ?? '\u0000'}`;
        if (!cache.has(k)) {
          if (cache.size >= maxCache) return { key, result: 'unknown', ops: ops.length, steps, reason: `more than ${maxCache} search states` };
          cache.add(k);
          stack.push({ call: e, state });
          state = next;
          lift(e);
          entry = head.next;
          continue;
        }
        linearized.clear(e.id);
      }
      entry = e.next;
      continue;
    }
    // A return whose op is not linearized yet: what is linearized so far cannot be extended.
    if (stack.length > deepest.depth) deepest = { depth: stack.length, stuck: e.id };
    const top = stack.pop();
    if (top === undefined) {
      const stuck = ops[deepest.stuck] as Op;
      return {
        key,
        result: 'violation',
        ops: ops.length,
        steps,
        stuckAt: stuck,
        linearizedPrefix: deepest.depth,
        message: `no linearization of ${ops.length} ops on ${key}: at most ${deepest.depth} ops fit before op #${stuck.index} (${describe(stuck)}) had to take effect`,
      };
    }
    linearized.clear(top.call.id);
    state = top.state;
    unlift(top.call);
    entry = top.call.next;
  }
  return { key, result: 'ok', ops: ops.length, steps };
}

export function describe(op: Op): string {
  const who = `client ${op.client}`;
  switch (op.kind) {
    case 'write':
      return `${who} write ${JSON.stringify(op.value)} -> ${op.outcome}${op.version !== undefined ? ` v${op.version}` : ''}`;
    case 'cas':
      return `${who} cas v${op.expectedVersion} -> ${JSON.stringify(op.value)}: ${op.outcome}${op.error ? ` ${op.error}` : ''}`;
    case 'sync-read':
    case 'read':
      return `${who} ${op.kind} = ${JSON.stringify(op.readValue)} v${op.version}`;
    default:
      return `${who} ${op.kind} ${op.key} ${op.outcome}`;
  }
}

/** Checks every register key: 'violation' if any key has one, else 'unknown' if any key is undecided, else 'ok'. */
export function checkRegisters(ops: readonly Op[], initial: RegisterState, limits: LinearizabilityLimits = {}): LinearizabilityResult {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    if (!LINEARIZABLE_KINDS.has(op.kind)) continue;
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey.keys()].sort().map((key) => checkRegisterKey(key, byKey.get(key) as Op[], initial, limits));
  const result = keys.some((k) => k.result === 'violation') ? 'violation' : keys.some((k) => k.result === 'unknown') ? 'unknown' : 'ok';
  return { result, keys };
}
