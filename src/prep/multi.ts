/**
 * The ops of a multi as ZooKeeper 3.8 re-reads them (MultiOperationRecord + Op.create): a
 * create's opcode follows its flags, TTL flags need createTTL, and read and write ops never mix.
 * Anything ZooKeeper cannot re-read answers MARSHALLINGERROR for the whole request.
 */
import { CreateMode, OpCode } from '../jute/constants.js';
import { opSpec } from '../jute/ops.js';
import type { Request } from '../jute/requests.js';

/** Marks a TTL create whose record lacks the ttl: prep answers MARSHALLINGERROR when it gets there. */
export const UNREADABLE_TTL = Number.NaN;

function modeOf(flags: number): number {
  return flags >= CreateMode.PERSISTENT && flags <= CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL ? flags : CreateMode.PERSISTENT;
}

function isTtlMode(mode: number): boolean {
  return mode === CreateMode.PERSISTENT_WITH_TTL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
}

/** The op as the server will prepare it, or null when ZooKeeper fails to re-read it at all. */
function normalizeOp(op: Request): Request | null {
  if (op.type === OpCode.create || op.type === OpCode.create2 || op.type === OpCode.createContainer) {
    const mode = modeOf(op.flags);
    // A plain CreateRequest with TTL flags: ZooKeeper fails the whole multi once prep reaches it.
    if (isTtlMode(mode)) return { ...op, type: OpCode.createTTL, ttl: UNREADABLE_TTL };
    return { ...op, type: mode === CreateMode.CONTAINER ? OpCode.createContainer : OpCode.create };
  }
  if (op.type === OpCode.createTTL) {
    const mode = modeOf(op.flags);
    if (isTtlMode(mode)) return op;
    return { ...op, type: mode === CreateMode.CONTAINER ? OpCode.createContainer : OpCode.create, flags: mode, ttl: -1 };
  }
  return op;
}

export function normalizeMultiOps(type: number, ops: readonly Request[]): Request[] | null {
  const allowed = opSpec(type)?.kind === 'write' ? 'write' : 'read';
  if (!ops.every((op) => opSpec(op.type)?.inMulti === allowed)) return null;
  const out: Request[] = [];
  for (const op of ops) {
    const normal = normalizeOp(op);
    if (normal === null) return null;
    out.push(normal);
  }
  return out;
}
