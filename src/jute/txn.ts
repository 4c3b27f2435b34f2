/**
 * Transactions: what prep produces, the log stores and apply consumes. Bodies mirror ZooKeeper's
 * txn records, and encodeTxn/decodeTxn use ZooKeeper's log format (TxnHeader + record), so a
 * ZooKeeper log can be read and a Paddock log inspected with the same code.
 */
import { JuteError, JuteReader, JuteWriter } from './binary.js';
import { OpCode } from './constants.js';
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

export interface Txn {
  header: TxnHeader;
  body: TxnBody;
}

export function writeTxnBody(w: JuteWriter, body: TxnBody): void {
  switch (body.type) {
    case OpCode.create:
    case OpCode.create2:
      R.CreateTxn.write(w, body);
      return;
    case OpCode.createContainer:
      R.CreateContainerTxn.write(w, body);
      return;
    case OpCode.createTTL:
      R.CreateTTLTxn.write(w, body);
      return;
    case OpCode.delete:
    case OpCode.deleteContainer:
      R.DeleteTxn.write(w, body);
      return;
    case OpCode.setData:
    case OpCode.reconfig:
      R.SetDataTxn.write(w, body);
      return;
    case OpCode.setACL:
      R.SetACLTxn.write(w, body);
      return;
    case OpCode.check:
      R.CheckVersionTxn.write(w, body);
      return;
    case OpCode.createSession:
      R.CreateSessionTxn.write(w, body);
      return;
    case OpCode.closeSession:
      R.CloseSessionTxn.write(w, body);
      return;
    case OpCode.error:
      R.ErrorTxn.write(w, body);
      return;
    case OpCode.multi: {
      // MultiTxn: vector<Txn{int type, buffer data}>; each body is written in place, its
      // length filled in after (the same bytes as encoding it separately, without the copy).
      w.int(body.txns.length);
      for (const t of body.txns) {
        w.int(t.type);
        const at = w.beginFrame();
        writeTxnBody(w, t);
        w.endFrame(at);
      }
      return;
    }
  }
}

export function readTxnBody(type: number, r: JuteReader): TxnBody {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
      return readCreateTxn(type, r);
    case OpCode.createContainer:
      return R.CreateContainerTxn.readAs(r, type);
    case OpCode.createTTL:
      return R.CreateTTLTxn.readAs(r, type);
    case OpCode.delete:
    case OpCode.deleteContainer:
      return R.DeleteTxn.readAs(r, type);
    case OpCode.setData:
    case OpCode.reconfig:
      return R.SetDataTxn.readAs(r, type);
    case OpCode.setACL:
      return R.SetACLTxn.readAs(r, type);
    case OpCode.check:
      return R.CheckVersionTxn.readAs(r, type);
    case OpCode.createSession:
      return R.CreateSessionTxn.readAs(r, type);
    case OpCode.closeSession:
      // ZooKeeper logs an empty body when closeSessionTxn.enabled is off.
      return { type, paths2Delete: r.remaining() > 0 ? R.CloseSessionTxn.read(r).paths2Delete : [] };
    case OpCode.error:
      return R.ErrorTxn.readAs(r, type);
    case OpCode.multi: {
      const { txns } = R.MultiTxn.read(r);
      return {
        type,
        txns: txns.map((t) => {
          const data = t.data ?? Buffer.alloc(0);
          return readTxnBody(t.type, new JuteReader(data, 0, data.length, r.maxLength));
        }),
      };
    }
    default:
      throw new JuteError(`unknown txn type ${type}`);
  }
}

/** CreateTxnV0 (before 3.3) lacks parentCVersion; ZooKeeper tolerates it, so do we. */
function readCreateTxn(type: Op['create'] | Op['create2'], r: JuteReader): TxnBody {
  const path = r.string();
  const data = r.bufferOrNull();
  const acl = R.ACLs.read(r);
  const ephemeral = r.bool();
  const parentCVersion = r.remaining() >= 4 ? r.int() : -1;
  return { type, path, data, acl, ephemeral, parentCVersion };
}

/** ZooKeeper's log serialization of one txn: TxnHeader then the body record. */
export function encodeTxn(txn: Txn, w = new JuteWriter(256 + valueBytes(txn.body))): Buffer {
  const h = txn.header;
  R.TxnHeaderRecord.write(w, { clientId: h.sessionId, cxid: h.cxid, zxid: h.zxid, time: h.time, type: h.type });
  writeTxnBody(w, txn.body);
  return w.bytes();
}

/** Bytes of the values a txn carries: sizes its writer once instead of growing it by doubling. */
function valueBytes(body: TxnBody): number {
  if (body.type === OpCode.multi) return body.txns.reduce((n, t) => n + 64 + valueBytes(t), 0);
  return 'data' in body && body.data !== null ? body.data.length : 0;
}

export function decodeTxn(bytes: Buffer, maxLength?: number): Txn {
  const r = new JuteReader(bytes, 0, bytes.length, maxLength);
  // TxnHeaderRecord's fields read in place: replay decodes every logged txn at startup.
  const header: TxnHeader = { sessionId: r.long(), cxid: r.int(), zxid: r.longNumber(), time: r.longNumber(), type: r.int() };
  return { header, body: readTxnBody(header.type, r) };
}
