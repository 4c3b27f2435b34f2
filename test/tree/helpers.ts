/** Txn builders for tree tests. */
import { OpCode, Perm } from '../../src/jute/constants.js';
import type { ACL } from '../../src/jute/records.js';
import type { Txn, TxnBody } from '../../src/jute/txn.js';

export const OPEN: ACL[] = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];

export function txn(zxid: number, body: TxnBody, sessionId = 1n, time = 1000 + zxid): Txn {
  return { header: { sessionId, cxid: zxid, zxid, time, type: body.type }, body };
}

export function create(path: string, parentCVersion = -1, data: string | null = '', ephemeral = false): TxnBody {
  return { type: OpCode.create, path, data: data === null ? null : Buffer.from(data), acl: OPEN, ephemeral, parentCVersion };
}

export function del(path: string): TxnBody {
  return { type: OpCode.delete, path };
}

export function setData(path: string, data: string, version: number): TxnBody {
  return { type: OpCode.setData, path, data: Buffer.from(data), version };
}
