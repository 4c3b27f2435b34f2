/**
 * Client-side reply codecs. They mirror src/jute/records.ts but read every zxid as a bigint, so a
 * zxid beyond 2^53 (an epoch above 2^21) is never rounded or rejected.
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { bigLong, bool, buffer, int, long, record, ustring, vector, type Codec } from '../jute/codec.js';
import { OpCode } from '../jute/constants.js';
import { ACLs, MultiHeader, ErrorResponse } from '../jute/records.js';
import type { Stat } from './types.js';

export const StatCodec: Codec<Stat> = record({
  czxid: bigLong,
  mzxid: bigLong,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: bigLong,
  dataLength: int,
  numChildren: int,
  pzxid: bigLong,
});

export const ReplyHeader = record({ xid: int, zxid: bigLong, err: int });
export type ReplyHeader = { xid: number; zxid: bigint; err: number };

export const ConnectRequest = record({
  protocolVersion: int,
  lastZxidSeen: bigLong,
  timeOut: int,
  sessionId: bigLong,
  passwd: buffer,
  readOnly: bool,
});

export interface ConnectResponse {
  protocolVersion: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean;
}

export function readConnectResponse(frame: Buffer): ConnectResponse {
  const r = new JuteReader(frame);
  const protocolVersion = r.int();
  const timeOut = r.int();
  const sessionId = r.long();
  const passwd = Buffer.from(r.buffer());
  const readOnly = r.remaining() >= 1 ? r.bool() : false;
  return { protocolVersion, timeOut, sessionId, passwd, readOnly };
}

export const CreateResponse = record({ path: ustring });
export const Create2Response = record({ path: ustring, stat: StatCodec });
export const StatResponse = record({ stat: StatCodec });
export const GetDataResponse = record({ data: buffer, stat: StatCodec });
export const GetACLResponse = record({ acl: ACLs, stat: StatCodec });
export const GetChildrenResponse = record({ children: vector(ustring) });
export const GetChildren2Response = record({ children: vector(ustring), stat: StatCodec });
export const PathResponse = record({ path: ustring });
export const GetEphemeralsResponse = record({ ephemerals: vector(ustring) });
export const CountResponse = record({ totalNumber: int });
export const WhoAmIResponse = record({ clientInfo: vector(record({ authScheme: ustring, user: ustring })) });
export const WatcherEvent = record({ type: int, state: int, path: ustring });

/** The reply body codec for an opcode, or null when the reply has none. */
export function replyCodec(type: number): Codec<any> | null {
  switch (type) {
    case OpCode.create:
      return CreateResponse;
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return Create2Response;
    case OpCode.exists:
    case OpCode.setData:
    case OpCode.setACL:
      return StatResponse;
    case OpCode.getData:
    case OpCode.reconfig:
      return GetDataResponse;
    case OpCode.getACL:
      return GetACLResponse;
    case OpCode.getChildren:
      return GetChildrenResponse;
    case OpCode.getChildren2:
      return GetChildren2Response;
    case OpCode.sync:
      return PathResponse;
    case OpCode.getEphemerals:
      return GetEphemeralsResponse;
    case OpCode.getAllChildrenNumber:
      return CountResponse;
    case OpCode.whoAmI:
      return WhoAmIResponse;
    case OpCode.addWatch:
      return ErrorResponse;
    default:
      return null;
  }
}

export interface RawMultiResult {
  type: number;
  err: number;
  body: any;
}

export function readMultiReply(r: JuteReader): RawMultiResult[] {
  const results: RawMultiResult[] = [];
  for (;;) {
    const h = MultiHeader.read(r);
    if (h.done) return results;
    if (h.type === OpCode.error) {
      results.push({ type: OpCode.error, err: ErrorResponse.read(r).err, body: null });
      continue;
    }
    const codec = replyCodec(h.type);
    results.push({ type: h.type, err: 0, body: codec ? codec.read(r) : null });
  }
}

export { JuteReader, JuteWriter };
