/** Trace stamps of quorum packets (PADDOCK_TRACE, see io/trace.ts). */
import { stamp, requestKey } from '../../io/trace.js';
import { PacketType, type QuorumPacket } from '../../consensus/wire.js';
import { zxidToNumber } from '../../consensus/zxid.js';

/** A broadcast packet's stamp: REQUEST by (session, cxid); PROPOSAL, ACK and COMMIT by zxid. */
export function tracePacket(prefix: string, p: QuorumPacket): void {
  if (p.type === PacketType.REQUEST && p.data !== null && p.data.length >= 12) stamp(`${prefix}.request`, requestKey(p.data.readBigInt64BE(0), p.data.readInt32BE(8)));
  else if (p.type === PacketType.PROPOSAL) stamp(`${prefix}.proposal`, zxidToNumber(p.zxid));
  else if (p.type === PacketType.ACK) stamp(`${prefix}.ack`, zxidToNumber(p.zxid));
  else if (p.type === PacketType.COMMIT) stamp(`${prefix}.commit`, zxidToNumber(p.zxid));
}
