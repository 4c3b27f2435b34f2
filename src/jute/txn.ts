/**
 * Transactions: what prep produces, the log stores and apply consumes. Bodies mirror ZooKeeper's
 * txn records, and encodeTxn/decodeTxn use ZooKeeper's log format (TxnHeader + record), so a
 * ZooKeeper log can be read and a Paddock log inspected with the same code.
 */
import { JuteReader, JuteWriter } from './binary.js';
import { readTxnBody, writeTxnBody } from './ops.js';
import type { OpCode } from './constants.js';
import * as R from './records.js';

type Op = typeof OpCode;

export interface TxnHeader {
  /** Session that issued the txn (ZooKeeper's clientId). */
  sessionId: bigint;
  cxid: number;
  zxid: number;
  /** Leader's wall-clock time in ms when the txn was prepared; becomes ctime/mtime. */
  time: number;
  type: number;
}

export type TxnBody =
  | { type: Op['create'] | Op['create2']; path: string; data: Buffer | null; acl: R.ACL[]; ephemeral: boolean; parentCVersion: number }
  | { type: Op['createContainer']; path: string; data: Buffer | null; acl: R.ACL[]; parentCVersion: number }
  | { type: Op['createTTL']; path: string; data: Buffer | null; acl: R.ACL[]; parentCVersion: number; ttl: number }
  | { type: Op['delete'] | Op['deleteContainer']; path: string }
  /** version is the node's new version. */
  | { type: Op['setData'] | Op['reconfig']; path: string; data: Buffer | null; version: number }
  /** version is the node's new aversion. */
  | { type: Op['setACL']; path: string; acl: R.ACL[]; version: number }
  | { type: Op['check']; path: string; version: number }
  | { type: Op['createSession']; timeOut: number }
  | { type: Op['closeSession']; paths2Delete: string[] }
  | { type: Op['error']; err: number }
  | { type: Op['multi']; txns: TxnBody[] };

type MemberOf<B, T> = B extends { type: infer U } ? (T extends U ? B : never) : never;
/** The txn body variant(s) whose type set includes T. */
export type TxnOf<T extends TxnBody['type']> = MemberOf<TxnBody, T>;

export interface Txn {
  header: TxnHeader;
  body: TxnBody;
}

// The body codecs live in the opcode table; these are their entry points.
export { readTxnBody, writeTxnBody } from './ops.js';

/** ZooKeeper's log serialization of one txn: TxnHeader then the body record. */
export function encodeTxn(txn: Txn, w = new JuteWriter(256 + valueBytes(txn.body))): Buffer {
  const h = txn.header;
  // TxnHeaderRecord's fields written in place: one per write request, no record object for it.
  w.long(h.sessionId).int(h.cxid).longNumber(h.zxid).longNumber(h.time).int(h.type);
  writeTxnBody(w, txn.body);
  return w.bytes();
}

/** Bytes of the values a txn carries: sizes its writer once instead of growing it by doubling. */
function valueBytes(body: TxnBody): number {
  if ('txns' in body) return body.txns.reduce((n, t) => n + 64 + valueBytes(t), 0);
  return 'data' in body && body.data !== null ? body.data.length : 0;
}

export function decodeTxn(bytes: Buffer, maxLength?: number): Txn {
  const r = new JuteReader(bytes, 0, bytes.length, maxLength);
  // TxnHeaderRecord's fields read in place: replay decodes every logged txn at startup.
  const header: TxnHeader = { sessionId: r.long(), cxid: r.int(), zxid: r.longNumber(), time: r.longNumber(), type: r.int() };
  return { header, body: readTxnBody(header.type, r) };
}
