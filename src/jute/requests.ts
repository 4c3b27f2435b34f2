/**
 * Request bodies as one tagged union keyed by opcode, with the multi envelope, so the server
 * decodes a frame into a typed request in one call and the client encodes one the same way.
 */
import type { OpCode } from './constants.js';
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

/** One result inside a MultiResponse: an op's reply body, or an error (type -1). */
export type MultiResult = { type: number; err: number; body: unknown };

// The codecs live in the opcode table; these are their entry points.
export { readRequest, responseCodec, UnknownOpError, writeRequest } from './ops.js';
