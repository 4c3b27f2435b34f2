/**
 * Client-side reply codecs: the records of src/jute/records.ts, those with zxids in their bigint
 * form, so a zxid beyond 2^53 (an epoch above 2^21) is never rounded or rejected.
 */
import { JuteReader, JuteWriter } from '../jute/binary.js';
import type { Codec, Infer } from '../jute/codec.js';
import { OpCode } from '../jute/constants.js';
import { Ops, OpMap } from '../jute/ops.js';
import * as R from '../jute/records.js';
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
