/**
 * What each benchmark workload sends. A workload prepares its znodes once (idempotently, so a
 * second leg against the same server reuses them) and then produces one request at a time for
 * the load loops in loadgen.ts.
 */
import { Err, OpCode, CreateMode, Perm } from '../src/jute/constants.js';
import { JuteReader } from '../src/jute/binary.js';
import * as R from '../src/jute/records.js';
import type { Request } from '../src/jute/requests.js';
import { BODY_OFFSET, encodeRequest, type BenchClient } from './client.js';

export const OPEN_ACL: R.ACL[] = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];

/** Per-slot state a workload may keep between requests (closed loop: one slot per outstanding request). */
export interface Slot {
  pendingPath: string | null;
}

export interface Workload {
  readonly name: string;
  /** Creates the znodes the workload needs; safe to run again. */
  setup(c: BenchClient): Promise<void>;
  /** The next request frame for this slot. */
  next(slot: Slot, rnd: () => number): Buffer;
  /** Called with every reply; returns true when the reply is a success for this workload. */
  onReply(slot: Slot, err: number, frame: Buffer): boolean;
}

export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function value(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  const rnd = xorshift(seed);
  for (let i = 0; i < size; i++) b[i] = 97 + Math.floor(rnd() * 26);
  return b;
}

const create = (path: string, data: Buffer | null, flags: number = CreateMode.PERSISTENT): Request => ({
  type: OpCode.create,
  path,
  data,
  acl: OPEN_ACL,
  flags,
  ttl: -1,
});

/** Sends requests with at most `window` outstanding; resolves with the error codes in order. */
export async function pipelined(c: BenchClient, frames: Buffer[], window = 500): Promise<number[]> {
  const errs: number[] = new Array(frames.length);
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    if (frames.length === 0) return resolve();
    const pump = (): void => {
      while (next < frames.length && next - done < window) {
        const i = next++;
        c.send(frames[i]!, (err) => {
          errs[i] = err;
          done++;
          if (done === frames.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  return errs;
}

/** Creates paths in order (parents first), ignoring NODEEXISTS. */
export async function ensurePaths(c: BenchClient, paths: string[], data: Buffer | null, window = 500): Promise<void> {
  const errs = await pipelined(c, paths.map((p) => encodeRequest(create(p, data))), window);
  errs.forEach((e, i) => {
    if (e !== Err.OK && e !== Err.NODEEXISTS) throw new Error(`create ${paths[i]} failed: ${e}`);
  });
}

const ok = (_s: Slot, err: number): boolean => err === Err.OK;

/** getData / setData over `keys` znodes, with a fraction `writeRatio` of setData. */
function keyValue(name: string, keys: number, size: number, writeRatio: number): Workload {
  const base = `/bench/${name}`;
  const data = value(size);
  const paths = Array.from({ length: keys }, (_, i) => `${base}/k${i}`);
  const gets = paths.map((path) => encodeRequest({ type: OpCode.getData, path, watch: false }));
  const sets = paths.map((path) => encodeRequest({ type: OpCode.setData, path, data, version: -1 }));
  return {
    name,
    async setup(c) {
      await ensurePaths(c, ['/bench', base], null);
      await ensurePaths(c, paths, data, 64);
    },
    next(_slot, rnd) {
      const k = Math.floor(rnd() * keys);
      return writeRatio > 0 && rnd() < writeRatio ? sets[k]! : gets[k]!;
    },
    onReply: ok,
  };
}

/** Create a sequential znode, then delete it; every request counts as one op. */
function createDelete(): Workload {
  const base = '/bench/seq';
  const tmpl = encodeRequest(create(`${base}/n-`, value(100), CreateMode.PERSISTENT_SEQUENTIAL));
  return {
    name: 'create-delete',
    async setup(c) {
      await ensurePaths(c, ['/bench', base], null);
    },
    next(slot) {
      if (slot.pendingPath !== null) {
        const path = slot.pendingPath;
        slot.pendingPath = null;
        return encodeRequest({ type: OpCode.delete, path, version: -1 });
      }
      return tmpl;
    },
    onReply(slot, err, frame) {
      if (err !== Err.OK) return false;
      // A create's reply body is the created path; a delete's is empty.
      if (frame.length > BODY_OFFSET) slot.pendingPath = new JuteReader(frame, BODY_OFFSET).string();
      return true;
    },
  };
}

/** multi of 5 setData on distinct znodes. */
function multi5(): Workload {
  const base = '/bench/multi';
  const keys = 100;
  const data = value(100);
  const paths = Array.from({ length: keys }, (_, i) => `${base}/k${i}`);
  const rnd = xorshift(42);
  const templates: Buffer[] = [];
  for (let t = 0; t < 256; t++) {
    const picked = new Set<number>();
    while (picked.size < 5) picked.add(Math.floor(rnd() * keys));
    const ops: Request[] = [...picked].map((k) => ({ type: OpCode.setData, path: paths[k]!, data, version: -1 }));
    templates.push(encodeRequest({ type: OpCode.multi, ops }));
  }
  return {
    name: 'multi5',
    async setup(c) {
      await ensurePaths(c, ['/bench', base], null);
      await ensurePaths(c, paths, data, 64);
    },
    next: (_slot, r) => templates[Math.floor(r() * templates.length)]!,
    onReply: ok,
  };
}

/** getChildren of a znode with `n` children. */
function children(n: number): Workload {
  const base = `/bench/children${n}`;
  const tmpl = encodeRequest({ type: OpCode.getChildren, path: base, watch: false });
  return {
    name: 'get-children-10k',
    async setup(c) {
      await ensurePaths(c, ['/bench', base], null);
      const kids = Array.from({ length: n }, (_, i) => `${base}/c${String(i).padStart(6, '0')}`);
      await ensurePaths(c, kids, null, 500);
    },
    next: () => tmpl,
    onReply(_s, err, frame) {
      return err === Err.OK && frame.readInt32BE(BODY_OFFSET) === n;
    },
  };
}

export function workloadByName(name: string): Workload {
  switch (name) {
    case 'get':
      return keyValue('get', 100, 100, 0);
    case 'mixed':
      return keyValue('mixed', 100, 100, 0.1);
    case 'set':
      return keyValue('set', 100, 100, 1);
    case 'create-delete':
      return createDelete();
    case 'multi5':
      return multi5();
    case 'get-1k':
      return keyValue('get-1k', 100, 1024, 0);
    case 'set-1k':
      return keyValue('set-1k', 100, 1024, 1);
    case 'get-100k':
      return keyValue('get-100k', 10, 100 * 1024, 0);
    case 'set-100k':
      return keyValue('set-100k', 10, 100 * 1024, 1);
    case 'get-children-10k':
      return children(10_000);
    default:
      throw new Error(`unknown workload ${name}`);
  }
}
