/**
 * What a committed txn does to the session table, as ZooKeeper's ZKDatabase.processTxn has it:
 * createSession opens a session with its timeout, closeSession ends it. Startup replay, the
 * offline data tools and the live server all take their session table from here.
 */
import { OpCode } from '../jute/constants.js';
import type { Txn } from '../jute/txn.js';
import type { ApplyResult, DataTree } from '../tree/index.js';

/** Session id -> timeout ms; a Map is one, and the server adapts its expiry tracker to it. */
export interface SessionTable {
  set(sessionId: bigint, timeoutMs: number): unknown;
  delete(sessionId: bigint): unknown;
}

export function applySessionTxn(sessions: SessionTable, txn: Txn): void {
  if (txn.body.type === OpCode.createSession) sessions.set(txn.header.sessionId, txn.body.timeOut);
  else if (txn.body.type === OpCode.closeSession) sessions.delete(txn.header.sessionId);
}

/** One logged txn replayed into a tree and its session table. */
export function replayTxn(tree: DataTree, sessions: SessionTable, txn: Txn): ApplyResult {
  const result = tree.apply(txn);
  applySessionTxn(sessions, txn);
  return result;
}
