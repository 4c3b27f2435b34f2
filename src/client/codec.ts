/**
 * Client-side reply codecs: the records of src/jute/records.ts, those with zxids in their bigint
 * form, so a zxid beyond 2^53 (an epoch above 2^21) is never rounded or rejected.
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import type { Codec, Infer } from '../jute/codec.js';
import { OpCode } from '../jute/constants.js';
import {
  BigZxid,
  ConnectResponseBase,
  CreateResponse,
  ErrorResponse,
  GetAllChildrenNumberResponse as CountResponse,
  GetChildrenResponse,
  GetEphemeralsResponse,
  MultiHeader,
  SyncResponse as PathResponse,
  WhoAmIResponse,
} from '../jute/records.js';

export const { Stat: StatCodec, ReplyHeader, Create2Response, StatResponse, GetDataResponse, GetACLResponse, GetChildren2Response } = BigZxid;
export type ReplyHeader = Infer<typeof ReplyHeader>;

type ConnectRequestBody = Infer<typeof BigZxid.ConnectRequestBase> & { readOnly: boolean };

/** Clients of 3.4 on always send the readOnly byte. */
export const ConnectRequest: Codec<ConnectRequestBody> = {
  read: (r) => ({ ...BigZxid.ConnectRequestBase.read(r), readOnly: r.bool() }),
  write(w, v) {
    BigZxid.ConnectRequestBase.write(w, v);
    w.bool(v.readOnly);
  },
  minBytes: BigZxid.ConnectRequestBase.minBytes + 1,
};

export interface ConnectResponse {
  protocolVersion: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean;
}

export function readConnectResponse(frame: Buffer): ConnectResponse {
  const r = new JuteReader(frame);
  const base = ConnectResponseBase.read(r);
  // The passwd is kept for reconnects: a copy, not a view into the frame.
  const passwd = Buffer.from(base.passwd ?? []);
  const readOnly = r.remaining() >= 1 ? r.bool() : false;
  return { ...base, passwd, readOnly };
}

export {
  CreateResponse,
  GetChildrenResponse,
  SyncResponse as PathResponse,
  GetEphemeralsResponse,
  GetAllChildrenNumberResponse as CountResponse,
  WhoAmIResponse,
  WatcherEvent,
} from '../jute/records.js';

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
