/**
 * The ephemeral paths of one session must fit in its CloseSessionTxn (issue 9): prep refuses an
 * ephemeral create past the bound, counting creates in flight, and a close whose list would not
 * fit (a session from before the limit) leaves the list out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, Err, OpCode } from '../../src/jute/constants.js';
import type { ACL } from '../../src/jute/records.js';
import type { Request } from '../../src/jute/requests.js';
import type { Txn } from '../../src/jute/txn.js';
import { Prep } from '../../src/prep/prep.js';
import { DataTree } from '../../src/tree/index.js';

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
/** Vector count (4) plus two entries of 4 + 10 bytes: "/eph-00000" twice fits, a third not. */
const LIMIT = 4 + 2 * 14;

function setup(tree = new DataTree(), limit = LIMIT) {
  const prep = new Prep(tree, { extendedTypesEnabled: true, enforceQuota: false, skipACL: false, maxCloseSessionBytes: limit });
  let zxid = tree.lastProcessedZxid + 1;
  const prepare = (req: Request, sessionId = 1n): Txn => prep.prepare(req, { sessionId, cxid: zxid, zxid: zxid++, timeMs: 1000, authIds: [] });
  const commit = (txn: Txn): void => {
    tree.apply(txn);
    prep.committed(txn.header.zxid);
  };
  const close = (sessionId = 1n): Txn => prep.prepareCloseSession(sessionId, 0, zxid++, 1000);
  return { tree, prep, prepare, commit, close };
}

const eph = (n: number, flags: number = CreateMode.EPHEMERAL): Request => ({ type: OpCode.create, path: `/eph-${String(n).padStart(5, '0')}`, data: null, acl: OPEN, flags, ttl: -1 });
const errOf = (txn: Txn): number => (txn.body.type === OpCode.error ? txn.body.err : Err.OK);

test('an ephemeral create past the bound fails with QUOTAEXCEEDED, counting creates still in flight', () => {
  const { prepare, commit } = setup();
  const first = prepare(eph(1));
  const second = prepare(eph(2));
  assert.deepEqual([errOf(first), errOf(second)], [Err.OK, Err.OK]);
  assert.equal(errOf(prepare(eph(3))), Err.QUOTAEXCEEDED, 'in flight counts');
  commit(first);
  commit(second);
  assert.equal(errOf(prepare(eph(4))), Err.QUOTAEXCEEDED, 'committed counts');
  assert.equal(errOf(prepare(eph(5), 2n)), Err.OK, 'per session');
  assert.equal(errOf(prepare(eph(6, CreateMode.PERSISTENT))), Err.OK, 'persistent nodes do not count');
});

test('deleting an ephemeral frees its room once the delete is applied', () => {
  const { prepare, commit } = setup();
  commit(prepare(eph(1)));
  commit(prepare(eph(2)));
  commit(prepare({ type: OpCode.delete, path: '/eph-00001', version: -1 }));
  assert.equal(errOf(prepare(eph(3))), Err.OK);
});

test('a failed multi releases the room its ephemeral creates took', () => {
  const { prepare } = setup();
  const multi = prepare({ type: OpCode.multi, ops: [eph(1), eph(2), { type: OpCode.delete, path: '/missing', version: -1 }] });
  assert.equal(multi.body.type, OpCode.multi);
  assert.equal(errOf(prepare(eph(3))), Err.OK);
  assert.equal(errOf(prepare(eph(4))), Err.OK);
});

test('a failed create releases its room when its error txn commits', () => {
  const { prepare, commit } = setup();
  commit(prepare(eph(1)));
  commit(prepare(eph(1))); // NODEEXISTS: nothing was reserved
  commit(prepare(eph(2)));
  assert.equal(errOf(prepare(eph(3))), Err.QUOTAEXCEEDED);
});

test('a session holding more than a CloseSessionTxn can list closes without the list', () => {
  const tree = new DataTree();
  const roomy = setup(tree, 1 << 20);
  for (let i = 0; i < 5; i++) roomy.commit(roomy.prepare(eph(i)));
  assert.equal(tree.ephemeralBytesOf(1n), 5 * 14);
  const strict = setup(tree);
  const close = strict.close();
  assert.ok(close.body.type === OpCode.closeSession && close.body.paths2Delete.length === 0, 'no list');
  strict.commit(close);
  assert.deepEqual(tree.ephemeralsOf(1n), [], 'apply still removes every ephemeral');
  assert.equal(tree.ephemeralBytesOf(1n), 0);
  assert.equal(tree.getNode('/eph-00000'), undefined);
});

test('a close whose list fits lists every ephemeral, as ZooKeeper does', () => {
  const { prepare, commit, close } = setup();
  commit(prepare(eph(1)));
  commit(prepare(eph(2)));
  const txn = close();
  assert.ok(txn.body.type === OpCode.closeSession);
  assert.deepEqual([...txn.body.paths2Delete].sort(), ['/eph-00001', '/eph-00002']);
});
