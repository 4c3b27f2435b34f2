/**
 * Request bodies as one tagged union keyed by opcode, with the multi envelope, so the server
 * decodes a frame into a typed request in one call and the client encodes one the same way.
 */
import { JuteError, JuteReader, JuteWriter } from './binary.js';
import type { Codec } from './codec.js';
import { OpCode } from './constants.js';
import * as R from './records.js';

type Op = typeof OpCode;
export type CreateOp = Op['create'] | Op['create2'] | Op['createContainer'] | Op['createTTL'];

export type Request =
  | { type: CreateOp; path: string; data: Buffer | null; acl: R.ACL[]; flags: number; ttl: number }
  | { type: Op['delete'] | Op['deleteContainer']; path: string; version: number }
  | { type: Op['exists'] | Op['getData'] | Op['getChildren'] | Op['getChildren2']; path: string; watch: boolean }
  | { type: Op['setData']; path: string; data: Buffer | null; version: number }
  | { type: Op['getACL'] | Op['sync'] | Op['getAllChildrenNumber'] | Op['getEphemerals']; path: string }
  | { type: Op['setACL']; path: string; acl: R.ACL[]; version: number }
  | { type: Op['check']; path: string; version: number }
  | { type: Op['multi'] | Op['multiRead']; ops: Request[] }
  | { type: Op['checkWatches'] | Op['removeWatches']; path: string; watcherType: number }
  | { type: Op['auth']; authType: number; scheme: string; auth: Buffer }
  | {
      type: Op['setWatches'] | Op['setWatches2'];
      relativeZxid: number;
      dataWatches: string[];
      existWatches: string[];
      childWatches: string[];
      persistentWatches: string[];
      persistentRecursiveWatches: string[];
    }
  | { type: Op['addWatch']; path: string; mode: number }
  | { type: Op['reconfig']; joiningServers: string; leavingServers: string; newMembers: string; curConfigId: number }
  | { type: Op['sasl']; token: Buffer | null }
  | { type: Op['ping'] | Op['closeSession'] | Op['whoAmI'] };

type MemberOf<R, T> = R extends { type: infer U } ? (T extends U ? R : never) : never;
/** The request variant(s) whose opcode set includes T. */
export type RequestOf<T extends Request['type']> = MemberOf<Request, T>;

/** Opcodes allowed inside multi (writes) and multiRead (reads). */
export const MULTI_WRITE_OPS: ReadonlySet<number> = new Set([
  OpCode.create,
  OpCode.create2,
  OpCode.createContainer,
  OpCode.createTTL,
  OpCode.delete,
  OpCode.setData,
  OpCode.check,
]);
export const MULTI_READ_OPS: ReadonlySet<number> = new Set([OpCode.getData, OpCode.getChildren]);

export class UnknownOpError extends JuteError {
  override name = 'UnknownOpError';
  constructor(readonly opcode: number) {
    super(`unknown opcode ${opcode}`);
  }
}

/** Decodes the body of a request whose header says `type`. Throws JuteError on malformed input. */
export function readRequest(type: number, r: JuteReader): Request {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer: {
      const v = R.CreateRequest.read(r);
      return { type, path: v.path, data: v.data, acl: v.acl, flags: v.flags, ttl: -1 };
    }
    case OpCode.createTTL: {
      const v = R.CreateTTLRequest.read(r);
      return { type, path: v.path, data: v.data, acl: v.acl, flags: v.flags, ttl: v.ttl };
    }
    case OpCode.delete:
    case OpCode.deleteContainer:
      return R.DeleteRequest.readAs(r, type);
    case OpCode.exists:
    case OpCode.getData:
    case OpCode.getChildren:
    case OpCode.getChildren2:
      return R.PathWatchRequest.readAs(r, type);
    case OpCode.setData:
      return R.SetDataRequest.readAs(r, type);
    case OpCode.getACL:
    case OpCode.sync:
    case OpCode.getAllChildrenNumber:
    case OpCode.getEphemerals:
      return R.PathRequest.readAs(r, type);
    case OpCode.setACL:
      return R.SetACLRequest.readAs(r, type);
    case OpCode.check:
      return R.CheckVersionRequest.readAs(r, type);
    case OpCode.multi:
    case OpCode.multiRead:
      return { type, ops: readMultiOps(r) };
    case OpCode.checkWatches:
    case OpCode.removeWatches: {
      const v = R.WatchesRequest.read(r);
      return { type, path: v.path, watcherType: v.type };
    }
    case OpCode.auth: {
      const v = R.AuthPacket.read(r);
      return { type, authType: v.type, scheme: v.scheme, auth: v.auth ?? Buffer.alloc(0) };
    }
    case OpCode.setWatches: {
      const v = R.SetWatches.read(r);
      return { type, ...v, persistentWatches: [], persistentRecursiveWatches: [] };
    }
    case OpCode.setWatches2:
      return R.SetWatches2.readAs(r, type);
    case OpCode.addWatch:
      return R.AddWatchRequest.readAs(r, type);
    case OpCode.reconfig:
      return R.ReconfigRequest.readAs(r, type);
    case OpCode.sasl:
      return R.GetSASLRequest.readAs(r, type);
    case OpCode.ping:
    case OpCode.closeSession:
    case OpCode.whoAmI:
      return { type };
    default:
      throw new UnknownOpError(type);
  }
}

/** Ops of a MultiOperationRecord, up to the {-1, true, -1} terminator. Nested multis are refused. */
function readMultiOps(r: JuteReader): Request[] {
  const ops: Request[] = [];
  for (;;) {
    const h = R.MultiHeader.read(r);
    if (h.done) return ops;
    if (!MULTI_WRITE_OPS.has(h.type) && !MULTI_READ_OPS.has(h.type)) throw new JuteError(`op type ${h.type} is not allowed in a multi`);
    if (ops.length >= 100_000) throw new JuteError('too many ops in multi');
    ops.push(readRequest(h.type, r));
  }
}

/** Encodes a request body (the client's direction). */
export function writeRequest(w: JuteWriter, req: Request): void {
  switch (req.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      R.CreateRequest.write(w, req);
      return;
    case OpCode.createTTL:
      R.CreateTTLRequest.write(w, req);
      return;
    case OpCode.delete:
    case OpCode.deleteContainer:
      R.DeleteRequest.write(w, req);
      return;
    case OpCode.exists:
    case OpCode.getData:
    case OpCode.getChildren:
    case OpCode.getChildren2:
      R.PathWatchRequest.write(w, req);
      return;
    case OpCode.setData:
      R.SetDataRequest.write(w, req);
      return;
    case OpCode.getACL:
    case OpCode.sync:
    case OpCode.getAllChildrenNumber:
    case OpCode.getEphemerals:
      R.PathRequest.write(w, req);
      return;
    case OpCode.setACL:
      R.SetACLRequest.write(w, req);
      return;
    case OpCode.check:
      R.CheckVersionRequest.write(w, req);
      return;
    case OpCode.multi:
    case OpCode.multiRead:
      for (const op of req.ops) {
        R.MultiHeader.write(w, { type: op.type, done: false, err: -1 });
        writeRequest(w, op);
      }
      R.MultiHeader.write(w, { type: -1, done: true, err: -1 });
      return;
    case OpCode.checkWatches:
    case OpCode.removeWatches:
      R.WatchesRequest.write(w, { path: req.path, type: req.watcherType });
      return;
    case OpCode.auth:
      R.AuthPacket.write(w, { type: req.authType, scheme: req.scheme, auth: req.auth });
      return;
    case OpCode.setWatches:
      R.SetWatches.write(w, req);
      return;
    case OpCode.setWatches2:
      R.SetWatches2.write(w, req);
      return;
    case OpCode.addWatch:
      R.AddWatchRequest.write(w, req);
      return;
    case OpCode.reconfig:
      R.ReconfigRequest.write(w, req);
      return;
    case OpCode.sasl:
      R.GetSASLRequest.write(w, req);
      return;
    case OpCode.ping:
    case OpCode.closeSession:
    case OpCode.whoAmI:
      return;
  }
}

/** The codec of the reply body for an opcode, or null when the reply has no body. */
export function responseCodec(type: number): Codec<any> | null {
  switch (type) {
    case OpCode.create:
      return R.CreateResponse;
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return R.Create2Response;
    case OpCode.exists:
    case OpCode.setData:
    case OpCode.setACL:
      return R.StatResponse;
    case OpCode.getData:
    case OpCode.reconfig:
      return R.GetDataResponse;
    case OpCode.getACL:
      return R.GetACLResponse;
    case OpCode.getChildren:
      return R.GetChildrenResponse;
    case OpCode.getChildren2:
      return R.GetChildren2Response;
    case OpCode.sync:
      return R.SyncResponse;
    case OpCode.getEphemerals:
      return R.GetEphemeralsResponse;
    case OpCode.getAllChildrenNumber:
      return R.GetAllChildrenNumberResponse;
    case OpCode.whoAmI:
      return R.WhoAmIResponse;
    case OpCode.addWatch:
      return R.ErrorResponse;
    case OpCode.sasl:
      return R.SetSASLResponse;
    default:
      return null;
  }
}

/** One result inside a MultiResponse: an op's reply body, or an error (type -1). */
export type MultiResult = { type: number; err: number; body: unknown };

export function writeMultiResponse(w: JuteWriter, results: readonly MultiResult[]): void {
  for (const res of results) {
    if (res.err !== 0 || res.type === OpCode.error) {
      R.MultiHeader.write(w, { type: OpCode.error, done: false, err: res.err });
      R.ErrorResponse.write(w, { err: res.err });
      continue;
    }
    R.MultiHeader.write(w, { type: res.type, done: false, err: 0 });
    const codec = responseCodec(res.type);
    if (codec) codec.write(w, res.body);
  }
  R.MultiHeader.write(w, { type: -1, done: true, err: -1 });
}

export function readMultiResponse(r: JuteReader): MultiResult[] {
  const results: MultiResult[] = [];
  for (;;) {
    const h = R.MultiHeader.read(r);
    if (h.done) return results;
    if (h.type === OpCode.error) {
      const e = R.ErrorResponse.read(r);
      results.push({ type: OpCode.error, err: e.err, body: null });
      continue;
    }
    const codec = responseCodec(h.type);
    results.push({ type: h.type, err: 0, body: codec ? codec.read(r) : null });
  }
}
