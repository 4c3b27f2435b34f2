import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, Err, OpCode } from '../../src/jute/constants.js';
import type { ACL } from '../../src/jute/records.js';
import type { Request } from '../../src/jute/requests.js';
import type { Txn } from '../../src/jute/txn.js';
import { formatSequence, Prep } from '../../src/prep/prep.js';
import { DataTree } from '../../src/tree/index.js';

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

function setup() {
  const tree = new DataTree();
  const prep = new Prep(tree, { extendedTypesEnabled: true, enforceQuota: false, skipACL: false });
  let zxid = 1;
  const prepare = (req: Request, sessionId = 1n): Txn =>
    prep.prepare(req, { sessionId, cxid: zxid, zxid: zxid++, timeMs: 1000, authIds: [] });
  const commit = (txn: Txn) => {
    tree.apply(txn);
    prep.committed(txn.header.zxid);
  };
  return { tree, prep, prepare, commit };
}

const create = (path: string, flags: number = CreateMode.PERSISTENT): Request => ({ type: OpCode.create, path, data: null, acl: OPEN, flags, ttl: -1 });

function errOf(txn: Txn): number {
  return txn.body.type === OpCode.error ? txn.body.err : Err.OK;
}

test('a second create of the same path fails before the first one commits', () => {
  const { prepare } = setup();
  const first = prepare(create('/a'));
  const second = prepare(create('/a'));
  assert.equal(errOf(first), Err.OK);
  assert.equal(errOf(second), Err.NODEEXISTS);
  assert.equal(second.header.type, OpCode.error);
});

test('a child can be created under a parent whose create is still in flight', () => {
  const { prepare } = setup();
  prepare(create('/p'));
  assert.equal(errOf(prepare(create('/p/c'))), Err.OK);
  assert.equal(errOf(prepare(create('/nope/c'))), Err.NONODE);
});

test('sequence numbers come from pending parent cversions and format like %010d', () => {
  const { prepare } = setup();
  prepare(create('/q'));
  const a = prepare(create('/q/n-', CreateMode.PERSISTENT_SEQUENTIAL));
  const b = prepare(create('/q/n-', CreateMode.PERSISTENT_SEQUENTIAL));
  assert.equal(a.body.type === OpCode.create && a.body.path, '/q/n-0000000000');
  assert.equal(b.body.type === OpCode.create && b.body.path, '/q/n-0000000001');
  assert.equal(formatSequence(-2147483648), '-2147483648');
  assert.equal(formatSequence(-5), '-000000005');
});

test('a failed multi rolls back its pending changes so later requests see the old state', () => {
  const { prepare } = setup();
  prepare(create('/base'));
  const multi = prepare({ type: OpCode.multi, ops: [create('/base/x'), { type: OpCode.delete, path: '/missing', version: -1 }] });
  assert.equal(multi.body.type, OpCode.multi);
  const errs = multi.body.type === OpCode.multi ? multi.body.txns.map((t) => (t.type === OpCode.error ? t.err : 0)) : [];
  assert.deepEqual(errs, [0, Err.NONODE]);
  assert.equal(errOf(prepare(create('/base/x'))), Err.OK, '/base/x was never created');
  const seq = prepare(create('/base/s-', CreateMode.PERSISTENT_SEQUENTIAL));
  assert.equal(seq.body.type === OpCode.create && seq.body.path, '/base/s-0000000001', 'the rolled-back create did not use up a sequence number');
});

test('versions are checked against pending writes', () => {
  const { prepare } = setup();
  prepare(create('/v'));
  prepare({ type: OpCode.setData, path: '/v', data: null, version: 0 });
  assert.equal(errOf(prepare({ type: OpCode.setData, path: '/v', data: null, version: 0 })), Err.BADVERSION);
  assert.equal(errOf(prepare({ type: OpCode.setData, path: '/v', data: null, version: 1 })), Err.OK);
});

test('closeSession deletes ephemerals whose creates are still in flight', () => {
  const { prep, prepare, commit } = setup();
  commit(prepare(create('/e1', CreateMode.EPHEMERAL), 7n));
  prepare(create('/e2', CreateMode.EPHEMERAL), 7n);
  const close = prep.prepareCloseSession(7n, 0, 100, 2000);
  assert.equal(close.body.type, OpCode.closeSession);
  assert.deepEqual(close.body.type === OpCode.closeSession ? close.body.paths2Delete.sort() : [], ['/e1', '/e2']);
});

test('create rules: bad flags, ephemeral parents, special paths, invalid paths', () => {
  const { prepare, commit } = setup();
  assert.equal(errOf(prepare(create('/x', 9))), Err.BADARGUMENTS);
  commit(prepare(create('/eph', CreateMode.EPHEMERAL)));
  assert.equal(errOf(prepare(create('/eph/child'))), Err.NOCHILDRENFOREPHEMERALS);
  assert.equal(errOf(prepare({ type: OpCode.delete, path: '/zookeeper', version: -1 })), Err.BADARGUMENTS);
  assert.equal(errOf(prepare(create('/a/../b'))), Err.NONODE, 'the parent is looked up before the full path is validated');
  assert.equal(errOf(prepare(create('/bad/'))), Err.NONODE);
  assert.equal(errOf(prepare(create('/dot/.'))), Err.NONODE);
  assert.equal(errOf(prepare(create('/.'))), Err.BADARGUMENTS);
  assert.equal(errOf(prepare(create('noslash'))), Err.BADARGUMENTS);
  assert.equal(errOf(prepare({ type: OpCode.create, path: '/acl', data: null, acl: [], flags: 0, ttl: -1 })), Err.INVALIDACL);
});
