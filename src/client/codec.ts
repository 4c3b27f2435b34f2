/**
 * Client-side reply codecs. They mirror src/jute/records.ts but read every zxid as a bigint, so a
 * zxid beyond 2^53 (an epoch above 2^21) is never rounded or rejected.
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import { bigLong, bool, buffer, int, long, record, ustring, vector, type Codec } from '../jute/codec.js';
import { OpCode } from '../jute/constants.js';
import { Ops, OpMap } from '../jute/ops.js';
import * as R from '../jute/records.js';
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

/**
 * The client's variant of each reply record the opcode table names. A multi's reply is read
 * by readMultiReply, so it has none here.
 */
const clientVariant = new Map<Codec<any>, Codec<any> | null>([
  [R.CreateResponse, CreateResponse],
  [R.Create2Response, Create2Response],
  [R.StatResponse, StatResponse],
  [R.GetDataResponse, GetDataResponse],
  [R.GetACLResponse, GetACLResponse],
  [R.GetChildrenResponse, GetChildrenResponse],
  [R.GetChildren2Response, GetChildren2Response],
  [R.SyncResponse, PathResponse],
  [R.GetEphemeralsResponse, GetEphemeralsResponse],
  [R.GetAllChildrenNumberResponse, CountResponse],
  [R.WhoAmIResponse, WhoAmIResponse],
  [R.ErrorResponse, R.ErrorResponse],
  [R.SetSASLResponse, null],
]);

const replyCodecs = new OpMap<Codec<any>>(
  Object.fromEntries(
    Object.values(Ops).flatMap((spec) => {
      const codec = spec.response === null || spec.response === Ops.multi.response ? null : clientVariant.get(spec.response);
      if (codec === undefined) throw new Error(`no client codec for the reply of ${spec.name}`);
      return codec === null ? [] : [[spec.code, codec]];
    }),
  ),
);

/** The reply body codec for an opcode, or null when the reply has none. */
export function replyCodec(type: number): Codec<any> | null {
  return replyCodecs.get(type) ?? null;
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
